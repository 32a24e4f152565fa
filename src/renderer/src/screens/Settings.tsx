/**
 * Settings: S3, MEGA, MongoDB and transfers, from getSettings. Secrets are write-only (the form
 * says whether one is set); fields fixed by environment variables are read-only. Each section has
 * a Test with the unsaved edits; Save sends only what changed.
 */
import { useEffect, useId, useState, type ReactNode } from 'react';
import type { ConnectionTestResult, SettingsView } from '../../../shared/contract';
import { api, errorText } from '../api';
import { useApp } from '../stores/app';
import { useBrowse } from '../stores/browse';
import { useSettings } from '../stores/settings';
import {
  draftFromView,
  hasChanges,
  patchFromDraft,
  sectionOfError,
  type SectionName,
  type SettingsDraft,
} from '../settings-form';

const SECRET_FIELDS = ['s3.secret_access_key', 'mega.password'];

interface FieldProps {
  section: SectionName;
  name: string;
  label: string;
  view: SettingsView;
  draft: SettingsDraft;
  onChange(section: SectionName, name: string, value: string | boolean): void;
  type?: 'text' | 'password' | 'number' | 'email' | 'checkbox';
  hint?: ReactNode;
  placeholder?: string;
  min?: number;
  max?: number;
  isSet?: boolean;
  autoComplete?: string;
}

