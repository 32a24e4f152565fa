/**
 * The MEGA S4 destination: objects in a bucket of MEGA's S3-compatible object storage, through the
 * AWS SDK v3 (path-style, SigV4), with S4's stricter rules kept (MEGA's S4 specification,
 * meganz/s4-specs):
 *
 * - no `x-amz-checksum-*` header, ever (S4 does not support them): the SDK computes and validates
 *   checksums only where an operation requires one, and none that is used here does; every body
 *   is sent with its `Content-MD5` instead, which S4 checks (BadDigest);
 * - parts 1..N-1 of one size of at least 5 MiB, the last no larger, sent last, once every other
 *   part is confirmed; a part number is never sent twice (S4 refuses it): a part whose answer was
 *   lost is looked for with ListParts, and when S4 does not hold it the upload is aborted and the
 *   file starts over on a new upload (ResumeRejectedError);
 * - CompleteMultipartUpload succeeds once: when its answer is lost, a look at the object (our
 *   transfer id, the right size) tells whether it happened, instead of a second Complete;
 * - an account over its storage quota is answered 403 AccountProblem: kind `quota`.
 *
 * A checkpoint's state is `{ upload_id, part_size, key }`: the key because `abandon` gets only the
 * checkpoint and AbortMultipartUpload needs it (a state without it is looked up by upload id in
 * ListMultipartUploads). A cancel answers at once and leaves the multipart upload for a resume,
 * except a CompleteMultipartUpload already sent: it is left to end on its own (the object it makes
 * carries the transfer id, so a later look adopts it).
 *
 * Retries are ours, per request, under `requestRetry` (the SDK tries once), as for MEGA and S3.
 * Memory: at most `connections` part buffers, reused from part to part.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  AmbiguousOutcomeError,
  CancelledError,
  FerryError,
  isNetworkError,
  isNotSentError,
  isTransientHttpStatus,
  redactSecrets,
  ResumeRejectedError,
} from '../errors';
import type { Destination, DestinationNode, UploadCheckpoint, UploadRequest } from '../ports';
import { abortable, backoffDelay, sleep, withRetry, type RetryPolicy } from '../retry';
import { raiseMallocThresholds } from '../../platform/malloc-thresholds';
import { s4DestinationId } from './ids';

export interface S4Config {
  /** `https://s3.eu-central-1.s4.mega.io` (any S4 region answers for every bucket). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Tries of one request (a part, a Complete, a look) before the file's attempt fails. */
  requestRetry: RetryPolicy;
  /** Parts in flight per file. */
  connections: number;
  /** Bytes per part but the last: at least 5 MiB, default 8 MiB; raised in whole MiB past 10 000 parts. */
  partSize?: number;
  /** Files up to this size go in one PutObject (default: one part size). */
  multipartThreshold?: number;
}

const MiB = 1024 * 1024;
/** S4's smallest part but the last. */
export const S4_MIN_PART_SIZE = 5 * MiB;
export const S4_DEFAULT_PART_SIZE = 8 * MiB;
/** Part numbers run 1..10 000. */
export const S4_MAX_PARTS = 10_000;

/** The object metadata holding the transfer_id an object was written with (x-amz-meta-…). */
const TRANSFER_ID_METADATA = 'megaferry-transfer-id';

/** What S4 answers when the account is over its storage quota (403). */
const QUOTA_CODES = new Set(['AccountProblem']);

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidToken',
  'ExpiredToken',
  'AccessDenied',
  'Forbidden',
]);

const TRANSIENT_CODES = new Set([
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'TimeoutError',
  'ThrottlingException',
  // The SDK corrects its clock from the answer: the next try is signed with the right time.
  'RequestTimeTooSkewed',
  // The bytes were damaged on the way: S4 stored nothing, the same request may be sent again.
  'BadDigest',
]);

const CHECKPOINT_INTERVAL_MS = 1000;
/** A socket silent this long (nothing sent, nothing answered) fails the request. */
const REQUEST_IDLE_TIMEOUT_MS = 120_000;
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * The part size of a file: the configured one, raised in whole MiB when the file would need more
 * than 10 000 parts.
 */
export function s4PartSize(size: number, base: number = S4_DEFAULT_PART_SIZE): number {
  if (Math.ceil(size / base) <= S4_MAX_PARTS) return base;
  return Math.ceil(size / S4_MAX_PARTS / MiB) * MiB;
}

/** What a checkpoint's `state` holds for S4. */
interface S4UploadState {
  upload_id: string;
  part_size: number;
  /** The object key the upload is for (AbortMultipartUpload needs it). */
  key: string;
}

