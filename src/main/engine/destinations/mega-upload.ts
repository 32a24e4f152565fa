/**
 * The fast upload of one file to a MEGA upload URL: the body is cut at MEGA's chunk boundaries,
 * each piece of it MACed and CTR-encrypted by OpenSSL in this thread as it arrives (mega-crypto's
 * UploadEncryptor) into a reused chunk buffer, and up to `connections` chunk POSTs run at once.
 * Memory is bounded by (connections + 1) chunks whatever the size, since the body is read only as
 * fast as chunks are sent.
 *
 * Resumable: an UploadSession (URL, key, nonce, MACs of the done chunks) is handed to
 * `onCheckpoint` as the contiguous prefix of confirmed chunks grows; given back, the upload goes
 * on from `next_offset` with a body that starts there.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CancelledError,
  FerryError,
  isMegaTryAgain,
  isNetworkError,
  isNotSentError,
  isTransientHttpStatus,
  ResumeRejectedError,
} from '../errors';
import { withRetry, type RetryPolicy } from '../retry';
import { Http1Client } from '../../platform/http1';
import { raiseMallocThresholds } from '../../platform/malloc-thresholds';
import { collectYoungGarbage } from '../../platform/young-gc';
import {
  chunkBoundaries,
  condenseMac,
  MacFolder,
  nodeKey,
  UploadEncryptor,
  type ChunkRange,
} from './mega-crypto';

/** What is needed to go on with an upload later. It holds the file key: store it encrypted. */
export interface UploadSession {
  upload_url: string;
  /** base64 of the 16-byte AES key. */
  key: string;
  /** base64 of the 8-byte nonce. */
  nonce: string;
  size: number;
  /** End of the last chunk of the done prefix (0 when none is done). */
  next_offset: number;
  /** Chunks [0, chunks_done) are confirmed by MEGA. */
  chunks_done: number;
  /** base64 of the running file MAC over those chunks' MACs (16 zero bytes when none). */
  mac_state: string;
  /**
   * base64 of the completion token, once every chunk is at MEGA (only in the final checkpoint):
   * resuming such a session reads no body and goes straight to making the node.
   */
  upload_handle?: string;
}

/** The part of megajs's API the uploader needs (`storage.api`). */
export interface MegaApiLike {
  request(json: Record<string, unknown>): Promise<unknown>;
}

export interface UploadChunksOptions {
  api: MegaApiLike;
  size: number;
  /** Plaintext, starting at `session.next_offset` when resuming (else at 0). */
  body: Readable;
  signal: AbortSignal;
  /** Chunk POSTs at once for this file (default 4). */
  connections?: number;
  /** Bytes of the file confirmed by MEGA so far, the resumed prefix included. */
  onProgress?: (bytesConfirmed: number) => void;
  session?: UploadSession | null;
  /** Awaited, at most about once per `checkpointIntervalMs`, when the done prefix grew; and at the end. */
  onCheckpoint?: (session: UploadSession) => void | Promise<void>;
  checkpointIntervalMs?: number;
  /** A checkpoint is also due each time the done prefix grew by this many bytes (default 64 MiB). */
  checkpointBytes?: number;
  /** Tries of one chunk POST (the first included), with backoff and jitter between them. */
  retry: RetryPolicy;

  /** How a chunk is POSTed (default: node:http with keep-alive); tests wrap it to watch or hold POSTs. */
  post?: ChunkPoster;
}

export interface UploadResult {
  /** The completion token the last chunk POST answered with. */
  uploadHandle: Buffer;
  /** The 32-byte node key (key ⊕ nonce‖MAC, nonce, condensed MAC). */
  key: Buffer;
  session: UploadSession;
}

/**
 * MEGA no longer takes a resumed session (its upload URL is refused, or the session does not fit
 * the file): start the file over with a new session. A ResumeRejectedError, which the engine
 * already handles that way.
 */
export class UploadUrlRejected extends ResumeRejectedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'UploadUrlRejected';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** An HTTP answer of a chunk POST that was not 200. */
class ChunkHttpError extends Error {
  constructor(readonly status: number) {
    super(`MEGA returned a ${status} status code`);
    this.name = 'ChunkHttpError';
  }
}

/** A negative MEGA error number as the body of a chunk POST (megajs's message, for classifying). */
class ChunkCodeError extends Error {
  constructor(readonly code: number) {
    super(`Server returned error ${code} while uploading`);
    this.name = 'ChunkCodeError';
  }
}

