/**
 * The renderer's i18next instance (bound to React by react-i18next) and the language choice:
 * the setting's value, else the last one this browser saw (so a Chinese UI does not open in
 * English before the settings arrive), else the system's. A change applies at once: every
 * component that reads a text re-renders, and numbers and dates follow (format.ts).
 */
import i18next, { type i18n as I18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import {
  formatLocale,
  i18nOptions,
  languageChoiceOf,
  resolveLanguage,
  type Language,
  type LanguageChoice,
} from '../../shared/i18n';

const CHOICE_KEY = 'megaferry.language';

/** The browser's (or Electron's: the system's) preferred locales, best first. */
export function systemLocales(): readonly string[] {
  if (typeof navigator === 'undefined') return [];
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

function savedChoice(): LanguageChoice {
  try {
    return languageChoiceOf(localStorage.getItem(CHOICE_KEY)) ?? 'system';
  } catch {
    return 'system';
  }
}

let choice: LanguageChoice = savedChoice();

export const i18n: I18n = i18next.createInstance();
void i18n.use(initReactI18next).init({
  ...i18nOptions(resolveLanguage(choice, systemLocales())),
  react: { useSuspense: false },
});
setDocumentLanguage();

function setDocumentLanguage(): void {
  if (typeof document !== 'undefined') document.documentElement.lang = currentLanguage();
}

/** The language texts are shown in now. */
export function currentLanguage(): Language {
  return resolveLanguage(choice, systemLocales());
}

/** The locale numbers and dates are formatted in now. */
export function currentFormatLocale(): string {
  return formatLocale(currentLanguage(), systemLocales());
}

/** The choice in force (the setting's value once known). */
export function currentChoice(): LanguageChoice {
  return choice;
}

/** Applies a choice now (from the settings, or `system` when the system's language changes). */
export function applyLanguageChoice(next: LanguageChoice): void {
  choice = next;
  try {
    if (next === 'system') localStorage.removeItem(CHOICE_KEY);
    else localStorage.setItem(CHOICE_KEY, next);
  } catch {
    // storage unavailable: the choice lasts for this page
  }
  const language = currentLanguage();
  setDocumentLanguage();
  if (i18n.language !== language) void i18n.changeLanguage(language);
}

// The system's language can change while the app runs (the browser's preference, say).
if (typeof window !== 'undefined')
  window.addEventListener('languagechange', () => applyLanguageChoice(choice));
