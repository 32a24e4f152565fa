/**
 * Known answers for MEGA's chunked crypto against megajs itself: its `encrypt` stream (CTR bytes,
 * MAC and node key, one 16-byte block per cipher call) and its `verify` stream.
 */
import { randomBytes } from 'node:crypto';
import { BOUNDARY_SIZES } from './peers/fixtures';
import { Readable } from 'node:stream';
import { MutableFile, encrypt as megaEncrypt, verify as megaVerify } from 'megajs';
import { describe, expect, it } from 'vitest';
import {
  chunkBoundaries,
  chunkMac,
  ctrEncrypt,
  e64,
  encryptCbcZeroIv,
  endsOnChunkBoundary,
  fileChunkMacs,
  fileMac,
  foldMacs,
  nodeAesKey,
  nodeKey,
  packAttributes,
} from '../src/main/engine/destinations/mega-crypto';

const KiB = 1024;
const MiB = 1024 * 1024;

const SIZES = [
  ...new Set([...BOUNDARY_SIZES, MiB - 1, MiB, 1280 * KiB, 4608 * KiB, 4608 * KiB + 1, 5632 * KiB]),
];

interface StreamWithKey extends NodeJS.ReadWriteStream {
  key?: Buffer;
  mac?: Buffer;
}

/** megajs's encrypting stream over `data` (fed in odd pieces): ciphertext and the final key. */
async function megajsEncrypt(key24: Buffer, data: Buffer): Promise<{ ciphertext: Buffer; key: Buffer }> {
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
  // megajs sets `key` on the stream it returns when it flushes (its upload reads it there).
  const key = stream.key;
  if (!key) throw new Error('megajs gave no key');
  return { ciphertext: Buffer.concat(out), key };
}

/** True when megajs's `verify(key)` accepts `data`. */
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
  const { condensedMac } = fileMac(key, fileChunkMacs(nonce, data.length, macs));
  return { ciphertext: Buffer.concat(parts), key: nodeKey(key, nonce, condensedMac) };
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

  it('knows which sizes end on a boundary', () => {
    expect([0, 128 * KiB, 128 * KiB - 1, 384 * KiB, 4608 * KiB, 5632 * KiB].map(endsOnChunkBoundary)).toEqual(
      [true, true, true, true, true, true],
    );
    expect([1, 128 * KiB - 16, 128 * KiB + 1, MiB, 3 * MiB + 7].map(endsOnChunkBoundary)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('known answers against megajs', () => {
  it.each(SIZES)('%i bytes: same ciphertext and node key as megajs, and megajs verifies it', async (size) => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const data = randomBytes(size);
    const expected = await megajsEncrypt(Buffer.concat([key, nonce]), data);
    const actual = ours(key, nonce, data);
    expect(actual.ciphertext.equals(expected.ciphertext)).toBe(true);
    expect(actual.key.toString('hex')).toBe(expected.key.toString('hex'));
    expect(await megajsVerifies(actual.key, data)).toBe(true);
  });

  it('megajs rejects the node key when one plaintext byte differs (the check can fail)', async () => {
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const data = randomBytes(400 * KiB);
    const { key: good } = ours(key, nonce, data);
    const tampered = Buffer.from(data);
    tampered[300 * KiB] = (tampered[300 * KiB] as number) ^ 1;
    expect(await megajsVerifies(good, tampered)).toBe(false);
    // Leaving out megajs's trailing empty MAC for a boundary-sized file is caught too.
    const onBoundary = data.subarray(0, 384 * KiB);
    const macs = chunkBoundaries(onBoundary.length).map((c) =>
      chunkMac(key, nonce, onBoundary.subarray(c.start, c.end)),
    );
    const bare = nodeKey(key, nonce, fileMac(key, macs).condensedMac);
    expect(await megajsVerifies(bare, onBoundary)).toBe(false);
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
