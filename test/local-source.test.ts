/**
 * Files dropped on the desktop window: the local-file source on its own, then a `local:` batch
 * copied into the MEGA test peer (bytes checked after downloading them back), a missing file, a
 * key that tries to leave the folder, the refusal on the headless host, and mega_link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage, type MutableFile } from 'megajs';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { InputError } from '../src/main/engine/errors';
import { LocalSource } from '../src/main/engine/sources/local';
import { LOCAL_BUCKET_PREFIX } from '../src/shared/contract';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, listPath, sessionFetch, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { KiB, MiB, sha256, testBytes } from './peers/fixtures';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let dropped: string;
let bucket: string;
const shas = new Map<string, string>();

const FILES: [string, number][] = [
  ['cover.jpg', 200 * KiB + 3],
  ['album/01 intro.flac', MiB + 17],
  ['album/disc 2/02.flac', 17],
  ['empty.txt', 0],
];

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer(['unused-bucket']), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-local-'));
  dropped = join(work, 'Dropped Folder');
  bucket = LOCAL_BUCKET_PREFIX + dropped;
  let seed = 50;
  for (const [key, size] of FILES) {
    const data = testBytes(size, seed++);
    await mkdir(join(dropped, ...key.split('/').slice(0, -1)), { recursive: true });
    await writeFile(join(dropped, ...key.split('/')), data);
    shas.set(key, sha256(data));
  }
  await writeFile(join(work, 'outside.txt'), 'not for MEGA');
}, 60_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('LocalSource', () => {
  const source = new LocalSource();

  it('lists recursively with a prefix, and by folder with a delimiter', async () => {
    const all = [];
    for await (const o of source.listAll(bucket, '')) all.push(o.key);
    expect(all).toEqual(['album/01 intro.flac', 'album/disc 2/02.flac', 'cover.jpg', 'empty.txt']);
    const under = [];
    for await (const o of source.listAll(bucket, 'album/')) under.push(o.key);
    expect(under).toEqual(['album/01 intro.flac', 'album/disc 2/02.flac']);
    const top = await source.list(bucket, { prefix: '', delimiter: '/' });
    expect(top.folders).toEqual(['album/']);
    expect(top.objects.map((o) => [o.key, o.size])).toEqual([
      ['cover.jpg', 200 * KiB + 3],
      ['empty.txt', 0],
    ]);
    const page = await source.list(bucket, { prefix: 'album/', maxKeys: 1 });
    expect(page.objects.map((o) => o.key)).toEqual(['album/01 intro.flac']);
    const next = await source.list(bucket, { prefix: 'album/', maxKeys: 1, token: page.next_token ?? '' });
    expect(next.objects.map((o) => o.key)).toEqual(['album/disc 2/02.flac']);
    expect(next.next_token).toBeNull();
    // The walk starts in the prefix's folder: a partial name, a missing folder, no way out.
    const partial = [];
    for await (const o of source.listAll(bucket, 'album/disc')) partial.push(o.key);
    expect(partial).toEqual(['album/disc 2/02.flac']);
    const missing = [];
    for await (const o of source.listAll(bucket, 'no such folder/')) missing.push(o.key);
    expect(missing).toEqual([]);
    const escape = (async () => {
      for await (const o of source.listAll(bucket, '../')) void o;
    })();
    await expect(escape).rejects.toThrow(/invalid local file key/);
  });

  it('heads and reads from an offset; a missing file is not found', async () => {
    const head = await source.head(bucket, 'album/01 intro.flac');
    expect(head).toMatchObject({ key: 'album/01 intro.flac', size: MiB + 17 });
    const whole = await readAll(
      await source.read(bucket, 'cover.jpg', { signal: new AbortController().signal }),
    );
    expect(sha256(whole)).toBe(shas.get('cover.jpg'));
    const tail = await readAll(
      await source.read(bucket, 'cover.jpg', { start: 1000, signal: new AbortController().signal }),
    );
    expect(tail.equals(whole.subarray(1000))).toBe(true);
    expect(await source.head(bucket, 'nope.bin')).toBeNull();
    expect(await source.head(bucket, 'album')).toBeNull(); // a folder is not a file
    await expect(
      source.read(bucket, 'nope.bin', { signal: new AbortController().signal }),
    ).rejects.toMatchObject({ kind: 'not_found', side: 'source' });
  });

  it.each([
    '../outside.txt',
    'album/../../outside.txt',
    '/etc/passwd',
    'album\\..\\..\\outside.txt',
    './cover.jpg',
  ])('refuses the key %j (never reads outside the folder)', async (key) => {
    await expect(source.head(bucket, key)).rejects.toThrow(/invalid local file key/);
    await expect(source.read(bucket, key, { signal: new AbortController().signal })).rejects.toThrow(
      /invalid local file key/,
    );
  });

  it('refuses a bucket that is not an absolute folder', async () => {
    await expect(source.checkBucket('local:relative/folder')).rejects.toThrow(/absolute folder path/);
    await expect(source.checkBucket(LOCAL_BUCKET_PREFIX + join(work, 'missing'))).rejects.toMatchObject({
      kind: 'not_found',
    });
  });
});

/** The handle of the MEGA folder at `path`, seen by a separate session. */
async function folderHandle(path: string): Promise<string | undefined> {
  const storage = await new Storage({
    email: mega.email,
    password: mega.password,
    gateway: mega.gateway,
    keepalive: false,
    fetch: sessionFetch(),
  }).ready;
  try {
    let folder: MutableFile | undefined = storage.root;
    for (const name of path.split('/').filter(Boolean)) {
      folder = folder?.children?.find((c) => c.directory && c.name === name);
    }
    return folder?.nodeId ?? undefined;
  } finally {
    await storage.close().catch(() => undefined);
  }
}

