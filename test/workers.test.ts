/**
 * Workers: one job spread over several processes on one MongoDB (jongodb here, MONGODB_URI where a
 * real server is at hand), as SPEC.md "Processes and the store" says — the built bin as real OS
 * processes, the real peers. Every transfer is done exactly once and its bytes verified in MEGA; a
 * killed worker's files finish elsewhere from their checkpoints; SIGTERM gives them back at once;
 * a cancel reaches every worker within 2 s; two workers never make one new folder twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { startS3Peer, type S3Peer } from './peers/s3';
import { countFolders, downloadSha256, listPath, startMegaPeer, type MegaPeer } from './peers/mega';
import { startMongo, withDatabase, type MongoPeer } from './peers/mongo';
import { ferryEnv } from './peers/env';
import { apiCall, cli, serveProcess, start, type Proc } from './peers/cli-process';
import { KiB, MiB, sha256, testBytes, waitFor } from './peers/fixtures';
import type { BatchStatus } from '../src/shared/contract';
import type { WorkerStatus } from '../src/shared/api';

const BUCKET = 'workers-bucket';
const TOKEN = 'workers-test-token-0123456789';
const LEASE_MS = 5000;

let s3: S3Peer;
let mega: MegaPeer;
let mongo: MongoPeer;
let client: MongoClient;
let db: Db;
let work: string;
const shas = new Map<string, string>();
const sizes = new Map<string, number>();
const running: Proc[] = [];

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo }, join(work, 'data')),
    MEGAFERRY_LEASE_MS: String(LEASE_MS),
    ...extra,
  };
}

function worker(name: string, concurrency = 2, extra: Record<string, string> = {}): Proc {
  const proc = start(['worker', '--name', name, '--concurrency', String(concurrency)], env(extra));
  running.push(proc);
  return proc;
}

async function workerReady(proc: Proc): Promise<void> {
  await waitFor(
    'the worker to start',
    () => {
      const { stdout, stderr } = proc.out();
      if (proc.child.exitCode !== null) throw new Error(`the worker ended: ${stdout}${stderr}`);
      return /working the queue/.test(stdout);
    },
    30_000,
  );
}

async function stopAll(): Promise<void> {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await p.done;
  }
}

/** The keys a worker says it finished as done (its lines on stderr). */
function doneBy(proc: Proc): string[] {
  return [...proc.out().stderr.matchAll(/^done (\S+)$/gm)].map((m) => m[1] as string);
}

async function put(key: string, size: number, seed: number) {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  shas.set(key, sha256(data));
  sizes.set(key, size);
}

/** Every file of the batch is done, in MEGA once, with the source's bytes. */
async function expectOnceInMega(status: BatchStatus): Promise<void> {
  for (const f of status.files) {
    expect(f.status, f.remote_key).toBe('done');
    expect(await listPath(mega, f.s4_key), `copies of ${f.s4_key}`).toHaveLength(1);
    expect((await downloadSha256(mega, f.s4_key)).sha256, f.s4_key).toBe(shas.get(f.remote_key));
  }
}

interface StoredFile {
  remote_key: string;
  status: string;
  lease_owner?: string | null;
  transferred_bytes?: number;
  upload_session?: { next_offset: number } | null;
}

const filesOf = (batchId: string) => db.collection<StoredFile>('files').find({ batch_id: batchId }).toArray();

/** Starts a batch for the workers and returns its id (`transfer --no-wait --json`). */
async function queueBatch(prefix: string, target: string, extra: string[] = []): Promise<string> {
  const r = await cli(
    ['transfer', '--bucket', BUCKET, '--prefix', prefix, '--target', target, '--no-wait', '--json', ...extra],
    env(),
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as BatchStatus).batch_id;
}

