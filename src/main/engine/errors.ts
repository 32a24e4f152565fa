/**
 * Errors are classified once, here, and mapped to file statuses in one place.
 */
import type { FileStatus } from '../../shared/contract';
import type { ApiErrorKind } from '../../shared/error-kinds';

export type ErrorKind = 'not_found' | 'auth' | 'quota' | 'transient' | 'cancelled' | 'config' | 'unexpected';
export type ErrorSide = 'source' | 'destination' | 'store' | 'engine';

export class FerryError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly side: ErrorSide,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FerryError';
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

/** Bad input or configuration: the CLI exits 2, the API answers 400. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
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
