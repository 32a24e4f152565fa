/**
 * Saved settings (the desktop Settings screen; SPEC.md "Configuration"): `<dataDir>/settings.json`,
 * written atomically. The effective value of a setting is its environment variable, else the
 * saved value, else the default; settings fixed by the environment are `locked`.
 *
 * Secrets (S3 secret key, MEGA password, MongoDB URI) are stored only sealed by a SecretBox: the
 * desktop shell's, backed by the OS keychain, or the headless host's and the CLI's, under a key of
 * their own (./key-file-box.ts). Without one they come from the environment only. A secret is never written in clear, returned, logged or put in a message.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_MAX_CONCURRENT } from '../../shared/constants';
import type { SettingsPatch, SettingsView } from '../../shared/contract';
import { languageChoiceOf, type LanguageChoice } from '../../shared/i18n/languages';
import {
  DESTINATIONS,
  type DestinationKind,
  type DestinationOption,
  type DestinationValues,
  type DestinationView,
  type StoredOptionName,
  declarationOf,
  isDestinationKind,
  isStoredOption,
} from '../../shared/destinations';
import { InputError } from '../engine/errors';
import { parseMongoUri, redactMongoUri } from '../store/mongo-uri';

/**
 * Seals secrets for storage at rest, e.g. with Electron's safeStorage (the OS keychain), whose API
 * is asynchronous. `seal` resolves to printable text; `open` rejects when the text was not sealed
 * by this box, and says when the text should be sealed again (the keychain rotated its key).
 */
export interface SecretBox {
  seal(plain: string): Promise<string>;
  open(sealed: string): Promise<{ plain: string; reseal: boolean }>;
  /** The headless host's box says where its key comes from (./key-file-box.ts); else a keychain. */
  readonly source?: 'key_file' | 'env_key';
}

const SOURCE_SETTINGS = [
  's3.endpoint',
  's3.region',
  's3.profile',
  's3.access_key_id',
  's3.secret_access_key',
  's3.force_path_style',
  's3.default_bucket',
] as const;
const PROCESS_SETTINGS = [
  'mongodb.uri',
  'transfers.max_concurrent',
  'transfers.connections_per_file',
  'transfers.bwlimit',
  'ui.language',
] as const;
/** A destination's stored option as a setting: `mega.email`, `s4.secret_access_key`. */
export type DestinationSettingName = {
  [K in DestinationKind]: `${K}.${StoredOptionName<K>}`;
}[DestinationKind];
export type SettingName =
  (typeof SOURCE_SETTINGS)[number] | DestinationSettingName | (typeof PROCESS_SETTINGS)[number];

/** Every stored setting: the source's, each registered destination's options, the process's. */
export const SETTING_NAMES: readonly SettingName[] = [
  ...SOURCE_SETTINGS,
  ...DESTINATIONS.flatMap((d) =>
    (d.options as readonly DestinationOption[])
      .filter(isStoredOption)
      .map((o) => `${d.kind}.${o.name}` as DestinationSettingName),
  ),
  ...PROCESS_SETTINGS,
];
export type SettingValue = string | number | boolean;
/** Settings by dotted name; absent means "not given by this layer". */
export type SettingsLayer = Partial<Record<SettingName, SettingValue>>;

export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set<SettingName>([
  's3.secret_access_key',
  ...DESTINATIONS.flatMap((d) =>
    (d.options as readonly DestinationOption[])
      .filter((o) => o.input === 'secret')
      .map((o) => `${d.kind}.${o.name}` as DestinationSettingName),
  ),
  'mongodb.uri',
]);

/** The environment variables that fix each setting (SPEC.md "Configuration"). */
export const SETTING_ENV: Partial<Record<SettingName, string[]>> = {
  's3.endpoint': ['AWS_ENDPOINT_URL_S3', 'MEGAFERRY_S3_ENDPOINT'],
  's3.region': ['AWS_REGION', 'AWS_DEFAULT_REGION'],
  's3.profile': ['AWS_PROFILE'],
  's3.access_key_id': ['AWS_ACCESS_KEY_ID'],
  's3.secret_access_key': ['AWS_SECRET_ACCESS_KEY'],
  's3.force_path_style': ['MEGAFERRY_S3_FORCE_PATH_STYLE'],
  ...Object.fromEntries(
    DESTINATIONS.flatMap((d) =>
      (d.options as readonly DestinationOption[]).flatMap((o) =>
        o.env && isStoredOption(o) ? [[`${d.kind}.${o.name}`, [...o.env]]] : [],
      ),
    ),
  ),
  'mongodb.uri': ['MONGODB_URI'],
  'transfers.connections_per_file': ['MEGAFERRY_CONNECTIONS_PER_FILE'],
  'transfers.bwlimit': ['MEGAFERRY_BWLIMIT'],
  'ui.language': ['MEGAFERRY_LANG'],
};

