import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../../shared/contract';
import { draftFromView, hasChanges, patchFromDraft, sectionOfError } from './settings-form';

const view: SettingsView = {
  s3: {
    endpoint: 'http://127.0.0.1:4568',
    region: 'us-east-1',
    profile: '',
    access_key_id: 'AK',
    has_secret_access_key: true,
    force_path_style: true,
    default_bucket: 'media',
  },
  mega: { email: 'a@b.c', has_password: true, default_target: '/Backup' },
  mongodb: { uri_redacted: 'mongodb://u:***@db/x', store: 'mongodb' },
  transfers: { max_concurrent: 3, max_concurrent_limit: 5, connections_per_file: 4, max_files_per_batch: 50 },
  ui: { language: 'system' },
  locked: ['s3.endpoint'],
  secret_storage: 'keychain',
};

describe('settings form', () => {
  it('starts with empty secrets and no changes', () => {
    const d = draftFromView(view);
    expect(d.s3.secret_access_key).toBe('');
    expect(d.mega.password).toBe('');
    expect(hasChanges(patchFromDraft(view, d))).toBe(false);
  });
  it('sends only what changed, numbers as numbers, secrets only when typed', () => {
    const d = draftFromView(view);
    d.s3.region = ' eu-west-1 ';
    d.mega.password = ' p w ';
    d.transfers.max_concurrent = '5';
    d.s3.force_path_style = false;
    expect(patchFromDraft(view, d)).toEqual({
      s3: { region: 'eu-west-1', force_path_style: false },
      mega: { password: ' p w ' },
      transfers: { max_concurrent: 5 },
    });
  });
  it('never sends locked fields, and the redacted URI only when edited', () => {
    const d = draftFromView(view);
    d.s3.endpoint = 'http://elsewhere';
    expect(hasChanges(patchFromDraft(view, d))).toBe(false);
    d.mongodb.uri = '';
    expect(patchFromDraft(view, d)).toEqual({ mongodb: { uri: '' } });
  });
  it('finds the section an error names', () => {
    expect(sectionOfError('mega.mfa_code must be …')).toBe('mega');
    expect(sectionOfError('something else')).toBeNull();
  });
});
