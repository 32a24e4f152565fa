/**
 * The destinations MegaFerry writes to, each declared once (like rclone's `fs.Register` and its
 * `RegInfo.Options`): its name, its options (which are secret, which environment variable sets
 * each, defaults), what its target looks like, and where a source key lands under a target. The
 * settings schema, the environment layer, the redacted settings view, the Settings screen's
 * sections and Test buttons, the CLI's `--dest` and the REST `destination` field are derived from
 * these declarations; src/main/engine/destinations/registry.ts adds how each is created and tested.
 *
 * Pure: no Node, no DOM (the renderer reads it too).
 */
import {
  BUCKET_NAME,
  BUCKET_NAME_RULE,
  MAX_KEY_BYTES,
  hasControlCharacters,
  keyProblem,
  targetProblem,
} from './object-paths';

export const DESTINATION_KINDS = ['mega', 's4', 'local'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/**
 * How an option is entered and checked: `secret` values are sealed at rest and never shown (the
 * view says only whether one is set); `one_time` values are used once and never stored (MEGA's
 * second-factor code); `target` is the destination's default target, checked by its own rule.
 */
export type OptionInput = 'text' | 'email' | 'url' | 'secret' | 'one_time' | 'target';

export interface DestinationOption {
  /** The setting's name under the destination: `mega.email`. */
  readonly name: string;
  readonly input: OptionInput;
  /** Environment variables that set it (the first one set wins); they lock it in Settings. */
  readonly env?: readonly string[];
  readonly default?: string;
  /** What it must be, in the words of an error message ("the MEGA account e-mail"). */
  readonly rule: string;
}

export interface DestinationDeclaration {
  readonly kind: DestinationKind;
  /** The product's name for it (not translated: MEGA, MEGA S4). */
  readonly label: string;
  readonly options: readonly DestinationOption[];
  /** The options that must be set before anything can be sent there. */
  readonly required: readonly string[];
  /** What is configured, in messages: "MEGA account" (… not configured). */
  readonly account: string;
  /** The required options in words: "the MEGA e-mail and password". */
  readonly requiredText: string;
  /** What a target is, for messages and `--help`. */
  readonly targetRule: string;
  /** An example target (`--dest` help, placeholders). */
  readonly targetExample: string;
  /**
   * Written by the machine that starts the batch only (a local folder): such a batch is never
   * handed to the workers, and processes on other machines leave it alone.
   */
  readonly machineBound: boolean;
}

export const DESTINATIONS = [
  {
    kind: 'mega',
    label: 'MEGA',
    options: [
      { name: 'email', input: 'email', env: ['MEGA_EMAIL'], rule: 'the MEGA account e-mail' },
      { name: 'password', input: 'secret', env: ['MEGA_PASSWORD'], rule: 'the MEGA account password' },
      {
        name: 'mfa_code',
        input: 'one_time',
        rule: 'the 6-digit code of the authenticator app, or empty',
      },
      {
        name: 'default_target',
        input: 'target',
        default: '/',
        rule: 'a folder path starting with "/"',
      },
    ],
    required: ['email', 'password'],
    account: 'MEGA account',
    requiredText: 'the MEGA e-mail and password',
    targetRule: 'a folder path in the cloud drive, starting with "/"',
    targetExample: '/Backup',
    machineBound: false,
  },
  {
    kind: 's4',
    label: 'MEGA S4',
    options: [
      {
        name: 'endpoint',
        input: 'url',
        env: ['MEGAFERRY_S4_ENDPOINT'],
        default: 'https://s3.eu-central-1.s4.mega.io',
        rule: 'the S4 endpoint, an http(s) URL such as https://s3.eu-central-1.s4.mega.io',
      },
      {
        name: 'region',
        input: 'text',
        env: ['MEGAFERRY_S4_REGION'],
        default: 'eu-central-1',
        rule: 'the S4 region, such as eu-central-1',
      },
      {
        name: 'access_key_id',
        input: 'text',
        env: ['MEGAFERRY_S4_ACCESS_KEY_ID'],
        rule: 'an S4 access key id (made in MEGA’s web app)',
      },
      {
        name: 'secret_access_key',
        input: 'secret',
        env: ['MEGAFERRY_S4_SECRET_ACCESS_KEY'],
        rule: 'the S4 secret access key',
      },
      {
        name: 'default_target',
        input: 'target',
        rule: 'a bucket and an optional prefix, such as archive/2024/',
      },
    ],
    required: ['endpoint', 'region', 'access_key_id', 'secret_access_key'],
    account: 'MEGA S4 access',
    requiredText: 'the S4 endpoint, region and access keys',
    targetRule: 'a bucket and an optional prefix, bucket/prefix/',
    targetExample: 'archive/2024/',
    machineBound: false,
  },
  {
    kind: 'local',
    label: 'Local folder',
    options: [
      {
        name: 'default_target',
        input: 'target',
        rule: 'an absolute folder path on this machine',
      },
    ],
    required: [],
    account: 'Local folder',
    requiredText: 'nothing',
    targetRule: 'an absolute folder path on this machine',
    targetExample: '/srv/archive',
    machineBound: true,
  },
] as const satisfies readonly DestinationDeclaration[];

type Declared = (typeof DESTINATIONS)[number];
/** The option names of a destination kind. */
export type OptionName<K extends DestinationKind> = Extract<Declared, { kind: K }>['options'][number]['name'];
/** A destination's options as values (secrets included: in memory only). */
export type DestinationOptions<K extends DestinationKind = DestinationKind> = Record<OptionName<K>, string>;

export function declarationOf(kind: DestinationKind): DestinationDeclaration {
  return DESTINATIONS.find((d) => d.kind === kind) as DestinationDeclaration;
}

export function isDestinationKind(value: unknown): value is DestinationKind {
  return typeof value === 'string' && (DESTINATION_KINDS as readonly string[]).includes(value);
}

/** The kind of a stored destination id (`mega:a@b.c` → mega), or null. */
export function kindOfDestinationId(id: string): DestinationKind | null {
  const kind = id.slice(0, id.indexOf(':'));
  return isDestinationKind(kind) ? kind : null;
}

// ---------------------------------------------------------------------------------------------
// Targets: what each kind's target is, and where a key lands under it (the document's s4_key).
// ---------------------------------------------------------------------------------------------

/** An absolute folder path on this machine (POSIX `/…`, or Windows `C:\…`). */
const ABSOLUTE_FOLDER = /^(\/|[A-Za-z]:[\\/])/;

/** A S4 target split: the bucket and the key prefix (empty, or ending with "/"). */
export function splitS4Target(target: string): { bucket: string; prefix: string } {
  const slash = target.indexOf('/');
  if (slash < 0) return { bucket: target, prefix: '' };
  const rest = target.slice(slash + 1).replace(/^\/+/, '');
  return { bucket: target.slice(0, slash), prefix: rest && !rest.endsWith('/') ? `${rest}/` : rest };
}

/** Why a target cannot be used for this kind (null: it can). The message starts after the field. */
export function destinationTargetProblem(kind: DestinationKind, target: string): string | null {
  if (kind === 'mega') return targetProblem(target);
  if (hasControlCharacters(target)) return 'contains control characters';
  if (kind === 's4') {
    const { bucket, prefix } = splitS4Target(target);
    if (!bucket) return `must be ${declarationOf('s4').targetRule}`;
    if (!BUCKET_NAME.test(bucket)) return `must start with ${BUCKET_NAME_RULE}`;
    if (new TextEncoder().encode(prefix).length >= MAX_KEY_BYTES)
      return `has a prefix longer than ${MAX_KEY_BYTES - 1} bytes`;
    if (prefix.split('/').some((s) => s === '.' || s === '..'))
      return 'must not contain "." or ".." segments';
    return null;
  }
  if (!ABSOLUTE_FOLDER.test(target)) return 'must be an absolute folder path on this machine';
  if (target.length > 4096) return 'is longer than 4096 characters';
  if (target.split(/[\\/]/).some((s) => s === '.' || s === '..'))
    return 'must not contain "." or ".." segments';
  return null;
}

/** A kind's target when neither the request nor the settings give one: its option's default ('/' for MEGA). */
export function defaultTargetOf(kind: DestinationKind): string {
  return declarationOf(kind).options.find((o) => o.name === 'default_target')?.default ?? '';
}

/** Where a batch goes, for people: the destination's name (translated) and its target. */
export function destinationRoute(
  name: (kind: DestinationKind) => string,
  batch: { destination?: string | null; target?: string | null },
): string {
  const kind = (batch.destination ? kindOfDestinationId(batch.destination) : null) ?? 'mega';
  return `${name(kind)} ${batch.target ?? defaultTargetOf(kind)}`;
}

/** The target as stored: an S4 prefix ends with "/", a local folder has no trailing separator. */
export function normalizeTarget(kind: DestinationKind, target: string): string {
  const t = target.trim();
  if (kind === 's4') {
    const { bucket, prefix } = splitS4Target(t);
    return prefix ? `${bucket}/${prefix}` : bucket;
  }
  if (kind === 'local') return t.length > 1 ? t.replace(/(?<!^[A-Za-z]:)[\\/]+$/, '') || '/' : t;
  return t;
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

/**
 * Where a source key lands for this kind and (valid) target, as the document's s4_key: MEGA, the
 * path from the drive root (`/Backup/photos/a.jpg`); S4, the object key in the bucket
 * (`2024/photos/a.jpg`); a local folder, the path under it (`photos/a.jpg`). Null with the reason
 * when the key cannot be placed there.
 */
export function destinationKey(
  kind: DestinationKind,
  target: string,
  key: string,
): { key: string } | { problem: string } {
  const problem = keyProblem(key);
  if (problem) return { problem };
  if (kind === 'mega') return { key: '/' + [...segments(target), ...segments(key)].join('/') };
  if (kind === 's4') {
    const full = splitS4Target(target).prefix + key;
    if (new TextEncoder().encode(full).length > MAX_KEY_BYTES)
      return { problem: `with the prefix is longer than ${MAX_KEY_BYTES} bytes` };
    return { key: full };
  }
  return { key: segments(key).join('/') };
}

// ---------------------------------------------------------------------------------------------
// Destination ids, as the store records them (SPEC.md "Data model": `destination`).
// ---------------------------------------------------------------------------------------------

/** `mega:` and the account's e-mail, lower-cased (MEGA accounts are case-insensitive). */
export function megaDestinationId(email: string): string {
  return `mega:${email.trim().toLowerCase()}`;
}

/** `s4:` and the endpoint's host, then `/` and the bucket: `s4:s3.eu-central-1.s4.mega.io/archive`. */
export function s4DestinationId(endpoint: string, bucket: string): string {
  let host = endpoint;
  try {
    host = new URL(endpoint).host;
  } catch {
    // not a URL: the text itself (settings refuse such endpoints before any batch starts)
  }
  return `s4:${host.toLowerCase()}/${bucket}`;
}

/** `local:` and the folder's absolute path, without a trailing separator (the root stays "/"). */
export function localDestinationId(folder: string): string {
  return `local:${normalizeTarget('local', folder) || '/'}`;
}

/** The id the store records for a kind, its options and a (normalized) target. */
export function destinationIdOf(
  kind: DestinationKind,
  options: Partial<Record<string, string>>,
  target: string,
): string {
  if (kind === 'mega') return megaDestinationId(options.email ?? '');
  if (kind === 's4') return s4DestinationId(options.endpoint ?? '', splitS4Target(target).bucket);
  return localDestinationId(target);
}

/**
 * Where a copy can be found, to copy and paste: S4 the object's URL (path-style), a local folder
 * the file's path. MEGA's copies have their own link (`mega_link`): null.
 */
export function copyLocation(destination: string, s4Key: string): string | null {
  const kind = kindOfDestinationId(destination);
  const rest = destination.slice(destination.indexOf(':') + 1);
  if (kind === 's4') {
    const encoded = s4Key.split('/').map(encodeURIComponent).join('/');
    return `https://${rest}/${encoded}`;
  }
  if (kind === 'local') {
    const sep = /^[A-Za-z]:\\/.test(rest) ? '\\' : '/';
    const path = sep === '\\' ? s4Key.split('/').join('\\') : s4Key;
    return rest.endsWith(sep) ? rest + path : `${rest}${sep}${path}`;
  }
  return null;
}

/** A short name of a stored destination for people: `MEGA mock@test`, `S4 host/bucket`, `/srv/a`. */
export function destinationLabel(destination: string): string {
  const kind = kindOfDestinationId(destination);
  const rest = destination.slice(destination.indexOf(':') + 1);
  if (kind === 'mega') return `MEGA ${rest}`;
  if (kind === 's4') return `S4 ${rest}`;
  if (kind === 'local') return rest;
  return destination;
}

/** `--dest KIND:TARGET` split (the kind named, the target as typed), or the problem. */
export function parseDestinationSpec(
  spec: string,
): { kind: DestinationKind; target: string } | { problem: string } {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  if (!isDestinationKind(kind)) {
    return {
      problem: `--dest must be ${DESTINATIONS.map((d) => `${d.kind}:${d.targetExample}`).join(', ')} (got "${spec}")`,
    };
  }
  const target = colon < 0 ? '' : spec.slice(colon + 1);
  return { kind, target };
}

// ---------------------------------------------------------------------------------------------
// Options as settings: their values, and the view of them (secrets only said to be set).
// ---------------------------------------------------------------------------------------------

type OptionOf<K extends DestinationKind> = Extract<Declared, { kind: K }>['options'][number];
/** The options a destination stores (a one-time option, MEGA's second-factor code, never is). */
type StoredOption<K extends DestinationKind> = Exclude<OptionOf<K>, { input: 'one_time' }>;
export type StoredOptionName<K extends DestinationKind> = StoredOption<K>['name'];

/** A destination's stored options with their effective values (secrets included: memory only). */
export type DestinationValues<K extends DestinationKind = DestinationKind> = Record<
  StoredOptionName<K>,
  string
>;

/** A destination's options as the settings view shows them: a secret only as `has_<name>`. */
export type DestinationView<K extends DestinationKind> = {
  [O in StoredOption<K> as O extends { input: 'secret' } ? `has_${O['name']}` : O['name']]: O extends {
    input: 'secret';
  }
    ? boolean
    : string;
};

/** Whether an option is stored (every input but `one_time`). */
export function isStoredOption(option: DestinationOption): boolean {
  return option.input !== 'one_time';
}

/**
 * The required options of a destination left unset, by setting name (`s4.access_key_id`), with
 * the environment variables that would set them.
 */
export function missingOptions(
  kind: DestinationKind,
  values: Partial<Record<string, string>>,
): { name: string; env: readonly string[] }[] {
  const decl = declarationOf(kind);
  return decl.required
    .filter((name) => !values[name])
    .map((name) => ({
      name: `${kind}.${name}`,
      env: decl.options.find((o) => o.name === name)?.env ?? [],
    }));
}

/**
 * The one line saying a destination cannot be used yet: what to enter in Settings (when secrets
 * can be saved there), or which environment variables to set.
 */
export function notConfiguredMessage(kind: DestinationKind, settingsCanHoldSecrets: boolean): string {
  const decl = declarationOf(kind);
  const env = decl.required.flatMap((name) => decl.options.find((o) => o.name === name)?.env?.[0] ?? []);
  const variables = env.join(' and ');
  return settingsCanHoldSecrets
    ? `${decl.account} not configured: enter ${decl.requiredText} in Settings (or set ${variables})`
    : `${decl.account} not configured: set ${variables}`;
}
