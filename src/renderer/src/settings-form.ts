/**
 * The Settings form's model: a draft built from the SettingsView and the patch of what changed.
 * Secrets start empty and are sent only when typed into. Pure.
 */
import type { SettingsPatch, SettingsView } from '../../shared/contract';
import {
  BUCKET_NAME,
  MAX_TARGET_LENGTH,
  hasControlCharacters,
  targetProblemKind,
} from '../../shared/object-paths';
import { bwLimitProblem } from '../../shared/bwlimit';
import {
  DESTINATIONS,
  type DestinationKind,
  type DestinationOption,
  destinationTargetProblem,
} from '../../shared/destinations';

/**
 * The draft of each destination's section: every declared option as typed (shared/destinations.ts);
 * secrets and one-time codes start empty.
 */
export type DestinationDrafts = { [K in DestinationKind]: Record<string, string> };

export type SettingsDraft = CoreDraft & DestinationDrafts;

interface CoreDraft {
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
  transfers: { max_concurrent: string; connections_per_file: string; bwlimit: string };
}

export type SectionName = keyof CoreDraft | DestinationKind;

/** A destination's options as declared (a readonly tuple widened for iteration). */
export function optionsOf(kind: DestinationKind): readonly DestinationOption[] {
  return DESTINATIONS.find((d) => d.kind === kind)?.options ?? [];
}

/** Whether a field holds a secret (sent only when typed, never shown). */
export function isSecretField(section: string, field: string): boolean {
  if (section === 's3') return field === 'secret_access_key';
  const decl = DESTINATIONS.find((d) => d.kind === section);
  return Boolean(decl?.options.some((o) => o.name === field && o.input === 'secret'));
}

function destinationDrafts(view: SettingsView): DestinationDrafts {
  return Object.fromEntries(
    DESTINATIONS.map((d) => {
      const shown = view[d.kind] as Record<string, string | boolean>;
      const fields = Object.fromEntries(
        (d.options as readonly DestinationOption[]).map((o) => [
          o.name,
          o.input === 'secret' || o.input === 'one_time' ? '' : String(shown[o.name] ?? ''),
        ]),
      );
      return [d.kind, fields];
    }),
  ) as DestinationDrafts;
}

export function draftFromView(view: SettingsView): SettingsDraft {
  return {
    s3: {
      endpoint: view.s3.endpoint,
      region: view.s3.region,
      profile: view.s3.profile,
      access_key_id: view.s3.access_key_id,
      secret_access_key: '',
      force_path_style: view.s3.force_path_style,
      default_bucket: view.s3.default_bucket,
    },
    ...destinationDrafts(view),
    mongodb: { uri: view.mongodb.uri_redacted },
    transfers: {
      max_concurrent: String(view.transfers.max_concurrent),
      connections_per_file: String(view.transfers.connections_per_file),
      bwlimit: view.transfers.bwlimit,
    },
  };
}

/** Numbers as typed: a whole number when it is one, else the text (the service names the rule). */
function toNumber(text: string): number {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : NaN;
}

/** The patch of changed fields (only sections with changes appear); locked fields never do. */
export function patchFromDraft(
  view: SettingsView,
  draft: SettingsDraft,
  locked: readonly string[] = view.locked,
): SettingsPatch {
  const base = draftFromView(view);
  const patch: Record<string, Record<string, unknown>> = {};
  const put = (section: SectionName, field: string, value: unknown) => {
    if (locked.includes(`${section}.${field}`)) return;
    (patch[section] ??= {})[field] = value;
  };
  for (const section of Object.keys(draft) as SectionName[]) {
    const now = draft[section] as Record<string, unknown>;
    const was = base[section] as Record<string, unknown>;
    for (const field of Object.keys(now)) {
      const value = now[field];
      if (value === was[field]) continue;
      if (section === 'transfers' && field === 'bwlimit') put(section, field, String(value).trim());
      else if (section === 'transfers') put(section, field, toNumber(String(value)));
      else if (typeof value === 'string')
        put(section, field, isSecretField(section, field) ? value : value.trim());
      else put(section, field, value);
    }
  }
  return patch as SettingsPatch;
}

export function hasChanges(patch: SettingsPatch): boolean {
  return Object.values(patch).some((s) => s && Object.keys(s).length > 0);
}

/** Which section an error message is about ("mega.email: …" → "mega"). */
export function sectionOfError(message: string): SectionName | null {
  const m = /^(s3|mega|s4|local|mongodb|transfers)\./.exec(message);
  return m ? (m[1] as SectionName) : null;
}

/** Whether the settings hold everything a destination needs (its required options; secrets set). */
export function destinationReady(view: SettingsView, kind: DestinationKind): boolean {
  const decl = DESTINATIONS.find((d) => d.kind === kind);
  const shown = view[kind] as Record<string, string | boolean>;
  return (decl?.required ?? []).every((name) => {
    const option = decl?.options.find((o) => o.name === name);
    return option?.input === 'secret' ? shown[`has_${name}`] === true : Boolean(shown[name]);
  });
}

/**
 * Nothing configured to send to yet: no destination that needs an account has one (no MEGA
 * account, no S4 keys). The UI then opens on the short setup.
 */
export function needsSetup(view: SettingsView): boolean {
  return !DESTINATIONS.some((d) => d.required.length > 0 && destinationReady(view, d.kind));
}

