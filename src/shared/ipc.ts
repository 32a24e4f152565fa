/**
 * The desktop IPC protocol: the one FerryApi carried over Electron's IPC by a single generic
 * channel (VS Code's ProxyChannel idea). The preload sends `(method, args)` on API_CHANNEL, the
 * main process answers with an Envelope, and events come back on EVENT_CHANNEL. Pure: no
 * electron, no Node, so the preload, the main process and the renderer share it.
 */
import { FERRY_API_METHODS, type FerryApi, type FerryApiMethod } from './api';
import type { FerryEvent } from './contract';
import type { ApiErrorKind } from './error-kinds';
import { sourceProblemOf, type SourceProblem } from './source-problems';

export const API_CHANNEL = 'megaferry:api';
export const EVENT_CHANNEL = 'megaferry:event';

/**
 * What the main process answers to every call: never a thrown error, so no Electron prefix. A
 * failure carries its kind (shared/error-kinds.ts), as HTTP carries it in the status code.
 */
export type Envelope<T = unknown> =
  { ok: true; value: T } | { ok: false; error: string; kind: ApiErrorKind; problem?: SourceProblem };

const METHODS: ReadonlySet<string> = new Set(FERRY_API_METHODS);

export function isFerryApiMethod(name: unknown): name is FerryApiMethod {
  return typeof name === 'string' && METHODS.has(name);
}

export function unknownMethodMessage(name: unknown): string {
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 60)) : typeof name;
  return `unknown API method: ${shown}`;
}

/** Unwraps an envelope: the value, or an Error carrying only the main process's message. */
export function unwrapEnvelope<T>(envelope: unknown): T {
  if (envelope && typeof envelope === 'object' && 'ok' in envelope) {
    const e = envelope as Envelope<T>;
    if (e.ok) return e.value;
    const error = new Error(typeof e.error === 'string' ? e.error : 'unknown error');
    // What a person can do about an S3 failure (shared/source-problems.ts), for the UI's texts.
    const problem = sourceProblemOf(e);
    throw problem ? Object.assign(error, { problem }) : error;
  }
  throw new Error('malformed answer from the main process');
}

/** A file the renderer got from a drop or an <input type=file> (a DOM File). */
export interface DroppedFile {
  readonly name: string;
  readonly size: number;
}

/**
 * `window.megaferry` in the desktop renderer: the whole bridge the preload exposes.
 * `invoke('getBatch', id)` is typed from FerryApi; it rejects with `new Error(message)`.
 */
export interface MegaFerryBridge {
  invoke<M extends FerryApiMethod>(method: M, ...args: Parameters<FerryApi[M]>): ReturnType<FerryApi[M]>;
  /** Subscribes to engine events (progress coalesced to a few per second per file). */
  onEvent(listener: (event: FerryEvent) => void): () => void;
  /** The absolute path of a dropped local file (Electron's webUtils.getPathForFile). */
  pathForFile(file: DroppedFile): string;
  /** process.platform of the desktop app: 'win32', 'darwin', 'linux'… */
  platform: string;
}
