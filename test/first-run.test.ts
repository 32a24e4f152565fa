/**
 * `npm start` and `megaferry serve` on a fresh machine, as processes, with the real peers:
 *
 * - `npm start` where Electron's runtime is absent starts the host with nothing configured, prints
 *   the UI address and opens it in the system's browser ($BROWSER here, a recorder);
 * - secrets saved through the host's Settings are sealed with `<data>/secret.key` (0600) or with
 *   MEGAFERRY_SECRET_KEY, survive a restart, are used by the CLI, and environment variables win;
 * - the host's log is human lines on a terminal (a real pseudo-terminal) and JSON on a pipe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { downloadSha256, startMegaPeer, type MegaPeer } from './peers/mega';
import { sha256, testBytes, waitFor } from './peers/fixtures';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'megaferry.mjs');
const TOKEN = 'first-run-process-token-0123456789';
const BUCKET = 'fresh';
const DATA = testBytes(70_000, 21);
const ODD_PASSWORD_PROBE = 'mock';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let n = 0;

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  await s3.put(BUCKET, 'one.bin', DATA);
  work = await mkdtemp(join(tmpdir(), 'megaferry-fresh-'));
}, 60_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh machine's environment: no AWS variables or files, no MEGA account. */
function freshEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: work,
    AWS_CONFIG_FILE: join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    MEGAFERRY_DATA_DIR: dataDir,
    MEGAFERRY_MEGA_GATEWAY: mega.gateway,
    MEGAFERRY_PORT: '0',
    MEGAFERRY_TOKEN: TOKEN,
    MEGAFERRY_RETRY_ATTEMPTS: '2',
    MEGAFERRY_RETRY_BASE_MS: '20',
    MEGAFERRY_RETRY_MAX_MS: '100',
    ...extra,
  };
}

interface Running {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<number | null>;
}

async function run(command: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  const child = spawn(process.execPath, command, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await waitFor(
    'the host to listen',
    async () => {
      if (child.exitCode !== null) throw new Error(`exited early (${child.exitCode}): ${out}`);
      return /listening on (http:\/\/\S+)/.exec(out)?.[1];
    },
    60_000,
  );
  return {
    child,
    url,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return exit;
    },
  };
}

async function call<T>(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

function electronInstalled(): boolean {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path);
  } catch {
    return false;
  }
}

