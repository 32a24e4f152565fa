/**
 * The desktop app in Electron, the way a newcomer meets it: the built app (`npm run build`, which
 * `npm ci` runs as prepare) opens one window titled MegaFerry over a fresh data folder, the
 * renderer sees exactly the bridge the preload exposes, calls reach the service with clean error
 * messages, a batch runs with live events, closing the window keeps the app in the tray, and Quit
 * closes it. Needs Electron's runtime and a display: where either is missing (the runtime cannot
 * be downloaded on these machines) the suite reports itself skipped and says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { waitFor } from './peers/fixtures';

const ROOT = resolve(__dirname, '..');

function electronRuntime(): string | null {
  try {
    const path: unknown = createRequire(import.meta.url)('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null; // electron/index.js throws when its binary was never downloaded
  }
}

const ELECTRON = electronRuntime();
const NO_DISPLAY = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const SKIP_REASON = !ELECTRON
  ? "Electron's runtime is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD)"
  : NO_DISPLAY
    ? 'no display (set DISPLAY, e.g. run under xvfb-run)'
    : null;

if (SKIP_REASON) console.warn(`desktop-electron: skipped — ${SKIP_REASON}`);

describe.skipIf(SKIP_REASON !== null)(
  `the desktop app in Electron${SKIP_REASON ? ` — skipped: ${SKIP_REASON}` : ''}`,
  () => {
    let s3: S3Peer;
    let mega: MegaPeer;
    let work: string;
    let app: ElectronApplication;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      if (
        !existsSync(join(ROOT, 'out', 'main', 'index.js')) ||
        !existsSync(join(ROOT, 'out', 'preload', 'index.cjs'))
      )
        throw new Error('the desktop app is not built: npm run build');
      [s3, mega] = await Promise.all([startS3Peer(['desk-bucket']), startMegaPeer()]);
      await s3.put('desk-bucket', 'photos/a.jpg', 'hello from the bucket');
      work = await mkdtemp(join(tmpdir(), 'megaferry-desktop-'));
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
      delete env.ELECTRON_RUN_AS_NODE;
      delete env.ELECTRON_RENDERER_URL;
      app = await _electron.launch({
        executablePath: ELECTRON!,
        // Chromium refuses to run as root without --no-sandbox (containers); the renderer stays
        // sandboxed by webPreferences either way.
        args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ROOT],
        cwd: ROOT,
        env: { ...env, ...ferryEnv({ s3, mega }, join(work, 'data')) },
        timeout: 60_000,
      });
      page = await app.firstWindow();
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await page.waitForLoadState('domcontentloaded');
    }, 120_000);

    afterAll(async () => {
      await app?.close().catch(() => undefined);
      await Promise.all([s3?.stop(), mega?.stop()]);
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('opens one window titled MegaFerry whose page sees exactly the bridge, and no Node', async () => {
      expect(await page.title()).toBe('MegaFerry');
      const windows = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length);
      expect(windows).toBe(1);
      const bridge = await page.evaluate(() => {
        const w = globalThis as unknown as Record<string, unknown>;
        const m = w.megaferry as Record<string, unknown>;
        return {
          keys: Object.keys(m).sort(),
          platform: m.platform,
          node: typeof w.require + typeof w.process,
        };
      });
      expect(bridge).toEqual({
        keys: ['invoke', 'onEvent', 'pathForFile', 'platform'],
        platform: process.platform,
        node: 'undefinedundefined',
      });
    });

    it('answers API calls, and rejects with the clean message', async () => {
      type Bridge = { invoke(m: string, ...a: unknown[]): Promise<unknown> };
      const health = await page.evaluate(() =>
        (globalThis as unknown as { megaferry: Bridge }).megaferry.invoke('health'),
      );
      expect(health).toMatchObject({ ok: true, store: 'embedded' });
      const errors = await page.evaluate(async () => {
        const api = (globalThis as unknown as { megaferry: Bridge }).megaferry;
        const out: string[] = [];
        for (const [m, a] of [
          ['getBatch', 'batch_nope'],
          ['close', undefined],
        ] as const) {
          out.push(
            await api.invoke(m, a).then(
              () => 'resolved',
              (e: Error) => e.message,
            ),
          );
        }
        return out;
      });
      expect(errors).toEqual(['unknown batch: batch_nope', 'unknown API method: "close"']);
    });

    it('runs a batch with live events', async () => {
      const result = await page.evaluate(async () => {
        type Api = {
          invoke(m: string, ...a: unknown[]): Promise<{ batch_id: string }>;
          onEvent(l: (e: { type: string; batch_id: string; state?: string }) => void): () => void;
        };
        const api = (globalThis as unknown as { megaferry: Api }).megaferry;
        const seen: string[] = [];
        let off: () => void = () => undefined;
        const ended = new Promise<void>((done) => {
          off = api.onEvent((e) => {
            seen.push(e.type);
            if (e.type === 'batch' && e.state === 'finished') done();
          });
        });
        const started = await api.invoke('startBatch', {
          bucket: 'desk-bucket',
          keys: ['photos/a.jpg'],
          target: '/Desk',
        });
        await ended;
        off();
        return { started, seen, status: await api.invoke('getBatch', started.batch_id) };
      });
      expect(result.seen).toContain('file');
      expect(result.status).toMatchObject({ overall_status: 'completed', completed: 1 });
    });

    it('closing the window keeps the app running in the tray', async () => {
      await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.close());
      const hidden = await waitFor(
        'the window to hide',
        async () => {
          const shown = await app.evaluate(({ BrowserWindow }) =>
            BrowserWindow.getAllWindows().map((w) => w.isVisible()),
          );
          return shown.length === 1 && shown[0] === false;
        },
        5000,
      );
      expect(hidden).toBe(true);
      expect(problems).toEqual([]);
    });
  },
);
