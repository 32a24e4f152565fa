/**
 * `npm run bench -- --workers`: one job spread over 1, 2 and 4 `megaferry worker` processes on
 * one MongoDB (MONGODB_URI, else jongodb), measured.
 *
 * Here every worker shares one machine, so each gets a link of its own: a proxy in front of the
 * S3 peer, one per worker, that lets through at most `--link` MiB/s over all that worker's
 * connections together (a token bucket on the bytes S3 sends), as a machine's own network would.
 * The workers start and log in; then a job of `--files` objects of mixed sizes (16 KiB to 4 MiB)
 * is queued with `transfer --no-wait`, timed from that moment until the store says its batches
 * ended (a worker is a long-lived process: its start-up is not the job's). Each run checks: every document `done`, every file in MEGA exactly once with the
 * source's SHA-256 (its MAC checked against MEGA's reference), and counts the claims the workers
 * lost to one another (each prints it at exit).
 *
 *   npm run bench -- --workers [--files 200] [--link 4] [--counts 1,2,4] [--concurrency 5]
 *
 * Prints files/s, MiB/s and the speed-up over one worker; writes bench-results/workers-*.json.
 * Target (issue 10): 4 workers ≥ 3.2 × one worker, zero duplicates, zero lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { downloadAllSha256, listPath, startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { startMongo, withDatabase, type MongoPeer } from '../test/peers/mongo';
import { ferryEnv } from '../test/peers/env';
import { sha256, testBytes } from '../test/peers/fixtures';

const MiB = 1024 * 1024;
const BUCKET = 'workers-bench';
const BIN = resolve('bin', 'megaferry.mjs');
const SIZES = [16 * 1024, 256 * 1024, 1 * MiB, 4 * MiB];
const TARGET_SPEEDUP = 3.2;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * A machine's link: a TCP proxy to `port` whose answers (the bytes S3 sends) pass at most
 * `bytesPerSecond` over all its connections together.
 */
async function linkProxy(port: number, bytesPerSecond: number): Promise<{ port: number; close(): void }> {
  let free = Date.now();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      // The link is busy until `free`; this chunk takes its length's time after that.
      const now = Date.now();
      free = Math.max(free, now) + (chunk.length * 1000) / bytesPerSecond;
      const wait = free - now;
      if (wait <= 1) {
        client.write(chunk);
        return;
      }
      upstream.pause();
      setTimeout(() => {
        client.write(chunk);
        upstream.resume();
      }, wait);
    });
    upstream.on('end', () => client.end());
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as net.AddressInfo;
  return { port: address.port, close: () => server.close() };
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

interface RunFigures {
  workers: number;
  seconds: number;
  files_per_s: number;
  mib_per_s: number;
  speedup: number | null;
  moved_by_worker: number[];
  lost_claims: number;
  duplicates: number;
  lost: number;
}

