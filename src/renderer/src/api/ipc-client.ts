/** FerryClient over Electron IPC: every method goes through the preload's generic `invoke`. */
import type { FerryApi, FerryApiMethod } from '../../../shared/api';
import type { MegaFerryBridge } from '../global';
import type { ConnectionState, FerryClient } from './client';

export function createIpcClient(bridge: MegaFerryBridge): FerryClient {
  const call =
    <M extends FerryApiMethod>(method: M) =>
    (...args: Parameters<FerryApi[M]>): ReturnType<FerryApi[M]> =>
      bridge.invoke(method, ...args) as ReturnType<FerryApi[M]>;
  return {
    transport: 'ipc',
    startBatch: call('startBatch'),
    getBatch: call('getBatch'),
    listBatches: call('listBatches'),
    cancelBatch: call('cancelBatch'),
    retryBatch: call('retryBatch'),
    listFiles: call('listFiles'),
    listBuckets: call('listBuckets'),
    listObjects: call('listObjects'),
    health: call('health'),
    getSettings: call('getSettings'),
    saveSettings: call('saveSettings'),
    testConnection: call('testConnection'),
    onEvent: (listener) => bridge.onEvent(listener),
    // IPC events flow as long as the window lives.
    onConnection(listener: (state: ConnectionState) => void) {
      listener('connected');
      return () => undefined;
    },
  };
}
