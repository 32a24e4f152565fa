/**
 * Several MegaFerry processes on one store, as users run them (the built bin, real OS processes,
 * real peers): two `transfer`s at once, a `transfer` while `serve` runs, a process killed while
 * another works the same batch, and pause, resume and cancel asked by another process. The store
 * is the one truth: each file is moved once, lands once in MEGA with its bytes, and no batch's
 * history is rewritten by another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { countFolders, downloadSha256, listPath, startMegaPeer, type MegaPeer } from './peers/mega';
import { startMongo, type MongoPeer } from './peers/mongo';
import { ferryEnv } from './peers/env';
import { apiCall, cli, serveProcess, start, type Proc } from './peers/cli-process';
import { MiB, sha256, testBytes, waitFor } from './peers/fixtures';
import type { BatchStatus } from '../src/shared/contract';

const BUCKET = 'proc-bucket';
const TOKEN = 'processes-test-token-0123456789';

let s3: S3Peer;
let mega: MegaPeer;
let mongo: MongoPeer;
let work: string;
const shas = new Map<string, string>();

type StoreKind = 'embedded' | 'mongodb';

function env(dataDir: string, store: StoreKind, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo: store === 'mongodb' ? mongo : null }, dataDir),
    // Leases short enough that a lost holder on another machine would be seen in the test's time.
    MEGAFERRY_LEASE_MS: '5000',
    ...extra,
  };
}

/** The batch id a `transfer` printed on stderr as it started. */
function batchIdOf(proc: Proc): string | undefined {
  return /(batch_[a-z0-9]+): batch started/.exec(proc.out().stderr)?.[1];
}

async function statusVia(e: NodeJS.ProcessEnv, batchId: string): Promise<BatchStatus> {
  const r = await cli(['status', batchId, '--json'], e);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BatchStatus;
}

async function put(key: string, size: number, seed: number) {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  shas.set(key, sha256(data));
}

