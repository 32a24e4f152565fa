/**
 * Settings: S3, each destination of the registry (MEGA, MEGA S4, a local folder: sections derived
 * from their declared options), MongoDB and transfers, from getSettings. Secrets are write-only (the form
 * says whether one is set); fields fixed by environment variables are read-only. Each section has
 * a Test with the unsaved edits; Save checks every field first by the host's own rules and says
 * each problem beside its field, all at once, in the UI's language; it sends only what changed.
 * With nothing configured yet (no MEGA account) a short setup leads the way.
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
  draftProblems,
  fieldOfError,
  hasChanges,
  isSecretField,
  needsSetup,
  optionsOf,
  patchFromDraft,
  sectionOfError,
  type FieldProblem,
  type FieldProblems,
  type SectionName,
  type SettingsDraft,
} from '../settings-form';
import { useOffline } from '../stores/app';
import {
  DESTINATIONS,
  type DestinationKind,
  type DestinationOption,
  declarationOf,
} from '../../../shared/destinations';
import { sourceProblemOf, type SourceProblem } from '../../../shared/source-problems';

/** `access_key_id` → `accessKeyId`: an option's name as its catalog key. */
function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** How a declared option is entered: its input type, placeholder, hint, and whether a secret is set. */
function optionFieldProps(
  kind: DestinationKind,
  option: DestinationOption,
  view: SettingsView,
  t: TFunction,
): Partial<FieldProps> {
  const shown = view[kind] as Record<string, string | boolean>;
  switch (option.input) {
    case 'email':
      return { type: 'email', autoComplete: 'username' };
    case 'secret':
      return { type: 'password', isSet: shown[`has_${option.name}`] === true };
    case 'one_time':
      return {
        placeholder: t('settings.mega.mfaPlaceholder'),
        hint: t('settings.mega.mfaHint'),
        autoComplete: 'one-time-code',
      };
    case 'target':
      return { placeholder: declarationOf(kind).targetExample };
    default:
      return option.default ? { placeholder: option.default } : {};
  }
}

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
  /** What is wrong with the value, said beside the field. */
  problem?: FieldProblem;
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
  problem,
}: FieldProps) {
  const { t } = useTranslation();
  const id = useId();
  const dotted = `${section}.${name}`;
  const locked = view.locked.includes(dotted);
  const secret = isSecretField(section, name);
  const envOnly = secret && view.secret_storage === 'environment';
  const errorId = `${id}-error`;
  const errorText = problem ? String(t(problem.key as never, problem.values as never)) : null;
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
  if (secret && !locked && view.secret_storage === 'key_file') notes.push(t('secretStorage.keyFile'));
  if (secret && !locked && view.secret_storage === 'env_key') notes.push(t('secretStorage.envKey'));
  if (hint) notes.push(hint);
  const describedBy =
    [errorText ? errorId : '', notes.length ? `${id}-note` : ''].filter(Boolean).join(' ') || undefined;
  const error = errorText ? (
    <div id={errorId} className="field-error">
      {errorText}
    </div>
  ) : null;

  if (type === 'checkbox') {
    return (
      <div className="form-row form-row--check">
        <label className="check" htmlFor={id}>
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            disabled={locked}
            aria-invalid={errorText ? true : undefined}
            aria-describedby={describedBy}
            onChange={(e) => onChange(section, name, e.target.checked)}
          />
          <span>{label}</span>
        </label>
        {error}
        {notes.length > 0 && (
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
    <div className={`form-row${errorText ? ' has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <div>
        <input
          id={id}
          name={dotted}
          type={type}
          value={String(value ?? '')}
          readOnly={locked}
          disabled={envOnly}
          placeholder={placeholder}
          min={min}
          max={max}
          spellCheck={false}
          autoComplete={autoComplete ?? (secret ? 'new-password' : 'off')}
          aria-invalid={errorText ? true : undefined}
          aria-describedby={describedBy}
          onChange={(e) => onChange(section, name, e.target.value)}
        />
        {error}
        {notes.length > 0 && (
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
  testTarget?: ConnectionTestResult['target'];
  draftPatch: Record<string, unknown>;
  error: string | null;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const offline = useOffline();
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
      const problem = sourceProblemOf(err);
      setTest({ running: false, error: problem ? t(`s3Problem.${problem}`, { what: '' }) : errorText(err) });
    }
  };
  const headingId = `settings-${id}`;
  return (
    <section className="card settings-section" aria-labelledby={headingId} id={`section-${id}`}>
      <div className="settings-section__head">
        <div>
          <h2 id={headingId} tabIndex={-1}>
            {title}
          </h2>
          <p className="muted small">{description}</p>
        </div>
        {testTarget && (
          <div className="test">
            <span className="test__result" role="status">
              {test?.running && t('settings.testing')}
              {test && !test.running && 'result' in test && (
                <span className={test.result.ok ? 'text-ok' : 'text-bad'}>
                  {test.result.ok
                    ? t('settings.testOk', { message: testMessage(test.result, t) })
                    : t('settings.testFailed', { message: testMessage(test.result, t) })}
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
              disabled={test?.running || offline}
              aria-label={t('settingsTest.button', { section: title })}
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

type TFunction = ReturnType<typeof useTranslation>['t'];

/** A Test's result in the UI's language: S3 from its kinds, the others as the host said it. */
function testMessage(result: ConnectionTestResult, t: TFunction): string {
  const s3 = result.s3;
  if (result.target !== 's3' || !s3) return result.message;
  const problemText = (problem: SourceProblem, what: string) =>
    problem === 'access_denied' && !what
      ? t('s3Problem.access_denied_list')
      : t(`s3Problem.${problem}`, { what });
  const parts: string[] = [];
  const bucket = s3.default_bucket;
  if (s3.buckets !== null) parts.push(t('settingsTest.buckets', { count: s3.buckets }));
  else if (s3.problem === 'access_denied' && bucket?.ok) parts.push(t('settingsTest.noList'));
  else if (s3.problem) parts.push(problemText(s3.problem, ''));
  else parts.push(result.message);
  if (bucket) {
    if (bucket.ok) parts.push(t('settingsTest.bucketOk', { bucket: bucket.name }));
    else if (bucket.problem && bucket.problem !== s3.problem)
      parts.push(
        t('settingsTest.bucketFailed', {
          bucket: bucket.name,
          reason: problemText(bucket.problem, bucket.name),
        }),
      );
  }
  return parts.join(t('settingsTest.joiner'));
}

/** The first-run guide: three steps with a way to each section, and the sandbox for those without accounts. */
function SetupGuide() {
  const { t } = useTranslation();
  const go = (section: SectionName) => {
    const heading = document.getElementById(`settings-${section}`);
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus();
  };
  const steps: { id: SectionName; text: string; title: string }[] = [
    { id: 's3', text: 'setup.s3', title: t('settings.s3.title') },
    { id: 'mega', text: 'setup.mega', title: t('settings.mega.title') },
    { id: 'mongodb', text: 'setup.store', title: t('settings.mongodb.title') },
  ];
  return (
    <section className="card setup" aria-labelledby="setup-title">
      <h2 id="setup-title">{t('setup.title')}</h2>
      <p>{t('setup.intro')}</p>
      <ol className="setup__steps">
        {steps.map((step) => (
          <li key={step.id}>
            <span>
              <Trans i18nKey={step.text as never} components={{ b: <b /> }} />
            </span>
            <button type="button" className="button button--small button--ghost" onClick={() => go(step.id)}>
              {t('setup.goTo', { section: step.title })}
            </button>
          </li>
        ))}
      </ol>
      <p className="setup__demo">
        <Trans i18nKey="setup.demo" components={{ code: <code /> }} />
      </p>
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
  /** Problems are shown once Save was pressed, then follow every edit. */
  const [checked, setChecked] = useState(false);
  const offline = useOffline();
  const patch = patchFromDraft(view, draft);
  const dirty = hasChanges(patch);
  const problems: FieldProblems = checked ? draftProblems(view, draft) : {};
  // A refusal of the host that names a field is said beside it, with the others.
  const errorField = error ? fieldOfError(error) : null;
  if (error && errorField && !problems[errorField])
    problems[errorField] = { key: 'fieldError.server', values: { error } };
  const problemCount = Object.keys(problems).length;
  const errorSection = error && !errorField ? sectionOfError(error) : null;
  const problemOf = (section: SectionName, name: string) => problems[`${section}.${name}`];

  const onChange = (section: SectionName, name: string, value: string | boolean) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [section]: { ...d[section], [name]: value } }));
  };
  const save = async () => {
    setError(null);
    setChecked(true);
    const found = draftProblems(view, draft);
    const first = Object.keys(found)[0];
    if (first) {
      // Every problem is on screen now; the first field takes the focus.
      document.querySelector<HTMLElement>(`[name="${first}"]`)?.focus();
      return;
    }
    setSaving(true);
    try {
      const next = await api().saveSettings(patch);
      setView(next);
      setDraft(draftFromView(next));
      setSaved(true);
      setChecked(false);
      const browse = useBrowse.getState();
      if (!browse.targetTouched && next[browse.destination].default_target)
        browse.setTarget(next[browse.destination].default_target, false);
      useApp.getState().notify('ok', t('settings.savedNotice'));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };
  const common = { view, draft, onChange };
  const field = (section: SectionName, name: string) => ({
    ...common,
    section,
    name,
    problem: problemOf(section, name),
  });
  return (
    <form
      className="settings"
      aria-label={t('settings.formLabel')}
      // The form checks every field itself and says each problem in the UI's language.
      noValidate
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
          {...field('s3', 'endpoint')}
          label={t('settings.s3.endpoint')}
          placeholder={t('settings.s3.endpointPlaceholder')}
        />
        <Field
          {...field('s3', 'region')}
          label={t('settings.s3.region')}
          placeholder={t('settings.s3.regionPlaceholder')}
        />
        <Field
          {...field('s3', 'profile')}
          label={t('settings.s3.profile')}
          placeholder={t('settings.s3.profilePlaceholder')}
        />
        <Field {...field('s3', 'access_key_id')} label={t('settings.s3.accessKeyId')} />
        <Field
          {...field('s3', 'secret_access_key')}
          label={t('settings.s3.secretAccessKey')}
          type="password"
          isSet={view.s3.has_secret_access_key}
        />
        <Field {...field('s3', 'force_path_style')} label={t('settings.s3.forcePathStyle')} type="checkbox" />
        <Field
          {...field('s3', 'default_bucket')}
          label={t('settings.s3.defaultBucket')}
          placeholder={t('settings.s3.optional')}
        />
      </Section>
      {DESTINATIONS.map((d) => (
        <Section
          key={d.kind}
          id={d.kind}
          title={t(`settings.${d.kind}.title`)}
          description={t(`settings.${d.kind}.description`)}
          testTarget={d.kind}
          draftPatch={patch}
          error={errorSection === d.kind ? error : null}
        >
          {optionsOf(d.kind).map((o) => (
            <Field
              key={o.name}
              {...field(d.kind, o.name)}
              label={t(`settings.${d.kind}.${camel(o.name)}` as never)}
              {...optionFieldProps(d.kind, o, view, t)}
            />
          ))}
        </Section>
      ))}
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
          {...field('mongodb', 'uri')}
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
          {...field('transfers', 'max_concurrent')}
          label={t('settings.transfers.maxConcurrent')}
          type="number"
          min={1}
          max={view.transfers.max_concurrent_limit}
          hint={t('settings.transfers.maxConcurrentHint', { max: view.transfers.max_concurrent_limit })}
        />
        <Field
          {...field('transfers', 'connections_per_file')}
          label={t('settings.transfers.connectionsPerFile')}
          type="number"
          min={1}
          max={16}
          hint={t('settings.transfers.connectionsHint', { max: 16 })}
        />
        <Field
          {...field('transfers', 'bwlimit')}
          label={t('settings.transfers.bwlimit')}
          placeholder={t('settings.transfers.bwlimitPlaceholder')}
          hint={t('settings.transfers.bwlimitHint')}
        />
      </Section>
      <div className="settings__actions">
        <div className="settings__message" aria-live="polite">
          {problemCount > 0 && (
            <span className="text-bad" role="alert">
              {t('fieldError.summary', { count: problemCount })}
            </span>
          )}
          {error && !errorField && !errorSection && (
            <span className="text-bad" role="alert">
              {error}
            </span>
          )}
          {error && !errorField && errorSection && (
            <span className="text-bad">
              {t('settings.notSaved', { section: t(`settings.${errorSection}.title`) })}
            </span>
          )}
          {!error && problemCount === 0 && saved && <span className="text-ok">{t('settings.saved')}</span>}
          {!error && problemCount === 0 && !saved && dirty && (
            <span className="muted">{t('settings.unsaved')}</span>
          )}
        </div>
        <button
          type="button"
          className="button button--ghost"
          disabled={!dirty || saving}
          onClick={() => {
            setDraft(draftFromView(view));
            setError(null);
            setChecked(false);
          }}
        >
          {t('settings.revert')}
        </button>
        <button type="submit" className="button button--primary" disabled={!dirty || saving || offline}>
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
        {view && needsSetup(view) && <SetupGuide />}
        {view && <LanguageSection view={view} />}
        {/* The form starts again from a new view, but not for a change of language alone. */}
        {view && <SettingsForm key={JSON.stringify({ ...view, ui: null })} view={view} />}
      </div>
    </section>
  );
}
