/**
 * The summary of a batch that has ended, as the CLI prints it: files done, failed and skipped,
 * bytes, time, average speed, and the failures with their reasons.
 */
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import type { BatchStatus, FileProgress } from '../../../shared/contract';
import { summarizeTransfer } from '../../../shared/transfer-summary';
import { formatBytes, formatEta, formatSpeed } from '../format';
import { useTransfers } from '../stores/transfers';

const SHOWN_FAILURES = 10;

export function BatchEndSummary({ id }: { id: string }) {
  const { t } = useTranslation();
  const batch = useTransfers((s) => s.batches[id]);
  const files = useTransfers(
    useShallow((s) =>
      (s.batches[id]?.fileIds ?? []).map((fid) => s.files[fid]).filter((f): f is FileProgress => !!f),
    ),
  );
  if (!batch || batch.overall_status === 'in_progress') return null;
  const { fileIds: _ids, ...rest } = batch;
  const status: BatchStatus = { ...rest, files };
  const s = summarizeTransfer([status]);
  return (
    <div className="batch__summary small" aria-label={t('batch.summaryLabel', { id })} role="group">
      <p className="batch__summary">
        {t('batch.summary', {
          done: s.done,
          failed: s.failed,
          skipped: s.skipped,
          bytes: formatBytes(s.bytes),
          elapsed: s.elapsed_ms === null ? '—' : formatEta(Math.max(1, s.elapsed_ms / 1000)),
          speed: formatSpeed(s.average_speed),
        })}
      </p>
      {s.failures.length > 0 && (
        <>
          <p className="batch__summary text-bad">{t('batch.failuresTitle')}</p>
          <ul className="batch__failures">
            {s.failures.slice(0, SHOWN_FAILURES).map((f) => (
              <li key={`${f.remote_key}`} className="text-bad">
                {f.remote_key}: {f.reason}
              </li>
            ))}
            {s.failures.length > SHOWN_FAILURES && (
              <li className="muted">
                {t('shell.moreFailures', { count: s.failures.length - SHOWN_FAILURES })}
              </li>
            )}
          </ul>
        </>
      )}
    </div>
  );
}
