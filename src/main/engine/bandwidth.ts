/**
 * The bandwidth limit of this process (like rclone's --bwlimit): one token bucket shared by every
 * transfer the process moves, its rate taken from a timetable (../../shared/bwlimit.ts) at each
 * moment, so a change from Settings or the clock passing 19:00 applies at once to transfers
 * already moving. The bytes read from the source pass through it on their way to the
 * destination; the destination's progress, and with it every speed shown, follows.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { type BwSchedule, rateAt } from '../../shared/bwlimit';

/** At most this much is let through at once: a large chunk is metered in pieces. */
const PIECE = 64 * 1024;
/** An idle bucket fills up to this many seconds of the rate (a short burst after a pause). */
const BURST_SECONDS = 0.1;
/** Waiters look at the rate again at least this often (a new limit applies within this). */
const RECHECK_MS = 200;

/**
 * A monotonic clock in milliseconds. Not `performance.now()`: the first use of the global
 * `performance` loads node:perf_hooks (~2-3 ms of CPU), and every process that opens the service
 * makes a limiter, `megaferry status` included.
 */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export class BandwidthLimiter {
  private schedule: BwSchedule = [];
  /** Bytes that may go now; negative: owed (a piece taken on credit is paid by waiting). */
  private tokens = 0;
  private at: number;

  constructor(
    schedule: BwSchedule = [],
    private readonly now: () => number = monotonicMs,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.schedule = schedule;
    this.at = this.now();
  }

  /** A new limit, applied from now on (to transfers already moving too). */
  setSchedule(schedule: BwSchedule): void {
    this.refill(this.rate());
    this.schedule = schedule;
    this.tokens = Math.min(this.tokens, 0);
  }

  /** The rate in force now, bytes a second; null: no limit. */
  rate(): number | null {
    return rateAt(this.schedule, this.clock());
  }

  private refill(rate: number | null): void {
    const t = this.now();
    const dt = (t - this.at) / 1000;
    this.at = t;
    if (rate === null) {
      this.tokens = 0;
      return;
    }
    this.tokens = Math.min(this.tokens + dt * rate, Math.max(PIECE, rate * BURST_SECONDS));
  }

  /** Waits until `bytes` may go at the rate in force (at once when there is no limit). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const rate = this.rate();
      this.refill(rate);
      if (rate === null) return;
      if (this.tokens >= 0) {
        this.tokens -= bytes;
        return;
      }
      const waitMs = Math.min(RECHECK_MS, Math.ceil((-this.tokens / rate) * 1000));
      await sleep(Math.max(1, waitMs), signal);
    }
  }

  /** A stream that lets `source`'s bytes through at the limit's pace. */
  throttle(signal?: AbortSignal): Transform {
    const take = (n: number) => this.take(n, signal);
    const unlimited = () => this.rate() === null;
    return new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        if (unlimited()) {
          callback(null, chunk);
          return;
        }
        void (async () => {
          for (let off = 0; off < chunk.length; off += PIECE) {
            const piece = chunk.subarray(off, Math.min(chunk.length, off + PIECE));
            await take(piece.length);
            if (this.destroyed) return;
            this.push(piece);
          }
        })().then(
          () => callback(),
          (err: unknown) => callback(err as Error),
        );
      },
    });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
