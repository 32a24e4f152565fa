/**
 * Settings: S3, MEGA, MongoDB and transfers, from getSettings. Secrets are write-only (the form
 * says whether one is set); fields fixed by environment variables are read-only. Each section has
 * a Test with the unsaved edits; Save sends only what changed.
 */
import { useEffect, useId, useState, type ReactNode } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import type { ConnectionTestResult, SettingsView } from '../../../shared/contract';
import {
  LANGUAGES,
  LANGUAGE_NAMES,
  languageChoiceOf,
  languageOfLocales,
  type LanguageChoice,
} from '../../../shared/i18n';
import { api, errorText } from '../api';
import { applyLanguageChoice, systemLocales } from '../i18n';
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
  const { t } = useTranslation();
  const id = useId();
  const dotted = `${section}.${name}`;
  const locked = view.locked.includes(dotted);
  const secret = SECRET_FIELDS.includes(dotted);
  const envOnly = secret && view.secret_storage === 'environment';
  const value = (draft[section] as Record<string, string | boolean>)[name];
  const notes: ReactNode[] = [];
  if (locked) notes.push(t('settings.envLocked'));
  else if (envOnly) notes.push(t('settings.envOnly'));
  if (secret && isSet !== undefined)
    notes.push(
      <span key="set" className={isSet ? 'pill pill--ok' : 'pill'}>
        {isSet ? t('settings.isSet') : t('settings.notSet')}
      </span>,
    );
  if (secret && !locked && !envOnly) notes.push(t('settings.keepSecret'));
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
  const { t } = useTranslation();
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
              {test?.running && t('settings.testing')}
              {test && !test.running && 'result' in test && (
                <span className={test.result.ok ? 'text-ok' : 'text-bad'}>
                  {test.result.ok
                    ? t('settings.testOk', { message: test.result.message })
                    : t('settings.testFailed', { message: test.result.message })}
                </span>
              )}
              {test && !test.running && 'error' in test && (
                <span className="text-bad">{t('settings.testFailed', { message: test.error })}</span>
              )}
            </span>
            <button
              type="button"
              className="button button--small"
              onClick={() => void runTest()}
              disabled={test?.running}
            >
              {t('settings.test')}
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
  const { t } = useTranslation();
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
      useApp.getState().notify('ok', t('settings.savedNotice'));
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
      aria-label={t('settings.formLabel')}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <Section
        id="s3"
        title={t('settings.s3.title')}
        description={t('settings.s3.description')}
        testTarget="s3"
        draftPatch={patch}
        error={errorSection === 's3' ? error : null}
      >
        <Field
          {...common}
          section="s3"
          name="endpoint"
          label={t('settings.s3.endpoint')}
          placeholder={t('settings.s3.endpointPlaceholder')}
        />
        <Field
          {...common}
          section="s3"
          name="region"
          label={t('settings.s3.region')}
          placeholder={t('settings.s3.regionPlaceholder')}
        />
        <Field
          {...common}
          section="s3"
          name="profile"
          label={t('settings.s3.profile')}
          placeholder={t('settings.s3.profilePlaceholder')}
        />
        <Field {...common} section="s3" name="access_key_id" label={t('settings.s3.accessKeyId')} />
        <Field
          {...common}
          section="s3"
          name="secret_access_key"
          label={t('settings.s3.secretAccessKey')}
          type="password"
          isSet={view.s3.has_secret_access_key}
        />
        <Field
          {...common}
          section="s3"
          name="force_path_style"
          label={t('settings.s3.forcePathStyle')}
          type="checkbox"
        />
        <Field
          {...common}
          section="s3"
          name="default_bucket"
          label={t('settings.s3.defaultBucket')}
          placeholder={t('settings.s3.optional')}
        />
      </Section>
      <Section
        id="mega"
        title={t('settings.mega.title')}
        description={t('settings.mega.description')}
        testTarget="mega"
        draftPatch={patch}
        error={errorSection === 'mega' ? error : null}
      >
        <Field
          {...common}
          section="mega"
          name="email"
          label={t('settings.mega.email')}
          type="email"
          autoComplete="username"
        />
        <Field
          {...common}
          section="mega"
          name="password"
          label={t('settings.mega.password')}
          type="password"
          isSet={view.mega.has_password}
        />
        <Field
          {...common}
          section="mega"
          name="mfa_code"
          label={t('settings.mega.mfaCode')}
          placeholder={t('settings.mega.mfaPlaceholder')}
          hint={t('settings.mega.mfaHint')}
          autoComplete="one-time-code"
        />
        <Field
          {...common}
          section="mega"
          name="default_target"
          label={t('settings.mega.defaultTarget')}
          placeholder="/"
        />
      </Section>
      <Section
        id="mongodb"
        title={t('settings.mongodb.title')}
        description={
          view.mongodb.store === 'mongodb'
            ? t('settings.mongodb.descriptionServer')
            : t('settings.mongodb.descriptionEmbedded')
        }
        testTarget="mongodb"
        draftPatch={patch}
        error={errorSection === 'mongodb' ? error : null}
      >
        <Field
          {...common}
          section="mongodb"
          name="uri"
          label={t('settings.mongodb.uri')}
          placeholder={t('settings.mongodb.uriPlaceholder')}
          hint={view.mongodb.uri_redacted.includes('***') ? t('settings.mongodb.uriHint') : undefined}
        />
      </Section>
      <Section
        id="transfers"
        title={t('settings.transfers.title')}
        description={t('settings.transfers.description')}
        draftPatch={patch}
        error={errorSection === 'transfers' ? error : null}
      >
        <Field
          {...common}
          section="transfers"
          name="max_concurrent"
          label={t('settings.transfers.maxConcurrent')}
          type="number"
          min={1}
          max={view.transfers.max_concurrent_limit}
          hint={t('settings.transfers.maxConcurrentHint', { max: view.transfers.max_concurrent_limit })}
        />
        <Field
          {...common}
          section="transfers"
          name="connections_per_file"
          label={t('settings.transfers.connectionsPerFile')}
          type="number"
          min={1}
          max={16}
          hint={t('settings.transfers.connectionsHint', { max: 16 })}
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
              {t('settings.notSaved', { section: t(`settings.${errorSection}.title`) })}
            </span>
          )}
          {!error && saved && <span className="text-ok">{t('settings.saved')}</span>}
          {!error && !saved && dirty && <span className="muted">{t('settings.unsaved')}</span>}
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
          {t('settings.revert')}
        </button>
        <button type="submit" className="button button--primary" disabled={!dirty || saving}>
          {saving ? t('settings.saving') : t('settings.save')}
        </button>
      </div>
    </form>
  );
}

