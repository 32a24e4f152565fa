/**
 * One bar and one speed over every running batch, at the top of Transfers (the tray tooltip says
 * the same in the desktop app). The speed is what moves now, the bandwidth limit included.
 */
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import type { FileProgress, FileStatus } from '../../../shared/contract';
import { fractionThrough } from '../../../shared/batch-summary';
import { formatBytes, formatPercent, formatSpeed } from '../format';
import { useTransfers } from '../stores/transfers';
import { ProgressBar } from './ProgressBar';

const THROUGH: ReadonlySet<FileStatus> = new Set([
  'done',
  's3_download_failed',
  's4_upload_failed',
  'error',
  'cancelled',
]);

export function OverallProgress() {
  const { t } = useTranslation();
  const o = useTransfers(
    useShallow((s) => {
      const running = s.order.filter((id) => s.batches[id]?.overall_status === 'in_progress');
      const files = running
        .flatMap((id) => s.batches[id]?.fileIds ?? [])
        .map((fid) => s.files[fid])
        .filter((f): f is FileProgress => f !== undefined);
      let moved = 0;
      let total = 0;
      let speed = 0;
      for (const f of files) {
        const size = f.total_bytes ?? 0;
        total += size;
        moved += THROUGH.has(f.status) ? size : Math.min(f.transferred_bytes, size);
        if (f.status === 'processing') speed += f.speed;
      }
      const percent = Math.round(fractionThrough(files, THROUGH) * 1000) / 10;
      return { count: running.length, moved, total, speed, percent };
    }),
  );
  if (o.count === 0) return null;
  const label = t('transfers.overallLabel');
  return (
    <section className="overall" aria-label={label}>
      <div className="batch__progress">
        <ProgressBar value={o.percent} label={label} tone="active" size="large" />
        <span className="batch__pct">{formatPercent(o.percent)}</span>
      </div>
      <div className="small">
        {t('transfers.overall', {
          count: o.count,
          moved: formatBytes(o.moved),
          total: formatBytes(o.total),
          speed: formatSpeed(o.speed),
        })}
      </div>
    </section>
  );
}
