/**
 * Control of a transfer from the command line (issue 12), as a user runs it (the built bin, child
 * processes) against the real peers (s3rver, mega-mock; the embedded store): the summary at the
 * end and `--report`, `--dry-run`, the filters of a prefix, and `--bwlimit` / MEGAFERRY_BWLIMIT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { MiB, testBytes, waitFor } from './peers/fixtures';
import { parseCsv } from '../src/shared/csv';
import type { BatchStatus, TransferPlan } from '../src/shared/contract';

const BIN = resolve(__dirname, '..', 'bin', 'megaferry.mjs');
const BUCKET = 'control-bucket';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function start(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo: null }, join(work, 'data')),
  };
  for (const [k, v] of Object.entries(extraEnv)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((res) =>
    child.on('close', (code) => res({ code, stdout, stderr, ms: performance.now() - t0 })),
  );
  return { child, done };
}
const run = (args: string[], extraEnv: Record<string, string | undefined> = {}) => start(args, extraEnv).done;

async function files(): Promise<{ remote_key: string; status: string; s4_key: string }[]> {
  const r = await run(['files', '--json', '--limit', '1000']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { files: { remote_key: string; status: string; s4_key: string }[] }).files;
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-control-'));
  await s3.put(BUCKET, 'sum/a.jpg', testBytes(200_000, 1));
  await s3.put(BUCKET, 'sum/b.txt', testBytes(1000, 2));
  for (let i = 1; i <= 3; i++) await s3.put(BUCKET, `plan/${i}.bin`, testBytes(1000 * i, 10 + i));
  await s3.put(BUCKET, 'plan/slow.bin', testBytes(3 * MiB, 20));
  await s3.put(BUCKET, 'flt/a.jpg', testBytes(2000, 30));
  await s3.put(BUCKET, 'flt/b.jpg', testBytes(10, 31));
  await s3.put(BUCKET, 'flt/skip/c.jpg', testBytes(3000, 32));
  await s3.put(BUCKET, 'flt/d.png', testBytes(3000, 33));
  await s3.put(BUCKET, 'bw/three.bin', testBytes(3 * MiB, 40));
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the summary at the end of a transfer', () => {
  it('says files done, failed and skipped, the bytes, the time, the speed and each failure with its reason', async () => {
    const first = await run(['transfer', '--bucket', BUCKET, '--prefix', 'sum/', '--target', '/Sum']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Transferred:\s+196\.3 KiB in 2 files, [\d.]+ \w+\/s$/m);
    expect(first.stdout).toMatch(/^Files:\s+2 done, 0 failed, 0 skipped \(already done\) of 2$/m);
    expect(first.stdout).toMatch(/^Elapsed:\s+\d+\.\ds$/m);

    const csv = join(work, 'report.csv');
    const again = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--key',
      'sum/a.jpg',
      '--key',
      'sum/missing.bin',
      '--target',
      '/Sum',
      '--report',
      csv,
    ]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^Transferred:\s+0 B in 0 files/m);
    expect(again.stdout).toMatch(/^Files:\s+0 done, 1 failed, 1 skipped \(already done\) of 2$/m);
    expect(again.stdout).toMatch(
      /^Failures:\n {2}sum\/missing\.bin — s3_download_failed: object not found in bucket control-bucket$/m,
    );
    const rows = parseCsv(await readFile(csv, 'utf8')).filter((r) => r.length > 1);
    const header = rows[0]!;
    expect(header).toEqual(
      expect.arrayContaining(['batch_id', 'remote_key', 'outcome', 'status', 'error_message']),
    );
    // `status BATCH_ID` of an ended batch ends with the same summary.
    const batchId = rows[1]![header.indexOf('batch_id')]!;
    const status = await run(['status', batchId]);
    expect(status.stdout).toMatch(/^Files:\s+0 done, 1 failed, 1 skipped \(already done\) of 2$/m);
    expect(status.stdout).toMatch(/^Failures:\n {2}sum\/missing\.bin — s3_download_failed: /m);
    const byKey = new Map(rows.slice(1).map((r) => [r[header.indexOf('remote_key')], r]));
    expect(byKey.get('sum/a.jpg')?.[header.indexOf('outcome')]).toBe('skipped');
    expect(byKey.get('sum/missing.bin')?.[header.indexOf('outcome')]).toBe('failed');
    expect(byKey.get('sum/missing.bin')?.[header.indexOf('error_message')]).toMatch(/object not found/);
  }, 60_000);

  it('`clear` clears the finished batches from `status` (and every UI); `status --all` and `clear --undo` bring them back', async () => {
    // A store of its own: the other tests' batches stay as they are.
    const own = { MEGAFERRY_DATA_DIR: join(work, 'clear-data') };
    const r = await run(
      ['transfer', '--bucket', BUCKET, '--key', 'sum/b.txt', '--target', '/Clear', '--json'],
      own,
    );
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as BatchStatus).batch_id;
    const cleared = await run(['clear', '--json'], own);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ status: 'cleared', changed: 1 });
    const hidden = await run(['status'], own);
    expect(hidden.stdout).not.toContain(id);
    expect(hidden.stdout).toMatch(/--all shows them/);
    expect((await run(['status', '--all'], own)).stdout).toContain(id);
    const undo = await run(['clear', '--undo'], own);
    expect(undo.stdout).toMatch(/1 cleared batch shown again/);
    expect((await run(['status'], own)).stdout).toContain(id);
  }, 60_000);

  it('--report FILE.json writes the summary and every outcome, also with --json', async () => {
    const json = join(work, 'report.json');
    const r = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'sum/',
      '--target',
      '/SumAgain',
      '--report',
      json,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as BatchStatus).overall_status).toBe('completed'); // stdout stays the status
    const report = JSON.parse(await readFile(json, 'utf8')) as {
      summary: { done: number; failed: number; skipped: number; bytes: number; elapsed_ms: number };
      files: { remote_key: string; outcome: string; s4_key: string }[];
    };
    expect(report.summary).toMatchObject({ done: 2, failed: 0, skipped: 0, bytes: 201_000 });
    expect(report.summary.elapsed_ms).toBeGreaterThan(0);
    expect(report.files.map((f) => [f.remote_key, f.outcome, f.s4_key]).sort()).toEqual([
      ['sum/a.jpg', 'done', '/SumAgain/sum/a.jpg'],
      ['sum/b.txt', 'done', '/SumAgain/sum/b.txt'],
    ]);
  }, 60_000);
});

describe('transfer --dry-run', () => {
  it('prints the plan — to transfer, already done, in progress elsewhere, missing — and changes nothing', async () => {
    const done = await run(['transfer', '--bucket', BUCKET, '--key', 'plan/1.bin', '--target', '/Plan']);
    expect(done.code, done.stderr).toBe(0);
    // Another process moves plan/slow.bin, slowly.
    const slow = start([
      'transfer',
      '--bucket',
      BUCKET,
      '--key',
      'plan/slow.bin',
      '--target',
      '/Plan',
      '--bwlimit',
      '64K',
    ]);
    try {
      await waitFor(
        'plan/slow.bin queued by the other process',
        async () => (await files()).find((f) => f.remote_key === 'plan/slow.bin'),
        30_000,
        200,
      );
      const before = await files();
      const r = await run([
        'transfer',
        '--bucket',
        BUCKET,
        '--prefix',
        'plan/',
        '--target',
        '/Plan',
        '--dry-run',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const plan = JSON.parse(r.stdout) as TransferPlan;
      expect(plan.dry_run).toBe(true);
      expect(plan.selected).toEqual({ files: 4, bytes: 6000 + 3 * MiB });
      expect(plan.to_transfer).toEqual({ files: 2, bytes: 5000 });
      expect(plan.already_done).toEqual({ files: 1, bytes: 1000 });
      expect(plan.in_progress.files).toBe(1);
      expect(plan.in_progress.batches).toEqual([expect.stringMatching(/^batch_/)]);
      expect(plan.missing.files).toBe(0);
      expect(plan.files.find((f) => f.remote_key === 'plan/2.bin')).toMatchObject({
        plan: 'transfer',
        s4_key: '/Plan/plan/2.bin',
      });

      const text = await run([
        'transfer',
        '--bucket',
        BUCKET,
        '--prefix',
        'plan/',
        '--target',
        '/Plan',
        '--dry-run',
      ]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^to transfer\s+2 files\s+4\.9 KiB$/m);
      expect(text.stdout).toMatch(/^already done \(skipped\)\s+1 file\s+1000 B$/m);
      expect(text.stdout).toMatch(/^in progress elsewhere\s+1 file\s+3\.0 MiB$/m);

      const keys = await run([
        'transfer',
        '--bucket',
        BUCKET,
        '--key',
        'plan/2.bin',
        '--key',
        'plan/none.bin',
        '--target',
        '/Plan',
        '--dry-run',
      ]);
      expect(keys.code, keys.stderr).toBe(0);
      expect(keys.stdout).toMatch(/^missing\s+1 file/m);
      expect(keys.stdout).toMatch(/missing +plan\/none\.bin — object not found/);
      // Nothing changed: no document was written (plan/2.bin, plan/3.bin have none), none moved.
      const shape = (list: typeof before) => list.map((f) => `${f.remote_key} ${f.s4_key}`).sort();
      expect(shape(await files())).toEqual(shape(before));
      expect(before.some((f) => f.remote_key === 'plan/2.bin')).toBe(false);
      slow.child.kill('SIGINT');
      expect((await slow.done).code).toBe(130);
    } finally {
      slow.child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('filters of a prefix selection', () => {
  it('--include, --exclude and --min-size choose the objects', async () => {
    const r = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'flt/',
      '--include',
      '*.jpg',
      '--exclude',
      'flt/skip/**',
      '--min-size',
      '1K',
      '--target',
      '/Flt',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.files.map((f) => f.remote_key)).toEqual(['flt/a.jpg']);
  }, 60_000);

  it('filters apply when a prefix is split into batches of the cap, and to the dry run', async () => {
    const r = await run(
      [
        'transfer',
        '--bucket',
        BUCKET,
        '--prefix',
        'flt/',
        '--include',
        '*.jpg',
        '--exclude',
        'flt/skip/**',
        '--target',
        '/Flt2',
        '--json',
      ],
      { MEGAFERRY_MAX_FILES: '1' },
    );
    expect(r.code, r.stderr).toBe(0);
    const statuses = JSON.parse(r.stdout) as BatchStatus[];
    expect(statuses.flatMap((s) => s.files.map((f) => f.remote_key)).sort()).toEqual([
      'flt/a.jpg',
      'flt/b.jpg',
    ]);

    const plan = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--prefix',
      'flt/',
      '--max-size',
      '2K',
      '--newer-than',
      '1d',
      '--target',
      '/Flt3',
      '--dry-run',
      '--json',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as TransferPlan;
    expect(p.files.map((f) => f.remote_key).sort()).toEqual(['flt/a.jpg', 'flt/b.jpg']);
    expect(p.filtered_out).toEqual({ files: 2, bytes: 6000 });
  }, 60_000);

  it('refuses bad filters, and filters with keys, with one clear line (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['--prefix', 'flt/', '--min-size', 'huge'], /--min-size must be a size/],
      [['--prefix', 'flt/', '--newer-than', 'yesterday'], /--newer-than must be a date/],
      [['--key', 'flt/a.jpg', '--include', '*.jpg'], /filter a prefix/],
      [['--prefix', 'flt/', '--newer-than', '2999-01-01'], /no objects found .* that match the filters/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['transfer', '--bucket', BUCKET, '--target', '/Bad', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);
});

describe('--bwlimit and MEGAFERRY_BWLIMIT', () => {
  it('a limit slows the transfer to its rate; --bwlimit wins over the environment; a bad one exits 2', async () => {
    const bad = await run(['transfer', '--bucket', BUCKET, '--key', 'bw/three.bin'], {
      MEGAFERRY_BWLIMIT: 'fast',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/MEGAFERRY_BWLIMIT: bandwidth limit "fast" must be/);
    const badFlag = await run([
      'transfer',
      '--bucket',
      BUCKET,
      '--key',
      'bw/three.bin',
      '--bwlimit',
      '08:00',
    ]);
    expect(badFlag.code).toBe(2);

    const limited = await run(['transfer', '--bucket', BUCKET, '--key', 'bw/three.bin', '--target', '/Bw1'], {
      MEGAFERRY_BWLIMIT: '1M',
    });
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.ms).toBeGreaterThan(2700); // 3 MiB at 1 MiB/s
    const free = await run(
      ['transfer', '--bucket', BUCKET, '--key', 'bw/three.bin', '--target', '/Bw2', '--bwlimit', 'off'],
      { MEGAFERRY_BWLIMIT: '1M' },
    );
    expect(free.code, free.stderr).toBe(0);
    expect(free.ms).toBeLessThan(limited.ms - 1000);
  }, 60_000);
});
