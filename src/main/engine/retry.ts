/**
 * The single place for retries and backoff (rclone's lib/pacer): bounded exponential backoff with
 * jitter, for transient failures only, and abortable.
 */
import { CancelledError, isRetryable } from './errors';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Whole-file attempts (the engine's, like rclone's --retries). */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 30_000 };

/**
 * Tries of one request (a chunk POST, a MEGA API command, an S3 range read) before the file's
 * attempt fails, like rclone's --low-level-retries: the two levels multiply.
 */
export const DEFAULT_REQUEST_ATTEMPTS = 5;

/** The per-request policy derived from the whole-file one: its delays, `attempts` tries. */
export function requestPolicy(filePolicy: RetryPolicy, attempts = DEFAULT_REQUEST_ATTEMPTS): RetryPolicy {
  return { attempts, baseDelayMs: filePolicy.baseDelayMs, maxDelayMs: filePolicy.maxDelayMs };
}

export function backoffDelay(policy: RetryPolicy, failedAttempts: number, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  // "Equal jitter": half fixed, half random, so retries of many files spread out.
  return Math.round(exp / 2 + (random() * exp) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or CancelledError as soon as `signal` aborts (the promise goes on unwatched). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Runs `fn` until it succeeds, fails with a non-transient error, or the attempts run out.
 * `onFailure` sees every failed attempt (to count it) before the next one. `retryable` decides
 * what is worth another try (default: a FerryError of kind `transient`).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  opts: {
    signal?: AbortSignal;
    onFailure?: (err: unknown, attempt: number, willRetry: boolean) => void | Promise<void>;
    retryable?: (err: unknown) => boolean;
  } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw new CancelledError();
      const willRetry = (opts.retryable ?? isRetryable)(err) && attempt < policy.attempts;
      await opts.onFailure?.(err, attempt, willRetry);
      if (!willRetry) throw err;
      await sleep(backoffDelay(policy, attempt), opts.signal);
    }
  }
}
