/**
 * Documents written by MegaFerry 0.1 (nedb files, MongoDB collections, and the first SQLite
 * schema) brought to today's data model, written once for both adapters: a transfer is keyed by
 * its destination too (filled from the MEGA account configured when the store first opens with
 * this version), `last_batch_id` becomes the owning `batch_id`, every document gets a revision,
 * and a batch's items get their destination path and, for ended batches, the outcome their
 * transfers show now (the best record there is of how they ended).
 */
import { keyProblem, targetProblem } from '../../shared/object-paths';
import { s4Key } from '../engine/paths';
import type { BatchDoc, BatchItemDoc, FileDoc, StartResult } from './port';
import { isFinal, outcomeOf } from './rules';

/** The destination 0.1 data went to, when no MEGA account is configured at the upgrade. */
export const UNKNOWN_MEGA_DESTINATION = 'mega:unknown';

export type LegacyFileDoc = Omit<FileDoc, 'destination' | 'rev' | 'batch_id'> & {
  destination?: string;
  rev?: number;
  batch_id?: string | null;
  last_batch_id?: string | null;
};

interface LegacyItem {
  bucket_name?: string;
  remote_key: string;
  code: string;
  s4_key?: string;
  start_result: StartResult | 'in_flight';
  reason?: string | null;
  in_batch?: string | null;
  outcome?: BatchItemDoc['outcome'];
}

export type LegacyBatchDoc = Omit<BatchDoc, 'destination' | 'rev' | 'files'> & {
  destination?: string;
  rev?: number;
  files: LegacyItem[];
};

export function isCurrentFile(doc: { destination?: unknown; rev?: unknown }): boolean {
  return typeof doc.destination === 'string' && typeof doc.rev === 'number';
}

export function upgradeFile(doc: LegacyFileDoc, destination: string): FileDoc {
  if (isCurrentFile(doc)) return doc as FileDoc;
  const { last_batch_id, ...rest } = doc;
  return {
    ...rest,
    destination: doc.destination ?? destination,
    batch_id: doc.batch_id ?? last_batch_id ?? null,
    queued_at: doc.status === 'pending' ? doc.modified_date : null,
    rev: doc.rev ?? 0,
  };
}

/** The path a 0.1 batch sent a key to ('' for a key that cannot be placed: it was never sent). */
export function legacyPath(target: string, key: string): string {
  return keyProblem(key) || targetProblem(target) ? '' : s4Key(target, key);
}

/**
 * `files` finds a batch's transfer as it is now, to record the outcome of an ended batch's items
 * (0.1 kept none).
 */
export function upgradeBatch(
  batch: LegacyBatchDoc,
  destination: string,
  files: (ref: { bucket_name: string; remote_key: string; s4_key: string }) => FileDoc | undefined,
): BatchDoc {
  if (typeof batch.destination === 'string' && typeof batch.rev === 'number') return batch as BatchDoc;
  const ended = batch.state !== 'running';
  const items: BatchItemDoc[] = batch.files.map((item) => {
    const s4_key = item.s4_key ?? legacyPath(batch.options.target ?? '/', item.remote_key);
    const start_result: StartResult =
      item.start_result === 'in_flight' ? 'already_in_progress' : item.start_result;
    const next: BatchItemDoc = {
      code: item.code,
      remote_key: item.remote_key,
      s4_key,
      start_result,
      reason: item.reason ?? null,
      in_batch: item.in_batch ?? null,
      outcome: item.outcome ?? null,
    };
    if (ended && !next.outcome && start_result === 'started') {
      const doc = files({ bucket_name: batch.options.bucket, remote_key: item.remote_key, s4_key });
      if (doc && isFinal(doc.status)) next.outcome = outcomeOf(doc, batch.finished_at ?? batch.updated_at);
    }
    return next;
  });
  return { ...batch, destination: batch.destination ?? destination, files: items, rev: batch.rev ?? 0 };
}
