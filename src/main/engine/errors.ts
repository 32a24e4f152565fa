/**
 * Errors are classified once, here, and mapped to file statuses in one place.
 */
import type { FileStatus } from '../../shared/contract';

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
