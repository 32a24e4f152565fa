/**
 * Short texts about batches for the desktop shell, in its language (a `Translate` from the shared
 * catalog; English by default): the tray tooltip and the notification shown when a batch ends;
 * and, re-exported from batch-totals.ts, how far files are through. Pure: no electron, no Node.
 */
import { destinationRoute } from './destinations';
import { LOCAL_BUCKET_PREFIX } from './constants';
import type { BatchStatus } from './contract';
import { type BatchTotals, batchTotals, overallSpeed } from './batch-totals';
import { englishT, type Translate } from './i18n';
import { plainBytes, plainDuration, summarizeTransfer } from './transfer-summary';

export { type BatchTotals, batchTotals, fractionThrough, overallSpeed } from './batch-totals';

/**
 * The tray tooltip: "MegaFerry — 3 transferring, 12 of 40 done, 45%" over the batches in progress,
 * or "MegaFerry — idle".
 */
export function trayTooltip(batches: readonly BatchStatus[], tr: Translate = englishT): string {
  const active = batches.filter((b) => b.overall_status === 'in_progress');
  if (active.length === 0) return tr('shell.idle');
  const t = batchTotals(active);
  const parts: string[] = [];
  if (t.transferring > 0) parts.push(tr('shell.transferring', { count: t.transferring }));
  else if (t.pending > 0) parts.push(tr('shell.waiting', { count: t.pending }));
  parts.push(tr('shell.doneOf', { done: t.done, count: t.files }));
  if (t.failed > 0) parts.push(tr('shell.failed', { count: t.failed }));
  parts.push(tr('shell.percent', { percent: t.percent }));
  // One speed over every running batch (what moves now, bandwidth limit included).
  const speed = overallSpeed(active);
  if (speed > 0) parts.push(tr('shell.speed', { speed: plainBytes(speed) }));
  return tr('shell.tooltip', { parts: parts.join(tr('shell.separator')) });
}

export interface NotificationText {
  title: string;
  body: string;
}

/** "38 done, 2 failed, 1 cancelled" (only the non-zero parts; "no files" when empty). */
export function outcomeText(
  t: Pick<BatchTotals, 'done' | 'failed' | 'cancelled' | 'files'> & { skipped?: number },
  tr: Translate = englishT,
): string {
  const parts: string[] = [];
  const skipped = t.skipped ?? 0;
  if (t.done - skipped > 0) parts.push(tr('shell.done', { count: t.done - skipped }));
  if (skipped > 0) parts.push(tr('shell.skipped', { count: skipped }));
  if (t.failed > 0) parts.push(tr('shell.failed', { count: t.failed }));
  if (t.cancelled > 0) parts.push(tr('shell.cancelled', { count: t.cancelled }));
  if (parts.length === 0)
    return t.files === 0 ? tr('shell.noFiles') : tr('shell.noneDone', { count: t.files });
  return parts.join(tr('shell.separator'));
}

/**
 * The notification when a batch ends (or when several end together): the title says how it went
 * ("Batch finished", "Batch finished with failures", "Batch failed", "Batch cancelled"), the body
 * how many files ("38 done, 2 failed"), then where they went when known.
 */
export function batchEndNotification(
  ended: BatchStatus | readonly BatchStatus[],
  tr: Translate = englishT,
): NotificationText {
  const batches: readonly BatchStatus[] = Array.isArray(ended) ? ended : [ended as BatchStatus];
  const t = batchTotals(batches);
  // The summary at the end, as the CLI's: bytes, time and speed, and the failures with reasons.
  const summary = summarizeTransfer(batches);
  const outcome = outcomeText({ ...t, skipped: summary.skipped }, tr);
  const moved =
    summary.elapsed_ms !== null && summary.bytes > 0
      ? `\n${tr('shell.moved', {
          bytes: plainBytes(summary.bytes),
          elapsed: plainDuration(summary.elapsed_ms),
          speed: plainBytes(summary.average_speed ?? 0),
        })}`
      : '';
  const shown = summary.failures.slice(0, 3);
  const failures =
    shown.map((f) => `\n${tr('shell.failure', { key: f.remote_key, reason: f.reason })}`).join('') +
    (summary.failures.length > shown.length
      ? `\n${tr('shell.moreFailures', { count: summary.failures.length - shown.length })}`
      : '');
  if (batches.length === 1) {
    const b = batches[0]!;
    const title = {
      in_progress: tr('shell.batchRunning'),
      completed: tr('shell.batchFinished'),
      partial: tr('shell.batchPartial'),
      failed: tr('shell.batchFailed'),
      cancelled: tr('shell.batchCancelled'),
    }[b.overall_status];
    const where =
      b.bucket && b.target
        ? `\n${tr('shell.where', {
            source: sourceLabel(b.bucket, tr),
            target: destinationRoute((kind) => tr(`destinations.${kind}`), b),
          })}`
        : '';
    return { title, body: `${outcome}${moved}${where}${failures}` };
  }
  const count = batches.length;
  const title = batches.every((b) => b.overall_status === 'cancelled')
    ? tr('shell.batchesCancelled', { count })
    : t.failed > 0
      ? tr('shell.batchesPartial', { count })
      : tr('shell.batchesFinished', { count });
  return { title, body: `${outcome}${moved}${failures}` };
}

function sourceLabel(bucket: string, tr: Translate): string {
  if (!bucket.startsWith(LOCAL_BUCKET_PREFIX)) return `s3://${bucket}`;
  return bucket.slice(LOCAL_BUCKET_PREFIX.length) || tr('shell.localFiles');
}
