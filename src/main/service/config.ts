/**
 * Configuration from the environment (SPEC.md "Configuration"): the host, the data folder, the
 * engine's limits and retry policy, and the environment's layer of the settings (S3, MEGA,
 * MongoDB, transfers), which the service lays over the saved settings (./settings.ts).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_FILES, MAX_CONCURRENT_LIMIT } from '../../shared/constants';
import { InputError } from '../engine/errors';
import { bwLimitProblem } from '../../shared/bwlimit';
import type { EngineConfig } from '../engine/batch-manager';
import { DEFAULT_ENGINE_CONFIG } from '../engine/batch-manager';
import { requestPolicy } from '../engine/retry';
import { type SettingsLayer, settingsFromEnv } from './settings';

export interface HostConfig {
  host: string;
  port: number;
  token: string | null;
}

export interface FerryConfig {
  host: HostConfig;
  dataDir: string;
  engine: EngineConfig;
  /**
   * What the environment says, for the service to lay over the saved settings: the settings it
   * fixes (locked), and the environment-only parts of the peers' configuration.
   */
  fromEnv: { settings: SettingsLayer; megaGateway?: string; awsSessionToken?: string };
}

/** The OS's app-data folder for MegaFerry. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32')
    return join(env.APPDATA || join(homedir(), 'AppData', 'Roaming'), 'MegaFerry');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'MegaFerry');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'megaferry');
}

function intSetting(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InputError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): FerryConfig {
  const maxConcurrentLimit = intSetting(env, 'MEGAFERRY_MAX_CONCURRENT_LIMIT', MAX_CONCURRENT_LIMIT, 1, 64);
  const retry = {
    attempts: intSetting(env, 'MEGAFERRY_RETRY_ATTEMPTS', DEFAULT_ENGINE_CONFIG.retry.attempts, 1, 20),
    baseDelayMs: intSetting(
      env,
      'MEGAFERRY_RETRY_BASE_MS',
      DEFAULT_ENGINE_CONFIG.retry.baseDelayMs,
      0,
      600_000,
    ),
    maxDelayMs: intSetting(
      env,
      'MEGAFERRY_RETRY_MAX_MS',
      DEFAULT_ENGINE_CONFIG.retry.maxDelayMs,
      0,
      3_600_000,
    ),
  };
  const requestAttempts = intSetting(
    env,
    'MEGAFERRY_RETRY_REQUEST_ATTEMPTS',
    DEFAULT_ENGINE_CONFIG.requestRetry.attempts,
    1,
    50,
  );
  const connections = intSetting(env, 'MEGAFERRY_CONNECTIONS_PER_FILE', 4, 1, 16);
  const bwProblem = env.MEGAFERRY_BWLIMIT ? bwLimitProblem(env.MEGAFERRY_BWLIMIT) : null;
  if (bwProblem) throw new InputError(`MEGAFERRY_BWLIMIT: ${bwProblem}`);
  return {
    host: {
      host: env.MEGAFERRY_HOST || '127.0.0.1',
      port: intSetting(env, 'MEGAFERRY_PORT', 8787, 0, 65535),
      token: env.MEGAFERRY_TOKEN || null,
    },
    dataDir: env.MEGAFERRY_DATA_DIR || defaultDataDir(env),
    engine: {
      ...DEFAULT_ENGINE_CONFIG,
      maxConcurrentLimit,
      maxFilesPerBatch: intSetting(env, 'MEGAFERRY_MAX_FILES', DEFAULT_MAX_FILES, 1, 100_000),
      maxActive: intSetting(env, 'MEGAFERRY_MAX_ACTIVE', DEFAULT_ENGINE_CONFIG.maxActive, 1, 64),
      // A lease must outlive a few renewals (one a second) so a busy moment never loses it.
      leaseMs: intSetting(env, 'MEGAFERRY_LEASE_MS', DEFAULT_ENGINE_CONFIG.leaseMs, 3000, 3_600_000),
      quotaRetryMs: intSetting(
        env,
        'MEGAFERRY_QUOTA_RETRY_MS',
        DEFAULT_ENGINE_CONFIG.quotaRetryMs,
        1000,
        1_800_000,
      ),
      retry,
      requestRetry: requestPolicy(retry, requestAttempts),
    },
    fromEnv: {
      settings: settingsFromEnv(env, env.MEGAFERRY_CONNECTIONS_PER_FILE ? connections : null),
      megaGateway: env.MEGAFERRY_MEGA_GATEWAY || undefined,
      awsSessionToken: env.AWS_SESSION_TOKEN || undefined,
    },
  };
}
