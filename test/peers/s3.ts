/**
 * The S3 test peer: s3rver, a real S3 HTTP server backed by a temporary folder, on 127.0.0.1 and a
 * random port.
 */
import S3rver from 's3rver';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

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
interface FilesystemStore {
  rootDirectory: string;
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
  putObject(object: unknown): Promise<unknown>;
}
const FilesystemStoreClass = require('s3rver/lib/stores/filesystem') as {
  prototype: FilesystemStore & { __megaferryFolders?: true };
};
const S3Object = require('s3rver/lib/models/object') as new (
  bucket: string,
  key: string,
  content: Buffer,
  metadata: Record<string, string>,
) => unknown;

/**
 * s3rver's filesystem store, listing with the "/" delimiter, never descends into a folder below
 * the prefix, so a folder holding only folders (photos/ with only photos/2023/…) is missing from
 * CommonPrefixes, where S3 lists it. When the prefix's folder has such subfolders, this lists the
 * whole subtree and groups it as S3 does: keys with the delimiter after the prefix become common
 * prefixes, the others objects, and max-keys counts objects as s3rver's own paging (its
 * continuation token is the last object's key) needs. A folder with no subfolders keeps s3rver's
 * own, cheaper listing.
 */
function listFoldersAsS3Does(): void {
  const proto = FilesystemStoreClass.prototype;
  if (proto.__megaferryFolders) return;
  const original = proto.listObjects;
  proto.listObjects = async function (this: FilesystemStore, bucket, options) {
    const { delimiter = '', prefix = '', maxKeys = Infinity } = options;
    if (delimiter !== '/' || !(await hasSubfolders(this, bucket, prefix))) {
      return original.call(this, bucket, options);
    }
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
  proto.__megaferryFolders = true;
}
listFoldersAsS3Does();

/** Whether the folder the prefix points into has subfolders matching it (s3rver keeps keys as paths). */
async function hasSubfolders(store: FilesystemStore, bucket: string, prefix: string): Promise<boolean> {
  const parent = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const rest = prefix.slice(parent.length);
  try {
    const entries = await readdir(join(store.rootDirectory, bucket, ...parent.split('/')), {
      withFileTypes: true,
    });
    return entries.some((e) => e.isDirectory() && e.name.startsWith(rest));
  } catch {
    return false;
  }
}

export interface S3Peer {
  endpoint: string;
  /** Environment for the CLI / engine (endpoint, path style, dummy keys s3rver accepts). */
  env: Record<string, string>;
  client: S3Client;
  put(bucket: string, key: string, body: Buffer | Readable | string, size?: number): Promise<void>;
  /**
   * Writes many small objects through s3rver's own store (its format, its checksums) without an
   * HTTP request each: tens of thousands of objects in seconds, for listing tests.
   */
  putMany(bucket: string, objects: { key: string; body: Buffer }[]): Promise<void>;
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
    async putMany(bucket, objects) {
      const store = (server as unknown as { store: FilesystemStore }).store;
      for (let i = 0; i < objects.length; i += 64) {
        await Promise.all(
          objects
            .slice(i, i + 64)
            .map(({ key, body }) =>
              store.putObject(
                new S3Object(bucket, key, body, { 'content-type': 'application/octet-stream' }),
              ),
            ),
        );
      }
    },
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
