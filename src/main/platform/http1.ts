/**
 * A small HTTP/1.1 client for the two requests that carry a transfer's bytes: S3's GetObject
 * (engine/sources/s3-object-get.ts) and MEGA's chunk POSTs (engine/destinations/mega-upload.ts).
 *
 * node:http costs those more than the bytes do: its client reads each socket read into a buffer of
 * its own and copies each piece of a body again (the HTTP parser's copy), and each request builds
 * an outgoing message, an agent slot, an abort listener and a parser. Measured here over 1 GiB:
 * an S3 GET read through node:http 1.31 CPU-s, the same read from the socket into one buffer 0.41;
 * 1 MiB POSTs four at once 0.55-0.66 through node:http, 0.34 written to the socket as they are
 * (`npm run bench:parts`, and a probe of the POSTs alone).
 *
 * Here a request's head is written as given (built and, for S3, signed by the caller) with its body
 * in one write; the answer's head is parsed here; its body, which must have a Content-Length (or,
 * for a collected body, be chunked), is read from the socket (its `onread`, TLS or not) straight into
 * buffers of our own: handed on whole as a stream (`stream`) or gathered (`collect`). Sockets are
 * kept per host for the next request (keep-alive), closed when idle a few seconds or as the server's
 * `Keep-Alive: timeout` says.
 *
 * Failures look like node:http's, so callers' retries and classifications stay as they were: a
 * reset or a cut answer is ECONNRESET, a silent socket ETIMEDOUT, a refused connection
 * ECONNREFUSED, an abort an AbortError. An idempotent request whose pooled socket turns out closed
 * by the server before any byte of the answer is sent again once, at once, on a new socket.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';

/** Where a request goes. */
export interface Http1Target {
  secure: boolean;
  host: string;
  port: number;
}

/** An answer: its status, headers (names in lower case; repeated ones joined by ", ") and body. */
export interface Http1Answer<Body> {
  statusCode: number;
  reason: string;
  headers: Record<string, string>;
  body: Body;
}

export interface Http1Options {
  /** A streamed body is handed on in buffers of this size (the last one as long as what is left). */
  pieceBytes: number;
  /** A socket silent this long while an answer is due fails the request (ETIMEDOUT). */
  silentMs: number;
}

/** The answer's head is read into a buffer of this size, grown up to HEAD_LIMIT if it must. */
const HEAD_BYTES = 16 * 1024;
const HEAD_LIMIT = 256 * 1024;
/** An idle socket is closed after this long unless the server's Keep-Alive says less. */
const KEEP_IDLE_MS = 4_000;
/** Idle sockets kept per host. */
const KEEP_PER_HOST = 8;

export class Http1Client {
  private readonly idle = new Map<string, Connection[]>();
  private destroyed = false;

  constructor(readonly options: Http1Options) {}

  /**
   * Sends `head` and resolves once the answer's head is in, with its body as a stream; 'unsupported'
   * when the answer has no Content-Length (the request was answered, and its socket closed).
   */
  async stream(
    target: Http1Target,
    head: Buffer,
    signal?: AbortSignal,
  ): Promise<Http1Answer<Readable> | 'unsupported'> {
    const answer = await this.send(target, head, null, signal, 'stream', true);
    return answer as Http1Answer<Readable> | 'unsupported';
  }

  /**
   * Sends `head` and `body` and resolves once the whole answer is in. `body` may be reused once
   * this settles: a server that answered before taking all of it does not get the rest.
   */
  async collect(
    target: Http1Target,
    head: Buffer,
    body: Buffer | null,
    signal?: AbortSignal,
    idempotent = false,
  ): Promise<Http1Answer<Buffer>> {
    const answer = await this.send(target, head, body, signal, 'collect', idempotent);
    if (answer === 'unsupported') throw netError('ECONNRESET', 'an answer without a length');
    return answer as Http1Answer<Buffer>;
  }

  destroy(): void {
    this.destroyed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.close();
    this.idle.clear();
  }

  private async send(
    target: Http1Target,
    head: Buffer,
    body: Buffer | null,
    signal: AbortSignal | undefined,
    mode: Mode,
    idempotent: boolean,
  ): Promise<Http1Answer<Readable | Buffer> | 'unsupported'> {
    const key = targetKey(target);
    for (let fresh = false; ; fresh = true) {
      if (signal?.aborted) throw abortError(signal);
      const pooled = fresh ? null : this.take(key);
      const connection = pooled ?? new Connection(target, key, this);
      const outcome = await connection.send(head, body, signal, mode);
      if (outcome !== 'stale') return outcome;
      if (fresh || !idempotent) throw netError('ECONNRESET', 'socket hang up');
    }
  }