async function oneRun(
  count: number,
  ctx: {
    s3: S3Peer;
    mega: MegaPeer;
    mongo: MongoPeer;
    work: string;
    files: Map<string, string>;
    total: number;
    link: number;
  },
  concurrency: number,
): Promise<Omit<RunFigures, 'speedup'>> {
  const dbName = `${ctx.mongo.dbName}_w${count}`;
  const uri = withDatabase(ctx.mongo.uri, dbName);
  const target = `/Workers${count}`;
  const base = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3: ctx.s3, mega: ctx.mega, mongo: { uri } }, join(ctx.work, `data-${count}`)),
    MEGAFERRY_MAX_FILES: '100',
  };
  const proxies = await Promise.all(
    Array.from({ length: count }, () => linkProxy(Number(new URL(ctx.s3.endpoint).port), ctx.link * MiB)),
  );
  const client = new MongoClient(uri);
  await client.connect();
  const workers: { child: ChildProcess; out: () => string; done: Promise<void> }[] = [];
  let started: number;
  try {
    for (let i = 0; i < count; i++) {
      const env = {
        ...base,
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${proxies[i]!.port}`,
        MEGAFERRY_LEASE_MS: '15000',
      };
      const child = spawn(
        process.execPath,
        [BIN, 'worker', '--name', `bench-${i + 1}`, '--concurrency', String(concurrency)],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      workers.push({ child, out: () => out, done: new Promise((r) => child.on('close', () => r())) });
    }
    // Workers are long-lived: the job is timed from its start, with the workers already up.
    for (const w of workers) {
      while (!/working the queue/.test(w.out())) {
        if (w.child.exitCode !== null) throw new Error(`a worker ended early: ${w.out()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    started = Date.now();
    const queued = await run(
      [
        'transfer',
        '--bucket',
        BUCKET,
        '--prefix',
        'job/',
        '--target',
        target,
        '--concurrency',
        '5',
        '--no-wait',
        '--json',
      ],
      base,
    );
    if (queued.code !== 0) throw new Error(`transfer --no-wait failed: ${queued.stderr}`);
    const batches = client.db(dbName).collection<{ state: string }>('batches');
    for (;;) {
      const open = await batches.countDocuments({ state: 'running' });
      if (open === 0) break;
      for (const w of workers) {
        if (w.child.exitCode !== null) throw new Error(`a worker ended early: ${w.out()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.done));
    const moved = workers.map((w) => [...w.out().matchAll(/^done \S+$/gm)].length);
    const docs = await client
      .db(dbName)
      .collection<{ remote_key: string; status: string; s4_key: string }>('files')
      .find({})
      .toArray();
    const lost = [...ctx.files.keys()].filter(
      (k) => !docs.some((d) => d.remote_key === k && d.status === 'done'),
    ).length;
    // Every file in MEGA once, with the source's bytes (downloaded, its MAC checked).
    const listed = await listPath(ctx.mega, `${target}/job`);
    const duplicates = listed.length - new Set(listed.map((n) => n.name)).size;
    const paths = [...ctx.files.keys()].map((k) => `${target}/${k}`);
    for (const [path, got] of await downloadAllSha256(ctx.mega, paths)) {
      const key = path.slice(target.length + 1);
      if ('error' in got) throw new Error(`${path}: ${got.error}`);
      if (got.sha256 !== ctx.files.get(key)) throw new Error(`${path}: bytes differ from the source`);
    }
    const bytes = ctx.total;
    return {
      workers: count,
      seconds: round(seconds),
      files_per_s: round(ctx.files.size / seconds),
      mib_per_s: round(bytes / MiB / seconds),
      moved_by_worker: moved,
      lost_claims: workers.reduce(
        (n, w) => n + Number(/lost (\d+) claims? to other processes/.exec(w.out())?.[1] ?? 0),
        0,
      ),
      duplicates,
      lost,
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    for (const p of proxies) p.close();
    await client.close();
  }
}

export async function workersBench(): Promise<void> {
  const files = Number(option('files', '200'));
  const link = Number(option('link', '4'));
  const counts = option('counts', '1,2,4').split(',').map(Number);
  const concurrency = Number(option('concurrency', '5'));
  const work = await mkdtemp(join(tmpdir(), 'megaferry-workers-bench-'));
  const [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  const shas = new Map<string, string>();
  try {
    for (let i = 0; i < files; i++) {
      const data = testBytes(SIZES[i % SIZES.length]!, 7000 + i);
      await s3.put(BUCKET, `job/${i}.bin`, data);
      shas.set(`job/${i}.bin`, sha256(data));
    }
    const total = [...Array(files).keys()].reduce((n, i) => n + SIZES[i % SIZES.length]!, 0);
    console.log(
      `workers bench: ${files} files (${round(total / MiB, 1)} MiB, 16 KiB to 4 MiB), a ${link} MiB/s link per worker, ` +
        `${concurrency} transfers at once per worker, store ${process.env.MONGODB_URI ? 'MongoDB' : 'jongodb'}`,
    );
    const figures: RunFigures[] = [];
    for (const count of counts) {
      const r = await oneRun(count, { s3, mega, mongo, work, files: shas, total, link }, concurrency);
      const one = figures.find((f) => f.workers === 1);
      const row: RunFigures = {
        ...r,
        speedup: one ? round(one.seconds / r.seconds) : count === 1 ? 1 : null,
      };
      figures.push(row);
      console.log(
        `${String(count).padStart(2)} worker${count === 1 ? ' ' : 's'}: ${row.seconds.toFixed(1).padStart(6)} s  ` +
          `${row.files_per_s.toFixed(2).padStart(6)} files/s  ${row.mib_per_s.toFixed(2).padStart(6)} MiB/s  ` +
          `speed-up ${row.speedup ?? '–'}×  moved ${row.moved_by_worker.join('/')}  ` +
          `lost claims ${row.lost_claims}  duplicates ${row.duplicates}  lost ${row.lost}`,
      );
    }
    const four = figures.find((f) => f.workers === 4);
    if (four?.speedup) {
      console.log(
        `target: 4 workers ≥ ${TARGET_SPEEDUP} × one worker — ${four.speedup >= TARGET_SPEEDUP ? 'met' : 'missed'} (${four.speedup}×)`,
      );
    }
    await mkdir('bench-results', { recursive: true });
    const file = join('bench-results', `workers-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify(
        { date: new Date().toISOString(), files, link_mib_s: link, concurrency, figures },
        null,
        2,
      ) + '\n',
    );
    console.log(`figures written to ${file}`);
  } finally {
    await Promise.all([s3.stop(), mega.stop(), mongo.stop()]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
