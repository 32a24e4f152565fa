/**
 * Control of the queue (issue 12: pause, order, quota), as users drive it — the built bin and the
 * headless host as real processes, the real peers: pause one file and resume it from its
 * checkpoint (CLI), pause and resume everything (REST), a batch moved to the front of the queue,
 * small files first, and MEGA over its quota holding the queue instead of failing files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { downloadSha256, listPath, startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { apiCall, cli, serveProcess, start, type Proc } from './peers/cli-process';
import { KiB, MiB, sha256, testBytes, waitFor } from './peers/fixtures';
import type { BatchStatus, BatchStarted } from '../src/shared/contract';
import type { Overview, WorkerStatus } from '../src/shared/api';

const BUCKET = 'queue-control-bucket';
const TOKEN = 'queue-control-token-0123456789';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
const shas = new Map<string, string>();

function env(name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega }, join(work, name)),
    MEGAFERRY_CONNECTIONS_PER_FILE: '1',
    ...extra,
  };
}

async function put(key: string, size: number, seed: number) {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  shas.set(key, sha256(data));
}

async function statusOf(e: NodeJS.ProcessEnv, batchId: string): Promise<BatchStatus> {
  const r = await cli(['status', batchId, '--json'], e);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BatchStatus;
}

async function expectOnceInMega(status: BatchStatus): Promise<void> {
  for (const f of status.files) {
    expect(f.status, f.remote_key).toBe('done');
    expect(await listPath(mega, f.s4_key), `copies of ${f.s4_key}`).toHaveLength(1);
    expect((await downloadSha256(mega, f.s4_key)).sha256, f.s4_key).toBe(shas.get(f.remote_key));
  }
}

function batchIdOf(proc: Proc): string | undefined {
  return /(batch_[a-z0-9]+): batch started/.exec(proc.out().stderr)?.[1];
}

/** The order in which the batch's files ended (their status time). */
async function endOrder(e: NodeJS.ProcessEnv, prefix: string): Promise<string[]> {
  const r = await cli(['files', '--q', prefix, '--json', '--limit', '100'], e);
  expect(r.code, r.stderr).toBe(0);
  const files = (JSON.parse(r.stdout) as { files: { remote_key: string; status_updated_at: string }[] })
    .files;
  return files
    .sort((a, b) => a.status_updated_at.localeCompare(b.status_updated_at))
    .map((f) => f.remote_key);
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-queue-control-'));
  for (let i = 0; i < 3; i++) await put(`one/${i}.bin`, 4 * MiB + i, 10 + i);
  for (let i = 0; i < 3; i++) await put(`all-a/${i}.bin`, 3 * MiB + i, 20 + i);
  for (let i = 0; i < 2; i++) await put(`all-b/${i}.bin`, 3 * MiB + i, 30 + i);
  for (let i = 0; i < 4; i++) await put(`queue-a/${i}.bin`, 256 * KiB + i, 40 + i);
  for (let i = 0; i < 2; i++) await put(`queue-b/${i}.bin`, 256 * KiB + i, 50 + i);
  const sizes = [3 * MiB, 1 * KiB, 700 * KiB, 40 * KiB];
  for (const [i, size] of sizes.entries()) await put(`small/${i}.bin`, size, 60 + i);
  for (let i = 0; i < 2; i++) await put(`quota/${i}.bin`, 200 * KiB + i, 70 + i);
}, 120_000);

