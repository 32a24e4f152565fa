/**
 * GetObject's answer read straight from the socket into the buffers that the body hands on.
 *
 * The AWS SDK sends every request through node:http, whose client reads each socket read into a
 * buffer of its own, copies each piece of a body again (the HTTP parser's copy), and passes it on
 * in pieces of at most 64 KiB: for a large object that is two buffers of garbage per byte and a
 * stream event per 64 KiB. Measured here over 1 GiB: the S3 source 1.40 CPU-s, a plain node:http
 * GET 1.31, the same GET read from the socket into one buffer 0.41 (`npm run bench:parts`).
 *
 * This request handler wraps the SDK's own. GetObject (a GET whose query names it, `x-id`) is sent
 * here, signed by the SDK as any request (the handler gets it ready to send), over a socket of a
 * small keep-alive pool of its own: the answer's head is parsed here, and its body (it must have a
 * Content-Length, as S3's always does) is read from the socket straight into 128 KiB buffers, each
 * handed on whole to the body stream once full (a fresh one each time: whoever reads the body may
 * keep a piece). Every other request, and an answer without a length (chunked, or delimited by the
 * connection's close), goes the SDK's way; the GET is sent again there, as it is idempotent.
 *
 * Failures look like node:http's, so the SDK's retries and the source's classification treat them
 * the same: a connection reset or cut before the end is ECONNRESET, a silent socket ETIMEDOUT, an
 * abort an AbortError. A socket taken from the pool that turns out to be closed by the server
 * before any byte of the answer is replaced by a new one once, at once (as HTTP clients do for an
 * idempotent request on a reused connection).
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { S3Client } from '@aws-sdk/client-s3';

/** The SDK's request handler, and what it takes and gives (as the S3 client's config types them). */
type SdkHandler = S3Client['config']['requestHandler'];
type SdkRequest = Parameters<SdkHandler['handle']>[0];
type SdkOptions = Parameters<SdkHandler['handle']>[1];
type SdkOutput = Awaited<ReturnType<SdkHandler['handle']>>;
/** What the SDK's node:http handler has besides `handle` (@smithy/node-http-handler). */
interface HandlerExtras {
  updateHttpClientConfig?(key: unknown, value: unknown): void;
  httpHandlerConfigs?(): object;
}

/** The body goes on in buffers of this size (the last one as long as what is left). */
const PIECE_BYTES = 128 * 1024;
/** The answer's head is read into a buffer of this size, grown up to HEAD_LIMIT if it must. */
const HEAD_BYTES = 16 * 1024;
const HEAD_LIMIT = 256 * 1024;
/** A socket silent this long while an answer is due fails the read (as a chunk POST's). */
const SILENT_MS = 120_000;
/** An idle pooled socket is closed after this long (below servers' usual keep-alive timeouts). */
const KEEP_IDLE_MS = 4_000;
/** Idle sockets kept per host. */
const KEEP_PER_HOST = 8;

/** GetObject, as the SDK serializes it: `GET /{Key+}?x-id=GetObject`. */
function isGetObject(request: SdkRequest): boolean {
  const id = request.query?.['x-id'];
  return request.method === 'GET' && (id === 'GetObject' || (Array.isArray(id) && id.includes('GetObject')));
}

export class ObjectGetHandler {
  private readonly pool = new ConnectionPool();

  constructor(private readonly inner: SdkHandler) {}

