/**
 * The generic binding of the one FerryApi to IPC, without electron (so it is unit-tested): a call
 * is a method name from FERRY_API_METHODS and an argument list; the answer is an Envelope, never
 * a thrown error, with secrets redacted from any error message.
 */
import type { FerryApi, FerryApiMethod } from '../../shared/api';
import { type Envelope, isFerryApiMethod, unknownMethodMessage } from '../../shared/ipc';
import { apiErrorKind, redactSecrets } from '../engine/errors';
import { sourceProblemOf } from '../../shared/source-problems';

/** What the dispatcher calls: the service, or anything with the same request methods. */
export type ApiTarget = Pick<FerryApi, FerryApiMethod>;

/** The most arguments any FerryApi method takes; more is a malformed call. */
const MAX_ARGS = 4;

/** One short line for the renderer: the error's message, secrets redacted, no stack. */
export function errorToMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : 'unexpected error';
  const line = redactSecrets(raw || (err instanceof Error ? err.name : 'unexpected error'));
  return line.length > 1000 ? `${line.slice(0, 1000)}…` : line;
}

/**
 * Makes the handler of the one API channel. `target` is awaited at every call, so calls made
 * while the service is still opening wait for it, and a service that failed to open answers
 * every call with the reason it failed.
 */
export function createDispatcher(target: () => ApiTarget | Promise<ApiTarget>) {
  return async function dispatch(method: unknown, args: unknown): Promise<Envelope> {
    if (!isFerryApiMethod(method)) return { ok: false, error: unknownMethodMessage(method), kind: 'input' };
    if (args !== undefined && !Array.isArray(args)) {
      return { ok: false, error: `${method}: arguments must be a list`, kind: 'input' };
    }
    const list: unknown[] = args ?? [];
    if (list.length > MAX_ARGS) return { ok: false, error: `${method}: too many arguments`, kind: 'input' };
    try {
      const api = await target();
      const fn = api[method] as (...a: unknown[]) => Promise<unknown>;
      if (typeof fn !== 'function') return { ok: false, error: unknownMethodMessage(method), kind: 'input' };
      const value = await fn.apply(api, list);
      return { ok: true, value };
    } catch (err) {
      const problem = sourceProblemOf(err);
      return {
        ok: false,
        error: errorToMessage(err),
        kind: apiErrorKind(err),
        ...(problem ? { problem } : {}),
      };
    }
  };
}
