/**
 * The headless host's SecretBox (SPEC.md "Configuration"): secrets saved from the web UI's Settings
 * are sealed with AES-256-GCM under a key of its own, like rclone's encrypted config. The key is
 * `MEGAFERRY_SECRET_KEY` when set (any text: a 256-bit key is derived from it with scrypt), else
 * 32 random bytes kept in `<dataDir>/secret.key`, a file of its own, mode 0600, made when the
 * first secret is saved. The CLI and workers open the same box, so what the UI saved they can use.
 *
 * Sealed text: `v1:` + base64(iv ‖ tag ‖ ciphertext). Opening with another key throws (the caller
 * counts that secret as not set). The key never appears in a message, a log or the settings file.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretBox } from './settings';

export const KEY_FILE_NAME = 'secret.key';
const KEY_BYTES = 32;
const VERSION = 'v1:';
/** A fixed salt: the passphrase is the secret; the salt only keeps this key apart from other uses. */
const PASSPHRASE_SALT = 'megaferry settings secret key v1';

export interface KeyFileBox extends SecretBox {
  /** Where the key comes from: the environment variable, or the key file. */
  readonly source: 'env_key' | 'key_file';
  /** The key file's path (whether or not it exists yet). */
  readonly keyPath: string;
}

/** A SecretBox under MEGAFERRY_SECRET_KEY, else under the data folder's key file. */
export function keyFileSecretBox(dataDir: string, env: NodeJS.ProcessEnv = process.env): KeyFileBox {
  const keyPath = join(dataDir, KEY_FILE_NAME);
  const passphrase = env.MEGAFERRY_SECRET_KEY;
  let key: Buffer | null = passphrase
    ? scryptSync(passphrase, PASSPHRASE_SALT, KEY_BYTES, { N: 1 << 14, r: 8, p: 1 })
    : null;

  /** The key file's key; made (0600) when `create` and it does not exist yet; null otherwise. */
  const fileKey = (create: boolean): Buffer | null => {
    if (key) return key;
    key = readKeyFile(keyPath);
    if (!key && create) key = makeKeyFile(dataDir, keyPath);
    return key;
  };

  return {
    source: passphrase ? 'env_key' : 'key_file',
    keyPath,
    async seal(plain: string): Promise<string> {
      const k = fileKey(true)!;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', k, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    async open(sealed: string): Promise<{ plain: string; reseal: boolean }> {
      const k = fileKey(false);
      if (!k) throw new Error('no key to open this secret');
      if (!sealed.startsWith(VERSION)) throw new Error('not sealed by this box');
      const raw = Buffer.from(sealed.slice(VERSION.length), 'base64');
      if (raw.length < 28) throw new Error('not sealed by this box');
      const decipher = createDecipheriv('aes-256-gcm', k, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      return { plain, reseal: false };
    },
  };
}

/** The key in the file, or null when there is none; a file readable by others is made private. */
function readKeyFile(path: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(`${path} is not a MegaFerry key file (expected ${KEY_BYTES} bytes in base64)`);
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return key;
}

/** Writes a new random key with mode 0600; when another process made one first, that one is used. */
function makeKeyFile(dataDir: string, path: string): Buffer {
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = readKeyFile(path);
      if (theirs) return theirs;
    }
    throw err;
  }
  try {
    writeSync(fd, key.toString('base64') + '\n');
  } finally {
    closeSync(fd);
  }
  return key;
}