/** The settings the environment gives (`connectionsPerFile` already validated by configFromEnv). */
export function settingsFromEnv(env: NodeJS.ProcessEnv, connectionsPerFile: number | null): SettingsLayer {
  const layer: SettingsLayer = {};
  for (const name of SETTING_NAMES) {
    const variable = SETTING_ENV[name]?.find((v) => env[v]);
    const raw = variable ? env[variable] : undefined;
    if (raw === undefined) continue;
    if (name === 's3.force_path_style') layer[name] = raw === 'true';
    else if (name === 'transfers.connections_per_file') {
      if (connectionsPerFile !== null) layer[name] = connectionsPerFile;
    } else if (name === 'ui.language') {
      // A choice ("zh-Hant", "system") or a locale ("zh_TW.UTF-8"); anything else is ignored.
      const choice = languageChoiceOf(raw);
      if (choice) layer[name] = choice;
    } else layer[name] = raw;
  }
  return layer;
}

/**
 * Every setting with its effective value (secrets included: in memory only). Each registered
 * destination's options are a group of their own (`values.mega.email`, `values.s4.region`).
 */
export type SettingsValues = CoreValues & { [K in DestinationKind]: DestinationValues<K> };

interface CoreValues {
  s3: {
    endpoint: string;
    region: string;
    profile: string;
    access_key_id: string;
    secret_access_key: string;
    force_path_style: boolean;
    default_bucket: string;
  };
  mongodb: { uri: string };
  /** `bwlimit`: the process's bandwidth limit as typed (../../shared/bwlimit.ts); '' = off. */
  transfers: { max_concurrent: number; connections_per_file: number; bwlimit: string };
  ui: { language: LanguageChoice };
}

