/**
 * The S3 source: any S3-compatible store through the AWS SDK v3, with the SDK's own credential
 * chain. Listing with pagination, prefix and delimiter; head; streaming ranged reads.
 *
 * Retries, per request: the SDK retries a failing command (5xx, throttling, a reset before the
 * answer) up to `requestRetry.attempts` times with its backoff and jitter; a read whose body fails
 * half-way (reset, cut) is reopened at the byte it reached, for the same version of the object
 * (If-Match its ETag), with our backoff and jitter, before the file's attempt fails.
 */
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import {
  CancelledError,
  FerryError,
  isNetworkError,
  isNotSentError,
  isRetryable,
  isTransientHttpStatus,
} from '../errors';
import type { Source, SourceListing, SourceObject } from '../ports';
import {
  backoffDelay,
  DEFAULT_REQUEST_ATTEMPTS,
  DEFAULT_RETRY,
  requestPolicy,
  sleep,
  type RetryPolicy,
} from '../retry';
import { raiseMallocThresholds } from '../../platform/malloc-thresholds';
import { ObjectGetHandler } from './s3-object-get';

export interface S3Config {
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Explicit keys (the desktop settings); otherwise the SDK's chain (env, profile, SSO, IMDS…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** A named profile of the shared config files (AWS_PROFILE). */
  profile?: string;
  /** Tries of one request (SDK commands, and reopening a read cut half-way). */
  requestRetry?: RetryPolicy;
}

const DEFAULT_S3_REQUEST_RETRY = requestPolicy(DEFAULT_RETRY, DEFAULT_REQUEST_ATTEMPTS);

export class S3Source implements Source {
  private readonly client: S3Client;
  private readonly retry: RetryPolicy;

  constructor(config: S3Config) {
    this.retry = config.requestRetry ?? DEFAULT_S3_REQUEST_RETRY;
    this.client = new S3Client({
      region: config.region ?? 'us-east-1',
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
      credentials: config.credentials,
      profile: config.profile,
      maxAttempts: this.retry.attempts,
    });
    // GetObject's answer is read from the socket into buffers handed on whole (s3-object-get.ts);
    // every other request goes as the SDK sends it. Replaced before the first request: the client
    // takes its handler from its config when it resolves a command's middleware.
    const clientConfig = this.client.config as { requestHandler: unknown };
    clientConfig.requestHandler = new ObjectGetHandler(this.client.config.requestHandler);
  }

