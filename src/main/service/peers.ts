/**
 * The S3 source and the MEGA destination built from the effective settings, and the Test button
 * behind each (SPEC.md "Desktop application": a Test button for S3, MEGA and MongoDB).
 *
 * The AWS SDK, megajs and the MongoDB driver are loaded only when used (each costs a process
 * 0.05–0.25 CPU-seconds and 10–20 MB just to load): a command that reads no bucket, or writes
 * nothing to MEGA, never loads them.
 */
import type { ConnectionTestResult } from '../../shared/contract';
import { LazyDestination } from '../engine/destinations/lazy';
import { megaDestinationId } from '../engine/destinations/ids';
import type { MegaConfig } from '../engine/destinations/mega';
import { InputError, shortReason } from '../engine/errors';
import { sourceProblemOf } from '../../shared/source-problems';
import type { Destination, DestinationNode, Source } from '../engine/ports';
import { LazySource } from '../engine/sources/lazy';
import type { S3Config } from '../engine/sources/s3';
import { parseMongoUri, redactMongoUri } from '../store/mongo-uri';
import type { FerryConfig } from './config';
import type { SettingsValues } from './settings';

export function s3ConfigOf(values: SettingsValues, config: FerryConfig): S3Config {
  const { s3 } = values;
  const envKeys = config.fromEnv.settings['s3.access_key_id'] !== undefined;
  return {
    region: s3.region,
    endpoint: s3.endpoint || undefined,
    forcePathStyle: s3.force_path_style,
    profile: s3.profile || undefined,
    credentials:
      s3.access_key_id && s3.secret_access_key
        ? {
            accessKeyId: s3.access_key_id,
            secretAccessKey: s3.secret_access_key,
            sessionToken: envKeys ? config.fromEnv.awsSessionToken : undefined,
          }
        : undefined,
    requestRetry: config.engine.requestRetry,
  };
}

/** The S3 source for `config`; the AWS SDK is loaded at its first use. */
export function s3Source(config: S3Config): Source & { close(): void } {
  return new LazySource(async () => new (await import('../engine/sources/s3')).S3Source(config));
}

/** The MEGA destination for `config`; megajs and the uploader are loaded at its first use. */
export function megaDestination(config: MegaConfig): Destination {
  return new LazyDestination(
    megaDestinationId(config.email),
    async () => new (await import('../engine/destinations/mega')).MegaDestination(config),
  );
}

/** The MEGA account's configuration, or null when the e-mail or the password is missing. */
export function megaConfigOf(
  values: SettingsValues,
  config: FerryConfig,
  secondFactorCode: string | null,
): MegaConfig | null {
  const { email, password } = values.mega;
  if (!email || !password) return null;
  return {
    email,
    password,
    gateway: config.fromEnv.megaGateway,
    secondFactorCode: secondFactorCode ?? undefined,
    // Each chunk POST and API command is retried on its own before the attempt counts as failed.
    requestRetry: config.engine.requestRetry,
    connections: values.transfers.connections_per_file,
  };
}

/** The destination while no MEGA account is configured: every use says how to configure one. */
export class UnconfiguredDestination implements Destination {
  readonly id = 'mega:';
  constructor(private readonly message: string) {}
  connect(): Promise<void> {
    return Promise.reject(new InputError(this.message));
  }
  find(): Promise<DestinationNode[]> {
    return Promise.reject(new InputError(this.message));
  }
  upload(): Promise<DestinationNode> {
    return Promise.reject(new InputError(this.message));
  }
  discard(): Promise<void> {
    return Promise.reject(new InputError(this.message));
  }
  async close(): Promise<void> {}
}

const TEST_TIMEOUT_MS = 15_000;

/**
 * Tests S3: the bucket list, and the default bucket when one is set (keys that may not list
 * buckets pass when they can read it). The result says both in words and, for the UI, in kinds.
 */
export async function testS3(config: S3Config, defaultBucket = ''): Promise<ConnectionTestResult> {
  const source = s3Source({ ...config, requestRetry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
  try {
    let buckets: number | null = null;
    let listError: unknown = null;
    try {
      buckets = (await source.listBuckets(AbortSignal.timeout(TEST_TIMEOUT_MS))).length;
    } catch (err) {
      listError = err;
    }
    const listProblem = sourceProblemOf(listError) ?? undefined;
    const listed = buckets === null ? null : `${buckets} bucket${buckets === 1 ? '' : 's'} visible`;
    if (!defaultBucket) {
      return {
        target: 's3',
        ok: listError === null,
        message: listed ?? shortReason(listError),
        s3: { buckets, ...(listProblem ? { problem: listProblem } : {}) },
      };
    }
    // Only reachability and credentials problems stop the bucket's own check.
    let bucketError: unknown = null;
    if (
      listProblem === 'unreachable' ||
      listProblem === 'no_credentials' ||
      listProblem === 'bad_credentials'
    )
      bucketError = listError;
    else {
      try {
        await source.checkBucket(defaultBucket, AbortSignal.timeout(TEST_TIMEOUT_MS));
      } catch (err) {
        bucketError = err;
      }
    }
    const bucketProblem = sourceProblemOf(bucketError) ?? undefined;
    const bucketText =
      bucketError === null
        ? `default bucket ${defaultBucket} can be read`
        : `default bucket ${defaultBucket}: ${shortReason(bucketError)}`;
    return {
      target: 's3',
      // Keys that may not list buckets are fine when they can read the bucket one works with.
      ok: bucketError === null && (listError === null || listProblem === 'access_denied'),
      message:
        listed !== null || bucketError === null
          ? `${listed ?? 'bucket list not allowed'}; ${bucketText}`
          : shortReason(listError),
      s3: {
        buckets,
        ...(listProblem ? { problem: listProblem } : {}),
        default_bucket: {
          name: defaultBucket,
          ok: bucketError === null,
          ...(bucketProblem ? { problem: bucketProblem } : {}),
        },
      },
    };
  } finally {
    source.close();
  }
}

export async function testMega(config: MegaConfig | null): Promise<ConnectionTestResult> {
  if (!config) {
    return { target: 'mega', ok: false, message: 'MEGA e-mail and password are not set' };
  }
  // Two tries per request, at once: a pooled connection the server had just closed is tried again,
  // and an unreachable MEGA still answers at once.
  const destination = megaDestination({
    ...config,
    requestRetry: { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
  });
  try {
    await destination.connect();
    return { target: 'mega', ok: true, message: `logged in as ${config.email}` };
  } catch (err) {
    return { target: 'mega', ok: false, message: scrub(shortReason(err), [config.password]) };
  } finally {
    await destination.close();
  }
}

export async function testMongo(uri: string, dataDir: string): Promise<ConnectionTestResult> {
  if (!uri) {
    return { target: 'mongodb', ok: true, message: `embedded store in ${dataDir} (no server needed)` };
  }
  let parts: { password: string | null; hosts: string };
  try {
    parts = parseMongoUri(uri);
  } catch (err) {
    return { target: 'mongodb', ok: false, message: shortReason(err) };
  }
  const { password, hosts } = parts;
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 5000,
    connectTimeoutMS: 5000,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return { target: 'mongodb', ok: true, message: `connected to ${hosts}: ping ok` };
  } catch (err) {
    const text = redactMongoUri(err instanceof Error ? err.message : String(err));
    return {
      target: 'mongodb',
      ok: false,
      message: scrub(shortReason(new Error(`MongoDB at ${hosts}: ${text}`)), [password, uri]),
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Removes every occurrence of the given secrets (and their URL encodings) from a message. */
function scrub(message: string, secrets: (string | null | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (!secret || secret.length < 3) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}
