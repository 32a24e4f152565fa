/**
 * MEGA's file cryptography over whole chunks with OpenSSL (node:crypto): AES-128-CTR for the
 * bytes, a CBC-MAC per chunk, the chunk MACs folded into the file's meta-MAC, and the 32-byte node
 * key. Pure functions, no I/O.
 *
 * The MAC is MEGA's reference (the SDK's generateMetaMac/macsmac, the web client's condenseMacs;
 * ../shared/mega-mac-vectors.json holds known answers made by rclone and megatools): chunks at
 * MEGA's boundaries, never an empty one, each CBC-MACed with IV nonce‖nonce over its bytes with
 * the last block zero-padded, folded in file order, condensed to 8 bytes; an empty file has no
 * chunk and the meta-MAC 0^8. (megajs 1.3.10 differs: it folds an extra empty chunk for the empty
 * file and for sizes whose length rounded up to 16 ends on a chunk boundary.)
 */
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';

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

/** The CBC-MAC's IV of every chunk: nonce ‖ nonce. */
function macIv(nonce: Buffer): Buffer {
  return Buffer.concat([nonce, nonce]);
}

/**
 * MEGA's per-chunk MAC of plaintext: AES-128-CBC with IV nonce ‖ nonce over the chunk
 * zero-padded to a multiple of 16; the last cipher block is the MAC. One cipher for the chunk.
 * A chunk is never empty (an empty file has no chunk at all).
 */
