/** Human formatting of sizes, speeds, times and statuses; pure, shared by every screen. */
import type { VerifyResult } from '../../shared/api';
import type { FileStatus, OverallStatus } from '../../shared/contract';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; binary units, at most three significant digits. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Bytes per second → "12.3 MiB/s" (MiB/s always, as users compare speeds in one unit). */
export function formatSpeed(bytesPerSecond: number | null | undefined): string {
  if (!bytesPerSecond || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '—';
  const mib = bytesPerSecond / (1024 * 1024);
  return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB/s`;
}

/** Seconds left → "45 s", "3 min 05 s", "2 h 04 min"; unknown → "—". */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** 0–100 → "42 %" (one decimal under 10 % so a slow start still moves). */
export function formatPercent(progress: number): string {
  const p = Math.max(0, Math.min(100, Number.isFinite(progress) ? progress : 0));
  return `${p > 0 && p < 10 ? p.toFixed(1) : Math.floor(p)} %`;
}

/** ISO date → local "2024-05-01 14:03" (sortable and unambiguous); invalid or null → "—". */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** 12345 → "12,345". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export const FILE_STATUS_LABELS: Record<FileStatus, string> = {
  pending: 'Waiting',
  processing: 'Transferring',
  done: 'Done',
  s3_download_failed: 'S3 read failed',
  s4_upload_failed: 'MEGA upload failed',
  error: 'Error',
  cancelled: 'Cancelled',
};

/** Colour family of a status, used as a CSS class suffix. */
export function fileStatusTone(status: FileStatus): 'neutral' | 'active' | 'ok' | 'bad' | 'muted' {
  switch (status) {
    case 'pending':
      return 'neutral';
    case 'processing':
      return 'active';
    case 'done':
      return 'ok';
    case 'cancelled':
      return 'muted';
    default:
      return 'bad';
  }
}

/** What `megaferry verify` found for a file's copy in MEGA. */
export const VERIFY_RESULT_LABELS: Record<VerifyResult, string> = {
  ok: 'Verified',
  mac_mismatch: 'MAC mismatch',
  bytes_mismatch: 'Bytes differ',
  missing: 'Missing in MEGA',
};

export function verifyResultTone(result: VerifyResult): 'ok' | 'bad' {
  return result === 'ok' ? 'ok' : 'bad';
}

export const OVERALL_STATUS_LABELS: Record<OverallStatus, string> = {
  in_progress: 'In progress',
  completed: 'Completed',
  failed: 'Failed',
  partial: 'Partly failed',
  cancelled: 'Cancelled',
};

export function overallStatusTone(status: OverallStatus): 'active' | 'ok' | 'bad' | 'muted' | 'warn' {
  switch (status) {
    case 'in_progress':
      return 'active';
    case 'completed':
      return 'ok';
    case 'failed':
      return 'bad';
    case 'partial':
      return 'warn';
    default:
      return 'muted';
  }
}

/** The last path segment of a key or prefix ("a/b/" → "b", "a/c.jpg" → "c.jpg"). */
export function baseName(keyOrPrefix: string): string {
  const trimmed = keyOrPrefix.endsWith('/') ? keyOrPrefix.slice(0, -1) : keyOrPrefix;
  const i = trimmed.lastIndexOf('/');
  return i === -1 ? trimmed : trimmed.slice(i + 1);
}