// ---------------------------------------------------------------------------------------------
// The upload

const DEFAULT_CONNECTIONS = 4;
const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
/**
 * Above 64 MiB/s a checkpoint is due every 64 MiB rather than every second: at most this much, or
 * a second's worth, is sent again after a crash (plus the chunks in flight). Each checkpoint is a
 * store write (with the embedded store an fsync that holds the event loop): every 8 MiB, as
 * before, made a 1 GiB upload write 128 of them.
 */
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;

/**
 * Bytes encrypted between the scavenges asked for (platform/young-gc.ts): the dead buffers of 4 MiB
 * moved (~16 MB) instead of the ~32 MB V8 lets pile up. Measured on a whole 1 GiB transfer: every
 * 4 MiB 4.4-5.2 CPU-s and 98-102 MiB peak RSS; 2 MiB the same; 1 MiB 4.9-5.1 s, 105-110 MiB;
 * 8 MiB and never 6.3-6.9 s, 122-139 MiB (the working set no longer fits the caches as well).
 */
const SCAVENGE_BYTES = 4 * 1024 * 1024;

/** Uploads one file's chunks to MEGA; resolves with the completion token and the node key. */
export function uploadChunks(opts: UploadChunksOptions): Promise<UploadResult> {
  const { signal, body } = opts;
  raiseMallocThresholds();
  if (signal.aborted) {
    body.destroy();
    return Promise.reject(new CancelledError());
  }
  // Aborts the POSTs in flight on cancel and on failure alike.
  const stop = new AbortController();
  return new Promise<UploadResult>((resolve, reject) => {
    let settled = false;
    const settle = (err: unknown, result?: UploadResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      if (err !== null) {
        body.destroy();
        reject(signal.aborted ? new CancelledError() : err);
      } else {
        resolve(result as UploadResult);
      }
    };
    function onAbort(): void {
      settle(new CancelledError());
    }
    signal.addEventListener('abort', onAbort, { once: true });
    let upload: ChunkUpload;
    try {
      upload = new ChunkUpload(opts, stop.signal);
    } catch (err) {
      settle(err);
      return;
    }
    upload
      .run()
      .then(
        (result) => settle(null, result),
        (err: unknown) => settle(err),
      )
      .finally(() => upload.dispose());
  });
}

class ChunkUpload {
  private readonly size: number;
  private readonly chunks: ChunkRange[];
  private readonly connections: number;
  private readonly poster: ChunkPoster;
  private readonly resumed: boolean;
  private session!: UploadSession;
  private key!: Buffer;
  private nonce!: Buffer;
  /** MAC of each chunk once MEGA confirmed it, until it is folded into `macState`. */
  private readonly macs: (Buffer | undefined)[] = [];
  /** Chunks [0, prefix) are confirmed. */
  private prefix = 0;
  /** Chunk buffers whose POST was answered, ready for the next chunks. */
  private readonly spare: Buffer[] = [];
  /** The largest chunk of the file: the size of every chunk buffer. */
  private readonly bufferSize: number;
  /** The running file MAC over the MACs of chunks [0, prefix). */
  private macState: Buffer = Buffer.alloc(16);
  /** Folds confirmed chunk MACs into `macState` (made at the first, from the state then). */
  private folder: MacFolder | null = null;
  private confirmedBytes = 0;
  private uploadHandle: Buffer | null = null;
  private lastCheckpointAt = 0;
  private checkpointing: Promise<void> = Promise.resolve();
  private checkpointedPrefix = -1;
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** Rejects when any chunk task fails: every wait races it. */
  private readonly failed: Promise<never>;
  private fail!: (err: unknown) => void;

  constructor(
    private readonly opts: UploadChunksOptions,
    private readonly stop: AbortSignal,
  ) {
    this.size = opts.size;
    if (!Number.isSafeInteger(this.size) || this.size < 0) {
      throw new FerryError('unexpected', 'engine', `not a file size: ${this.size}`);
    }
    this.chunks = chunkBoundaries(this.size);
    this.connections = Math.max(1, Math.floor(opts.connections ?? DEFAULT_CONNECTIONS));
    this.poster = opts.post ?? httpPost;
    this.bufferSize = this.chunks.reduce((most, c) => Math.max(most, c.end - c.start), 0);
    this.resumed = Boolean(opts.session);
    this.failed = new Promise<never>((_resolve, reject) => {
      this.fail = reject;
    });
    this.failed.catch(() => undefined);
  }