/** Env over saved over defaults. */
export function resolveSettings(
  layers: SettingsLayer[],
  limits: { maxConcurrentLimit: number },
): SettingsValues {
  const get = (name: SettingName): SettingValue | undefined => {
    for (const layer of layers) if (layer[name] !== undefined) return layer[name];
    return undefined;
  };
  const text = (name: SettingName, fallback = ''): string => {
    const v = get(name);
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  const int = (name: SettingName, fallback: number): number => {
    const v = get(name);
    return typeof v === 'number' ? v : fallback;
  };
  const endpoint = text('s3.endpoint');
  const pathStyle = get('s3.force_path_style');
  const destinations = Object.fromEntries(
    DESTINATIONS.map((d) => [
      d.kind,
      Object.fromEntries(
        (d.options as readonly DestinationOption[])
          .filter(isStoredOption)
          .map((o) => [o.name, text(`${d.kind}.${o.name}` as SettingName, o.default ?? '')]),
      ),
    ]),
  ) as { [K in DestinationKind]: DestinationValues<K> };
  return {
    ...destinations,
    s3: {
      endpoint,
      region: text('s3.region', 'us-east-1'),
      profile: text('s3.profile'),
      access_key_id: text('s3.access_key_id'),
      secret_access_key: text('s3.secret_access_key'),
      force_path_style: typeof pathStyle === 'boolean' ? pathStyle : Boolean(endpoint),
      default_bucket: text('s3.default_bucket'),
    },
    mongodb: { uri: text('mongodb.uri') },
    transfers: {
      max_concurrent: Math.min(
        int('transfers.max_concurrent', DEFAULT_MAX_CONCURRENT),
        limits.maxConcurrentLimit,
      ),
      connections_per_file: int('transfers.connections_per_file', 4),
      bwlimit: text('transfers.bwlimit').trim(),
    },
    ui: { language: languageChoiceOf(text('ui.language')) ?? 'system' },
  };
}

/** A patch as dotted names (one-time options apart, MEGA's mfa_code: they are never stored). */
export function flattenPatch(patch: SettingsPatch): { layer: SettingsLayer; mfaCode: string | null } {
  const layer: SettingsLayer = {};
  let mfaCode: string | null = null;
  for (const [group, fields] of Object.entries(patch)) {
    const decl = isDestinationKind(group) ? declarationOf(group) : null;
    for (const [field, value] of Object.entries((fields ?? {}) as Record<string, unknown>)) {
      if (value === undefined) continue;
      if (decl?.options.some((o) => o.name === field && o.input === 'one_time')) {
        if (group === 'mega' && field === 'mfa_code') mfaCode = (value as string) || null;
        continue;
      }
      layer[`${group}.${field}` as SettingName] = value as SettingValue;
    }
  }
  return { layer, mfaCode };
}

/** The saved settings of a data folder: plain values, and secrets sealed by a SecretBox. */
export class SettingsFile {
  readonly path: string;
  private plain: SettingsLayer = {};
  private sealed: Partial<Record<SettingName, string>> = {};
  /** The sealed secrets that opened, in clear (memory only). */
  private opened: SettingsLayer = {};

  constructor(
    readonly dataDir: string,
    private readonly box: SecretBox | null,
  ) {
    this.path = join(dataDir, 'settings.json');
  }

  /**
   * Reads the file and opens its secrets; a missing or unreadable file counts as no saved
   * settings. Secrets the box asks to seal again are written back sealed anew.
   */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return;
    }
    try {
      const data = JSON.parse(text) as { settings?: unknown; sealed?: unknown };
      this.plain = pick(data.settings, (v) => ['string', 'number', 'boolean'].includes(typeof v));
      this.sealed = pick(data.sealed, (v) => typeof v === 'string') as Partial<Record<SettingName, string>>;
    } catch {
      // The message of a JSON error may quote the file: say only where it is.
      console.warn(`megaferry: ignoring ${this.path}: not valid JSON`);
      return;
    }
    await this.openSecrets();
  }

  private async openSecrets(): Promise<void> {
    this.opened = {};
    if (!this.box) return;
    const reseal: SettingsLayer = {};
    for (const [name, sealed] of Object.entries(this.sealed) as [SettingName, string][]) {
      try {
        const { plain, reseal: again } = await this.box.open(sealed);
        this.opened[name] = plain;
        if (again) reseal[name] = plain;
      } catch {
        // Sealed on another machine or account: the user enters it again.
      }
    }
    if (Object.keys(reseal).length === 0) return;
    try {
      await this.save(reseal);
    } catch (err) {
      // The old sealing still opens: try again at the next start.
      console.warn(
        `megaferry: could not seal the saved secrets again in ${this.path}: ${(err as Error).message}`,
      );
    }
  }

  /** The saved settings, secrets opened at load (a secret that no longer opens counts as not set). */
  layer(): SettingsLayer {
    return { ...this.plain, ...this.opened };
  }

  /** Applies a validated change (an empty string clears a setting) and writes the file atomically. */
  async save(change: SettingsLayer): Promise<void> {
    const plain = { ...this.plain };
    const sealed = { ...this.sealed };
    const opened = { ...this.opened };
    for (const [name, value] of Object.entries(change) as [SettingName, SettingValue][]) {
      delete plain[name];
      delete sealed[name];
      delete opened[name];
      if (value === '') continue;
      if (isSecret(name, value)) {
        if (!this.box) throw new Error(`${name} cannot be stored without a SecretBox`);
        sealed[name] = await this.box.seal(String(value));
        opened[name] = String(value);
      } else plain[name] = value;
    }
    await mkdir(this.dataDir, { recursive: true });
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const body = JSON.stringify({ version: 1, settings: plain, sealed }, null, 2) + '\n';
    try {
      await writeFile(temp, body, { mode: 0o600 });
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    this.plain = plain;
    this.sealed = sealed;
    this.opened = opened;
  }
}

/**
 * Whether a value is a secret. A MongoDB URI is one when it holds credentials; one without may be
 * saved in clear (so the headless host can keep it too).
 */
