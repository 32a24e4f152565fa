/**
 * The S3 source against s3rver: listing (pages, prefix, delimiter), head, ranged reads, and errors
 * classified into what a person can act on (no credentials, wrong ones, access denied, bucket
 * missing, endpoint unreachable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { S3Source } from '../src/main/engine/sources/s3';
import { FerryError } from '../src/main/engine/errors';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startFaultProxy } from './peers/fault-proxy';
import { testBytes } from './peers/fixtures';

let s3: S3Peer;
let source: S3Source;

beforeAll(async () => {
  s3 = await startS3Peer(['src', 'many']);
  source = new S3Source({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await s3.put('src', 'a/b/c.bin', testBytes(100_000, 1));
  await s3.put('src', 'a/top.txt', 'hello');
  await s3.put('src', 'a/', '');
  await s3.put('src', 'deep/er/file.txt', 'deep');
  const keys = Array.from({ length: 1005 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((k) => s3.put('many', k, 'x')));
  }
}, 120_000);

afterAll(async () => {
  source?.close();
  await s3?.stop();
});

describe('S3Source', () => {
  it('lists every object across pages', async () => {
    const seen: string[] = [];
    for await (const o of source.listAll('many', 'k/')) seen.push(o.key);
    expect(seen).toHaveLength(1005);
    expect(new Set(seen).size).toBe(1005);
    expect(seen[1004]).toBe('k/1004');
  });

  it('lists folders as common prefixes with a delimiter', async () => {
    const page = await source.list('src', { prefix: 'a/', delimiter: '/' });
    expect(page.folders).toEqual(['a/b/']);
    expect(page.objects.map((o) => o.key)).toEqual(['a/', 'a/top.txt']);
    expect(page.next_token).toBeNull();
    // A folder that holds only folders is a common prefix too, as on S3.
    const top = await source.list('src', { prefix: '', delimiter: '/' });
    expect(top.folders).toEqual(['a/', 'deep/']);
    expect(top.objects).toEqual([]);
  });

  it('heads objects (null when missing) and reads from an offset', async () => {
    const head = await source.head('src', 'a/b/c.bin');
    expect(head).toMatchObject({ key: 'a/b/c.bin', size: 100_000 });
    expect(await source.head('src', 'a/none')).toBeNull();
    const body = await source.read('src', 'a/b/c.bin', {
      start: 99_990,
      signal: new AbortController().signal,
    });
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(testBytes(100_000, 1).subarray(99_990));
  });

  it('classifies errors: missing bucket is not_found, a closed port is transient', async () => {
    await expect(source.checkBucket('no-such-bucket')).rejects.toMatchObject({
      kind: 'not_found',
      side: 'source',
    });
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const down = new S3Source({
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      requestRetry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    });
    const err = await down.checkBucket('src').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'transient', side: 'source' });
    down.close();
  });

  it('says what happened and what to do: the problem of each S3 failure', async () => {
    const closedPort = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const once = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };
    const keys = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as FerryError,
      );

    // A bucket that is not there, by listing and by HeadBucket (whose 404 has no body).
    for (const err of [
      await failure(source.list('no-such-bucket', { delimiter: '/' })),
      await failure(source.checkBucket('no-such-bucket')),
    ]) {
      expect(err).toMatchObject({ kind: 'not_found', problem: 'bucket_missing' });
      expect(err?.message).toMatch(/no-such-bucket.*check .*name, the region and the endpoint/);
    }

    // Keys S3 does not know (s3rver checks the access key id).
    const wrong = new S3Source({
      endpoint: s3.endpoint,
      credentials: { ...keys, accessKeyId: 'NOPE' },
      requestRetry: once,
    });
    const bad = await failure(wrong.listBuckets());
    expect(bad).toMatchObject({ kind: 'auth', problem: 'bad_credentials' });
    expect(bad?.message).toBe(
      'S3 did not accept the credentials for bucket list (InvalidAccessKeyId): check the access key id and the secret',
    );
    wrong.close();

    // Keys that may not list buckets: S3's 403 AccessDenied, through a proxy that refuses it.
    const proxy = await startFaultProxy({
      target: s3.endpoint,
      seed: 1,
      decide: (req) => (req.url.split('?')[0] === '/' ? 'denied' : null),
    });
    const scoped = new S3Source({
      endpoint: proxy.url,
      forcePathStyle: true,
      credentials: keys,
      requestRetry: once,
    });
    expect(await failure(scoped.listBuckets())).toMatchObject({ kind: 'auth', problem: 'access_denied' });
    await expect(scoped.checkBucket('src')).resolves.toBeUndefined();
    scoped.close();
    await proxy.stop();

    // Nothing listening at the endpoint.
    const down = new S3Source({
      endpoint: `http://127.0.0.1:${closedPort}`,
      credentials: keys,
      requestRetry: once,
    });
    const unreachable = await failure(down.listBuckets());
    expect(unreachable).toMatchObject({ kind: 'transient', problem: 'unreachable' });
    expect(unreachable?.message).toBe(
      'S3 endpoint unreachable for bucket list (ECONNREFUSED): check the endpoint address and the network',
    );
    down.close();

    // No credentials anywhere in the SDK's chain (no variables, no files, no instance role).
    const saved = { ...process.env };
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
    Object.assign(process.env, {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/megaferry-test/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/megaferry-test/credentials',
    });
    try {
      const nobody = new S3Source({ endpoint: s3.endpoint, requestRetry: once });
      const none = await failure(nobody.listBuckets());
      expect(none).toMatchObject({ kind: 'auth', problem: 'no_credentials' });
      expect(none?.message).toMatch(
        /^no S3 credentials found for bucket list: enter an access key in Settings/,
      );
      nobody.close();
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});
