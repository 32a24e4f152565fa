/**
 * MegaDestination against the real mega-mock peer: bytes verified by a separate stock megajs
 * download (which checks the MAC), folders, lookups, the Rubbish Bin, error classes, retries and
 * cancellation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, FerryError } from '../src/main/engine/errors';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import type { DestinationNode, UploadRequest } from '../src/main/engine/ports';
import { countFolders, downloadSha256, listPath, startMegaPeer, type MegaPeer } from './peers/mega';

let peer: MegaPeer;
let dest: MegaDestination;

beforeAll(async () => {
  peer = await startMegaPeer();
  dest = newDestination();
  await dest.connect();
});

afterAll(async () => {
  await dest?.close();
  await peer?.stop();
});

function newDestination(overrides: { password?: string; gateway?: string } = {}): MegaDestination {
  return new MegaDestination({
    email: peer.email,
    password: overrides.password ?? peer.password,
    gateway: overrides.gateway ?? peer.gateway,
    requestRetry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 1000 },
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function request(path: string, data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    path,
    size: data.length,
    body: Readable.from(data.length > 0 ? [data] : []),
    transfer_id: `tid-${path}`,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...extra,
  };
}

async function uploadAndVerify(path: string, data: Buffer): Promise<DestinationNode> {
  const progress: number[] = [];
  const node = await dest.upload(request(path, data, { onProgress: (bytes) => progress.push(bytes) }));
  expect(node.size).toBe(data.length);
  expect(node.transfer_id).toBe(`tid-${path}`);
  expect(node.handle).toMatch(/^\w+$/);
  expect(progress.at(-1)).toBe(data.length);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  const downloaded = await downloadSha256(peer, path);
  expect(downloaded).toEqual({ sha256: sha256(data), size: data.length });
  return node;
}

/** A body that yields `chunk` bytes every `everyMs` until `size`, recording whether it was destroyed. */
function slowBody(size: number, chunk: number, everyMs: number): Readable & { destroyedAt?: number } {
  let sent = 0;
  const body: Readable & { destroyedAt?: number } = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      setTimeout(() => {
        if (body.destroyed) return;
        const n = Math.min(chunk, size - sent);
        sent += n;
        this.push(randomBytes(n));
      }, everyMs);
    },
    destroy(err, cb) {
      body.destroyedAt = Date.now();
      cb(err);
    },
  });
  return body;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('connect', () => {
  it('logs in once per instance, however many callers ask at once', async () => {
    const fresh = newDestination();
    const before = peer.commands.filter((a) => a === 'us').length;
    await Promise.all([fresh.connect(), fresh.connect(), fresh.find('/nothing/here.bin'), fresh.connect()]);
    await fresh.connect();
    expect(peer.commands.filter((a) => a === 'us').length - before).toBe(1);
    await fresh.close();
  });

  it('rejects a wrong password as auth, naming the email and never the password', async () => {
    const password = 'Sup3r-Secret-Passw0rd';
    const wrong = newDestination({ password });
    const err = await wrong.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'auth', side: 'destination' });
    const message = (err as FerryError).message;
    expect(message).toContain(peer.email);
    expect(message).not.toContain(password);
    expect(message).not.toContain('\n');
    expect(message).toMatch(/wrong email or password/);
  });

  it('reports an unreachable gateway as transient', async () => {
    const unreachable = newDestination({ gateway: 'http://127.0.0.1:1/' });
    const err = await unreachable.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'transient', side: 'destination' });
    expect((err as FerryError).message).toContain(peer.email);
  });
});

