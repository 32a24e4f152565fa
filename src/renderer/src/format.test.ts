import { describe, expect, it } from 'vitest';
import { baseName, formatBytes, formatDate, formatEta, formatPercent, formatSpeed } from './format';

describe('formatBytes', () => {
  it('uses binary units with sensible precision', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1023)).toBe('1023 B');
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
    expect(formatPercent(0)).toBe('0 %');
    expect(formatPercent(5.55)).toBe('5.5 %');
    expect(formatPercent(42.9)).toBe('42 %');
    expect(formatPercent(140)).toBe('100 %');
    expect(formatPercent(-3)).toBe('0 %');
  });
});

describe('formatDate', () => {
  it('formats local time as YYYY-MM-DD HH:MM', () => {
    const d = new Date(2024, 4, 1, 14, 3);
    expect(formatDate(d.toISOString())).toBe('2024-05-01 14:03');
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
