/**
 * The renderer's one API client: FerryApi plus what a transport knows about itself (which one it
 * is, whether its event stream is up). Two implementations, chosen once at start-up: IPC inside
 * Electron (window.megaferry from the preload), HTTP + EventSource against the headless host.
 */
import type { FerryApi } from '../../../shared/api';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface FerryClient extends FerryApi {
  readonly transport: 'ipc' | 'http';
  /** Called with the event stream's state now and at every change; 'connected' again after a
   * drop means events may have been missed, so callers catch up. Returns an unsubscribe. */
  onConnection(listener: (state: ConnectionState) => void): () => void;
}
