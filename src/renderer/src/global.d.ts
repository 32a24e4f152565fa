import type { MegaFerryBridge } from '../../shared/ipc';

declare global {
  interface Window {
    /** The preload's bridge (src/shared/ipc.ts), present only inside the desktop app. */
    megaferry?: MegaFerryBridge;
  }
}