describe('a dropped folder sent to MEGA (desktop)', () => {
  let service: FerryService;
  beforeAll(async () => {
    service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, join(work, 'data'))), {
      allowLocalFiles: true,
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('copies every file byte for byte, with mega_link on the folder that holds it', async () => {
    const started = await service.startBatch({ bucket, prefix: '', target: '/Dropped' });
    expect(started.started.sort()).toEqual(FILES.map(([k]) => k).sort());
    await service.manager.waitForBatch(started.batch_id);
    const status = await service.getBatch(started.batch_id);
    expect(status.overall_status).toBe('completed');
    for (const f of status.files) {
      expect(f.s4_key).toBe(`/Dropped/${f.remote_key}`);
      expect((await downloadSha256(mega, f.s4_key)).sha256).toBe(shas.get(f.remote_key));
      const folder = f.s4_key.split('/').slice(0, -1).join('/');
      expect(f.mega_link).toBe(`https://mega.nz/fm/${await folderHandle(folder)}`);
    }
    const records = await service.listFiles({ q: 'disc 2' });
    expect(records.files[0]).toMatchObject({
      bucket_name: bucket,
      status: 'done',
      mega_link: `https://mega.nz/fm/${await folderHandle('/Dropped/album/disc 2')}`,
    });
  });

  it('fails a missing file as s3_download_failed, and the others go on', async () => {
    const started = await service.startBatch({
      bucket,
      keys: ['cover.jpg', 'gone.bin'],
      target: '/Missing',
    });
    expect(started.failed_to_start).toEqual([
      { code: 'gone.bin', remote_key: 'gone.bin', reason: expect.stringMatching(/not found/) },
    ]);
    await service.manager.waitForBatch(started.batch_id);
    const status = await service.getBatch(started.batch_id);
    expect(status.overall_status).toBe('partial');
    expect(status.files.find((f) => f.remote_key === 'gone.bin')?.status).toBe('s3_download_failed');
    expect(status.files.find((f) => f.remote_key === 'cover.jpg')?.status).toBe('done');
  });

  it('refuses a key that leaves the dropped folder, writing nothing', async () => {
    const before = (await service.listBatches()).length;
    const attempt = service.startBatch({ bucket, keys: ['../outside.txt'], target: '/Escape' });
    await expect(attempt).rejects.toBeInstanceOf(InputError);
    // Refused at the boundary: a key with ".." segments cannot map to a path inside the target.
    await expect(attempt).rejects.toThrow(/keys\[\] "\.\.\/outside\.txt" has "\." or "\.\." path segments/);
    expect(await service.listBatches()).toHaveLength(before);
    expect(await listPath(mega, '/Escape/outside.txt')).toHaveLength(0);
  });
});

describe('on the headless host', () => {
  it('refuses a local: bucket', async () => {
    const service = await FerryService.open(
      configFromEnv(ferryEnv({ s3, mega }, join(work, 'data-headless'))),
    );
    try {
      const attempt = service.startBatch({ bucket, prefix: '' });
      await expect(attempt).rejects.toBeInstanceOf(InputError);
      await expect(attempt).rejects.toThrow(/can only be sent from the desktop app/);
      await expect(service.listObjects({ bucket })).rejects.toThrow(/desktop app/);
      expect(await service.listBatches()).toHaveLength(0);
    } finally {
      await service.close();
    }
  });
});
