import type { FerryApiMethod } from '../../shared/api';
import type { FerryEvent } from '../../shared/contract';

/**
 * What the preload exposes with contextBridge. `invoke` calls one FerryApi method over IPC and
 * rejects with an Error whose message is the clean error text.
 */
export interface MegaFerryBridge {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  invoke(method: FerryApiMethod, ...args: unknown[]): Promise<any>;
  onEvent(listener: (event: FerryEvent) => void): () => void;
  /** The absolute path of a dropped File (Electron's webUtils.getPathForFile). */
  pathForFile(file: File): string;
  platform: string;
}

declare global {
  interface Window {
    megaferry?: MegaFerryBridge;
  }
}