  async run(): Promise<UploadResult> {
    if (this.opts.session) this.resume(this.opts.session);
    else await this.begin();

    if (this.session.upload_handle) {
      // Every chunk reached MEGA before; only the node is missing.
      this.opts.body.resume();
      this.opts.onProgress?.(this.size);
      return this.result(Buffer.from(this.session.upload_handle, 'base64'));
    }
    if (this.size === 0) {
      // As megajs: one empty POST at offset 0 answers with the token.
      this.recordAnswer(await this.race(this.post(0, Buffer.alloc(0), true)));
      this.opts.body.resume();
    } else {
      await this.race(this.sendChunks());
    }
    if (!this.uploadHandle) {
      // A resumed upload MEGA had already completed (the crash fell between its last answer and
      // our checkpoint) gives no token again; nor does an upload whose closing chunk MEGA took
      // while missing an earlier one. Either way this URL will not give it: the file starts over.
      if (this.resumed) throw new UploadUrlRejected('MEGA did not complete the resumed upload');
      throw new UploadUrlRejected('MEGA gave no upload handle after the last chunk (Empty response)');
    }
    this.opts.onProgress?.(this.size);
    this.dispose();
    await this.race(this.checkpointing);
    this.session = { ...this.snapshot(), upload_handle: this.uploadHandle.toString('base64') };
    await this.race(Promise.resolve(this.opts.onCheckpoint?.(this.session)));
    return this.result(this.uploadHandle);
  }

  private result(handle: Buffer): UploadResult {
    // Every chunk is folded in by now (none for an empty file: its meta-MAC is 0^8).
    return {
      uploadHandle: handle,
      key: nodeKey(this.key, this.nonce, condenseMac(this.macState)),
      session: this.session,
    };
  }

  private async begin(): Promise<void> {
    this.key = randomBytes(16);
    this.nonce = randomBytes(8);
    const answer = (await this.race(
      this.opts.api.request({ a: 'u', ssl: 0, s: this.size, ms: 0, r: 0, e: 0, v: 2 }),
    )) as { p?: unknown } | null;
    if (!answer || typeof answer.p !== 'string') throw new Error('MEGA gave no upload URL (Empty response)');
    this.session = {
      upload_url: answer.p,
      key: this.key.toString('base64'),
      nonce: this.nonce.toString('base64'),
      size: this.size,
      next_offset: 0,
      chunks_done: 0,
      mac_state: this.macState.toString('base64'),
    };
  }

  private resume(session: UploadSession): void {
    const invalid = (why: string): never => {
      throw new UploadUrlRejected(`the saved upload session cannot be used: ${why}`);
    };
    const key = Buffer.from(session.key, 'base64');
    const nonce = Buffer.from(session.nonce, 'base64');
    if (key.length !== 16 || nonce.length !== 8) invalid('bad key or nonce');
    if (session.size !== this.size) invalid(`it is for ${session.size} bytes, not ${this.size}`);
    const done = session.chunks_done;
    if (!Number.isInteger(done) || done < 0 || done > this.chunks.length) invalid('chunks_done out of range');
    const expectedOffset = done === 0 ? 0 : (this.chunks[done - 1]?.end ?? 0);
    if (session.next_offset !== expectedOffset) invalid('next_offset does not end a chunk');
    const macState = Buffer.from(session.mac_state ?? '', 'base64');
    if (macState.length !== 16) invalid('bad MAC state');
    if (session.upload_handle !== undefined && done !== this.chunks.length) {
      invalid('an upload handle with chunks missing');
    }
    if (session.upload_handle === undefined && this.size > 0 && done === this.chunks.length) {
      invalid('every chunk was sent but the upload handle was not kept');
    }
    this.key = key;
    this.nonce = nonce;
    this.macState = macState;
    this.prefix = done;
    this.confirmedBytes = session.next_offset;
    this.checkpointedPrefix = done;
    this.session = { ...session };
  }

