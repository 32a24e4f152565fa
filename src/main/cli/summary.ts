/**
 * What the CLI says at the end of every transfer (like rclone's closing stats) and the report file
 * of `--report FILE`: every transfer's outcome, as CSV or JSON (by the file's extension). Also the
 * text of a dry run's plan. The numbers come from ../../shared/transfer-summary.ts, as the UI's.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { BatchStatus, FileStatus, TransferPlan } from '../../shared/contract';
import { toCsv } from '../../shared/csv';
import {
  type TransferSummary,
  plainBytes,
  plainDuration,
  summarizeTransfer,
} from '../../shared/transfer-summary';

/** The closing summary, a few aligned lines. */
export function summaryText(s: TransferSummary): string {
  const lines: string[] = [];
  const elapsed = s.elapsed_ms === null ? 'unknown' : plainDuration(s.elapsed_ms);
  const speed = s.average_speed === null ? '' : `, ${plainBytes(s.average_speed)}/s`;
  lines.push(`Transferred:   ${plainBytes(s.bytes)} in ${s.done} file${s.done === 1 ? '' : 's'}${speed}`);
  const parts = [
    `${s.done} done`,
    `${s.failed} failed`,
    `${s.skipped} skipped (already done)`,
    ...(s.elsewhere ? [`${s.elsewhere} moved by another batch`] : []),
    ...(s.cancelled ? [`${s.cancelled} cancelled`] : []),
    ...(s.unfinished ? [`${s.unfinished} unfinished`] : []),
  ];
  lines.push(`Files:         ${parts.join(', ')} of ${s.files}`);
  lines.push(`Elapsed:       ${elapsed}`);
  if (s.failures.length) {
    lines.push('Failures:');
    for (const f of s.failures) lines.push(`  ${f.remote_key} — ${f.status}: ${f.reason}`);
  }
  return lines.join('\n') + '\n';
}

/** A transfer's outcome in a report. */
export type ReportOutcome =
  'done' | 'skipped' | 'elsewhere' | 'failed' | 'cancelled' | 'unfinished' | 'not_started';

export interface ReportRow {
  batch_id: string;
  code: string;
  bucket_name: string;
  remote_key: string;
  s4_key: string;
  outcome: ReportOutcome;
  status: FileStatus | '';
  size: number | null;
  transferred_bytes: number;
  retry_count: number;
  error_message: string;
}

const FAILED: ReadonlySet<FileStatus> = new Set(['s3_download_failed', 's4_upload_failed', 'error']);

function outcomeOf(f: BatchStatus['files'][number]): ReportOutcome {
  if (f.skipped) return 'skipped';
  if (f.in_batch) return 'elsewhere';
  if (f.status === 'done') return 'done';
  if (FAILED.has(f.status)) return 'failed';
  if (f.status === 'cancelled') return 'cancelled';
  return 'unfinished';
}

/** Every transfer of the batches, with the keys no batch could take (`refused`). */
export function reportRows(
  statuses: readonly BatchStatus[],
  refused: readonly { key: string; reason: string }[] = [],
  bucket = '',
): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const b of statuses) {
    for (const f of b.files) {
      rows.push({
        batch_id: b.batch_id,
        code: f.code,
        bucket_name: f.bucket_name,
        remote_key: f.remote_key,
        s4_key: f.s4_key,
        outcome: outcomeOf(f),
        status: f.status,
        size: f.total_bytes,
        transferred_bytes: f.transferred_bytes,
        retry_count: f.retry_count,
        error_message: f.error_message ?? '',
      });
    }
  }
  for (const r of refused) {
    rows.push({
      batch_id: '',
      code: r.key,
      bucket_name: bucket,
      remote_key: r.key,
      s4_key: '',
      outcome: 'not_started',
      status: '',
      size: null,
      transferred_bytes: 0,
      retry_count: 0,
      error_message: r.reason,
    });
  }
  return rows;
}

const COLUMNS: (keyof ReportRow)[] = [
  'batch_id',
  'code',
  'bucket_name',
  'remote_key',
  's4_key',
  'outcome',
  'status',
  'size',
  'transferred_bytes',
  'retry_count',
  'error_message',
];

/** Writes the report: JSON for a `.json` file (the summary and every row), else CSV (the rows). */
export async function writeReport(
  file: string,
  statuses: readonly BatchStatus[],
  opts: { elapsedMs: number; refused?: readonly { key: string; reason: string }[]; bucket?: string },
): Promise<void> {
  const rows = reportRows(statuses, opts.refused, opts.bucket);
  if (extname(file).toLowerCase() === '.json') {
    const summary = summarizeTransfer(statuses, { elapsedMs: opts.elapsedMs });
    await writeFile(file, JSON.stringify({ summary, files: rows }, null, 2) + '\n');
    return;
  }
  await writeFile(
    file,
    toCsv(
      COLUMNS.map((c) => ({ header: c, value: (r: ReportRow) => r[c] ?? '' })),
      rows,
    ),
  );
}

/** The plan of a dry run, for people. */
export function planText(plans: readonly TransferPlan[]): string {
  const sum = (pick: (p: TransferPlan) => { files: number; bytes: number }) =>
    plans.reduce((a, p) => ({ files: a.files + pick(p).files, bytes: a.bytes + pick(p).bytes }), {
      files: 0,
      bytes: 0,
    });
  const line = (label: string, c: { files: number; bytes: number }) =>
    `${label.padEnd(26)}${String(c.files).padStart(7)} file${c.files === 1 ? ' ' : 's'}  ${plainBytes(c.bytes)}\n`;
  const first = plans[0];
  let out = first
    ? `dry run: ${first.bucket} → ${first.destination} ${first.target} (nothing changed)\n`
    : '';
  out += line(
    'selected',
    sum((p) => p.selected),
  );
  out += line(
    'to transfer',
    sum((p) => p.to_transfer),
  );
  out += line(
    'already done (skipped)',
    sum((p) => p.already_done),
  );
  out += line(
    'in progress elsewhere',
    sum((p) => p.in_progress),
  );
  out += line(
    'missing',
    sum((p) => p.missing),
  );
  const filtered = sum((p) => p.filtered_out);
  if (filtered.files) out += line('left out by the filters', filtered);
  const batches = [...new Set(plans.flatMap((p) => p.in_progress.batches))];
  if (batches.length) out += `  in progress in: ${batches.join(', ')}\n`;
  for (const p of plans)
    for (const f of p.files)
      if (f.plan === 'missing' || f.plan === 'refused')
        out += `  ${f.plan.padEnd(8)} ${f.remote_key} — ${f.reason ?? ''}\n`;
  return out;
}
