/**
 * Binds the one FerryApi to Electron's IPC: one `ipcMain.handle` for every method of
 * FERRY_API_METHODS (no channel per method), answered only for our own window's main frame, and
 * the service's events forwarded to that window (progress coalesced per file).
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { FerryApi } from '../../shared/api';
import { API_CHANNEL, EVENT_CHANNEL } from '../../shared/ipc';
import { EventCoalescer } from './event-coalescer';
import { type ApiTarget, createDispatcher } from './ipc-dispatch';

export function bindApi(opts: {
  service: () => Promise<ApiTarget>;
  window: () => BrowserWindow | null;
}): () => void {
  const dispatch = createDispatcher(opts.service);
  ipcMain.handle(API_CHANNEL, (event: IpcMainInvokeEvent, method: unknown, args: unknown) => {
    if (!isOwnFrame(event, opts.window())) {
      return { ok: false, error: 'MegaFerry answers its own window only' };
    }
    return dispatch(method, args);
  });
  return () => ipcMain.removeHandler(API_CHANNEL);
}

function isOwnFrame(event: IpcMainInvokeEvent, win: BrowserWindow | null): boolean {
  if (!win || win.isDestroyed()) return false;
  const contents = win.webContents;
  return event.sender === contents && event.senderFrame !== null && event.senderFrame === contents.mainFrame;
}

/** Forwards the service's events to the window; returns the unsubscribe. */
export function forwardEvents(
  service: Pick<FerryApi, 'onEvent'>,
  window: () => BrowserWindow | null,
): () => void {
  const coalescer = new EventCoalescer((event) => {
    const win = window();
    if (!win || win.isDestroyed() || win.webContents.isDestroyed()) return;
    win.webContents.send(EVENT_CHANNEL, event);
  }, 250);
  const off = service.onEvent((event) => coalescer.push(event));
  return () => {
    off();
    coalescer.close();
  };
}
