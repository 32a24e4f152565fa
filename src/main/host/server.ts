/**
 * The headless host: the REST API of SPEC.md over the one service, live events as Server-Sent
 * Events, and the built renderer at `/`. A thin adapter: the routes come from the one table of
 * shared/http-routes.ts, each checking the token itself when it needs one; every route validates
 * with the shared schemas inside the service; errors map to status codes in one place.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { FERRY_API_METHODS, type FerryApi } from '../../shared/api';
import type { FerryEvent } from '../../shared/contract';
import { ERROR_KIND_TABLE } from '../../shared/error-kinds';
import { API_PREFIX, EVENTS_PATH, HTTP_ROUTES, type HttpRoute } from '../../shared/http-routes';
import { API_SECURITY_POLICY, HOSTED_UI_SECURITY_POLICY } from '../../shared/web-policy';
import { apiErrorKind, redactSecrets } from '../engine/errors';
import { sourceProblemOf, type SourceProblem } from '../../shared/source-problems';

export interface HostOptions {
  host: string;
  port: number;
  /** The bearer token; generated when absent. */
  token?: string;
  /** The built renderer (index.html and assets); not served when missing. */
  uiDir?: string;
  /** Log level for the request log (pino); the token is never logged. */
  logLevel?: string;
  /** Where log records go (pino JSON lines; default stdout), e.g. ./log-lines.ts's human lines. */
  logStream?: { write(line: string): void };
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
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A JSON body that would reach an object's prototype. */
class ProtoKeyError extends Error {
  constructor() {
    super('JSON body must not use "__proto__" or "constructor.prototype" keys');
  }
}

/** The largest request body (JSON) the host reads. */
export const BODY_LIMIT = 4 * 1024 * 1024;

/** Fastify's own refusals of a request, as `{ status, error }`; null when `err` is not one. */
function requestRefusal(err: unknown): { status: number; error: string } | null {
  const e = err as Partial<FastifyError>;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, error: 'malformed JSON body' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        error: `request body too large: at most ${BODY_LIMIT / 1024 / 1024} MiB of JSON`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 415, error: 'send JSON (Content-Type: application/json)' };
    default:
      break;
  }
  if (e instanceof ProtoKeyError) return { status: 400, error: e.message };
  // Fastify's JSON parser refuses "__proto__" and "constructor.prototype" keys with a 400.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, error: redactSecrets(e.message ?? 'bad request') };
  }
  return null;
}

/** The one mapping from failures to HTTP status codes and `{ error }` bodies (shared/error-kinds.ts). */
export function httpError(err: unknown): { status: number; error: string; problem?: SourceProblem } {
  const refusal = requestRefusal(err);
  if (refusal) return refusal;
  const kind = apiErrorKind(err);
  const message = redactSecrets(err instanceof Error ? err.message : String(err));
  if (kind === 'unexpected') return { status: 500, error: `internal error: ${message}` };
  // What a person can do about an S3 failure, for the UI to say in its language.
  const problem = sourceProblemOf(err);
  return { status: ERROR_KIND_TABLE[kind].http, error: message, ...(problem ? { problem } : {}) };
}

const UNAUTHORIZED = { error: 'missing or wrong token: send Authorization: Bearer <token>' };

/**
 * Whether a URL the router found no route for names something under /api however it is spelled
 * (percent-encoding, repeated slashes, dot segments, backslashes, trailing dots, upper case): such
 * a request learns nothing, not even that a route is missing, without the token.
 */
export function looksLikeApiPath(rawUrl: string): boolean {
  let path = rawUrl.split('?')[0] ?? '';
  for (let i = 0; i < 3; i++) {
    try {
      const decoded = decodeURIComponent(path);
      if (decoded === path) break;
      path = decoded;
    } catch {
      return true; // undecodable: refuse rather than guess
    }
  }
  const normalized = posix
    .normalize('/' + path.replace(/\\/g, '/'))
    .split('/')
    .map((segment) => segment.replace(/[.\s]+$/, ''))
    .join('/')
    .toLowerCase()
    .replace(/\/+/g, '/');
  return (
    normalized === API_PREFIX ||
    normalized.startsWith(API_PREFIX + '/') ||
    normalized.startsWith(API_PREFIX + '.')
  );
}

