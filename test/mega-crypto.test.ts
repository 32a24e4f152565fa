/**
 * MEGA's chunked crypto against the reference: the meta-MAC of every known-answer vector and
 * counter-example of ../shared/mega-mac-vectors.json (made by rclone and megatools), the reference
 * algorithm of ../shared/mega-mac-vectors.mjs over random files, and the CTR bytes against megajs's
 * `encrypt` stream (its ciphertext is right; its MAC is not at some sizes, which is shown below).
 */
import { createHash, randomBytes } from 'node:crypto';
import { BOUNDARY_SIZES } from './peers/fixtures';
import { Readable } from 'node:stream';
import { MutableFile, encrypt as megaEncrypt, verify as megaVerify } from 'megajs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chunkBoundaries,
  chunkMac,
  ctrDecipher,
  ctrEncrypt,
  e64,
  encryptCbcZeroIv,
  fileMac,
  foldMacs,
  MetaMacStream,
  nodeAesKey,
  nodeKey,
  packAttributes,
  splitNodeKey,
} from '../src/main/engine/destinations/mega-crypto';
import { contentOf, loadMacReference, loadMacVectors, type MacReference } from './peers/mac-vectors';

const KiB = 1024;
const MiB = 1024 * 1024;

const SIZES = [
  ...new Set([...BOUNDARY_SIZES, MiB - 1, MiB, 1280 * KiB, 4608 * KiB, 4608 * KiB + 1, 5632 * KiB]),
];

let reference: MacReference;
beforeAll(async () => {
  reference = await loadMacReference();
});

interface StreamWithKey extends NodeJS.ReadWriteStream {
  key?: Buffer;
}

/** megajs's encrypting stream over `data` (fed in odd pieces): its ciphertext. */
async function megajsCiphertext(key24: Buffer, data: Buffer): Promise<Buffer> {
  const stream = megaEncrypt(Buffer.from(key24)) as unknown as StreamWithKey;
  const out: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let i = 0; i < data.length; i += 100_003) stream.write(Buffer.from(data.subarray(i, i + 100_003)));
  stream.end();
  await done;
  return Buffer.concat(out);
}

/** True when megajs 1.3.10's download check (`verify(key)`) accepts `data`. */
async function megajsVerifies(key32: Buffer, data: Buffer): Promise<boolean> {
  const stream = megaVerify(Buffer.from(key32)) as unknown as NodeJS.ReadWriteStream;
  return new Promise<boolean>((resolve) => {
    stream.on('error', () => resolve(false));
    stream.on('finish', () => resolve(true));
    stream.resume();
    Readable.from(data.length > 0 ? [data] : []).pipe(stream);
  });
}

/** Our whole-chunk path: ciphertext and node key for `data`. */
function ours(key: Buffer, nonce: Buffer, data: Buffer): { ciphertext: Buffer; key: Buffer } {
  const parts: Buffer[] = [];
  const macs: Buffer[] = [];
  for (const { start, end } of chunkBoundaries(data.length)) {
    const chunk = data.subarray(start, end);
    macs.push(chunkMac(key, nonce, chunk));
    parts.push(ctrEncrypt(key, nonce, start, chunk));
  }
  const { condensedMac } = fileMac(key, macs);
  return { ciphertext: Buffer.concat(parts), key: nodeKey(key, nonce, condensedMac) };
}

/** MetaMacStream over `data` fed in pieces of `piece` bytes. */
function streamed(key: Buffer, nonce: Buffer, data: Buffer, piece: number): Buffer {
  const mac = new MetaMacStream(key, nonce);
  for (let i = 0; i < data.length; i += piece) mac.update(data.subarray(i, i + piece));
  expect(mac.size).toBe(data.length);
  return mac.metaMac();
}

