/**
 * The contract's plain values (statuses, limits, the local pseudo-bucket), apart from its zod
 * schemas: code that only names them (the CLI, the engine, `status`) loads no zod, which costs a
 * process about 0.1 CPU-seconds and 10 MB to load. ./contract re-exports every one of them.
 */

export const FILE_STATUSES = [
  'pending',
  'processing',
  'done',
  's3_download_failed',
  's4_upload_failed',
  'error',
  'cancelled',
  'paused',
] as const;

/** Statuses a retry may start again. */
export const FAILED_STATUSES: readonly (typeof FILE_STATUSES)[number][] = [
  's3_download_failed',
  's4_upload_failed',
  'error',
  'cancelled',
];

export const DEFAULT_MAX_CONCURRENT = 3;
export const MAX_CONCURRENT_LIMIT = 5;
export const DEFAULT_MAX_FILES = 50;

/**
 * Local files dropped on the desktop window are transferred like S3 objects of a pseudo-bucket
 * whose name is `local:` + the absolute folder they were dropped from; keys are paths relative to
 * that folder (forward slashes), so the MEGA path is target + the relative path.
 */
export const LOCAL_BUCKET_PREFIX = 'local:';

/** A new selection id: the batches one selection was split into carry it, and are shown as one. */
export function newSelectionId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return 'sel_' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