export class S4Destination implements Destination {
  readonly id: string;
  private readonly bucket: S4Bucket;
  /** The endpoint's host, to name it in messages (never a credential). */
  private readonly host: string;
  private readonly threshold: number;

  constructor(config: S4Config) {
    this.id = s4DestinationId(config.endpoint, config.bucket);
    this.host = new URL(config.endpoint).host;
    const partSize = config.partSize ?? S4_DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < S4_MIN_PART_SIZE) {
      throw new FerryError('config', 'destination', `S4 part size must be at least 5 MiB, not ${partSize}`);
    }
    this.threshold = config.multipartThreshold ?? partSize;
    // Idle pooled sockets close after 30 s, and a second before the server's Keep-Alive hint (Node
    // lowers the timeout to it): a part sent on a socket the server is closing would be a lost
    // answer, and a lost part answer S4 does not hold starts the file over.
    const agentOptions = { keepAlive: true, maxSockets: 64, timeout: 30_000 };
    const client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      // Our retries, per request (withRetry): the SDK tries each command once.
      maxAttempts: 1,
      // S4 supports no x-amz-checksum-* header: checksums only where an operation requires one.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: REQUEST_IDLE_TIMEOUT_MS,
        connectionTimeout: CONNECT_TIMEOUT_MS,
        httpAgent: new http.Agent(agentOptions),
        httpsAgent: new https.Agent(agentOptions),
      },
    });
    this.bucket = new S4Bucket(
      client,
      config.bucket,
      config.requestRetry,
      Math.max(1, Math.floor(config.connections)),
      partSize,
    );
  }

  /** Checks the bucket with the keys (HeadBucket). */
  async connect(): Promise<void> {
    const bucket = this.bucket;
    try {
      await bucket.request('bucket check', (abortSignal) =>
        bucket.client.send(new HeadBucketCommand({ Bucket: bucket.name }), { abortSignal }),
      );
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      if (err.kind === 'not_found' || errorName(err) === 'NoSuchBucket') {
        throw new FerryError(
          'config',
          'destination',
          `S4 bucket "${bucket.name}" not found at ${this.host}: check the bucket name and the endpoint`,
          { cause: err },
        );
      }
      if (err.kind === 'auth') {
        throw new FerryError(
          'auth',
          'destination',
          `S4 at ${this.host} did not accept the access keys for bucket "${bucket.name}" (${errorName(err)}): check the access key id and the secret`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  async find(path: string): Promise<DestinationNode[]> {
    const node = await this.bucket.head(path);
    return node ? [node] : [];
  }

  async upload(req: UploadRequest): Promise<DestinationNode> {
    const { body, signal } = req;
    if (signal.aborted) {
      body.destroy();
      throw new CancelledError();
    }
    raiseMallocThresholds();
    if (!Number.isSafeInteger(req.size) || req.size < 0) {
      body.destroy();
      throw new FerryError('unexpected', 'engine', `not a file size: ${req.size}`);
    }
    // An empty file is one PutObject whatever was saved (S4 refuses an empty part).
    if (req.size === 0 || (!req.resume && req.size <= this.threshold)) return this.bucket.putWhole(req);
    return new MultipartUpload(this.bucket, req).run();
  }

  /** Deletes the object; a missing one is fine. */
  async discard(handle: string): Promise<void> {
    const bucket = this.bucket;
    try {
      await bucket.request(`deletion of ${handle}`, (abortSignal) =>
        bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: handle }), { abortSignal }),
      );
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'not_found') return;
      throw err;
    }
  }

  /** Aborts the multipart upload of a cancelled transfer; one S4 no longer has is fine. */
  async abandon(checkpoint: UploadCheckpoint): Promise<void> {
    const state = checkpoint.state as Partial<S4UploadState>;
    const uploadId = state.upload_id;
    if (typeof uploadId !== 'string' || uploadId === '') return;
    const key = typeof state.key === 'string' ? state.key : await this.bucket.keyOfUpload(uploadId);
    if (key === null) return;
    await this.bucket.abortUpload(key, uploadId);
  }

  /** The object's bytes as stored, for `verify`; null when it is gone. */
  async readCopy(handle: string, signal: AbortSignal): Promise<Readable | null> {
    const bucket = this.bucket;
    try {
      const out = await bucket.request(
        `read of ${handle}`,
        (abortSignal) =>
          bucket.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: handle }), { abortSignal }),
        signal,
      );
      const body = out.Body as Readable | undefined;
      if (!body) throw new FerryError('unexpected', 'destination', `S4 returned no body for ${handle}`);
      return body;
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'not_found') return null;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.bucket.client.destroy();
  }
}

