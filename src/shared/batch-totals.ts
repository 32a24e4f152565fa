/**
 * How far batches are through, counted (files, percent, speed): what the service's overview, the
 * UI's bars and the desktop shell share. Pure, and with no texts, so the service loads no
 * catalog for it (src/shared/batch-summary.ts has the texts).
 */
import type { BatchStatus, FileProgress, FileStatus } from './contract';

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

/** Bytes a second moving now over `batches` (their files in progress). */
export function overallSpeed(batches: readonly BatchStatus[]): number {
  let speed = 0;
  for (const b of batches) for (const f of b.files) if (f.status === 'processing') speed += f.speed;
  return speed;
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
