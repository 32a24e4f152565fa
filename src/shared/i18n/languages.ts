/**
 * The languages of the UI, the tray and the notifications, and how the system's locales choose
 * one: Chinese in Simplified script (mainland China, Singapore) or Traditional script (Taiwan,
 * Hong Kong, Macau), else English. Pure: no DOM, no Node, no electron.
 */

export const LANGUAGES = ['en', 'zh-Hans', 'zh-Hant'] as const;
export type Language = (typeof LANGUAGES)[number];

/** A setting's value: a language, or `system` to follow the operating system (or the browser). */
export const LANGUAGE_CHOICES = ['system', ...LANGUAGES] as const;
export type LanguageChoice = (typeof LANGUAGE_CHOICES)[number];

/** Each language's own name, as its readers write it (shown in that script in every language). */
export const LANGUAGE_NAMES: Record<Language, string> = {
  en: 'English',
  'zh-Hans': '简体中文',
  'zh-Hant': '繁體中文',
};

const SIMPLIFIED_REGIONS = new Set(['CN', 'SG', 'MY']);
const TRADITIONAL_REGIONS = new Set(['TW', 'HK', 'MO']);

/**
 * The language for one locale tag ("zh-TW", "zh_CN.UTF-8", "zh-Hant-HK", "en-GB"), or null when
 * it is none of ours. A script subtag wins over a region; Chinese without either is Simplified.
 */
export function languageOfLocale(tag: string): Language | null {
  const parts = tag.split('.')[0]!.replace(/_/g, '-').split('-').filter(Boolean);
  const base = parts[0]?.toLowerCase();
  if (base === 'en') return 'en';
  if (base !== 'zh') return null;
  const rest = parts.slice(1);
  const script = rest.find((p) => p.length === 4)?.toLowerCase();
  if (script === 'hans') return 'zh-Hans';
  if (script === 'hant') return 'zh-Hant';
  const region = rest.find((p) => p.length === 2)?.toUpperCase();
  if (region && TRADITIONAL_REGIONS.has(region)) return 'zh-Hant';
  if (region && SIMPLIFIED_REGIONS.has(region)) return 'zh-Hans';
  return 'zh-Hans';
}

/** The language for the system's preferred locales: the first that is one of ours, else English. */
export function languageOfLocales(locales: readonly string[]): Language {
  for (const tag of locales) {
    const language = languageOfLocale(tag);
    if (language) return language;
  }
  return 'en';
}

/**
 * A choice from text (a setting, MEGAFERRY_LANG): one of LANGUAGE_CHOICES in any case, or a
 * locale tag such as "zh-TW" (its language); null for anything else.
 */
export function languageChoiceOf(text: string | null | undefined): LanguageChoice | null {
  const raw = (text ?? '').trim();
  if (!raw) return null;
  const exact = LANGUAGE_CHOICES.find((c) => c.toLowerCase() === raw.toLowerCase());
  if (exact) return exact;
  return languageOfLocale(raw);
}

/** The language a choice means, given the system's preferred locales. */
export function resolveLanguage(choice: LanguageChoice, systemLocales: readonly string[]): Language {
  return choice === 'system' ? languageOfLocales(systemLocales) : choice;
}

const DEFAULT_FORMAT_LOCALE: Record<Language, string> = {
  en: 'en-US',
  'zh-Hans': 'zh-CN',
  'zh-Hant': 'zh-TW',
};

/**
 * The locale numbers and dates are formatted in (Intl): the system's own locale when it is of the
 * same language (so English in Britain writes dates the British way), else the language's usual one.
 */
export function formatLocale(language: Language, systemLocales: readonly string[]): string {
  for (const tag of systemLocales) {
    if (languageOfLocale(tag) !== language) continue;
    try {
      const [canonical] = Intl.getCanonicalLocales(tag.split('.')[0]!.replace(/_/g, '-'));
      if (canonical) return canonical;
    } catch {
      // not a valid BCP 47 tag: the language's usual locale
    }
  }
  return DEFAULT_FORMAT_LOCALE[language];
}
