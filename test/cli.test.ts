/**
 * `megaferry` as a user runs it (the built bin, a child process) against real peers: exit codes,
 * `--json`, bad input, SIGINT, and a SIGKILL in the middle of a batch followed by a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, listPath, type MegaPeer } from './peers/mega';
import { startMongo } from './peers/mongo';
import { MongoClient } from 'mongodb';
import { ferryEnv } from './peers/env';
import { MiB, sha256, testBytes, waitFor } from './peers/fixtures';
import type { BatchStatus } from '../src/shared/contract';

const BIN = resolve(__dirname, '..', 'bin', 'megaferry.mjs');
const BUCKET = 'cli-bucket';

let s3: S3Peer;
let mega: MegaPeer;
let mongo: { uri: string; stop(): Promise<void> };
let work: string;
const shas = new Map<string, string>();

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo }, join(work, 'data')),
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function start(
  args: string[],
  extraEnv: Record<string, string | undefined> = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: env(extraEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolveRun) => {
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
  });
  Object.defineProperty(child, 'output', { get: () => ({ stdout, stderr }) });
  return { child, done };
}

/** Runs the CLI to its end; one still running after 45 s is killed, and its output so far shown. */
async function run(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Run> {
  const p = start(args, extraEnv);
  const timer = setTimeout(() => {
    process.stderr.write(
      `megaferry ${args.join(' ')} still running after 45 s; killed. Its output so far:\n${output(p.child).stderr}\n`,
    );
    p.child.kill('SIGKILL');
  }, 45_000);
  try {
    return await p.done;
  } finally {
    clearTimeout(timer);
  }
}
const output = (child: ChildProcess) =>
  (child as unknown as { output: { stdout: string; stderr: string } }).output;

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

async function put(key: string, size: number, seed: number) {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  shas.set(key, sha256(data));
}

async function filesJson(status?: string) {
  const r = await run(['files', '--json', '--limit', '1000', ...(status ? ['--status', status] : [])]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { files: { remote_key: string; status: string; code: string }[] };
}

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-cli-'));
  await put('photos/2024/a.jpg', 300_000, 1);
  await put('photos/2024/b c.jpg', 1, 2);
  await put('photos/raw/ü.raw', 0, 3);
  for (let i = 0; i < 3; i++) await put(`big/${i}.bin`, 12 * MiB + i, 10 + i);
  for (let i = 0; i < 8; i++) await put(`crash/${i}.bin`, 4 * MiB + i, 20 + i);
  for (let i = 0; i < 7; i++) await put(`split/${i}.bin`, 1000 + i, 50 + i);
  await put('resume/big.bin', 96 * MiB + 3, 40);
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('megaferry transfer', () => {
  it('copies a prefix into /Backup and prints only the final REST-shaped status with --json (exit 0)', async () => {
    const r = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'photos/',
      '--target',
      '/Backup',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.batch_id).toMatch(/^batch_[a-z0-9]+$/);
    expect(status.overall_status).toBe('completed');
    expect(status.total_files).toBe(3);
    expect(Object.keys(status.files[0] ?? {})).toEqual(
      expect.arrayContaining([
        'code',
        'bucket_name',
        'remote_key',
        's4_key',
        'status',
        'progress',
        'transferred_bytes',
        'total_bytes',
        'speed',
        'eta_seconds',
        'retry_count',
        'error_message',
      ]),
    );
    for (const f of status.files) {
      expect(f.status).toBe('done');
      const got = await downloadSha256(mega, f.s4_key);
      expect(got.sha256).toBe(shas.get(f.remote_key));
    }
    const docs = await filesJson('done');
    expect(docs.files.map((f) => f.remote_key).sort()).toEqual([
      'photos/2024/a.jpg',
      'photos/2024/b c.jpg',
      'photos/raw/ü.raw',
    ]);

    const status2 = await run(['status', status.batch_id, '--json']);
    expect(status2.code).toBe(0);
    expect((JSON.parse(status2.stdout) as BatchStatus).overall_status).toBe('completed');
    const list = await run(['status']);
    expect(list.stdout).toContain(status.batch_id);
  });

  it('sends a folder larger than the files-per-batch cap as one selection in batches of the cap', async () => {
    const r = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'split/',
      '--target',
      '/Split',
      '--max-files',
      '3',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const statuses = JSON.parse(r.stdout) as BatchStatus[];
    expect(statuses.map((s) => s.total_files)).toEqual([3, 3, 1]);
    expect(statuses.every((s) => s.overall_status === 'completed')).toBe(true);
    const keys = statuses.flatMap((s) => s.files.map((f) => f.remote_key)).sort();
    expect(keys).toEqual(Array.from({ length: 7 }, (_, i) => `split/${i}.bin`));
    for (const key of keys) {
      expect((await downloadSha256(mega, `/Split/${key}`)).sha256).toBe(shas.get(key));
    }
    // Without --json: one line per batch and one for the whole selection.
    const again = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'split/',
      '--target',
      '/Split',
      '--max-files',
      '3',
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/one selection of 7 files in 3 batches of at most 3/);
    expect(again.stdout).toMatch(/selection: 3 batches — 7 done, 0 failed, 0 cancelled of 7/);
  });

  it('takes a CSV keys file with codes, and exits 1 when a file fails', async () => {
    const csv = join(work, 'keys.csv');
    await writeFile(csv, 'key,code\nphotos/2024/a.jpg,A-1\nmissing/none.bin,M-1\n');
    const r = await run(['transfer', '--bucket', BUCKET, '--keys-file', csv, '--target', '/Csv', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.files.map((f) => [f.code, f.status])).toEqual([
      ['A-1', 'done'],
      ['M-1', 's3_download_failed'],
    ]);
    expect(status.overall_status).toBe('partial');
  });

  const bad: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['an unknown flag', ['transfer', '--bucket', BUCKET, '--bogus'], {}, /unknown option '--bogus'/],
    ['a missing bucket', ['transfer', '--key', 'x'], {}, /--bucket/],
    [
      'concurrency 0',
      ['transfer', '--bucket', BUCKET, '--key', 'x', '--concurrency', '0'],
      {},
      /--concurrency must be an integer from 1 to 5/,
    ],
    [
      'concurrency 6',
      ['transfer', '--bucket', BUCKET, '--key', 'x', '--concurrency', '6'],
      {},
      /--concurrency must be an integer from 1 to 5/,
    ],
    [
      '--max-files 0',
      ['transfer', '--bucket', BUCKET, '--prefix', 'split/', '--max-files', '0'],
      {},
      /--max-files must be an integer from 1/,
    ],
    [
      'an unreadable keys file',
      ['transfer', '--bucket', BUCKET, '--keys-file', '/nonexistent/keys.txt'],
      {},
      /--keys-file: cannot read \/nonexistent\/keys.txt/,
    ],
    ['an unknown bucket', ['transfer', '--bucket', 'no-such-bucket', '--key', 'x'], {}, /no-such-bucket/],
    [
      'a wrong MEGA password',
      ['transfer', '--bucket', BUCKET, '--key', 'photos/2024/a.jpg', '--target', '/Nope'],
      { MEGA_PASSWORD: 'wrong-secret' },
      /MEGA.*mock@test/,
    ],
    [
      'no MEGA account',
      ['transfer', '--bucket', BUCKET, '--key', 'photos/2024/a.jpg', '--target', '/Nope'],
      { MEGA_EMAIL: undefined },
      /MEGA_EMAIL/,
    ],
  ];
  it.each(bad)('exits 2 with one clear line on %s, writing nothing', async (_name, args, extra, message) => {
    const before = await filesJson();
    const r = await run(args, extra);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toContain('wrong-secret');
    expect((await filesJson()).files).toHaveLength(before.files.length);
    expect(await listPath(mega, '/Nope/photos/2024/a.jpg')).toHaveLength(0);
  });

  it('exits 2 when S3 or MongoDB cannot be reached', async () => {
    const port = await freePort();
    const s3Down = await run(['transfer', '--bucket', BUCKET, '--key', 'x'], {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
    });
    expect(s3Down.code).toBe(2);
    expect(s3Down.stderr.trim().split('\n')).toHaveLength(1);
    expect(s3Down.stderr).toMatch(/S3/);
    const mongoDown = await run(['transfer', '--bucket', BUCKET, '--key', 'x'], {
      MONGODB_URI: `mongodb://user:hunter2@127.0.0.1:${port}/megaferry?serverSelectionTimeoutMS=1000`,
    });
    expect(mongoDown.code).toBe(2);
    expect(mongoDown.stderr.trim().split('\n')).toHaveLength(1);
    expect(mongoDown.stderr).toMatch(/MongoDB/i);
    expect(mongoDown.stderr).not.toContain('hunter2');
  });

  it('on SIGINT cancels cleanly and exits 130, leaving nothing processing', async () => {
    const { child, done } = start([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'big/',
      '--target',
      '/Sigint',
      '--concurrency',
      '1',
    ]);
    await waitFor('the first transfer to start', () => /start big\//.test(output(child).stderr), 30_000);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect((await filesJson('processing')).files).toHaveLength(0);
    const cancelled = (await filesJson('cancelled')).files.filter((f) => f.remote_key.startsWith('big/'));
    expect(cancelled.length).toBeGreaterThan(0);
  });

  it('after a SIGKILL in the middle of a batch, the next start finishes it with each file in MEGA exactly once', async () => {
    const { child, done } = start([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'crash/',
      '--target',
      '/Crash',
      '--concurrency',
      '2',
    ]);
    await waitFor(
      'two files done',
      () => (output(child).stderr.match(/^done crash\//gm) ?? []).length >= 2,
      60_000,
    );
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const mid = await filesJson();
    const crashDocs = mid.files.filter((f) => f.remote_key.startsWith('crash/'));
    expect(crashDocs.some((f) => f.status !== 'done')).toBe(true);

    const r = await run(['resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const after = (await filesJson()).files.filter((f) => f.remote_key.startsWith('crash/'));
    expect(after).toHaveLength(8);
    expect(after.every((f) => f.status === 'done')).toBe(true);
    for (let i = 0; i < 8; i++) {
      const nodes = await listPath(mega, `/Crash/crash/${i}.bin`);
      expect(nodes, `copies of crash/${i}.bin`).toHaveLength(1);
      expect((await downloadSha256(mega, `/Crash/crash/${i}.bin`)).sha256).toBe(shas.get(`crash/${i}.bin`));
    }
  }, 180_000);
});

describe('resuming a file where it stopped', () => {
  it('killed with SIGKILL in the middle of a file, continues from its checkpoint: little sent again, bytes verified', async () => {
    const size = 96 * MiB + 3;
    const client = await MongoClient.connect(mongo.uri);
    try {
      const files = client.db().collection('files');
      const sentAtStart = mega.uploadedBytes();
      const { child, done } = start([
        'transfer',
        '--bucket',
        BUCKET,
        '--key',
        'resume/big.bin',
        '--target',
        '/Resume',
      ]);
      const checkpoint = await waitFor(
        'a checkpoint past a third of the file',
        async () => {
          const doc = await files.findOne({ remote_key: 'resume/big.bin' });
          const next = Number(doc?.upload_session?.next_offset ?? 0);
          return next >= size / 3 ? next : undefined;
        },
        60_000,
        5,
      );
      child.kill('SIGKILL');
      await done;
      const doc = await files.findOne({ remote_key: 'resume/big.bin' });
      expect(doc?.status).toBe('processing'); // as the dead process left it
      // The checkpoint holds no usable key: the session is sealed.
      expect(JSON.stringify(doc?.upload_session)).not.toMatch(/"key"|"nonce"|upload_url/);

      const r = await run(['resume', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const after = await files.findOne({ remote_key: 'resume/big.bin' });
      expect(after?.status).toBe('done');
      expect(after?.upload_session ?? null).toBeNull();
      const sentAgain = mega.uploadedBytes() - sentAtStart - size;
      expect(sentAgain).toBeGreaterThanOrEqual(0);
      expect(sentAgain, `checkpoint at ${checkpoint}`).toBeLessThanOrEqual(16 * MiB);
      expect(await listPath(mega, '/Resume/resume/big.bin')).toHaveLength(1);
      expect((await downloadSha256(mega, '/Resume/resume/big.bin')).sha256).toBe(shas.get('resume/big.bin'));
    } finally {
      await client.close();
    }
  });
});

describe('megaferry files, status and --help', () => {
  it('lists documents by status and prints help for each command', async () => {
    const r = await run(['files', '--status', 'done']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^done\s+cli-bucket\/photos\/2024\/a.jpg → \/Backup\/photos\/2024\/a.jpg/m);
    const badStatus = await run(['files', '--status', 'finished']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/pending, processing, done/);
    const help = await run(['transfer', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--keys-file');
    const unknownBatch = await run(['status', 'batch_doesnotexist']);
    expect(unknownBatch.code).toBe(2);
    expect(unknownBatch.stderr).toMatch(/unknown batch/);
  });
});