/**
 * The language: applied at once on choosing (before the round trip), then saved with the other
 * settings; read-only when MEGAFERRY_LANG fixes it.
 */
function LanguageSection({ view }: { view: SettingsView }) {
  const { t } = useTranslation();
  const id = useId();
  const setView = useSettings((s) => s.setView);
  const [value, setValue] = useState<LanguageChoice>(view.ui.language);
  const [state, setState] = useState<'idle' | 'saving' | 'saved' | { error: string }>('idle');
  const locked = view.locked.includes('ui.language');
  const systemLanguage = LANGUAGE_NAMES[languageOfLocales(systemLocales())];
  useEffect(() => setValue(view.ui.language), [view.ui.language]);

  const choose = async (next: LanguageChoice) => {
    setValue(next);
    applyLanguageChoice(next);
    setState('saving');
    try {
      setView(await api().saveSettings({ ui: { language: next } }));
      setState('saved');
    } catch (err) {
      setValue(view.ui.language);
      applyLanguageChoice(view.ui.language);
      setState({ error: errorText(err) });
    }
  };
  const noteId = `${id}-note`;
  return (
    <section className="card settings-section" aria-labelledby="settings-ui">
      <div className="settings-section__head">
        <div>
          <h2 id="settings-ui">{t('settings.language.title')}</h2>
          <p className="muted small">{t('settings.language.description')}</p>
        </div>
      </div>
      <div className="form-grid">
        <div className="form-row">
          <label htmlFor={id}>{t('settings.language.label')}</label>
          <div>
            <select
              id={id}
              value={value}
              disabled={locked || state === 'saving'}
              aria-describedby={noteId}
              onChange={(e) => {
                const next = languageChoiceOf(e.target.value);
                if (next) void choose(next);
              }}
            >
              <option value="system">{t('settings.language.system', { language: systemLanguage })}</option>
              {LANGUAGES.map((language) => (
                <option key={language} value={language} lang={language}>
                  {LANGUAGE_NAMES[language]}
                </option>
              ))}
            </select>
            <div id={noteId} className="form-note" aria-live="polite">
              {locked && <span>{t('settings.language.locked')}</span>}
              {state === 'saving' && <span className="muted">{t('settings.language.saving')}</span>}
              {state === 'saved' && <span className="text-ok">{t('settings.language.saved')}</span>}
              {typeof state === 'object' && (
                <span className="text-bad" role="alert">
                  {t('settings.language.failed', { error: state.error })}
                </span>
              )}
            </div>
          </div>
        </div>
      </div>
    </section>
  );
}

export function SettingsScreen() {
  const { t } = useTranslation();
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
        <h1 id="settings-title">{t('settings.title')}</h1>
      </header>
      <div className="screen__body screen__body--narrow">
        {unavailable && (
          <div className="banner banner--warn" role="status">
            <Trans i18nKey="settings.unavailable" components={{ code: <code /> }} />
          </div>
        )}
        {error && (
          <div className="banner banner--error" role="alert">
            <span>{t('settings.loadError', { error })}</span>
            <button type="button" className="button button--small" onClick={() => void load()}>
              {t('settings.tryAgain')}
            </button>
          </div>
        )}
        {!view && loading && <p className="muted">{t('settings.loading')}</p>}
        {view && <LanguageSection view={view} />}
        {/* The form starts again from a new view, but not for a change of language alone. */}
        {view && <SettingsForm key={JSON.stringify({ ...view, ui: null })} view={view} />}
      </div>
    </section>
  );
}
