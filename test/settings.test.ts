/**
 * Settings against real peers: the round trip through `<dataDir>/settings.json` with secrets
 * sealed by a real SecretBox (AES-256-GCM), the headless refusal of secrets, locked settings,
 * bad input, the Test buttons, settings applied to new batches, and the three host routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv } from '../src/main/service/config';
import { FerryService, type SecretBox } from '../src/main/service/ferry-service';
import { InputError } from '../src/main/engine/errors';
import { startHost, type RunningHost } from '../src/main/host/server';
import type { ConnectionTestResult, SettingsView } from '../src/shared/contract';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { sha256, testBytes } from './peers/fixtures';

const BUCKET = 'settings-bucket';
const TOKEN = 'settings-token-0123456789';
/** A MEGA password nobody would find in the file by chance. */
const ODD_SECRET = 'Sup3r-Secret-Pa55word-for-the-test';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let n = 0;
const data = testBytes(150_000, 7);

/** A real SecretBox for the tests: AES-256-GCM under a random key (the desktop uses safeStorage). */
function aesBox(key: Buffer = randomBytes(32)): SecretBox & { key: Buffer } {
  return {
    key,
    async seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    async open(sealed) {
      const raw = Buffer.from(sealed, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      return { plain, reseal: false };
    },
  };
}

/** A fresh machine: no S3, MEGA or MongoDB variables; only the MEGA gateway of the test peer. */
function freshEnv(dataDir: string): Record<string, string> {
  return {
    MEGAFERRY_MEGA_GATEWAY: mega.gateway,
    MEGAFERRY_DATA_DIR: dataDir,
    MEGAFERRY_RETRY_ATTEMPTS: '2',
    MEGAFERRY_RETRY_BASE_MS: '20',
    MEGAFERRY_RETRY_MAX_MS: '100',
  };
}

async function newDataDir(): Promise<string> {
  return join(work, `data-${++n}`);
}

/** Every string in a JSON value, deep. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET, 'second-bucket']), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-settings-'));
  await s3.put(BUCKET, 'photos/one.jpg', data);
}, 60_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the desktop: settings saved with a SecretBox', () => {
  it('opens on a fresh machine, saves sealed secrets, and copies with the saved settings', async () => {
    const dataDir = await newDataDir();
    const box = aesBox();
    const service = await FerryService.open(configFromEnv(freshEnv(dataDir)), {
      resume: true,
      secretBox: box,
    });
    let batchId: string;
    try {
      const fresh = await service.getSettings();
      expect(fresh).toEqual({
        s3: {
          endpoint: '',
          region: 'us-east-1',
          profile: '',
          access_key_id: '',
          has_secret_access_key: false,
          force_path_style: false,
          default_bucket: '',
        },
        mega: { email: '', has_password: false, default_target: '/' },
        s4: {
          endpoint: 'https://s3.eu-central-1.s4.mega.io',
          region: 'eu-central-1',
          access_key_id: '',
          has_secret_access_key: false,
          default_target: '',
        },
        local: { default_target: '' },
        mongodb: { uri_redacted: '', store: 'embedded' },
        transfers: {
          max_concurrent: 3,
          max_concurrent_limit: 5,
          connections_per_file: 4,
          max_files_per_batch: 50,
          bwlimit: '',
        },
        ui: { language: 'system' },
        locked: [],
        secret_storage: 'keychain',
      } satisfies SettingsView);

      // S3 first (the bucket check comes before MEGA), then a start without MEGA: the clear error.
      await service.saveSettings({
        s3: { endpoint: s3.endpoint, access_key_id: 'S3RVER', secret_access_key: 'S3RVER' },
      });
      const noMega = service.startBatch({ bucket: BUCKET, keys: ['photos/one.jpg'] });
      await expect(noMega).rejects.toBeInstanceOf(InputError);
      await expect(noMega).rejects.toThrow(/MEGA account not configured.*Settings/);
      expect(await service.listBatches()).toHaveLength(0);

      const saved = await service.saveSettings({
        s3: { default_bucket: BUCKET },
        mega: { email: mega.email, password: ODD_SECRET, default_target: '/Saved' },
        transfers: { max_concurrent: 1, connections_per_file: 2 },
      });
      expect(saved).toMatchObject({
        s3: { endpoint: s3.endpoint, force_path_style: true, has_secret_access_key: true },
        mega: { email: mega.email, has_password: true, default_target: '/Saved' },
        transfers: { max_concurrent: 1, connections_per_file: 2 },
      });
      expect(JSON.stringify(saved)).not.toContain(ODD_SECRET);
      const text = await readFile(join(dataDir, 'settings.json'), 'utf8');
      expect(text).not.toContain(ODD_SECRET);
      expect(strings(JSON.parse(text))).not.toContain(ODD_SECRET);
      // The S3 secret is sealed too: the only clear "S3RVER" is the access key id.
      expect(text.split('S3RVER').length - 1).toBe(1);

      const wrong = service.startBatch({ bucket: BUCKET, keys: ['photos/one.jpg'] });
      await expect(wrong).rejects.toThrow(/MEGA login failed for mock@test: wrong email or password/);
      await expect(wrong).rejects.not.toThrow(ODD_SECRET);

      await service.saveSettings({ mega: { password: mega.password } });
      const text2 = await readFile(join(dataDir, 'settings.json'), 'utf8');
      expect(strings(JSON.parse(text2))).not.toContain(mega.password);
      const started = await service.startBatch({ bucket: BUCKET, keys: ['photos/one.jpg'] });
      batchId = started.batch_id;
      await service.manager.waitForBatch(batchId);
      const status = await service.getBatch(batchId);
      expect(status.overall_status).toBe('completed');
      const file = status.files[0];
      expect(file?.s4_key).toBe('/Saved/photos/one.jpg');
      expect(file?.mega_link).toMatch(/^https:\/\/mega\.nz\/fm\/[\w-]+$/);
      expect((await downloadSha256(mega, '/Saved/photos/one.jpg')).sha256).toBe(sha256(data));
      expect((await service.store.getBatch(batchId))?.options.max_concurrent).toBe(1);
    } finally {
      await service.close();
    }

    // The same keychain opens the secrets at the next start; another one does not (no crash).
    const again = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: aesBox(box.key) });
    try {
      expect((await again.getSettings()).mega).toEqual({
        email: mega.email,
        has_password: true,
        default_target: '/Saved',
      });
      expect((await again.getBatch(batchId)).overall_status).toBe('completed');
    } finally {
      await again.close();
    }
    const otherKey = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: aesBox() });
    try {
      const view = await otherKey.getSettings();
      expect(view.mega).toMatchObject({ email: mega.email, has_password: false });
      expect(view.s3.has_secret_access_key).toBe(false);
    } finally {
      await otherKey.close();
    }
  });

  it('seals a secret again when the keychain rotated its key (safeStorage: shouldReEncrypt)', async () => {
    const dataDir = await newDataDir();
    const oldBox = aesBox();
    const first = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: oldBox });
    try {
      await first.saveSettings({ mega: { email: 'a@b.c', password: ODD_SECRET } });
    } finally {
      await first.close();
    }
    const sealedPassword = async () =>
      (
        JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as {
          sealed: Record<string, string>;
        }
      ).sealed['mega.password'];
    const before = await sealedPassword();

    // The rotated keychain seals with its new key and still opens the old sealing, asking for a reseal.
    const newBox = aesBox();
    const rotated: SecretBox = {
      seal: (plain) => newBox.seal(plain),
      open: async (sealed) => {
        try {
          return await newBox.open(sealed);
        } catch {
          return { plain: (await oldBox.open(sealed)).plain, reseal: true };
        }
      },
    };
    const second = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: rotated });
    try {
      expect((await second.getSettings()).mega.has_password).toBe(true);
    } finally {
      await second.close();
    }
    const after = await sealedPassword();
    expect(after).not.toBe(before);
    expect(await newBox.open(after ?? '')).toEqual({ plain: ODD_SECRET, reseal: false });
    await expect(oldBox.open(after ?? '')).rejects.toThrow();
  });

  it('clears a saved secret with an empty string', async () => {
    const dataDir = await newDataDir();
    const service = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: aesBox() });
    try {
      await service.saveSettings({ mega: { email: 'a@b.c', password: ODD_SECRET } });
      expect((await service.getSettings()).mega.has_password).toBe(true);
      const cleared = await service.saveSettings({ mega: { password: '' } });
      expect(cleared.mega).toEqual({ email: 'a@b.c', has_password: false, default_target: '/' });
      const saved = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as {
        sealed: Record<string, string>;
      };
      expect(saved.sealed).toEqual({});
    } finally {
      await service.close();
    }
  });
});

describe('without a SecretBox (a desktop without a keychain)', () => {
  it('refuses to save a secret, and saves the rest in clear', async () => {
    const dataDir = await newDataDir();
    const service = await FerryService.open(configFromEnv(freshEnv(dataDir)));
    try {
      expect((await service.getSettings()).secret_storage).toBe('environment');
      for (const patch of [
        { mega: { password: ODD_SECRET } },
        { s3: { secret_access_key: ODD_SECRET } },
        { mongodb: { uri: `mongodb://user:${ODD_SECRET}@127.0.0.1:1/x` } },
      ]) {
        const attempt = service.saveSettings(patch);
        await expect(attempt).rejects.toBeInstanceOf(InputError);
        await expect(attempt).rejects.toThrow(
          /\(no keychain or key to seal it\): set it with the environment variable/,
        );
        await expect(attempt).rejects.not.toThrow(ODD_SECRET);
      }
      expect(existsSync(join(dataDir, 'settings.json'))).toBe(false);
      const view = await service.saveSettings({
        mega: { email: 'someone@example.com', default_target: '/Archive' },
        mongodb: { uri: 'mongodb://127.0.0.1:27017/megaferry' },
      });
      expect(view.mega).toEqual({
        email: 'someone@example.com',
        has_password: false,
        default_target: '/Archive',
      });
      // A MongoDB URI applies at the next start: the view shows it with the store in use now.
      expect(view.mongodb).toEqual({
        uri_redacted: 'mongodb://127.0.0.1:27017/megaferry',
        store: 'embedded',
      });
    } finally {
      await service.close();
    }
  });
});

describe('locked settings and bad input', () => {
  it('lists the settings the environment fixes and refuses to change them', async () => {
    const dataDir = await newDataDir();
    const env = { ...ferryEnv({ s3, mega }, dataDir), MEGAFERRY_MAX_FILES: '7' };
    const service = await FerryService.open(configFromEnv(env), { secretBox: aesBox() });
    try {
      const view = await service.getSettings();
      // The UI splits a selection by the host's cap.
      expect(view.transfers.max_files_per_batch).toBe(7);
      expect(view.locked.sort()).toEqual(
        [
          'mega.email',
          'mega.password',
          's3.access_key_id',
          's3.endpoint',
          's3.region',
          's3.secret_access_key',
        ].sort(),
      );
      expect(view.mega).toMatchObject({ email: mega.email, has_password: true });
      await expect(service.saveSettings({ mega: { email: 'other@example.com' } })).rejects.toThrow(
        /mega\.email is set by the environment variable MEGA_EMAIL/,
      );
      await expect(service.saveSettings({ mega: { password: 'x' } })).rejects.toThrow(
        /mega\.password.*MEGA_PASSWORD/,
      );
      // The form may send a locked value unchanged.
      const same = await service.saveSettings({ mega: { email: mega.email, default_target: '/Locked' } });
      expect(same.mega.default_target).toBe('/Locked');
    } finally {
      await service.close();
    }
  });

  it('keeps the language chosen in Settings, unless MEGAFERRY_LANG fixes it', async () => {
    const dataDir = await newDataDir();
    const service = await FerryService.open(configFromEnv(freshEnv(dataDir)));
    try {
      // Not a secret: the headless host saves it too.
      expect((await service.saveSettings({ ui: { language: 'zh-Hant' } })).ui.language).toBe('zh-Hant');
    } finally {
      await service.close();
    }
    const again = await FerryService.open(configFromEnv(freshEnv(dataDir)));
    try {
      expect((await again.getSettings()).ui.language).toBe('zh-Hant');
    } finally {
      await again.close();
    }
    // A locale is read as its language; the setting is then read-only.
    const locked = await FerryService.open(
      configFromEnv({ ...freshEnv(dataDir), MEGAFERRY_LANG: 'zh_CN.UTF-8' }),
    );
    try {
      const view = await locked.getSettings();
      expect(view.ui.language).toBe('zh-Hans');
      expect(view.locked).toContain('ui.language');
      await expect(locked.saveSettings({ ui: { language: 'en' } })).rejects.toThrow(
        /ui\.language is set by the environment variable MEGAFERRY_LANG/,
      );
    } finally {
      await locked.close();
    }
  });

  it.each([
    [{ transfers: { max_concurrent: 9 } }, /^transfers\.max_concurrent must be an integer from 1 to 5$/],
    [{ transfers: { max_concurrent: '2' } }, /transfers\.max_concurrent must be an integer from 1 to 5/],
    [
      { transfers: { connections_per_file: 0 } },
      /transfers\.connections_per_file must be an integer from 1 to 16/,
    ],
    [{ s3: { endpoint: 'ftp://example.com' } }, /s3\.endpoint must be an http\(s\) URL/],
    [{ s3: { force_path_style: 'yes' } }, /s3\.force_path_style must be true or false/],
    [{ mega: { mfa_code: '12' } }, /mega\.mfa_code must be the 6-digit code/],
    [{ mega: { default_target: 'Backup' } }, /mega\.default_target must be a folder path starting with "\/"/],
    [{ mongodb: { uri: 'postgres://x' } }, /mongodb\.uri must start with "mongodb:\/\/"/],
    [{ ui: { language: 'fr' } }, /ui\.language must be one of system, en, zh-Hans, zh-Hant/],
    [{ colour: 'red' }, /unknown field: colour/],
  ])('refuses %j naming the field, changing nothing', async (patch, message) => {
    const dataDir = await newDataDir();
    const service = await FerryService.open(configFromEnv(freshEnv(dataDir)), { secretBox: aesBox() });
    try {
      await service.saveSettings({ transfers: { max_concurrent: 2 } });
      const before = await readFile(join(dataDir, 'settings.json'), 'utf8');
      const attempt = service.saveSettings(patch);
      await expect(attempt).rejects.toBeInstanceOf(InputError);
      await expect(attempt).rejects.toThrow(message);
      expect(await readFile(join(dataDir, 'settings.json'), 'utf8')).toBe(before);
      expect((await service.getSettings()).transfers.max_concurrent).toBe(2);
    } finally {
      await service.close();
    }
  });
});

describe('Test buttons', () => {
  let service: FerryService;
  beforeAll(async () => {
    service = await FerryService.open(configFromEnv(freshEnv(await newDataDir())), { secretBox: aesBox() });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('tests S3 with a draft: buckets visible, or a wrong secret', async () => {
    const draft = { s3: { endpoint: s3.endpoint, access_key_id: 'S3RVER', secret_access_key: 'S3RVER' } };
    expect(await service.testConnection({ target: 's3', draft })).toEqual({
      target: 's3',
      ok: true,
      message: '2 buckets visible',
      s3: { buckets: 2 },
    });
    // s3rver checks the access key id (not the signature of a bucket list).
    const bad = await service.testConnection({
      target: 's3',
      draft: { s3: { ...draft.s3, access_key_id: 'NOT-THE-KEY', secret_access_key: ODD_SECRET } },
    });
    expect(bad).toEqual({
      target: 's3',
      ok: false,
      message:
        'S3 did not accept the credentials for bucket list (InvalidAccessKeyId): check the access key id and the secret',
      s3: { buckets: null, problem: 'bad_credentials' },
    });
    const down = await service.testConnection({
      target: 's3',
      draft: { s3: { ...draft.s3, endpoint: 'http://127.0.0.1:1' } },
    });
    expect(down).toEqual({
      target: 's3',
      ok: false,
      message:
        'S3 endpoint unreachable for bucket list (ECONNREFUSED): check the endpoint address and the network',
      s3: { buckets: null, problem: 'unreachable' },
    });
    // The default bucket is checked too: readable, or missing (then the Test fails, saying why).
    expect(
      await service.testConnection({ target: 's3', draft: { s3: { ...draft.s3, default_bucket: BUCKET } } }),
    ).toEqual({
      target: 's3',
      ok: true,
      message: `2 buckets visible; default bucket ${BUCKET} can be read`,
      s3: { buckets: 2, default_bucket: { name: BUCKET, ok: true } },
    });
    const missing = await service.testConnection({
      target: 's3',
      draft: { s3: { ...draft.s3, default_bucket: 'no-such-bucket' } },
    });
    expect(missing).toMatchObject({
      target: 's3',
      ok: false,
      s3: { buckets: 2, default_bucket: { name: 'no-such-bucket', ok: false, problem: 'bucket_missing' } },
    });
    expect(missing.message).toMatch(/^2 buckets visible; default bucket no-such-bucket: S3 bucket not found/);
    // The draft was not saved.
    expect((await service.getSettings()).s3.endpoint).toBe('');
  });

  it('tests MEGA: logged in, or a wrong password without echoing it', async () => {
    expect(
      await service.testConnection({
        target: 'mega',
        draft: { mega: { email: mega.email, password: mega.password } },
      }),
    ).toEqual({ target: 'mega', ok: true, message: `logged in as ${mega.email}` });
    const bad = await service.testConnection({
      target: 'mega',
      draft: { mega: { email: mega.email, password: ODD_SECRET } },
    });
    expect(bad).toEqual({
      target: 'mega',
      ok: false,
      message: `MEGA login failed for ${mega.email}: wrong email or password`,
    });
    expect(await service.testConnection({ target: 'mega' })).toEqual({
      target: 'mega',
      ok: false,
      message: 'MEGA e-mail and password are not set',
    });
  });

  it('tests MongoDB: the embedded store, or an unreachable server without its password', async () => {
    const embedded = await service.testConnection({ target: 'mongodb' });
    expect(embedded).toMatchObject({
      target: 'mongodb',
      ok: true,
      message: expect.stringMatching(/embedded/),
    });
    const down = await service.testConnection({
      target: 'mongodb',
      draft: { mongodb: { uri: `mongodb://user:${ODD_SECRET}@127.0.0.1:1/x?serverSelectionTimeoutMS=500` } },
    });
    expect(down.ok).toBe(false);
    expect(down.message).toMatch(/MongoDB at 127\.0\.0\.1:1/);
    expect(down.message).not.toContain(ODD_SECRET);
  });

  it('refuses bad input (but never throws for a failed connection)', async () => {
    await expect(service.testConnection({ target: 'ftp' })).rejects.toThrow(
      /target must be one of s3, mega, s4, local, mongodb/,
    );
    await expect(
      service.testConnection({ target: 's3', draft: { transfers: { max_concurrent: 0 } } }),
    ).rejects.toThrow(/draft\.transfers\.max_concurrent|transfers\.max_concurrent/);
  });
});

describe('the host routes', () => {
  let service: FerryService;
  let host: RunningHost;
  beforeAll(async () => {
    service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, await newDataDir())));
    host = await startHost(service, { host: '127.0.0.1', port: 0, token: TOKEN });
  });
  afterAll(async () => {
    await host?.close();
    await service?.close();
  });

  async function call<T>(
    method: string,
    path: string,
    opts: { body?: unknown; raw?: string; token?: string | null } = {},
  ): Promise<{ status: number; body: T }> {
    const token = opts.token === undefined ? TOKEN : opts.token;
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(host.url + path, {
      method,
      headers,
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  it('need the token', async () => {
    for (const [method, path] of [
      ['GET', '/api/settings'],
      ['PUT', '/api/settings'],
      ['POST', '/api/settings/test'],
    ] as const) {
      for (const token of [null, 'wrong']) {
        const r = await call<{ error: string }>(method, path, {
          token,
          body: method === 'GET' ? undefined : {},
        });
        expect(r.status, `${method} ${path}`).toBe(401);
      }
    }
  });

  it('GET and PUT /api/settings', async () => {
    const view = await call<SettingsView>('GET', '/api/settings');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      secret_storage: 'environment',
      mega: { email: mega.email, has_password: true },
      mongodb: { store: 'embedded' },
    });
    expect(view.body.locked).toContain('mega.password');
    expect(JSON.stringify(view.body)).not.toContain(`"${mega.password}"`);

    const put = await call<SettingsView>('PUT', '/api/settings', {
      body: { transfers: { max_concurrent: 4 }, mega: { default_target: '/FromHost' } },
    });
    expect(put.status).toBe(200);
    expect(put.body.transfers.max_concurrent).toBe(4);
    expect(put.body.mega.default_target).toBe('/FromHost');

    for (const [body, message] of [
      [{ transfers: { max_concurrent: 0 } }, /transfers\.max_concurrent must be an integer from 1 to 5/],
      [{ s3: { secret_access_key: ODD_SECRET } }, /environment variable AWS_SECRET_ACCESS_KEY/],
      [{ s3: { default_bucket: 7 } }, /s3\.default_bucket/],
    ] as const) {
      const bad = await call<{ error: string }>('PUT', '/api/settings', { body });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(message);
      expect(bad.body.error).not.toContain(ODD_SECRET);
    }
    const malformed = await call<{ error: string }>('PUT', '/api/settings', { raw: '{"s3": ' });
    expect(malformed).toEqual({ status: 400, body: { error: 'malformed JSON body' } });
  });

  it('POST /api/settings/test', async () => {
    const ok = await call<ConnectionTestResult>('POST', '/api/settings/test', { body: { target: 'mega' } });
    expect(ok).toEqual({
      status: 200,
      body: { target: 'mega', ok: true, message: `logged in as ${mega.email}` },
    });
    const s3ok = await call<ConnectionTestResult>('POST', '/api/settings/test', { body: { target: 's3' } });
    expect(s3ok.body).toEqual({ target: 's3', ok: true, message: '2 buckets visible', s3: { buckets: 2 } });
    const bad = await call<{ error: string }>('POST', '/api/settings/test', { body: { target: 'dropbox' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/target must be one of s3, mega, s4, local, mongodb/);
  });
});