  /**
   * Reads the body piece by piece ('data' events: no copy and no promise per piece), MACs and
   * encrypts each piece into its chunk's buffer as it comes (one CTR cipher for the file), and
   * POSTs each chunk once it is full, never more than `connections` at once. A full chunk that
   * finds no free slot pauses the body, so S3 is read only as fast as chunks are sent: memory is
   * `connections` chunks in flight plus the one being filled. The closing chunk (the last) goes
   * alone, once every other one is confirmed: only its POST can complete the upload, so only its
   * answer carries the token, and a lost answer to any other chunk is safely sent again (MEGA
   * takes a chunk twice).
   */
  private sendChunks(): Promise<void> {
    const body = this.opts.body;
    const chunks = this.chunks;
    const encryptor = new UploadEncryptor(this.key, this.nonce, this.offsetAfter(this.prefix));
    const inFlight = new Set<Promise<void>>();
    /** The chunk being filled: its index, buffer and bytes in it. */
    let index = this.prefix;
    let buffer: Buffer | null = null;
    let filled = 0;
    /** A full chunk waiting for a free slot. */
    let waiting: ReadyChunk | null = null;
    /** Bytes of a piece not taken yet because a full chunk waits (the body is paused meanwhile). */
    let held: Buffer | null = null;
    let ended = false;
    let finished = false;
    let sinceScavenge = 0;

    return new Promise<void>((resolve, reject) => {
      const finish = (err: unknown): void => {
        if (finished) return;
        finished = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
        if (err === null) resolve();
        else {
          body.destroy();
          reject(err);
        }
      };

      /** Starts the waiting chunk's POST when a slot is free. */
      const launch = (): void => {
        if (!waiting) return;
        const limit = waiting.index === chunks.length - 1 ? 1 : this.connections;
        if (inFlight.size >= limit) return;
        const ready = waiting;
        waiting = null;
        const task = this.sendChunk(ready).then(
          () => {
            inFlight.delete(task);
            proceed();
          },
          (err: unknown) => {
            this.fail(err);
            finish(err);
          },
        );
        inFlight.add(task);
      };

      /** MACs and encrypts `bytes`; returns what is left when a full chunk must wait for a slot. */
      const feed = (bytes: Buffer): Buffer | null => {
        let at = 0;
        while (at < bytes.length) {
          if (waiting) {
            launch();
            if (waiting) return bytes.subarray(at);
          }
          const chunk = chunks[index];
          if (!chunk) throw longSource();
          const length = chunk.end - chunk.start;
          buffer ??= this.chunkBuffer();
          const take = Math.min(bytes.length - at, length - filled);
          encryptor.update(bytes.subarray(at, at + take), buffer, filled);
          filled += take;
          at += take;
          if (filled === length) {
            sinceScavenge += length;
            if (sinceScavenge >= SCAVENGE_BYTES) {
              sinceScavenge = 0;
              collectYoungGarbage();
            }
            waiting = { index, start: chunk.start, buffer, length, mac: encryptor.endChunk() };
            index++;
            buffer = null;
            filled = 0;
            launch();
          }
        }
        return null;
      };

      /** After a POST ended: start the waiting chunk, take the held bytes, read on, or end. */
      const proceed = (): void => {
        if (finished) return;
        try {
          launch();
          if (held && !waiting) held = feed(held);
        } catch (err) {
          finish(err);
          return;
        }
        if (!held && !waiting && !ended && body.isPaused()) body.resume();
        checkEnd();
      };

      const checkEnd = (): void => {
        if (!ended || held) return;
        if (index < chunks.length) finish(shortSource());
        else if (!waiting && inFlight.size === 0) finish(null);
      };

      function onData(piece: unknown): void {
        if (finished) return;
        try {
          held = feed(sourceBytes(piece));
        } catch (err) {
          finish(err);
          return;
        }
        if (held || waiting) body.pause();
      }
      function onEnd(): void {
        ended = true;
        checkEnd();
      }
      function onError(err: unknown): void {
        if (err instanceof FerryError) finish(err);
        else {
          const message = err instanceof Error ? err.message : String(err);
          finish(
            new FerryError('transient', 'source', `reading the source failed: ${message}`, { cause: err }),
          );
        }
      }
      function onClose(): void {
        // Destroyed before its end without an error: cut short.
        if (!ended) finish(shortSource());
      }

      body.on('data', onData);
      body.on('end', onEnd);
      body.on('error', onError);
      body.on('close', onClose);
      if (body.readableEnded) onEnd();
    });
  }

