/**
 * The summary at the end of a transfer, like rclone's: files done / failed / skipped, bytes,
 * elapsed time, average speed, and the failures with their reasons. One function over batch
 * statuses, used by the CLI (after every transfer), the desktop notification and the UI's batch
 * card. Pure: no DOM, no Node.
 */
import type { BatchStatus, FileStatus } from './contract';

const FAILED: ReadonlySet<FileStatus> = new Set(['s3_download_failed', 's4_upload_failed', 'error']);

export interface SummaryFailure {
  batch_id: string;
  code: string;
  remote_key: string;
  status: FileStatus;
  reason: string;
}

export interface TransferSummary {
  batches: number;
  files: number;
  /** Moved by these batches. */
  done: number;
  /** Already done at the destination path before: not sent again. */
  skipped: number;
  /** Moved (or being moved) by another batch: not counted as this one's work. */
  elsewhere: number;
  failed: number;
  cancelled: number;
  /** Still pending, processing or paused. */
  unfinished: number;
  /** Bytes of the files these batches moved. */
  bytes: number;
  /** Wall time, milliseconds (null when unknown: a batch still running with no clock given). */
  elapsed_ms: number | null;
  /** bytes / elapsed, bytes a second (null when the time is unknown or zero). */
  average_speed: number | null;
  failures: SummaryFailure[];
}

/**
 * Adds up `batches`. `elapsedMs` is the caller's own clock (the CLI's run); without it the time
 * goes from the first batch's start to the last one's end when every batch has ended.
 */
export function summarizeTransfer(
  batches: readonly BatchStatus[],
  opts: { elapsedMs?: number } = {},
): TransferSummary {
  const s: TransferSummary = {
    batches: batches.length,
    files: 0,
    done: 0,
    skipped: 0,
    elsewhere: 0,
    failed: 0,
    cancelled: 0,
    unfinished: 0,
    bytes: 0,
    elapsed_ms: null,
    average_speed: null,
    failures: [],
  };
  for (const b of batches) {
    for (const f of b.files) {
      s.files++;
      if (f.skipped) s.skipped++;
      else if (f.in_batch) s.elsewhere++;
      else if (f.status === 'done') {
        s.done++;
        s.bytes += f.total_bytes ?? f.transferred_bytes;
      } else if (FAILED.has(f.status)) {
        s.failed++;
        s.failures.push({
          batch_id: b.batch_id,
          code: f.code,
          remote_key: f.remote_key,
          status: f.status,
          reason: f.error_message ?? f.status,
        });
      } else if (f.status === 'cancelled') s.cancelled++;
      else s.unfinished++;
    }
  }
  if (opts.elapsedMs !== undefined) s.elapsed_ms = Math.max(0, opts.elapsedMs);
  else {
    const starts = batches.map((b) => (b.created_at ? Date.parse(b.created_at) : NaN));
    const ends = batches.map((b) => (b.finished_at ? Date.parse(b.finished_at) : NaN));
    if (batches.length > 0 && [...starts, ...ends].every(Number.isFinite)) {
      s.elapsed_ms = Math.max(0, Math.max(...ends) - Math.min(...starts));
    }
  }
  if (s.elapsed_ms !== null && s.elapsed_ms > 0) s.average_speed = (s.bytes * 1000) / s.elapsed_ms;
  return s;
}

/** 1536 → "1.5 KiB" (binary units, one decimal): plain text for the CLI and the notification. */
export function plainBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** 65.2 s → "1m5.2s", 3.04 s → "3.0s", like rclone's elapsed time. */
export function plainDuration(ms: number): string {
  const total = ms / 1000;
  if (total < 60) return `${total.toFixed(1)}s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ''}${m}m${s.toFixed(1)}s`;
}