describe('chunkBoundaries', () => {
  it('grows by 128 KiB up to 1 MiB, then stays at 1 MiB', () => {
    const chunks = chunkBoundaries(10 * MiB);
    const lengths = chunks.map((c) => (c.end - c.start) / KiB);
    expect(lengths.slice(0, 10)).toEqual([128, 256, 384, 512, 640, 768, 896, 1024, 1024, 1024]);
    expect(chunks[0]).toEqual({ start: 0, end: 128 * KiB });
    expect(chunks[1]).toEqual({ start: 128 * KiB, end: 384 * KiB });
    expect(chunks.at(-1)?.end).toBe(10 * MiB);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]?.start).toBe(chunks[i - 1]?.end);
  });

  it('gives no chunk for an empty file and a short last chunk otherwise', () => {
    expect(chunkBoundaries(0)).toEqual([]);
    expect(chunkBoundaries(1)).toEqual([{ start: 0, end: 1 }]);
    expect(chunkBoundaries(128 * KiB + 1)).toEqual([
      { start: 0, end: 128 * KiB },
      { start: 128 * KiB, end: 128 * KiB + 1 },
    ]);
    expect(() => chunkBoundaries(-1)).toThrow(RangeError);
  });
});

describe('the known-answer vectors of ../shared/mega-mac-vectors.json', () => {
  const file = loadMacVectors();
  let content: (size: number) => Buffer = () => Buffer.alloc(0);
  beforeAll(() => {
    const sizes = [...file.vectors, ...file.counter_examples].map((v) => v.size);
    content = contentOf(reference, sizes);
  });

  it('has the 47 vectors and the counter-examples, and content() is the content they were made of', () => {
    expect(file.vectors).toHaveLength(47);
    expect(file.counter_examples.length).toBeGreaterThan(0);
    for (const [size, sum] of Object.entries(file.content_sha256)) {
      expect(
        createHash('sha256')
          .update(content(Number(size)))
          .digest('hex'),
        `content(${size})`,
      ).toBe(sum);
    }
  });

  it.each(file.vectors.map((v) => [v.size, v.client.split(' ')[0], v] as const))(
    'vector %i (%s): chunkMac/fileMac/nodeKey and MetaMacStream give its node key',
    (size, _client, vector) => {
      const { key, nonce, metaMac } = splitNodeKey(Buffer.from(vector.node_key_hex, 'hex'));
      const data = content(size);
      expect(ours(key, nonce, data).key.toString('hex')).toBe(vector.node_key_hex);
      expect(streamed(key, nonce, data, 65_537).toString('hex')).toBe(metaMac.toString('hex'));
    },
  );

  it.each(file.counter_examples.map((v) => [v.size, v.client, v] as const))(
    'counter-example %i (%s): not what we compute',
    (size, _client, counter) => {
      const { key, nonce, metaMac } = splitNodeKey(Buffer.from(counter.node_key_hex, 'hex'));
      const data = content(size);
      expect(ours(key, nonce, data).key.toString('hex')).not.toBe(counter.node_key_hex);
      expect(streamed(key, nonce, data, 65_537).equals(metaMac)).toBe(false);
    },
  );
});

