/**
 * FerryClient over the headless host's REST API (SPEC.md "REST API") and its Server-Sent Events.
 * Errors carry the `{ error }` text of the response as their message.
 */
import type { FerryEvent } from '../../../shared/contract';
import type { ConnectionState, FerryClient } from './client';

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Builds `?a=1&b=2` from a query object, leaving out empty and absent values. */
export function queryString(query: unknown): string {
  const params = new URLSearchParams();
  if (query && typeof query === 'object') {
    for (const [k, v] of Object.entries(query as Record<string, unknown>)) {
      if (v === undefined || v === null || v === '') continue;
      params.set(k, String(v));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const EVENT_TYPES: FerryEvent['type'][] = ['progress', 'file', 'batch'];

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
      throw new HttpError('cannot reach the MegaFerry host (is `megaferry serve` still running?)', 0);
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
      throw new HttpError(typeof error === 'string' && error ? error : `HTTP ${res.status}`, res.status);
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
    source = new EventSource(`${base}/api/events?access_token=${encodeURIComponent(token)}`);
    source.onopen = () => setState('connected');
    source.onerror = () =>
      setState(source?.readyState === EventSource.CLOSED ? 'disconnected' : 'connecting');
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (msg) => {
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

  const id = (batchId: string) => encodeURIComponent(batchId);
  return {
    transport: 'http',
    startBatch: (request_) => request('POST', '/api/batches', request_ ?? {}),
    getBatch: (batchId) => request('GET', `/api/batches/${id(batchId)}`),
    listBatches: () => request('GET', '/api/batches'),
    cancelBatch: (batchId) => request('POST', `/api/batches/${id(batchId)}/cancel`),
    retryBatch: (batchId) => request('POST', `/api/batches/${id(batchId)}/retry`),
    listFiles: (query) => request('GET', `/api/files${queryString(query)}`),
    listBuckets: () => request('GET', '/api/s3/buckets'),
    listObjects: (query) => request('GET', `/api/s3/objects${queryString(query)}`),
    health: () => request('GET', '/api/health'),
    getSettings: () => request('GET', '/api/settings'),
    saveSettings: (patch) => request('PUT', '/api/settings', patch ?? {}),
    testConnection: (req) => request('POST', '/api/settings/test', req ?? {}),
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
