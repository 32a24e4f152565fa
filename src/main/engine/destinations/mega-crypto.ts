/**
 * MEGA's file cryptography over whole chunks with OpenSSL (node:crypto): AES-128-CTR for the
 * bytes, a CBC-MAC per chunk, the chunk MACs folded into the file MAC, and the 32-byte node key.
 * Pure functions, no I/O. Every result is byte-equal to what megajs 1.3.10 computes (its
 * `megaEncrypt` stream, `MAC` class and `mergeKeyMac`), which does the same work one 16-byte
 * block per cipher call.
 */
import { createCipheriv } from 'node:crypto';

/** The first chunk, the growth of each next chunk, and the largest chunk (MEGA's, as in megajs). */
export const FIRST_CHUNK_SIZE = 128 * 1024;
export const CHUNK_SIZE_INCREMENT = 128 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;

/** One chunk of a file: bytes [start, end). */
export interface ChunkRange {
  start: number;
  end: number;
}

/** MEGA's chunk boundaries: 128 KiB, 256 KiB, … up to 1 MiB, then 1 MiB each. Size 0: none. */
export function chunkBoundaries(size: number): ChunkRange[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`not a file size: ${size}`);
  const chunks: ChunkRange[] = [];
  let start = 0;
  let length = FIRST_CHUNK_SIZE;
  while (start < size) {
    const end = Math.min(start + length, size);
    chunks.push({ start, end });
    start = end;
    if (length < MAX_CHUNK_SIZE) length += CHUNK_SIZE_INCREMENT;
  }
  return chunks;
}

/**
 * Whether megajs's MAC adds one more, empty chunk MAC (nonce‖nonce) for a file of this size.
 * megajs starts a new chunk MAC after every boundary it reaches and always keeps the last one,
 * so a file whose zero-padded length (size rounded up to 16) ends exactly on a boundary, and the
 * empty file, get a trailing empty MAC.
 */
export function endsOnChunkBoundary(size: number): boolean {
  if (size === 0) return true;
  const padded = Math.ceil(size / 16) * 16;
  // On a boundary exactly when one more byte would open a new chunk.
  return chunkBoundaries(padded + 1).length > chunkBoundaries(padded).length;
}

function checkKey(key: Buffer, nonce: Buffer): void {
  if (key.length !== 16) throw new RangeError('the AES key must be 16 bytes');
  if (nonce.length !== 8) throw new RangeError('the nonce must be 8 bytes');
}

/** The CTR counter block for byte `offset`: nonce ‖ (offset / 16) as a 64-bit big-endian number. */
function counterBlock(nonce: Buffer, offset: number): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 16 !== 0) {
    throw new RangeError(`a CTR offset must be a multiple of 16, not ${offset}`);
  }
  const iv = Buffer.alloc(16);
  nonce.copy(iv, 0);
  iv.writeBigUInt64BE(BigInt(offset / 16), 8);
  return iv;
}

