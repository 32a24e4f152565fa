/**
 * Errors are classified once, here, and mapped to file statuses in one place.
 */
import type { FileStatus } from '../../shared/contract';
import type { ApiErrorKind } from '../../shared/error-kinds';
import type { SourceProblem } from '../../shared/source-problems';

export type ErrorKind = 'not_found' | 'auth' | 'quota' | 'transient' | 'cancelled' | 'config' | 'unexpected';
export type ErrorSide = 'source' | 'destination' | 'store' | 'engine';

export class FerryError extends Error {
  /** What a person can do about an S3 failure (shared/source-problems.ts), when known. */
  readonly problem?: SourceProblem;
  constructor(
    readonly kind: ErrorKind,
    readonly side: ErrorSide,
    message: string,
    options?: { cause?: unknown; problem?: SourceProblem },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    if (options?.problem) this.problem = options.problem;
  }
}

export class CancelledError extends FerryError {
  constructor(message = 'cancelled by the user') {
    super('cancelled', 'engine', message);
    this.name = 'CancelledError';
  }
}

/** The destination no longer accepts an interrupted upload: the file starts over from byte 0. */
export class ResumeRejectedError extends FerryError {
  constructor(message = 'the destination no longer accepts this upload; starting it over') {
    super('transient', 'destination', message);
    this.name = 'ResumeRejectedError';
  }
}

/**
 * A request whose answer was lost (connection reset or cut after it was sent, a timeout): the peer
 * may have acted on it. Transient, but a request that is not idempotent must not simply be sent
 * again: first find out what the peer has (MEGA: a fresh look at the folder), then adopt or redo.
 */
export class AmbiguousOutcomeError extends FerryError {
  constructor(side: ErrorSide, message: string, options?: { cause?: unknown }) {
    super('transient', side, message, options);
    this.name = 'AmbiguousOutcomeError';
  }
}

/** Bad input or configuration: the CLI exits 2, the API answers 400. */
export class InputError extends Error {
  /** What a person can do about it, when an S3 failure is the cause (shared/source-problems.ts). */
  readonly problem?: SourceProblem;

  constructor(message: string, options?: { problem?: SourceProblem }) {
    super(message);
    this.name = 'InputError';
    if (options?.problem) this.problem = options.problem;
  }
}

/** A request that contradicts the current state (e.g. retrying a running batch): 409 over HTTP. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** An unknown batch id: 404 over HTTP. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/**
 * The kind of a failure as every transport reports it (shared/error-kinds.ts maps each kind to
 * an HTTP status and an exit code). A failure of S3 or MEGA that is not one of the named kinds is
 * still theirs, not ours: `transient` (502), never `unexpected` (500).
 */
export function apiErrorKind(err: unknown): ApiErrorKind {
  if (err instanceof InputError) return 'input';
  if (err instanceof NotFoundError) return 'not_found';
  if (err instanceof ConflictError) return 'conflict';
  if (err instanceof FerryError) {
    switch (err.kind) {
      case 'config':
        return 'input';
      case 'not_found':
      case 'auth':
      case 'quota':
      case 'transient':
      case 'cancelled':
        return err.kind;
      case 'unexpected':
        return err.side === 'source' || err.side === 'destination' ? 'transient' : 'unexpected';
    }
  }
  return 'unexpected';
}

export function isRetryable(err: unknown): boolean {
  return err instanceof FerryError && err.kind === 'transient';
}

// ---------------------------------------------------------------------------------------------
// What is transient, for every peer: network failures, HTTP statuses, MEGA's error numbers.

/** Socket-level failures: the peer may be back in a moment. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Failures that happen before a request is sent: the peer cannot have acted on it. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCodes(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    messages.push(current.message);
    current = current.cause;
  }
  return { codes, messages };
}

/** A socket-level failure (refused, reset, cut, timed out), also when wrapped as the `cause`. */
export function isNetworkError(err: unknown): boolean {
  const { codes, messages } = errorCodes(err);
  return (
    codes.some((code) => NETWORK_ERROR_CODES.has(code)) ||
    messages.some(
      (m) => m === 'fetch failed' || m === 'terminated' || m === 'socket hang up' || m === 'aborted',
    )
  );
}

/** A network failure that certainly happened before the request left (nothing was acted on). */
export function isNotSentError(err: unknown): boolean {
  return errorCodes(err).codes.some((code) => NOT_SENT_CODES.has(code));
}

/** HTTP statuses worth another try: 5xx, 408 Request Timeout, 429 Too Many Requests. */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** MEGA API error numbers (negative) by kind; −3 EAGAIN and −4 ERATELIMIT mean "try again". */
const MEGA_QUOTA_CODES = new Set([-17, -24, -401]);
const MEGA_AUTH_CODES = new Set([-11, -15, -16, -26]);
const MEGA_TRANSIENT_CODES = new Set([-3, -4, -5, -6, -8, -18, -19]);
/** The codes MEGA answers when it did nothing and a plain repeat may succeed. */
const MEGA_TRY_AGAIN_CODES = new Set([-3, -4]);

export function megaCodeKind(code: number): ErrorKind {
  if (MEGA_QUOTA_CODES.has(code)) return 'quota';
  if (MEGA_AUTH_CODES.has(code)) return 'auth';
  if (MEGA_TRANSIENT_CODES.has(code)) return 'transient';
  return 'unexpected';
}

/** MEGA's "try again" (−3 EAGAIN, −4 ERATELIMIT): nothing was done, the same request may be repeated. */
export function isMegaTryAgain(code: number): boolean {
  return MEGA_TRY_AGAIN_CODES.has(code);
}

/** The one mapping from a classified failure to a seed-B status. */
export function statusForError(err: unknown): FileStatus {
  if (!(err instanceof FerryError)) return 'error';
  if (err.kind === 'cancelled') return 'cancelled';
  if (err.kind === 'unexpected') return 'error';
  if (err.side === 'source') return 's3_download_failed';
  if (err.side === 'destination') return 's4_upload_failed';
  return 'error';
}

/** A short reason for error_message: never a secret, never a stack. */
export function shortReason(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return redactSecrets(raw).slice(0, 300);
}

/** Removes things that look like credentials from a message. */
export function redactSecrets(text: string): string {
  return text
    .replace(/(mongodb(?:\+srv)?:\/\/)[^@/\s]+@/gi, '$1***@')
    .replace(/(sid=)[^&\s]+/gi, '$1***')
    .replace(
      /(X-Amz-Signature=|Signature=|Credential=|X-Amz-Credential=|X-Amz-Security-Token=)[^&\s]+/gi,
      '$1***',
    )
    .replace(/(password|secret|token)(["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi, '$1$2***');
}

/** Removes every occurrence of the given secrets (and their URL encodings) from a message. */
export function scrubSecrets(message: string, secrets: (string | null | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (!secret || secret.length < 3) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}