describe('known answers against the reference algorithm (../shared/mega-mac-vectors.mjs)', () => {
  it.each(SIZES)(
    '%i bytes: the reference meta-MAC, whole or streamed, and the same ciphertext as megajs',
    async (size) => {
      const key = randomBytes(16);
      const nonce = randomBytes(8);
      const data = randomBytes(size);
      const actual = ours(key, nonce, data);
      const want = reference.metaMac(data, key, nonce).toString('hex');
      expect(splitNodeKey(actual.key).metaMac.toString('hex')).toBe(want);
      expect(splitNodeKey(actual.key).key.equals(key)).toBe(true);
      expect(splitNodeKey(actual.key).nonce.equals(nonce)).toBe(true);
      for (const piece of [1000, 16, 131_073]) {
        if (piece < 100 && size > 400 * KiB) continue; // tiny pieces only where it stays quick
        expect(streamed(key, nonce, data, piece).toString('hex'), `pieces of ${piece}`).toBe(want);
      }
      expect(actual.ciphertext.equals(await megajsCiphertext(Buffer.concat([key, nonce]), data))).toBe(true);
      const decipher = ctrDecipher(key, nonce);
      const plain = Buffer.concat([
        decipher.update(actual.ciphertext.subarray(0, 7)),
        decipher.update(actual.ciphertext.subarray(7)),
        decipher.final(),
      ]);
      expect(plain.equals(data)).toBe(true);
    },
  );

  it('the empty file has no chunk and the meta-MAC 0^8; an empty chunk is refused', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    expect(splitNodeKey(ours(key, nonce, Buffer.alloc(0)).key).metaMac).toEqual(Buffer.alloc(8));
    expect(new MetaMacStream(key, nonce).metaMac()).toEqual(Buffer.alloc(8));
    expect(() => chunkMac(key, nonce, Buffer.alloc(0))).toThrow(RangeError);
  });

  it('one plaintext byte changed gives another meta-MAC (the check can fail)', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const data = randomBytes(400 * KiB);
    const tampered = Buffer.from(data);
    tampered[300 * KiB] = (tampered[300 * KiB] as number) ^ 1;
    expect(streamed(key, nonce, tampered, 4096).equals(streamed(key, nonce, data, 4096))).toBe(false);
  });

  it("megajs 1.3.10's download check refuses correct files at the sizes it gets wrong (so tests never rely on it)", async () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    for (const [size, accepted] of [
      [0, false],
      [128 * KiB - 1, false],
      [128 * KiB, false],
      [128 * KiB + 1, true],
      [384 * KiB, false],
      [1000, true],
    ] as const) {
      const data = randomBytes(size);
      expect(await megajsVerifies(ours(key, nonce, data).key, data), `${size} bytes`).toBe(accepted);
    }
  });

  it('encrypts a chunk in the middle of the file on its own', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const data = randomBytes(2 * MiB);
    const whole = ctrEncrypt(key, nonce, 0, data);
    const middle = ctrEncrypt(key, nonce, 384 * KiB, data.subarray(384 * KiB, 768 * KiB));
    expect(middle.equals(whole.subarray(384 * KiB, 768 * KiB))).toBe(true);
    expect(() => ctrEncrypt(key, nonce, 8, data)).toThrow(RangeError);
  });
});

describe('node attributes and keys', () => {
  it('packs and encrypts attributes as megajs, and recovers the AES key from the node key', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const node = nodeKey(key, nonce, randomBytes(8));
    expect(nodeAesKey(node).equals(key)).toBe(true);
    const attributes = { mfid: 't-1', n: 'naïve ü 文件.bin' };
    const at = packAttributes(attributes);
    expect(at.equals(MutableFile.packAttributes(attributes as unknown as JSON))).toBe(true);
    const encrypted = encryptCbcZeroIv(key, at);
    expect(encrypted.length).toBe(at.length);
    expect(encrypted.equals(at)).toBe(false);
    expect(e64(Buffer.from([0xfb, 0xff, 0xfe]))).toBe('-__-');
    expect(e64(Buffer.from([1]))).toBe('AQ');
  });
});

describe('foldMacs', () => {
  it('folding a prefix and then the rest gives the file MAC of all the chunks', () => {
    const key = randomBytes(16);
    const macs = Array.from({ length: 9 }, () => randomBytes(16));
    const whole = fileMac(key, macs).mac;
    for (const cut of [0, 1, 4, 9]) {
      const state = foldMacs(key, Buffer.alloc(16), macs.slice(0, cut));
      expect(foldMacs(key, state, macs.slice(cut)).equals(whole), `cut at ${cut}`).toBe(true);
    }
    expect(foldMacs(key, Buffer.alloc(16), macs.slice(0, 3)).equals(whole)).toBe(false);
  });
});
