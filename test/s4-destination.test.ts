/**
 * The MEGA S4 destination against the S4 peer (s3rver behind a proxy that refuses what S4 refuses):
 * bytes at part boundaries, keys with spaces and non-ASCII, S4's header rules, resume, a lost part
 * answer (held: it counts; not held: the file starts over on a new upload), a lost Complete
 * answer (adopted), retries of answered failures, quota and wrong keys, cancel then abandon.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { S4Destination, s4PartSize, type S4Config } from '../src/main/engine/destinations/s4';
import { CancelledError, FerryError, ResumeRejectedError } from '../src/main/engine/errors';
import type { UploadCheckpoint, UploadRequest } from '../src/main/engine/ports';
import { startS4Peer, type S4Peer } from './peers/s4';
import { MiB, sha256, testBytes } from './peers/fixtures';

const BUCKET = 'archive';
const PART = 5 * MiB;
const FAST_RETRY = { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 };

let peer: S4Peer;
const open: S4Destination[] = [];

beforeAll(async () => {
  // Pages of two parts or two uploads: every listing the destination makes spans several pages.
  peer = await startS4Peer({ listPageSize: 2 });
  await peer.createBucket(BUCKET);
}, 60_000);

afterAll(async () => {
  for (const dest of open) await dest.close();
  await peer?.stop();
});

beforeEach(() => {
  peer.clearFaults();
  peer.resetLog();
});

function destination(overrides: Partial<S4Config> = {}): S4Destination {
  const dest = new S4Destination({
    endpoint: peer.endpoint,
    region: peer.region,
    accessKeyId: peer.accessKeyId,
    secretAccessKey: peer.secretAccessKey,
    bucket: BUCKET,
    requestRetry: FAST_RETRY,
    connections: 2,
    partSize: PART,
    ...overrides,
  });
  open.push(dest);
  return dest;
}

/** The bytes as a stream of 64 KiB pieces, as a source gives them. */
function bodyOf(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
    })(),
  );
}

interface Watched {
  req: UploadRequest;
  progress: number[];
  checkpoints: UploadCheckpoint[];
  controller: AbortController;
}

function request(path: string, data: Buffer, extra: Partial<UploadRequest> = {}): Watched {
  const controller = new AbortController();
  const progress: number[] = [];
  const checkpoints: UploadCheckpoint[] = [];
  const req: UploadRequest = {
    path,
    size: data.length,
    body: bodyOf(data),
    transfer_id: `t-${Math.random().toString(36).slice(2)}`,
    signal: controller.signal,
    onProgress: (bytes) => progress.push(bytes),
    onCheckpoint: (checkpoint) => {
      checkpoints.push(checkpoint);
    },
    ...extra,
  };
  return { req, progress, checkpoints, controller };
}

