/**
 * What went wrong when S3 was asked for something, in kinds a person can act on: each has a
 * message in the UI's catalog (`s3Problem.*`) saying what happened and what to do. The engine
 * classifies an S3 failure once (engine/sources/s3.ts); the host sends the kind as `problem` beside
 * `error`, IPC in its envelope. Pure: no Node, no DOM.
 */
export const SOURCE_PROBLEMS = [
  /** The SDK's credential chain found nothing (no keys, profile, SSO or instance role). */
  'no_credentials',
  /** S3 did not accept the keys (unknown key id, wrong secret, expired token). */
  'bad_credentials',
  /** The keys are valid but may not do this (ListBuckets refused, a bucket not theirs). */
  'access_denied',
  /** No such bucket (at this endpoint and region). */
  'bucket_missing',
  /** The endpoint did not answer (refused, unknown host, timed out). */
  'unreachable',
] as const;
export type SourceProblem = (typeof SOURCE_PROBLEMS)[number];

export function isSourceProblem(value: unknown): value is SourceProblem {
  return typeof value === 'string' && (SOURCE_PROBLEMS as readonly string[]).includes(value);
}

/** The problem an error carries (a FerryError's, or one that crossed HTTP or IPC), or null. */
export function sourceProblemOf(err: unknown): SourceProblem | null {
  const problem = (err as { problem?: unknown } | null)?.problem;
  return isSourceProblem(problem) ? problem : null;
}
