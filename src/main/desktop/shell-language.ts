/**
 * The desktop shell's language (tray menu and tooltip, notifications): a plain i18next instance on
 * the shared catalog, following the `ui.language` setting (`system`: the OS's preferred languages).
 * It learns a new choice from every settings view the service returns, so a change made in the
 * window's Settings reaches the tray at once. Pure: no electron (the OS languages are passed in).
 */
import type { i18n as I18n } from 'i18next';
import type { FerryApi } from '../../shared/api';
import {
  createI18n,
  languageChoiceOf,
  resolveLanguage,
  type Language,
  type LanguageChoice,
  type Translate,
} from '../../shared/i18n';
import type { ApiTarget } from './ipc-dispatch';

export class ShellLanguage {
  private choice: LanguageChoice;
  private readonly i18n: I18n;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly systemLocales: () => readonly string[],
    initial: string | undefined,
  ) {
    this.choice = languageChoiceOf(initial) ?? 'system';
    this.i18n = createI18n(this.language);
  }

  get language(): Language {
    return resolveLanguage(this.choice, this.systemLocales());
  }

  /** Texts in the current language (the instance's own `t`: it follows changeLanguage). */
  get t(): Translate {
    return this.i18n.t;
  }

  /** Takes a choice (a setting's value); listeners hear of it when the language changes. */
  apply(choice: LanguageChoice): void {
    this.choice = choice;
    const language = this.language;
    if (this.i18n.language === language) return;
    void this.i18n.changeLanguage(language);
    for (const listener of this.listeners) listener();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The service as the window's IPC sees it, with every settings view it returns (get or save)
   * applied to the shell's language on the way.
   */
  watchSettings(service: ApiTarget): ApiTarget {
    const follow = <T extends { ui: { language: LanguageChoice } }>(view: T): T => {
      this.apply(view.ui.language);
      return view;
    };
    const getSettings: FerryApi['getSettings'] = () => service.getSettings().then(follow);
    const saveSettings: FerryApi['saveSettings'] = (patch) => service.saveSettings(patch).then(follow);
    return new Proxy(service, {
      get(target, property, receiver) {
        if (property === 'getSettings') return getSettings;
        if (property === 'saveSettings') return saveSettings;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}