/** The bucket's client and the requests the destination and its uploads share. */
class S4Bucket {
  constructor(
    readonly client: S3Client,
    readonly name: string,
    /** Tries of one request. */
    readonly retry: RetryPolicy,
    /** Parts in flight per file. */
    readonly connections: number,
    private readonly partSize: number,
  ) {}

  /** The part size for a file of `size` bytes. */
  partSizeFor(size: number): number {
    return s4PartSize(size, this.partSize);
  }

  metadata(transferId: string): Record<string, string> {
    return { [TRANSFER_ID_METADATA]: transferId };
  }

  /**
   * One request, tried under `retry` while it fails transiently (an answer lost included: only
   * idempotent requests go through here), every failure classified once.
   */
  request<T>(
    what: string,
    send: (abortSignal?: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return withRetry(
      async () => {
        if (signal?.aborted) throw new CancelledError();
        try {
          return await send(signal);
        } catch (err) {
          if (signal?.aborted) throw new CancelledError();
          throw classifyS4Error(err, what);
        }
      },
      this.retry,
      { signal },
    );
  }

  /** The object at `key` as a node; null when there is none. */
  async head(key: string, signal?: AbortSignal): Promise<DestinationNode | null> {
    try {
      const out = await this.request(
        `look at ${key}`,
        (abortSignal) =>
          this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }), { abortSignal }),
        signal,
      );
      return {
        handle: key,
        size: out.ContentLength ?? 0,
        transfer_id: out.Metadata?.[TRANSFER_ID_METADATA] ?? null,
      };
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'not_found') return null;
      throw err;
    }
  }

  /** Aborts a multipart upload; NoSuchUpload (unknown, aborted or completed) is fine. */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.request(`abort of the upload of ${key}`, (abortSignal) =>
        this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }),
          {
            abortSignal,
          },
        ),
      );
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'not_found') return;
      throw err;
    }
  }

  /** A file small enough for one PutObject: read whole, sent with its Content-MD5. */
  async putWhole(req: UploadRequest): Promise<DestinationNode> {
    const { body, signal, size } = req;
    const reader = new BodyReader(body);
    const bytes = Buffer.allocUnsafe(size);
    try {
      await abortable(
        (async () => {
          await reader.take(size, (piece, at) => piece.copy(bytes, at));
          await reader.end();
        })(),
        signal,
      );
    } catch (err) {
      body.destroy();
      throw err;
    }
    const md5 = createHash('md5').update(bytes).digest('base64');
    // PutObject replaces the object whole: sending it again after a lost answer is safe.
    await this.request(
      `upload of ${req.path}`,
      (abortSignal) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.name,
            Key: req.path,
            Body: bytes,
            ContentLength: size,
            ContentMD5: md5,
            Metadata: this.metadata(req.transfer_id),
          }),
          { abortSignal },
        ),
      signal,
    );
    if (!signal.aborted) req.onProgress(size);
    return { handle: req.path, size, transfer_id: req.transfer_id };
  }

  /** The key of an open upload, from ListMultipartUploads (a checkpoint without its key). */
  async keyOfUpload(uploadId: string): Promise<string | null> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.request('list of open uploads', (abortSignal) =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.name,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
          { abortSignal },
        ),
      );
      const found = (page.Uploads ?? []).find((u) => u.UploadId === uploadId);
      if (found?.Key) return found.Key;
      if (!page.IsTruncated) return null;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
      if (!keyMarker && !uploadIdMarker) return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A multipart upload

interface ListedPart {
  etag: string;
  size: number;
}

/**
 * One file's multipart upload, new or resumed: parts read from the body into pooled buffers, up to
 * `connections` in flight, the last sent alone once the others are confirmed, checkpoints of the
 * confirmed prefix, then CompleteMultipartUpload.
 */
