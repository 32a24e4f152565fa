import { afterAll, describe, expect, it } from 'vitest';
import {
  baseName,
  formatBytes,
  formatCount,
  formatDate,
  formatEta,
  formatList,
  formatPercent,
  formatSpeed,
} from './format';
import { applyLanguageChoice } from './i18n';

// The tests run without a browser: no system locales, so each language's usual locale.
applyLanguageChoice('en');
afterAll(() => applyLanguageChoice('system'));

describe('formatBytes', () => {
  it('uses binary units with sensible precision', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1023)).toBe('1,023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3 * 1024 * 1024 + 123)).toBe('3.00 MiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatBytes(1024 ** 3)).toBe('1.00 GiB');
    expect(formatBytes(12.5 * 1024 ** 4)).toBe('12.5 TiB');
  });
  it('shows a dash for unknown sizes', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
});

describe('formatSpeed', () => {
  it('always speaks MiB/s', () => {
    expect(formatSpeed(1024 * 1024)).toBe('1.0 MiB/s');
    expect(formatSpeed(512 * 1024)).toBe('0.5 MiB/s');
    expect(formatSpeed(250 * 1024 * 1024)).toBe('250 MiB/s');
  });
  it('shows a dash when idle', () => {
    expect(formatSpeed(0)).toBe('—');
    expect(formatSpeed(null)).toBe('—');
  });
});

describe('formatEta', () => {
  it('picks the two largest units', () => {
    expect(formatEta(0)).toBe('0 s');
    expect(formatEta(44.6)).toBe('45 s');
    expect(formatEta(185)).toBe('3 min 05 s');
    expect(formatEta(2 * 3600 + 4 * 60 + 9)).toBe('2 h 04 min');
    expect(formatEta(3 * 86400 + 5 * 3600)).toBe('3 d 5 h');
  });
  it('says unknown with a dash', () => {
    expect(formatEta(null)).toBe('—');
    expect(formatEta(Infinity)).toBe('—');
  });
});

describe('formatPercent', () => {
  it('clamps and rounds', () => {
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(5.55)).toBe('5.5%');
    expect(formatPercent(42.9)).toBe('42%');
    expect(formatPercent(99.99)).toBe('99%');
    expect(formatPercent(140)).toBe('100%');
    expect(formatPercent(-3)).toBe('0%');
  });
});

describe('formatDate', () => {
  it('formats local time to the minute, through Intl', () => {
    const d = new Date(2024, 4, 1, 14, 3);
    expect(formatDate(d.toISOString())).toBe('05/01/2024, 14:03');
    expect(formatDate(null)).toBe('—');
    expect(formatDate('not a date')).toBe('—');
  });
});

describe('baseName', () => {
  it('takes the last segment of keys and prefixes', () => {
    expect(baseName('a/b/')).toBe('b');
    expect(baseName('a/c.jpg')).toBe('c.jpg');
    expect(baseName('top.txt')).toBe('top.txt');
  });
});

describe('in Chinese', () => {
  it('formats numbers, dates and durations the Simplified and the Traditional way', () => {
    const d = new Date(2024, 4, 1, 14, 3).toISOString();
    try {
      applyLanguageChoice('zh-Hans');
      expect(formatDate(d)).toBe('2024/05/01 14:03');
      expect(formatEta(185)).toBe('3 分 05 秒');
      expect(formatEta(2 * 3600 + 4 * 60)).toBe('2 小时 04 分');
      expect(formatBytes(1536)).toBe('1.50 KiB');
      expect(formatCount(12345)).toBe('12,345');
      expect(formatList(['a', 'b', 'c'], 2)).toBe('a、b，另有 1 个');
      applyLanguageChoice('zh-Hant');
      // Taiwan's date format puts a thin space (U+2009) before the time.
      expect(formatDate(d)).toBe('2024/05/01\u200914:03');
      expect(formatEta(2 * 3600 + 4 * 60)).toBe('2 小時 04 分');
      expect(formatList(['a', 'b', 'c'], 2)).toBe('a、b，另有 1 個');
    } finally {
      applyLanguageChoice('en');
    }
  });
});