function Field({
  section,
  name,
  label,
  view,
  draft,
  onChange,
  type = 'text',
  hint,
  placeholder,
  min,
  max,
  isSet,
  autoComplete,
}: FieldProps) {
  const id = useId();
  const dotted = `${section}.${name}`;
  const locked = view.locked.includes(dotted);
  const secret = SECRET_FIELDS.includes(dotted);
  const envOnly = secret && view.secret_storage === 'environment';
  const value = (draft[section] as Record<string, string | boolean>)[name];
  const notes: ReactNode[] = [];
  if (locked) notes.push('Set by environment variable.');
  else if (envOnly) notes.push('Set by environment variable only: this host does not store secrets.');
  if (secret && isSet !== undefined)
    notes.push(
      <span key="set" className={isSet ? 'pill pill--ok' : 'pill'}>
        {isSet ? 'set' : 'not set'}
      </span>,
    );
  if (secret && !locked && !envOnly) notes.push('Leave empty to keep the saved one.');
  if (hint) notes.push(hint);
  const describedBy = notes.length ? `${id}-note` : undefined;

  if (type === 'checkbox') {
    return (
      <div className="form-row form-row--check">
        <label className="check" htmlFor={id}>
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            disabled={locked}
            aria-describedby={describedBy}
            onChange={(e) => onChange(section, name, e.target.checked)}
          />
          <span>{label}</span>
        </label>
        {describedBy && (
          <div id={`${id}-note`} className="form-note">
            {notes.map((n, i) => (
              <span key={i}>{n} </span>
            ))}
          </div>
        )}
      </div>
    );
  }
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <div>
        <input
          id={id}
          type={type}
          value={String(value ?? '')}
          readOnly={locked}
          disabled={envOnly}
          placeholder={placeholder}
          min={min}
          max={max}
          spellCheck={false}
          autoComplete={autoComplete ?? (secret ? 'new-password' : 'off')}
          aria-describedby={describedBy}
          onChange={(e) => onChange(section, name, e.target.value)}
        />
        {describedBy && (
          <div id={`${id}-note`} className="form-note">
            {notes.map((n, i) => (
              <span key={i}>{n} </span>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

type TestState =
  { running: true } | { running: false; result: ConnectionTestResult } | { running: false; error: string };

function Section({
  id,
  title,
  description,
  testTarget,
  draftPatch,
  error,
  children,
}: {
  id: SectionName;
  title: string;
  description: string;
  testTarget?: 's3' | 'mega' | 'mongodb';
  draftPatch: Record<string, unknown>;
  error: string | null;
  children: ReactNode;
}) {
  const [test, setTest] = useState<TestState | null>(null);
  const runTest = async () => {
    if (!testTarget) return;
    setTest({ running: true });
    try {
      const section = draftPatch[testTarget];
      const result = await api().testConnection({
        target: testTarget,
        ...(section ? { draft: { [testTarget]: section } } : {}),
      });
      setTest({ running: false, result });
    } catch (err) {
      setTest({ running: false, error: errorText(err) });
    }
  };
  const headingId = `settings-${id}`;
  return (
    <section className="card settings-section" aria-labelledby={headingId}>
      <div className="settings-section__head">
        <div>
          <h2 id={headingId}>{title}</h2>
          <p className="muted small">{description}</p>
        </div>
        {testTarget && (
          <div className="test">
            <span className="test__result" role="status">
              {test?.running && 'Testing…'}
              {test && !test.running && 'result' in test && (
                <span className={test.result.ok ? 'text-ok' : 'text-bad'}>
                  {test.result.ok ? '✓ OK' : '✕ Failed'}: {test.result.message}
                </span>
              )}
              {test && !test.running && 'error' in test && (
                <span className="text-bad">✕ Failed: {test.error}</span>
              )}
            </span>
            <button
              type="button"
              className="button button--small"
              onClick={() => void runTest()}
              disabled={test?.running}
            >
              Test
            </button>
          </div>
        )}
      </div>
      <div className="form-grid">{children}</div>
      {error && (
        <p className="text-bad small" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function SettingsForm({ view }: { view: SettingsView }) {
  const setView = useSettings((s) => s.setView);
  const [draft, setDraft] = useState(() => draftFromView(view));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const patch = patchFromDraft(view, draft);
  const dirty = hasChanges(patch);
  const errorSection = error ? sectionOfError(error) : null;

  const onChange = (section: SectionName, name: string, value: string | boolean) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [section]: { ...d[section], [name]: value } }));
  };
  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      const next = await api().saveSettings(patch);
      setView(next);
      setDraft(draftFromView(next));
      setSaved(true);
      const browse = useBrowse.getState();
      if (!browse.targetTouched && next.mega.default_target)
        browse.setTarget(next.mega.default_target, false);
      useApp.getState().notify('ok', 'Settings saved.');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };
  const common = { view, draft, onChange };
  return (
    <form
      className="settings"
      aria-label="Settings"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <Section
        id="s3"
        title="S3"
        description="Amazon S3 or any S3-compatible store. Leave keys empty to use the AWS SDK's own chain."
        testTarget="s3"
        draftPatch={patch}
        error={errorSection === 's3' ? error : null}
      >
        <Field {...common} section="s3" name="endpoint" label="Endpoint" placeholder="empty for AWS" />
        <Field {...common} section="s3" name="region" label="Region" placeholder="us-east-1" />
        <Field {...common} section="s3" name="profile" label="Profile" placeholder="AWS profile, optional" />
        <Field {...common} section="s3" name="access_key_id" label="Access key ID" />
        <Field
          {...common}
          section="s3"
          name="secret_access_key"
          label="Secret access key"
          type="password"
          isSet={view.s3.has_secret_access_key}
        />
        <Field
          {...common}
          section="s3"
          name="force_path_style"
          label="Force path-style addressing"
          type="checkbox"
        />
        <Field {...common} section="s3" name="default_bucket" label="Default bucket" placeholder="optional" />
      </Section>
      <Section
        id="mega"
        title="MEGA"
        description="The account files are sent to."
        testTarget="mega"
        draftPatch={patch}
        error={errorSection === 'mega' ? error : null}
      >
        <Field {...common} section="mega" name="email" label="E-mail" type="email" autoComplete="username" />
        <Field
          {...common}
          section="mega"
          name="password"
          label="Password"
          type="password"
          isSet={view.mega.has_password}
        />
        <Field
          {...common}
          section="mega"
          name="mfa_code"
          label="2FA code"
          placeholder="6 digits, if the account uses 2FA"
          hint="Used for the next login only; never stored."
          autoComplete="one-time-code"
        />
        <Field
          {...common}
          section="mega"
          name="default_target"
          label="Default target folder"
          placeholder="/"
        />
      </Section>
      <Section
        id="mongodb"
        title="MongoDB"
        description={`Where the file documents are kept. Now: ${view.mongodb.store === 'mongodb' ? 'a MongoDB server' : 'the embedded store'}. A change applies at the next start.`}
        testTarget="mongodb"
        draftPatch={patch}
        error={errorSection === 'mongodb' ? error : null}
      >
        <Field
          {...common}
          section="mongodb"
          name="uri"
          label="Connection URI"
          placeholder="empty: embedded store"
          hint={
            view.mongodb.uri_redacted.includes('***')
              ? 'The password is hidden; type the whole URI to change it.'
              : undefined
          }
        />
      </Section>
      <Section
        id="transfers"
        title="Transfers"
        description="Defaults for new batches."
        draftPatch={patch}
        error={errorSection === 'transfers' ? error : null}
      >
        <Field
          {...common}
          section="transfers"
          name="max_concurrent"
          label="Files at once"
          type="number"
          min={1}
          max={view.transfers.max_concurrent_limit}
          hint={`1 to ${view.transfers.max_concurrent_limit}.`}
        />
        <Field
          {...common}
          section="transfers"
          name="connections_per_file"
          label="Connections per file"
          type="number"
          min={1}
          max={16}
          hint="1 to 16."
        />
      </Section>
      <div className="settings__actions">
        <div className="settings__message" aria-live="polite">
          {error && !errorSection && (
            <span className="text-bad" role="alert">
              {error}
            </span>
          )}
          {error && errorSection && (
            <span className="text-bad">
              Not saved: see the {errorSection === 's3' ? 'S3' : errorSection} section.
            </span>
          )}
          {!error && saved && <span className="text-ok">Saved.</span>}
          {!error && !saved && dirty && <span className="muted">Unsaved changes.</span>}
        </div>
        <button
          type="button"
          className="button button--ghost"
          disabled={!dirty || saving}
          onClick={() => {
            setDraft(draftFromView(view));
            setError(null);
          }}
        >
          Revert
        </button>
        <button type="submit" className="button button--primary" disabled={!dirty || saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

export function SettingsScreen() {
  const view = useSettings((s) => s.view);
  const loading = useSettings((s) => s.loading);
  const unavailable = useSettings((s) => s.unavailable);
  const error = useSettings((s) => s.error);
  const load = useSettings((s) => s.load);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <section className="screen" aria-labelledby="settings-title">
      <header className="screen__head">
        <h1 id="settings-title">Settings</h1>
      </header>
      <div className="screen__body screen__body--narrow">
        {unavailable && (
          <div className="banner banner--warn" role="status">
            This MegaFerry host does not offer settings. Configure it with environment variables (see{' '}
            <code>megaferry serve --help</code>) and restart it.
          </div>
        )}
        {error && (
          <div className="banner banner--error" role="alert">
            <span>Could not load the settings: {error}</span>
            <button type="button" className="button button--small" onClick={() => void load()}>
              Try again
            </button>
          </div>
        )}
        {!view && loading && <p className="muted">Loading settings…</p>}
        {view && <SettingsForm key={JSON.stringify(view)} view={view} />}
      </div>
    </section>
  );
}