class MultipartUpload {
  private readonly req: UploadRequest;
  private readonly key: string;
  private readonly size: number;
  private partSize = 0;
  private partCount = 0;
  private uploadId = '';
  private readonly reader: BodyReader;
  /** Aborts every request in flight: on cancel, or when the upload fails. */
  private readonly stop = new AbortController();
  private failure: { error: unknown; cleanup: Promise<void> } | null = null;
  private readonly failed: Promise<never>;
  private rejectFailed!: (err: unknown) => void;
  /** ETag of each confirmed part, by number. */
  private readonly etags = new Map<number, string>();
  /** Parts 1..prefix are confirmed. */
  private prefix = 0;
  private confirmedBytes = 0;
  /** The first part to read from the body (a resumed body starts after the saved prefix). */
  private firstPart = 1;
  /** Parts S4 held when the upload was resumed: those beyond the prefix are not sent again. */
  private heldBeyond = new Map<number, ListedPart>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly spare: Buffer[] = [];
  private buffers = 0;
  private bufferFreed: (() => void) | null = null;
  private checkpointing: Promise<void> = Promise.resolve();
  private checkpointedPrefix = 0;
  private lastCheckpointAt = 0;
  private checkpointTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly bucket: S4Bucket,
    req: UploadRequest,
  ) {
    this.req = req;
    this.key = req.path;
    this.size = req.size;
    this.reader = new BodyReader(req.body);
    this.failed = new Promise<never>((_resolve, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined);
  }

  async run(): Promise<DestinationNode> {
    const onAbort = (): void => this.fail(new CancelledError());
    this.req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const adopted = this.req.resume ? await this.race(this.resume(this.req.resume)) : await this.begin();
      if (adopted) return adopted;
      await this.race(this.sendParts());
      this.disposeTimer();
      await this.race(this.checkpointing);
      return await this.race(this.complete());
    } catch (err) {
      const failure = this.failure ?? { error: err, cleanup: Promise.resolve() };
      this.stop.abort();
      this.req.body.destroy();
      this.disposeTimer();
      await failure.cleanup.catch(() => undefined);
      throw this.req.signal.aborted ? new CancelledError() : failure.error;
    } finally {
      this.req.signal.removeEventListener('abort', onAbort);
      this.disposeTimer();
    }
  }

  /**
   * The first error wins: every request in flight is stopped, and the upload rejects once
   * `cleanup` (aborting the multipart upload, when that is decided) has run.
   */
  private fail(error: unknown, cleanup: Promise<void> = Promise.resolve()): void {
    if (this.failure) return;
    this.failure = { error, cleanup };
    this.stop.abort();
    this.rejectFailed(error);
  }

  /** `promise`, unless the upload fails or is cancelled first. */
  private race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.failed]);
  }

  private partLength(n: number): number {
    return Math.min(this.partSize, this.size - (n - 1) * this.partSize);
  }

  private offsetAfter(parts: number): number {
    return Math.min(this.size, parts * this.partSize);
  }

  private state(): S4UploadState {
    return { upload_id: this.uploadId, part_size: this.partSize, key: this.key };
  }

  /** A new upload: CreateMultipartUpload (with the transfer id), then a checkpoint naming it. */
  private async begin(): Promise<null> {
    this.partSize = this.bucket.partSizeFor(this.size);
    this.partCount = Math.max(1, Math.ceil(this.size / this.partSize));
    // Sent to the end even when the user cancels meanwhile: an upload S4 made that nobody
    // recorded is aborted at once (nothing stays behind).
    const created = this.bucket.request(`start of the upload of ${this.key}`, (abortSignal) =>
      this.bucket.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket.name,
          Key: this.key,
          Metadata: this.bucket.metadata(this.req.transfer_id),
        }),
        { abortSignal },
      ),
    );
    let uploadId: string;
    try {
      const out = await this.race(created);
      if (!out.UploadId)
        throw new FerryError('unexpected', 'destination', `S4 gave no upload id for ${this.key}`);
      uploadId = out.UploadId;
    } catch (err) {
      if (this.req.signal.aborted) {
        void created
          .then((out) => (out.UploadId ? this.bucket.abortUpload(this.key, out.UploadId) : undefined))
          .catch(() => undefined);
      }
      throw err;
    }
    this.uploadId = uploadId;
    const onCheckpoint = this.req.onCheckpoint;
    if (onCheckpoint) {
      this.lastCheckpointAt = Date.now();
      try {
        await this.race(Promise.resolve(onCheckpoint({ next_offset: 0, state: { ...this.state() } })));
      } catch (err) {
        // Not recorded: nobody could resume or abandon it later.
        if (!this.req.signal.aborted) void this.bucket.abortUpload(this.key, uploadId).catch(() => undefined);
        throw err;
      }
    }
    return null;
  }

  /**
   * Goes on with a saved upload: what S4 holds of it (ListParts, every page). Parts of the saved
   * prefix must all be there; parts beyond it that S4 holds are not sent again. An upload S4 no
   * longer has may have been completed by us (a crash after Complete): our object is adopted;
   * otherwise the file starts over.
   */
  private async resume(checkpoint: UploadCheckpoint): Promise<DestinationNode | null> {
    const state = checkpoint.state as Partial<S4UploadState>;
    const reject = (why: string): never => {
      throw new ResumeRejectedError(
        `the saved S4 upload of ${this.key} cannot be used: ${why}; starting it over`,
      );
    };
    if (typeof state.upload_id !== 'string' || state.upload_id === '') reject('no upload id');
    const partSize = state.part_size;
    if (typeof partSize !== 'number' || !Number.isSafeInteger(partSize) || partSize < S4_MIN_PART_SIZE) {
      return reject('bad part size');
    }
    if (state.key !== undefined && state.key !== this.key) reject('it is for another key');
    this.uploadId = state.upload_id as string;
    this.partSize = partSize;
    this.partCount = Math.max(1, Math.ceil(this.size / partSize));
    if (this.partCount > S4_MAX_PARTS) reject('too many parts');
    const done = Math.ceil(checkpoint.next_offset / partSize);
    if (done > this.partCount || this.offsetAfter(done) !== checkpoint.next_offset) {
      reject('its offset does not end a part');
    }

    let listed: Map<number, ListedPart>;
    try {
      listed = await this.listParts();
    } catch (err) {
      if (errorName(err) !== 'NoSuchUpload') throw err;
      const node = await this.bucket.head(this.key);
      if (node && node.transfer_id === this.req.transfer_id && node.size === this.size) {
        this.req.body.destroy();
        this.req.onProgress(this.size);
        return node;
      }
      return reject('S4 no longer has it');
    }
    const wrong = [...listed].find(([n, p]) => n > this.partCount || p.size !== this.partLength(n));
    const missing = Array.from({ length: done }, (_, i) => i + 1).find((n) => !listed.has(n));
    if (wrong || missing !== undefined) {
      await this.bucket.abortUpload(this.key, this.uploadId).catch(() => undefined);
      reject(wrong ? `S4 holds a part ${wrong[0]} that does not fit` : `S4 lacks part ${missing}`);
    }
    for (const [n, part] of listed) {
      if (n <= done) this.confirm(n, part.etag, this.partLength(n), false);
    }
    this.checkpointedPrefix = this.prefix;
    this.lastCheckpointAt = Date.now();
    this.heldBeyond = listed;
    this.firstPart = done + 1;
    if (!this.req.signal.aborted) this.req.onProgress(this.confirmedBytes);
    return null;
  }

  /** Every part S4 holds for the upload (ListParts, all pages). */
  private async listParts(): Promise<Map<number, ListedPart>> {
    const parts = new Map<number, ListedPart>();
    let marker: string | undefined;
    for (;;) {
      const page = await this.bucket.request(
        `list of the parts of ${this.key}`,
        (abortSignal) =>
          this.bucket.client.send(
            new ListPartsCommand({
              Bucket: this.bucket.name,
              Key: this.key,
              UploadId: this.uploadId,
              PartNumberMarker: marker,
            }),
            { abortSignal },
          ),
        this.stop.signal,
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber !== undefined && part.ETag) {
          parts.set(part.PartNumber, { etag: part.ETag, size: part.Size ?? 0 });
        }
      }
      if (!page.IsTruncated || !page.NextPartNumberMarker || page.NextPartNumberMarker === marker)
        return parts;
      marker = page.NextPartNumberMarker;
    }
  }

  /**
   * Reads the body part by part: a part S4 already holds is read and dropped (its MD5 checked
   * against S4's ETag), every other one goes into a pooled buffer and is sent, up to
   * `connections` at once. The last part waits until every other is confirmed.
   */
  private async sendParts(): Promise<void> {
    for (let n = this.firstPart; n <= this.partCount; n++) {
      const length = this.partLength(n);
      const held = this.heldBeyond.get(n);
      if (held) {
        const hash = createHash('md5');
        await this.race(this.reader.take(length, (piece) => hash.update(piece)));
        const etag = unquote(held.etag);
        if (/^[0-9a-f]{32}$/.test(etag) && etag !== hash.digest('hex')) {
          // The source changed since, or the part is not ours: the object would mix two versions.
          const cleanup = this.bucket.abortUpload(this.key, this.uploadId).catch(() => undefined);
          const error = new ResumeRejectedError(
            `S4 holds a part ${n} of ${this.key} with other bytes; starting it over`,
          );
          this.fail(error, cleanup);
          throw error;
        }
        this.confirm(n, held.etag, length, true);
        continue;
      }
      const buffer = await this.race(this.acquire());
      await this.race(this.reader.take(length, (piece, at) => piece.copy(buffer, at)));
      if (n === this.partCount && n > 1) await this.race(this.drain());
      this.launch(n, buffer, length);
    }
    await this.race(this.reader.end());
    await this.race(this.drain());
  }

  /** A part buffer: a spare one, a new one while fewer than `connections` exist, or the next freed. */
  private async acquire(): Promise<Buffer> {
    for (;;) {
      const spare = this.spare.pop();
      if (spare) return spare;
      if (this.buffers < this.bucket.connections) {
        this.buffers++;
        return Buffer.allocUnsafeSlow(Math.min(this.partSize, this.size));
      }
      await new Promise<void>((resolve) => {
        this.bufferFreed = resolve;
      });
    }
  }

  private release(buffer: Buffer): void {
    this.spare.push(buffer);
    const wake = this.bufferFreed;
    this.bufferFreed = null;
    wake?.();
  }

  private launch(n: number, buffer: Buffer, length: number): void {
    const task: Promise<void> = this.sendPart(n, buffer.subarray(0, length)).then(
      (etag) => {
        this.inFlight.delete(task);
        this.release(buffer);
        this.confirm(n, etag, length, true);
      },
      (err: unknown) => {
        this.inFlight.delete(task);
        this.fail(err);
      },
    );
    this.inFlight.add(task);
  }

  /** Until no part is in flight. */
  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private confirm(n: number, etag: string, length: number, report: boolean): void {
    this.etags.set(n, etag);
    this.confirmedBytes += length;
    while (this.etags.has(this.prefix + 1)) this.prefix++;
    if (!report) return;
    if (!this.stop.signal.aborted) this.req.onProgress(this.confirmedBytes);
    this.maybeCheckpoint();
  }

  /**
   * One part: sent again under `requestRetry` when S4 answered that it failed (5xx, 429,
   * BadDigest), never when the answer was lost (see `lostAnswer`).
   */
  private async sendPart(n: number, bytes: Buffer): Promise<string> {
    const digest = createHash('md5').update(bytes).digest();
    const md5 = digest.toString('base64');
    const what = `part ${n} of ${this.key}`;
    try {
      return await withRetry(
        async () => {
          if (this.stop.signal.aborted) throw new CancelledError();
          try {
            const out = await this.bucket.client.send(
              new UploadPartCommand({
                Bucket: this.bucket.name,
                Key: this.key,
                UploadId: this.uploadId,
                PartNumber: n,
                Body: bytes,
                ContentLength: bytes.length,
                ContentMD5: md5,
              }),
              { abortSignal: this.stop.signal },
            );
            return out.ETag ?? `"${digest.toString('hex')}"`;
          } catch (err) {
            throw this.partFailure(err, what);
          }
        },
        this.bucket.retry,
        { signal: this.stop.signal, retryable: isPlainRetry },
      );
    } catch (err) {
      if (err instanceof AmbiguousOutcomeError)
        return this.lostAnswer(n, digest.toString('hex'), bytes.length, err);
      throw err;
    }
  }

  private partFailure(err: unknown, what: string): unknown {
    if (this.stop.signal.aborted) return new CancelledError();
    const name = errorName(err);
    if (isRefusal(err)) {
      if (name === 'NoSuchUpload') {
        return new ResumeRejectedError(`S4 no longer has the upload of ${this.key}; starting it over`);
      }
      if (name === 'InvalidPart' || name === 'EntityTooSmall') {
        // S4 aborts the whole upload on these: start the file over (and make sure it is aborted).
        const cleanup = this.bucket.abortUpload(this.key, this.uploadId).catch(() => undefined);
        const error = new ResumeRejectedError(`S4 refused ${what} (${name}); starting the file over`);
        this.fail(error, cleanup);
        return error;
      }
      return classifyS4Error(err, what);
    }
    if (isNotSentError(err)) return classifyS4Error(err, what);
    // Reset, cut, timed out after sending, or an answer that could not be read: S4 may hold it.
    if (isNetworkError(err) || name === 'TimeoutError' || httpStatus(err) !== undefined) {
      return new AmbiguousOutcomeError('destination', `the answer to ${what} was lost (${name})`, {
        cause: err,
      });
    }
    return classifyS4Error(err, what);
  }

  /**
   * The answer to a part was lost: S4 may hold it, and would refuse it sent again. ListParts
   * tells: held with our MD5, it counts; otherwise the upload is aborted and the file starts over
   * on a new one (never two sends of one part number).
   */
  private async lostAnswer(
    n: number,
    md5: string,
    length: number,
    cause: AmbiguousOutcomeError,
  ): Promise<string> {
    const listed = await this.listParts();
    const held = listed.get(n);
    if (held && unquote(held.etag) === md5 && held.size === length) return held.etag;
    const cleanup = this.bucket.abortUpload(this.key, this.uploadId).catch(() => undefined);
    const error = new ResumeRejectedError(
      `the answer to part ${n} of ${this.key} was lost and S4 does not hold the part; starting the file over on a new upload`,
    );
    error.cause = cause;
    this.fail(error, cleanup);
    await cleanup;
    throw error;
  }

  /**
   * CompleteMultipartUpload, parts 1..N in order. It succeeds once: after a lost answer (or a
   * NoSuchUpload when an earlier try may have worked) the object itself tells: ours (transfer id,
   * size) is adopted, else the file starts over. It is not aborted by a cancel: the cancel answers
   * at once, the Complete ends on its own.
   */
  private async complete(): Promise<DestinationNode> {
    const parts = Array.from({ length: this.partCount }, (_, i) => ({
      PartNumber: i + 1,
      ETag: this.etags.get(i + 1),
    }));
    const missing = parts.find((p) => p.ETag === undefined);
    if (missing) {
      throw new FerryError(
        'unexpected',
        'destination',
        `part ${missing.PartNumber} of ${this.key} was never confirmed`,
      );
    }
    const what = `completion of ${this.key}`;
    const retry = this.bucket.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bucket.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket.name,
            Key: this.key,
            UploadId: this.uploadId,
            MultipartUpload: { Parts: parts },
          }),
        );
        if (!this.req.signal.aborted) this.req.onProgress(this.size);
        return { handle: this.key, size: this.size, transfer_id: this.req.transfer_id };
      } catch (err) {
        if (this.req.signal.aborted) throw new CancelledError();
        if (isRefusal(err) && errorName(err) !== 'NoSuchUpload') {
          const classified = classifyS4Error(err, what);
          if (classified.kind !== 'transient' || attempt >= retry.attempts) throw classified;
        } else if (!(isNotSentError(err) && attempt < retry.attempts)) {
          return this.adoptCompleted(err);
        }
        await sleep(backoffDelay(retry, attempt), this.stop.signal);
      }
    }
  }

  /** After an uncertain Complete: our object, if S4 made it; else the file starts over. */
  private async adoptCompleted(cause: unknown): Promise<DestinationNode> {
    const node = await this.bucket.head(this.key, this.stop.signal);
    if (node && node.transfer_id === this.req.transfer_id && node.size === this.size) {
      if (!this.req.signal.aborted) this.req.onProgress(this.size);
      return node;
    }
    const error = new ResumeRejectedError(
      `S4 did not confirm the completion of ${this.key} (${errorName(cause)}) and holds no copy of it; starting it over`,
    );
    error.cause = cause;
    throw error;
  }

  /**
   * Hands the confirmed prefix to `onCheckpoint` about once a second (a growth inside the second
   * is handed on when it ends), one at a time; the upload waits for the last before completing.
   */
  private maybeCheckpoint(): void {
    const onCheckpoint = this.req.onCheckpoint;
    if (!onCheckpoint || this.stop.signal.aborted || this.prefix <= this.checkpointedPrefix) return;
    if (this.checkpointTimer) return;
    const wait = this.lastCheckpointAt + CHECKPOINT_INTERVAL_MS - Date.now();
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
    const checkpoint: UploadCheckpoint = {
      next_offset: this.offsetAfter(this.prefix),
      state: { ...this.state() },
    };
    this.checkpointing = this.checkpointing.then(() => onCheckpoint(checkpoint));
    this.checkpointing.catch((err: unknown) => this.fail(err));
  }

  private disposeTimer(): void {
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the body

/** Takes exact byte counts from a body, piece by piece (views, no copies). */
class BodyReader {
  private readonly iterator: AsyncIterator<unknown>;
  private rest: Buffer | null = null;

  constructor(body: Readable) {
    this.iterator = body[Symbol.asyncIterator]();
  }

  private async next(): Promise<Buffer | null> {
    if (this.rest) {
      const rest = this.rest;
      this.rest = null;
      return rest;
    }
    let item: IteratorResult<unknown>;
    try {
      item = await this.iterator.next();
    } catch (err) {
      throw sourceFailure(err);
    }
    return item.done ? null : sourceBytes(item.value);
  }

  /** Exactly `length` bytes, handed to `sink` with their offset in the run. */
  async take(length: number, sink: (piece: Buffer, at: number) => unknown): Promise<void> {
    let at = 0;
    while (at < length) {
      const piece = await this.next();
      if (!piece) throw shortSource();
      const n = Math.min(piece.length, length - at);
      sink(piece.subarray(0, n), at);
      if (n < piece.length) this.rest = piece.subarray(n);
      at += n;
    }
  }

  /** The body ends here: more bytes than announced is an error. */
  async end(): Promise<void> {
    for (;;) {
      const piece = await this.next();
      if (!piece) return;
      if (piece.length > 0) throw longSource();
    }
  }
}

function sourceBytes(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (typeof piece === 'string') return Buffer.from(piece);
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  throw new FerryError('unexpected', 'source', 'the source gave something other than bytes');
}

function sourceFailure(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') return shortSource();
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError('transient', 'source', `reading the source failed: ${message}`, { cause: err });
}

function shortSource(): FerryError {
  return new FerryError('transient', 'source', 'the source gave fewer bytes than its announced size');
}

function longSource(): FerryError {
  return new FerryError('transient', 'source', 'the source gave more bytes than its announced size');
}

// ---------------------------------------------------------------------------------------------
// Classifying failures

/** A failure worth the same request again: transient, and neither lost nor a reason to start over. */
function isPlainRetry(err: unknown): boolean {
  return (
    err instanceof FerryError &&
    err.kind === 'transient' &&
    !(err instanceof AmbiguousOutcomeError) &&
    !(err instanceof ResumeRejectedError)
  );
}

/** The HTTP status of S4's answer, when one came back. */
function httpStatus(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * S4 answered that the request failed (an error status came back), as opposed to a failure of
 * the connection or a success whose answer could not be read: S4 did not act on it.
 */
function isRefusal(err: unknown): boolean {
  const status = httpStatus(err);
  return status !== undefined ? status >= 300 : err instanceof S3ServiceException;
}

/** The S3 error code (or the error's name), also through a FerryError's cause. */
function errorName(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    if (!(current instanceof FerryError)) {
      const e = current as { name?: unknown; Code?: unknown; code?: unknown };
      const name = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : e.code;
      return typeof name === 'string' ? name : 'Error';
    }
    current = current.cause;
  }
  return 'Error';
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '');
}

