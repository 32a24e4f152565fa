/**
 * uploadChunks against the real mega-mock peer: bytes verified by downloading, decrypting and
 * hashing them with the MAC checked against MEGA's reference (peers/mega.ts `downloadSha256`; not
 * megajs's download, whose MAC check is wrong at some sizes), parallel POSTs with bounded memory,
 * cancel, resume from a saved session, and a session whose URL MEGA refuses. Also MegaDestination's sealed checkpoints.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Storage } from 'megajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, FerryError, ResumeRejectedError } from '../src/main/engine/errors';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import {
  chunkBoundaries,
  chunkMac,
  ctrEncrypt,
  e64,
  encryptCbcZeroIv,
  nodeAesKey,
  packAttributes,
  UploadEncryptor,
} from '../src/main/engine/destinations/mega-crypto';
import {
  httpPost,
  type ChunkPoster,
  UploadUrlRejected,
  uploadChunks,
  type MegaApiLike,
  type UploadChunksOptions,
  type UploadResult,
  type UploadSession,
} from '../src/main/engine/destinations/mega-upload';
import type { UploadCheckpoint } from '../src/main/engine/ports';
import { downloadSha256, listPath, sessionFetch, startMegaPeer, type MegaPeer } from './peers/mega';

const KiB = 1024;
const MiB = 1024 * 1024;

let peer: MegaPeer;
let storage: Storage;

beforeAll(async () => {
  peer = await startMegaPeer();
  storage = await new Storage({
    email: peer.email,
    password: peer.password,
    gateway: peer.gateway,
    keepalive: false,
    fetch: sessionFetch(),
  }).ready;
});

afterAll(async () => {
  await storage?.close().catch(() => undefined);
  await peer?.stop();
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function options(data: Buffer, extra: Partial<UploadChunksOptions> = {}): UploadChunksOptions {
  return {
    api: storage.api as unknown as MegaApiLike,
    size: data.length,
    body: Readable.from(data.length > 0 ? [data] : []),
    signal: new AbortController().signal,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    ...extra,
  };
}

/** Makes the node for a finished upload in the drive root, as MegaDestination does. */
async function makeNode(name: string, result: UploadResult): Promise<void> {
  const at = encryptCbcZeroIv(nodeAesKey(result.key), packAttributes({ n: name }));
  await storage.api.request({
    a: 'p',
    t: storage.root.nodeId,
    n: [
      {
        h: e64(result.uploadHandle),
        t: 0,
        a: e64(at),
        k: e64(storage.aes.encryptECB(Buffer.from(result.key))),
      },
    ],
  } as unknown as JSON);
}

/** A chunk poster that records each POST (offset, bytes) and how many run at once. */
function countingPoster(hold?: (offset: number) => boolean) {
  const stats = { posts: [] as { offset: number; bytes: number }[], active: 0, maxActive: 0 };
  const post: ChunkPoster = async (url, body, signal) => {
    const offset = Number(url.slice(url.lastIndexOf('/') + 1));
    stats.posts.push({ offset, bytes: body.length });
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    try {
      if (hold?.(offset)) {
        // Never reaches MEGA: waits for the abort.
        await new Promise<never>((_resolve, reject) => {
          if (signal.aborted) reject(new Error('aborted'));
          signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      }
      return await httpPost(url, body, signal);
    } finally {
      stats.active--;
    }
  };
  return { stats, post };
}

/** A body of `size` pseudo-random bytes made as it is read, 64 KiB at a time, counting reads. */
function generatedBody(size: number): { body: Readable; pulled: () => number } {
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * KiB, size - sent);
      sent += n;
      this.push(Buffer.alloc(n, sent & 0xff));
    },
  });
  return { body, pulled: () => sent };
}

