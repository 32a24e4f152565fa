/**
 * Several processes on one store, measured (issue: "the store is the truth"): N transfers queued
 * in batches of the cap, then moved by P processes at once, each a real OS process that opens the
 * store and works every running batch (as the desktop app, `serve` and `resume` do). On the
 * embedded store (SQLite in one data folder) and on MongoDB (MONGODB_URI, else jongodb).
 *
 *   npm run bench:processes [-- --files 500 --processes 3 --size 16384 --stores embedded,mongodb]
 *
 * Prints per store: the time from the processes' start to the last one's end, the transfers each
 * moved, the claims they lost to one another, and the checks: every document `done` and unique,
 * every batch completed with every outcome recorded, every file in MEGA exactly once with the
 * source's SHA-256 (and MEGA's MAC checked). Also writes test-results/processes-bench.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { downloadAllSha256, startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { startMongo } from '../test/peers/mongo';
import { ferryEnv } from '../test/peers/env';
import { sha256, testBytes } from '../test/peers/fixtures';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';

const BUCKET = 'procbench';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunnerStats {
  owner: string;
  moved: number;
  lost_claims: number;
}

/** A runner process: works every running batch until none is left, then prints what it did. */
async function runner(): Promise<void> {
  const service = await FerryService.open(configFromEnv(), { resume: true });
  try {
    for (;;) {
      if ((await service.store.listBatches({ state: 'running' })).length === 0) break;
      await sleep(200);
    }
    process.stdout.write(JSON.stringify(service.manager.stats()) + '\n');
  } finally {
    await service.close();
  }
}

function spawnRunner(env: NodeJS.ProcessEnv): Promise<RunnerStats> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', process.argv[1] ?? '', '--runner'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as RunnerStats);
      else reject(new Error(`runner exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

interface StoreResult {
  store: string;
  files: number;
  processes: number;
  seconds: number;
  per_process: RunnerStats[];
  lost_claims: number;
  documents_checked: number;
  nodes_checked: number;
  problems: string[];
}

async function measure(
  store: 'embedded' | 'mongodb',
  peers: { s3: S3Peer; mega: MegaPeer; mongo: { uri: string } },
  keys: string[],
  shas: Map<string, string>,
  processes: number,
  work: string,
): Promise<StoreResult> {
  const dataDir = join(work, `data-${store}`);
  const mongoUri =
    store === 'mongodb' ? peers.mongo.uri.replace(/\/([^/?]*)(\?|$)/, `/procbench_${Date.now()}$2`) : null;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3: peers.s3, mega: peers.mega, mongo: mongoUri ? { uri: mongoUri } : null }, dataDir),
  };
  const target = `/ProcBench-${store}`;
  // Queue every batch first, from a process that moves nothing itself.
  Object.assign(process.env, env);
  if (!mongoUri) delete process.env.MONGODB_URI;
  const starter = await FerryService.open(configFromEnv(), { work: 'none' });
  const cap = starter.config.engine.maxFilesPerBatch;
  const batchIds: string[] = [];
  try {
    for (let i = 0; i < keys.length; i += cap) {
      const started = await starter.startBatch({ bucket: BUCKET, keys: keys.slice(i, i + cap), target });
      batchIds.push(started.batch_id);
    }
  } finally {
    await starter.close();
  }

  const t0 = performance.now();
  const stats = await Promise.all(Array.from({ length: processes }, () => spawnRunner(env)));
  const seconds = (performance.now() - t0) / 1000;

  const problems: string[] = [];
  const check = await FerryService.open(configFromEnv(), { work: 'none' });
  let documents = 0;
  const paths: string[] = [];
  try {
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await check.listFiles({ limit: 1000, cursor });
      for (const f of page.files) {
        if (!f.s4_key.startsWith(target + '/')) continue;
        documents++;
        const id = `${f.bucket_name}\u0000${f.remote_key}\u0000${f.destination}\u0000${f.s4_key}`;
        if (seen.has(id)) problems.push(`document twice: ${f.remote_key}`);
        seen.add(id);
        if (f.status !== 'done') problems.push(`${f.remote_key}: ${f.status} ${f.error_message ?? ''}`);
        paths.push(f.s4_key);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    if (documents !== keys.length) problems.push(`${documents} documents for ${keys.length} files`);
    for (const id of batchIds) {
      const b = await check.getBatch(id);
      if (b.overall_status !== 'completed') problems.push(`${id}: ${b.overall_status}`);
      if (b.files.some((f) => f.status !== 'done')) problems.push(`${id}: an item not done`);
    }
  } finally {
    await check.close();
  }
  const downloaded = await downloadAllSha256(peers.mega, paths);
  let nodes = 0;
  for (const [path, got] of downloaded) {
    const key = path.slice(target.length + 1);
    if ('error' in got) problems.push(got.error);
    else if (got.sha256 !== shas.get(key)) problems.push(`${path}: bytes differ from the source`);
    else nodes++;
  }
  return {
    store,
    files: keys.length,
    processes,
    seconds: Math.round(seconds * 10) / 10,
    per_process: stats,
    lost_claims: stats.reduce((n, s) => n + s.lost_claims, 0),
    documents_checked: documents,
    nodes_checked: nodes,
    problems,
  };
}

async function main(): Promise<void> {
  const files = Number(option('files', '500'));
  const processes = Number(option('processes', '3'));
  const size = Number(option('size', '16384'));
  const stores = option('stores', 'embedded,mongodb').split(',') as ('embedded' | 'mongodb')[];
  const [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  const work = await mkdtemp(join(tmpdir(), 'megaferry-procbench-'));
  try {
    process.stderr.write(`putting ${files} objects of ${size} bytes into S3…\n`);
    const keys: string[] = [];
    const shas = new Map<string, string>();
    for (let i = 0; i < files; i++) {
      const key = `set/${String(Math.floor(i / 100)).padStart(2, '0')}/${String(i).padStart(4, '0')}.bin`;
      const data = testBytes(size, i);
      await s3.put(BUCKET, key, data);
      keys.push(key);
      shas.set(key, sha256(data));
    }
    const results: StoreResult[] = [];
    for (const store of stores) {
      process.stderr.write(`${store}: ${files} transfers, ${processes} processes…\n`);
      const r = await measure(store, { s3, mega, mongo }, keys, shas, processes, work);
      results.push(r);
      process.stdout.write(
        `${r.store.padEnd(9)} ${r.files} transfers by ${r.processes} processes in ${r.seconds} s; ` +
          `moved per process ${r.per_process.map((p) => p.moved).join('/')}; ` +
          `claims lost to contention ${r.lost_claims}; documents checked ${r.documents_checked}, ` +
          `nodes checked (one each, SHA-256 and MAC) ${r.nodes_checked}; ` +
          `${r.problems.length ? `PROBLEMS: ${r.problems.slice(0, 10).join('; ')}` : 'no problem'}\n`,
      );
    }
    await mkdir('test-results', { recursive: true });
    await writeFile('test-results/processes-bench.json', JSON.stringify(results, null, 2) + '\n');
    if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
  } finally {
    await Promise.all([s3.stop(), mega.stop(), mongo.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv.includes('--runner')) await runner();
else await main();