export function chunkMac(key: Buffer, nonce: Buffer, chunk: Uint8Array): Buffer {
  checkKey(key, nonce);
  if (chunk.length === 0) throw new RangeError('MEGA never MACs an empty chunk');
  const cipher = createCipheriv('aes-128-cbc', key, macIv(nonce)).setAutoPadding(false);
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
 * block), and the 8-byte `condensedMac` (its halves' words XORed, the meta-MAC) that goes into the
 * node key. No chunk (the empty file): a zero MAC, so the meta-MAC 0^8.
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

/**
 * `foldMacs` over one file's chunk MACs as they come, with one cipher for the whole file: folding
 * is CBC with the state so far as the IV, so it is one CBC run over the chunk MACs in order (an
 * OpenSSL cipher made per chunk cost more than the fold itself).
 */
export class MacFolder {
  private readonly cbc: Cipher;

  /** `state`: the file MAC over the chunks folded before (16 zero bytes when none). */
  constructor(key: Buffer, state: Buffer) {
    if (key.length !== 16) throw new RangeError('the AES key must be 16 bytes');
    if (state.length !== 16) throw new RangeError('a MAC state must be 16 bytes');
    this.cbc = createCipheriv('aes-128-cbc', key, state).setAutoPadding(false);
  }

  /** Folds the next chunk's MAC in; returns the running file MAC. */
  fold(chunkMac: Buffer): Buffer {
    if (chunkMac.length !== 16) throw new RangeError('a chunk MAC must be 16 bytes');
    return Buffer.from(this.cbc.update(chunkMac));
  }
}

/** The 8-byte condensed MAC (meta-MAC) of a file MAC. */
export function condenseMac(mac: Buffer): Buffer {
  const condensedMac = Buffer.alloc(8);
  condensedMac.writeInt32BE(mac.readInt32BE(0) ^ mac.readInt32BE(4), 0);
  condensedMac.writeInt32BE(mac.readInt32BE(8) ^ mac.readInt32BE(12), 4);
  return condensedMac;
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

/** A node key's parts: the file's AES key, the CTR nonce and the meta-MAC it claims. */
export function splitNodeKey(key32: Buffer): { key: Buffer; nonce: Buffer; metaMac: Buffer } {
  return {
    key: nodeAesKey(key32),
    nonce: Buffer.from(key32.subarray(16, 24)),
    metaMac: Buffer.from(key32.subarray(24, 32)),
  };
}

/** AES-128-CTR decryption of a whole file's ciphertext, fed in pieces of any length, from byte 0. */
export function ctrDecipher(key: Buffer, nonce: Buffer): Decipher {
  checkKey(key, nonce);
  return createDecipheriv('aes-128-ctr', key, counterBlock(nonce, 0));
}

/**
 * The meta-MAC of a file's plaintext fed in pieces of any length, in order: chunk by chunk at
 * MEGA's boundaries, with memory bounded by one 16-byte block whatever the size. The reference
 * algorithm as a stream, for checking a download (`metaMac()` once every byte is in).
 */
export class MetaMacStream {
  private readonly iv: Buffer;
  private cbc: Cipher | null = null;
  private state: Buffer = Buffer.alloc(16);
  private last = Buffer.alloc(16);
  private chunkLength = FIRST_CHUNK_SIZE;
  private inChunk = 0;
  private total = 0;

  constructor(
    private readonly key: Buffer,
    nonce: Buffer,
  ) {
    checkKey(key, nonce);
    this.iv = macIv(nonce);
  }

  /** Bytes fed so far. */
  get size(): number {
    return this.total;
  }

  update(data: Uint8Array): this {
    let at = 0;
    while (at < data.length) {
      const take = Math.min(data.length - at, this.chunkLength - this.inChunk);
      this.cbc ??= createCipheriv('aes-128-cbc', this.key, this.iv).setAutoPadding(false);
      this.keepLast(this.cbc.update(data.subarray(at, at + take)));
      at += take;
      this.inChunk += take;
      this.total += take;
      if (this.inChunk === this.chunkLength) this.endChunk();
    }
    return this;
  }

  /** The 8-byte meta-MAC of everything fed (0^8 when nothing was). */
  metaMac(): Buffer {
    if (this.inChunk > 0) this.endChunk();
    return condenseMac(this.state);
  }

  private keepLast(out: Buffer): void {
    if (out.length >= 16) out.copy(this.last, 0, out.length - 16);
  }

  private endChunk(): void {
    const cbc = this.cbc as Cipher;
    const partial = this.inChunk % 16;
    if (partial > 0) this.keepLast(cbc.update(Buffer.alloc(16 - partial)));
    cbc.final();
    this.state = foldMacs(this.key, this.state, [this.last]);
    this.cbc = null;
    this.inChunk = 0;
    if (this.chunkLength < MAX_CHUNK_SIZE) this.chunkLength += CHUNK_SIZE_INCREMENT;
  }
}

/**
 * The largest piece handed to one cipher update. node:crypto allocates every update's output (and
 * a second buffer it copies that into): at 64 KiB and more glibc serves and frees those buffers in
 * a way that makes it hand memory back to the kernel and fault it in again, piece after piece.
 * Measured here over 1 GiB in the S3 stream's 64 KiB pieces: 2.3–5.7 CPU-s with 60–210 thousand
 * page faults; the same pieces in halves: 1.6–2.1 CPU-s with 15–35 thousand.
 */
const UPDATE_LIMIT = 64 * 1024 - 256;

/**
 * MEGA's upload crypto over plaintext fed in pieces of any length, in file order from a chunk
 * boundary: one AES-128-CTR cipher for the whole run (not one per chunk) and a CBC-MAC per chunk
 * (IV nonce‖nonce, last block zero-padded). Each piece is MACed and encrypted as it comes, and its
 * ciphertext written into the caller's buffer: no chunk-sized buffer is allocated here, only
 * OpenSSL's piece-sized outputs, which die young.
 */
export class UploadEncryptor {
  private readonly ctr: Cipher;
  private readonly iv: Buffer;
  private cbc: Cipher | null = null;
  /** The last CBC block of the current chunk so far. */
  private readonly last = Buffer.alloc(16);
  private inChunk = 0;

  /** `offset`: the file byte the first piece starts at (a chunk boundary, so a multiple of 16). */
  constructor(
    private readonly key: Buffer,
    nonce: Buffer,
    offset: number,
  ) {
    checkKey(key, nonce);
    this.ctr = createCipheriv('aes-128-ctr', key, counterBlock(nonce, offset));
    this.iv = macIv(nonce);
  }

  /**
   * MACs `plain` as the next bytes of the current chunk and writes its ciphertext to `out` at `at`.
   * A piece larger than UPDATE_LIMIT goes to OpenSSL in equal slices below it (see there).
   */
  update(plain: Uint8Array, out: Uint8Array, at: number): void {
    if (plain.length === 0) return;
    this.cbc ??= createCipheriv('aes-128-cbc', this.key, this.iv).setAutoPadding(false);
    const slices = Math.ceil(plain.length / UPDATE_LIMIT);
    const step = slices === 1 ? plain.length : Math.ceil(plain.length / slices / 16) * 16;
    for (let from = 0; from < plain.length; from += step) {
      const slice = plain.subarray(from, from + step);
      this.keepLast(this.cbc.update(slice));
      out.set(this.ctr.update(slice), at + from);
    }
    this.inChunk += plain.length;
  }

  /** Ends the current chunk: its MAC. A chunk is never empty. */
  endChunk(): Buffer {
    const cbc = this.cbc;
    if (!cbc || this.inChunk === 0) throw new RangeError('MEGA never MACs an empty chunk');
    const partial = this.inChunk % 16;
    if (partial > 0) this.keepLast(cbc.update(Buffer.alloc(16 - partial)));
    this.cbc = null;
    this.inChunk = 0;
    return Buffer.from(this.last);
  }

  private keepLast(out: Buffer): void {
    if (out.length >= 16) out.copy(this.last, 0, out.length - 16);
  }
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
