/**
 * MEGA's login (megajs's `Storage#login`, the same requests in the same order: `us0`, `us`, `ug`,
 * then the node tree), with the key derivation and the RSA done by OpenSSL instead of in
 * JavaScript:
 *
 * - a v1 account's password key is 65 536 rounds of AES-128 over a constant, keyed by the
 *   password's 16-byte blocks; megajs makes a new cipher for every round (≈ 0.7 CPU-s and tens of
 *   MB of garbage per login). With a password of one block the rounds are a CBC encryption of
 *   zero blocks under that key (each block is the encryption of the one before), one OpenSSL call;
 *   longer passwords keep one cipher per block for all rounds;
 * - the session id is RSA-decrypted with the account's private key, and so are the keys of nodes
 *   shared with the account: megajs does it with its own big-number code (≈ 0.2 CPU-s); here
 *   node:crypto does it with the same key (`crypto.privateDecrypt`, no padding).
 *
 * The results are byte for byte megajs's (test/mega-login.test.ts checks them against megajs's own
 * algorithm and login). The password is used for the key and dropped; nothing here logs or keeps
 * it.
 */
import { Storage } from 'megajs';
import { API } from 'megajs';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  pbkdf2,
  privateDecrypt,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { MegaFetch } from './mega-api';

export interface MegaLoginOptions {
  email: string;
  password: string;
  gateway?: string;
  secondFactorCode?: string;
  fetch: MegaFetch;
}

/** The constant a v1 password key starts from (megajs's prepareKey). */
const V1_KEY_SEED = Buffer.from([
  0x93, 0xc4, 0x67, 0xe3, 0x7d, 0xb0, 0xc7, 0xa4, 0xd1, 0xbe, 0x3f, 0x81, 0x01, 0x52, 0xcb, 0x56,
]);
const V1_ROUNDS = 65_536;
const HASH_ROUNDS = 16_384;

/**
 * `rounds` successive AES-128 encryptions of `block` under `key`: CBC over zero blocks with the
 * block as IV gives E(block), E(E(block)), …; the last cipher block is the answer.
 */
function aesRounds(key: Buffer, block: Buffer, rounds: number): Buffer {
  const cbc = createCipheriv('aes-128-cbc', key, block).setAutoPadding(false);
  const zeros = Buffer.alloc(Math.min(rounds, 4096) * 16);
  let last = block;
  for (let left = rounds; left > 0; left -= zeros.length / 16) {
    const out = cbc.update(left >= zeros.length / 16 ? zeros : zeros.subarray(0, left * 16));
    last = out.subarray(out.length - 16);
  }
  return Buffer.from(last);
}

/** The password's AES keys: its 16-byte blocks, the last one zero-padded (megajs's prepareKey). */
function passwordKeys(password: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  for (let j = 0; j < password.length; j += 16) {
    const key = Buffer.alloc(16);
    password.copy(key, 0, j, Math.min(j + 16, password.length));
    keys.push(key);
  }
  return keys;
}

/** A v1 account's password key (megajs's `prepareKey`). */
export function prepareKeyV1(password: Buffer): Buffer {
  const keys = passwordKeys(password);
  if (keys.length === 0) return Buffer.from(V1_KEY_SEED);
  if (keys.length === 1) return aesRounds(keys[0] as Buffer, V1_KEY_SEED, V1_ROUNDS);
  const ciphers = keys.map((key) => createCipheriv('aes-128-ecb', key, null).setAutoPadding(false));
  let block = Buffer.from(V1_KEY_SEED);
  for (let round = 0; round < V1_ROUNDS; round++) {
    for (const cipher of ciphers) block = cipher.update(block);
  }
  return block;
}

/** The user hash a v1 login sends (megajs's `AES#stringhash` of the e-mail, under the password key). */
export function emailHash(passwordKey: Buffer, email: Buffer): Buffer {
  const h32 = [0, 0, 0, 0];
  for (let i = 0; i < email.length; i += 4) {
    const word =
      email.length - i < 4
        ? email.readIntBE(i, email.length - i) << ((4 - (email.length - i)) * 8)
        : email.readInt32BE(i);
    h32[(i / 4) & 3] = (h32[(i / 4) & 3] as number) ^ word;
  }
  const block = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) block.writeInt32BE(h32[i] as number, i * 4);
  const hash = aesRounds(passwordKey, block, HASH_ROUNDS);
  return Buffer.concat([hash.subarray(0, 4), hash.subarray(8, 12)]);
}

function ecb(key: Buffer, data: Buffer, decrypt: boolean): Buffer {
  const cipher = decrypt
    ? createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false)
    : createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

// ---------------------------------------------------------------------------------------------
// RSA

/** A big-endian MPI (2-byte bit length, then the bytes): its value and its length in bytes. */
function readMpi(data: Buffer, at: number): { value: bigint; next: number } | null {
  if (at + 2 > data.length) return null;
  const bits = data.readUInt16BE(at);
  const bytes = (bits + 7) >> 3;
  const end = at + 2 + bytes;
  if (end > data.length || bytes === 0) return null;
  return { value: toBigInt(data.subarray(at + 2, end)), next: end };
}

function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

function toBytes(value: bigint, length?: number): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  if (length === undefined || bytes.length >= length) return bytes;
  return Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** The account's RSA private key, for node:crypto. */
export interface MegaRsaKey {
  key: KeyObject;
  /** Bytes of the modulus. */
  size: number;
  modulus: bigint;
}

