/** The system's locales to our three languages, and the choices a setting or MEGAFERRY_LANG takes. */
import { describe, expect, it } from 'vitest';
import { formatLocale, languageChoiceOf, languageOfLocales, resolveLanguage } from './languages';

describe('the language of the system', () => {
  it.each([
    [['zh-CN'], 'zh-Hans'],
    [['zh-SG'], 'zh-Hans'],
    [['zh-Hans'], 'zh-Hans'],
    [['zh'], 'zh-Hans'],
    [['zh_CN.UTF-8'], 'zh-Hans'],
    [['zh-TW'], 'zh-Hant'],
    [['zh-HK'], 'zh-Hant'],
    [['zh-MO'], 'zh-Hant'],
    [['zh-Hant'], 'zh-Hant'],
    [['zh-Hant-CN'], 'zh-Hant'],
    [['zh_TW.UTF-8'], 'zh-Hant'],
    [['en-GB'], 'en'],
    [['fr-FR', 'zh-TW'], 'zh-Hant'],
    [['fr-FR', 'de'], 'en'],
    [[], 'en'],
  ] as const)('%j → %s', (locales, language) => {
    expect(languageOfLocales(locales)).toBe(language);
  });

  it('reads a choice from a setting or MEGAFERRY_LANG', () => {
    expect(languageChoiceOf('zh-hant')).toBe('zh-Hant');
    expect(languageChoiceOf('System')).toBe('system');
    expect(languageChoiceOf('zh_HK.UTF-8')).toBe('zh-Hant');
    expect(languageChoiceOf('en-US')).toBe('en');
    expect(languageChoiceOf('fr')).toBeNull();
    expect(languageChoiceOf('')).toBeNull();
    expect(resolveLanguage('system', ['zh-SG'])).toBe('zh-Hans');
    expect(resolveLanguage('en', ['zh-SG'])).toBe('en');
  });

  it("formats in the system's own locale when it is of the same language", () => {
    expect(formatLocale('en', ['en-GB', 'zh-TW'])).toBe('en-GB');
    expect(formatLocale('zh-Hant', ['en-GB', 'zh-HK'])).toBe('zh-HK');
    expect(formatLocale('zh-Hans', ['en-GB'])).toBe('zh-CN');
    expect(formatLocale('en', [])).toBe('en-US');
  });
});
