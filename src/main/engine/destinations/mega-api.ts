/**
 * The transport under megajs's API requests (its `fetch` option): every MEGA API command (`/cs`)
 * is retried on its own, with backoff and jitter, before it fails the file's attempt (rclone's
 * low-level retries). What is worth another try is decided by errors.ts:
 *
 * - MEGA's −3 (EAGAIN) and −4 (ERATELIMIT), HTTP 5xx/408/429, a refused connection: MEGA did
 *   nothing, so any command is sent again;
 * - an answer lost after the command was sent (reset, cut, timed out): an idempotent command (a
 *   read, a move, a new upload URL) is sent again; a command that creates something (`p`) is not —
 *   it fails with AmbiguousOutcomeError and the caller finds out what MEGA has first;
 * - anything else (quota −17, an unknown node, a 4xx) goes back to megajs unchanged.
 *
 * megajs's own −3 handling (4 tries, 2–16 s apart, fixed) never runs: a −3 reaches it only as the
 * error below once our policy is spent.
 */
import {
  AmbiguousOutcomeError,
  FerryError,
  isMegaTryAgain,
  isNotSentError,
  isTransientHttpStatus,
} from '../errors';
import { withRetry, type RetryPolicy } from '../retry';

/** The fetch megajs calls: (url, init) → a Response (headers, status, body read once). */
export type MegaFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Commands that create something: a repeat after a lost answer could create it twice. */
const NOT_IDEMPOTENT = new Set(['p', 'pp', 'xp']);

export interface MegaTransportOptions {
  policy: RetryPolicy;
  /** The underlying fetch (default: Node's). */
  fetch?: MegaFetch;
  /** Sees each failed try that will be repeated (tests count them). */
  onRetry?: (command: string, err: unknown) => void;
}

export function megaApiFetch(opts: MegaTransportOptions): MegaFetch {
  const base: MegaFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!new URL(url).pathname.endsWith('/cs')) return base(input, init);
    const commands = commandNames(init?.body);
    const label = commands.join(',') || '?';
    const idempotent = commands.every((a) => !NOT_IDEMPOTENT.has(a));
    return withRetry(() => sendOnce(base, url, init, label), opts.policy, {
      retryable: (err) =>
        err instanceof FerryError &&
        err.kind === 'transient' &&
        (idempotent || !(err instanceof AmbiguousOutcomeError)),
      onFailure: (err, _attempt, willRetry) => {
        if (willRetry) opts.onRetry?.(label, err);
      },
    });
  };
}

async function sendOnce(
  base: MegaFetch,
  url: string,
  init: RequestInit | undefined,
  label: string,
): Promise<Response> {
  let response: Response;
  try {
    response = await base(url, init);
  } catch (err) {
    throw lost(err, label);
  }
  // A hashcash challenge: megajs solves it and asks again by itself.
  if (response.headers.get('x-hashcash')) return response;
  if (isTransientHttpStatus(response.status) || response.statusText === 'Server Too Busy') {
    await response.body?.cancel().catch(() => undefined);
    const message = `MEGA API command ${label} answered HTTP ${response.status}`;
    // 503 and 429 say the command was turned away; a 500, 502 or 504 may come after it was done.
    const refused =
      response.status === 503 || response.status === 429 || response.statusText === 'Server Too Busy';
    throw refused
      ? new FerryError('transient', 'destination', message)
      : new AmbiguousOutcomeError('destination', message);
  }
  if (!response.ok) return response;
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw lost(err, label);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (err) {
    throw new AmbiguousOutcomeError('destination', `MEGA API command ${label}: the answer was cut`, {
      cause: err,
    });
  }
  const code = tryAgainCode(answer);
  if (code !== null) {
    throw new FerryError(
      'transient',
      'destination',
      `MEGA API command ${label} answered ${code === -3 ? 'EAGAIN (-3)' : 'ERATELIMIT (-4)'}: try again`,
    );
  }
  return new Response(text, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** A failed exchange: not sent at all (safe to repeat), or sent with its answer lost (ambiguous). */
function lost(err: unknown, label: string): FerryError {
  const detail =
    err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  if (isNotSentError(err)) {
    return new FerryError('transient', 'destination', `MEGA API is unreachable (${detail})`, { cause: err });
  }
  return new AmbiguousOutcomeError(
    'destination',
    `MEGA API command ${label}: the answer was lost (${detail})`,
    {
      cause: err,
    },
  );
}

/** −3 or −4 for the whole request, or for every command in it. */
function tryAgainCode(answer: unknown): number | null {
  if (typeof answer === 'number') return isMegaTryAgain(answer) ? answer : null;
  if (Array.isArray(answer) && answer.length > 0) {
    const codes = answer.filter((a): a is number => typeof a === 'number' && isMegaTryAgain(a));
    if (codes.length === answer.length) return codes[0] as number;
  }
  return null;
}

function commandNames(body: unknown): string[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed = JSON.parse(body) as unknown;
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.map((c) => String((c as { a?: unknown } | null)?.a ?? '?'));
  } catch {
    return [];
  }
}