/**
 * The account's private key from MEGA's `privk` (decrypted with the master key): the MPIs p, q, d
 * and u (megajs's cryptoDecodePrivKey). The public exponent, which node:crypto's key needs (OpenSSL
 * blinds with it), is d's inverse modulo λ(n). Null when the bytes are not such a key.
 */
export function decodePrivateKey(privk: Buffer): MegaRsaKey | null {
  const parts: bigint[] = [];
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const mpi = readMpi(privk, at);
    if (!mpi) return null;
    parts.push(mpi.value);
    at = mpi.next;
  }
  const [p, q, d] = parts as [bigint, bigint, bigint];
  if (p < 3n || q < 3n || d < 3n) return null;
  try {
    const n = p * q;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    const e = modInverse(d, lambda);
    const size = toBytes(n).length;
    const b64 = (v: bigint) => toBytes(v).toString('base64url');
    const key = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'RSA',
        n: b64(n),
        e: b64(e),
        d: b64(d),
        p: b64(p),
        q: b64(q),
        dp: b64(d % (p - 1n)),
        dq: b64(d % (q - 1n)),
        qi: b64(modInverse(q, p)),
      },
    });
    return { key, size, modulus: n };
  } catch {
    return null;
  }
}

/**
 * RSA decryption of an MPI, as megajs's cryptoRsaDecrypt answers it: the plain number's bytes,
 * big-endian, without leading zero bytes.
 */
export function rsaDecrypt(ciphertext: Buffer, rsa: MegaRsaKey): Buffer {
  const mpi = readMpi(ciphertext, 0);
  if (!mpi || mpi.value >= rsa.modulus) throw new Error('not an RSA ciphertext of this key');
  const plain = privateDecrypt(
    { key: rsa.key, padding: constants.RSA_NO_PADDING },
    toBytes(mpi.value, rsa.size),
  );
  let start = 0;
  while (start < plain.length && plain[start] === 0) start++;
  return Buffer.from(plain.subarray(start));
}

// ---------------------------------------------------------------------------------------------
// The login

/** megajs's Storage internals the login sets (as its own login and fromJSON do). */
interface StorageLoginState {
  email: string;
  status: string;
  name: string;
  user: string;
  decryptRsaKey(ciphertext: Buffer): Buffer;
}

interface PreloginAnswer {
  v?: number;
  s?: string;
}

interface LoginAnswer {
  k?: string;
  csid?: string;
  privk?: string;
}

/** A request on megajs's API, typed loosely (its own types want `JSON`). */
function ask(api: API, json: Record<string, unknown>): Promise<unknown> {
  return api.request(json as unknown as JSON) as Promise<unknown>;
}

/**
 * Logs in and loads the node tree: megajs's login (`us0`, `us`, `ug`, `f`) with OpenSSL doing the
 * key derivation and RSA. Errors are megajs's (its API errors, "invalid credentials"), for the
 * caller to classify.
 */
export async function logInToMega(opts: MegaLoginOptions): Promise<Storage> {
  const email = opts.email.toLowerCase();
  const api = new API(false, { gateway: opts.gateway, fetch: opts.fetch as unknown as typeof fetch });
  const prelogin = (await ask(api, { a: 'us0', user: email })) as PreloginAnswer;
  let passwordKey: Buffer;
  let userHash: string;
  if (prelogin.v === 1) {
    passwordKey = prepareKeyV1(Buffer.from(opts.password));
    userHash = emailHash(passwordKey, Buffer.from(email)).toString('base64url');
  } else if (prelogin.v === 2) {
    const derived = await new Promise<Buffer>((resolve, reject) =>
      pbkdf2(
        Buffer.from(opts.password),
        Buffer.from(prelogin.s ?? '', 'base64'),
        100_000,
        32,
        'sha512',
        (err, key) => (err ? reject(err) : resolve(key)),
      ),
    );
    passwordKey = derived.subarray(0, 16);
    userHash = derived.subarray(16).toString('base64url');
  } else {
    throw new Error('Account version not supported');
  }
  const request: Record<string, unknown> = { a: 'us', user: email, uh: userHash };
  if (opts.secondFactorCode) request.mfa = opts.secondFactorCode.toString();
  const answer = (await ask(api, request)) as LoginAnswer;
  if (typeof answer.k !== 'string' || typeof answer.csid !== 'string' || typeof answer.privk !== 'string') {
    throw new Error('invalid credentials');
  }
  const masterKey = ecb(passwordKey, Buffer.from(answer.k, 'base64'), true);
  if (masterKey.length !== 16) throw new Error('invalid credentials');
  const rsa = decodePrivateKey(ecb(masterKey, Buffer.from(answer.privk, 'base64'), true));
  if (!rsa) throw new Error('invalid credentials');
  const sid = rsaDecrypt(Buffer.from(answer.csid, 'base64'), rsa).subarray(0, 43).toString('base64url');

  const storage = Storage.fromJSON({
    key: masterKey.toString('base64url'),
    sid,
    name: '',
    user: '',
    options: {
      email,
      gateway: opts.gateway,
      fetch: opts.fetch as unknown as typeof fetch,
      keepalive: false,
    } as unknown as Storage['options'],
  });
  const state = storage as unknown as StorageLoginState;
  state.email = email;
  // Keys of nodes shared with the account, as megajs's Storage#decryptRsaKey, by OpenSSL.
  state.decryptRsaKey = (ciphertext) => rsaDecrypt(ciphertext, rsa);
  const user = (await ask(storage.api, { a: 'ug' })) as { name?: string; u?: string };
  state.name = user.name ?? '';
  state.user = user.u ?? '';
  await storage.reload(true);
  state.status = 'ready';
  return storage;
}
