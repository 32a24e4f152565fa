/**
 * What the Browse selection holds before Start (a dry run of it, nothing changed): how many files
 * and bytes, folders included and filtered, how many are already done at that MEGA path and how
 * many another batch moves now. Counted again, a moment after the selection, the filters, the
 * target or Force change.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorText } from '../api';
import { formatBytes } from '../format';
import { useBrowse } from '../stores/browse';
import { filterProblems, useSelectionFilters } from '../stores/selection-filters';
import { type SelectionPlan, planSelection } from '../transfer-actions';

const SETTLE_MS = 350;

export function SelectionPreview() {
  const { t } = useTranslation();
  const selected = useBrowse((s) => s.selected);
  const bucket = useBrowse((s) => s.bucket);
  const target = useBrowse((s) => s.target);
  const force = useBrowse((s) => s.force);
  const filters = useSelectionFilters();
  const filterKey = JSON.stringify([
    filters.include,
    filters.exclude,
    filters.min_size,
    filters.max_size,
    filters.newer_than,
  ]);
  const filtersBad = Object.keys(filterProblems(filters)).length > 0;
  const [state, setState] = useState<
    | { kind: 'idle' }
    | { kind: 'counting' }
    | { kind: 'plan'; plan: SelectionPlan }
    | { kind: 'error'; error: string }
  >({ kind: 'idle' });

  useEffect(() => {
    if (!bucket || selected.size === 0 || filtersBad) {
      setState({ kind: 'idle' });
      return;
    }
    let current = true;
    setState({ kind: 'counting' });
    const timer = setTimeout(() => {
      planSelection().then(
        (plan) => {
          if (current) setState(plan ? { kind: 'plan', plan } : { kind: 'idle' });
        },
        (err: unknown) => {
          if (current) setState({ kind: 'error', error: errorText(err) });
        },
      );
    }, SETTLE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [bucket, selected, target, force, filterKey, filtersBad]);

  if (state.kind === 'idle') return null;
  return (
    <div className="startbar__preview small" role="status" aria-label={t('startBar.preview.label')}>
      {state.kind === 'counting' && <span className="muted">{t('startBar.preview.counting')}</span>}
      {state.kind === 'error' && (
        <span className="text-bad">{t('startBar.preview.error', { error: state.error })}</span>
      )}
      {state.kind === 'plan' && (
        <>
          <strong>
            {t('startBar.preview.selected', {
              count: state.plan.selected.files,
              size: formatBytes(state.plan.selected.bytes),
            })}
          </strong>{' '}
          <span>
            {t('startBar.preview.detail', {
              transfer: state.plan.to_transfer.files,
              done: state.plan.already_done.files,
              elsewhere: state.plan.in_progress.files,
            })}
          </span>
          {state.plan.missing.files > 0 && (
            <span className="text-bad">
              {' '}
              · {t('startBar.preview.missing', { count: state.plan.missing.files })}
            </span>
          )}
          {state.plan.filtered_out.files > 0 && (
            <span className="muted">
              {' '}
              · {t('startBar.preview.filtered', { count: state.plan.filtered_out.files })}
            </span>
          )}
        </>
      )}
    </div>
  );
}