/** A field's problem as a catalog key and its values (`fieldError.*`, `startBar.targetProblem.*`). */
export interface FieldProblem {
  key: string;
  values?: Record<string, string | number>;
}

/** Problems by dotted field name (`mega.email`), in the order of the form. */
export type FieldProblems = Record<string, FieldProblem>;

const URL_RULE = /^https?:\/\/[^\s]+$/;
const EMAIL_RULE = /^[^\s@]+@[^\s@]+$/;
const MONGO_RULE = /^((mongodb|mongodb\+srv):\/\/.+)?$/;
const TEXT_MAX = 2048;

/**
 * Every problem of the draft at once, by the host's own rules (shared/contract.ts and
 * object-paths.ts), so the form can say each beside its field before anything is sent. Fields the
 * environment fixes are not checked (they are not sent).
 */
export function draftProblems(view: SettingsView, draft: SettingsDraft): FieldProblems {
  const problems: FieldProblems = {};
  const locked = (name: string) => view.locked.includes(name);
  const put = (name: string, problem: FieldProblem | null) => {
    if (problem && !locked(name) && !problems[name]) problems[name] = problem;
  };
  const text = (name: string, value: string, max = TEXT_MAX): FieldProblem | null => {
    if (hasControlCharacters(value)) return { key: 'fieldError.controlChars' };
    if (value.length > max) return { key: 'fieldError.tooLong', values: { max } };
    return null;
  };
  const { s3, mongodb, transfers } = draft;
  const mega = {
    email: draft.mega.email ?? '',
    password: draft.mega.password ?? '',
    mfa_code: draft.mega.mfa_code ?? '',
    default_target: draft.mega.default_target ?? '',
  };
  for (const field of ['endpoint', 'region', 'profile', 'access_key_id', 'secret_access_key'] as const)
    put(`s3.${field}`, text(`s3.${field}`, s3[field]));
  const endpoint = s3.endpoint.trim();
  if (endpoint && !URL_RULE.test(endpoint)) put('s3.endpoint', { key: 'fieldError.url' });
  const bucket = s3.default_bucket.trim();
  if (bucket && !BUCKET_NAME.test(bucket)) put('s3.default_bucket', { key: 'fieldError.bucket' });

  put('mega.email', text('mega.email', mega.email));
  put('mega.password', text('mega.password', mega.password));
  const email = mega.email.trim();
  if (email && !EMAIL_RULE.test(email)) put('mega.email', { key: 'fieldError.email' });
  const hasPassword = mega.password !== '' || view.mega.has_password;
  // A newly entered account needs its password too (an account saved earlier is left as it is).
  const newAccount = EMAIL_RULE.test(email) && email !== view.mega.email;
  if (newAccount && !hasPassword && !locked('mega.password') && view.secret_storage !== 'environment')
    put('mega.password', { key: 'fieldError.passwordMissing' });
  if (!email && mega.password !== '') put('mega.email', { key: 'fieldError.emailMissing' });
  if (!/^(\d{6})?$/.test(mega.mfa_code.trim())) put('mega.mfa_code', { key: 'fieldError.mfa' });
  const target = targetProblemKind(mega.default_target.trim());
  if (target)
    put('mega.default_target', {
      key: `startBar.targetProblem.${target}`,
      values: { max: MAX_TARGET_LENGTH },
    });

  for (const d of DESTINATIONS) {
    if (d.kind === 'mega') continue;
    for (const o of d.options as readonly DestinationOption[]) {
      const name = `${d.kind}.${o.name}`;
      const value = (draft[d.kind][o.name] ?? '').trim();
      put(name, text(name, value));
      if (o.input === 'url' && value && !URL_RULE.test(value)) put(name, { key: 'fieldError.url' });
      if (o.input === 'target' && value && destinationTargetProblem(d.kind, value))
        put(name, { key: `fieldError.${d.kind}Target` });
    }
  }

  const uri = mongodb.uri.trim();
  if (uri !== view.mongodb.uri_redacted) {
    put('mongodb.uri', text('mongodb.uri', uri, 4096));
    if (!MONGO_RULE.test(uri)) put('mongodb.uri', { key: 'fieldError.mongoUri' });
  }

  const whole = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      put(name, { key: 'fieldError.integer', values: { min, max } });
  };
  whole('transfers.max_concurrent', transfers.max_concurrent, 1, view.transfers.max_concurrent_limit);
  whole('transfers.connections_per_file', transfers.connections_per_file, 1, 16);
  const bwlimit = transfers.bwlimit.trim();
  if (bwlimit && bwLimitProblem(bwlimit)) put('transfers.bwlimit', { key: 'fieldError.bwlimit' });
  // In the order of the form, so the first is the first bad field on screen.
  const order = Object.entries(draft).flatMap(([section, fields]) =>
    Object.keys(fields as object).map((field) => `${section}.${field}`),
  );
  return Object.fromEntries(order.flatMap((name) => (problems[name] ? [[name, problems[name]]] : [])));
}

/** The field a host's refusal names ("mega.email must be …" → "mega.email"), or null. */
export function fieldOfError(message: string): string | null {
  const m = /^(s3|mega|s4|local|mongodb|transfers)\.(\w+)/.exec(message);
  return m ? `${m[1]}.${m[2]}` : null;
}