  async checkBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    } catch (err) {
      const classified = classifyS3Error(err, `bucket ${bucket}`);
      // HeadBucket's 404 has no body to name it: here it can only be the bucket.
      if (classified.kind === 'not_found' && !classified.problem) {
        throw new FerryError(
          'not_found',
          'source',
          `S3 bucket not found: ${bucket} (check its name, the region and the endpoint)`,
          {
            cause: err,
            problem: 'bucket_missing',
          },
        );
      }
      throw classified;
    }
  }

  async listBuckets(signal?: AbortSignal): Promise<string[]> {
    try {
      const out = await this.client.send(new ListBucketsCommand({}), { abortSignal: signal });
      return (out.Buckets ?? []).map((b) => b.Name ?? '').filter(Boolean);
    } catch (err) {
      throw classifyS3Error(err, 'bucket list');
    }
  }

  async list(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; token?: string; maxKeys?: number },
    signal?: AbortSignal,
  ): Promise<SourceListing> {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: opts.prefix || undefined,
          Delimiter: opts.delimiter || undefined,
          ContinuationToken: opts.token || undefined,
          MaxKeys: opts.maxKeys,
        }),
        { abortSignal: signal },
      );
      return {
        folders: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '').filter(Boolean),
        objects: (out.Contents ?? [])
          .filter((o) => o.Key !== undefined)
          .map((o) => ({
            key: o.Key as string,
            size: o.Size ?? 0,
            etag: o.ETag ?? null,
            last_modified: o.LastModified ?? null,
          })),
        next_token: out.IsTruncated ? (out.NextContinuationToken ?? null) : null,
      };
    } catch (err) {
      throw classifyS3Error(err, `listing of ${bucket}/${opts.prefix ?? ''}`);
    }
  }

  async *listAll(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<SourceObject> {
    let token: string | undefined;
    do {
      const page = await this.list(bucket, { prefix, token }, signal);
      yield* page.objects;
      token = page.next_token ?? undefined;
    } while (token);
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<SourceObject | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: signal,
      });
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? null,
        last_modified: out.LastModified ?? null,
      };
    } catch (err) {
      const classified = classifyS3Error(err, `${bucket}/${key}`);
      if (classified.kind === 'not_found') return null;
      throw classified;
    }
  }

  async read(bucket: string, key: string, opts: { start?: number; signal: AbortSignal }): Promise<Readable> {
    const start = opts.start ?? 0;
    raiseMallocThresholds(); // its pieces, freed in bursts, stay mapped for the next ones
    const first = await this.openRange(bucket, key, start, null, opts.signal);
    return new ReopeningBody({
      what: `${bucket}/${key}`,
      at: start,
      first,
      attempts: this.retry.attempts,
      backoff: (failures) => backoffDelay(this.retry, failures),
      reopen: (at, etag) => this.openRange(bucket, key, at, etag, opts.signal),
      signal: opts.signal,
    });
  }

  /** One GET from `start` to the end (of the version `etag` when given). */
  private async openRange(
    bucket: string,
    key: string,
    start: number,
    etag: string | null,
    signal: AbortSignal,
  ): Promise<OpenRead> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: start ? `bytes=${start}-` : undefined,
          IfMatch: etag ?? undefined,
        }),
        { abortSignal: signal },
      );
      const body = out.Body as Readable | undefined;
      if (!body) throw new FerryError('unexpected', 'source', `S3 returned no body for ${bucket}/${key}`);
      return { body, end: start + (out.ContentLength ?? Number.NaN), etag: out.ETag ?? null };
    } catch (err) {
      throw classifyS3Error(err, `${bucket}/${key}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

interface OpenRead {
  body: Readable;
  /** The byte after the last one this GET announced (NaN when it announced no length). */
  end: number;
  etag: string | null;
}

interface ReopeningOptions {
  /** bucket/key, for messages. */
  what: string;
  /** The byte `first` starts at. */
  at: number;
  first: OpenRead;
  /** Tries in a row without progress before the read fails. */
  attempts: number;
  backoff: (failures: number) => number;
  /** A new GET from `at`, of the version `etag` (the first GET's). */
  reopen: (at: number, etag: string | null) => Promise<OpenRead>;
  signal: AbortSignal;
}

/**
 * The bytes of the first GET, and when its body fails half-way (reset, cut short) those of a new
 * GET from the byte reached, tried `attempts` times in a row without progress. The GET's pieces are
 * handed on as they come (a 'data' listener and a push each, with the GET paused while this
 * stream is full): no async iteration and no promise per piece.
 */
class ReopeningBody extends Readable {
  private current: OpenRead | null = null;
  private at: number;
  private failures = 0;
  private ended = false;

  constructor(private readonly opts: ReopeningOptions) {
    super();
    this.at = opts.at;
    this.attach(opts.first);
  }

  private attach(read: OpenRead): void {
    this.current = read;
    const body = read.body;
    let done = false;
    const onData = (piece: Buffer): void => {
      this.at += piece.length;
      this.failures = 0;
      if (!this.push(piece)) body.pause();
    };
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (err === null) {
        this.current = null;
        this.ended = true;
        this.push(null);
      } else {
        void this.retry(err);
      }
    };
    const onEnd = (): void =>
      finish(
        this.at < read.end
          ? new FerryError('transient', 'source', `S3 cut the read of ${this.opts.what} at byte ${this.at}`)
          : null,
      );
    const onError = (err: unknown): void => finish(err);
    // Destroyed before its end without an error: cut short.
    const onClose = (): void =>
      finish(
        new FerryError('transient', 'source', `S3 cut the read of ${this.opts.what} at byte ${this.at}`),
      );
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  }

  /** After a failed GET: a new one from the byte reached, or the read fails. */
  private async retry(err: unknown): Promise<void> {
    for (;;) {
      this.current?.body.destroy();
      this.current = null;
      if (this.destroyed) return;
      if (this.opts.signal.aborted) {
        this.destroy(new CancelledError());
        return;
      }
      const classified = classifyS3Error(err, this.opts.what);
      this.failures++;
      if (!isRetryable(classified) || this.failures >= this.opts.attempts) {
        this.destroy(classified);
        return;
      }
      try {
        await sleep(this.opts.backoff(this.failures), this.opts.signal);
        if (this.destroyed) return;
        const read = await this.opts.reopen(this.at, this.opts.first.etag);
        if (this.destroyed) {
          read.body.destroy();
          return;
        }
        this.attach(read);
        return;
      } catch (next) {
        err = next;
      }
    }
  }

  override _read(): void {
    this.current?.body.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) this.current?.body.destroy();
    this.current = null;
    callback(err);
  }
}

/** Classifies an SDK or network error once; messages name the object, never credentials. */
export function classifyS3Error(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  if (e?.name === 'AbortError') return new FerryError('cancelled', 'source', `read of ${what} aborted`);
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? e?.code ?? 'Error';
  if (status === 412 || name === 'PreconditionFailed') {
    // The object changed while it was read: the next attempt reads the new version from 0.
    return new FerryError('transient', 'source', `S3 object ${what} changed while it was read`, {
      cause: err,
    });
  }
  if (name === 'NoSuchBucket') {
    return new FerryError(
      'not_found',
      'source',
      `S3 bucket not found for ${what} (NoSuchBucket): check the bucket name, the region and the endpoint`,
      { cause: err, problem: 'bucket_missing' },
    );
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new FerryError('not_found', 'source', `S3 object not found: ${what}`, { cause: err });
  }
  if (name === 'CredentialsProviderError') {
    return new FerryError(
      'auth',
      'source',
      `no S3 credentials found for ${what}: enter an access key in Settings, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)`,
      { cause: err, problem: 'no_credentials' },
    );
  }
  if (
    status === 401 ||
    [
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'ExpiredToken',
      'InvalidToken',
      'TokenRefreshRequired',
    ].includes(name)
  ) {
    return new FerryError(
      'auth',
      'source',
      `S3 did not accept the credentials for ${what} (${name}): check the access key id and the secret`,
      { cause: err, problem: 'bad_credentials' },
    );
  }
  if (status === 403 || name === 'AccessDenied') {
    return new FerryError(
      'auth',
      'source',
      `S3 denied access to ${what} (${name}): these credentials lack the permission`,
      { cause: err, problem: 'access_denied' },
    );
  }
  const networkCode = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code);
  const network = !(err instanceof S3ServiceException) && (networkCode || isNetworkError(err));
  if (network && status === undefined && isNotSentError(err)) {
    const detail = networkCode ? e.code : name;
    return new FerryError(
      'transient',
      'source',
      `S3 endpoint unreachable for ${what} (${detail}): check the endpoint address and the network`,
      { cause: err, problem: 'unreachable' },
    );
  }
  if (
    (status !== undefined && isTransientHttpStatus(status)) ||
    ['TimeoutError', 'SlowDown', 'RequestTimeout', 'ThrottlingException'].includes(name) ||
    network
  ) {
    const detail = networkCode ? e.code : name;
    return new FerryError('transient', 'source', `S3 unreachable or failing for ${what} (${detail})`, {
      cause: err,
    });
  }
  return new FerryError('unexpected', 'source', `S3 error for ${what}: ${name}`, { cause: err });
}
