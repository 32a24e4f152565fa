/** Test data: deterministic pseudo-random bytes and their SHA-256, for objects put into s3rver. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** Bytes that differ per seed and per position (so chunk mix-ups would show). */
export function testBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** `size` bytes of `block` repeated, streamed: a large object that is never held in memory. */
export function repeatingStream(block: Buffer, size: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(block.length, size - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** Sizes that straddle the AES block (16 B) and MEGA's chunk boundaries (128 KiB, +256 KiB, …, 1 MiB). */
export const BOUNDARY_SIZES = [
  0,
  1,
  15,
  16,
  17,
  128 * KiB - 1,
  128 * KiB,
  128 * KiB + 1,
  384 * KiB - 1,
  384 * KiB,
  384 * KiB + 1,
  MiB + 1,
  3 * MiB + 7,
];

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
