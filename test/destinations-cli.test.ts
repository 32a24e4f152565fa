/**
 * `megaferry transfer --dest s4:… | local:…` as a user runs it (the built bin, a child process)
 * against real peers: S3 (s3rver), MEGA S4 (a second s3rver behind the S4 rules proxy) and a
 * folder on this machine. No MEGA account is configured: S4 and local need none. The bytes are
 * read back from the destination itself and compared by SHA-256; the statuses are read back from
 * the store (`megaferry files --json`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startS4Peer, type S4Peer } from './peers/s4';
import { MiB, sha256, testBytes } from './peers/fixtures';
import { cli, start } from './peers/cli-process';
import { startMongo } from './peers/mongo';
import type { BatchStatus } from '../src/shared/contract';
import type { FileRecord } from '../src/shared/api';

const BUCKET = 'media';
const ARCHIVE = 'archive';

let s3: S3Peer;
let s4: S4Peer;
let work: string;
const shas = new Map<string, string>();

/** Objects on and around the S4 part size (8 MiB by default), keys with spaces and non-ASCII. */
const OBJECTS: [string, number][] = [
  ['photos/a.jpg', 300_000],
  ['photos/b c ü.jpg', 1],
  ['empty.txt', 0],
  ['docs/2024/report 文件.pdf', 5000],
  ['video/big.mov', 9 * MiB + 3],
];

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...s3.env,
    ...s4.env,
    MEGAFERRY_DATA_DIR: join(work, 'data'),
    MEGAFERRY_RETRY_ATTEMPTS: '3',
    MEGAFERRY_RETRY_BASE_MS: '20',
    MEGAFERRY_RETRY_MAX_MS: '100',
    ...extra,
  };
}

async function files(): Promise<FileRecord[]> {
  const r = await cli(['files', '--json', '--limit', '1000'], env());
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { files: FileRecord[] }).files;
}

