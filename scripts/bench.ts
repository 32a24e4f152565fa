/**
 * `npm run bench`: throughput, memory and resume, measured in one run against local peers.
 *
 * 1. One object at a time (512 MiB and 1 GiB, seed B's size), moved three ways from the same S3
 *    stream: stock megajs upload, the same pipe with encryption off (megajs `uploadCiphertext`),
 *    and MegaFerry's MEGA destination. Prints MiB/s and the ratios.
 * 2. Three 1 GiB objects at concurrency 3 through `megaferry transfer` (a child process): its peak
 *    RSS.
 * 3. `megaferry transfer` killed with SIGKILL at 50 % of a 1 GiB object, then `megaferry resume`:
 *    the bytes sent again, and the file verified with stock megajs.
 *
 * `-- --quick` uses 64/128 MiB objects to try the bench itself. Figures go to bench-results/.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { MongoClient } from 'mongodb';
import { Storage } from 'megajs';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import { quietNodeVersionWarning } from '../src/main/node-warnings';
import { startS3Peer } from '../test/peers/s3';
import { downloadSha256, startMegaPeer } from '../test/peers/mega';
import { startMongo } from '../test/peers/mongo';
import { ferryEnv } from '../test/peers/env';
import { repeatingStream } from '../test/peers/fixtures';

const MiB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const SIZES = quick ? [64 * MiB, 128 * MiB] : [512 * MiB, 1024 * MiB];
const BIG = quick ? 128 * MiB : 1024 * MiB;
const BUCKET = 'bench';
const CLI = join(process.cwd(), 'bin', 'megaferry.mjs');

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
  };
  try {
    console.log(`filling the bucket (${quick ? 'quick' : 'full'} run)…`);
    for (const size of SIZES) await s3.put(BUCKET, `single/${size / MiB}MiB.bin`, patterned(size), size);
    for (let i = 0; i < 3; i++) await s3.put(BUCKET, `trio/${i}.bin`, patterned(BIG), BIG);
    await s3.put(BUCKET, 'resume/big.bin', patterned(BIG), BIG);

    // 1. Throughput, three ways, same run; each upload in a process of its own (the peers stay
    //    here), so the uploader has a core to itself as it would next to a real bucket.
    const peerEnv = ferryEnv({ s3, mega, mongo }, join(work, 'data'));
    const throughput: Record<string, unknown>[] = [];
    for (const size of SIZES) {
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
    results.throughput = throughput;

    // 2. Memory: three big files at once through the CLI.
    const env = { ...peerEnv, MEGAFERRY_RETRY_BASE_MS: '200' };
    {
      const run = runCli(
        ['transfer', '--bucket', BUCKET, '--prefix', 'trio/', '--target', '/Trio', '--concurrency', '3'],
        env,
      );
      const sampler = rssSampler(run.pid);
      const seconds = await timed(() => run.done);
      const peak = await sampler.stop();
      results.three_at_once = {
        files: 3,
        size_mib: BIG / MiB,
        seconds: Math.round(seconds * 10) / 10,
        peak_rss_mib: peak,
      };
      console.log(
        `3 × ${BIG / MiB} MiB at concurrency 3: ${Math.round(seconds)} s, peak RSS of the transfer process ${peak} MiB`,
      );
    }

    // 3. Resume: SIGKILL at 50 %, then resume; count the bytes POSTed to MEGA.
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
          `sent again ${Math.round((sentAgain / MiB) * 10) / 10} MiB, stock megajs download verified: ${verified.size === BIG}`,
      );
    }

    await mkdir('bench-results', { recursive: true });
    const file = join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, JSON.stringify(results, null, 2) + '\n');
    console.log(`figures written to ${file}`);
  } finally {
    await Promise.all([s3.stop(), mega.stop(), mongo.stop()]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