  /**
   * A buffer for the next chunk: buffers are reused once their chunk's POST is answered, so a long
   * upload allocates `connections` + 1 of them instead of one per MiB (memory stays flat).
   */
  private chunkBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }

  private async sendChunk(ready: ReadyChunk): Promise<void> {
    const { index, start, buffer, length, mac } = ready;
    const closing = index === this.chunks.length - 1;
    const answer = await this.post(start, buffer.subarray(0, length), closing);
    if (this.spare.length <= this.connections) this.spare.push(buffer);
    this.macs[index] = mac;
    this.confirmedBytes += length;
    this.recordAnswer(answer);
    if (!this.stop.aborted) this.opts.onProgress?.(this.confirmedBytes);
    this.advancePrefix();
  }

  /** A non-empty answer (not an error number: postOnce threw those) is the completion token. */
  private recordAnswer(answer: Buffer): void {
    if (answer.length === 0) return;
    this.uploadHandle = answer;
  }

  private advancePrefix(): void {
    const from = this.prefix;
    while (this.prefix < this.chunks.length && this.macs[this.prefix]) this.prefix++;
    if (this.prefix > from) {
      this.folder ??= new MacFolder(this.key, this.macState);
      for (let i = from; i < this.prefix; i++) {
        this.macState = this.folder.fold(this.macs[i] as Buffer);
        this.macs[i] = undefined; // kept only until folded
      }
    }
    this.maybeCheckpoint();
  }

  /**
   * Hands the grown prefix to `onCheckpoint`, at most once per interval: a growth inside the
   * interval is handed on when it ends (a trailing checkpoint), even if no chunk completes then.
   */
  private maybeCheckpoint(): void {
    const onCheckpoint = this.opts.onCheckpoint;
    if (!onCheckpoint || this.stop.aborted || this.prefix === this.chunks.length) return; // the end has its own
    if (this.prefix <= this.checkpointedPrefix) return;
    const interval = this.opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    const everyBytes = this.opts.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    const grown = this.offsetAfter(this.prefix) - this.offsetAfter(Math.max(0, this.checkpointedPrefix));
    const wait = grown >= everyBytes ? 0 : this.lastCheckpointAt + interval - Date.now();
    if (wait <= 0 && this.checkpointTimer) {
      clearTimeout(this.checkpointTimer);
      this.checkpointTimer = null;
    }
    if (this.checkpointTimer) return;
    if (wait > 0) {
      this.checkpointTimer = setTimeout(() => {
        this.checkpointTimer = null;
        this.maybeCheckpoint();
      }, wait);
      this.checkpointTimer.unref();
      return;
    }
    this.lastCheckpointAt = Date.now();
    this.checkpointedPrefix = this.prefix;
    const session = this.snapshot();
    this.session = session;
    this.checkpointing = this.checkpointing.then(() => onCheckpoint(session));
    this.checkpointing.catch((err: unknown) => this.fail(err));
  }

  /** Stops a pending trailing checkpoint (the upload ended). */
  dispose(): void {
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = null;
  }

  /** Where chunks [0, count) end. */
  private offsetAfter(count: number): number {
    return count === 0 ? 0 : (this.chunks[count - 1] as ChunkRange).end;
  }

  /** The session as of the done prefix. */
  private snapshot(): UploadSession {
    return {
      upload_url: this.session.upload_url,
      key: this.session.key,
      nonce: this.session.nonce,
      size: this.size,
      next_offset: this.offsetAfter(this.prefix),
      chunks_done: this.prefix,
      mac_state: this.macState.toString('base64'),
    };
  }

  /**
   * One chunk POST, tried again on its own (backoff with jitter) while the failure is transient:
   * HTTP 5xx/408/429, MEGA's −3/−4, a lost answer to a chunk that is not the closing one.
   */
  private post(offset: number, ciphertext: Buffer, closing: boolean): Promise<Buffer> {
    return withRetry(
      () => {
        if (this.stop.aborted) throw new CancelledError();
        return this.postOnce(offset, ciphertext, closing);
      },
      this.opts.retry,
      { signal: this.stop, retryable: isTransientChunkFailure },
    );
  }

  private async postOnce(offset: number, ciphertext: Buffer, closing: boolean): Promise<Buffer> {
    let response: { status: number; body: Buffer };
    try {
      response = await this.poster(`${this.session.upload_url}/${offset}`, ciphertext, this.stop);
    } catch (err) {
      if (this.stop.aborted) throw new CancelledError();
      if (closing && !isNotSentError(err)) {
        // MEGA may have taken the closing chunk and completed the upload: its token is lost for
        // good, and this URL will never give it again. Start over on a new one.
        const why = err instanceof Error ? err.message : String(err);
        throw new UploadUrlRejected(
          `the answer to the last chunk was lost (${why}); starting over on a new upload URL`,
          { cause: err },
        );
      }
      throw err;
    }
    if (response.status !== 200) {
      const err = new ChunkHttpError(response.status);
      if (this.resumed && isRefusal(err)) {
        throw new UploadUrlRejected(`MEGA refused the saved upload URL (${err.message})`, { cause: err });
      }
      throw err;
    }
    const code = errorNumber(response.body);
    if (code === null) return response.body;
    const err = new ChunkCodeError(code);
    if (isMegaTryAgain(code)) throw err;
    if (this.resumed || URL_GONE_CODES.has(code)) {
      throw new UploadUrlRejected(`MEGA refused the upload URL (${err.message})`, { cause: err });
    }
    throw err;
  }

  /** `promise`, unless a chunk task fails or the upload is stopped first. */
  private race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.failed]);
  }
}

