/**
 * Settings from the environment (SPEC.md "Configuration"). The desktop Settings screen holds the
 * same settings; this is the headless and CLI reading of them.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_FILES, MAX_CONCURRENT_LIMIT } from '../../shared/contract';
import { InputError } from '../engine/errors';
import type { EngineConfig } from '../engine/batch-manager';
import { DEFAULT_ENGINE_CONFIG } from '../engine/batch-manager';
import { type S3Config, s3ConfigFromEnv } from '../engine/sources/s3';
import type { MegaConfig } from '../engine/destinations/mega';
import { type SettingsLayer, settingsFromEnv } from './settings';

export interface HostConfig {
  host: string;
  port: number;
  token: string | null;
}

export interface FerryConfig {
  host: HostConfig;
  s3: S3Config;
  mega: MegaConfig | null;
  mongodbUri: string | null;
  dataDir: string;
  engine: EngineConfig;
  defaultConcurrency: number;
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
  const email = env.MEGA_EMAIL;
  const password = env.MEGA_PASSWORD;
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
  const connections = intSetting(env, 'MEGAFERRY_CONNECTIONS_PER_FILE', 4, 1, 16);
  return {
    host: {
      host: env.MEGAFERRY_HOST || '127.0.0.1',
      port: intSetting(env, 'MEGAFERRY_PORT', 8787, 0, 65535),
      token: env.MEGAFERRY_TOKEN || null,
    },
    s3: s3ConfigFromEnv(env),
    mega:
      email && password
        ? {
            email,
            password,
            gateway: env.MEGAFERRY_MEGA_GATEWAY || undefined,
            // A failing chunk is retried in place (the rest of the file keeps its progress) with
            // the same policy before the whole attempt counts as failed.
            chunkRetries: { max: retry.attempts - 1, baseDelayMs: retry.baseDelayMs },
            connections,
          }
        : null,
    mongodbUri: env.MONGODB_URI || null,
    dataDir: env.MEGAFERRY_DATA_DIR || defaultDataDir(env),
    defaultConcurrency: Math.min(DEFAULT_MAX_CONCURRENT, maxConcurrentLimit),
    engine: {
      ...DEFAULT_ENGINE_CONFIG,
      maxConcurrentLimit,
      maxFilesPerBatch: intSetting(env, 'MEGAFERRY_MAX_FILES', DEFAULT_MAX_FILES, 1, 100_000),
      retry,
    },
    fromEnv: {
      settings: settingsFromEnv(env, env.MEGAFERRY_CONNECTIONS_PER_FILE ? connections : null),
      megaGateway: env.MEGAFERRY_MEGA_GATEWAY || undefined,
      awsSessionToken: env.AWS_SESSION_TOKEN || undefined,
    },
  };
}