describe('uploadChunks', () => {
  it.each([0, 1, 16, 128 * KiB, 128 * KiB + 1, 384 * KiB - 1, MiB + 1, 3 * MiB + 7, 5632 * KiB])(
    'uploads %i bytes that download byte-exact with the reference MAC',
    async (size) => {
      const data = randomBytes(size);
      const progress: number[] = [];
      const result = await uploadChunks(options(data, { onProgress: (b) => progress.push(b) }));
      expect(result.key).toHaveLength(32);
      expect(result.uploadHandle.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toBe(size);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      await makeNode(`sizes-${size}.bin`, result);
      expect(await downloadSha256(peer, `/sizes-${size}.bin`)).toEqual({ sha256: sha256(data), size });
    },
  );

  it('runs several POSTs at once and reads no further ahead than that', async () => {
    const size = 24 * MiB;
    const { body, pulled } = generatedBody(size);
    const counting = countingPoster();
    let confirmed = 0;
    let maxAhead = 0;
    const slowPost: ChunkPoster = async (url, chunk, signal) => {
      maxAhead = Math.max(maxAhead, pulled() - confirmed);
      await sleep(15);
      return counting.post(url, chunk, signal);
    };
    const result = await uploadChunks({
      ...options(Buffer.alloc(0)),
      size,
      body,
      connections: 3,
      post: slowPost,
      onProgress: (bytes) => (confirmed = bytes),
    });
    expect(counting.stats.maxActive).toBe(3);
    // 3 chunks in flight, one read ahead, plus the stream's buffer: never the whole file.
    expect(maxAhead).toBeLessThanOrEqual(4 * MiB + 256 * KiB);
    await makeNode('parallel.bin', result);
    expect((await downloadSha256(peer, '/parallel.bin')).size).toBe(size);
  });

  it('the streaming encryptor computes what the reference chunkMac and ctrEncrypt compute', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    for (const [offset, length] of [
      [0, 15],
      [128 * KiB, 256 * KiB],
      [5 * MiB, MiB],
      [3 * MiB, 100 * KiB + 3],
    ] as const) {
      const plain = randomBytes(length);
      // Pieces of odd lengths, as a socket gives them; the CTR cipher runs on from `offset`.
      const encryptor = new UploadEncryptor(key, nonce, offset);
      const out = Buffer.alloc(length);
      for (let at = 0, step = 1; at < length; at += step, step = step * 7 + 3) {
        const end = Math.min(length, at + step);
        encryptor.update(plain.subarray(at, end), out, at);
      }
      expect(encryptor.endChunk().equals(chunkMac(key, nonce, plain)), `mac at ${offset}+${length}`).toBe(
        true,
      );
      expect(out.equals(ctrEncrypt(key, nonce, offset, plain)), `ctr at ${offset}`).toBe(true);
    }
    // There is no empty chunk (an empty file has none): asked for one, the encryptor refuses.
    expect(() => new UploadEncryptor(key, nonce, 0).endChunk()).toThrow(RangeError);
  });

  it('gives the same bytes whatever pieces the body comes in', async () => {
    const data = randomBytes(5 * MiB + 3);
    const pieces: Buffer[] = [];
    for (let at = 0, step = 1; at < data.length; at += step, step = ((step * 13 + 5) % (300 * KiB)) + 1) {
      pieces.push(data.subarray(at, at + step));
    }
    const result = await uploadChunks(options(data, { body: Readable.from(pieces) }));
    await makeNode('pieces.bin', result);
    expect(await downloadSha256(peer, '/pieces.bin')).toEqual({ sha256: sha256(data), size: data.length });
  });

  it('rejects with CancelledError at once on abort, aborting the POSTs in flight', async () => {
    const controller = new AbortController();
    const counting = countingPoster((offset) => offset >= 384 * KiB);
    const { body } = generatedBody(8 * MiB);
    const upload = uploadChunks({
      ...options(Buffer.alloc(0)),
      size: 8 * MiB,
      body,
      signal: controller.signal,
      post: counting.post,
    });
    while (counting.stats.active < 2) await sleep(5);
    const abortedAt = Date.now();
    controller.abort();
    const err = await upload.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(Date.now() - abortedAt).toBeLessThan(100);
    expect(body.destroyed).toBe(true);
    await sleep(50);
    expect(counting.stats.active).toBe(0);
  });

  it('fails a chunk after its retries with the HTTP status', async () => {
    let posts = 0;
    peer.setUploadError(() => {
      posts++;
      return Object.assign(new Error('injected failure'), { statusCode: 503 });
    });
    try {
      const err = await uploadChunks(options(randomBytes(1000))).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/503/);
      expect(posts).toBe(3);
    } finally {
      peer.setUploadError(null);
    }
  });

  it('rejects a body of the wrong length as a source error', async () => {
    const short = await uploadChunks({ ...options(randomBytes(1000)), size: 2000 }).catch((e: unknown) => e);
    expect(short).toMatchObject({ kind: 'transient', side: 'source' });
    const long = await uploadChunks({ ...options(randomBytes(3000)), size: 2000 }).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(FerryError);
    expect(long).toMatchObject({ kind: 'transient', side: 'source' });
  });
});