/** POSTs one chunk; resolves with the answer's status and body. */
export type ChunkPoster = (
  url: string,
  body: Buffer,
  signal: AbortSignal,
) => Promise<{ status: number; body: Buffer }>;

/** How long a chunk POST's socket may stay silent before the POST counts as failed. */
const CHUNK_IDLE_TIMEOUT_MS = 120_000;

/**
 * The default chunk POST: the chunk written to a keep-alive socket as it is, the answer read by
 * platform/http1.ts (the chunk's buffer may be reused once this resolves: a server that answered
 * before taking the whole chunk does not get the rest, and its socket is not kept). Measured here
 * for 1 GiB of 1 MiB POSTs, four at once, to a sink in another process: 0.34 CPU-s against
 * 0.55-0.66 through node:http (with keep-alive agents), which had measured 659 MiB/s and 101 MiB
 * peak RSS against fetch's (undici) 366 MiB/s and 158 MiB. Failures are node:http's: ECONNRESET for
 * a reset or cut answer, ETIMEDOUT for a socket silent CHUNK_IDLE_TIMEOUT_MS, ECONNREFUSED, an
 * AbortError.
 */
const chunkClient = new Http1Client({ pieceBytes: 64 * 1024, silentMs: CHUNK_IDLE_TIMEOUT_MS });

export const httpPost: ChunkPoster = async (url, body, signal) => {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  if (!secure && target.protocol !== 'http:') throw new Error(`not an HTTP URL: ${target.protocol}`);
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const head = Buffer.from(
    `POST ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n` +
      `content-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n`,
    'latin1',
  );
  const answer = await chunkClient.collect(
    { secure, host, port: Number(target.port) || (secure ? 443 : 80) },
    head,
    body,
    signal,
  );
  return { status: answer.statusCode, body: answer.body };
};

/** 4xx answers (other than timeouts and rate limits) say the URL is gone; 5xx may pass. */
function isRefusal(err: unknown): boolean {
  if (err instanceof ChunkHttpError) {
    return err.status >= 400 && err.status < 500 && !isTransientHttpStatus(err.status);
  }
  return false;
}

/** MEGA's answers to a chunk that mean "this upload URL is done for; ask for a new one". */
const URL_GONE_CODES = new Set([-5, -6, -8]); // EFAILED, ETOOMANY, EEXPIRED

/** A chunk POST failure worth sending the same chunk again for. */
function isTransientChunkFailure(err: unknown): boolean {
  if (err instanceof FerryError) return false; // already decided (a refused URL, cancel)
  if (err instanceof ChunkHttpError) return isTransientHttpStatus(err.status);
  if (err instanceof ChunkCodeError) return isMegaTryAgain(err.code);
  return isNetworkError(err);
}

/** The negative MEGA error number a chunk's answer is, if it is one. */
function errorNumber(answer: Buffer): number | null {
  if (answer.length === 0 || answer.length > 8) return null;
  const text = answer.toString('utf8').trim();
  const code = Number(text);
  return text !== '' && Number.isInteger(code) && code < 0 ? code : null;
}

/** A full chunk, encrypted, with its MAC, ready to POST. */
interface ReadyChunk {
  index: number;
  start: number;
  /** Its ciphertext is `buffer[0, length)`. */
  buffer: Buffer;
  length: number;
  mac: Buffer;
}

/** A piece of the body as bytes (a view, never a copy). */
function sourceBytes(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (typeof piece === 'string') return Buffer.from(piece);
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  throw new FerryError('unexpected', 'source', 'the source gave something other than bytes');
}

function shortSource(): FerryError {
  return new FerryError('transient', 'source', 'the source gave fewer bytes than its announced size');
}

function longSource(): FerryError {
  return new FerryError('transient', 'source', 'the source gave more bytes than its announced size');
}
