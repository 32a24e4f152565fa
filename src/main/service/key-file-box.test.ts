import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_FILE_NAME, keyFileSecretBox } from './key-file-box';

let work: string;
let n = 0;
const dir = () => join(work, `data-${++n}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'megaferry-keybox-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the headless host's SecretBox", () => {
  it('makes its key file (0600) with the first secret, and opens what it sealed after a restart', async () => {
    const dataDir = dir();
    const box = keyFileSecretBox(dataDir, {});
    expect(box.source).toBe('key_file');
    expect(existsSync(join(dataDir, KEY_FILE_NAME))).toBe(false);
    const sealed = await box.seal('hunter2 — 密碼');
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain('hunter2');
    expect((await stat(join(dataDir, KEY_FILE_NAME))).mode & 0o777).toBe(0o600);
    // Each seal is its own (a fresh IV), and a new box on the same folder opens them.
    expect(await box.seal('hunter2 — 密碼')).not.toBe(sealed);
    expect((await keyFileSecretBox(dataDir, {}).open(sealed)).plain).toBe('hunter2 — 密碼');
  });

  it('refuses what another key sealed, and anything tampered with', async () => {
    const a = keyFileSecretBox(dir(), {});
    const b = keyFileSecretBox(dir(), {});
    const sealed = await a.seal('secret');
    await b.seal('make its key');
    await expect(b.open(sealed)).rejects.toThrow();
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    await expect(a.open(`v1:${raw.toString('base64')}`)).rejects.toThrow();
    await expect(a.open('plain text')).rejects.toThrow();
    // Without a key file nothing opens (and nothing is made by trying).
    const empty = dir();
    await expect(keyFileSecretBox(empty, {}).open(sealed)).rejects.toThrow();
    expect(existsSync(join(empty, KEY_FILE_NAME))).toBe(false);
  });

  it('uses MEGAFERRY_SECRET_KEY instead of a file when set: the same passphrase opens on any machine', async () => {
    const env = { MEGAFERRY_SECRET_KEY: 'correct horse battery staple' };
    const first = dir();
    const box = keyFileSecretBox(first, env);
    expect(box.source).toBe('env_key');
    const sealed = await box.seal('s3cret');
    expect(existsSync(join(first, KEY_FILE_NAME))).toBe(false);
    expect((await keyFileSecretBox(dir(), env).open(sealed)).plain).toBe('s3cret');
    await expect(keyFileSecretBox(dir(), { MEGAFERRY_SECRET_KEY: 'another' }).open(sealed)).rejects.toThrow();
  });

  it('makes a key file that others could read private again, and refuses a file that is not a key', async () => {
    const dataDir = dir();
    const sealed = await keyFileSecretBox(dataDir, {}).seal('x');
    const path = join(dataDir, KEY_FILE_NAME);
    await chmod(path, 0o644);
    expect((await keyFileSecretBox(dataDir, {}).open(sealed)).plain).toBe('x');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFile(path, 'not a key\n');
    await expect(keyFileSecretBox(dataDir, {}).open(sealed)).rejects.toThrow(/not a MegaFerry key file/);
    expect((await readFile(path, 'utf8')).trim()).toBe('not a key');
  });
});
