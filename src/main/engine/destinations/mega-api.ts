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
 *
 * The requests go through node:http(s) with keep-alive (`nodeHttpFetch`), not the global fetch:
 * fetch would load undici (its own HTTP stack and llhttp in WebAssembly), which costs every
 * process that talks to MEGA tens of MB and a tenth of a CPU-second at start-up, for a few small
 * JSON requests. The answers are the small part of the Fetch Response that megajs and this file
 * read (`MegaResponse`).
 */
import http from 'node:http';
import https from 'node:https';
import {
  AmbiguousOutcomeError,
  FerryError,
  isMegaTryAgain,
  isNotSentError,
  isTransientHttpStatus,
} from '../errors';
import { withRetry, type RetryPolicy } from '../retry';

/** What megajs passes to its `fetch`: a method, headers, a JSON body, sometimes a signal. */
export interface MegaRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal | null;
}

/** The part of a Fetch Response that megajs (`headers.get`, `ok`, `statusText`, `json()`) and this file read. */
export interface MegaResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** Lets the answer go unread. */
  discard(): void;
}

/** The fetch megajs calls: (url, init) → an answer whose body is read once. */
export type MegaFetch = (input: string | URL, init?: MegaRequestInit) => Promise<MegaResponse>;

/** Commands that create something: a repeat after a lost answer could create it twice. */
const NOT_IDEMPOTENT = new Set(['p', 'pp', 'xp']);

export interface MegaTransportOptions {
  policy: RetryPolicy;
  /** The underlying fetch (default: `nodeHttpFetch`). */
  fetch?: MegaFetch;
  /** Sees each failed try that will be repeated (tests count them). */
  onRetry?: (command: string, err: unknown) => void;
}

export function megaApiFetch(opts: MegaTransportOptions): MegaFetch {
  const base: MegaFetch = opts.fetch ?? nodeHttpFetch;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input.href;
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
  init: MegaRequestInit | undefined,
  label: string,
): Promise<MegaResponse> {
  let response: MegaResponse;
  try {
    response = await base(url, init);
  } catch (err) {
    throw lost(err, label);
  }
  // A hashcash challenge: megajs solves it and asks again by itself (it reads no body).
  if (response.headers.get('x-hashcash')) {
    response.discard();
    return response;
  }
  if (isTransientHttpStatus(response.status) || response.statusText === 'Server Too Busy') {
    response.discard();
    const message = `MEGA API command ${label} answered HTTP ${response.status}`;
    // 503 and 429 say the command was turned away; a 500, 502 or 504 may come after it was done.
    const refused =
      response.status === 503 || response.status === 429 || response.statusText === 'Server Too Busy';
    throw refused
      ? new FerryError('transient', 'destination', message)
      : new AmbiguousOutcomeError('destination', message);
  }
  if (!response.ok) {
    response.discard(); // megajs reads only the status
    return response;
  }
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
  return textResponse(response, text);
}

/** An answer whose body was read already, as `text`. */
function textResponse(from: MegaResponse, text: string): MegaResponse {
  return {
    ok: from.ok,
    status: from.status,
    statusText: from.statusText,
    headers: from.headers,
    text: () => Promise.resolve(text),
    json: () => Promise.resolve(JSON.parse(text) as unknown),
    discard: () => undefined,
  };
}

/** How long an API request's socket may stay silent (nothing sent, nothing answered) before it counts as lost. */
const API_IDLE_TIMEOUT_MS = 120_000;

/**
 * Keep-alive for API requests. The socket timeout applies to idle pooled sockets (the agent closes
 * them), and Node lowers it to one second under the server's `Keep-Alive: timeout=N` hint, so a
 * request is not sent on a socket the server is about to close.
 */
const apiAgents = {
  http: new http.Agent({ keepAlive: true, timeout: 30_000 }),
  https: new https.Agent({ keepAlive: true, timeout: 30_000 }),
};

/**
 * A MEGA API request over node:http(s): the answer once its headers are in; its body is read by
 * `text()` / `json()`. Network failures reject with Node's own error (its `code` says whether the
 * request left: errors.ts).
 */
export const nodeHttpFetch: MegaFetch = (input, init = {}) =>
  new Promise<MegaResponse>((resolve, reject) => {
    const target = typeof input === 'string' ? new URL(input) : input;
    const secure = target.protocol === 'https:';
    const body = init.body ?? '';
    const req = (secure ? https : http).request(
      target,
      {
        method: init.method ?? 'GET',
        agent: secure ? apiAgents.https : apiAgents.http,
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: init.signal ?? undefined,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let read: Promise<string> | null = null;
        const text = (): Promise<string> =>
          (read ??= new Promise<string>((done, fail) => {
            const parts: Buffer[] = [];
            res.on('data', (part: Buffer) => parts.push(part));
            res.on('end', () => done(Buffer.concat(parts).toString('utf8')));
            res.on('error', fail);
            res.on('close', () => {
              if (!res.complete) fail(Object.assign(new Error('the answer was cut'), { code: 'ECONNRESET' }));
            });
          }));
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: res.statusMessage ?? '',
          headers: {
            get: (name) => {
              const value = res.headers[name.toLowerCase()];
              return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
            },
          },
          text,
          json: async () => JSON.parse(await text()) as unknown,
          discard: () => {
            if (!read) res.resume();
          },
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(API_IDLE_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error('no answer from the MEGA API'), { code: 'ETIMEDOUT' })),
    );
    req.end(body);
  });

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
