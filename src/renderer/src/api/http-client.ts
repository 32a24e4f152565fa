/**
 * FerryClient over the headless host's REST API (SPEC.md "REST API") and its Server-Sent Events.
 * Errors carry the `{ error }` text of the response as their message.
 */
import { FERRY_API_METHODS, type FerryApi, type FerryApiMethod } from '../../../shared/api';
import type { FerryEvent } from '../../../shared/contract';
import { API_PREFIX, EVENTS_PATH, HTTP_ROUTES, requestFor } from '../../../shared/http-routes';
import type { ConnectionState, FerryClient } from './client';
import { i18n } from '../i18n';
import { sourceProblemOf, type SourceProblem } from '../../../shared/source-problems';

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** What a person can do about an S3 failure, when the host says (shared/source-problems.ts). */
    readonly problem: SourceProblem | null = null,
  ) {
    super(message);
  }
}

const EVENT_TYPES: FerryEvent['type'][] = ['progress', 'file', 'batch', 'hold'];
/** Wait before a new event stream when the browser closed the last one. */
const RECONNECT_MS = 3000;

export function createHttpClient(token: string, base = ''): FerryClient {
  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new HttpError(i18n.t('app.unreachable'), 0);
    }
    const text = await res.text();
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const error = (data as { error?: unknown } | null)?.error;
      throw new HttpError(
        typeof error === 'string' && error ? error : i18n.t('app.httpStatus', { status: res.status }),
        res.status,
        sourceProblemOf(data),
      );
    }
    return data as T;
  }

  const listeners = new Set<(e: FerryEvent) => void>();
  const connectionListeners = new Set<(s: ConnectionState) => void>();
  let state: ConnectionState = 'connecting';
  let source: EventSource | null = null;

  const setState = (next: ConnectionState) => {
    if (next === state && next !== 'connected') return;
    state = next;
    for (const l of connectionListeners) l(next);
  };

  /** One EventSource for all listeners, opened with the first and kept while any remains. */
  function ensureStream() {
    if (source) return;
    source = new EventSource(`${base}${API_PREFIX}${EVENTS_PATH}?access_token=${encodeURIComponent(token)}`);
    const stream = source;
    stream.onopen = () => setState('connected');
    stream.onerror = () => {
      if (stream.readyState !== EventSource.CLOSED) return setState('connecting');
      // The browser gave up (an answer that was not an event stream): open a new one shortly.
      setState('disconnected');
      stream.close();
      if (source === stream) source = null;
      setTimeout(ensureStream, RECONNECT_MS);
    };
    for (const type of EVENT_TYPES) {
      stream.addEventListener(type, (msg) => {
        let event: FerryEvent;
        try {
          event = JSON.parse((msg as MessageEvent<string>).data) as FerryEvent;
        } catch {
          return;
        }
        for (const l of listeners) l(event);
      });
    }
  }

  // Every API method from the one route table (shared/http-routes.ts), as the host registers them.
  const methods = Object.fromEntries(
    FERRY_API_METHODS.map((method) => {
      const route = HTTP_ROUTES[method];
      return [
        method,
        (arg?: unknown) => {
          const { path, body } = requestFor(route, arg);
          return request(route.method, path, body);
        },
      ];
    }),
  ) as unknown as Pick<FerryApi, FerryApiMethod>;
  return {
    ...methods,
    transport: 'http',
    onEvent(listener) {
      listeners.add(listener);
      ensureStream();
      return () => listeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      ensureStream();
      listener(state);
      return () => connectionListeners.delete(listener);
    },
  };
}
