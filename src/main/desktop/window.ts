/**
 * The main window: remembered size and position, a locked-down renderer (context isolation,
 * sandbox, no Node, a strict CSP, no navigation, no new windows; https://mega.nz/ links open in
 * the OS browser), and closing hides it to the tray unless the app is quitting.
 */
import { BrowserWindow, screen, session, shell, type Session } from 'electron';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY, isAllowedExternalUrl } from '../../shared/web-policy';
import {
  DEFAULT_SIZE,
  MIN_SIZE,
  WINDOW_STATE_FILE,
  type WindowState,
  parseWindowState,
  restorableState,
  serializeWindowState,
} from './window-state';

export interface MainWindowOptions {
  /** Where window-state.json lives (the data folder). */
  dataDir: string;
  /** The built preload (CommonJS: sandboxed preloads cannot be ES modules). */
  preloadPath: string;
  /** The renderer: a dev server URL, or the built index.html. */
  rendererUrl: string | null;
  rendererFile: string;
  iconPath: string;
  /** True while the app is quitting: then close really closes. */
  isQuitting: () => boolean;
}

function readState(dataDir: string): WindowState | null {
  try {
    return parseWindowState(readFileSync(join(dataDir, WINDOW_STATE_FILE), 'utf8'));
  } catch {
    return null;
  }
}

function writeState(dataDir: string, win: BrowserWindow): void {
  if (win.isDestroyed() || win.isMinimized() || win.isFullScreen()) return;
  const state: WindowState = { bounds: win.getNormalBounds(), maximized: win.isMaximized() };
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, WINDOW_STATE_FILE), serializeWindowState(state));
  } catch {
    // A read-only data folder only costs the remembered position.
  }
}

export function createMainWindow(opts: MainWindowOptions): BrowserWindow {
  const workAreas = screen.getAllDisplays().map((d) => d.workArea);
  const saved = restorableState(readState(opts.dataDir), workAreas);
  const win = new BrowserWindow({
    ...(saved ? saved.bounds : DEFAULT_SIZE),
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    title: 'MegaFerry',
    icon: opts.iconPath,
    show: false,
    backgroundColor: '#ffffff',
    autoHideMenuBar: true,
    webPreferences: {
      preload: opts.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  if (saved?.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());

  const contents = win.webContents;
  contents.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternalUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    if (isAllowedExternalUrl(url)) void shell.openExternal(url);
  });
  contents.on('will-redirect', (event) => event.preventDefault());

  let saveTimer: ReturnType<typeof setTimeout> | null = null;
  const saveSoon = () => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => writeState(opts.dataDir, win), 500);
  };
  win.on('resize', saveSoon);
  win.on('move', saveSoon);
  win.on('close', (event) => {
    if (saveTimer) clearTimeout(saveTimer);
    writeState(opts.dataDir, win);
    if (!opts.isQuitting()) {
      // Closing keeps transfers running: the app stays in the tray.
      event.preventDefault();
      win.hide();
    }
  });

  if (opts.rendererUrl) void win.loadURL(opts.rendererUrl);
  else void win.loadFile(opts.rendererFile);
  return win;
}

export function showWindow(win: BrowserWindow | null): void {
  if (!win || win.isDestroyed()) return;
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

/**
 * Session-wide hardening: the CSP as a response header (the renderer's index.html carries the
 * same policy in a <meta>, which is what applies to file:// pages), every permission request
 * denied but writing to the clipboard, and no <webview>.
 */
export function hardenSession(opts: { devServer: boolean }, ses: Session = session.defaultSession): void {
  if (!opts.devServer) {
    // The dev server's hot reload needs inline scripts and a websocket: no header there.
    ses.webRequest.onHeadersReceived((details, callback) => {
      const headers = { ...details.responseHeaders };
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === 'content-security-policy') delete headers[name];
      }
      headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
      callback({ responseHeaders: headers });
    });
  }
  ses.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(permission === 'clipboard-sanitized-write'),
  );
  ses.setPermissionCheckHandler((_contents, permission) => permission === 'clipboard-sanitized-write');
}
