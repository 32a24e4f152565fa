/**
 * The S3 source: any S3-compatible store through the AWS SDK v3, with the SDK's own credential
 * chain. Listing with pagination, prefix and delimiter; head; streaming ranged reads.
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
import type { Readable } from 'node:stream';
import { FerryError } from '../errors';
import type { Source, SourceListing, SourceObject } from '../ports';

export interface S3Config {
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Explicit keys (the desktop settings); otherwise the SDK's chain (env, profile, SSO, IMDS…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** A named profile of the shared config files (AWS_PROFILE). */
  profile?: string;
  maxAttempts?: number;
}

export class S3Source implements Source {
  private readonly client: S3Client;

  constructor(config: S3Config) {
    this.client = new S3Client({
      region: config.region ?? 'us-east-1',
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
      credentials: config.credentials,
      profile: config.profile,
      maxAttempts: config.maxAttempts ?? 3,
    });
  }

  async checkBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    } catch (err) {
      throw classifyS3Error(err, `bucket ${bucket}`);
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
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: opts.start ? `bytes=${opts.start}-` : undefined,
        }),
        { abortSignal: opts.signal },
      );
      const body = out.Body as Readable | undefined;
      if (!body) throw new FerryError('unexpected', 'source', `S3 returned no body for ${bucket}/${key}`);
      return body;
    } catch (err) {
      throw classifyS3Error(err, `${bucket}/${key}`);
    }
  }

  close(): void {
    this.client.destroy();
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
  if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || status === 404) {
    return new FerryError('not_found', 'source', `S3 object not found: ${what}`, { cause: err });
  }
  if (
    status === 401 ||
    status === 403 ||
    [
      'AccessDenied',
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'CredentialsProviderError',
      'ExpiredToken',
    ].includes(name)
  ) {
    return new FerryError('auth', 'source', `S3 refused access to ${what} (${name})`, { cause: err });
  }
  const networkCode = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code);
  if (
    (status !== undefined && (status >= 500 || status === 429)) ||
    ['TimeoutError', 'SlowDown', 'RequestTimeout', 'ThrottlingException'].includes(name) ||
    (!(err instanceof S3ServiceException) && networkCode)
  ) {
    const detail = networkCode ? e.code : name;
    return new FerryError('transient', 'source', `S3 unreachable or failing for ${what} (${detail})`, {
      cause: err,
    });
  }
  return new FerryError('unexpected', 'source', `S3 error for ${what}: ${name}`, { cause: err });
}