  private take(key: string): Connection | null {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const connection = list.pop() as Connection;
      if (connection.takeFromPool()) return connection;
    }
    return null;
  }

  /** A connection whose answer is complete, ready for the next request. */
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
}

type Mode = 'stream' | 'collect';
type Outcome = Http1Answer<Readable | Buffer> | 'stale' | 'unsupported';

function targetKey(target: Http1Target): string {
  return `${target.secure ? 'https' : 'http'}://${target.host}:${target.port}`;
}

/** One socket, and the exchange (a request and its answer) on it now, if any. */
class Connection {
  private readonly socket: net.Socket;
  private exchange: Exchange | null = null;
  /** Where a read goes while no answer is due (a server's close, or bytes it should not send). */
  private readonly spare = Buffer.allocUnsafe(1024);
  private used = false;
  private dead = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    target: Http1Target,
    readonly key: string,
    private readonly client: Http1Client,
  ) {
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
    this.socket.setNoDelay(true);
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('error', (err) => this.end(err));
    this.socket.on('end', () => this.end(null));
    this.socket.on('close', () => this.end(null));
    this.socket.on('timeout', () =>
      this.socket.destroy(netError('ETIMEDOUT', 'the server sent nothing for too long')),
    );
  }

  /** Whether this pooled connection can carry a request (the server may have closed it). */
  takeFromPool(): boolean {
    this.clearIdle();
    return !this.dead && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  send(head: Buffer, body: Buffer | null, signal: AbortSignal | undefined, mode: Mode): Promise<Outcome> {
    const reused = this.used;
    this.used = true;
    this.socket.setTimeout(this.client.options.silentMs);
    const exchange = new Exchange(this, reused, signal, mode, this.client.options.pieceBytes);
    this.exchange = exchange;
    const written = (): void => exchange.written();
    if (body && body.length > 0) {
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(body, written);
      this.socket.uncork();
    } else {
      this.socket.write(head, written);
    }
    this.socket.resume();
    return exchange.outcome;
  }

  private onRead(bytes: number, into: Uint8Array): boolean {
    const exchange = this.exchange;
    if (!exchange) {
      // Bytes with no request out: the server is confused; this connection is done.
      this.socket.destroy();
      return false;
    }
    if (into === exchange.lent) return exchange.onRead(bytes);
    // Read into a buffer the exchange did not lend: the spare one, which the socket took for its
    // next read while no answer was due (the first read of an answer on a kept socket, or of one
    // whose socket connected before its request was out). Copied into the exchange's buffers.
    return this.copyIn(into.subarray(0, bytes));
  }

  /** Bytes that came as a 'data' event rather than into our buffers: copied into them. */
  private onData(data: Buffer): void {
    if (!this.copyIn(data)) this.socket.pause();
  }

  /** Copies `data` into the current exchange's buffers, as if read there; false: pause. */
  private copyIn(data: Uint8Array): boolean {
    let more = true;
    let at = 0;
    while (at < data.length && !this.socket.destroyed) {
      const exchange = this.exchange;
      if (!exchange) {
        this.socket.destroy();
        return false;
      }
      const into = exchange.nextBuffer();
      if (into.length === 0) {
        this.socket.destroy(netError('ECONNRESET', 'an answer longer than its Content-Length'));
        return false;
      }
      const bytes = Math.min(into.length, data.length - at);
      into.set(data.subarray(at, at + bytes));
      at += bytes;
      more = exchange.onRead(bytes);
    }
    return more;
  }

  /** The answer is complete: the socket may carry the next request, for `keepMs` at most. */
  finished(exchange: Exchange, keepMs: number): void {
    if (this.exchange !== exchange) return;
    this.exchange = null;
    if (keepMs <= 0 || this.dead) {
      this.close();
      return;
    }
    this.socket.setTimeout(0);
    this.idleTimer = setTimeout(() => this.close(), keepMs);
    this.idleTimer.unref();
    this.client.give(this);
  }

  /** Reading more of a streamed answer waits until its body is read on. */
  resume(): void {
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** Gives the socket up (an answer abandoned half-way, an abort, an error). */
  destroy(err?: Error): void {
    this.socket.destroy(err);
  }

  close(): void {
    this.dead = true;
    this.clearIdle();
    this.client.forget(this);
    this.socket.destroy();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private end(err: Error | null): void {
    this.dead = true;
    this.clearIdle();
    this.client.forget(this);
    const exchange = this.exchange;
    this.exchange = null;
    exchange?.broken(err);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** One request's answer: its head parsed, then its body read. */
class Exchange {
  readonly outcome: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;
  private fail!: (err: Error) => void;
  private settled = false;
  private head: Buffer | null = Buffer.allocUnsafe(HEAD_BYTES);
  private headFilled = 0;
  private answer: Http1Answer<unknown> | null = null;
  private stream: AnswerBody | null = null;
  /** A collected body's pieces (raw: chunked framing included when the answer is chunked). */
  private readonly gathered: Buffer[] = [];
  private chunked = false;
  private piece: Buffer | null = null;
  private pieceFilled = 0;
  /** Bytes of the body not read yet (for a chunked body: not known, Infinity). */
  private remaining = 0;
  private keepMs = KEEP_IDLE_MS;
  private requestWritten = false;
  private readonly onAbort: () => void;

  constructor(
    private readonly connection: Connection,
    private readonly reused: boolean,
    private readonly signal: AbortSignal | undefined,
    private readonly mode: Mode,
    private readonly pieceBytes: number,
  ) {
    this.outcome = new Promise((resolve, reject) => {
      this.settle = (outcome) => {
        this.settled = true;
        resolve(outcome);
      };
      this.fail = (err) => {
        this.settled = true;
        reject(err);
      };
    });
    this.onAbort = () => this.connection.destroy(abortError(this.signal as AbortSignal));
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The whole request (head and body) went to the socket. */
  written(): void {
    this.requestWritten = true;
  }

  /** The buffer last given for a read (nextBuffer's); a read into another one is copied in. */
  lent: Uint8Array | null = null;

  /** Where the next read goes: the rest of the head's buffer, then of the current piece. */
  nextBuffer(): Uint8Array {
    if (this.head) this.lent = this.head.subarray(this.headFilled);
    else {
      this.piece ??= Buffer.allocUnsafeSlow(Math.min(this.pieceBytes, this.remaining));
      this.lent = this.piece.subarray(this.pieceFilled);
    }
    return this.lent;
  }

  /** `bytes` were read into the buffer nextBuffer() lent last. False pauses the socket. */
  onRead(bytes: number): boolean {
    this.lent = null;
    if (this.head) return this.onHeadBytes(bytes);
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
        this.connection.destroy(netError('ECONNRESET', 'an answer head too long'));
        return false;
      }
      const larger = Buffer.allocUnsafe(head.length * 4);
      head.copy(larger, 0, 0, this.headFilled);
      this.head = larger;
      return true;
    }
    const parsed = parseHead(head.toString('latin1', 0, end));
    const extra = Buffer.from(head.subarray(end + 4, this.headFilled));
    this.head = null;
    if (!parsed) return this.unsupported();
    if (parsed.statusCode < 200) {
      // An interim answer (100 Continue, unasked for): the real one follows.
      this.head = Buffer.allocUnsafe(HEAD_BYTES);
      this.headFilled = 0;
      if (extra.length === 0) return true;
      this.head.set(extra, 0);
      return this.onHeadBytes(extra.length);
    }
    let length = bodyLength(parsed);
    if (length === null && this.mode === 'collect' && isChunked(parsed)) {
      this.chunked = true;
      length = Number.POSITIVE_INFINITY;
    }
    if (length === null) return this.unsupported();
    this.keepMs = parsed.keepMs;
    this.remaining = length;
    this.answer = {
      statusCode: parsed.statusCode,
      reason: parsed.reason,
      headers: parsed.headers,
      body: null,
    };
    if (this.mode === 'stream') {
      this.stream = new AnswerBody(this.connection, this, this.pieceBytes);
      this.answer.body = this.stream;
      // The abort still holds while the body is read (its listener goes at the body's end).
      this.settle(this.answer as Http1Answer<Readable>);
    }
    if (extra.length > this.remaining) {
      this.connection.destroy(netError('ECONNRESET', 'an answer longer than its Content-Length'));
      return false;
    }
    if (extra.length > 0) {
      this.piece = Buffer.allocUnsafeSlow(Math.min(this.pieceBytes, this.remaining));
      if (extra.length > this.piece.length) {
        // Only a chunked body (no length known) reads more than one piece's worth here.
        this.gathered.push(extra);
        this.piece = null;
        return this.chunkedDone();
      }
      extra.copy(this.piece, 0);
      this.pieceFilled = extra.length;
      this.remaining -= extra.length;
    }
    return this.pieceDone();
  }

  /** An answer this client does not take: said so, and its socket closed. */
  private unsupported(): boolean {
    this.done();
    this.settle('unsupported');
    this.connection.destroy();
    return false;
  }

  /** Hands on (or gathers) the current piece when full, and ends the body when every byte is in. */
  private pieceDone(): boolean {
    let more = true;
    if (this.piece && (this.pieceFilled === this.piece.length || (this.chunked && this.pieceFilled > 0))) {
      const full =
        this.pieceFilled === this.piece.length ? this.piece : this.piece.subarray(0, this.pieceFilled);
      if (this.stream) more = this.stream.push(full);
      else this.gathered.push(full);
      this.piece = null;
      this.pieceFilled = 0;
      if (this.chunked) return this.chunkedDone();
    }
    if (this.remaining === 0 && !this.piece) this.complete(this.gathered);
    return more;
  }

  /** A chunked (collected) body is complete at its last chunk: decode it, or read on. */
  private chunkedDone(): boolean {
    const decoded = decodeChunked(Buffer.concat(this.gathered));
    if (decoded === 'invalid') {
      this.connection.destroy(netError('ECONNRESET', 'a chunked answer not understood'));
      return false;
    }
    if (decoded === null) return true;
    this.remaining = 0;
    this.complete([decoded]);
    return true;
  }

  private complete(parts: Buffer[]): void {
    this.done();
    if (this.stream) this.stream.push(null);
    else if (this.answer) {
      this.answer.body = Buffer.concat(parts);
      this.settle(this.answer as Http1Answer<Buffer>);
    }
    // The server answered before taking all of the request's body: the socket goes with it.
    this.connection.finished(this, this.requestWritten ? this.keepMs : 0);
  }

  /** The connection ended (closed, reset, timed out, aborted) with this exchange on it. */
  broken(err: Error | null): void {
    this.done();
    const failure =
      err && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code)
        ? err
        : netError('ECONNRESET', err ? `the connection broke: ${err.message}` : 'socket hang up', err);
    if (this.stream) {
      if (this.remaining > 0 || this.piece) this.stream.destroy(failure);
    } else if (this.settled) {
      // already answered
    } else if (this.reused && this.headFilled === 0 && !this.answer && failure.name !== 'AbortError') {
      this.settle('stale');
    } else {
      this.fail(failure);
    }
  }

  /** A streamed body's reader gave it up before its end: this socket cannot carry another answer. */
  abandoned(): void {
    if (this.remaining > 0 || this.piece) this.connection.destroy();
  }

  private done(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** A streamed answer's body, in the pieces the socket was read into. */
class AnswerBody extends Readable {
  constructor(
    private readonly connection: Connection,
    private readonly exchange: Exchange,
    pieceBytes: number,
  ) {
    super({ highWaterMark: pieceBytes });
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
  /** How long the socket may be kept for the next request; 0: not at all. */
  keepMs: number;
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
  // `Keep-Alive: timeout=N`: the server closes an idle socket after N seconds; leave it a second
  // before (as node:http's agent does).
  const hint = /timeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
  const keepMs = !keepAlive ? 0 : hint ? Math.min(KEEP_IDLE_MS, Number(hint[1]) * 1000 - 1000) : KEEP_IDLE_MS;
  return { statusCode: Number(status[2]), reason: status[3] ?? '', headers, keepMs };
}

/** The body's length in bytes; null when it has none given (chunked, or until the close). */
function bodyLength(head: Head): number | null {
  if (head.statusCode === 204 || head.statusCode === 304) return 0;
  if (head.headers['transfer-encoding'] !== undefined) return null;
  const length = head.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return null;
  const n = Number(length);
  return Number.isSafeInteger(n) ? n : null;
}

function isChunked(head: Head): boolean {
  return /(^|,)\s*chunked\s*$/i.test(head.headers['transfer-encoding'] ?? '');
}

/** A whole chunked body's bytes; null while its last chunk has not come; 'invalid' if malformed. */
function decodeChunked(raw: Buffer): Buffer | null | 'invalid' {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return null;
    const size = Number.parseInt(raw.toString('latin1', at, eol).split(';')[0] ?? '', 16);
    if (!Number.isSafeInteger(size) || size < 0) return 'invalid';
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      return raw.indexOf('\r\n\r\n', eol, 'latin1') >= 0 ? Buffer.concat(parts) : null;
    }
    if (raw.length < eol + 2 + size + 2) return null;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export function netError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  const err = new Error(reason instanceof Error ? reason.message : 'The operation was aborted');
  err.name = 'AbortError';
  return err;
}
