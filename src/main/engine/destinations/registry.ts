/**
 * The destination registry (like rclone's `fs.Register`): for each destination declared in
 * src/shared/destinations.ts (its name, options, target), how it is created and how its
 * connection is tested. Everything else about destinations — the settings, the environment, the
 * redacted view, the Settings screen, `--dest`, the REST `destination` field — is derived from the
 * declarations; the service builds the destinations a process can write from this table
 * (src/main/service/destination-directory.ts).
 *
 * Each destination's code (megajs, the AWS SDK) is loaded at its first use: naming one loads
 * nothing.
 */
import type { ConnectionTestResult } from '../../../shared/contract';
import type { DestinationKind, DestinationValues } from '../../../shared/destinations';
import type { Destination } from '../ports';
import type { RetryPolicy } from '../retry';

/** What every destination is built with besides its own options. */
export interface DestinationContext {
  /** Tries of one request inside an attempt (a chunk POST, a part, an API command). */
  requestRetry: RetryPolicy;
  /** Connections (or parts in flight) per file. */
  connections: number;
  /** MEGA's API gateway (tests point it at a local MEGA API server). */
  megaGateway?: string;
  /** MEGA's second-factor code, for the next login only (never stored). */
  mfaCode?: string | null;
}

export interface DestinationFactory<K extends DestinationKind> {
  readonly kind: K;
  /**
   * The destination writing the stored id `id` with these options (already checked complete), or
   * null when these options do not write there (another MEGA account, another S4 endpoint).
   */
  open(id: string, values: DestinationValues<K>, ctx: DestinationContext): Destination | null;
  /** The Test button of its Settings section (`values` may be unsaved edits). */
  test(values: DestinationValues<K>, ctx: DestinationContext): Promise<ConnectionTestResult>;
}

export type DestinationRegistry = { [K in DestinationKind]: DestinationFactory<K> };
