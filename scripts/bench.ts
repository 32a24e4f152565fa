/**
 * `npm run bench`: throughput, cost, memory, start-up and resume, measured in one run against
 * local peers.
 *
 * 1. One object at a time (512 MiB and 1 GiB, seed B's size), moved three ways from the same S3
 *    stream: stock megajs upload, the same pipe with encryption off (megajs `uploadCiphertext`),
 *    and MegaFerry's MEGA destination. Prints MiB/s and the ratios.
 * 2. Cost: the crypto floor (AES-128-CTR plus the CBC-MAC over the same bytes, OpenSSL through
 *    node:crypto in 1 MiB updates, CPU-seconds per GiB, the least of several rounds), then one
 *    1 GiB object through `megaferry transfer` at default settings (the embedded store): the whole
 *    process's CPU-seconds per GiB moved (start-up included), its ratio to the floor, its peak RSS.
 * 3. Three 1 GiB objects at concurrency 3 through `megaferry transfer`: peak RSS and CPU.
 * 4. Start-up: `megaferry --help`, `megaferry status` and a 10-byte transfer, each run several
 *    times as a whole process (CPU-seconds and peak RSS; `node -e 0` alongside for scale).
 * 5. `megaferry transfer` killed with SIGKILL at 50 % of a 1 GiB object, then `megaferry resume`:
 *    the bytes sent again, and the file downloaded, decrypted and its MAC checked against MEGA's
 *    reference (test/peers/mega.ts downloadSha256).
 *
 * CPU of a child process comes from its own `process.resourceUsage()` (getrusage of the whole
 * process, worker threads included) and its peak RSS from the kernel's high-water mark (VmHWM),
 * both written at exit by a hook loaded with `--require`.
 *
 * `-- --workers` measures one job spread over 1, 2 and 4 `megaferry worker` processes instead
 * (scripts/workers-bench.ts).
 *
 * `-- --s4` measures only the floor and S3 → MEGA S4 (a whole `transfer --dest s4:` process).
 * `-- --quick` uses 64/128 MiB objects to try the bench itself; `-- --startup` runs only the
 * start-up figures, `-- --cost` only the floor, one big object and three at once (2 and 3); `-- --cli PATH` measures another build of the CLI (before/after figures).
 * Figures go to bench-results/.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { MongoClient } from 'mongodb';
import { Storage } from 'megajs';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import { quietNodeVersionWarning } from '../src/main/node-warnings';
import { raiseMallocThresholds } from '../src/main/platform/malloc-thresholds';
import { startS3Peer } from '../test/peers/s3';
import { downloadSha256, startMegaPeer } from '../test/peers/mega';
import { startMongo } from '../test/peers/mongo';
import { ferryEnv } from '../test/peers/env';
import { repeatingStream } from '../test/peers/fixtures';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const quick = process.argv.includes('--quick');
const startupOnly = process.argv.includes('--startup');
/** Only the cost figures (the floor, one big object, three at once): for before/after comparisons. */
const costOnly = process.argv.includes('--cost');
/** Only the floor and S3 → MEGA S4 (scripts/s4-bench.ts). */
const s4Only = process.argv.includes('--s4');
const SIZES = quick ? [64 * MiB, 128 * MiB] : [512 * MiB, 1024 * MiB];
const BIG = quick ? 128 * MiB : 1024 * MiB;
const BUCKET = 'bench';
const cliAt = process.argv.indexOf('--cli');
const CLI = resolve(cliAt > 0 ? (process.argv[cliAt + 1] ?? '') : join('bin', 'megaferry.mjs'));
/** Runs of each start-up measure, and rounds of the crypto floor (the least counts). */
const STARTUP_RUNS = quick ? 3 : 5;
const FLOOR_ROUNDS = quick ? 3 : 5;
const FLOOR_BYTES = quick ? 256 * MiB : GiB;

/** Targets of issue 14, checked by the figures of the same run. */
const TARGETS = {
  cpu_vs_floor: 1.3,
  one_file_peak_rss_mb: 100,
  three_files_peak_rss_mb: 160,
  startup_cpu_s: 0.15,
  startup_rss_mb: 60,
  tiny_transfer_cpu_s: 0.5,
  tiny_transfer_rss_mb: 90,
};

/** A repeating pseudo-random pattern: cheap to make, not compressible, never held whole. */
const PATTERN = randomBytes(MiB);
const patterned = (size: number): Readable => repeatingStream(PATTERN, size);

