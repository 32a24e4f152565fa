/**
 * The filters of the Browse selection's footer (include / exclude globs, size bounds, modified
 * since): as typed, and as the request's `filters` (../../../shared/filters.ts). They apply to the
 * ticked folders, as the CLI's flags apply to a prefix.
 */
import { create } from 'zustand';
import { type FiltersInput, resolveFilters } from '../../../shared/filters';

export interface FilterDraft {
  include: string;
  exclude: string;
  min_size: string;
  max_size: string;
  newer_than: string;
}

interface SelectionFiltersState extends FilterDraft {
  open: boolean;
  setOpen(open: boolean): void;
  set(field: keyof FilterDraft, value: string): void;
}

export const useSelectionFilters = create<SelectionFiltersState>()((set) => ({
  open: false,
  include: '',
  exclude: '',
  min_size: '',
  max_size: '',
  newer_than: '',
  setOpen: (open) => set({ open }),
  set: (field, value) => set({ [field]: value } as Partial<FilterDraft>),
}));

const globs = (text: string) =>
  text
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);

/** The request's `filters` of the draft, or undefined when it filters nothing. */
export function filtersOfDraft(d: FilterDraft): FiltersInput | undefined {
  const input: FiltersInput = {
    ...(globs(d.include).length ? { include: globs(d.include) } : {}),
    ...(globs(d.exclude).length ? { exclude: globs(d.exclude) } : {}),
    ...(d.min_size.trim() ? { min_size: d.min_size.trim() } : {}),
    ...(d.max_size.trim() ? { max_size: d.max_size.trim() } : {}),
    ...(d.newer_than.trim() ? { newer_than: d.newer_than.trim() } : {}),
  };
  return Object.keys(input).length ? input : undefined;
}

/** What is wrong with the draft, by field, as catalog keys (`startBar.filters.*`). */
export function filterProblems(d: FilterDraft): Partial<Record<keyof FilterDraft, string>> {
  const problems: Partial<Record<keyof FilterDraft, string>> = {};
  for (const field of ['min_size', 'max_size'] as const) {
    if (d[field].trim() && 'problem' in resolveFilters({ [field]: d[field].trim() }))
      problems[field] = 'startBar.filters.badSize';
  }
  if (d.newer_than.trim() && 'problem' in resolveFilters({ newer_than: d.newer_than.trim() }))
    problems.newer_than = 'startBar.filters.badDate';
  if (!problems.min_size && !problems.max_size && d.min_size.trim() && d.max_size.trim()) {
    const r = resolveFilters({ min_size: d.min_size.trim(), max_size: d.max_size.trim() });
    if ('problem' in r) problems.max_size = 'startBar.filters.minOverMax';
  }
  return problems;
}
