/**
 * The headless host: the REST API of SPEC.md over the one service, live events as Server-Sent
 * Events, and the built renderer at `/`. A thin adapter: every route validates with the shared
 * schemas inside the service and maps errors to status codes in one place (`httpError`).
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { FerryApi } from '../../shared/api';
import type { FerryEvent } from '../../shared/contract';
import { FerryError, InputError, redactSecrets } from '../engine/errors';
import { ConflictError, NotFoundError } from '../service/ferry-service';

export interface HostOptions {
  host: string;
  port: number;
  /** The bearer token; generated when absent. */
  token?: string;
  /** The built renderer (index.html and assets); not served when missing. */
  uiDir?: string;
  /** Log level for the request log (pino); the token is never logged. */
  logLevel?: string;
  /** Seconds between SSE heartbeats. */
  heartbeatSeconds?: number;
}

export interface RunningHost {
  url: string;
  uiUrl: string;
  token: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares tokens in constant time (hashing first makes the lengths equal). */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The one mapping from failures to HTTP status codes and `{ error }` bodies. */
function httpError(err: unknown): { status: number; error: string } {
  if (err instanceof InputError) return { status: 400, error: err.message };
  if (err instanceof NotFoundError) return { status: 404, error: err.message };
  if (err instanceof ConflictError) return { status: 409, error: err.message };
  if (err instanceof RangeError) return { status: 400, error: err.message }; // e.g. a bad cursor
  if (err instanceof FerryError) {
    if (err.kind === 'not_found') return { status: 404, error: redactSecrets(err.message) };
    if (err.kind === 'auth' || err.kind === 'transient' || err.kind === 'quota') {
      return { status: 502, error: redactSecrets(err.message) };
    }
  }
  const fastifyErr = err as Partial<FastifyError>;
  if (
    fastifyErr.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    fastifyErr.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
  ) {
    return { status: 400, error: 'malformed JSON body' };
  }
  if (fastifyErr.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, error: 'send JSON (Content-Type: application/json)' };
  }
  if (
    typeof fastifyErr.statusCode === 'number' &&
    fastifyErr.statusCode >= 400 &&
    fastifyErr.statusCode < 500
  ) {
    return { status: fastifyErr.statusCode, error: redactSecrets(fastifyErr.message ?? 'bad request') };
  }
  return {
    status: 500,
    error: 'internal error: ' + redactSecrets(err instanceof Error ? err.message : String(err)),
  };
}

export async function startHost(api: FerryApi, options: HostOptions): Promise<RunningHost> {
  const token = options.token || generateToken();
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'warn',
      redact: ['req.headers.authorization'],
      serializers: {
        // Paths only: query strings (the event stream's access_token) never reach the log.
        req: (req: FastifyRequest) => ({ method: req.method, url: req.url.split('?')[0] }),
      },
    },
    // Event streams stay open; closing the host ends them instead of waiting for them.
    forceCloseConnections: true,
    bodyLimit: 4 * 1024 * 1024,
  });

  app.setErrorHandler((err, _req, reply) => {
    const { status, error } = httpError(err);
    if (status >= 500) app.log.error({ err: redactSecrets(String(err)) }, 'request failed');
    void reply.code(status).send({ error });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  // Every /api route but /api/health needs the token: `Authorization: Bearer …`, or for the
  // event stream (EventSource cannot send headers) `?access_token=…`.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/') || path === '/api/health') return;
    const header = req.headers.authorization ?? '';
    let given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!given && path === '/api/events') {
      given = new URLSearchParams(req.url.split('?')[1] ?? '').get('access_token') ?? '';
    }
    if (!given || !tokenMatches(given, token)) {
      return reply.code(401).send({ error: 'missing or wrong token: send Authorization: Bearer <token>' });
    }
  });

  app.get('/api/health', () => api.health());

  app.post('/api/batches', async (req, reply) => {
    const started = await api.startBatch(req.body ?? {});
    return reply.code(202).send(started);
  });
  app.get('/api/batches', () => api.listBatches());
  app.get<{ Params: { id: string } }>('/api/batches/:id', (req) => api.getBatch(req.params.id));
  app.post<{ Params: { id: string } }>('/api/batches/:id/cancel', (req) => api.cancelBatch(req.params.id));
  app.post<{ Params: { id: string } }>('/api/batches/:id/retry', async (req, reply) => {
    const result = await api.retryBatch(req.params.id);
    return reply.code(202).send(result);
  });
  app.get('/api/files', (req) => api.listFiles(req.query));
  app.get('/api/s3/buckets', () => api.listBuckets());
  app.get('/api/s3/objects', (req) => api.listObjects(req.query));
  app.get('/api/settings', () => api.getSettings());
  app.put('/api/settings', (req) => api.saveSettings(req.body ?? {}));
  app.post('/api/settings/test', (req) => api.testConnection(req.body ?? {}));

  const heartbeatMs = (options.heartbeatSeconds ?? 15) * 1000;
  app.get('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n: connected\n\n');
    const send = (event: FerryEvent) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const off = api.onEvent(send);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      off();
    });
  });

  if (options.uiDir && existsSync(options.uiDir)) {
    await app.register(fastifyStatic, { root: options.uiDir, index: 'index.html', wildcard: false });
  }

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${shownHost}:${port}`;
  return {
    url,
    uiUrl: `${url}/#token=${token}`,
    token,
    app,
    close: async () => {
      await app.close();
    },
  };
}
