/**
 * S3 → MEGA S4 through the CLI as a whole process (issue 11): one large object sent with
 * `megaferry transfer --dest s4:bucket/`, measured like the bench's MEGA transfer (wall time, CPU
 * of the whole process, peak RSS), and checked by reading the object back from the S4 peer. The
 * peer is a second s3rver behind the S4 rules proxy (test/peers/s4.ts) in the bench's own process:
 * its cost is not counted in the measured child's.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { startS4Peer } from '../test/peers/s4';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface MeasuredRun {
  exit: number | null;
  seconds: number;
  cpu_s: number;
  max_rss_mb: number;
}

export interface S4BenchFigures {
  size_mib: number;
  seconds: number;
  mibps: number;
  cpu_s: number;
  cpu_s_per_gib: number;
  max_rss_mb: number;
  /** CPU per GiB against the crypto floor of the same run (MEGA's AES-CTR + CBC-MAC). */
  cpu_vs_crypto_floor: number;
  /**
   * S4's own floor, measured here: what every byte must go through for S4 — MD5 (Content-MD5)
   * and SHA-256 (SigV4's signed payload), node:crypto in 1 MiB updates, the least of 3 rounds.
   */
  hash_floor_cpu_s_per_gib: number;
  cpu_vs_hash_floor: number;
  parts: number;
  verified: boolean;
}

export async function s4Bench(opts: {
  cli: string;
  bucket: string;
  key: string;
  size: number;
  env: Record<string, string>;
  floorCpuPerGib: number;
  measure(args: string[], env: Record<string, string>): Promise<MeasuredRun>;
  expectedSha256(): Promise<string>;
}): Promise<S4BenchFigures> {
  const peer = await startS4Peer({ buckets: ['bench-s4'] });
  try {
    const run = await opts.measure(
      [opts.cli, 'transfer', '--bucket', opts.bucket, '--key', opts.key, '--dest', 's4:bench-s4/'],
      { ...opts.env, ...peer.env },
    );
    if (run.exit !== 0) throw new Error(`megaferry transfer to S4 failed (exit ${run.exit})`);
    const object = await peer.readObject('bench-s4', opts.key);
    const sha = object ? createHash('sha256').update(object.bytes).digest('hex') : '';
    const perGib = run.cpu_s / (opts.size / GiB);
    const hashFloor = hashFloorPerGib();
    const figures: S4BenchFigures = {
      size_mib: opts.size / MiB,
      seconds: run.seconds,
      mibps: Math.round((opts.size / MiB / run.seconds) * 10) / 10,
      cpu_s: run.cpu_s,
      cpu_s_per_gib: Math.round(perGib * 1000) / 1000,
      max_rss_mb: run.max_rss_mb,
      cpu_vs_crypto_floor: Math.round((perGib / opts.floorCpuPerGib) * 100) / 100,
      hash_floor_cpu_s_per_gib: Math.round(hashFloor * 1000) / 1000,
      cpu_vs_hash_floor: Math.round((perGib / hashFloor) * 100) / 100,
      parts: peer.count('UploadPart').requests,
      verified: object !== null && object.bytes.length === opts.size && sha === (await opts.expectedSha256()),
    };
    console.log(
      `S3 → S4, ${figures.size_mib} MiB: ${figures.mibps} MiB/s, ${figures.cpu_s_per_gib} CPU-s per GiB ` +
        `(${figures.cpu_vs_crypto_floor}× the crypto floor; ${figures.cpu_vs_hash_floor}× S4's own, MD5 + SHA-256 at ` +
        `${figures.hash_floor_cpu_s_per_gib} CPU-s per GiB), peak RSS ${figures.max_rss_mb} MB, ` +
        `${figures.parts} parts, read back and SHA-256 checked: ${figures.verified}`,
    );
    return figures;
  } finally {
    await peer.stop();
  }
}

/** MD5 and SHA-256 over 1 GiB in 1 MiB updates, CPU-seconds per GiB: the least of three rounds. */
function hashFloorPerGib(): number {
  const chunk = Buffer.alloc(MiB, 7);
  let least = Infinity;
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    const md5 = createHash('md5');
    const sha = createHash('sha256');
    for (let i = 0; i < 1024; i++) {
      md5.update(chunk);
      sha.update(chunk);
    }
    md5.digest();
    sha.digest();
    const used = process.cpuUsage(before);
    least = Math.min(least, (used.user + used.system) / 1e6);
  }
  return least;
}

/** The SHA-256 of a stream (the source object, read back from S3). */
export async function streamSha256(body: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of body) hash.update(piece as Buffer);
  return hash.digest('hex');
}
