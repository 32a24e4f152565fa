/**
 * The S3 source and the destinations built from the effective settings, and the Test button behind
 * each (SPEC.md "Desktop application": a Test button for S3, each destination and MongoDB).
 *
 * The AWS SDK, megajs and the MongoDB driver are loaded only when used (each costs a process
 * 0.05–0.25 CPU-seconds and 10–20 MB just to load): a command that reads no bucket, or writes
 * nothing to MEGA, never loads them.
 */
import type { ConnectionTestResult } from '../../shared/contract';
import type { DestinationKind, DestinationValues } from '../../shared/destinations';
import { megaFactory } from '../engine/destinations/mega-factory';
import { localFactory } from '../engine/destinations/local-factory';
import { s4Factory } from '../engine/destinations/s4-factory';
import type {
  DestinationContext,
  DestinationFactory,
  DestinationRegistry,
} from '../engine/destinations/registry';
import { scrubSecrets, shortReason } from '../engine/errors';
import { sourceProblemOf } from '../../shared/source-problems';
import type { Source } from '../engine/ports';
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

/** What every destination is built with besides its own options (the settings' and the environment's). */
export function destinationContextOf(
  values: SettingsValues,
  config: FerryConfig,
  mfaCode: string | null,
): DestinationContext {
  return {
    requestRetry: config.engine.requestRetry,
    connections: values.transfers.connections_per_file,
    megaGateway: config.fromEnv.megaGateway,
    mfaCode,
  };
}

/** The destinations of the registry, by kind. */
export const DESTINATION_REGISTRY: DestinationRegistry = {
  mega: megaFactory,
  s4: s4Factory,
  local: localFactory,
};

/** The Test button of a destination's Settings section. */
export async function testDestination(
  kind: DestinationKind,
  values: SettingsValues,
  ctx: DestinationContext,
): Promise<ConnectionTestResult> {
  const factory = DESTINATION_REGISTRY[kind] as DestinationFactory<DestinationKind>;
  return factory.test(values[kind] as DestinationValues, ctx);
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
      message: scrubSecrets(shortReason(new Error(`MongoDB at ${hosts}: ${text}`)), [password, uri]),
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}
