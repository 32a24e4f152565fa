/**
 * The S3 test peer: s3rver, a real S3 HTTP server backed by a temporary folder, on 127.0.0.1 and a
 * random port.
 */
import S3rver from 's3rver';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';

interface ListedObject {
  key: string;
}
interface ListResult {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface ListOptions {
  delimiter?: string;
  prefix?: string;
  startAfter?: string;
  maxKeys?: number;
}
type ListObjects = (this: unknown, bucket: string, options: ListOptions) => Promise<ListResult>;

/**
 * s3rver's filesystem store, listing with a delimiter, never descends into a folder below the
 * prefix, so a folder holding only folders (photos/ with only photos/2023/…) is missing from
 * CommonPrefixes, where S3 lists it. This lists the whole subtree and groups it as S3 does: keys
 * with the delimiter after the prefix become common prefixes, the others objects, and max-keys
 * counts objects as s3rver's own paging (its continuation token is the last object's key) needs.
 */
function listFoldersAsS3Does(): void {
  const store = createRequire(import.meta.url)('s3rver/lib/stores/filesystem') as {
    prototype: { listObjects: ListObjects; __megaferryFolders?: true };
  };
  if (store.prototype.__megaferryFolders) return;
  const original = store.prototype.listObjects;
  store.prototype.listObjects = async function (bucket, options) {
    const { delimiter = '', prefix = '', maxKeys = Infinity } = options;
    if (!delimiter) return original.call(this, bucket, options);
    const all = await original.call(this, bucket, { ...options, delimiter: '', maxKeys: Infinity });
    const commonPrefixes = new Set<string>();
    const objects: ListedObject[] = [];
    let isTruncated = false;
    for (const object of all.objects) {
      const at = object.key.indexOf(delimiter, prefix.length);
      if (at !== -1) commonPrefixes.add(object.key.slice(0, at + delimiter.length));
      else if (objects.length < maxKeys) objects.push(object);
      else {
        isTruncated = true;
        break;
      }
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated };
  };
  store.prototype.__megaferryFolders = true;
}
listFoldersAsS3Does();

export interface S3Peer {
  endpoint: string;
  /** Environment for the CLI / engine (endpoint, path style, dummy keys s3rver accepts). */
  env: Record<string, string>;
  client: S3Client;
  put(bucket: string, key: string, body: Buffer | Readable | string, size?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Peer(buckets: string[] = []): Promise<S3Peer> {
  const directory = await mkdtemp(join(tmpdir(), 'megaferry-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const address = (await server.run()) as { address: string; port: number };
  const endpoint = `http://127.0.0.1:${address.port}`;
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver does not decode aws-chunked uploads (the SDK's default for streamed bodies, to carry a
    // trailing checksum): it would keep the chunk framing inside the object.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    env,
    client,
    async put(bucket, key, body, size) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength:
            size ?? (typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.byteLength(body) : undefined),
        }),
      );
    },
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
