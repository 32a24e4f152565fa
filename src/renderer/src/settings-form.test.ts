import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../../shared/contract';
import {
  draftFromView,
  draftProblems,
  fieldOfError,
  hasChanges,
  needsSetup,
  patchFromDraft,
  sectionOfError,
} from './settings-form';

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
  s4: {
    endpoint: 'https://s3.eu-central-1.s4.mega.io',
    region: 'eu-central-1',
    access_key_id: '',
    has_secret_access_key: false,
    default_target: '',
  },
  local: { default_target: '' },
  mongodb: { uri_redacted: 'mongodb://u:***@db/x', store: 'mongodb' },
  transfers: {
    max_concurrent: 3,
    max_concurrent_limit: 5,
    connections_per_file: 4,
    max_files_per_batch: 50,
    bwlimit: '',
  },
  ui: { language: 'system' },
  locked: ['s3.endpoint'],
  secret_storage: 'keychain',
};

describe('settings form', () => {
  it('derives the destination sections from the registry: S4 keys and targets are checked, secrets sent only when typed', () => {
    const d = draftFromView(view);
    expect(d.s4).toEqual({
      endpoint: 'https://s3.eu-central-1.s4.mega.io',
      region: 'eu-central-1',
      access_key_id: '',
      secret_access_key: '',
      default_target: '',
    });
    expect(d.local).toEqual({ default_target: '' });
    const edited = {
      ...d,
      s4: { ...d.s4, access_key_id: ' AKS4 ', secret_access_key: ' s3cr et', default_target: 'Bad Bucket!' },
      local: { default_target: 'relative/path' },
    };
    expect(draftProblems(view, edited)).toEqual({
      's4.default_target': { key: 'fieldError.s4Target' },
      'local.default_target': { key: 'fieldError.localTarget' },
    });
    const fixed = {
      ...edited,
      s4: { ...edited.s4, default_target: 'archive/2024/' },
      local: { default_target: '/srv/a' },
    };
    expect(draftProblems(view, fixed)).toEqual({});
    expect(patchFromDraft(view, fixed)).toEqual({
      s4: { access_key_id: 'AKS4', secret_access_key: ' s3cr et', default_target: 'archive/2024/' },
      local: { default_target: '/srv/a' },
    });
    expect(sectionOfError('s4.endpoint must be …')).toBe('s4');
    expect(fieldOfError('local.default_target must be …')).toBe('local.default_target');
    expect(needsSetup({ ...view, mega: { ...view.mega, has_password: false } })).toBe(true);
    expect(
      needsSetup({
        ...view,
        mega: { ...view.mega, has_password: false },
        s4: { ...view.s4, access_key_id: 'AK', has_secret_access_key: true },
      }),
    ).toBe(false);
  });

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

describe('the form says every problem at once, by the host rules', () => {
  it('finds none in a valid draft, and none in fields the environment fixes', () => {
    expect(draftProblems(view, draftFromView(view))).toEqual({});
    const d = draftFromView(view);
    d.s3.endpoint = 'not a url';
    expect(draftProblems(view, d)).toEqual({}); // s3.endpoint is locked
  });

  it('names each bad field with its catalog text, in the order of the form', () => {
    const d = draftFromView({ ...view, locked: [] });
    d.s3.endpoint = 'ftp://files.example.com';
    d.s3.region = 'us-east-1\t';
    d.s3.default_bucket = 'Not a bucket!';
    d.mega.email = 'nobody';
    d.mega.mfa_code = '12';
    d.mega.default_target = '/a/../b';
    d.mongodb.uri = 'postgres://db';
    d.transfers.max_concurrent = '9';
    d.transfers.connections_per_file = '1.5';
    const problems = draftProblems({ ...view, locked: [] }, d);
    expect(problems).toEqual({
      's3.endpoint': { key: 'fieldError.url' },
      's3.region': { key: 'fieldError.controlChars' },
      's3.default_bucket': { key: 'fieldError.bucket' },
      'mega.email': { key: 'fieldError.email' },
      'mega.mfa_code': { key: 'fieldError.mfa' },
      'mega.default_target': { key: 'startBar.targetProblem.dot_segments', values: { max: 1024 } },
      'mongodb.uri': { key: 'fieldError.mongoUri' },
      'transfers.max_concurrent': { key: 'fieldError.integer', values: { min: 1, max: 5 } },
      'transfers.connections_per_file': { key: 'fieldError.integer', values: { min: 1, max: 16 } },
    });
    expect(Object.keys(problems)[0]).toBe('s3.endpoint');
  });

  it('asks for the password of a newly entered account, and the e-mail of a typed password', () => {
    const fresh: SettingsView = { ...view, mega: { email: '', has_password: false, default_target: '/' } };
    const d = draftFromView(fresh);
    d.mega.email = 'someone@example.com';
    expect(draftProblems(fresh, d)).toEqual({ 'mega.password': { key: 'fieldError.passwordMissing' } });
    d.mega.email = '';
    d.mega.password = 'secret';
    expect(draftProblems(fresh, d)).toEqual({ 'mega.email': { key: 'fieldError.emailMissing' } });
    // Where secrets come from the environment only, the password is not asked for here.
    const envOnly = { ...fresh, secret_storage: 'environment' as const };
    const e = draftFromView(envOnly);
    e.mega.email = 'someone@example.com';
    expect(draftProblems(envOnly, e)).toEqual({});
  });

  it('opens on the setup while no MEGA account is configured', () => {
    expect(needsSetup(view)).toBe(false);
    expect(needsSetup({ ...view, mega: { ...view.mega, has_password: false } })).toBe(true);
    expect(needsSetup({ ...view, mega: { ...view.mega, email: '' } })).toBe(true);
  });

  it('finds the field a refusal of the host names', () => {
    expect(fieldOfError('mega.password is set by the environment variable MEGA_PASSWORD')).toBe(
      'mega.password',
    );
    expect(fieldOfError('S3 denied access')).toBeNull();
  });
});
