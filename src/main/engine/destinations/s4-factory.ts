/**
 * MEGA S4 in the destination registry: one destination per bucket of the configured endpoint,
 * tested by listing the buckets the keys see and checking the default bucket.
 */
import type { ConnectionTestResult } from '../../../shared/contract';
import { s4DestinationId, splitS4Target } from '../../../shared/destinations';
import { scrubSecrets, shortReason } from '../errors';
import { LazyDestination } from './lazy';
import type { DestinationContext, DestinationFactory } from './registry';
import type { S4Config } from './s4';

type S4Values = { endpoint: string; region: string; access_key_id: string; secret_access_key: string };

export function s4ConfigOf(values: S4Values, bucket: string, ctx: DestinationContext): S4Config {
  return {
    endpoint: values.endpoint,
    region: values.region,
    accessKeyId: values.access_key_id,
    secretAccessKey: values.secret_access_key,
    bucket,
    requestRetry: ctx.requestRetry,
    connections: ctx.connections,
  };
}

/** The S4 destination of one bucket; the AWS SDK is loaded at its first use. */
export function s4Destination(config: S4Config): LazyDestination {
  return new LazyDestination(
    s4DestinationId(config.endpoint, config.bucket),
    async () => new (await import('./s4')).S4Destination(config),
  );
}

export const s4Factory: DestinationFactory<'s4'> = {
  kind: 's4',
  open(id, values, ctx) {
    // `s4:<host>/<bucket>`: any bucket of the configured endpoint.
    const prefix = s4DestinationId(values.endpoint, '');
    if (!id.startsWith(prefix) || id.length === prefix.length) return null;
    return s4Destination(s4ConfigOf(values, id.slice(prefix.length), ctx));
  },
  async test(values, ctx): Promise<ConnectionTestResult> {
    if (!values.endpoint || !values.access_key_id || !values.secret_access_key) {
      return { target: 's4', ok: false, message: 'S4 endpoint and access keys are not set' };
    }
    const secrets = [values.secret_access_key];
    const once = { ...ctx, requestRetry: { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 } };
    // The bucket list, through the S3 client the source uses (S4 speaks S3).
    let listed: string;
    try {
      const { S3Source } = await import('../sources/s3');
      const source = new S3Source({
        region: values.region,
        endpoint: values.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: values.access_key_id, secretAccessKey: values.secret_access_key },
        requestRetry: once.requestRetry,
      });
      try {
        const buckets = await source.listBuckets(AbortSignal.timeout(15_000));
        listed = `${buckets.length} bucket${buckets.length === 1 ? '' : 's'} visible`;
      } finally {
        source.close();
      }
    } catch (err) {
      return { target: 's4', ok: false, message: scrubSecrets(shortReason(err), secrets) };
    }
    const bucket = splitS4Target(values.default_target ?? '').bucket;
    if (!bucket) return { target: 's4', ok: true, message: listed };
    const destination = s4Destination(s4ConfigOf(values, bucket, once));
    try {
      await destination.connect();
      return { target: 's4', ok: true, message: `${listed}; default bucket ${bucket} can be written` };
    } catch (err) {
      return {
        target: 's4',
        ok: false,
        message: `${listed}; default bucket ${bucket}: ${scrubSecrets(shortReason(err), secrets)}`,
      };
    } finally {
      await destination.close();
    }
  },
};