async function statusOf(batchId: string): Promise<BatchStatus> {
  const r = await cli(['status', batchId, '--json'], env());
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BatchStatus;
}

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  client = new MongoClient(mongo.uri);
  await client.connect();
  db = client.db(mongo.dbName);
  work = await mkdtemp(join(tmpdir(), 'megaferry-workers-'));
  const mixed = [1, 40 * KiB, 300 * KiB, 1 * MiB + 7, 2 * MiB + 3];
  for (let i = 0; i < 24; i++) await put(`spread/${i}.bin`, mixed[i % mixed.length]! + i, 100 + i);
  for (let i = 0; i < 3; i++) await put(`kill/${i}.bin`, 10 * MiB + i, 200 + i);
  for (let i = 0; i < 2; i++) await put(`term/${i}.bin`, 10 * MiB + i, 300 + i);
  for (let i = 0; i < 6; i++) await put(`stop/${i}.bin`, 8 * MiB + i, 400 + i);
  for (let i = 0; i < 8; i++) await put(`tree/p/q/r/${i}.bin`, 32 * KiB + i, 500 + i);
  for (let i = 0; i < 3; i++) await put(`rest/${i}.bin`, 64 * KiB + i, 600 + i);
}, 180_000);

afterAll(async () => {
  await stopAll();
  await client?.close();
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('megaferry worker', () => {
  it('refuses without MONGODB_URI, and refuses a store a newer MegaFerry wrote (exit 2, one line)', async () => {
    const { MONGODB_URI: _dropped, ...embedded } = env();
    const none = await cli(['worker'], embedded);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/MONGODB_URI/);
    // Handing a batch to the workers needs their store too: refused before anything is written.
    const queued = await cli(['transfer', '--bucket', BUCKET, '--prefix', 'rest/', '--queue'], embedded);
    expect(queued.code).toBe(2);
    expect(queued.stderr).toMatch(/run: "queue" hands the batch to workers.*MONGODB_URI/);

    const newerDb = `${mongo.dbName}_newer`;
    await client
      .db(newerDb)
      .collection<{ _id: string; version: number }>('meta')
      .insertOne({ _id: 'schema', version: 99 });
    const newer = await cli(['worker'], env({ MONGODB_URI: withDatabase(mongo.uri, newerDb) }));
    expect(newer.code).toBe(2);
    expect(newer.stderr.trim().split('\n')).toHaveLength(1);
    expect(newer.stderr).toMatch(/newer MegaFerry \(schema 99/);
  }, 60_000);

  it('three workers and a `transfer --queue`: every transfer done exactly once, bytes verified, spread over the workers', async () => {
    const names = ['w1', 'w2', 'w3'];
    const workers = names.map((n) => worker(n));
    await Promise.all(workers.map(workerReady));
    const host = await serveProcess(env(), TOKEN);
    try {
      const seen = await waitFor(
        'three workers online or idle',
        async () => {
          const r = await apiCall<{ workers: WorkerStatus[] }>(host.url, TOKEN, 'GET', '/api/workers');
          const live = r.body.workers.filter((w) => w.kind === 'worker' && w.state !== 'gone');
          return live.length === 3 ? r.body.workers : null;
        },
        15_000,
      );
      expect(seen.find((w) => w.kind === 'serve')?.this_process).toBe(true);

      const t = start(
        ['transfer', '--bucket', BUCKET, '--prefix', 'spread/', '--target', '/Spread', '--queue', '--json'],
        env(),
      );
      // The host (which works every batch that is not handed to the workers) shows a worker moving one.
      const row = await waitFor(
        'a file row naming its worker',
        async () => {
          const list = await apiCall<BatchStatus[]>(host.url, TOKEN, 'GET', '/api/batches');
          const b = list.body.find((x) => x.run === 'queue');
          return b?.files.find((f) => f.status === 'processing' && f.worker)?.worker;
        },
        30_000,
        100,
      );
      expect(names).toContain(row);

      const r = await t.done;
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout) as BatchStatus;
      expect(status.total_files).toBe(24);
      expect(status.completed).toBe(24);
      await expectOnceInMega(status);

      const by = workers.map(doneBy);
      const all = by.flat().sort();
      expect(all).toEqual(status.files.map((f) => f.remote_key).sort()); // each exactly once
      expect(
        by.filter((list) => list.length > 0).length,
        `spread: ${by.map((l) => l.length)}`,
      ).toBeGreaterThan(1);
    } finally {
      host.proc.child.kill('SIGTERM');
      await host.proc.done;
      await stopAll();
    }
  }, 240_000);

  it('a worker SIGKILLed mid-file: its files finish on another after the lease, from their checkpoints', async () => {
    const baseline = mega.uploadedBytes();
    // A slow link, one connection per file: each file takes seconds, checkpointed once a second.
    mega.setChunkDelay(400);
    const a = worker('killed', 3, { MEGAFERRY_CONNECTIONS_PER_FILE: '1' });
    await workerReady(a);
    const batchId = await queueBatch('kill/', '/Kill');
    // Each file has a checkpoint in the store before the kill.
    await waitFor(
      'checkpoints of the files the worker moves',
      async () => {
        const docs = await filesOf(batchId);
        return docs.filter((d) => (d.upload_session?.next_offset ?? 0) >= 2 * MiB).length === 3;
      },
      60_000,
      100,
    );
    a.child.kill('SIGKILL');
    await a.done;
    const killedAt = Date.now();
    const sentBefore = mega.uploadedBytes() - baseline;
    const checkpointed = (await filesOf(batchId)).reduce(
      (n, d) => n + (d.upload_session?.next_offset ?? 0),
      0,
    );
    mega.setChunkDelay(0);

    const b = worker('takes-over', 3);
    await workerReady(b);
    const r = await cli(
      ['transfer', '--bucket', BUCKET, '--prefix', 'kill/', '--target', '/Kill', '--json'],
      env(),
    );
    // A second start of the same files waits for them (they are in progress in the first batch).
    expect(r.code, r.stderr).toBe(0);
    const status = await statusOf(batchId);
    await expectOnceInMega(status);
    expect(doneBy(b).sort()).toEqual(['kill/0.bin', 'kill/1.bin', 'kill/2.bin']);
    const finished = Date.now();
    expect(finished - killedAt).toBeGreaterThanOrEqual(LEASE_MS - 1000);

    // Bytes sent again: what B sent beyond what the files lacked at their checkpoints.
    const total = [0, 1, 2].reduce((n, i) => n + (sizes.get(`kill/${i}.bin`) ?? 0), 0);
    const sentAfter = mega.uploadedBytes() - baseline - sentBefore;
    const resent = sentBefore - checkpointed + (sentAfter - (total - checkpointed));
    console.log(
      `kill: ${(total / MiB).toFixed(1)} MiB in 3 files; checkpointed at the kill ${(checkpointed / MiB).toFixed(1)} MiB; ` +
        `B sent ${(sentAfter / MiB).toFixed(1)} MiB; bytes sent again ${(resent / MiB).toFixed(1)} MiB`,
    );
    // Resumed, not restarted: B sent what the checkpoints lacked (and no file over from zero).
    expect(sentAfter).toBeLessThan(total - checkpointed + 3 * MiB);
    await stopAll();
  }, 180_000);

  it('SIGTERM gives the transfers back at once (pending, checkpoints kept) and exits 0', async () => {
    mega.setChunkDelay(400);
    const a = worker('terminated', 2, { MEGAFERRY_CONNECTIONS_PER_FILE: '1' });
    await workerReady(a);
    const batchId = await queueBatch('term/', '/Term');
    await waitFor(
      'both files moving with a checkpoint',
      async () =>
        (await filesOf(batchId)).filter(
          (d) => d.status === 'processing' && (d.upload_session?.next_offset ?? 0) > 0,
        ).length === 2,
      60_000,
      100,
    );
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    const run = await a.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout, run.stdout + run.stderr).toMatch(/giving back 2 transfers/);
    const docs = await filesOf(batchId);
    expect(docs.map((d) => d.status)).toEqual(['pending', 'pending']);
    expect(docs.every((d) => !d.lease_owner && (d.upload_session?.next_offset ?? 0) > 0)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(LEASE_MS);
    mega.setChunkDelay(0);

    const b = worker('continues', 2);
    await workerReady(b);
    await waitFor(
      'the batch to end',
      async () => (await statusOf(batchId)).overall_status !== 'in_progress',
      60_000,
      250,
    );
    await expectOnceInMega(await statusOf(batchId));
    await stopAll();
  }, 180_000);

  it('a cancel from the CLI reaches the files on every worker within 2 s', async () => {
    mega.setChunkDelay(400);
    const workers = ['c1', 'c2', 'c3'].map((n) => worker(n, 2, { MEGAFERRY_CONNECTIONS_PER_FILE: '1' }));
    await Promise.all(workers.map(workerReady));
    const batchId = await queueBatch('stop/', '/Stop');
    const holders = await waitFor(
      'files moving on the three workers',
      async () => {
        const docs = await filesOf(batchId);
        const owners = new Set(docs.filter((d) => d.status === 'processing').map((d) => d.lease_owner));
        return owners.size === 3 ? owners : null;
      },
      60_000,
      100,
    );
    expect(holders.size).toBe(3);
    const cancel = start(['cancel', batchId], env());
    // From the moment the cancel is in the store to the moment nothing of the batch moves.
    await waitFor(
      'the cancel in the store',
      async () => (await db.collection('batches').findOne({ batch_id: batchId }))?.stop_request === 'cancel',
      30_000,
      20,
    );
    const asked = Date.now();
    await waitFor(
      'no file of the batch moving',
      async () => !(await filesOf(batchId)).some((d) => d.status === 'processing'),
      10_000,
      20,
    );
    const took = Date.now() - asked;
    console.log(`cancel reached 3 workers in ${took} ms`);
    expect(took).toBeLessThanOrEqual(2000);
    const r = await cancel.done;
    expect(r.code, r.stderr).toBe(0);
    const docs = await filesOf(batchId);
    expect(docs.map((d) => d.status)).toEqual(docs.map(() => 'cancelled'));
    mega.setChunkDelay(0);
    await stopAll();
  }, 180_000);

  it('two workers making the same new folder tree at once: one folder per path in MEGA', async () => {
    // Each file (one chunk) takes longer than a worker's look at the queue (1 s): a worker holds
    // at most 4 at once, so the other one, idle, takes the rest whatever the machine's load.
    mega.setChunkDelay(1500);
    const workers = [worker('f1', 4), worker('f2', 4)];
    try {
      await Promise.all(workers.map(workerReady));
      const batchId = await queueBatch('tree/', '/Tree');
      await waitFor(
        'the batch to end',
        async () => (await statusOf(batchId)).overall_status !== 'in_progress',
        90_000,
        250,
      );
      mega.setChunkDelay(0);
      const status = await statusOf(batchId);
      await expectOnceInMega(status);
      expect(
        workers.every((w) => doneBy(w).length > 0),
        workers.map((w) => doneBy(w).length).join('/'),
      ).toBe(true);
      for (const [parent, name] of [
        ['/', 'Tree'],
        ['/Tree', 'tree'],
        ['/Tree/tree', 'p'],
        ['/Tree/tree/p', 'q'],
        ['/Tree/tree/p/q', 'r'],
      ] as const) {
        expect(await countFolders(mega, parent, name), `${parent}/${name}`).toBe(1);
      }
    } finally {
      // A failed check must not leave workers running into the next test.
      mega.setChunkDelay(0);
      await stopAll();
    }
  }, 150_000);

  it('REST `"run": "queue"` hands a batch to the workers; the host itself moves none of it', async () => {
    const host = await serveProcess(env(), TOKEN);
    try {
      const bad = await apiCall<{ error: string }>(host.url, TOKEN, 'POST', '/api/batches', {
        bucket: BUCKET,
        prefix: 'rest/',
        run: 'later',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/run must be one of here, queue/);

      const started = await apiCall<{ batch_id: string }>(host.url, TOKEN, 'POST', '/api/batches', {
        bucket: BUCKET,
        prefix: 'rest/',
        target: '/Rest',
        run: 'queue',
      });
      expect(started.status).toBe(202);
      // No worker yet: the host leaves the files waiting.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await filesOf(started.body.batch_id)).map((d) => d.status)).toEqual([
        'pending',
        'pending',
        'pending',
      ]);
      const w = worker('rest-worker', 2);
      await workerReady(w);
      const status = await waitFor(
        'the batch to end',
        async () => {
          const r = await apiCall<BatchStatus>(
            host.url,
            TOKEN,
            'GET',
            `/api/batches/${started.body.batch_id}`,
          );
          return r.body.overall_status === 'completed' ? r.body : null;
        },
        60_000,
        250,
      );
      expect(status.run).toBe('queue');
      await expectOnceInMega(status);
      expect(doneBy(w).sort()).toEqual(['rest/0.bin', 'rest/1.bin', 'rest/2.bin']);

      // Stopped workers are shown gone.
      await stopAll();
      const list = await apiCall<{ workers: WorkerStatus[] }>(host.url, TOKEN, 'GET', '/api/workers');
      expect(list.body.workers.find((x) => x.name === 'rest-worker')?.state).toBe('gone');
    } finally {
      host.proc.child.kill('SIGTERM');
      await host.proc.done;
    }
  }, 120_000);
});
