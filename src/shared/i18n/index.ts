/**
 * The one catalog of every user-visible text (UI, tray, notifications) and the i18next instances
 * built on it: the renderer's (with react-i18next) and the desktop shell's (plain). Pure: no DOM,
 * no Node, no electron.
 */
import i18next, { type i18n, type InitOptions, type TFunction } from 'i18next';
import { en } from './en';
import { zhHans } from './zh-Hans';
import { zhHant } from './zh-Hant';
import type { Language } from './languages';

export * from './languages';

export const catalogs = { en, 'zh-Hans': zhHans, 'zh-Hant': zhHant } as const satisfies Record<
  Language,
  object
>;

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: typeof en };
  }
}

export type Translate = TFunction<'translation'>;

/** The options every instance shares: the catalogs, English as the fallback, no HTML escaping. */
export function i18nOptions(language: Language): InitOptions {
  return {
    lng: language,
    fallbackLng: 'en',
    supportedLngs: Object.keys(catalogs),
    resources: Object.fromEntries(
      Object.entries(catalogs).map(([lng, translation]) => [lng, { translation }]),
    ),
    defaultNS: 'translation',
    // Texts go to React (which escapes) or to the OS (tray, notifications): never to HTML.
    interpolation: { escapeValue: false },
    returnNull: false,
    initAsync: false,
  };
}

/** A ready instance in `language`, with no React binding (the desktop shell, tests). */
export function createI18n(language: Language): i18n {
  const instance = i18next.createInstance();
  void instance.init(i18nOptions(language));
  return instance;
}

/** English, for code that texts something without a chosen language (tests, logs). */
export const englishT: Translate = createI18n('en').t;
