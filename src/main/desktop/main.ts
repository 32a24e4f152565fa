/**
 * The Electron shell: the only place (with the preload) that imports `electron`. It opens the
 * service (resuming unfinished batches), binds the one FerryApi to IPC, and keeps a tray icon
 * with a progress tooltip; closing the window leaves transfers running in the tray, and Quit
 * closes the service gracefully. The logic it needs lives in pure modules beside it and in
 * src/shared/batch-summary.ts.
 */
import { app, BrowserWindow, Notification } from 'electron';
import { join } from 'node:path';
import { batchEndNotification, batchTotals } from '../../shared/batch-summary';
import type { BatchStatus } from '../../shared/contract';
import { quietNodeVersionWarning } from '../node-warnings';
import { configFromEnv, defaultDataDir, type FerryConfig } from '../service/config';
import { FerryService } from '../service/ferry-service';
import { BatchWatch } from './batch-watch';
import { bindApi, forwardEvents } from './ipc-binding';
import { keychainSecretBox } from './secret-box';
import { ShellLanguage } from './shell-language';
import { FerryTray } from './tray';
import { createMainWindow, hardenSession, showWindow } from './window';

const APP_ID = 'io.megaferry.desktop';
/** Longest wait for a graceful close before the app exits anyway. */
const CLOSE_TIMEOUT_MS = 15_000;

quietNodeVersionWarning();

// The configuration is read once; a bad variable is reported by every API call (the window shows
// it) rather than by a crash before the window opens.
let config: FerryConfig | null = null;
let configError: unknown = null;
try {
  config = configFromEnv();
} catch (err) {
  configError = err;
}
const dataDir = config?.dataDir ?? (process.env.MEGAFERRY_DATA_DIR || defaultDataDir());
// Chromium's profile (and so the single-instance lock) lives in the data folder too: one data
// folder, one running app.
app.setPath('userData', join(dataDir, 'chromium'));
if (process.platform === 'win32') app.setAppUserModelId(APP_ID); // notifications need it

// The tray and the notifications speak the UI's language: MEGAFERRY_LANG, else the saved setting
// (read once the service opens, and from every settings view it returns), else the system's.
const shellLanguage = new ShellLanguage(() => app.getPreferredSystemLanguages(), process.env.MEGAFERRY_LANG);

const devServerUrl = !app.isPackaged ? (process.env.ELECTRON_RENDERER_URL ?? null) : null;
const resourcePath = (name: string) => join(app.getAppPath(), 'resources', name);

let win: BrowserWindow | null = null;
let tray: FerryTray | null = null;
let watch: BatchWatch | null = null;
let stopForwarding: (() => void) | null = null;
let quitting = false;
let closed = false;
let servicePromise: Promise<FerryService> | null = null;

async function openService(): Promise<FerryService> {
  if (!config) throw configError;
  // No keychain, no secretBox: the service then takes secrets from the environment only.
  const secretBox = (await keychainSecretBox()) ?? undefined;
  return FerryService.open(config, { resume: true, secretBox, allowLocalFiles: true, kind: 'desktop' });
}

function notifyEnded(ended: BatchStatus[]): void {
  if (!Notification.isSupported()) return;
  const { title, body } = batchEndNotification(ended, shellLanguage.t);
  const n = new Notification({ title, body, icon: resourcePath('icon.png') });
  n.on('click', () => showWindow(win));
  n.show();
}

async function cancelAll(): Promise<void> {
  if (!servicePromise) return;
  const service = await servicePromise;
  const batches = await service.listBatches();
  await Promise.allSettled(
    batches.filter((b) => b.overall_status === 'in_progress').map((b) => service.cancelBatch(b.batch_id)),
  );
}

async function shutdown(): Promise<void> {
  stopForwarding?.();
  watch?.close();
  tray?.destroy();
  if (!servicePromise) return;
  const service = await servicePromise.catch(() => null);
  if (!service) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    service.close().catch((err: unknown) => console.error('MegaFerry: closing the service failed:', err)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
}

async function start(): Promise<void> {
  hardenSession({ devServer: devServerUrl !== null });
  servicePromise = openService();
  // Reported to the renderer through every call; logged here once.
  servicePromise.catch((err: unknown) =>
    console.error('MegaFerry: the service did not open:', err instanceof Error ? err.message : err),
  );

  bindApi({ service: () => servicePromise!.then((s) => shellLanguage.watchSettings(s)), window: () => win });
  win = createMainWindow({
    dataDir,
    preloadPath: join(__dirname, '../preload/index.cjs'),
    rendererUrl: devServerUrl,
    rendererFile: join(__dirname, '../renderer/index.html'),
    iconPath: resourcePath('icon.png'),
    isQuitting: () => quitting,
  });
  tray = new FerryTray(
    resourcePath('tray.png'),
    {
      show: () => showWindow(win),
      cancelAll: () => void cancelAll().catch((err: unknown) => console.error('MegaFerry: cancel all:', err)),
      pauseAll: () =>
        void servicePromise
          ?.then((s) => s.pauseAll())
          .catch((err: unknown) => console.error('MegaFerry: pause all:', err)),
      resumeAll: () =>
        void servicePromise
          ?.then((s) => s.resumeAll())
          .catch((err: unknown) => console.error('MegaFerry: resume all:', err)),
      quit: () => app.quit(),
    },
    shellLanguage.t,
  );
  shellLanguage.onChange(() => tray?.retranslate());

  const service = await servicePromise.catch(() => null);
  if (!service || closed || quitting) return;
  await service
    .getSettings()
    .then((view) => shellLanguage.apply(view.ui.language))
    .catch(() => undefined);
  watch = new BatchWatch(service, {
    onChange: (active) => {
      tray?.update(active);
      if (win && !win.isDestroyed()) {
        // The taskbar/dock progress, 0–1; -1 removes it.
        win.setProgressBar(active.length > 0 ? batchTotals(active).percent / 100 : -1);
      }
    },
    onEnded: notifyEnded,
  });
  const offEvents = forwardEvents(service, () => win);
  const offWatch = service.onEvent((event) => watch?.push(event));
  stopForwarding = () => {
    offEvents();
    offWatch();
  };
  await watch.start().catch(() => undefined);
}

if (!app.requestSingleInstanceLock()) {
  // Another MegaFerry runs on this data folder: it shows its window (second-instance below).
  app.quit();
} else {
  app.on('second-instance', () => showWindow(win));
  // The window closes to the tray: the app keeps running without windows until Quit.
  app.on('window-all-closed', () => undefined);
  app.on('activate', () => showWindow(win));
  app.on('before-quit', () => {
    quitting = true;
  });
  app.on('will-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    closed = true;
    void shutdown().finally(() => app.exit(0));
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());

  void app
    .whenReady()
    .then(start)
    .catch((err: unknown) => {
      console.error('MegaFerry failed to start:', err);
      app.exit(1);
    });
}
