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
 * CommonPrefixes, where S3 lists it. s3rver keeps keys as paths (`photos/2023/a.jpg` is the file
 * `<bucket>/photos/2023/a.jpg._S3rver_object`), so after its own listing this adds the subfolders
 * of the prefix's folder that hold an object somewhere below and fall in the page's key range.
 * It reads directories only, never the objects' metadata.
 */
function listFoldersAsS3Does(): void {
  const proto = FilesystemStoreClass.prototype;
  if (proto.__megaferryFolders) return;
  const original = proto.listObjects;
  proto.listObjects = async function (this: FilesystemStore, bucket, options) {
    const page = await original.call(this, bucket, options);
    const { delimiter = '', prefix = '', startAfter = '' } = options;
    if (delimiter !== '/') return page;
    const parent = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const dir = join(this.rootDirectory, bucket, ...parent.split('/').filter(Boolean));
    const lastKey = page.isTruncated ? page.objects.at(-1)?.key : undefined;
    const prefixes = new Set(page.commonPrefixes);
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const folder = `${parent}${entry.name}/`;
      if (!entry.isDirectory() || !folder.startsWith(prefix) || prefixes.has(folder)) continue;
      // In this page's range: after where it starts (a folder the start lies in came earlier) and
      // before its last object when more pages follow.
      if (folder <= startAfter || startAfter.startsWith(folder)) continue;
      if (lastKey !== undefined && folder > lastKey) continue;
      if (await holdsObject(join(dir, entry.name))) prefixes.add(folder);
    }
    return { ...page, commonPrefixes: [...prefixes].sort() };
  };
  proto.__megaferryFolders = true;
}
listFoldersAsS3Does();

/** Whether a folder of s3rver's store holds an object anywhere below it. */
async function holdsObject(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  if (entries.some((e) => e.isFile() && e.name.endsWith('._S3rver_object'))) return true;
  for (const e of entries) if (e.isDirectory() && (await holdsObject(join(dir, e.name)))) return true;
  return false;
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
