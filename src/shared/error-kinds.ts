/**
 * The kinds of failure every transport tells apart, and what each becomes on each transport:
 * an HTTP status, a CLI exit code. The IPC answer carries the kind itself. One table, so the
 * host, the CLI and the desktop never disagree about what a failure means.
 */
export const ERROR_KINDS = [
  'input',
  'not_found',
  'conflict',
  'auth',
  'quota',
  'transient',
  'cancelled',
  'unexpected',
] as const;
export type ApiErrorKind = (typeof ERROR_KINDS)[number];

export const ERROR_KIND_TABLE: Record<ApiErrorKind, { http: number; exit: number }> = {
  /** Bad input or configuration: nothing was changed. */
  input: { http: 400, exit: 2 },
  /** An unknown id (a batch). */
  not_found: { http: 404, exit: 2 },
  /** Contradicts the current state (cancel an ended batch, retry a running one). */
  conflict: { http: 409, exit: 2 },
  /** S3 or MEGA refused the credentials or the access. */
  auth: { http: 502, exit: 1 },
  /** MEGA over its quota. */
  quota: { http: 502, exit: 1 },
  /** S3 or MEGA unreachable or failing. */
  transient: { http: 502, exit: 1 },
  cancelled: { http: 409, exit: 130 },
  unexpected: { http: 500, exit: 1 },
};
