/**
 * A seeded fault-injecting HTTP proxy for tests, in front of a real peer (s3rver, or the MEGA
 * peer's gateway). Every request is forwarded unchanged (Host header included: mega-mock builds
 * its upload URLs from it, so chunk POSTs come back through this proxy too), except that a share
 * of them, drawn from a PRNG seeded with `seed`, meets a fault:
 *
 * - `503`: answered 503 Service Unavailable; the peer never sees the request;
 * - `reset`: the connection is reset before the request is forwarded (the peer did nothing);
 * - `cut`: the peer acts and answers; its answer is cut half-way and the connection reset;
 * - `lost`: the peer acts and answers; the whole answer is dropped and the connection reset;
 * - `eagain`: MEGA API commands (`/cs`) only: answered `-3` (EAGAIN) without forwarding; on any
 *   other request it is a `503`;
 * - `overquota` (only when `decide` asks for it): a MEGA API command answered `-17` (EOVERQUOTA);
 * - `denied` (only when `decide` asks for it): answered 403 AccessDenied as S3 answers a request
 *   the keys may not make (a ListBuckets refused by a bucket-scoped policy); the peer never sees it.
 *
 * The seed fixes the sequence of draws, not which request gets which draw (that depends on the
 * order requests arrive in, i.e. on timing): a failing run is reproduced in kind, not to the byte.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind = '503' | 'reset' | 'cut' | 'lost' | 'eagain' | 'overquota' | 'denied';

export const ALL_FAULTS: readonly FaultKind[] = ['503', 'reset', 'cut', 'lost', 'eagain'];

export interface ProxiedRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface FaultRecord {
  method: string;
  /** The path without its query (no session ids in test output). */
  path: string;
  /** What MEGA API commands the request carried (`/cs` only). */
  commands?: string[];
  fault: FaultKind;
}

export interface FaultProxyOptions {
  /** The peer's address, e.g. `http://127.0.0.1:4568/`. */
  target: string;
  seed: number;
  /** Share of requests that meet a fault, 0–1 (default 0: only `decide` injects). */
  rate?: number;
  kinds?: readonly FaultKind[];
  /**
   * Picks the fault of one request before the dice do: a kind, `null` for none, `undefined` to let
   * the dice decide. Tests aim at one request with it (the last chunk, the node command).
   */
  decide?: (req: ProxiedRequest) => FaultKind | null | undefined;
}

export interface FaultProxy {
  /** The proxy's address, same form as the target's (trailing slash kept). */
  url: string;
  seed: number;
  /** Every fault injected so far, in order. */
  faults: FaultRecord[];
  /** Requests seen so far. */
  requests(): number;
  setRate(rate: number): void;
  setDecide(decide: FaultProxyOptions['decide'] | null): void;
  /** One line for test output: the seed, the requests and the faults by kind. */
  summary(): string;
  stop(): Promise<void>;
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const random = seededRandom(opts.seed);
  const kinds = opts.kinds ?? ALL_FAULTS;
  let rate = opts.rate ?? 0;
  let decide = opts.decide ?? null;
  let seen = 0;
  const faults: FaultRecord[] = [];
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: true });

  const draw = (req: ProxiedRequest): FaultKind | null => {
    const chosen = decide?.(req);
    // Two draws per request, always: the sequence stays the same whatever `decide` does.
    const hit = random() < rate;
    const pick = kinds[Math.floor(random() * kinds.length)] ?? null;
    if (chosen !== undefined) return chosen;
    return hit ? pick : null;
  };

  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => {
      req.socket.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req);
    const proxied: ProxiedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
    };
    seen++;
    const path = proxied.url.split('?')[0] ?? '/';
    const isCommand = path.endsWith('/cs');
    let fault = draw(proxied);
    if ((fault === 'eagain' || fault === 'overquota') && !isCommand) fault = '503';
    if (fault) {
      faults.push({
        method: proxied.method,
        path,
        fault,
        ...(isCommand ? { commands: commandNames(body) } : {}),
      });
    }
    if (fault === '503') {
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': '19', connection: 'close' });
      res.end('Service Unavailable');
      return;
    }
    if (fault === 'denied') {
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>' +
        '<RequestId>fault-proxy</RequestId></Error>';
      res.writeHead(403, {
        'content-type': 'application/xml',
        'content-length': String(Buffer.byteLength(xml)),
      });
      res.end(req.method === 'HEAD' ? undefined : xml);
      return;
    }
    if (fault === 'eagain' || fault === 'overquota') {
      const answer = fault === 'eagain' ? '-3' : '[-17]';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(answer.length) });
      res.end(answer);
      return;
    }
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    const answer = await forward(proxied, req);
    if (fault === 'lost' || (fault === 'cut' && (answer.body.length < 2 || req.method === 'HEAD'))) {
      req.socket.destroy();
      return;
    }
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    if (req.method !== 'HEAD' && answer.status !== 204 && answer.status !== 304) {
      headers['content-length'] = String(answer.body.length);
    }
    res.writeHead(answer.status, headers);
    if (fault === 'cut') {
      res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)), () => req.socket.destroy());
      return;
    }
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  function forward(
    proxied: ProxiedRequest,
    req: IncomingMessage,
  ): Promise<{ status: number; headers: OutgoingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: proxied.method,
          path: proxied.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          readAll(answer).then(
            (data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }),
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(proxied.body);
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  const url = `${target.protocol}//127.0.0.1:${port}${opts.target.endsWith('/') ? '/' : ''}`;

  return {
    url,
    seed: opts.seed,
    faults,
    requests: () => seen,
    setRate(next) {
      rate = next;
    },
    setDecide(next) {
      decide = next ?? null;
    },
    summary() {
      const byKind = new Map<string, number>();
      for (const f of faults) byKind.set(f.fault, (byKind.get(f.fault) ?? 0) + 1);
      const parts = [...byKind].map(([kind, n]) => `${kind} ${n}`).join(', ');
      return `seed ${opts.seed}: ${faults.length} faults in ${seen} requests (${parts || 'none'})`;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function commandNames(body: Buffer): string[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return (Array.isArray(parsed) ? parsed : [parsed]).map((c) => String((c as { a?: unknown } | null)?.a));
  } catch {
    return [];
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
