/**
 * Human formatting of sizes, speeds, times and statuses in the current language: numbers and
 * dates through Intl in the locale of that language (src/renderer/src/i18n.ts), words from the
 * catalog. Shared by every screen.
 */
import type { VerifyResult } from '../../shared/api';
import type { FileStatus, OverallStatus } from '../../shared/contract';
import { currentFormatLocale, i18n } from './i18n';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const NONE = '—';

const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function numberFormat(digits: number): Intl.NumberFormat {
  const locale = currentFormatLocale();
  const key = `n|${locale}|${digits}`;
  let f = formatters.get(key) as Intl.NumberFormat | undefined;
  if (!f) {
    f = new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formatters.set(key, f);
  }
  return f;
}

function dateFormat(): Intl.DateTimeFormat {
  const locale = currentFormatLocale();
  const key = `d|${locale}`;
  let f = formatters.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) {
    f = new Intl.DateTimeFormat(locale, {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(key, f);
  }
  return f;
}

/** 1536 → "1.50 KiB"; binary units, at most three significant digits. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return NONE;
  if (bytes < 1024)
    return i18n.t('units.bytes', { value: numberFormat(0).format(Math.round(bytes)), unit: 'B' });
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return i18n.t('units.bytes', { value: numberFormat(digits).format(value), unit: UNITS[unit] });
}

/** Bytes per second → "12.3 MiB/s" (MiB/s always, as users compare speeds in one unit). */
export function formatSpeed(bytesPerSecond: number | null | undefined): string {
  if (!bytesPerSecond || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return NONE;
  const mib = bytesPerSecond / (1024 * 1024);
  return i18n.t('units.speed', { value: numberFormat(mib >= 100 ? 0 : 1).format(mib) });
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Seconds left → "45 s", "3 min 05 s", "2 h 04 min" (or "3 分 05 秒"…); unknown → "—". */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return NONE;
  const s = Math.round(seconds);
  if (s < 60) return i18n.t('units.seconds', { s });
  if (s < 3600) return i18n.t('units.minutes', { m: Math.floor(s / 60), s: pad2(s % 60) });
  if (s < 86400)
    return i18n.t('units.hours', { h: Math.floor(s / 3600), m: pad2(Math.floor((s % 3600) / 60)) });
  return i18n.t('units.days', { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

/** 0–100 → "42%" (one decimal under 10 % so a slow start still moves; never rounded up). */
export function formatPercent(progress: number): string {
  const p = Math.max(0, Math.min(100, Number.isFinite(progress) ? progress : 0));
  const digits = p > 0 && p < 10 ? 1 : 0;
  const shown = digits ? Math.floor(p * 10 + 1e-9) / 10 : Math.floor(p);
  const locale = currentFormatLocale();
  const key = `p|${locale}|${digits}`;
  let f = formatters.get(key) as Intl.NumberFormat | undefined;
  if (!f) {
    f = new Intl.NumberFormat(locale, {
      style: 'percent',
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    formatters.set(key, f);
  }
  return f.format(shown / 100);
}

/** ISO date → local date and time with minutes, the language's way; invalid or null → "—". */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return NONE;
  return dateFormat().format(d);
}

/** 12345 → "12,345" (the language's grouping). */
export function formatCount(n: number): string {
  return numberFormat(0).format(n);
}

export function fileStatusLabel(status: FileStatus): string {
  return i18n.t(`status.file.${status}`);
}

/** Colour family of a status, used as a CSS class suffix. */
export function fileStatusTone(status: FileStatus): 'neutral' | 'active' | 'ok' | 'bad' | 'muted' {
  switch (status) {
    case 'pending':
      return 'neutral';
    case 'processing':
      return 'active';
    case 'done':
      return 'ok';
    case 'cancelled':
      return 'muted';
    default:
      return 'bad';
  }
}

/** What `megaferry verify` found for a file's copy in MEGA. */
export function verifyResultLabel(result: VerifyResult): string {
  return i18n.t(`status.verify.${result}`);
}

export function verifyResultTone(result: VerifyResult): 'ok' | 'bad' {
  return result === 'ok' ? 'ok' : 'bad';
}

export function overallStatusLabel(status: OverallStatus): string {
  return i18n.t(`status.overall.${status}`);
}

export function overallStatusTone(status: OverallStatus): 'active' | 'ok' | 'bad' | 'muted' | 'warn' {
  switch (status) {
    case 'in_progress':
      return 'active';
    case 'completed':
      return 'ok';
    case 'failed':
      return 'bad';
    case 'partial':
      return 'warn';
    default:
      return 'muted';
  }
}

/** Up to `max` items joined the language's way, then "and N more". */
export function formatList(items: readonly string[], max: number): string {
  const shown = items.slice(0, max).join(i18n.t('list.separator'));
  return items.length > max ? shown + i18n.t('list.more', { count: items.length - max }) : shown;
}

/** The last path segment of a key or prefix ("a/b/" → "b", "a/c.jpg" → "c.jpg"). */
export function baseName(keyOrPrefix: string): string {
  const trimmed = keyOrPrefix.endsWith('/') ? keyOrPrefix.slice(0, -1) : keyOrPrefix;
  const i = trimmed.lastIndexOf('/');
  return i === -1 ? trimmed : trimmed.slice(i + 1);
}