describe('npm start on a fresh machine', () => {
  it.skipIf(electronInstalled())(
    'starts the host with nothing configured, prints the UI address and opens it in the browser',
    async () => {
      const opened = join(work, 'opened.txt');
      const browser = join(work, 'record-browser.sh');
      await writeFile(browser, `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
      await chmod(browser, 0o755);
      const start = await run(
        ['scripts/start.mjs'],
        freshEnv(join(work, `data-${++n}`), { BROWSER: browser }),
      );
      try {
        await waitFor('the browser to be opened', () => existsSync(opened), 20_000);
        const ui = /^UI: (\S+)$/m.exec(start.output())?.[1];
        expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=first-run-process-token/);
        expect(await readFile(opened, 'utf8')).toBe(ui);
        expect(start.output()).toMatch(/npm run demo/);
        expect(start.output()).toMatch(/no MEGA account yet: open the UI and enter it in Settings/);
        expect(start.output()).toMatch(/Opened the UI in your browser/);
        expect((await call<{ ok: boolean }>(start.url, 'GET', '/api/health')).body.ok).toBe(true);
        const refused = await call<{ error: string }>(start.url, 'POST', '/api/batches', {
          bucket: BUCKET,
          keys: ['one.bin'],
        });
        expect(refused).toEqual({
          status: 400,
          body: {
            error:
              'MEGA account not configured: enter the MEGA e-mail and password in Settings (or set MEGA_EMAIL and MEGA_PASSWORD)',
          },
        });
      } finally {
        expect(await start.stop()).toBe(0);
      }
    },
    90_000,
  );

  it.skipIf(electronInstalled())(
    'says where to open the UI when no browser can be opened',
    async () => {
      const start = await run(
        ['scripts/start.mjs'],
        freshEnv(join(work, `data-${++n}`), { BROWSER: 'none' }),
      );
      try {
        await waitFor('the hint', () =>
          /Open the UI address above in a browser \(BROWSER=none\)/.test(start.output()),
        );
        expect(start.output()).toMatch(/^UI: http:\/\/\S+#token=/m);
      } finally {
        expect(await start.stop()).toBe(0);
      }
    },
    60_000,
  );
});

describe('secrets saved in the host’s Settings', () => {
  const settings = (mega: MegaPeer) => ({
    s3: {
      endpoint: s3.endpoint,
      access_key_id: 'S3RVER',
      secret_access_key: 'S3RVER',
      default_bucket: BUCKET,
    },
    mega: { email: mega.email, password: mega.password, default_target: '/Fresh' },
  });

  it('are sealed with the data folder’s key file (0600), survive a restart, serve the CLI; the environment wins', async () => {
    const dataDir = join(work, `data-${++n}`);
    let host = await run([BIN, 'serve'], freshEnv(dataDir));
    try {
      const saved = await call<{ secret_storage: string; mega: { has_password: boolean } }>(
        host.url,
        'PUT',
        '/api/settings',
        settings(mega),
      );
      expect(saved.status).toBe(200);
      expect(saved.body).toMatchObject({ secret_storage: 'key_file', mega: { has_password: true } });
      expect(JSON.stringify(saved.body)).not.toContain(`"${ODD_PASSWORD_PROBE}"`);
      expect((await stat(join(dataDir, 'secret.key'))).mode & 0o777).toBe(0o600);
      const file = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as {
        settings: Record<string, unknown>;
        sealed: Record<string, string>;
      };
      expect(Object.keys(file.sealed).sort()).toEqual(['mega.password', 's3.secret_access_key']);
      expect(Object.values(file.settings)).not.toContain(mega.password);
      expect(Object.values(file.sealed).every((v) => v.startsWith('v1:'))).toBe(true);
    } finally {
      await host.stop();
    }

    // A restart opens them with the key file, and a transfer uses them.
    host = await run([BIN, 'serve'], freshEnv(dataDir));
    try {
      const started = await call<{ batch_id: string }>(host.url, 'POST', '/api/batches', {
        bucket: BUCKET,
        keys: ['one.bin'],
      });
      expect(started.status).toBe(202);
      await waitFor(
        'the batch to complete',
        async () =>
          (await call<{ overall_status: string }>(host.url, 'GET', `/api/batches/${started.body.batch_id}`))
            .body.overall_status === 'completed',
        60_000,
      );
      expect(await downloadSha256(mega, '/Fresh/one.bin')).toEqual({
        sha256: sha256(DATA),
        size: DATA.length,
      });
    } finally {
      await host.stop();
    }

    // The CLI reads the same sealed settings.
    const status = spawn(process.execPath, [BIN, 'status', '--json'], { cwd: ROOT, env: freshEnv(dataDir) });
    let json = '';
    status.stdout.on('data', (d: Buffer) => (json += d.toString()));
    expect(await new Promise((r) => status.on('exit', r))).toBe(0);
    expect((JSON.parse(json) as { overall_status: string }[])[0]?.overall_status).toBe('completed');

    // Environment variables win over what was saved.
    host = await run([BIN, 'serve'], freshEnv(dataDir, { MEGA_PASSWORD: 'from-the-environment' }));
    try {
      const view = await call<{ locked: string[]; mega: { has_password: boolean } }>(
        host.url,
        'GET',
        '/api/settings',
      );
      expect(view.body.locked).toContain('mega.password');
      const test = await call<{ ok: boolean; message: string }>(host.url, 'POST', '/api/settings/test', {
        target: 'mega',
      });
      expect(test.body).toMatchObject({
        ok: false,
        message: expect.stringMatching(/wrong email or password/),
      });
    } finally {
      await host.stop();
    }
  }, 150_000);

  it('are sealed with MEGAFERRY_SECRET_KEY when it is set (no key file); another key opens nothing', async () => {
    const dataDir = join(work, `data-${++n}`);
    const key = { MEGAFERRY_SECRET_KEY: 'a passphrase kept by the operator' };
    let host = await run([BIN, 'serve'], freshEnv(dataDir, key));
    try {
      const saved = await call<{ secret_storage: string }>(host.url, 'PUT', '/api/settings', settings(mega));
      expect(saved.body.secret_storage).toBe('env_key');
      expect(existsSync(join(dataDir, 'secret.key'))).toBe(false);
    } finally {
      await host.stop();
    }
    host = await run([BIN, 'serve'], freshEnv(dataDir, key));
    try {
      const view = await call<{ mega: { has_password: boolean } }>(host.url, 'GET', '/api/settings');
      expect(view.body.mega.has_password).toBe(true);
    } finally {
      await host.stop();
    }
    host = await run([BIN, 'serve'], freshEnv(dataDir, { MEGAFERRY_SECRET_KEY: 'not the same' }));
    try {
      const view = await call<{ mega: { has_password: boolean }; s3: { has_secret_access_key: boolean } }>(
        host.url,
        'GET',
        '/api/settings',
      );
      expect(view.body.mega.has_password).toBe(false);
      expect(view.body.s3.has_secret_access_key).toBe(false);
    } finally {
      await host.stop();
    }
  }, 90_000);
});

describe('the host’s log', () => {
  it('is JSON lines on a pipe and human lines on a terminal', async () => {
    const env = freshEnv(join(work, `data-${++n}`), { MEGAFERRY_LOG_LEVEL: 'info' });
    const piped = await run([BIN, 'serve'], env);
    try {
      await call(piped.url, 'GET', '/api/batches');
      await waitFor('a JSON log line', () => /^\{".*"msg":"request completed"/m.test(piped.output()));
    } finally {
      await piped.stop();
    }
    // A real pseudo-terminal (util-linux `script`), as a person running `serve` in a shell has.
    const tty = spawn('script', ['-qfec', `"${process.execPath}" "${BIN}" serve`, '/dev/null'], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    tty.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise((r) => tty.on('exit', r));
    try {
      const url = await waitFor(
        'the host on a terminal',
        () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
        60_000,
      );
      await call(url.trim(), 'GET', '/api/batches');
      await waitFor('human log lines', () => /request completed {2}200 {2}\d+ms/.test(out));
      expect(out).toMatch(/\d\d:\d\d:\d\d {2}INFO {3}incoming request {2}GET \/api\/batches/);
      expect(out).not.toMatch(/"msg":/);
    } finally {
      tty.stdin.write('\x03'); // Ctrl-C on the terminal: the host stops as a person stops it
      const timer = setTimeout(() => tty.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
  }, 90_000);
});