afterAll(async () => {
  mega?.setCommandAnswer('u', null);
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('control of transfers', () => {
  it('`pause ID --file CODE` holds one file (paused, checkpoint kept) while the others finish; `resume --file` continues it', async () => {
    const e = env('one');
    // Seconds a file: still moving when the CLI's pause lands, even on a busy machine.
    mega.setChunkDelay(800);
    const transfer = start(['transfer', '--bucket', BUCKET, '--prefix', 'one/', '--target', '/One'], e);
    const batchId = await waitFor('the batch id', () => batchIdOf(transfer), 60_000);
    await waitFor(
      'the file moving',
      async () =>
        (await statusOf(e, batchId)).files.find((f) => f.code === 'one/1.bin' && f.transferred_bytes > 0),
      60_000,
      200,
    );
    const paused = await cli(['pause', batchId, '--file', 'one/1.bin', '--json'], e);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ status: 'paused', changed: 1 });
    // The holder sees it at its next lease renewal (about a second); the link stays slow until then.
    await waitFor(
      'the file paused',
      async () => (await statusOf(e, batchId)).files.find((f) => f.code === 'one/1.bin')?.status === 'paused',
      20_000,
      100,
    );
    mega.setChunkDelay(0);
    // The others finish; the paused one waits, and the batch stays in progress for it.
    const held = await waitFor(
      'the other files done',
      async () => {
        const s = await statusOf(e, batchId);
        return s.completed === 2 ? s : undefined;
      },
      60_000,
      200,
    );
    expect(held.overall_status).toBe('in_progress');
    expect(held.files.find((f) => f.code === 'one/1.bin')?.status).toBe('paused');
    const kept = held.files.find((f) => f.code === 'one/1.bin')?.transferred_bytes ?? 0;
    expect(kept).toBeGreaterThan(0);
    // Unknown codes are refused, naming them.
    const wrong = await cli(['pause', batchId, '--file', 'nope.bin'], e);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/no file with code "nope\.bin"/);

    const sentBefore = mega.uploadedBytes();
    const resumed = await cli(['resume', batchId, '--file', 'one/1.bin', '--json'], e);
    expect(resumed.code, resumed.stderr).toBe(0);
    const run = await transfer.done;
    expect(run.code, run.stderr).toBe(0);
    const end = await statusOf(e, batchId);
    expect(end.overall_status).toBe('completed');
    await expectOnceInMega(end);
    // From its checkpoint: not the whole file again.
    expect(mega.uploadedBytes() - sentBefore).toBeLessThan(4 * MiB);
  }, 180_000);

  it('`pause --all` holds every running batch, and REST resume-all continues them', async () => {
    const e = env('all');
    const host = await serveProcess(e, TOKEN);
    try {
      // Each chunk held 2.5 s: every file (7 chunks, 4 in flight) outlasts the `status` and `pause`
      // processes below even on a loaded machine, so both batches are still running when paused.
      mega.setChunkDelay(2500);
      const ids: string[] = [];
      for (const prefix of ['all-a/', 'all-b/']) {
        const r = await apiCall<BatchStarted>(host.url, TOKEN, 'POST', '/api/batches', {
          bucket: BUCKET,
          prefix,
          target: '/All',
        });
        expect(r.status).toBe(202);
        ids.push(r.body.batch_id);
      }
      await waitFor(
        'files moving',
        async () => {
          const list = await apiCall<BatchStatus[]>(host.url, TOKEN, 'GET', '/api/batches');
          return list.body.some((b) => b.transferring > 0);
        },
        60_000,
        200,
      );
      // One figure over both running batches, in REST and at the top of `status`.
      const overview = await apiCall<Overview>(host.url, TOKEN, 'GET', '/api/overview');
      expect(overview.status).toBe(200);
      expect(overview.body).toMatchObject({ running_batches: 2, files: 5 });
      expect(overview.body.transferring).toBeGreaterThan(0);
      expect(overview.body.percent).toBeLessThan(100);
      const listed = await cli(['status'], e);
      expect(listed.stdout).toMatch(/^running: 2 batches — \d+\/5 done, \d+ transferring/m);
      // The CLI pauses everything the host moves (REST resumes it below; the UI test clicks both).
      const paused = await cli(['pause', '--all', '--json'], e);
      expect(paused.code, paused.stderr).toBe(0);
      expect(JSON.parse(paused.stdout)).toMatchObject({ status: 'paused', batches: 2 });
      const still = await waitFor(
        'nothing moving',
        async () => {
          const list = await apiCall<BatchStatus[]>(host.url, TOKEN, 'GET', '/api/batches');
          const mine = list.body.filter((b) => ids.includes(b.batch_id));
          const files = mine.flatMap((b) => b.files);
          return files.every((f) => f.status === 'paused' || f.status === 'done') ? mine : undefined;
        },
        20_000,
        200,
      );
      expect(still.every((b) => b.overall_status === 'in_progress')).toBe(true);
      expect(still.flatMap((b) => b.files).filter((f) => f.status === 'paused').length).toBeGreaterThan(0);
      mega.setChunkDelay(0);
      const resumed = await apiCall<{ status: string }>(host.url, TOKEN, 'POST', '/api/resume-all');
      expect(resumed.body.status).toBe('resumed');
      for (const id of ids) {
        const done = await waitFor(
          'the batch to complete',
          async () => {
            const r = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${id}`);
            return r.body.overall_status === 'completed' ? r.body : undefined;
          },
          60_000,
          250,
        );
        await expectOnceInMega(done);
      }
    } finally {
      mega.setChunkDelay(0);
      host.proc.child.kill('SIGTERM');
      await host.proc.done;
    }
  }, 180_000);

  it('a batch moved to the front is moved next; `--small-first` queues the smallest files first', async () => {
    // One transfer at a time in this process: the queue's order is the order files move in.
    const e = env('order', { MEGAFERRY_MAX_ACTIVE: '1' });
    const host = await serveProcess(e, TOKEN);
    try {
      // Slow enough that the first file of A still moves when the CLI's `front` lands.
      mega.setChunkDelay(2500);
      const started: string[] = [];
      for (const prefix of ['queue-a/', 'queue-b/']) {
        const r = await apiCall<BatchStarted>(host.url, TOKEN, 'POST', '/api/batches', {
          bucket: BUCKET,
          prefix,
          target: '/Order',
          max_concurrent: 1,
        });
        started.push(r.body.batch_id);
      }
      // From the CLI, to the batches the host moves (the UI test uses the REST route).
      const front = await cli(['front', started[1] ?? '', '--json'], e);
      expect(front.code, front.stderr).toBe(0);
      expect(JSON.parse(front.stdout)).toMatchObject({ status: 'moved', moved: 2 });
      mega.setChunkDelay(0);
      for (const id of started) {
        await waitFor(
          'the batch to complete',
          async () =>
            (await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${id}`)).body.overall_status ===
            'completed',
          60_000,
          250,
        );
      }
      const order = await endOrder(e, 'queue-');
      // The first of A was already moving; B's two come right after it, then the rest of A.
      expect(order.slice(1, 3).sort()).toEqual(['queue-b/0.bin', 'queue-b/1.bin']);
    } finally {
      mega.setChunkDelay(0);
      host.proc.child.kill('SIGTERM');
      await host.proc.done;
    }

    const r = await cli(
      [
        'transfer',
        '--bucket',
        BUCKET,
        '--prefix',
        'small/',
        '--target',
        '/Small',
        '--concurrency',
        '1',
        '--small-first',
        '--json',
      ],
      e,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await endOrder(e, 'small/')).toEqual(['small/1.bin', 'small/3.bin', 'small/2.bin', 'small/0.bin']);
  }, 180_000);

  it('MEGA over its quota (−17): the queue waits with the reason and the next try, files do not fail, and go on when MEGA takes data again', async () => {
    const e = env('quota', { MEGAFERRY_QUOTA_RETRY_MS: '1500' });
    mega.setCommandAnswer('u', -17);
    const host = await serveProcess(e, TOKEN);
    try {
      const r = await apiCall<BatchStarted>(host.url, TOKEN, 'POST', '/api/batches', {
        bucket: BUCKET,
        prefix: 'quota/',
        target: '/Quota',
      });
      const held = await waitFor(
        'the hold in the heartbeat',
        async () => {
          const w = await apiCall<{ workers: WorkerStatus[] }>(host.url, TOKEN, 'GET', '/api/workers');
          return w.body.workers.find((x) => x.this_process)?.holds[0];
        },
        30_000,
        200,
      );
      expect(held.reason).toMatch(/-17|quota/i);
      expect(Date.parse(held.retry_at)).toBeGreaterThan(Date.now() - 2000);
      // Refused again at the next try: still waiting, nothing failed, no failure counted.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const waiting = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${r.body.batch_id}`);
      expect(waiting.body.overall_status).toBe('in_progress');
      expect(waiting.body.failed).toBe(0);
      expect(waiting.body.files.every((f) => f.retry_count === 0)).toBe(true);

      mega.setCommandAnswer('u', null);
      const done = await waitFor(
        'the batch to complete',
        async () => {
          const s = await apiCall<BatchStatus>(host.url, TOKEN, 'GET', `/api/batches/${r.body.batch_id}`);
          return s.body.overall_status === 'completed' ? s.body : undefined;
        },
        60_000,
        250,
      );
      await expectOnceInMega(done);
      const after = await apiCall<{ workers: WorkerStatus[] }>(host.url, TOKEN, 'GET', '/api/workers');
      await waitFor(
        'the hold gone',
        async () =>
          (
            await apiCall<{ workers: WorkerStatus[] }>(host.url, TOKEN, 'GET', '/api/workers')
          ).body.workers.find((x) => x.this_process)?.holds.length === 0,
        10_000,
        200,
      );
      expect(after.status).toBe(200);
    } finally {
      mega.setCommandAnswer('u', null);
      host.proc.child.kill('SIGTERM');
      await host.proc.done;
    }

    // The CLI says it too, as a line, and waits rather than failing.
    mega.setCommandAnswer('u', -17);
    const t = start(['transfer', '--bucket', BUCKET, '--key', 'quota/0.bin', '--target', '/Quota2'], e);
    await waitFor('the hold line', () => /refused more data .*next try at/.test(t.out().stderr), 30_000);
    mega.setCommandAnswer('u', null);
    const run = await t.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/takes data again/);
  }, 180_000);
});
