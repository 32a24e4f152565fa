/** The S3 source against s3rver: listing (pages, prefix, delimiter), head, ranged reads, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { S3Source } from '../src/main/engine/sources/s3';
import { FerryError } from '../src/main/engine/errors';
import { startS3Peer, type S3Peer } from './peers/s3';
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
});