async function readBack(dest: S4Destination, key: string): Promise<Buffer> {
  const stream = await dest.readCopy(key, new AbortController().signal);
  if (!stream) throw new Error(`no copy of ${key}`);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Each (upload id, part number) the peer stored, with how many times it was sent. */
function partSends(): Map<string, number> {
  const sends = new Map<string, number>();
  for (const r of peer.requests) {
    if (r.kind !== 'UploadPart') continue;
    const id = `${r.uploadId}#${r.partNumber}`;
    sends.set(id, (sends.get(id) ?? 0) + 1);
  }
  return sends;
}

function openFor(key: string) {
  return peer.openUploads().filter((u) => u.key === key);
}

describe('S4Destination', () => {
  it('stores the exact bytes at part boundaries, with the transfer id, one PutObject at or below a part', async () => {
    const dest = destination();
    await dest.connect();
    const sizes = [0, 1, PART - 1, PART, PART + 1, 2 * PART + 1];
    for (const [i, size] of sizes.entries()) {
      peer.resetLog();
      const data = testBytes(size, 100 + i);
      const key = `sizes/file-${size}.bin`;
      const { req, progress } = request(key, data);
      const node = await dest.upload(req);
      expect(node).toEqual({ handle: key, size, transfer_id: req.transfer_id });
      expect(sha256(await readBack(dest, key)), `size ${size}`).toBe(sha256(data));
      expect(progress.at(-1)).toBe(size);
      expect(await dest.find(key)).toEqual([{ handle: key, size, transfer_id: req.transfer_id }]);
      const stored = await peer.readObject(BUCKET, key);
      expect(stored?.metadata['megaferry-transfer-id']).toBe(req.transfer_id);
      const parts = Math.ceil(size / PART);
      if (size <= PART) {
        expect(peer.count('PutObject').requests).toBe(1);
        expect(peer.count('CreateMultipartUpload').requests).toBe(0);
      } else {
        expect(peer.count('PutObject').requests).toBe(0);
        expect(peer.count('UploadPart')).toEqual({ requests: parts, bytes: size });
        expect(peer.count('CompleteMultipartUpload').requests).toBe(1);
      }
      // S4's rules, request by request: no checksum header ever, Content-MD5 on every write.
      for (const r of peer.requests) {
        const names = Object.keys(r.headers);
        expect(
          names.filter((h) => h.startsWith('x-amz-checksum') || h === 'x-amz-sdk-checksum-algorithm'),
        ).toEqual([]);
        expect(names).not.toContain('x-amz-trailer');
        if (r.kind === 'UploadPart' || r.kind === 'PutObject') expect(r.headers['content-md5']).toBeTruthy();
        expect(r.outcome, `${r.kind} ${r.error}`).toBeLessThan(300);
      }
    }
    expect(peer.openUploads()).toEqual([]);
  });

  it('sends up to `connections` parts at once, the last one alone once the others are confirmed', async () => {
    const dest = destination({ connections: 3 });
    const data = testBytes(4 * PART + 1, 13);
    const { req } = request('parallel/five-parts.bin', data);
    await dest.upload(req);
    expect(sha256(await readBack(dest, 'parallel/five-parts.bin'))).toBe(sha256(data));
    const parts = peer.requests.filter((r) => r.kind === 'UploadPart');
    expect(parts.map((r) => r.partNumber).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1, 2, 3, 4, 5]);
    const most = Math.max(...parts.map((r) => r.concurrent));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
    expect(parts.find((r) => r.partNumber === 5)?.concurrent).toBe(1);
    expect(parts.at(-1)?.partNumber).toBe(5);
  });

  it('handles keys with spaces and non-ASCII characters', async () => {
    const dest = destination();
    for (const [key, size] of [
      ['photos 2024/été/naïve 文件 ü.bin', 1000],
      ['photos 2024/été/grand fichier – ½ 📦.bin', PART + 7],
    ] as const) {
      const data = testBytes(size, size);
      const { req } = request(key, data);
      await dest.upload(req);
      expect(await dest.find(key)).toEqual([{ handle: key, size, transfer_id: req.transfer_id }]);
      expect(sha256(await readBack(dest, key))).toBe(sha256(data));
    }
    expect(await peer.listKeys(BUCKET, 'photos 2024/')).toEqual([
      'photos 2024/été/grand fichier – ½ 📦.bin',
      'photos 2024/été/naïve 文件 ü.bin',
    ]);
  });

  it('resumes after an abort mid-upload, sending no part S4 already holds', async () => {
    const dest = destination();
    const size = 4 * PART + 12_345;
    const data = testBytes(size, 7);
    const key = 'resume/big.bin';
    const body = new PassThrough();
    const first = request(key, data, { body });
    const running = dest.upload(first.req);
    running.catch(() => undefined);
    body.write(data.subarray(0, 3 * PART));
    // Parts 1-3 confirmed, then a checkpoint (about once a second) says so. S4 holds all three
    // before the abort: a part still in flight then could land after the resume listed the parts,
    // and S4 refuses a part number sent twice (the file would start over, rightly, but not here).
    await until(
      'a checkpoint past two parts, and S4 holding three',
      () =>
        (first.checkpoints.at(-1)?.next_offset ?? 0) >= 2 * PART && peer.openUploads()[0]?.parts.length === 3,
    );
    const saved = first.checkpoints.at(-1) as UploadCheckpoint;
    expect(first.checkpoints[0]).toMatchObject({ next_offset: 0, state: { part_size: PART, key } });
    expect(saved.state).toEqual(first.checkpoints[0]?.state);
    expect(saved.next_offset % PART).toBe(0);
    const stoppedAt = Date.now();
    first.controller.abort();
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - stoppedAt).toBeLessThan(1000);
    // The multipart upload stays for the resume.
    const [left] = peer.openUploads();
    expect(left?.uploadId).toBe(saved.state.upload_id);
    const held = left?.parts.length ?? 0;
    expect(held).toBeGreaterThanOrEqual(saved.next_offset / PART);

    // The engine's checkpoint lags (written once a second): S4 may hold parts beyond it.
    const lagging: UploadCheckpoint = { next_offset: PART, state: saved.state };
    const bytesBefore = peer.count('UploadPart').bytes;
    const second = request(key, data, {
      body: bodyOf(data.subarray(PART)),
      resume: lagging,
      transfer_id: first.req.transfer_id,
    });
    const node = await dest.upload(second.req);
    expect(node).toEqual({ handle: key, size, transfer_id: first.req.transfer_id });
    expect(sha256(await readBack(dest, key))).toBe(sha256(data));
    const resent = peer.count('UploadPart').bytes - bytesBefore;
    expect(resent).toBe(size - held * PART);
    expect(peer.count('UploadPart').bytes - size).toBeLessThan(PART);
    expect([...partSends().values()].every((n) => n === 1)).toBe(true);
    expect(second.progress[0]).toBe(PART);
    expect(second.progress.at(-1)).toBe(size);
    expect(peer.openUploads()).toEqual([]);
  });

  it('resumes an upload S4 no longer has: adopted when this transfer completed it, else started over', async () => {
    const dest = destination();
    const data = testBytes(PART + 10, 14);
    // Completed, then the process died before recording it: the resume adopts the object.
    const done = request('resume/completed.bin', data);
    await dest.upload(done.req);
    peer.resetLog();
    const again = request('resume/completed.bin', data, {
      body: bodyOf(data.subarray(PART)),
      resume: { next_offset: PART, state: done.checkpoints[0]?.state ?? {} },
      transfer_id: done.req.transfer_id,
    });
    expect(await dest.upload(again.req)).toEqual({
      handle: 'resume/completed.bin',
      size: data.length,
      transfer_id: done.req.transfer_id,
    });
    expect(peer.count('UploadPart').requests).toBe(0);
    expect(peer.count('CompleteMultipartUpload').requests).toBe(0);

    // Aborted (or another transfer's object at the key): the file starts over.
    const other = request('resume/completed.bin', data, {
      body: bodyOf(data.subarray(PART)),
      resume: { next_offset: PART, state: done.checkpoints[0]?.state ?? {} },
    });
    await expect(dest.upload(other.req)).rejects.toBeInstanceOf(ResumeRejectedError);
    const bad = request('resume/bad.bin', data, {
      resume: { next_offset: 3, state: { upload_id: 'x', part_size: PART } },
    });
    await expect(dest.upload(bad.req)).rejects.toBeInstanceOf(ResumeRejectedError);
  });

  it('counts a part whose answer was lost when S4 holds it', async () => {
    const dest = destination();
    const data = testBytes(2 * PART + 1, 8);
    peer.loseAnswer((r) => r.kind === 'UploadPart' && r.partNumber === 1);
    const { req } = request('lost/part.bin', data);
    await dest.upload(req);
    expect(sha256(await readBack(dest, 'lost/part.bin'))).toBe(sha256(data));
    expect(peer.requests.filter((r) => r.kind === 'UploadPart').map((r) => r.outcome)).toEqual([
      'lost',
      200,
      200,
    ]);
    expect(peer.count('ListParts').requests).toBe(1);
    expect(peer.count('CreateMultipartUpload').requests).toBe(1);
  });

  it('starts the file over on a new upload when a part was lost before S4 stored it', async () => {
    const dest = destination();
    const data = testBytes(2 * PART + 1, 9);
    const key = 'lost/restart.bin';
    peer.resetBefore((r) => r.kind === 'UploadPart' && r.partNumber === 2);
    const first = request(key, data);
    await expect(dest.upload(first.req)).rejects.toBeInstanceOf(ResumeRejectedError);
    const [created] = first.checkpoints;
    const oldId = created?.state.upload_id;
    expect(oldId).toBeTruthy();
    // The old upload was aborted before the failure was reported.
    expect(peer.openUploads()).toEqual([]);
    expect(peer.requests.filter((r) => r.kind === 'AbortMultipartUpload').map((r) => r.uploadId)).toEqual([
      oldId,
    ]);

    // The engine starts the file over: a new upload id, every part once.
    const second = request(key, data, { transfer_id: first.req.transfer_id });
    await dest.upload(second.req);
    const newId = second.checkpoints[0]?.state.upload_id;
    expect(newId).toBeTruthy();
    expect(newId).not.toBe(oldId);
    expect(sha256(await readBack(dest, key))).toBe(sha256(data));
    expect([...partSends().entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect(peer.requests.some((r) => r.error === 'InvalidPart')).toBe(false);
  });

  it('adopts the object when the answer to CompleteMultipartUpload is lost, never completing twice', async () => {
    const dest = destination();
    const data = testBytes(PART + 3, 10);
    const key = 'lost/complete.bin';
    peer.loseAnswer((r) => r.kind === 'CompleteMultipartUpload');
    const { req } = request(key, data);
    const node = await dest.upload(req);
    expect(node).toEqual({ handle: key, size: data.length, transfer_id: req.transfer_id });
    expect(peer.count('CompleteMultipartUpload').requests).toBe(1);
    expect(peer.count('HeadObject').requests).toBeGreaterThanOrEqual(1);
    expect(await peer.listKeys(BUCKET, key)).toEqual([key]);
    expect(sha256(await readBack(dest, key))).toBe(sha256(data));
    expect(peer.openUploads()).toEqual([]);
  });

  it('sends a part again under the same number when S4 answered a failure (503, BadDigest)', async () => {
    const dest = destination();
    const data = testBytes(2 * PART + 1, 11);
    peer.answerError((r) => r.kind === 'UploadPart' && r.partNumber === 1, 503, 'ServiceUnavailable');
    peer.answerError((r) => r.kind === 'UploadPart' && r.partNumber === 2, 400, 'BadDigest');
    peer.answerError((r) => r.kind === 'PutObject', 500, 'InternalError');
    const { req } = request('retry/parts.bin', data);
    await dest.upload(req);
    expect(sha256(await readBack(dest, 'retry/parts.bin'))).toBe(sha256(data));
    const sends = peer.requests.filter((r) => r.kind === 'UploadPart').map((r) => [r.partNumber, r.outcome]);
    expect(sends).toEqual(
      expect.arrayContaining([
        [1, 503],
        [1, 200],
        [2, 400],
        [2, 200],
        [3, 200],
      ]),
    );
    expect(peer.count('CreateMultipartUpload').requests).toBe(1);
    const small = request('retry/small.bin', testBytes(10, 1));
    await dest.upload(small.req);
    expect(peer.count('PutObject').requests).toBe(2);
  });

  it('classifies an account over its quota as quota', async () => {
    const dest = destination();
    peer.answerQuota((r) => r.kind === 'CreateMultipartUpload' || r.kind === 'PutObject');
    for (const size of [100, PART + 1]) {
      const { req } = request(`quota/${size}.bin`, testBytes(size, 3));
      const err = await dest.upload(req).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FerryError);
      expect(err).toMatchObject({ kind: 'quota', side: 'destination' });
    }
    peer.clearFaults();
    peer.answerQuota((r) => r.kind === 'UploadPart');
    const { req, checkpoints } = request('quota/part.bin', testBytes(PART + 1, 3));
    await expect(dest.upload(req)).rejects.toMatchObject({ kind: 'quota' });
    // The upload stays, to be resumed when the quota allows; a cancel would abandon it.
    expect(openFor('quota/part.bin')).toHaveLength(1);
    await dest.abandon(checkpoints[0] as UploadCheckpoint);
    expect(peer.openUploads()).toEqual([]);
  });

  it('classifies wrong keys, a missing bucket and an unreachable endpoint, naming no secret', async () => {
    const wrongSecret = 'not-the-secret-Zx81';
    const bad = destination({ secretAccessKey: wrongSecret });
    const err = await bad.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'auth', side: 'destination' });
    expect(String((err as Error).message)).not.toContain(wrongSecret);
    const put = await bad.upload(request('auth/x.bin', testBytes(10, 1)).req).catch((e: unknown) => e);
    expect(put).toMatchObject({ kind: 'auth' });
    expect(String((put as Error).message)).not.toContain(wrongSecret);
    expect(peer.requests.some((r) => r.error === 'SignatureDoesNotMatch')).toBe(true);

    await expect(destination({ accessKeyId: 'NOSUCHKEY' }).connect()).rejects.toMatchObject({ kind: 'auth' });

    const missing = await destination({ bucket: 'no-such-bucket' })
      .connect()
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ kind: 'config', side: 'destination' });
    expect((missing as Error).message).toContain('no-such-bucket');
    expect((missing as Error).message).toContain(new URL(peer.endpoint).host);

    const closed = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    await expect(destination({ endpoint: `http://127.0.0.1:${closed}` }).connect()).rejects.toMatchObject({
      kind: 'transient',
    });
  });

  it('cancels promptly leaving the upload in place; abandon then aborts it', async () => {
    const dest = destination();
    const size = 3 * PART;
    const data = testBytes(size, 12);
    const body = new PassThrough();
    const watched = request('cancel/file.bin', data, { body });
    const running = dest.upload(watched.req);
    running.catch(() => undefined);
    body.write(data.subarray(0, PART + 100));
    await until('the first part', () => openFor('cancel/file.bin')[0]?.parts.length === 1);
    const checkpoint = watched.checkpoints.at(-1) as UploadCheckpoint;
    expect(checkpoint.state.upload_id).toBe(openFor('cancel/file.bin')[0]?.uploadId);
    const stoppedAt = Date.now();
    watched.controller.abort();
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - stoppedAt).toBeLessThan(1000);
    expect(openFor('cancel/file.bin')).toHaveLength(1);
    expect(peer.count('AbortMultipartUpload').requests).toBe(0);

    await dest.abandon(checkpoint);
    expect(openFor('cancel/file.bin')).toEqual([]);
    // Abandoning again (S4 answers 404 NoSuchUpload) is not an error; nor is a checkpoint without a key.
    await dest.abandon(checkpoint);
    await dest.abandon({ next_offset: 0, state: { upload_id: checkpoint.state.upload_id, part_size: PART } });
    expect(peer.requests.filter((r) => r.kind === 'AbortMultipartUpload').map((r) => r.error)).toEqual([
      null,
      'NoSuchUpload',
    ]);
  });

  it('abandons an upload cancelled before its first part, also from a checkpoint without its key', async () => {
    const dest = destination();
    const saved: UploadCheckpoint[] = [];
    for (const name of ['a', 'b', 'c']) {
      const watched = request(`cancel/early-${name}.bin`, testBytes(2 * PART, 1), {
        body: new PassThrough(),
      });
      const running = dest.upload(watched.req);
      running.catch(() => undefined);
      await until('the upload to start', () => watched.checkpoints.length === 1);
      watched.controller.abort();
      await expect(running).rejects.toBeInstanceOf(CancelledError);
      saved.push(watched.checkpoints[0] as UploadCheckpoint);
    }
    expect(openFor('cancel/early-a.bin')).toHaveLength(1);
    expect(peer.openUploads().filter((u) => u.key.startsWith('cancel/early-'))).toHaveLength(3);
    // The last in S4's order, found by its id across pages of two uploads.
    const [a, b, c] = saved as [UploadCheckpoint, UploadCheckpoint, UploadCheckpoint];
    await dest.abandon({ next_offset: 0, state: { upload_id: c.state.upload_id, part_size: PART } });
    expect(peer.count('ListMultipartUploads').requests).toBeGreaterThanOrEqual(2);
    expect(openFor('cancel/early-c.bin')).toEqual([]);
    expect(openFor('cancel/early-a.bin')).toHaveLength(1);
    await dest.abandon(a);
    await dest.abandon(b);
    expect(peer.openUploads()).toEqual([]);
  });

  it('raises the part size in whole MiB so no file needs more than 10 000 parts', () => {
    expect(s4PartSize(10_000 * 8 * MiB)).toBe(8 * MiB);
    expect(s4PartSize(10_000 * 8 * MiB + 1)).toBe(9 * MiB);
    expect(s4PartSize(100 * 1024 * MiB)).toBe(11 * MiB);
    expect(s4PartSize(10_000 * PART + 1, PART)).toBe(6 * MiB);
  });

  it('finds, reads and discards copies; missing ones are no error', async () => {
    const dest = destination();
    expect(await dest.find('nothing/here.bin')).toEqual([]);
    expect(await dest.readCopy('nothing/here.bin', new AbortController().signal)).toBeNull();
    await dest.discard('nothing/here.bin');
    const { req } = request('discard/me.bin', testBytes(10, 2));
    await dest.upload(req);
    await dest.discard('discard/me.bin');
    expect(await dest.find('discard/me.bin')).toEqual([]);
    expect(dest.id).toBe(`s4:${new URL(peer.endpoint).host}/${BUCKET}`);
  });
});

