/**
 * FerryClient over Electron IPC: every method of FERRY_API_METHODS goes through the preload's
 * generic `invoke`, so a new API method needs nothing here.
 */
import { FERRY_API_METHODS, type FerryApi, type FerryApiMethod } from '../../../shared/api';
import type { MegaFerryBridge } from '../../../shared/ipc';
import type { ConnectionState, FerryClient } from './client';

export function createIpcClient(bridge: MegaFerryBridge): FerryClient {
  const methods = Object.fromEntries(
    FERRY_API_METHODS.map((method) => [
      method,
      (...args: unknown[]) => bridge.invoke(method, ...(args as [])),
    ]),
  ) as unknown as Pick<FerryApi, FerryApiMethod>;
  return {
    ...methods,
    transport: 'ipc',
    onEvent: (listener) => bridge.onEvent(listener),
    // IPC events flow as long as the window lives.
    onConnection(listener: (state: ConnectionState) => void) {
      listener('connected');
      return () => undefined;
    },
  };
}
