/**
 * The uploader against MEGA's known-answer MAC vectors (../shared/mega-mac-vectors.json, made by
 * rclone and megatools) and the reference algorithm (../shared/mega-mac-vectors.mjs), through the
 * real mega-mock peer. One mega-mock for every size.
 *
 * 1. Every vector and counter-example through the uploader's own code path: `uploadChunks` runs
 *    with the vector's file key and nonce (handed over as a saved session at offset 0 of a fresh
 *    upload URL, the only way in for a given key: a new upload draws its own), so the chunk crypto
 *    (the streaming encryptor), the fold and the condensing are the ones every upload uses; the node key
 *    it would write must equal the vector's, and must differ from every counter-example's.
 * 2. The whole upload path (MegaDestination: a fresh key and nonce, chunk POSTs, the node made with
 *    `p`) at every vector size: the node key is read back from mega-mock's stored node, decrypted
 *    with the account's master key, and its meta-MAC checked against the reference `metaMac()` of
 *    the .mjs over the content, not against megajs (whose download check refuses correct files at
 *    some of these sizes). The bytes are then downloaded, decrypted and hashed (peers/mega.ts
 *    `downloadSha256`, which also checks the MAC without megajs).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Storage } from 'megajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import { splitNodeKey } from '../src/main/engine/destinations/mega-crypto';
import {
  uploadChunks,
  type MegaApiLike,
  type UploadSession,
} from '../src/main/engine/destinations/mega-upload';
import {
  contentOf,
  loadMacReference,
  loadMacVectors,
  type MacReference,
  type MacVector,
} from './peers/mac-vectors';
import { downloadSha256, sessionFetch, startMegaPeer, type MegaPeer } from './peers/mega';

const file = loadMacVectors();
const ALL = [...file.vectors, ...file.counter_examples];
const SIZES = [...new Set(file.vectors.map((v) => v.size))].sort((a, b) => a - b);

let peer: MegaPeer;
let storage: Storage;
let reference: MacReference;
let content: (size: number) => Buffer;

beforeAll(async () => {
  reference = await loadMacReference();
  content = contentOf(
    reference,
    ALL.map((v) => v.size),
  );
  peer = await startMegaPeer();
  storage = await new Storage({
    email: peer.email,
    password: peer.password,
    gateway: peer.gateway,
    keepalive: false,
    fetch: sessionFetch(),
  }).ready;
});

afterAll(async () => {
  await storage?.close().catch(() => undefined);
  await peer?.stop();
});

/** The node key `uploadChunks` computes for `content(size)` under the vector's file key and nonce. */
async function uploaderNodeKey(vector: MacVector): Promise<string> {
  const { key, nonce } = splitNodeKey(Buffer.from(vector.node_key_hex, 'hex'));
  const api = storage.api as unknown as MegaApiLike;
  const answer = (await api.request({ a: 'u', ssl: 0, s: vector.size, ms: 0, r: 0, e: 0, v: 2 })) as {
    p: string;
  };
  const session: UploadSession = {
    upload_url: answer.p,
    key: key.toString('base64'),
    nonce: nonce.toString('base64'),
    size: vector.size,
    next_offset: 0,
    chunks_done: 0,
    mac_state: Buffer.alloc(16).toString('base64'),
  };
  const data = content(vector.size);
  const result = await uploadChunks({
    api,
    size: vector.size,
    body: Readable.from(data.length > 0 ? [data] : []),
    signal: new AbortController().signal,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    session,
  });
  return result.key.toString('hex');
}

describe("the uploader's node key for every vector of ../shared/mega-mac-vectors.json", () => {
  it('runs all 47 vectors and every counter-example', () => {
    expect(file.vectors).toHaveLength(47);
    expect(file.counter_examples.length).toBeGreaterThanOrEqual(13);
  });

  it.each(file.vectors.map((v) => [v.size, v.client.split(' ')[0], v] as const))(
    'vector %i (%s): the node key it would write is the vector',
    async (_size, _client, vector) => {
      expect(await uploaderNodeKey(vector)).toBe(vector.node_key_hex);
    },
  );

  it.each(file.counter_examples.map((v) => [v.size, v.client, v] as const))(
    'counter-example %i (%s): the node key it would write is not this one',
    async (_size, _client, counter) => {
      expect(await uploaderNodeKey(counter)).not.toBe(counter.node_key_hex);
    },
  );
});

describe('the whole upload path at every vector size, read back from mega-mock', () => {
  let dest: MegaDestination;
  beforeAll(() => {
    dest = new MegaDestination({
      email: peer.email,
      password: peer.password,
      gateway: peer.gateway,
      requestRetry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    });
  });
  afterAll(async () => {
    await dest?.close();
  });

  /** The node key mega-mock stores for `handle`, decrypted with the account's master key. */
  function storedNodeKey(handle: string): Buffer {
    for (const user of peer.state.users.values()) {
      const node = user.files.find((f) => f.h === handle) as { k?: string } | undefined;
      if (node?.k) {
        const sealed = Buffer.from(node.k.slice(node.k.lastIndexOf(':') + 1), 'base64url');
        return Buffer.from(storage.aes.decryptECB(sealed));
      }
    }
    throw new Error(`mega-mock has no node ${handle}`);
  }

  it.each(SIZES)('%i bytes: the stored node key holds the reference meta-MAC', async (size) => {
    const data = content(size);
    const node = await dest.upload({
      path: `/Vectors/${size}.bin`,
      size,
      body: Readable.from(data.length > 0 ? [data] : []),
      transfer_id: `vector-${size}`,
      signal: new AbortController().signal,
      onProgress: () => undefined,
    });
    expect(node.size).toBe(size);
    const stored = storedNodeKey(node.handle);
    expect(stored).toHaveLength(32);
    const { key, nonce, metaMac } = splitNodeKey(stored);
    expect(metaMac.toString('hex')).toBe(reference.metaMac(data, key, nonce).toString('hex'));
    if (size === 0) expect(metaMac).toEqual(Buffer.alloc(8));
    const sha = createHash('sha256').update(data).digest('hex');
    expect(sha).toBe(file.content_sha256[String(size)]);
    expect(await downloadSha256(peer, `/Vectors/${size}.bin`)).toEqual({ sha256: sha, size });
  });
});
