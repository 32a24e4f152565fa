/**
 * The filters of the Browse footer (like rclone's --include / --exclude / --min-size / --max-size
 * / --max-age): a disclosure button, then the fields. They apply to the ticked folders; each
 * problem is said beside its field before Start.
 */
import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type FilterDraft,
  filterProblems,
  filtersOfDraft,
  useSelectionFilters,
} from '../stores/selection-filters';

const FIELDS: { field: keyof FilterDraft; label: string; placeholder?: string; size: number }[] = [
  { field: 'include', label: 'startBar.filters.include', placeholder: '*.jpg, *.png', size: 14 },
  { field: 'exclude', label: 'startBar.filters.exclude', placeholder: 'tmp/**', size: 12 },
  {
    field: 'min_size',
    label: 'startBar.filters.minSize',
    placeholder: 'startBar.filters.sizePlaceholder',
    size: 7,
  },
  {
    field: 'max_size',
    label: 'startBar.filters.maxSize',
    placeholder: 'startBar.filters.sizePlaceholder',
    size: 7,
  },
  {
    field: 'newer_than',
    label: 'startBar.filters.newerThan',
    placeholder: 'startBar.filters.newerPlaceholder',
    size: 14,
  },
];

export function FiltersToggle({ controls }: { controls: string }) {
  const { t } = useTranslation();
  const open = useSelectionFilters((s) => s.open);
  const active = useSelectionFilters((s) => filtersOfDraft(s) !== undefined);
  return (
    <button
      type="button"
      className="button button--ghost button--small"
      aria-expanded={open}
      aria-controls={controls}
      onClick={() => useSelectionFilters.getState().setOpen(!open)}
    >
      {active ? t('startBar.filters.toggleOn') : t('startBar.filters.toggle')}
    </button>
  );
}

export function SelectionFilters({ id }: { id: string }) {
  const { t } = useTranslation();
  const base = useId();
  const draft = useSelectionFilters();
  if (!draft.open) return null;
  const problems = filterProblems(draft);
  return (
    <fieldset id={id} className="filters">
      <legend>{t('startBar.filters.label')}</legend>
      <p className="muted small filters__hint" id={`${base}-hint`}>
        {t('startBar.filters.hint')}
      </p>
      {FIELDS.map(({ field, label, placeholder, size }) => {
        const problem = problems[field];
        const errorId = `${base}-${field}-error`;
        return (
          <label key={field} className="field field--inline filters__field">
            <span>{t(label as never)}</span>
            <input
              type="text"
              value={draft[field]}
              onChange={(e) => draft.set(field, e.target.value)}
              placeholder={placeholder?.startsWith('startBar.') ? t(placeholder as never) : placeholder}
              size={size}
              spellCheck={false}
              autoCapitalize="off"
              aria-invalid={problem ? true : undefined}
              aria-describedby={[problem ? errorId : '', `${base}-hint`].filter(Boolean).join(' ')}
            />
            {problem && (
              <span id={errorId} className="field-error" role="alert">
                {t(problem as never)}
              </span>
            )}
          </label>
        );
      })}
    </fieldset>
  );
}

/** True when the draft has a problem (Start waits for it to be fixed). */
export function useFiltersInvalid(): boolean {
  return useSelectionFilters((s) => Object.keys(filterProblems(s)).length > 0);
}
