/**
 * A batch's counts and overall status, derived from its files' statuses in one place: the engine
 * (REST, CLI, store), the UI's stores (live events) and the tray all count the same way.
 */
import { FAILED_STATUSES } from './constants';
import type { BatchState, FileStatus, OverallStatus } from './contract';

export interface BatchCounts {
  completed: number;
  transferring: number;
  pending: number;
  /** Failed for good (cancelled files are counted apart). */
  failed: number;
  cancelled: number;
}

export function countStatuses(statuses: Iterable<FileStatus>): BatchCounts {
  const c: BatchCounts = { completed: 0, transferring: 0, pending: 0, failed: 0, cancelled: 0 };
  for (const s of statuses) {
    if (s === 'done') c.completed++;
    else if (s === 'processing') c.transferring++;
    else if (s === 'pending' || s === 'paused') c.pending++;
    else if (s === 'cancelled') c.cancelled++;
    else if (FAILED_STATUSES.includes(s)) c.failed++;
  }
  return c;
}

/**
 * SPEC.md: `in_progress` while anything is pending or transferring, then `completed` (all done),
 * `cancelled` (cancelled by the user, or nothing but done and cancelled files with some
 * cancelled), `failed` (none done) or `partial`.
 */
export function overallStatusOf(state: BatchState, total: number, c: BatchCounts): OverallStatus {
  if (state === 'cancelled') return 'cancelled';
  if (c.pending + c.transferring > 0) return 'in_progress';
  if (c.completed === total) return 'completed';
  if (c.cancelled > 0 && c.completed + c.cancelled === total) return 'cancelled';
  if (c.completed === 0) return 'failed';
  return 'partial';
}

/**
 * The overall status of one selection sent as several batches (SPEC.md: shown as one): in
 * progress while any batch is, then completed when all are, failed when none did anything,
 * cancelled when what did not complete was cancelled, else partial.
 */
export function overallOfSelection(statuses: OverallStatus[]): OverallStatus {
  if (statuses.some((s) => s === 'in_progress')) return 'in_progress';
  if (statuses.every((s) => s === 'completed')) return 'completed';
  if (statuses.every((s) => s === 'failed')) return 'failed';
  if (statuses.every((s) => s === 'completed' || s === 'cancelled')) return 'cancelled';
  return 'partial';
}