describe('the S4 peer refuses what S4 refuses', () => {
  function rawClient(checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'): S3Client {
    return new S3Client({
      endpoint: peer.endpoint,
      region: peer.region,
      forcePathStyle: true,
      credentials: { accessKeyId: peer.accessKeyId, secretAccessKey: peer.secretAccessKey },
      requestChecksumCalculation: checksums,
      maxAttempts: 1,
    });
  }
  const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');

  it('refuses checksum headers, a missing or wrong Content-MD5, a part sent twice, a second Complete', async () => {
    const sdkDefault = rawClient('WHEN_SUPPORTED');
    const plain = rawClient('WHEN_REQUIRED');
    try {
      const data = testBytes(PART, 5);
      await expect(
        sdkDefault.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'peer/crc.bin', Body: data })),
      ).rejects.toMatchObject({ name: 'InvalidRequest' });
      await expect(
        plain.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'peer/nomd5.bin', Body: data })),
      ).rejects.toMatchObject({ name: 'InvalidRequest' });
      await expect(
        plain.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'peer/bad.bin',
            Body: data,
            ContentMD5: md5(Buffer.from('x')),
          }),
        ),
      ).rejects.toMatchObject({ name: 'BadDigest' });

      const { UploadId } = await plain.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'peer/mp.bin' }),
      );
      const part = (n: number, body: Buffer) =>
        plain.send(
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: 'peer/mp.bin',
            UploadId,
            PartNumber: n,
            Body: body,
            ContentMD5: md5(body),
          }),
        );
      const one = await part(1, data);
      await expect(part(1, data)).rejects.toMatchObject({ name: 'InvalidPart' });
      const two = await part(2, data.subarray(0, 10));
      const complete = () =>
        plain.send(
          new CompleteMultipartUploadCommand({
            Bucket: BUCKET,
            Key: 'peer/mp.bin',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: one.ETag },
                { PartNumber: 2, ETag: two.ETag },
              ],
            },
          }),
        );
      await complete();
      await expect(complete()).rejects.toMatchObject({ name: 'NoSuchUpload' });
      await expect(
        plain.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'peer/mp.bin', UploadId })),
      ).rejects.toMatchObject({ name: 'NoSuchUpload' });
      expect((await peer.readObject(BUCKET, 'peer/mp.bin'))?.bytes.length).toBe(PART + 10);
    } finally {
      sdkDefault.destroy();
      plain.destroy();
    }
  });
});
