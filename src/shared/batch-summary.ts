/**
 * Short texts about batches for the desktop shell, in its language (a `Translate` from the shared
 * catalog; English by default): the tray tooltip and the notification shown when a batch ends;
 * and how far files are through, which the UI's bars use too. Pure: no electron, no Node.
 */
import { destinationRoute } from './destinations';
import { LOCAL_BUCKET_PREFIX } from './constants';
import type { BatchStatus, FileProgress, FileStatus } from './contract';
import { englishT, type Translate } from './i18n';
import { plainBytes, plainDuration, summarizeTransfer } from './transfer-summary';

/** Statuses after which a file is through (done, failed or cancelled). */
const FINISHED: ReadonlySet<FileStatus> = new Set([
  'done',
  's3_download_failed',
  's4_upload_failed',
  'error',
  'cancelled',
]);

export interface BatchTotals {
  batches: number;
  files: number;
  done: number;
  failed: number;
  cancelled: number;
  transferring: number;
  pending: number;
  /** How far the batches are through, 0–100: by bytes when every size is known, else by files. */
  percent: number;
}

/** Adds up batches; finished files (done, failed, cancelled) count as fully through. */
export function batchTotals(batches: readonly BatchStatus[]): BatchTotals {
  const t: BatchTotals = {
    batches: batches.length,
    files: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
    transferring: 0,
    pending: 0,
    percent: 0,
  };
  for (const b of batches) {
    t.files += b.total_files;
    t.done += b.completed;
    t.failed += b.failed;
    t.cancelled += b.cancelled;
    t.transferring += b.transferring;
    t.pending += b.pending;
  }
  const ratio = fractionThrough(
    batches.flatMap((b) => b.files),
    FINISHED,
  );
  // Never show 100% while something is still moving.
  const percent = Math.floor(ratio * 100);
  t.percent = t.transferring + t.pending > 0 ? Math.min(percent, 99) : percent;
  return t;
}

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

/** Bytes a second moving now over `batches` (their files in progress). */
export function overallSpeed(batches: readonly BatchStatus[]): number {
  let speed = 0;
  for (const b of batches) for (const f of b.files) if (f.status === 'processing') speed += f.speed;
  return speed;
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

/**
 * How far `files` are through, 0–1: by bytes when every size is known, else by each file's own
 * progress. A file whose status is in `whole` counts as complete; the others count what they
 * moved.
 */
export function fractionThrough(files: readonly FileProgress[], whole: ReadonlySet<FileStatus>): number {
  let allSized = true;
  let bytesTotal = 0;
  let bytesThrough = 0;
  let filesThrough = 0;
  for (const f of files) {
    const complete = whole.has(f.status);
    filesThrough += complete ? 1 : clamp(f.progress / 100, 0, 1);
    if (f.total_bytes === null) allSized = false;
    else {
      bytesTotal += f.total_bytes;
      bytesThrough += complete ? f.total_bytes : Math.min(f.transferred_bytes, f.total_bytes);
    }
  }
  if (allSized && bytesTotal > 0) return bytesThrough / bytesTotal;
  return files.length > 0 ? filesThrough / files.length : 0;
}

function clamp(n: number, lo: number, hi: number): number {
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : lo;
}