describe('upload', () => {
  const sizes = [
    0,
    1,
    15,
    16,
    17,
    131071,
    131072,
    131073,
    393215,
    393216,
    393217,
    1048576 + 1,
    3 * 1024 * 1024 + 7,
  ];

  it.each(sizes)('stores %i random bytes that a stock megajs download verifies', async (size) => {
    await uploadAndVerify(`/Sizes/size-${size}.bin`, randomBytes(size));
  });

  it('keeps names with spaces and non-ASCII characters', async () => {
    await uploadAndVerify('/Name Tests/with some spaces.bin', randomBytes(1000));
    await uploadAndVerify('/Café/naïve ü 文件.bin', randomBytes(2000));
    const listed = await listPath(peer, '/Café');
    expect(listed.map((n) => n.name)).toEqual(['naïve ü 文件.bin']);
  });

  it('creates every missing folder of a deep path', async () => {
    await uploadAndVerify('/Backup/a/b/c/d/e/f.bin', randomBytes(5000));
    for (const [parent, name] of [
      ['/', 'Backup'],
      ['/Backup', 'a'],
      ['/Backup/a', 'b'],
      ['/Backup/a/b/c/d', 'e'],
    ] as const) {
      expect(await countFolders(peer, parent, name)).toBe(1);
    }
    // A second file reuses the folders.
    await uploadAndVerify('/Backup/a/b/c/d/e/g.bin', randomBytes(10));
    expect(await countFolders(peer, '/Backup/a/b/c/d', 'e')).toBe(1);
    expect((await listPath(peer, '/Backup/a/b/c/d/e')).map((n) => n.name).sort()).toEqual(['f.bin', 'g.bin']);
  });

  it('creates a new folder once when three uploads go into it at the same time', async () => {
    const files = [0, 1, 2].map((i) => ({
      path: `/Together/inner/file-${i}.bin`,
      data: randomBytes(20000 + i),
    }));
    const nodes = await Promise.all(files.map((f) => dest.upload(request(f.path, f.data))));
    expect(new Set(nodes.map((n) => n.handle)).size).toBe(3);
    expect(await countFolders(peer, '/', 'Together')).toBe(1);
    expect(await countFolders(peer, '/Together', 'inner')).toBe(1);
    expect(await listPath(peer, '/Together/inner')).toHaveLength(3);
    for (const f of files) {
      expect(await downloadSha256(peer, f.path)).toEqual({ sha256: sha256(f.data), size: f.data.length });
    }
  });

  it('reuses a folder made by another session', async () => {
    const other = newDestination();
    await other.upload(request('/Shared Folder/one.bin', randomBytes(10)));
    await other.close();
    const fresh = newDestination();
    await fresh.upload(request('/Shared Folder/two.bin', randomBytes(10)));
    await fresh.close();
    expect(await countFolders(peer, '/', 'Shared Folder')).toBe(1);
    expect(await listPath(peer, '/Shared Folder')).toHaveLength(2);
  });

  it('rejects a body that fails with a source-side error', async () => {
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 200_000) {
          this.destroy(new Error('socket hang up'));
          return;
        }
        sent += 50_000;
        this.push(randomBytes(50_000));
      },
    });
    const err = await dest
      .upload({ ...request('/Broken/source.bin', Buffer.alloc(0)), size: 400_000, body })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'transient', side: 'source' });
  });

  it('rejects a body shorter than the announced size', async () => {
    const err = await dest
      .upload({ ...request('/Broken/short.bin', randomBytes(1000)), size: 2000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'transient', side: 'source' });
    await sleep(200);
    expect(await listPath(peer, '/Broken/short.bin')).toHaveLength(0);
  });
});

