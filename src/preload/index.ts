/**
 * The preload exposes the one FerryApi to the renderer with contextBridge, and nothing else:
 * `window.megaferry = { invoke, onEvent, pathForFile, platform }` (type: MegaFerryBridge in
 * src/shared/ipc.ts). It runs in a sandboxed renderer, so it is built as CommonJS and may require
 * nothing but `electron`: everything else it uses is bundled in.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { FerryEvent } from '../shared/contract';
import {
  API_CHANNEL,
  EVENT_CHANNEL,
  type MegaFerryBridge,
  isFerryApiMethod,
  unknownMethodMessage,
  unwrapEnvelope,
} from '../shared/ipc';

const bridge: MegaFerryBridge = {
  invoke(method: unknown, ...args: unknown[]) {
    if (!isFerryApiMethod(method)) return Promise.reject(new Error(unknownMethodMessage(method)));
    return ipcRenderer.invoke(API_CHANNEL, method, args).then(unwrapEnvelope);
  },
  onEvent(listener: (event: FerryEvent) => void) {
    if (typeof listener !== 'function') throw new TypeError('onEvent needs a listener function');
    const handler = (_event: IpcRendererEvent, payload: FerryEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, handler);
    };
  },
  pathForFile(file) {
    return webUtils.getPathForFile(file as Parameters<typeof webUtils.getPathForFile>[0]);
  },
  platform: process.platform,
} as MegaFerryBridge;

contextBridge.exposeInMainWorld('megaferry', bridge);