beforeAll(async () => {
  [s3, s4] = await Promise.all([startS3Peer([BUCKET]), startS4Peer({ buckets: [ARCHIVE] })]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-dest-cli-'));
  for (const [i, [key, size]] of OBJECTS.entries()) {
    const data = testBytes(size, 70 + i);
    await s3.put(BUCKET, key, data);
    shas.set(key, sha256(data));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), s4?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Seed B's fields on every document, with exactly these names and types (SPEC.md "Data model"). */
function expectSeedFields(doc: FileRecord): void {
  expect(doc).toMatchObject({
    code: expect.any(String),
    bucket_name: BUCKET,
    remote_key: expect.any(String),
    s4_key: expect.any(String),
    status: 'done',
    status_updated_at: expect.any(String),
    creation_date: expect.any(String),
    modified_date: expect.any(String),
    retry_count: 0,
    error_message: null,
  });
}

describe('transfer --dest s4:bucket/prefix', () => {
  it('copies every object byte for byte into S4, a done document per object with s4_key = the key', async () => {
    const r = await cli(['transfer', '--bucket', BUCKET, '--dest', `s4:${ARCHIVE}/2024/`, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.overall_status).toBe('completed');
    expect(status.destination).toBe(`s4:${new URL(s4.endpoint).host}/${ARCHIVE}`);
    expect(status.files.map((f) => [f.remote_key, f.s4_key]).sort()).toEqual(
      OBJECTS.map(([key]) => [key, `2024/${key}`]).sort(),
    );

    // Byte for byte, read back from the S4 peer itself; the transfer id with each object.
    for (const [key] of OBJECTS) {
      const object = await s4.readObject(ARCHIVE, `2024/${key}`);
      expect(object, key).not.toBeNull();
      expect(sha256(object?.bytes ?? Buffer.alloc(0)), key).toBe(shas.get(key));
      expect(object?.metadata['megaferry-transfer-id'], key).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(await s4.listKeys(ARCHIVE)).toHaveLength(OBJECTS.length);
    // The large one went in parts, each with Content-MD5, and nothing was left open.
    expect(s4.count('UploadPart').requests).toBe(2);
    expect(
      s4.requests.every((q) => !Object.keys(q.headers).some((h) => h.startsWith('x-amz-checksum'))),
    ).toBe(true);
    expect(s4.openUploads(ARCHIVE)).toEqual([]);

    const docs = (await files()).filter((d) => d.destination === status.destination);
    expect(docs).toHaveLength(OBJECTS.length);
    for (const doc of docs) {
      expectSeedFields(doc);
      expect(doc.s4_key).toBe(`2024/${doc.remote_key}`);
      expect(doc.code).toBe(doc.remote_key);
    }

    // The same selection again: already done, nothing sent.
    const writes = s4.count('PutObject').requests + s4.count('UploadPart').requests;
    const again = await cli(['transfer', '--bucket', BUCKET, '--dest', `s4:${ARCHIVE}/2024/`], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 to transfer, 5 already done/);
    expect(s4.count('PutObject').requests + s4.count('UploadPart').requests).toBe(writes);

    // verify reads each copy back from S4 and checks it against the source.
    const verified = await cli(['verify', '--json'], env());
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { summary: { files: number; ok: number } };
    expect(report.summary).toMatchObject({ files: OBJECTS.length, ok: OBJECTS.length });
  });

  it('refuses what cannot work with one clear line (exit 2), changing nothing', async () => {
    const before = (await files()).length;
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--dest', 's4:'], {}, /target is required for destination s4: a bucket and an optional prefix/],
      [['--dest', 's4:Bad Bucket/x'], {}, /target must start with an S3 bucket name/],
      [['--dest', 'ftp:/x'], {}, /--dest must be mega:\/Backup, s4:archive\/2024\/, local:\/srv\/archive/],
      [['--dest', 'local:relative/path'], {}, /target must be an absolute folder path on this machine/],
      [['--dest', 's4:archive', '--target', '/x'], {}, /give one of --dest or --target/],
      [
        ['--dest', 's4:archive'],
        { MEGAFERRY_S4_ACCESS_KEY_ID: '' },
        /MEGA S4 access not configured: .*MEGAFERRY_S4_ACCESS_KEY_ID/,
      ],
      [
        ['--dest', `local:${join(work, 'q')}`, '--queue'],
        {},
        /a local destination is written by the process/,
      ],
      // No MEGA account: the default destination says so.
      [[], {}, /MEGA account not configured/],
    ];
    for (const [args, extra, message] of cases) {
      const r = await cli(['transfer', '--bucket', BUCKET, '--key', 'empty.txt', ...args], env(extra));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(await files()).toHaveLength(before);
  });
});

describe('transfer --dest local:/folder', () => {
  it('copies every object byte for byte into the folder, a done document per object', async () => {
    const folder = join(work, 'local archive');
    const r = await cli(['transfer', '--bucket', BUCKET, '--dest', `local:${folder}`, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.overall_status).toBe('completed');
    expect(status.destination).toBe(`local:${folder}`);
    for (const [key] of OBJECTS) {
      expect(sha256(await readFile(join(folder, key))), key).toBe(shas.get(key));
    }
    // Only the files: no partial file left anywhere.
    const listed = (await readdir(folder, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(folder.length + 1))
      .sort();
    expect(listed).toEqual(OBJECTS.map(([key]) => key).sort());

    const docs = (await files()).filter((d) => d.destination === `local:${folder}`);
    expect(docs).toHaveLength(OBJECTS.length);
    for (const doc of docs) {
      expectSeedFields(doc);
      expect(doc.s4_key).toBe(doc.remote_key);
    }
    const verified = await cli(['verify', '--json'], env());
    expect(verified.code, verified.stderr).toBe(0);
    expect((JSON.parse(verified.stdout) as { summary: { ok: number } }).summary.ok).toBe(2 * OBJECTS.length);
  });
});

describe('S4 through the workers', () => {
  it('a worker with S4 keys moves a `transfer --dest s4: --queue`; the bytes land in S4', async () => {
    const mongo = await startMongo();
    const shared = { MONGODB_URI: mongo.uri, MEGAFERRY_DATA_DIR: join(work, 'worker-data') };
    const worker = start(['worker', '--name', 's4-worker'], env(shared));
    try {
      const r = await cli(
        [
          'transfer',
          '--bucket',
          BUCKET,
          '--prefix',
          'photos/',
          '--dest',
          `s4:${ARCHIVE}/workers/`,
          '--queue',
          '--json',
        ],
        env(shared),
      );
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout) as BatchStatus;
      expect(status.overall_status).toBe('completed');
      expect(status.run).toBe('queue');
      for (const key of ['photos/a.jpg', 'photos/b c ü.jpg']) {
        const object = await s4.readObject(ARCHIVE, `workers/${key}`);
        expect(sha256(object?.bytes ?? Buffer.alloc(0)), key).toBe(shas.get(key));
      }
      expect(worker.out().stdout).toMatch(/working the queues of s4:127\.0\.0\.1:\d+/);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.done;
      await mongo.stop();
    }
  });
});