describe('find, discard, link', () => {
  it('finds the node with its transfer_id, also from a fresh login', async () => {
    const data = randomBytes(4321);
    const node = await dest.upload(request('/Find/it.bin', data, { transfer_id: 'transfer-42' }));
    expect(await dest.find('/Find/it.bin')).toEqual([
      { handle: node.handle, size: 4321, transfer_id: 'transfer-42' },
    ]);
    const fresh = newDestination();
    expect(await fresh.find('/Find/it.bin')).toEqual([
      { handle: node.handle, size: 4321, transfer_id: 'transfer-42' },
    ]);
    await fresh.close();
    expect(await dest.find('/Find/other.bin')).toEqual([]);
    expect(await dest.find('/No/Such/Folder/it.bin')).toEqual([]);
    expect(await dest.find('/Find')).toEqual([]); // a folder is not a file node
  });

  it('finds every node of one name', async () => {
    const a = await dest.upload(request('/Twice/same.bin', randomBytes(10), { transfer_id: 'one' }));
    const b = await dest.upload(request('/Twice/same.bin', randomBytes(20), { transfer_id: 'two' }));
    const found = await dest.find('/Twice/same.bin');
    expect(found.map((n) => n.handle).sort()).toEqual([a.handle, b.handle].sort());
    expect(found.map((n) => n.transfer_id).sort()).toEqual(['one', 'two']);
  });

  it('discards a node into the Rubbish Bin', async () => {
    const node = await dest.upload(request('/Discard/old.bin', randomBytes(100)));
    const keep = await dest.upload(request('/Discard/keep.bin', randomBytes(100)));
    await dest.discard(node.handle);
    expect((await listPath(peer, '/Discard')).map((n) => n.handle)).toEqual([keep.handle]);
    const trash = await listPath(peer, '/', { trash: true });
    expect(trash.filter((n) => n.handle === node.handle)).toEqual([
      { name: 'old.bin', size: 100, handle: node.handle, inTrash: true },
    ]);
    expect(await dest.find('/Discard/old.bin')).toEqual([]);
    // Missing or already discarded nodes are ignored.
    await dest.discard(node.handle);
    await dest.discard('NOSUCHNODE');
    const fresh = newDestination();
    await fresh.discard(node.handle);
    await fresh.discard('NOSUCHNODE');
    expect(await fresh.find('/Discard/old.bin')).toEqual([]);
    await fresh.close();
  });

  it('makes a public link', async () => {
    const node = await dest.upload(request('/Link/me.bin', randomBytes(100)));
    expect(await dest.link(node.handle)).toMatch(/^https:\/\/mega\.nz\/file\/\w+#[\w-]+$/);
    expect(await dest.link('NOSUCHNODE')).toBeNull();
  });
});

describe('upload errors', () => {
  it('retries failing chunk POSTs and then succeeds', async () => {
    let posts = 0;
    peer.setUploadError(() => {
      posts++;
      return posts <= 2 ? Object.assign(new Error('injected failure'), { statusCode: 503 }) : undefined;
    });
    try {
      const data = randomBytes(393216); // two chunks: 128 KiB + 256 KiB
      await uploadAndVerify('/Retry/ok.bin', data);
      expect(posts).toBe(4);
    } finally {
      peer.setUploadError(null);
    }
  });

  it('gives up after the configured retries with a transient destination error', async () => {
    let posts = 0;
    peer.setUploadError(() => {
      posts++;
      return Object.assign(new Error('injected failure'), { statusCode: 500 });
    });
    try {
      const started = Date.now();
      const err = await dest.upload(request('/Retry/never.bin', randomBytes(1000))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FerryError);
      expect(err).toMatchObject({ kind: 'transient', side: 'destination' });
      expect((err as FerryError).message).toMatch(/500/);
      expect(posts).toBe(4); // one attempt + 3 retries
      // Backoff with "equal jitter": at least half of 20, 40 and 80 ms.
      expect(Date.now() - started).toBeGreaterThanOrEqual(10 + 20 + 40);
    } finally {
      peer.setUploadError(null);
    }
    expect(await listPath(peer, '/Retry/never.bin')).toHaveLength(0);
  });
});

describe('cancel', () => {
  it('stops a slow upload within a second and leaves no node', async () => {
    const controller = new AbortController();
    const body = slowBody(2 * 1024 * 1024, 32 * 1024, 25);
    let uploaded = 0;
    const upload = dest.upload({
      ...request('/Cancel/slow.bin', Buffer.alloc(0)),
      size: 2 * 1024 * 1024,
      body,
      signal: controller.signal,
      onProgress: (bytes) => (uploaded = bytes),
    });
    await sleep(600);
    const abortedAt = Date.now();
    controller.abort();
    const err = await upload.catch((e: unknown) => e);
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(err).toBeInstanceOf(CancelledError);
    expect(uploaded).toBeGreaterThan(0); // it was really in the middle
    expect(uploaded).toBeLessThan(2 * 1024 * 1024);
    expect(body.destroyed).toBe(true);
    await sleep(500);
    expect(await listPath(peer, '/Cancel/slow.bin')).toHaveLength(0);
    expect(await dest.find('/Cancel/slow.bin')).toEqual([]);
  });

  it('makes no node when cancelled after every byte is at MEGA but before the node exists', async () => {
    const controller = new AbortController();
    const data = randomBytes(1000);
    const err = await dest
      .upload(
        request('/Cancel/late.bin', data, {
          signal: controller.signal,
          onProgress: (bytes) => {
            if (bytes === data.length) controller.abort(); // every byte is at MEGA; the node is not yet made
          },
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    await sleep(300);
    expect(await listPath(peer, '/late.bin', { trash: true })).toHaveLength(0);
    expect(await listPath(peer, '/Cancel/late.bin')).toHaveLength(0);
    expect(await dest.find('/Cancel/late.bin')).toEqual([]);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const body = Readable.from([randomBytes(10)]);
    const err = await dest
      .upload({ ...request('/Cancel/never.bin', randomBytes(10)), body, signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(body.destroyed).toBe(true);
    expect(await listPath(peer, '/Cancel/never.bin')).toHaveLength(0);
  });
});
