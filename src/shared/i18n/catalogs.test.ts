/**
 * The three catalogs hold the same texts: every key in each (plural forms apart, as each
 * language needs its own), the same interpolation variables and the same markup tags; each
 * Chinese catalog is translated (not English left over) and written in its own script, with
 * Taiwan/Hong Kong vocabulary in Traditional rather than a character conversion of Simplified.
 */
import { describe, expect, it } from 'vitest';
import { catalogs, createI18n, LANGUAGES, type Language } from '.';
import type { CatalogTree } from './en';

const PLURAL = /_(zero|one|two|few|many|other)$/;

function flatten(tree: CatalogTree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

/** Per key without its plural suffix: the variables and tags of all its forms, and the forms. */
function shape(language: Language) {
  const keys = new Map<string, { variables: Set<string>; tags: Set<string>; forms: Set<string> }>();
  for (const [key, text] of flatten(catalogs[language] as CatalogTree)) {
    const base = key.replace(PLURAL, '');
    const entry = keys.get(base) ?? { variables: new Set(), tags: new Set(), forms: new Set() };
    for (const m of text.matchAll(/\{\{\s*([\w.]+)\s*(?:,[^}]*)?\}\}/g)) entry.variables.add(m[1]!);
    for (const m of text.matchAll(/<\/?([a-z]+)\s*\/?>/g)) entry.tags.add(m[1]!);
    const form = PLURAL.exec(key)?.[1];
    if (form) entry.forms.add(form);
    keys.set(base, entry);
  }
  return keys;
}

const english = shape('en');

describe.each(LANGUAGES.filter((l) => l !== 'en'))('the %s catalog', (language) => {
  const theirs = shape(language);

  it('has every English key and no other', () => {
    expect([...theirs.keys()].sort()).toEqual([...english.keys()].sort());
  });

  it('uses the same interpolation variables and markup tags in every text', () => {
    for (const [key, ours] of english) {
      const other = theirs.get(key);
      expect({ key, variables: [...(other?.variables ?? [])].sort() }).toEqual({
        key,
        variables: [...ours.variables].sort(),
      });
      expect({ key, tags: [...(other?.tags ?? [])].sort() }).toEqual({ key, tags: [...ours.tags].sort() });
    }
  });

  it('has exactly the plural forms the language uses', () => {
    const categories = new Intl.PluralRules(language).resolvedOptions().pluralCategories;
    for (const [key, ours] of english) {
      if (ours.forms.size === 0) continue;
      expect({ key, forms: [...(theirs.get(key)?.forms ?? [])].sort() }).toEqual({
        key,
        forms: [...categories].sort(),
      });
    }
  });

  it('translates every text (only names, units and punctuation stay as in English)', () => {
    const same = new Set([
      'app.name',
      'connection.mongodb',
      'connection.version',
      'units.bytes',
      'units.speed',
      'settings.s3.title',
      'settings.mega.title',
      // Product names: MEGA and MEGA S4.
      'settings.s4.title',
      'destinations.mega',
      'destinations.s4',
      'settings.mongodb.title',
      'settings.s3.regionPlaceholder',
      'batch.route',
      'batch.unknownBucket',
      'batch.moved',
      'startBar.joiner',
      'shell.tooltip',
      'shell.percent',
      'shell.where',
      // A speed (a unit), and the keyword "off" of a bandwidth limit (typed as it is).
      'shell.speed',
      'settings.transfers.bwlimitPlaceholder',
      // An example bucket name, and a message of the host shown as it came.
      'bucketPick.typePlaceholder',
      'fieldError.server',
    ]);
    const en = flatten(catalogs.en);
    const leftOver = [...flatten(catalogs[language] as CatalogTree)]
      .filter(([key, text]) => !same.has(key) && en.get(key) === text)
      .map(([key]) => key);
    expect(leftOver).toEqual([]);
  });
});

describe('the scripts and words of Chinese', () => {
  // Characters written differently in the two scripts, as they appear in UI texts.
  const SIMPLIFIED = '们这个为设传输载项关开数录时库务连键间试败认称夹态选择区发显条该让还进对导页储链验';
  const TRADITIONAL = '們這個為設傳輸載項關開數錄時庫務連鍵間試敗認稱夾態選擇區發顯條該讓還進對導頁儲鏈驗';
  const texts = (language: Language) => [...flatten(catalogs[language] as CatalogTree).values()].join('\n');

  it('writes Simplified in Simplified characters and Traditional in Traditional ones', () => {
    expect([...texts('zh-Hans')].filter((c) => TRADITIONAL.includes(c))).toEqual([]);
    expect([...texts('zh-Hant')].filter((c) => SIMPLIFIED.includes(c))).toEqual([]);
  });

  it('uses Taiwan and Hong Kong UI words in Traditional, not converted mainland ones', () => {
    const mainland = [
      '文件夾',
      '設置',
      '服務器',
      '默認',
      '加載',
      '登錄',
      '網絡',
      '保存',
      '刷新',
      '對象',
      '鏈接',
    ];
    const hant = texts('zh-Hant');
    expect(mainland.filter((word) => hant.includes(word))).toEqual([]);
    for (const word of ['設定', '檔案', '資料夾', '連線', '伺服器', '儲存', '重新整理'])
      expect(hant, word).toContain(word);
  });

  it('names the screens as each script does', () => {
    const names = (language: Language) => {
      const t = createI18n(language).t;
      return [t('nav.browse'), t('nav.transfers'), t('nav.history'), t('nav.settings')];
    };
    expect(names('zh-Hans')).toEqual(['浏览', '传输', '历史记录', '设置']);
    expect(names('zh-Hant')).toEqual(['瀏覽', '傳輸', '歷史紀錄', '設定']);
  });

  it('counts in each language (plurals and Intl grouping)', () => {
    expect(createI18n('en').t('browse.objects', { count: 1 })).toBe('1 object');
    expect(createI18n('en').t('browse.objects', { count: 10_000 })).toBe('10,000 objects');
    expect(createI18n('zh-Hans').t('browse.objects', { count: 10_000 })).toBe('10,000 个对象');
    expect(createI18n('zh-Hant').t('browse.folders', { count: 1 })).toBe('1 個資料夾');
  });
});