  async handle(request: SdkRequest, options?: SdkOptions): Promise<SdkOutput> {
    const target = isGetObject(request) ? targetOf(request) : null;
    if (!target) return this.inner.handle(request, options);
    const signal = (options as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
    const head = requestHead(request, target);
    if (head === null) return this.inner.handle(request, options);
    let answer = await this.exchange(target, head, signal, true);
    if (answer === 'stale') answer = await this.exchange(target, head, signal, false);
    if (answer === 'stale') throw netError('ECONNRESET', 'S3 closed the connection before answering');
    // An answer without a length: the SDK's own way, from the start (a GET may be sent again).
    if (answer === 'unsupported') return this.inner.handle(request, options);
    return { response: answer } as SdkOutput;
  }

  private async exchange(
    target: Target,
    head: Buffer,
    signal: AbortSignal | undefined,
    mayReuse: boolean,
  ): Promise<Answer | 'stale' | 'unsupported'> {
    if (signal?.aborted) throw abortError(signal);
    const pooled = mayReuse ? this.pool.take(target.key) : null;
    const connection = pooled ?? new Connection(target, this.pool);
    return connection.send(head, signal);
  }

  updateHttpClientConfig(key: unknown, value: unknown): void {
    (this.inner as HandlerExtras).updateHttpClientConfig?.(key, value);
  }

  httpHandlerConfigs(): object {
    return (this.inner as HandlerExtras).httpHandlerConfigs?.() ?? {};
  }

  destroy(): void {
    this.pool.destroy();
    this.inner.destroy?.();
  }
}

interface Target {
  secure: boolean;
  host: string;
  port: number;
  /** protocol, host and port: the pool's key. */
  key: string;
}

function targetOf(request: SdkRequest): Target | null {
  const secure = request.protocol === 'https:';
  if (!secure && request.protocol !== 'http:') return null;
  if (request.username != null || request.password != null || request.body != null) return null;
  let host = request.hostname ?? '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!host) return null;
  const port = request.port ?? (secure ? 443 : 80);
  return { secure, host, port, key: `${secure ? 'https' : 'http'}://${host}:${port}` };
}

/** The request's head as the SDK made and signed it; null when it holds what HTTP cannot carry. */
function requestHead(request: SdkRequest, target: Target): Buffer | null {
  let path = request.path || '/';
  const query = request.query ? buildQueryString(request.query) : '';
  if (query) path += `?${query}`;
  const lines = [`GET ${path} HTTP/1.1`];
  let host = false;
  for (const [name, value] of Object.entries(request.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding') continue;
    if (lower === 'host') host = true;
    lines.push(`${name}: ${value}`);
  }
  if (!host) {
    const defaultPort = target.port === (target.secure ? 443 : 80);
    const name = target.host.includes(':') ? `[${target.host}]` : target.host;
    lines.push(`host: ${defaultPort ? name : `${name}:${target.port}`}`);
  }
  lines.push('connection: keep-alive', '', '');
  const text = lines.join('\r\n');
  // No line breaks inside a name or a value, and nothing outside Latin-1 (HTTP/1.1's bytes).
  if (/[^\t\x20-\xff\r\n]/.test(text) || text.split('\r\n').length !== lines.length) return null;
  return Buffer.from(text, 'latin1');
}

/** As the SDK builds a query (@smithy/core's buildQueryString): sorted, each part escaped. */
function buildQueryString(query: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const name = escapeUri(key);
    if (Array.isArray(value)) {
      for (const item of value) parts.push(`${name}=${escapeUri(item)}`);
    } else if (typeof value === 'string') {
      parts.push(`${name}=${escapeUri(value)}`);
    } else {
      parts.push(name);
    }
  }
  return parts.join('&');
}

function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The answer as the SDK's handlers give it (@smithy/core's HttpResponse has this shape). */
interface Answer {
  statusCode: number;
  reason: string;
  headers: Record<string, string>;
  body: Readable;
}

class ConnectionPool {
  private readonly idle = new Map<string, Connection[]>();
  private destroyed = false;

  take(key: string): Connection | null {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const connection = list.pop() as Connection;
      if (connection.takeFromPool()) return connection;
    }
    return null;
  }

  give(connection: Connection): void {
    const list = this.idle.get(connection.key) ?? [];
    if (this.destroyed || list.length >= KEEP_PER_HOST) {
      connection.close();
      return;
    }
    list.push(connection);
    this.idle.set(connection.key, list);
  }

  forget(connection: Connection): void {
    const list = this.idle.get(connection.key);
    const at = list?.indexOf(connection) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
  }

  destroy(): void {
    this.destroyed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.close();
    this.idle.clear();
  }
}

