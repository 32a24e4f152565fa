/**
 * A live region (polite) for screen readers: says when a batch ends, with how many files were done
 * and how many failed, wherever the user is in the app.
 */
import { useTranslation } from 'react-i18next';
import { overallStatusLabel } from '../format';
import { useTransfers } from '../stores/transfers';

export function Announcer() {
  const { t } = useTranslation();
  const ended = useTransfers((s) => s.ended);
  const batch = useTransfers((s) => (ended ? s.batches[ended.id] : undefined));
  const text =
    ended && batch
      ? t('live.batchEnded', {
          id: ended.id,
          status: overallStatusLabel(batch.overall_status),
          done: batch.completed,
          total: batch.total_files,
          failed: batch.failed,
        })
      : '';
  return (
    <div className="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
      {text}
    </div>
  );
}