/** Uploads until a checkpoint reaches `heldFrom` (POSTs from there never reach MEGA), then aborts. */
async function partialUpload(data: Buffer, heldFrom: number): Promise<UploadSession> {
  const controller = new AbortController();
  const counting = countingPoster((offset) => offset >= heldFrom);
  let saved: UploadSession | null = null;
  const upload = uploadChunks(
    options(data, {
      signal: controller.signal,
      post: counting.post,
      checkpointIntervalMs: 0,
      onCheckpoint: (session) => {
        saved = session;
      },
    }),
  );
  while (!saved || (saved as UploadSession).next_offset < heldFrom) await sleep(5);
  controller.abort();
  expect(await upload.catch((e: unknown) => e)).toBeInstanceOf(CancelledError);
  return saved as UploadSession;
}

describe('resume', () => {
  it('goes on from a saved session and POSTs only the rest', async () => {
    const data = randomBytes(6 * MiB + 12345);
    const session = await partialUpload(data, 1280 * KiB);
    expect(session.next_offset).toBe(1280 * KiB); // chunks of 128, 256, 384, 512 KiB
    expect(session.chunks_done).toBe(4);
    expect(Buffer.from(session.mac_state, 'base64')).toHaveLength(16);
    expect(Buffer.from(session.key, 'base64')).toHaveLength(16);

    const counting = countingPoster();
    const progress: number[] = [];
    const checkpoints: UploadSession[] = [];
    const result = await uploadChunks(
      options(data, {
        session,
        body: Readable.from([data.subarray(session.next_offset)]),
        post: counting.post,
        onProgress: (b) => progress.push(b),
        onCheckpoint: (s) => {
          checkpoints.push(s);
        },
      }),
    );
    const posted = counting.stats.posts.reduce((sum, p) => sum + p.bytes, 0);
    expect(posted).toBe(data.length - session.next_offset);
    expect(Math.min(...counting.stats.posts.map((p) => p.offset))).toBe(session.next_offset);
    expect(progress[0]).toBeGreaterThan(session.next_offset);
    expect(progress.at(-1)).toBe(data.length);
    expect(checkpoints.at(-1)).toMatchObject({ next_offset: data.length, upload_url: session.upload_url });
    expect(checkpoints.at(-1)?.upload_handle).toBe(result.uploadHandle.toString('base64'));
    await makeNode('resumed.bin', result);
    expect(await downloadSha256(peer, '/resumed.bin')).toEqual({ sha256: sha256(data), size: data.length });

    // A session that has every chunk goes straight to the token, reading nothing.
    const again = await uploadChunks(
      options(data, {
        session: checkpoints.at(-1) as UploadSession,
        body: Readable.from([]),
        post: counting.post,
      }),
    );
    expect(again.uploadHandle.equals(result.uploadHandle)).toBe(true);
    expect(again.key.equals(result.key)).toBe(true);
  });

  type Chunks = ReturnType<typeof chunkBoundaries>;
  it.each([
    ['after the first chunk', (c: Chunks) => c[0]?.end ?? 0],
    ['at the start of the last chunk', (c: Chunks) => c.at(-1)?.start ?? 0],
  ])('resumes from a checkpoint %s and the download is exact, MAC right', async (_name, at) => {
    const data = randomBytes(3 * MiB + 7);
    const heldFrom = at(chunkBoundaries(data.length));
    const session = await partialUpload(data, heldFrom);
    expect(session.next_offset).toBe(heldFrom);
    const counting = countingPoster();
    const result = await uploadChunks(
      options(data, {
        session,
        body: Readable.from([data.subarray(session.next_offset)]),
        post: counting.post,
      }),
    );
    expect(counting.stats.posts.reduce((sum, p) => sum + p.bytes, 0)).toBe(data.length - heldFrom);
    const name = `resumed-${heldFrom}.bin`;
    await makeNode(name, result);
    expect(await downloadSha256(peer, `/${name}`)).toEqual({ sha256: sha256(data), size: data.length });
  });

  it('throws UploadUrlRejected when the crash fell after MEGA completed the upload but before the last checkpoint', async () => {
    const data = randomBytes(2 * MiB + 5);
    const checkpoints: UploadSession[] = [];
    await uploadChunks(
      options(data, {
        checkpointIntervalMs: 0,
        onCheckpoint: (session) => {
          checkpoints.push(session);
        },
      }),
    );
    const stale = checkpoints.filter((c) => !c.upload_handle).at(-1) as UploadSession;
    expect(stale.next_offset).toBeLessThan(data.length);
    const err = await uploadChunks(
      options(data, { session: stale, body: Readable.from([data.subarray(stale.next_offset)]) }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadUrlRejected);
    expect(err).toBeInstanceOf(ResumeRejectedError);
  });

  it('throws UploadUrlRejected when MEGA refuses the saved upload URL', async () => {
    const data = randomBytes(2 * MiB);
    const session = await partialUpload(data, 384 * KiB);
    const uploadId = new URL(session.upload_url).pathname.split('/')[2] as string;
    peer.setUploadError((url) =>
      url.pathname?.includes(`/${uploadId}/`)
        ? Object.assign(new Error('simulateUploadError: expired'), { statusCode: 404 })
        : undefined,
    );
    try {
      const err = await uploadChunks(
        options(data, { session, body: Readable.from([data.subarray(session.next_offset)]) }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadUrlRejected);
      expect(err).toBeInstanceOf(ResumeRejectedError);
      // A new upload of the same file is not affected.
      const fresh = await uploadChunks(options(data));
      await makeNode('fresh-after-reject.bin', fresh);
    } finally {
      peer.setUploadError(null);
    }
    expect((await downloadSha256(peer, '/fresh-after-reject.bin')).sha256).toBe(sha256(data));
  });

  it('throws UploadUrlRejected for a session that does not fit the file', async () => {
    const data = randomBytes(MiB);
    const session = await partialUpload(data, 384 * KiB);
    const wrongSize = await uploadChunks({ ...options(data), size: data.length + 1, session }).catch(
      (e: unknown) => e,
    );
    expect(wrongSize).toBeInstanceOf(UploadUrlRejected);
    const badOffset = await uploadChunks(options(data, { session: { ...session, next_offset: 1000 } })).catch(
      (e: unknown) => e,
    );
    expect(badOffset).toBeInstanceOf(UploadUrlRejected);
  });
});

describe('MegaDestination checkpoints', () => {
  it('seals its checkpoints and resumes from them', async () => {
    const dest = new MegaDestination({
      email: peer.email,
      password: peer.password,
      gateway: peer.gateway,
      requestRetry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    });
    try {
      const data = randomBytes(3 * MiB + 5);
      const controller = new AbortController();
      let checkpoint: UploadCheckpoint | null = null;
      let pushed = false;
      const body = new Readable({
        read() {
          // The first 1280 KiB at once, then nothing until the abort.
          if (!pushed) this.push(data.subarray(0, 1280 * KiB));
          pushed = true;
        },
      });
      const first = dest.upload({
        path: '/Resume/file.bin',
        size: data.length,
        body,
        transfer_id: 'tid-resume',
        signal: controller.signal,
        onProgress: () => undefined,
        onCheckpoint: (c) => {
          checkpoint = c;
        },
      });
      while (!checkpoint || (checkpoint as UploadCheckpoint).next_offset < 1280 * KiB) await sleep(5);
      controller.abort();
      expect(await first.catch((e: unknown) => e)).toBeInstanceOf(CancelledError);
      const saved = checkpoint as unknown as UploadCheckpoint;
      expect(saved.next_offset).toBe(1280 * KiB);
      // No key, nonce or URL in clear.
      expect(Object.keys(saved.state).sort()).toEqual(['data', 'iv', 'tag', 'v']);
      expect(JSON.stringify(saved.state)).not.toContain('upload');

      const node = await dest.upload({
        path: '/Resume/file.bin',
        size: data.length,
        body: Readable.from([data.subarray(saved.next_offset)]),
        transfer_id: 'tid-resume',
        signal: new AbortController().signal,
        onProgress: () => undefined,
        resume: saved,
      });
      expect(node.size).toBe(data.length);
      expect(await downloadSha256(peer, '/Resume/file.bin')).toEqual({
        sha256: sha256(data),
        size: data.length,
      });

      // A damaged checkpoint makes the engine start over.
      const damaged = { ...saved, state: { ...saved.state, tag: Buffer.alloc(16).toString('base64') } };
      const err = await dest
        .upload({
          path: '/Resume/other.bin',
          size: data.length,
          body: Readable.from([data.subarray(saved.next_offset)]),
          transfer_id: 'tid-other',
          signal: new AbortController().signal,
          onProgress: () => undefined,
          resume: damaged,
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResumeRejectedError);
      expect(await listPath(peer, '/Resume/other.bin')).toHaveLength(0);
    } finally {
      await dest.close();
    }
  });
});
