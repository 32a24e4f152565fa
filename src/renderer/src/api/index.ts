/** Chooses the API client once at start-up: IPC inside Electron, else HTTP with the host's token. */
import type { FerryClient } from './client';
import { createHttpClient } from './http-client';
import { createIpcClient } from './ipc-client';
import { takeToken } from './token';
import { i18n } from '../i18n';

export type { FerryClient, ConnectionState } from './client';

function chooseClient(): FerryClient | null {
  if (window.megaferry) return createIpcClient(window.megaferry);
  const token = takeToken();
  return token ? createHttpClient(token) : null;
}

/** The client, or null in a browser opened without a token. */
export const client: FerryClient | null = chooseClient();

/** The client for code that only runs once one exists (every screen behind the no-token gate). */
export function api(): FerryClient {
  if (!client) throw new Error(i18n.t('app.noConnection'));
  return client;
}

/** The message of anything thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