/** Samples a process's resident set size (from /proc) until stopped; returns the peak in MiB. */
function rssSampler(pid: number = process.pid): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status) ?? /VmRSS:\s+(\d+) kB/.exec(status);
        if (hwm?.[1]) peak = Math.max(peak, Number(hwm[1]) / 1024);
      } catch {
        // the process has gone
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.round(peak);
    },
  };
}

/** megajs's stock upload, fed a stream (its bundled types only admit buffers). */
type StreamUpload = (opts: object, source: Readable) => { complete: Promise<unknown> };
function stockUpload(storage: Storage, opts: object, source: Readable): Promise<unknown> {
  return (storage.root.upload as unknown as StreamUpload).call(storage.root, opts, source).complete;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const mibps = (bytes: number, seconds: number) => Math.round((bytes / MiB / seconds) * 10) / 10;

function runCli(args: string[], env: Record<string, string>): { pid: number; done: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { pid: child.pid ?? 0, done: new Promise((r) => child.on('exit', (code) => r(code))) };
}

/**
 * Loaded with `--require` into a measured child (a CommonJS file: next to nothing to load): writes
 * its own resource usage when it exits. The peak RSS is the kernel's VmHWM of the process where
 * there is one (Linux): getrusage's maxrss of a child forked from this big process starts at this
 * process's size, so it is kept only as the fallback elsewhere.
 */
const RUSAGE_HOOK = `'use strict';
process.on('exit', () => {
  const file = process.env.MEGAFERRY_BENCH_RUSAGE;
  if (!file) return;
  const fs = require('node:fs');
  const usage = process.resourceUsage();
  let hwmKiB = null;
  try {
    const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) hwmKiB = Number(m[1]);
  } catch {}
  fs.writeFileSync(file, JSON.stringify({ ...usage, hwmKiB }));
});
`;

interface Usage {
  exit: number | null;
  seconds: number;
  /** user + system CPU of the whole process (all threads), seconds. */
  cpu_s: number;
  /** Peak resident set size, MB (10^6 bytes; getrusage's maxrss is in KiB). */
  max_rss_mb: number;
  /** Minor page faults (on this VM each costs ~25 µs: they were most of a transfer's overhead). */
  page_faults: number;
}

/** Runs `node --require hook ...args` to its end and reads the child's own resource usage. */
async function measured(work: string, args: string[], env: Record<string, string>): Promise<Usage> {
  const hook = join(work, 'rusage-hook.cjs');
  await writeFile(hook, RUSAGE_HOOK);
  const out = join(work, `rusage-${randomUUID()}.json`);
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--require', hook, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, MEGAFERRY_BENCH_RUSAGE: out },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  if (exit !== 0)
    process.stderr.write(`${args.slice(0, 3).join(' ')}… exited ${exit}:\n${stderr.slice(-2000)}\n`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const usage = JSON.parse(await readFile(out, 'utf8')) as NodeJS.ResourceUsage & { hwmKiB: number | null };
  await rm(out, { force: true });
  return {
    exit,
    seconds: round(seconds, 2),
    cpu_s: round((usage.userCPUTime + usage.systemCPUTime) / 1e6, 3),
    max_rss_mb: round(((usage.hwmKiB ?? usage.maxRSS) * 1024) / 1e6, 1),
    page_faults: usage.minorPageFault,
  };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The least and the median CPU and peak RSS of several runs of one measure. */
function spread(runs: Usage[]) {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const cpu = runs.map((r) => r.cpu_s);
  const rss = runs.map((r) => r.max_rss_mb);
  return {
    runs: runs.length,
    exit_codes: [...new Set(runs.map((r) => r.exit))],
    cpu_s_min: Math.min(...cpu),
    cpu_s_median: median(cpu),
    max_rss_mb_min: Math.min(...rss),
    max_rss_mb_median: median(rss),
  };
}

/**
 * The crypto floor, in this process (run as a child of its own): AES-128-CTR and the CBC-MAC over
 * the same bytes, one OpenSSL call each per 1 MiB (a fresh CBC per MiB, as MEGA's chunks are MACed
 * each from the nonce). Returns CPU-seconds per GiB, the least of `rounds` rounds of `bytes`.
 * glibc's thresholds are raised first, as MegaFerry raises its own (platform/malloc-thresholds.ts):
 * otherwise the cipher outputs' page faults inflate the floor by up to half, and the ratio with it.
 */
function cryptoFloor(bytes: number, rounds: number): { per_round: number[]; cpu_s_per_gib: number } {
  raiseMallocThresholds();
  const key = randomBytes(16);
  const nonce = randomBytes(8);
  const block = randomBytes(MiB);
  const per: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds; round++) {
    const t0 = process.cpuUsage();
    const ctr = createCipheriv('aes-128-ctr', key, Buffer.concat([nonce, Buffer.alloc(8)]));
    for (let done = 0; done < bytes; done += MiB) {
      const mac = createCipheriv('aes-128-cbc', key, Buffer.concat([nonce, nonce]));
      mac.setAutoPadding(false);
      const macOut = mac.update(block);
      const enc = ctr.update(block);
      sink ^= (macOut[macOut.length - 1] ?? 0) ^ (enc[0] ?? 0);
    }
    const used = process.cpuUsage(t0);
    per.push(((used.user + used.system) / 1e6) * (GiB / bytes));
  }
  if (sink === -1) console.log(sink); // keeps the results alive
  return { per_round: per.map((x) => round(x, 3)), cpu_s_per_gib: round(Math.min(...per), 3) };
}

/** Runs the floor in a child process of its own (nothing else running in it). */
async function floorInChild(): Promise<{ per_round: number[]; cpu_s_per_gib: number }> {
  const child = spawn(
    process.execPath,
    [process.argv[1] ?? '', '--floor', String(FLOOR_BYTES), String(FLOOR_ROUNDS)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`the crypto floor failed (exit ${code})`);
  return JSON.parse(out) as { per_round: number[]; cpu_s_per_gib: number };
}

const verdict = (value: number, target: number) => (value <= target ? 'meets' : 'over');

/**
 * Start-up figures (issue 14, item 6) with the embedded store at default settings: `--help`,
 * `status`, and a 10-byte transfer (a new object each run, so each one uploads), each run
 * `STARTUP_RUNS` times; `node -e 0` for scale (a busy machine inflates everything alike).
 */
async function startupFigures(
  work: string,
  s3: Awaited<ReturnType<typeof startS3Peer>>,
  peerEnv: Record<string, string>,
): Promise<Record<string, unknown>> {
  const env: Record<string, string> = { ...peerEnv, MEGAFERRY_DATA_DIR: join(work, 'startup-data') };
  delete env.MONGODB_URI;
  const tiny = `tiny-${randomUUID().slice(0, 8)}`;
  for (let i = 0; i < STARTUP_RUNS; i++) await s3.put(BUCKET, `${tiny}/${i}.bin`, Buffer.from('0123456789'));
  const runs = async (args: (i: number) => string[]) => {
    const all: Usage[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) all.push(await measured(work, args(i), env));
    return spread(all);
  };
  const figures = {
    cli: CLI,
    store: 'embedded',
    node_alone: await runs(() => ['-e', '0']),
    help: await runs(() => [CLI, '--help']),
    transfer_10_bytes: await runs((i) => [
      CLI,
      'transfer',
      '--bucket',
      BUCKET,
      '--key',
      `${tiny}/${i}.bin`,
      '--target',
      '/Tiny',
    ]),
    status: await runs(() => [CLI, 'status']),
  };
  const line = (name: string, f: ReturnType<typeof spread>, cpu: number, rss: number) =>
    console.log(
      `  ${name.padEnd(18)} ${f.cpu_s_min.toFixed(2)} CPU-s (median ${f.cpu_s_median.toFixed(2)}), ` +
        `peak RSS ${f.max_rss_mb_min} MB (median ${f.max_rss_mb_median})` +
        (cpu
          ? ` — target ≤ ${cpu} s / ${rss} MB: ${verdict(f.cpu_s_min, cpu)} / ${verdict(f.max_rss_mb_min, rss)}`
          : '') +
        (f.exit_codes.some((c) => c !== 0) ? ` (exit ${f.exit_codes.join(',')})` : ''),
    );
  console.log(`start-up, least of ${STARTUP_RUNS} runs each (${CLI}):`);
  line('node -e 0', figures.node_alone, 0, 0);
  line('--help', figures.help, TARGETS.startup_cpu_s, TARGETS.startup_rss_mb);
  line('status', figures.status, TARGETS.startup_cpu_s, TARGETS.startup_rss_mb);
  line(
    '10-byte transfer',
    figures.transfer_10_bytes,
    TARGETS.tiny_transfer_cpu_s,
    TARGETS.tiny_transfer_rss_mb,
  );
  return figures;
}

type Way = 'stock' | 'plain' | 'ferry';

/** Runs one upload in a child process (this script with --upload) and samples its RSS. */
async function uploadWorker(way: Way, key: string, size: number, env: Record<string, string>) {
  const child = spawn(process.execPath, [process.argv[1] ?? '', '--upload', way, key, String(size)], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const sampler = rssSampler(child.pid);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const peak = await sampler.stop();
  if (code !== 0) throw new Error(`the ${way} upload failed (exit ${code})`);
  return { seconds: (JSON.parse(out) as { seconds: number }).seconds, peak };
}

/** The child side: one upload from the S3 peer to the MEGA peer, timed; prints { seconds }. */
async function uploadOnce(way: Way, key: string, size: number): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: process.env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const body = async () =>
    (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body as Readable;
  const login = { email: process.env.MEGA_EMAIL ?? '', password: process.env.MEGA_PASSWORD ?? '' };
  const gateway = process.env.MEGAFERRY_MEGA_GATEWAY;
  let seconds: number;
  if (way === 'ferry') {
    const destination = new MegaDestination({ ...login, gateway });
    await destination.connect();
    seconds = await timed(async () => {
      await destination.upload({
        path: `/bench/ferry-${randomUUID()}`,
        size,
        body: await body(),
        transfer_id: randomUUID(),
        signal: new AbortController().signal,
        onProgress: () => undefined,
      });
    });
    await destination.close();
  } else {
    const storage = await new Storage({ ...login, gateway, keepalive: false }).ready;
    const opts =
      way === 'stock'
        ? { name: `stock-${randomUUID()}`, size }
        : { name: `plain-${randomUUID()}`, size, uploadCiphertext: true, key: randomBytes(32) };
    seconds = await timed(async () => stockUpload(storage, opts, await body()));
    await storage.close();
  }
  client.destroy();
  process.stdout.write(JSON.stringify({ seconds }) + '\n');
}

async function main(): Promise<void> {
  quietNodeVersionWarning();
  if (process.argv.includes('--workers')) {
    // One job over 1, 2 and 4 worker processes (scripts/workers-bench.ts).
    await (await import('./workers-bench')).workersBench();
    return;
  }
  const floorAt = process.argv.indexOf('--floor');
  if (floorAt > 0) {
    const [bytes, rounds] = process.argv.slice(floorAt + 1).map(Number);
    process.stdout.write(JSON.stringify(cryptoFloor(bytes ?? GiB, rounds ?? 3)) + '\n');
    process.exit(0);
  }
  const uploadAt = process.argv.indexOf('--upload');
  if (uploadAt > 0) {
    const [way, key, size] = process.argv.slice(uploadAt + 1);
    await uploadOnce(way as Way, key ?? '', Number(size));
    process.exit(0);
  }
  const work = await mkdtemp(join(tmpdir(), 'megaferry-bench-'));
  const [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    loadavg_at_start: (await import('node:os')).loadavg().map((x) => round(x, 2)),
    targets: TARGETS,
  };
  try {
    const peerEnv = ferryEnv({ s3, mega, mongo }, join(work, 'data'));
    if (startupOnly) {
      results.startup = await startupFigures(work, s3, peerEnv);
      await writeResults(results);
      return;
    }
    console.log(`filling the bucket (${quick ? 'quick' : 'full'} run)…`);
    for (const size of costOnly || s4Only ? [BIG] : SIZES)
      await s3.put(BUCKET, `single/${size / MiB}MiB.bin`, patterned(size), size);
    if (!s4Only) for (let i = 0; i < 3; i++) await s3.put(BUCKET, `trio/${i}.bin`, patterned(BIG), BIG);
    if (!costOnly && !s4Only) await s3.put(BUCKET, 'resume/big.bin', patterned(BIG), BIG);

    // 1. Throughput, three ways, same run; each upload in a process of its own (the peers stay
    //    here), so the uploader has a core to itself as it would next to a real bucket.
    const throughput: Record<string, unknown>[] = [];
    for (const size of costOnly || s4Only ? [] : SIZES) {
      const key = `single/${size / MiB}MiB.bin`;
      const [stock, plain, ferry] = [
        await uploadWorker('stock', key, size, peerEnv),
        await uploadWorker('plain', key, size, peerEnv),
        await uploadWorker('ferry', key, size, peerEnv),
      ];
      const row = {
        size_mib: size / MiB,
        stock_megajs_mibps: mibps(size, stock.seconds),
        no_encryption_mibps: mibps(size, plain.seconds),
        megaferry_mibps: mibps(size, ferry.seconds),
        megaferry_vs_stock: Math.round((stock.seconds / ferry.seconds) * 100) / 100,
        megaferry_vs_no_encryption: Math.round((plain.seconds / ferry.seconds) * 100) / 100,
        peak_rss_mib: { stock: stock.peak, no_encryption: plain.peak, megaferry: ferry.peak },
      };
      throughput.push(row);
      console.log(
        `${row.size_mib} MiB: stock megajs ${row.stock_megajs_mibps} MiB/s, no encryption ${row.no_encryption_mibps} MiB/s, ` +
          `MegaFerry ${row.megaferry_mibps} MiB/s — ${row.megaferry_vs_stock}× stock, ${row.megaferry_vs_no_encryption}× no-encryption ` +
          `(peak RSS ${ferry.peak} MiB)`,
      );
    }
    if (!costOnly && !s4Only) results.throughput = throughput;

    const env = { ...peerEnv, MEGAFERRY_RETRY_BASE_MS: '200' };
    // The whole-process measures run at default settings: the embedded store, not MongoDB.
    const defaultEnv: Record<string, string> = { ...env, MEGAFERRY_DATA_DIR: join(work, 'default-data') };
    delete defaultEnv.MONGODB_URI;

    // 2. Cost: the crypto floor, then one big object through the CLI as a whole process.
    const floor = await floorInChild();
    results.floor_cpu_s_per_gib = floor.cpu_s_per_gib;
    // S3 → MEGA S4 (issue 11): the same big object through `transfer --dest s4:` (scripts/s4-bench.ts);
    // not with `--cost`, which measures the MEGA path alone.
    if (!costOnly) {
      const { s4Bench, streamSha256 } = await import('./s4-bench');
      const key = `single/${BIG / MiB}MiB.bin`;
      results.s4 = await s4Bench({
        cli: CLI,
        bucket: BUCKET,
        key,
        size: BIG,
        env: { ...defaultEnv, MEGAFERRY_DATA_DIR: join(work, 's4-data') },
        floorCpuPerGib: floor.cpu_s_per_gib,
        measure: (args, env) => measured(work, args, env),
        expectedSha256: async () =>
          streamSha256(
            (await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body as Readable,
          ),
      });
    }

    if (s4Only) {
      await writeResults(results);
      return;
    }
    {
      const one = await measured(
        work,
        [CLI, 'transfer', '--bucket', BUCKET, '--key', `single/${BIG / MiB}MiB.bin`, '--target', '/Cost'],
        defaultEnv,
      );
      if (one.exit !== 0) throw new Error(`megaferry transfer of one file failed (exit ${one.exit})`);
      const perGib = round(one.cpu_s / (BIG / GiB), 3);
      const ratio = round(perGib / floor.cpu_s_per_gib, 2);
      results.cost = {
        floor: {
          what: 'AES-128-CTR + CBC-MAC, node:crypto (OpenSSL), 1 MiB updates',
          bytes_per_round_mib: FLOOR_BYTES / MiB,
          rounds_cpu_s_per_gib: floor.per_round,
          cpu_s_per_gib: floor.cpu_s_per_gib,
        },
        one_file: {
          size_mib: BIG / MiB,
          store: 'embedded',
          seconds: one.seconds,
          mibps: mibps(BIG, one.seconds),
          cpu_s: one.cpu_s,
          cpu_s_per_gib: perGib,
          max_rss_mb: one.max_rss_mb,
          page_faults: one.page_faults,
        },
        cpu_vs_floor: ratio,
      };
      console.log(
        `crypto floor (AES-128-CTR + CBC-MAC, OpenSSL, 1 MiB updates): ${floor.cpu_s_per_gib} CPU-s/GiB ` +
          `(least of ${floor.per_round.join(', ')})`,
      );
      console.log(
        `megaferry transfer of one ${BIG / MiB} MiB object (whole process, start-up included): ${one.cpu_s} CPU-s ` +
          `= ${perGib} CPU-s/GiB, ${ratio}× the floor (target ≤ ${TARGETS.cpu_vs_floor}×: ${verdict(ratio, TARGETS.cpu_vs_floor)}); ` +
          `${mibps(BIG, one.seconds)} MiB/s; ${one.page_faults} page faults; peak RSS ${one.max_rss_mb} MB (target ≤ ${TARGETS.one_file_peak_rss_mb}: ` +
          `${verdict(one.max_rss_mb, TARGETS.one_file_peak_rss_mb)})`,
      );
    }

    // 3. Memory: three big files at once through the CLI (default settings but the concurrency).
    {
      const trio = await measured(
        work,
        [CLI, 'transfer', '--bucket', BUCKET, '--prefix', 'trio/', '--target', '/Trio', '--concurrency', '3'],
        defaultEnv,
      );
      if (trio.exit !== 0) throw new Error(`megaferry transfer of three files failed (exit ${trio.exit})`);
      results.three_at_once = {
        files: 3,
        size_mib: BIG / MiB,
        store: 'embedded',
        seconds: round(trio.seconds, 1),
        cpu_s: trio.cpu_s,
        cpu_s_per_gib: round(trio.cpu_s / ((3 * BIG) / GiB), 3),
        max_rss_mb: trio.max_rss_mb,
        page_faults: trio.page_faults,
      };
      console.log(
        `3 × ${BIG / MiB} MiB at concurrency 3: ${Math.round(trio.seconds)} s, ${trio.cpu_s} CPU-s, ${trio.page_faults} page faults, peak RSS of the ` +
          `transfer process ${trio.max_rss_mb} MB (target ≤ ${TARGETS.three_files_peak_rss_mb}: ` +
          `${verdict(trio.max_rss_mb, TARGETS.three_files_peak_rss_mb)})`,
      );
    }

    if (costOnly) {
      await writeResults(results);
      return;
    }

    // 4. Start-up.
    results.startup = await startupFigures(work, s3, peerEnv);

    // 5. Resume: SIGKILL at 50 %, then resume; count the bytes POSTed to MEGA.
    {
      const postedAtStart = mega.uploadedBytes();
      const client = await MongoClient.connect(mongo.uri);
      const files = client.db().collection('files');
      const run = runCli(
        ['transfer', '--bucket', BUCKET, '--key', 'resume/big.bin', '--target', '/Resume'],
        env,
      );
      let killedAt = 0;
      for (;;) {
        const doc = await files.findOne({ remote_key: 'resume/big.bin' });
        const done = Number(doc?.transferred_bytes ?? 0);
        if (done >= BIG / 2) {
          process.kill(run.pid, 'SIGKILL');
          killedAt = done;
          break;
        }
        if (doc?.status === 'done') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await run.done;
      const postedBefore = mega.uploadedBytes() - postedAtStart;
      const resume = runCli(['resume'], env);
      const code = await resume.done;
      const posted = mega.uploadedBytes() - postedAtStart;
      const doc = await files.findOne({ remote_key: 'resume/big.bin' });
      await client.close();
      const verified = await downloadSha256(mega, '/Resume/resume/big.bin');
      const sentAgain = posted - BIG;
      results.resume = {
        size_mib: BIG / MiB,
        killed_at_mib: Math.round((killedAt / MiB) * 10) / 10,
        posted_before_kill_mib: Math.round((postedBefore / MiB) * 10) / 10,
        posted_in_all_mib: Math.round((posted / MiB) * 10) / 10,
        sent_again_mib: Math.round((sentAgain / MiB) * 10) / 10,
        resume_exit_code: code,
        status: doc?.status,
        verified_size: verified.size === BIG,
      };
      console.log(
        `killed at ${Math.round(killedAt / MiB)} MiB of ${BIG / MiB} MiB; after resume: ${doc?.status}, ` +
          `sent again ${Math.round((sentAgain / MiB) * 10) / 10} MiB, downloaded and MAC-checked: ${verified.size === BIG}`,
      );
    }

    await writeResults(results);
  } finally {
    await Promise.all([s3.stop(), mega.stop(), mongo.stop()]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

async function writeResults(results: Record<string, unknown>): Promise<void> {
  await mkdir('bench-results', { recursive: true });
  const file = join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`figures written to ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
