/**
 * The REST API of the headless host, declared once and keyed by API method (as IPC is by
 * FERRY_API_METHODS): the host registers its routes from this table, and the browser's HTTP
 * client builds its calls from it. Pure: no Node, no DOM.
 */
import type { FerryApiMethod } from './api';

/** Where a method's one argument comes from in the request (or none). */
export type RouteArgument = 'none' | 'body' | 'id' | 'query';

export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT';
  /** Under API_PREFIX; `:id` is the batch id. */
  path: string;
  argument: RouteArgument;
  /** The status of a success. */
  status: 200 | 202;
  /** `public`: answered without the token (health only). */
  access: 'token' | 'public';
  /** A body with `"dry_run": true` is answered by this method instead (a plan, nothing changed). */
  dryRun?: FerryApiMethod;
}

export const API_PREFIX = '/api';

export const HTTP_ROUTES = {
  health: { method: 'GET', path: '/health', argument: 'none', status: 200, access: 'public' },
  startBatch: {
    method: 'POST',
    path: '/batches',
    argument: 'body',
    status: 202,
    access: 'token',
    dryRun: 'planBatch',
  },
  planBatch: { method: 'POST', path: '/batches/plan', argument: 'body', status: 200, access: 'token' },
  listBatches: { method: 'GET', path: '/batches', argument: 'none', status: 200, access: 'token' },
  getOverview: { method: 'GET', path: '/overview', argument: 'none', status: 200, access: 'token' },
  getBatch: { method: 'GET', path: '/batches/:id', argument: 'id', status: 200, access: 'token' },
  cancelBatch: { method: 'POST', path: '/batches/:id/cancel', argument: 'id', status: 200, access: 'token' },
  pauseBatch: { method: 'POST', path: '/batches/:id/pause', argument: 'id', status: 200, access: 'token' },
  resumeBatch: { method: 'POST', path: '/batches/:id/resume', argument: 'id', status: 200, access: 'token' },
  retryBatch: { method: 'POST', path: '/batches/:id/retry', argument: 'id', status: 202, access: 'token' },
  moveBatchToFront: {
    method: 'POST',
    path: '/batches/:id/front',
    argument: 'id',
    status: 200,
    access: 'token',
  },
  pauseFiles: { method: 'POST', path: '/files/pause', argument: 'body', status: 200, access: 'token' },
  resumeFiles: { method: 'POST', path: '/files/resume', argument: 'body', status: 200, access: 'token' },
  clearFinished: {
    method: 'POST',
    path: '/batches/clear-finished',
    argument: 'none',
    status: 200,
    access: 'token',
  },
  showCleared: {
    method: 'POST',
    path: '/batches/show-cleared',
    argument: 'none',
    status: 200,
    access: 'token',
  },
  pauseAll: { method: 'POST', path: '/pause-all', argument: 'none', status: 200, access: 'token' },
  resumeAll: { method: 'POST', path: '/resume-all', argument: 'none', status: 200, access: 'token' },
  listFiles: { method: 'GET', path: '/files', argument: 'query', status: 200, access: 'token' },
  listBuckets: { method: 'GET', path: '/s3/buckets', argument: 'none', status: 200, access: 'token' },
  listObjects: { method: 'GET', path: '/s3/objects', argument: 'query', status: 200, access: 'token' },
  listWorkers: { method: 'GET', path: '/workers', argument: 'none', status: 200, access: 'token' },
  getSettings: { method: 'GET', path: '/settings', argument: 'none', status: 200, access: 'token' },
  saveSettings: { method: 'PUT', path: '/settings', argument: 'body', status: 200, access: 'token' },
  testConnection: { method: 'POST', path: '/settings/test', argument: 'body', status: 200, access: 'token' },
} as const satisfies Record<FerryApiMethod, HttpRoute>;

/** The live event stream (Server-Sent Events); the one route that also takes `?access_token=`. */
export const EVENTS_PATH = '/events';

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

/** The URL path and body of a call to `route` with the API method's one argument. */
export function requestFor(route: HttpRoute, arg: unknown): { path: string; body?: unknown } {
  const path = API_PREFIX + route.path;
  switch (route.argument) {
    case 'none':
      return { path };
    case 'id':
      return { path: path.replace(':id', encodeURIComponent(String(arg))) };
    case 'query':
      return { path: path + queryString(arg) };
    case 'body':
      return { path, body: arg ?? {} };
  }
}
