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

export interface SettingsDraft {
  s3: {
    endpoint: string;
    region: string;
    profile: string;
    access_key_id: string;
    secret_access_key: string;
    force_path_style: boolean;
    default_bucket: string;
  };
  mega: { email: string; password: string; mfa_code: string; default_target: string };
  mongodb: { uri: string };
  transfers: { max_concurrent: string; connections_per_file: string; bwlimit: string };
}

export type SectionName = keyof SettingsDraft;

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
    mega: { email: view.mega.email, password: '', mfa_code: '', default_target: view.mega.default_target },
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
        put(section, field, field === 'password' || field === 'secret_access_key' ? value : value.trim());
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
  const m = /^(s3|mega|mongodb|transfers)\./.exec(message);
  return m ? (m[1] as SectionName) : null;
}

/** Nothing configured to send to yet: no MEGA account. The UI then opens on the short setup. */
export function needsSetup(view: SettingsView): boolean {
  return !view.mega.email || !view.mega.has_password;
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
  const { s3, mega, mongodb, transfers } = draft;
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
  const m = /^(s3|mega|mongodb|transfers)\.(\w+)/.exec(message);
  return m ? `${m[1]}.${m[2]}` : null;
}
