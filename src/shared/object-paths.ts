/**
 * What a source key, a prefix, a target folder or a bucket name may be, so every file lands at a
 * path inside its target folder. Pure: shared by the contract's schemas (input refused up front)
 * and the engine (keys listed from a bucket, which no schema saw).
 */

/** S3's own limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** A folder path at the destination. */
export const MAX_TARGET_LENGTH = 1024;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => segment === '.' || segment === '..');
}

/**
 * Why an object key cannot be transferred into a target folder, or null when it can: it must be
 * 1–1024 UTF-8 bytes, without control characters, and without "." or ".." segments (which would
 * place the file outside the target).
 */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'is empty';
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (hasControlCharacters(key)) return 'contains control characters';
  if (hasDotSegment(key))
    return 'has "." or ".." path segments, which would place the file outside the target folder';
  return null;
}

/** Why a prefix cannot select objects, or null: at most 1024 bytes, no control characters, no whole "."/".." segment. */
export function prefixProblem(prefix: string): string | null {
  if (new TextEncoder().encode(prefix).length > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (hasControlCharacters(prefix)) return 'contains control characters';
  // Only whole segments (followed by "/"): "photos/." may still match "photos/.hidden".
  if (
    prefix
      .split('/')
      .slice(0, -1)
      .some((s) => s === '.' || s === '..')
  ) {
    return 'has "." or ".." path segments';
  }
  return null;
}

export type TargetProblem = 'not_absolute' | 'too_long' | 'control_characters' | 'dot_segments';

/** Which rule a destination folder path breaks, or null (the UI says it in the user's language). */
export function targetProblemKind(target: string): TargetProblem | null {
  if (!target.startsWith('/')) return 'not_absolute';
  if (target.length > MAX_TARGET_LENGTH) return 'too_long';
  if (hasControlCharacters(target)) return 'control_characters';
  if (hasDotSegment(target)) return 'dot_segments';
  return null;
}

/** Why a destination folder path is refused, or null: absolute, no control characters, no "."/".." segments. */
export function targetProblem(target: string): string | null {
  const kind = targetProblemKind(target);
  if (kind === null) return null;
  return {
    not_absolute: 'must be a folder path starting with "/"',
    too_long: `is longer than ${MAX_TARGET_LENGTH} characters`,
    control_characters: 'contains control characters',
    dot_segments: 'must not contain "." or ".." segments',
  }[kind];
}

/**
 * S3 bucket names as S3-compatible stores accept them: 3–255 letters, digits, dots, hyphens or
 * underscores, starting and ending with a letter or digit (AWS's own rules are stricter; it
 * answers for itself).
 */
export const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
export const BUCKET_NAME_RULE =
  'an S3 bucket name: 3–255 letters, digits, dots, hyphens or underscores, starting and ending with a letter or digit';