/** Every file of the batch is in MEGA once, with the source's bytes. */
async function expectOnceInMega(status: BatchStatus): Promise<void> {
  for (const f of status.files) {
    expect(await listPath(mega, f.s4_key), `copies of ${f.s4_key}`).toHaveLength(1);
    expect((await downloadSha256(mega, f.s4_key)).sha256, f.s4_key).toBe(shas.get(f.remote_key));
  }
}

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-procs-'));
  for (let i = 0; i < 6; i++) await put(`two/${i}.bin`, 256 * 1024 + i, 1 + i);
  for (let i = 0; i < 4; i++) await put(`live/${i}.bin`, 3 * MiB + i, 10 + i);
  for (const store of ['embedded', 'mongodb']) {
    for (let i = 0; i < 6; i++) await put(`kill-${store}/${i}.bin`, 4 * MiB + i, 20 + i);
  }
  for (let i = 0; i < 4; i++) await put(`stop/${i}.bin`, 6 * MiB + i, 30 + i);
  for (let i = 0; i < 4; i++) await put(`same/${i}.bin`, 64 * 1024 + i, 40 + i);
}, 180_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('several processes on one store', () => {
  it('two `transfer`s of the same folder at once: each file moved once, both exit 0, neither history rewritten', async () => {
    const e = env(join(work, 'two'), 'embedded');
    const args = ['transfer', '--bucket', BUCKET, '--prefix', 'two/', '--target', '/Two', '--json'];
    const [a, b] = await Promise.all([cli(args, e), cli(args, e)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const sa = JSON.parse(a.stdout) as BatchStatus;
    const sb = JSON.parse(b.stdout) as BatchStatus;
    expect(sa.overall_status).toBe('completed');
    expect(sb.overall_status).toBe('completed');
    // Each file was moved by one batch; the other lists it as in progress there, or done.
    for (let i = 0; i < 6; i++) {
      const key = `two/${i}.bin`;
      const fa = sa.files.find((f) => f.remote_key === key);
      const fb = sb.files.find((f) => f.remote_key === key);
      const movers = [fa, fb].filter((f) => f && !f.in_batch);
      expect(movers.length, key).toBeGreaterThanOrEqual(1);
      const elsewhere = [fa, fb].filter((f) => f?.in_batch);
      for (const f of elsewhere) expect([sa.batch_id, sb.batch_id]).toContain(f?.in_batch);
    }
    await expectOnceInMega(sa);
    // Read again later, from the store: the same history.
    for (const s of [sa, sb]) {
      const again = await statusVia(e, s.batch_id);
      expect(again.overall_status).toBe('completed');
      expect(again.files.map((f) => [f.remote_key, f.status, f.in_batch ?? null])).toEqual(
        s.files.map((f) => [f.remote_key, f.status, f.in_batch ?? null]),
      );
    }
    const files = JSON.parse((await cli(['files', '--json', '--limit', '100'], e)).stdout) as {
      files: { remote_key: string; status: string; s4_key: string }[];
    };
    expect(files.files.map((f) => [f.remote_key, f.status]).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => [`two/${i}.bin`, 'done']),
    );
  }, 180_000);

  it('two processes that need the same new folders at the same moment make each folder once', async () => {
    const e = env(join(work, 'same'), 'embedded');
    for (const round of [1, 2, 3]) {
      const target = `/Same${round}/deep`;
      const one = (keys: string[]) =>
        cli(['transfer', '--bucket', BUCKET, ...keys.flatMap((k) => ['--key', k]), '--target', target], e);
      const [a, b] = await Promise.all([
        one(['same/0.bin', 'same/1.bin']),
        one(['same/2.bin', 'same/3.bin']),
      ]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(await countFolders(mega, '/', `Same${round}`)).toBe(1);
      expect(await countFolders(mega, `/Same${round}`, 'deep')).toBe(1);
      expect(await countFolders(mega, `/Same${round}/deep`, 'same')).toBe(1);
      for (let i = 0; i < 4; i++) {
        const path = `${target}/same/${i}.bin`;
        expect(await listPath(mega, path), path).toHaveLength(1);
        expect((await downloadSha256(mega, path)).sha256).toBe(shas.get(`same/${i}.bin`));
      }
    }
  }, 240_000);

  it('a `transfer` while `serve` runs on the same data folder: the host shows it live and keeps it after', async () => {
    const e = env(join(work, 'live'), 'embedded');
    const host = await serveProcess(e, TOKEN);
    try {
      const transfer = start(
        ['transfer', '--bucket', BUCKET, '--prefix', 'live/', '--target', '/Live', '--concurrency', '1'],
        e,
      );
      const batchId = await waitFor('the batch id', () => batchIdOf(transfer), 60_000);
      // The host sees the CLI's batch, with its progress, from the store.
      const seen = await waitFor(
        'the host to show the batch moving',
        async () => {
          const r = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${batchId}`);
          return r.status === 200 && r.body.files.some((f) => f.transferred_bytes > 0) ? r.body : undefined;
        },
        60_000,
      );
      expect(seen.total_files).toBe(4);
      const listed = await apiCall<BatchStatus[]>(host.url, TOKEN, 'GET', '/api/batches');
      expect(listed.body.map((b) => b.batch_id)).toContain(batchId);
      const run = await transfer.done;
      expect(run.code, run.stderr).toBe(0);
      const after = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${batchId}`);
      expect(after.body.overall_status).toBe('completed');
      await expectOnceInMega(after.body);
    } finally {
      host.proc.child.kill('SIGTERM');
      expect((await host.proc.done).code).toBe(0);
    }
    // The host stopped: the CLI's batch and its documents are still there.
    const later = await cli(['files', '--json', '--limit', '100'], e);
    const files = (JSON.parse(later.stdout) as { files: { remote_key: string; status: string }[] }).files;
    expect(files.filter((f) => f.remote_key.startsWith('live/')).map((f) => f.status)).toEqual([
      'done',
      'done',
      'done',
      'done',
    ]);
  }, 240_000);

  it.each(['embedded', 'mongodb'] as const)(
    'a `transfer` killed while `serve` works the same batch (%s store): the batch completes, each file once',
    async (store) => {
      const e = env(join(work, `kill-${store}`), store);
      const host = await serveProcess(e, TOKEN);
      try {
        const transfer = start(
          [
            'transfer',
            '--bucket',
            BUCKET,
            '--prefix',
            `kill-${store}/`,
            '--target',
            `/Kill-${store}`,
            '--concurrency',
            '3',
          ],
          e,
        );
        const batchId = await waitFor('the batch id', () => batchIdOf(transfer), 60_000);
        await waitFor(
          'files moving',
          async () => {
            const r = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${batchId}`);
            return r.body.transferring > 0 ? true : undefined;
          },
          60_000,
        );
        transfer.child.kill('SIGKILL');
        await transfer.done;
        // The host takes over what the dead process held (same machine: at once) and ends the batch.
        const status = await waitFor(
          'the batch to end',
          async () => {
            const r = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${batchId}`);
            return r.body.overall_status !== 'in_progress' ? r.body : undefined;
          },
          120_000,
        );
        expect(status.overall_status, JSON.stringify(status.files.filter((f) => f.status !== 'done'))).toBe(
          'completed',
        );
        expect(status.completed).toBe(6);
        await expectOnceInMega(status);
      } finally {
        host.proc.child.kill('SIGTERM');
        await host.proc.done;
      }
    },
    240_000,
  );

  it.each(['embedded', 'mongodb'] as const)(
    'pause, resume and cancel asked by another process reach the transfers the first one holds (%s store)',
    async (store) => {
      const e = env(join(work, `stop-${store}`), store);
      // A slow link: each chunk held 2 s, so each 6 MiB file (10 chunks, 4 in flight) takes 6 s or
      // more and the batch is still moving when the other processes ask, however loaded the machine.
      mega.setChunkDelay(2000);
      try {
        const transfer = start(
          [
            'transfer',
            '--bucket',
            BUCKET,
            '--prefix',
            'stop/',
            '--target',
            `/Stop-${store}`,
            '--concurrency',
            '2',
          ],
          e,
        );
        const batchId = await waitFor('the batch id', () => batchIdOf(transfer), 60_000);
        await waitFor(
          'files moving',
          async () => ((await statusVia(e, batchId)).transferring > 0 ? true : undefined),
          60_000,
        );

        const paused = await cli(['pause', batchId, '--json'], e);
        expect(paused.code, paused.stderr).toBe(0);
        const askedAt = Date.now();
        // The holder sees the pause at its next lease renewal (about a second): nothing moves any more.
        const held = await waitFor(
          'the transfers to stop',
          async () => {
            const s = await statusVia(e, batchId);
            return s.transferring === 0 ? s : undefined;
          },
          10_000,
        );
        expect(Date.now() - askedAt).toBeLessThan(5000);
        expect(held.overall_status).toBe('in_progress');
        expect(held.files.some((f) => f.status === 'paused')).toBe(true);
        expect(transfer.child.exitCode).toBeNull(); // the first process waits for its batch

        // `resume BATCH_ID` queues the paused transfers again and works the batch too.
        const resumer = start(['resume', batchId], e);
        await waitFor(
          'the transfers to move again',
          async () => ((await statusVia(e, batchId)).transferring > 0 ? true : undefined),
          30_000,
        );
        // A fourth process cancels: both processes working the batch stop, and both exit 1.
        const cancelled = await cli(['cancel', batchId, '--json'], e);
        expect(cancelled.code, cancelled.stderr).toBe(0);
        const [run, resumeRun] = await Promise.all([transfer.done, resumer.done]);
        expect(run.code, 'a cancelled batch exits 1').toBe(1);
        expect(resumeRun.code, resumeRun.stderr).toBe(1);
        const end = await statusVia(e, batchId);
        expect(end.overall_status).toBe('cancelled');
        expect(end.transferring).toBe(0);
        expect(end.pending).toBe(0);
        for (const f of end.files) {
          // Done before the cancel, or cancelled: never left processing, never two copies.
          expect(['done', 'cancelled']).toContain(f.status);
          expect((await listPath(mega, f.s4_key)).length).toBeLessThanOrEqual(1);
        }
      } finally {
        mega.setChunkDelay(0);
      }
    },
    240_000,
  );
});