/**
 * Classifies an SDK or network failure of S4 once, on the destination side. Messages name the
 * request and S4's error code, never a credential.
 */
export function classifyS4Error(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const name = errorName(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const options = { cause: err };
  if (name === 'AbortError') return new CancelledError();
  if (QUOTA_CODES.has(name)) {
    return new FerryError(
      'quota',
      'destination',
      `S4 refused the ${what}: the account is over its storage quota (${name})`,
      options,
    );
  }
  if (TRANSIENT_CODES.has(name)) {
    return new FerryError('transient', 'destination', `S4 failed the ${what} (${name})`, options);
  }
  if (name === 'CredentialsProviderError') {
    return new FerryError(
      'auth',
      'destination',
      `no S4 access keys for the ${what}: enter them in Settings`,
      options,
    );
  }
  if (AUTH_CODES.has(name) || status === 401 || status === 403) {
    return new FerryError(
      'auth',
      'destination',
      `S4 did not accept the access keys for the ${what} (${name}): check the access key id, the secret and their permissions`,
      options,
    );
  }
  if (name === 'NoSuchBucket') {
    return new FerryError(
      'config',
      'destination',
      `S4 bucket not found for the ${what} (NoSuchBucket)`,
      options,
    );
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || status === 404) {
    return new FerryError(
      'not_found',
      'destination',
      `S4 has no such thing for the ${what} (${name})`,
      options,
    );
  }
  if (status !== undefined && isTransientHttpStatus(status)) {
    return new FerryError(
      'transient',
      'destination',
      `S4 failed the ${what} (${name}, HTTP ${status})`,
      options,
    );
  }
  if (status === undefined && (isNetworkError(err) || /^E[A-Z]+$/.test(name))) {
    const code = (err as { code?: unknown }).code;
    const detail = typeof code === 'string' ? code : name;
    const message = isNotSentError(err)
      ? `S4 endpoint unreachable for the ${what} (${detail}): check the endpoint address and the network`
      : `the connection to S4 failed during the ${what} (${detail})`;
    return new FerryError('transient', 'destination', message, options);
  }
  const detail = err instanceof Error ? redactSecrets(err.message).slice(0, 200) : String(err);
  return new FerryError(
    'unexpected',
    'destination',
    `S4 error for the ${what}: ${name} (${detail})`,
    options,
  );
}
