/**
 * The Settings form's model: a draft built from the SettingsView and the patch of what changed.
 * Secrets start empty and are sent only when typed into. Pure.
 */
import type { SettingsPatch, SettingsView } from '../../shared/contract';

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
  transfers: { max_concurrent: string; connections_per_file: string };
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
      if (section === 'transfers') put(section, field, toNumber(String(value)));
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