/** One socket, and the exchange (request and answer) it carries now, if any. */
class Connection {
  readonly key: string;
  private readonly socket: net.Socket;
  private exchange: Exchange | null = null;
  /** Where a read goes while no answer is due (a server's close, or bytes it should not send). */
  private readonly spare = Buffer.allocUnsafe(1024);
  private used = false;
  private dead = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    target: Target,
    private readonly pool: ConnectionPool,
  ) {
    this.key = target.key;
    const onread = {
      buffer: () => this.exchange?.nextBuffer() ?? this.spare,
      callback: (bytes: number, into: Uint8Array) => this.onRead(bytes, into),
    };
    // tls.connect takes `onread` as net.connect does (its types leave it out; Node 20 and 22 read
    // into the buffers given). Should a Node not, its bytes come as 'data' and are copied in.
    this.socket = target.secure
      ? tls.connect({
          host: target.host,
          port: target.port,
          servername: net.isIP(target.host) ? undefined : target.host,
          ALPNProtocols: ['http/1.1'],
          onread,
        } as tls.ConnectionOptions)
      : net.connect({ host: target.host, port: target.port, onread });
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.end(err));
    this.socket.on('end', () => this.end(null));
    this.socket.on('close', () => this.end(null));
    this.socket.on('timeout', () =>
      this.socket.destroy(netError('ETIMEDOUT', 'S3 sent nothing for too long')),
    );
  }

  /** Whether this pooled connection can carry a request (the server may have closed it). */
  takeFromPool(): boolean {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return !this.dead && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  send(head: Buffer, signal: AbortSignal | undefined): Promise<Answer | 'stale' | 'unsupported'> {
    const reused = this.used;
    this.used = true;
    this.socket.setTimeout(SILENT_MS);
    const exchange = new Exchange(this, reused, signal);
    this.exchange = exchange;
    this.socket.write(head);
    this.socket.resume();
    return exchange.answer;
  }

  private onRead(bytes: number, into: Uint8Array): boolean {
    const exchange = this.exchange;
    if (!exchange) {
      // Bytes with no request out: the server is confused; this connection is done.
      this.socket.destroy();
      return false;
    }
    return exchange.onRead(bytes, into);
  }

  /** Bytes that came as a 'data' event rather than into our buffers: copied into them. */
  private onData(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.socket.destroyed) {
      const into = this.exchange?.nextBuffer() ?? this.spare;
      if (into.length === 0) {
        this.socket.destroy(netError('ECONNRESET', 'S3 answer longer than its Content-Length'));
        return;
      }
      const bytes = Math.min(into.length, data.length - at);
      into.set(data.subarray(at, at + bytes));
      at += bytes;
      if (!this.onRead(bytes, into)) this.socket.pause();
    }
  }

  /** The answer's body has all its bytes: the socket may carry the next request. */
  finished(exchange: Exchange, keepAlive: boolean): void {
    if (this.exchange !== exchange) return;
    this.exchange = null;
    if (!keepAlive || this.dead) {
      this.close();
      return;
    }
    this.socket.setTimeout(0);
    this.idleTimer = setTimeout(() => this.close(), KEEP_IDLE_MS);
    this.idleTimer.unref();
    this.pool.give(this);
  }

  /** Reading more of this answer waits until the body is read on. */
  resume(): void {
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** Gives the socket up (an answer abandoned half-way, an abort, an error). */
  destroy(err?: Error): void {
    this.socket.destroy(err);
  }

  close(): void {
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.pool.forget(this);
    this.socket.destroy();
  }

  private end(err: Error | null): void {
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.pool.forget(this);
    const exchange = this.exchange;
    this.exchange = null;
    exchange?.broken(err);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** One request's answer: its head parsed, then its body read into pieces. */
class Exchange {
  readonly answer: Promise<Answer | 'stale' | 'unsupported'>;
  private settle!: (answer: Answer | 'stale' | 'unsupported') => void;
  private fail!: (err: Error) => void;
  private head: Buffer | null = Buffer.allocUnsafe(HEAD_BYTES);
  private headFilled = 0;
  private body: ObjectBody | null = null;
  private piece: Buffer | null = null;
  private pieceFilled = 0;
  /** Bytes of the body not read yet. */
  private remaining = 0;
  private keepAlive = true;
  private readonly onAbort: () => void;

  constructor(
    private readonly connection: Connection,
    private readonly reused: boolean,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.answer = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    this.onAbort = () => this.connection.destroy(abortError(this.signal as AbortSignal));
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Where the next read goes: the rest of the head's buffer, then of the current piece. */
  nextBuffer(): Uint8Array {
    if (this.head) return this.head.subarray(this.headFilled);
    this.piece ??= Buffer.allocUnsafeSlow(Math.min(PIECE_BYTES, this.remaining));
    return this.piece.subarray(this.pieceFilled);
  }

  /**
   * `bytes` were read into `into`: the buffer nextBuffer() gave, or, for the first read of an
   * answer on a pooled socket, the connection's spare one (the socket took its next buffer when
   * no answer was due). False pauses the socket.
   */
  onRead(bytes: number, into: Uint8Array): boolean {
    if (this.head) {
      if (into.buffer !== this.head.buffer) {
        const room = this.head.length - this.headFilled;
        if (bytes > room) {
          const larger = Buffer.allocUnsafe(Math.max(this.head.length * 4, this.headFilled + bytes));
          this.head.copy(larger, 0, 0, this.headFilled);
          this.head = larger;
        }
        this.head.set(into.subarray(0, bytes), this.headFilled);
      }
      return this.onHeadBytes(bytes);
    }
    if (into.buffer !== this.piece?.buffer) {
      this.connection.destroy(netError('ECONNRESET', 'S3 answer read into an unexpected buffer'));
      return false;
    }
    this.pieceFilled += bytes;
    this.remaining -= bytes;
    return this.pieceDone();
  }

  private onHeadBytes(bytes: number): boolean {
    const head = this.head as Buffer;
    const from = Math.max(0, this.headFilled - 3);
    this.headFilled += bytes;
    const end = head.subarray(0, this.headFilled).indexOf('\r\n\r\n', from, 'latin1');
    if (end < 0) {
      if (this.headFilled < head.length) return true;
      if (head.length >= HEAD_LIMIT) {
        this.connection.destroy(netError('ECONNRESET', 'S3 answer head too long'));
        return false;
      }
      const larger = Buffer.allocUnsafe(head.length * 4);
      head.copy(larger, 0, 0, this.headFilled);
      this.head = larger;
      return true;
    }
    const parsed = parseHead(head.toString('latin1', 0, end));
    const extra = head.subarray(end + 4, this.headFilled);
    this.head = null;
    if (!parsed) return this.unsupported();
    if (parsed.statusCode < 200) {
      // An interim answer (100 Continue, unasked for): the real one follows.
      this.head = Buffer.allocUnsafe(HEAD_BYTES);
      this.headFilled = 0;
      return extra.length === 0 ? true : this.onRestOfHead(extra);
    }
    const length = bodyLength(parsed);
    if (length === null) return this.unsupported();
    this.keepAlive = parsed.keepAlive;
    this.remaining = length;
    this.body = new ObjectBody(this.connection, this);
    this.settle({
      statusCode: parsed.statusCode,
      reason: parsed.reason,
      headers: parsed.headers,
      body: this.body,
    });
    if (extra.length > this.remaining) {
      this.connection.destroy(netError('ECONNRESET', 'S3 answer longer than its Content-Length'));
      return false;
    }
    if (extra.length > 0) {
      this.piece = Buffer.allocUnsafeSlow(Math.min(PIECE_BYTES, this.remaining));
      extra.copy(this.piece, 0);
      this.pieceFilled = extra.length;
      this.remaining -= extra.length;
    }
    return this.pieceDone();
  }

  /** An answer this reader does not take: the GET goes the SDK's way (see ObjectGetHandler). */
  private unsupported(): boolean {
    this.done();
    this.settle('unsupported');
    this.connection.destroy();
    return false;
  }

  /** Bytes of a head that came after an interim answer's, in the same read. */
  private onRestOfHead(extra: Buffer): boolean {
    (this.head as Buffer).set(extra, 0);
    return this.onHeadBytes(extra.length);
  }

  /** Hands on the current piece when it is full, ends the body when every byte is in. */
  private pieceDone(): boolean {
    const body = this.body as ObjectBody;
    let more = true;
    if (this.piece && this.pieceFilled === this.piece.length) {
      more = body.push(this.piece);
      this.piece = null;
      this.pieceFilled = 0;
    }
    if (this.remaining === 0 && !this.piece) {
      this.done();
      body.push(null);
      this.connection.finished(this, this.keepAlive);
      return true;
    }
    return more;
  }

  /** The connection ended (closed, reset, timed out, aborted) with this exchange on it. */
  broken(err: Error | null): void {
    this.done();
    const failure =
      err && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code)
        ? err
        : netError('ECONNRESET', `S3 closed the connection${err ? `: ${err.message}` : ''}`, err);
    if (this.body) {
      if (this.remaining > 0 || this.piece) this.body.destroy(failure);
    } else if (this.reused && this.headFilled === 0 && failure.name !== 'AbortError') {
      this.settle('stale');
    } else {
      this.fail(failure);
    }
  }

  /** The body's reader gave it up before its end: this socket cannot carry another answer. */
  abandoned(): void {
    if (this.remaining > 0 || this.piece) this.connection.destroy();
  }

  private done(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The object's bytes as a stream, in the pieces the socket was read into. */
class ObjectBody extends Readable {
  constructor(
    private readonly connection: Connection,
    private readonly exchange: Exchange,
  ) {
    super({ highWaterMark: PIECE_BYTES });
  }

  override _read(): void {
    this.connection.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.exchange.abandoned();
    callback(err);
  }
}

interface Head {
  statusCode: number;
  reason: string;
  headers: Record<string, string>;
  keepAlive: boolean;
}

function parseHead(text: string): Head | null {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const connection = (headers['connection'] ?? '').toLowerCase();
  const keepAlive = status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { statusCode: Number(status[2]), reason: status[3] ?? '', headers, keepAlive };
}

/** The body's length in bytes; null when it has none this reader takes (chunked, or until close). */
function bodyLength(head: Head): number | null {
  if (head.statusCode === 204 || head.statusCode === 304) return 0;
  if (head.headers['transfer-encoding'] !== undefined) return null;
  const length = head.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return null;
  const n = Number(length);
  return Number.isSafeInteger(n) ? n : null;
}

function netError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  const err = new Error(reason instanceof Error ? reason.message : 'Request aborted');
  err.name = 'AbortError';
  return err;
}