export function isSecret(name: SettingName, value: SettingValue): boolean {
  if (!SECRET_SETTINGS.has(name)) return false;
  if (name !== 'mongodb.uri') return true;
  try {
    const { username, password } = parseMongoUri(String(value));
    return username !== null || password !== null;
  } catch {
    return true;
  }
}

function pick(source: unknown, keep: (v: unknown) => boolean): SettingsLayer {
  const out: SettingsLayer = {};
  if (!source || typeof source !== 'object') return out;
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if ((SETTING_NAMES as readonly string[]).includes(key) && keep(value)) {
      out[key as SettingName] = value as SettingValue;
    }
  }
  return out;
}

/**
 * Checks a change against the locks and the secret storage. Throws an InputError naming the
 * setting (never its value).
 */
export function checkChange(
  change: SettingsLayer,
  opts: { env: SettingsLayer; current: SettingsValues; box: SecretBox | null },
): void {
  for (const [name, value] of Object.entries(change) as [SettingName, SettingValue][]) {
    if (opts.env[name] !== undefined) {
      const same = !SECRET_SETTINGS.has(name) && valueOf(opts.current, name) === value;
      if (!same) {
        const variables = (SETTING_ENV[name] ?? []).join(' or ');
        throw new InputError(
          `${name} is set by the environment variable ${variables} and cannot be changed here`,
        );
      }
    }
    if (!opts.box && value !== '' && isSecret(name, value)) {
      const variable = SETTING_ENV[name]?.[0] ?? 'its environment variable';
      throw new InputError(
        `${name} cannot be saved here (no keychain or key to seal it): set it with the environment variable ${variable}`,
      );
    }
  }
}

/** Each destination's options as the view shows them: secrets only as `has_<name>`. */
function destinationViews(values: SettingsValues): { [K in DestinationKind]: DestinationView<K> } {
  return Object.fromEntries(
    DESTINATIONS.map((d) => {
      const own = values[d.kind] as Record<string, string>;
      const view: Record<string, string | boolean> = {};
      for (const o of (d.options as readonly DestinationOption[]).filter(isStoredOption)) {
        if (o.input === 'secret') view[`has_${o.name}`] = own[o.name] !== '';
        else view[o.name] = own[o.name] ?? '';
      }
      return [d.kind, view];
    }),
  ) as { [K in DestinationKind]: DestinationView<K> };
}

function valueOf(values: SettingsValues, name: SettingName): SettingValue {
  const [group, field] = name.split('.') as [keyof SettingsValues, string];
  return (values[group] as Record<string, SettingValue>)[field] as SettingValue;
}

/** Where saved secrets go: the OS keychain, the host's key (file or variable), or nowhere. */
export function secretStorageOf(box: SecretBox | null): SettingsView['secret_storage'] {
  if (!box) return 'environment';
  return box.source ?? 'keychain';
}

/** The view of the settings: no secret, only whether one is set. */
export function settingsView(
  values: SettingsValues,
  opts: {
    env: SettingsLayer;
    maxConcurrentLimit: number;
    maxFilesPerBatch: number;
    storeInUse: 'mongodb' | 'embedded';
    box: SecretBox | null;
  },
): SettingsView {
  return {
    s3: {
      endpoint: values.s3.endpoint,
      region: values.s3.region,
      profile: values.s3.profile,
      access_key_id: values.s3.access_key_id,
      has_secret_access_key: values.s3.secret_access_key !== '',
      force_path_style: values.s3.force_path_style,
      default_bucket: values.s3.default_bucket,
    },
    ...destinationViews(values),
    // `uri_redacted` is the configured store (used from the next start); `store` the one in use.
    mongodb: { uri_redacted: redactMongoUri(values.mongodb.uri), store: opts.storeInUse },
    transfers: {
      max_concurrent: values.transfers.max_concurrent,
      max_concurrent_limit: opts.maxConcurrentLimit,
      connections_per_file: values.transfers.connections_per_file,
      max_files_per_batch: opts.maxFilesPerBatch,
      bwlimit: values.transfers.bwlimit,
    },
    ui: { language: values.ui.language },
    locked: SETTING_NAMES.filter((name) => opts.env[name] !== undefined),
    secret_storage: secretStorageOf(opts.box),
  };
}