export async function startHost(api: FerryApi, options: HostOptions): Promise<RunningHost> {
  const token = options.token || generateToken();
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'warn',
      ...(options.logStream ? { stream: options.logStream } : {}),
      redact: ['req.headers.authorization'],
      serializers: {
        // Paths only: query strings (the event stream's access_token) never reach the log.
        req: (req: FastifyRequest) => ({ method: req.method, url: req.url.split('?')[0] }),
      },
    },
    // Event streams stay open; closing the host ends them instead of waiting for them.
    forceCloseConnections: true,
    bodyLimit: BODY_LIMIT,
  });

  // JSON bodies only. A POST that carries no body is accepted whatever its Content-Type (generic
  // fetch wrappers always send application/json); "__proto__" keys are refused, as Fastify does.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(req, text, (err, value) => {
      if (!err) return done(null, value);
      // Valid JSON that the parser still refused: it used "__proto__" or "constructor.prototype".
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      done(valid ? new ProtoKeyError() : err, undefined);
    });
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    if (Buffer.isBuffer(body) && body.length === 0) return done(null, undefined);
    const err = Object.assign(new Error('send JSON (Content-Type: application/json)'), { statusCode: 415 });
    done(err, undefined);
  });

  app.setErrorHandler((err, _req, reply) => {
    const { status, error, problem } = httpError(err);
    if (status >= 500) app.log.error({ err: redactSecrets(String(err)) }, 'request failed');
    void reply.code(status).send(problem ? { error, problem } : { error });
  });

  /** The token of a request: the Bearer header, or for the event stream `?access_token=`. */
  const givenToken = (req: FastifyRequest, queryToken: boolean): string => {
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer (.+)$/i.exec(header)?.[1]?.trim() ?? '';
    if (bearer || !queryToken) return bearer;
    const query = req.query as Record<string, unknown> | undefined;
    const value = query?.access_token;
    return typeof value === 'string' ? value : '';
  };
  const authorized = (req: FastifyRequest, queryToken = false) => {
    const given = givenToken(req, queryToken);
    return given !== '' && tokenMatches(given, token);
  };

  // Authentication is decided where routing is: a route of the table that needs the token carries
  // the check itself, so whatever spelling of a path the router resolves to it, the check runs.
  const requireToken = (queryToken: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    // Returning the reply ends the request here: the route's handler never runs.
    if (!authorized(req, queryToken)) return reply.code(401).send(UNAUTHORIZED);
    return undefined;
  };

  app.setNotFoundHandler((req, reply) => {
    if (looksLikeApiPath(req.url) && !authorized(req)) return reply.code(401).send(UNAUTHORIZED);
    return reply
      .code(404)
      .send({ error: `no route ${req.method} ${(req.url.split('?')[0] ?? '').slice(0, 200)}` });
  });

  // Security headers on every answer; API answers are never cached.
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    // The route the router chose says it (no second decoding of the path); every refusal is JSON.
    const isApi =
      (req.routeOptions.url ?? '').startsWith(API_PREFIX + '/') ||
      reply.getHeader('content-type')?.toString().startsWith('application/json');
    reply.header('Content-Security-Policy', isApi ? API_SECURITY_POLICY : HOSTED_UI_SECURITY_POLICY);
    if (isApi) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  for (const method of FERRY_API_METHODS) {
    const route: HttpRoute = HTTP_ROUTES[method];
    const call = api[method] as (...args: unknown[]) => Promise<unknown>;
    app.route({
      method: route.method,
      url: API_PREFIX + route.path,
      ...(route.access === 'token' ? { onRequest: requireToken(false) } : {}),
      handler: async (req, reply) => {
        const args: unknown[] =
          route.argument === 'body'
            ? [req.body ?? {}]
            : route.argument === 'query'
              ? [{ ...(req.query as object) }]
              : route.argument === 'id'
                ? [(req.params as { id: string }).id]
                : [];
        // `"dry_run": true` asks for the plan of a request, answered by the route's dry-run method.
        const dry = route.dryRun && isDryRun(args[0]) ? route.dryRun : null;
        if (dry) {
          const plan = await (api[dry] as (a: unknown) => Promise<unknown>).call(api, args[0]);
          return reply.code(HTTP_ROUTES[dry].status).send(plan);
        }
        const result = await call.apply(api, args);
        return reply.code(route.status).send(result);
      },
    });
  }

  const heartbeatMs = (options.heartbeatSeconds ?? 15) * 1000;
  app.get(
    API_PREFIX + EVENTS_PATH,
    { onRequest: requireToken(true), exposeHeadRoute: false },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Content-Security-Policy': API_SECURITY_POLICY,
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
    },
  );

  if (options.uiDir && existsSync(options.uiDir)) {
    // Only the files in the built UI's folder, each a route of its own (no wildcard, no dotfiles).
    await app.register(fastifyStatic, {
      root: options.uiDir,
      index: 'index.html',
      wildcard: false,
      dotfiles: 'deny',
      serveDotFiles: false,
    });
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

function isDryRun(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { dry_run?: unknown }).dry_run === true;
}