/** AES-128-CTR of `data`, which starts at byte `offset` of the file (a multiple of 16). */
export function ctrEncrypt(key: Buffer, nonce: Buffer, offset: number, data: Uint8Array): Buffer {
  checkKey(key, nonce);
  const cipher = createCipheriv('aes-128-ctr', key, counterBlock(nonce, offset));
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** The empty chunk's MAC: the CBC-MAC's IV, nonce ‖ nonce. */
export function emptyChunkMac(nonce: Buffer): Buffer {
  return Buffer.concat([nonce, nonce]);
}

/**
 * MEGA's per-chunk MAC of plaintext: AES-128-CBC with IV nonce ‖ nonce over the chunk
 * zero-padded to a multiple of 16; the last cipher block is the MAC. One cipher for the chunk.
 */
export function chunkMac(key: Buffer, nonce: Buffer, chunk: Uint8Array): Buffer {
  checkKey(key, nonce);
  if (chunk.length === 0) return emptyChunkMac(nonce);
  const cipher = createCipheriv('aes-128-cbc', key, emptyChunkMac(nonce)).setAutoPadding(false);
  const whole = chunk.length - (chunk.length % 16);
  let last: Buffer = Buffer.alloc(0);
  if (whole > 0) {
    const out = cipher.update(chunk.subarray(0, whole));
    last = out.subarray(out.length - 16);
  }
  if (whole < chunk.length) {
    const tail = Buffer.alloc(16);
    tail.set(chunk.subarray(whole));
    last = cipher.update(tail);
  }
  cipher.final();
  return Buffer.from(last);
}

/**
 * The file MAC: the chunk MACs, in file order, folded by AES-128-CBC with a zero IV (the last
 * block), and the 8-byte `condensedMac` (its halves' words XORed) that goes into the node key.
 * Give it `fileChunkMacs`'s list, not the bare chunk MACs, to match megajs for every size.
 */
export function fileMac(key: Buffer, chunkMacs: readonly Buffer[]): { mac: Buffer; condensedMac: Buffer } {
  const mac = foldMacs(key, Buffer.alloc(16), chunkMacs);
  return { mac, condensedMac: condenseMac(mac) };
}

/**
 * Folds chunk MACs into a running file MAC: CBC with the state so far as the IV, so folding a
 * prefix and then the rest gives the same MAC as folding all at once (a resumed upload keeps only
 * this 16-byte state, not every chunk's MAC).
 */
export function foldMacs(key: Buffer, state: Buffer, chunkMacs: readonly Buffer[]): Buffer {
  if (key.length !== 16) throw new RangeError('the AES key must be 16 bytes');
  if (state.length !== 16) throw new RangeError('a MAC state must be 16 bytes');
  if (chunkMacs.length === 0) return Buffer.from(state);
  for (const item of chunkMacs) {
    if (item.length !== 16) throw new RangeError('a chunk MAC must be 16 bytes');
  }
  const cipher = createCipheriv('aes-128-cbc', key, state).setAutoPadding(false);
  const out = cipher.update(Buffer.concat(chunkMacs));
  cipher.final();
  return Buffer.from(out.subarray(out.length - 16));
}

/** The 8-byte condensed MAC of a file MAC (megajs's `condensedMac`). */
export function condenseMac(mac: Buffer): Buffer {
  const condensedMac = Buffer.alloc(8);
  condensedMac.writeInt32BE(mac.readInt32BE(0) ^ mac.readInt32BE(4), 0);
  condensedMac.writeInt32BE(mac.readInt32BE(8) ^ mac.readInt32BE(12), 4);
  return condensedMac;
}

/** The chunk MACs megajs folds for a file of `size`: ours, plus its trailing empty one if any. */
export function fileChunkMacs(nonce: Buffer, size: number, chunkMacs: readonly Buffer[]): Buffer[] {
  return endsOnChunkBoundary(size) ? [...chunkMacs, emptyChunkMac(nonce)] : [...chunkMacs];
}

/**
 * The 32-byte node key (megajs's `mergeKeyMac`): (key XOR (nonce ‖ condensedMac)) ‖ nonce ‖
 * condensedMac.
 */
export function nodeKey(key: Buffer, nonce: Buffer, condensedMac: Buffer): Buffer {
  checkKey(key, nonce);
  if (condensedMac.length !== 8) throw new RangeError('the condensed MAC must be 8 bytes');
  const out = Buffer.concat([key, nonce, condensedMac]);
  for (let i = 0; i < 16; i++) out[i] = (out[i] as number) ^ (out[16 + i] as number);
  return out;
}

/** The 16-byte AES key of a node key (megajs's `getCipher` key: the first half XOR the second). */
export function nodeAesKey(key32: Buffer): Buffer {
  if (key32.length !== 32) throw new RangeError('a node key must be 32 bytes');
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = (key32[i] as number) ^ (key32[16 + i] as number);
  return out;
}

/** AES-128-CBC with a zero IV over whole blocks (megajs's `AES#encryptCBC`, attributes). */
export function encryptCbcZeroIv(key: Buffer, data: Buffer): Buffer {
  if (data.length % 16 !== 0) throw new RangeError('CBC input must be whole 16-byte blocks');
  const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** megajs's `packAttributes`: "MEGA" + JSON, zero-padded to 16 bytes. */
export function packAttributes(attributes: Record<string, unknown>): Buffer {
  const at = Buffer.from(`MEGA${JSON.stringify(attributes)}`);
  const out = Buffer.alloc(Math.ceil(at.length / 16) * 16);
  at.copy(out);
  return out;
}

/** megajs's `e64`: base64url without padding. */
export function e64(buffer: Buffer): string {
  return buffer.toString('base64url');
}
