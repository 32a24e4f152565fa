/**
 * The MEGA login's crypto done by OpenSSL (mega-login.ts) against the plain definitions megajs
 * computes in JavaScript (its prepareKey, stringhash and RSA), and the login itself against
 * mega-mock next to stock megajs's.
 */
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Storage } from 'megajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megaApiFetch } from '../src/main/engine/destinations/mega-api';
import {
  decodePrivateKey,
  emailHash,
  logInToMega,
  prepareKeyV1,
  rsaDecrypt,
} from '../src/main/engine/destinations/mega-login';
import { startMegaPeer, type MegaPeer } from './peers/mega';

/** megajs's prepareKey, round by round: each round encrypts the key with every password block. */
function referencePrepareKey(password: Buffer): Buffer {
  let pkey = Buffer.from([147, 196, 103, 227, 125, 176, 199, 164, 209, 190, 63, 129, 1, 82, 203, 86]);
  const keys: Buffer[] = [];
  for (let j = 0; j < password.length; j += 16) {
    const key = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) if (i + j < password.length) password.copy(key, i, i + j, i + j + 4);
    keys.push(key);
  }
  const ciphers = keys.map((key) => createCipheriv('aes-128-ecb', key, null).setAutoPadding(false));
  for (let r = 0; r < 65536; r++) for (const cipher of ciphers) pkey = cipher.update(pkey);
  return pkey;
}

/** megajs's AES#stringhash: the e-mail's words XORed into a block, encrypted 16 384 times. */
function referenceStringHash(key: Buffer, buffer: Buffer): Buffer {
  const h32 = [0, 0, 0, 0];
  for (let i = 0; i < buffer.length; i += 4) {
    if (buffer.length - i < 4) {
      const len = buffer.length - i;
      h32[(i / 4) & 3] = (h32[(i / 4) & 3] as number) ^ (buffer.readIntBE(i, len) << ((4 - len) * 8));
    } else {
      h32[(i / 4) & 3] = (h32[(i / 4) & 3] as number) ^ buffer.readInt32BE(i);
    }
  }
  let hash = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) hash.writeInt32BE(h32[i] as number, i * 4);
  const cipher = createCipheriv('aes-128-ecb', key, null);
  for (let i = 16384; i--;) hash = cipher.update(hash);
  return Buffer.concat([hash.subarray(0, 4), hash.subarray(8, 12)]);
}

const big = (b64url: string) => BigInt(`0x${Buffer.from(b64url, 'base64url').toString('hex')}`);

function bytesOf(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

/** MEGA's MPI: the bit length in two bytes, then the number big-endian. */
function mpi(value: bigint): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(value.toString(2).length);
  return Buffer.concat([head, bytesOf(value)]);
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  base %= mod;
  for (; exp > 0n; exp >>= 1n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
  }
  return result;
}

describe('the v1 password key and the e-mail hash', () => {
  it.each([
    '',
    'mock',
    'fifteen chars!!',
    'sixteen chars!!!',
    'seventeen chars!!',
    'pässwörd ✓ with three blocks of it',
  ])('prepareKeyV1(%j) is megajs prepareKey', (password) => {
    const bytes = Buffer.from(password);
    expect(prepareKeyV1(bytes).toString('hex')).toBe(referencePrepareKey(bytes).toString('hex'));
  });

  it.each(['mock@test', 'a@b.c', 'someone.with.a.longer.address@example.com'])(
    'emailHash(%j) is megajs stringhash',
    (email) => {
      const key = randomBytes(16);
      expect(emailHash(key, Buffer.from(email)).toString('hex')).toBe(
        referenceStringHash(key, Buffer.from(email)).toString('hex'),
      );
    },
  );
});

describe('RSA with the account key', () => {
  it.each([17, 65537])('decrypts as c^d mod n, without leading zero bytes (e = %i)', (publicExponent) => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent });
    const jwk = privateKey.export({ format: 'jwk' });
    const [p, q, d, n] = [
      big(jwk.p as string),
      big(jwk.q as string),
      big(jwk.d as string),
      big(jwk.n as string),
    ];
    // MEGA's privk: p, q, d, u (u = p⁻¹ mod q), then padding to whole AES blocks.
    const u = modPow(p, q - 2n, q);
    const privk = Buffer.concat([mpi(p), mpi(q), mpi(d), mpi(u), Buffer.alloc(7)]);
    const rsa = decodePrivateKey(privk);
    expect(rsa).not.toBeNull();
    for (const message of [big(randomBytes(200).toString('base64url')), 12345n, 1n << 2000n]) {
      const ciphertext = modPow(message, BigInt(publicExponent), n);
      const plain = rsaDecrypt(mpi(ciphertext), rsa!);
      expect(plain.toString('hex')).toBe(bytesOf(modPow(ciphertext, d, n)).toString('hex'));
      expect(plain.toString('hex')).toBe(bytesOf(message).toString('hex'));
    }
  });

  it('refuses bytes that are not a key, and a number not below the modulus', () => {
    expect(decodePrivateKey(Buffer.alloc(32))).toBeNull();
    expect(decodePrivateKey(randomBytes(5))).toBeNull();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = privateKey.export({ format: 'jwk' });
    const [p, q, d, n] = [
      big(jwk.p as string),
      big(jwk.q as string),
      big(jwk.d as string),
      big(jwk.n as string),
    ];
    const rsa = decodePrivateKey(Buffer.concat([mpi(p), mpi(q), mpi(d), mpi(1n)]))!;
    expect(() => rsaDecrypt(mpi(n + 1n), rsa)).toThrow(/not an RSA ciphertext/);
  });
});

describe('the login against mega-mock', () => {
  let peer: MegaPeer;
  beforeAll(async () => {
    peer = await startMegaPeer();
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('opens the same account, tree and keys as stock megajs', async () => {
    const stock = await new Storage({
      email: peer.email,
      password: peer.password,
      gateway: peer.gateway,
      keepalive: false,
    }).ready;
    const ours = await logInToMega({
      email: peer.email,
      password: peer.password,
      gateway: peer.gateway,
      fetch: megaApiFetch({ policy: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }),
    });
    try {
      expect(ours.status).toBe('ready');
      expect(ours.key.toString('hex')).toBe(stock.key.toString('hex'));
      expect(ours.user).toBe(stock.user);
      expect(ours.name).toBe(stock.name);
      expect(ours.root.nodeId).toBe(stock.root.nodeId);
      expect(ours.trash.nodeId).toBe(stock.trash.nodeId);
      expect(Object.keys(ours.files).sort()).toEqual(Object.keys(stock.files).sort());
      // The session works: a command that needs it.
      const folder = await ours.root.mkdir({ name: `login-${Date.now()}` });
      expect(folder.nodeId).toMatch(/^\w+$/);
    } finally {
      await ours.close();
      await stock.close();
    }
  });

  it('refuses a wrong password as megajs does', async () => {
    await expect(
      logInToMega({
        email: peer.email,
        password: 'not the password',
        gateway: peer.gateway,
        fetch: megaApiFetch({ policy: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 } }),
      }),
    ).rejects.toThrow(/ENOENT \(-9\)|invalid credentials/);
  });
});
