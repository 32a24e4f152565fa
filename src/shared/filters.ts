/**
 * Filters of a folder or prefix selection (like rclone's --include / --exclude / --min-size /
 * --max-size / --max-age): which of the listed objects a selection takes. Pure, shared by the
 * engine, the CLI and the UI, so each side reads a filter the same way.
 *
 * Globs are minimatch patterns matched against the object key. A pattern without "/" matches the
 * object's name at any depth (`*.jpg`); one with "/" matches the whole key (`photos/2024/**`).
 * An object is taken when it matches no exclude, matches an include when any is given, and its
 * size and date are inside the bounds.
 */
import { minimatch } from 'minimatch';
import { parseSize } from './sizes';

/** Filters as given (REST `filters`, the UI's footer, the CLI's flags). */
export interface FiltersInput {
  include?: string[];
  exclude?: string[];
  /** Bytes, or a size such as "10M". */
  min_size?: number | string;
  max_size?: number | string;
  /** An ISO date ("2024-05-01", "2024-05-01T10:00:00Z") or an age such as "7d", "12h", "30m", "2w". */
  newer_than?: string;
}

/** Filters resolved: sizes in bytes, `newer_than` an absolute ISO date. */
export interface TransferFilters {
  include: string[];
  exclude: string[];
  min_size: number | null;
  max_size: number | null;
  newer_than: string | null;
}

export const NEWER_THAN_RULE =
  'a date such as 2024-05-01 (or 2024-05-01T10:00:00Z), or an age such as 30m, 12h, 7d, 2w';

const AGE_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** The absolute date of `text` (a date, or an age before `now`), or null when it is neither. */
export function parseNewerThan(text: string, now: Date = new Date()): Date | null {
  const t = text.trim();
  const age = /^(\d+(?:\.\d+)?)([smhdw])$/i.exec(t);
  if (age) return new Date(now.getTime() - Number(age[1]) * AGE_UNITS[age[2]!.toLowerCase()]!);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Resolves filters, or says what is wrong (the message names the field). */
export function resolveFilters(
  input: FiltersInput,
  now: Date = new Date(),
): { filters: TransferFilters } | { problem: string } {
  const size = (field: 'min_size' | 'max_size'): number | null | string => {
    const v = input[field];
    if (v === undefined || v === '') return null;
    const n = typeof v === 'number' ? v : parseSize(v);
    if (n === null || !Number.isFinite(n) || n < 0 || !Number.isInteger(n)) {
      return `filters.${field} must be a size in bytes, or with a suffix K, M, G or T (got ${JSON.stringify(v)})`;
    }
    return n;
  };
  const min = size('min_size');
  if (typeof min === 'string') return { problem: min };
  const max = size('max_size');
  if (typeof max === 'string') return { problem: max };
  if (min !== null && max !== null && min > max) {
    return { problem: 'filters.min_size must not be larger than filters.max_size' };
  }
  let newer: string | null = null;
  if (input.newer_than !== undefined && input.newer_than.trim() !== '') {
    const d = parseNewerThan(input.newer_than, now);
    if (!d) return { problem: `filters.newer_than must be ${NEWER_THAN_RULE}` };
    newer = d.toISOString();
  }
  const globs = (field: 'include' | 'exclude'): string[] | string => {
    const list = (input[field] ?? []).map((g) => g.trim()).filter(Boolean);
    const bad = list.find((g) => g.length > 1024);
    return bad ? `filters.${field} patterns must be at most 1024 characters` : list;
  };
  const include = globs('include');
  if (typeof include === 'string') return { problem: include };
  const exclude = globs('exclude');
  if (typeof exclude === 'string') return { problem: exclude };
  return { filters: { include, exclude, min_size: min, max_size: max, newer_than: newer } };
}

/** True when the filters take nothing away. */
export function filtersEmpty(f: TransferFilters | null | undefined): boolean {
  return (
    !f ||
    (f.include.length === 0 &&
      f.exclude.length === 0 &&
      f.min_size === null &&
      f.max_size === null &&
      f.newer_than === null)
  );
}

const GLOB_OPTIONS = { matchBase: true, dot: true, nocomment: true, nonegate: true } as const;

/** A predicate over listed objects; every object passes when `filters` is empty. */
export function objectFilter(
  filters: TransferFilters | null | undefined,
): (o: { key: string; size: number; last_modified: Date | string | null }) => boolean {
  if (!filters || filtersEmpty(filters)) return () => true;
  const include = filters.include.map((g) => new minimatch.Minimatch(g, GLOB_OPTIONS));
  const exclude = filters.exclude.map((g) => new minimatch.Minimatch(g, GLOB_OPTIONS));
  const since = filters.newer_than ? new Date(filters.newer_than).getTime() : null;
  return (o) => {
    if (exclude.some((m) => m.match(o.key))) return false;
    if (include.length > 0 && !include.some((m) => m.match(o.key))) return false;
    if (filters.min_size !== null && o.size < filters.min_size) return false;
    if (filters.max_size !== null && o.size > filters.max_size) return false;
    if (since !== null) {
      const at = o.last_modified === null ? NaN : new Date(o.last_modified).getTime();
      // An object without a date is not known to be newer: left out.
      if (!(at >= since)) return false;
    }
    return true;
  };
}
