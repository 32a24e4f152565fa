/**
 * The store's rules, written once: every change of a transfer or a batch is a pure transition
 * `(current, now) → next | unchanged` with its result. Both adapters apply them through their
 * compare-and-set (./core.ts), so MongoDB and SQLite can never disagree on what a claim, a finish or
 * a cancel means, and the rules can be tested without any store at all.
 *
 * SPEC.md "Data model", "Rules of a batch", "Processes and the store".
 */
import type { FolderClaim } from '../engine/ports';
import { FAILED_STATUSES } from '../../shared/constants';
import type { FileStatus } from '../../shared/contract';
import type {
  BatchDoc,
  BatchItemDoc,
  BatchRule,
  FileDoc,
  FileRule,
  FileSeed,
  FinishPatch,
  FolderDoc,
  FolderRule,
  HeldPatch,
  ItemOutcome,
  StopRequest,
  Verification,
} from './port';

/** Statuses in which a transfer still belongs to its batch's run. */
export const OPEN_STATUSES: readonly FileStatus[] = ['pending', 'processing', 'paused'];

export const isOpen = (s: FileStatus) => OPEN_STATUSES.includes(s);
export const isFinal = (s: FileStatus) => !isOpen(s);

const same = <R>(result: R) => ({ next: null, result });

function withStatus(doc: FileDoc, status: FileStatus, now: Date): FileDoc {
  return doc.status === status ? { ...doc } : { ...doc, status, status_updated_at: now };
}

function touched(doc: FileDoc, now: Date): FileDoc {
  return { ...doc, modified_date: now };
}

export function isHeldBy(doc: FileDoc | null, owner: string): doc is FileDoc {
  return doc !== null && doc.status === 'processing' && doc.lease_owner === owner;
}

export function isLeaseLive(doc: FileDoc, now: Date): boolean {
  return doc.status === 'processing' && doc.lease_expires_at instanceof Date && doc.lease_expires_at > now;
}

// ------------------------------------------------------------------------------ transfers

export type QueueResult =
  | { kind: 'queued'; doc: FileDoc }
  | { kind: 'already_done'; doc: FileDoc }
  | { kind: 'already_in_progress'; batch_id: string };

/**
 * Queues a transfer for `batchId`. Already `done` at this destination path → already_done (unless
 * `force`); queued, moving or paused in another batch → already_in_progress with that batch;
 * else pending and owned by `batchId`. A forced transfer of a done file renews its transfer_id
 * and remembers the node it replaces at this path (and only there).
 */
export function queueRule(
  seed: FileSeed,
  opts: { batchId: string; force: boolean; newTransferId: string; queuedAt?: Date },
): FileRule<QueueResult> {
  return (cur, now) => {
    if (cur && isOpen(cur.status)) {
      if (cur.batch_id && cur.batch_id !== opts.batchId) {
        return same({ kind: 'already_in_progress', batch_id: cur.batch_id });
      }
      if (cur.batch_id === opts.batchId) return same({ kind: 'queued', doc: cur });
      // Data of an older version without an owning batch: left alone only while someone holds it.
      if (isLeaseLive(cur, now)) return same({ kind: 'already_in_progress', batch_id: 'unknown' });
    }
    if (cur?.status === 'done' && !opts.force) return same({ kind: 'already_done', doc: cur });
    const fields = {
      code: seed.code,
      size: seed.size,
      etag: seed.etag,
      batch_id: opts.batchId,
      queued_at: opts.queuedAt ?? now,
      modified_date: now,
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
    };
    let next: FileDoc;
    if (!cur) {
      next = {
        bucket_name: seed.bucket_name,
        remote_key: seed.remote_key,
        destination: seed.destination,
        s4_key: seed.s4_key,
        ...fields,
        status: 'pending',
        status_updated_at: now,
        creation_date: now,
        retry_count: 0,
        transferred_bytes: 0,
        transfer_id: opts.newTransferId,
        rev: 0,
      };
    } else {
      next = { ...withStatus(cur, 'pending', now), ...fields, error_message: null };
      if (cur.status === 'done') {
        next.transfer_id = opts.newTransferId;
        next.replaces_handle = cur.mega_handle ?? null;
        next.mega_handle = null;
        next.mega_link = null;
        next.transferred_bytes = 0;
        next.upload_session = null;
        next.verify_result = null;
        next.verified_at = null;
      } else if (!cur.transfer_id) {
        next.transfer_id = opts.newTransferId;
      }
    }
    return { next, result: { kind: 'queued', doc: next } };
  };
}

/**
 * Records a transfer that could not start (e.g. the object is missing), unless another batch is
 * moving it (then it is that batch's, and left alone).
 */
export function failToStartRule(
  seed: FileSeed,
  batchId: string,
  status: FileStatus,
  message: string,
): FileRule<QueueResult | { kind: 'failed'; doc: FileDoc }> {
  return (cur, now) => {
    if (cur && isOpen(cur.status) && cur.batch_id && cur.batch_id !== batchId) {
      return same({ kind: 'already_in_progress', batch_id: cur.batch_id });
    }
    // Data of an older version without an owning batch: left alone only while someone holds it.
    if (cur && !cur.batch_id && isLeaseLive(cur, now)) {
      return same({ kind: 'already_in_progress', batch_id: 'unknown' });
    }
    const fields = {
      code: seed.code,
      size: seed.size,
      etag: seed.etag,
      batch_id: batchId,
      error_message: message,
      modified_date: now,
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
    };
    const next: FileDoc = cur
      ? { ...withStatus(cur, status, now), ...fields }
      : {
          bucket_name: seed.bucket_name,
          remote_key: seed.remote_key,
          destination: seed.destination,
          s4_key: seed.s4_key,
          ...fields,
          status,
          status_updated_at: now,
          creation_date: now,
          retry_count: 0,
          transferred_bytes: 0,
          rev: 0,
        };
    return { next, result: { kind: 'failed', doc: next } };
  };
}

/** Takes a pending transfer (not one a cancel or pause is stopping) for `owner`. */
export function claimRule(owner: string, leaseMs: number): FileRule<FileDoc | null> {
  return (cur, now) => {
    if (!cur || cur.status !== 'pending' || cur.stop_request) return same(null);
    const next: FileDoc = {
      ...touched(withStatus(cur, 'processing', now), now),
      lease_owner: owner,
      lease_expires_at: new Date(now.getTime() + leaseMs),
      claims: (cur.claims ?? 0) + 1,
    };
    return { next, result: next };
  };
}

export type RenewResult = { held: false } | { held: true; stop: StopRequest | null };

/** Renews the holder's lease and writes its progress; tells it when a stop was asked for. */
export function renewRule(owner: string, leaseMs: number, transferredBytes: number): FileRule<RenewResult> {
  return (cur, now) => {
    if (!isHeldBy(cur, owner)) return same({ held: false });
    const next: FileDoc = {
      ...touched(cur, now),
      lease_expires_at: new Date(now.getTime() + leaseMs),
      transferred_bytes: transferredBytes,
    };
    return { next, result: { held: true, stop: cur.stop_request ?? null } };
  };
}

export function patchHeldRule(owner: string, patch: HeldPatch): FileRule<boolean> {
  return (cur, now) => {
    if (!isHeldBy(cur, owner)) return same(false);
    const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    return { next: { ...touched(cur, now), ...set }, result: true };
  };
}

/** A failed attempt that will be retried: retry_count +1 and the reason; the holder keeps it. */
export function failedAttemptRule(owner: string, message: string): FileRule<boolean> {
  return (cur, now) => {
    if (!isHeldBy(cur, owner)) return same(false);
    return {
      next: { ...touched(cur, now), error_message: message, retry_count: (cur.retry_count ?? 0) + 1 },
      result: true,
    };
  };
}

/** The end of the holder's attempt: the final status, and the lease dropped. */
export function finishRule(owner: string, patch: FinishPatch): FileRule<FileDoc | null> {
  return (cur, now) => {
    if (!isHeldBy(cur, owner)) return same(null);
    const next: FileDoc = {
      ...touched(withStatus(cur, patch.status, now), now),
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
    };
    if (patch.error_message !== undefined) next.error_message = patch.error_message;
    if (patch.transferred_bytes !== undefined) next.transferred_bytes = patch.transferred_bytes;
    if (patch.mega_handle !== undefined) next.mega_handle = patch.mega_handle;
    if (patch.mega_link !== undefined) next.mega_link = patch.mega_link;
    if (patch.size !== undefined) next.size = patch.size;
    if (patch.count_failure) next.retry_count = (cur.retry_count ?? 0) + 1;
    if (patch.status === 'done') next.upload_session = null;
    return { next, result: next };
  };
}

/**
 * The holder gives the transfer back: `pending` for any process to take (a shutdown), or what a
 * stop asked for (`cancelled`, `paused`).
 */
export function releaseRule(owner: string, status: FileStatus = 'pending'): FileRule<FileDoc | null> {
  return (cur, now) => {
    if (!isHeldBy(cur, owner)) return same(null);
    const next = released(cur, status, now);
    return { next, result: next };
  };
}

/** The transfer let go by its holder, in `status` (a cancelled one says why). */
function released(cur: FileDoc, status: FileStatus, now: Date): FileDoc {
  const next: FileDoc = {
    ...touched(withStatus(cur, status, now), now),
    lease_owner: null,
    lease_expires_at: null,
    stop_request: null,
  };
  if (status === 'cancelled') next.error_message = 'cancelled by the user';
  return next;
}

/**
 * Takes back a transfer whose holder is gone (its lease expired, or `ownerDead` says the process
 * has ended): pending again, or what a stop asked for while it was held.
 */
export function reclaimRule(
  ownerDead: (owner: string | null | undefined) => boolean,
): FileRule<FileDoc | null> {
  return (cur, now) => {
    if (!cur || cur.status !== 'processing') return same(null);
    if (isLeaseLive(cur, now) && !ownerDead(cur.lease_owner)) return same(null);
    const status: FileStatus =
      cur.stop_request === 'cancel' ? 'cancelled' : cur.stop_request === 'pause' ? 'paused' : 'pending';
    const next = released(cur, status, now);
    return { next, result: next };
  };
}

export type StopResult = 'stopped' | 'asked_holder' | 'not_ours';

/**
 * A cancel or pause of `batchId` reaching one of its transfers: a pending (or, for cancel, paused)
 * one stops at once; a processing one gets the request, which its holder sees at its next lease
 * renewal. A transfer another batch owns is never touched.
 */
export function stopRule(batchId: string, kind: StopRequest): FileRule<StopResult> {
  return (cur, now) => {
    if (!cur || cur.batch_id !== batchId) return same('not_ours');
    if (cur.status === 'pending' || (kind === 'cancel' && cur.status === 'paused')) {
      const status: FileStatus = kind === 'cancel' ? 'cancelled' : 'paused';
      const next: FileDoc = { ...touched(withStatus(cur, status, now), now), stop_request: null };
      if (kind === 'cancel') next.error_message = 'cancelled by the user';
      return { next, result: 'stopped' };
    }
    if (cur.status === 'processing') {
      if (cur.stop_request === kind || cur.stop_request === 'cancel') return same('asked_holder');
      return { next: { ...touched(cur, now), stop_request: kind }, result: 'asked_holder' };
    }
    return same('not_ours');
  };
}

/**
 * A cancelled transfer forgets the checkpoint of its unfinished upload once the destination has
 * dropped what it left (the upload of generation `transferId` only).
 */
export function dropSessionRule(transferId: string): FileRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.status !== 'cancelled' || cur.upload_session?.transfer_id !== transferId)
      return same(false);
    return { next: { ...touched(cur, now), upload_session: null }, result: true };
  };
}

/** A paused transfer of `batchId` goes back to the queue (a pause being asked is withdrawn). */
export function resumeRule(batchId: string): FileRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.batch_id !== batchId) return same(false);
    if (cur.status === 'paused') {
      return {
        next: { ...touched(withStatus(cur, 'pending', now), now), queued_at: now, stop_request: null },
        result: true,
      };
    }
    if (cur.status === 'processing' && cur.stop_request === 'pause') {
      return { next: { ...touched(cur, now), stop_request: null }, result: true };
    }
    return same(false);
  };
}

/** A pending transfer of `batchId` takes its place in the queue at `queuedAt` (moved to the front). */
export function frontRule(batchId: string, queuedAt: Date): FileRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.batch_id !== batchId || cur.status !== 'pending') return same(false);
    return { next: { ...touched(cur, now), queued_at: queuedAt }, result: true };
  };
}

/** A retry of `batchId` queues its failed and cancelled transfers again (only while it owns them). */
export function requeueRule(batchId: string): FileRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.batch_id !== batchId) return same(false);
    if (!FAILED_STATUSES.includes(cur.status)) return same(false);
    return {
      next: {
        ...touched(withStatus(cur, 'pending', now), now),
        queued_at: now,
        error_message: null,
        stop_request: null,
      },
      result: true,
    };
  };
}

/** Records what a verify found, only while the file is `done` with the copy it checked. */
export function verificationRule(v: Verification): FileRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.status !== 'done' || (cur.mega_handle ?? null) !== v.mega_handle) return same(false);
    return {
      next: { ...touched(cur, now), verify_result: v.verify_result, verified_at: v.verified_at },
      result: true,
    };
  };
}

// ------------------------------------------------------------------------------ batches

export function outcomeOf(doc: FileDoc, now: Date): ItemOutcome {
  return {
    status: doc.status,
    size: doc.size ?? null,
    transferred_bytes:
      doc.status === 'done' ? (doc.size ?? doc.transferred_bytes ?? 0) : (doc.transferred_bytes ?? 0),
    retry_count: doc.retry_count ?? 0,
    error_message: doc.error_message ?? null,
    mega_link: doc.mega_link ?? null,
    at: now,
  };
}

/** The item of `batch` that `doc` is the transfer of. */
export function itemFor(
  batch: BatchDoc,
  doc: Pick<FileDoc, 'remote_key' | 's4_key'>,
): BatchItemDoc | undefined {
  return batch.files.find((i) => i.remote_key === doc.remote_key && i.s4_key === doc.s4_key);
}

/**
 * Records, once, how the batch's transfer ended: from then on the batch shows that outcome, whatever
 * later batches do with the same transfer.
 */
export function recordOutcomeRule(doc: FileDoc): BatchRule<boolean> {
  return (cur, now) => {
    if (!cur || doc.batch_id !== cur.batch_id || isOpen(doc.status)) return same(false);
    const item = itemFor(cur, doc);
    if (!item || item.start_result !== 'started' || item.outcome) return same(false);
    return {
      next: {
        ...cur,
        updated_at: now,
        files: cur.files.map((i) => (i === item ? { ...i, outcome: outcomeOf(doc, now) } : i)),
      },
      result: true,
    };
  };
}

export type EndResult = { ended: false; open: number } | { ended: true; batch: BatchDoc };

/**
 * Ends a running batch when nothing of it is open any more, whichever process moved its files
 * (its items another batch moves included: it waits for them): the outcomes not yet recorded are
 * taken from `docs` (the batch's transfers as read just before),
 * and the state becomes `cancelled` when a cancel was asked, else `finished`. The write is
 * conditional on the batch's revision, so a retry or cancel in between makes it read again.
 */
export function endBatchRule(docs: FileDoc[]): BatchRule<EndResult> {
  return (cur, now) => {
    if (!cur || cur.state !== 'running') return same({ ended: false, open: 0 });
    const byPath = new Map(docs.map((d) => [`${d.remote_key}\u0000${d.s4_key}`, d]));
    let open = 0;
    const files = cur.files.map((item) => {
      if (item.outcome) return item;
      if (item.start_result === 'already_in_progress') {
        // Moved by another batch: this one waits for it and records how it ended there.
        const doc = byPath.get(`${item.remote_key}\u0000${item.s4_key}`);
        if (doc && isOpen(doc.status)) {
          if (cur.stop_request !== 'cancel') {
            open++;
            return item;
          }
          // Cancelled: this batch stops waiting (the other batch's transfer goes on untouched).
          return {
            ...item,
            outcome: {
              ...outcomeOf(doc, now),
              status: 'cancelled' as const,
              error_message: `cancelled while ${doc.batch_id ?? 'another batch'} was moving it`,
            },
          };
        }
        return doc ? { ...item, outcome: outcomeOf(doc, now) } : item;
      }
      if (item.start_result !== 'started') return item;
      const doc = byPath.get(`${item.remote_key}\u0000${item.s4_key}`);
      if (!doc) {
        open++; // queued by the start that recorded the batch, or about to be
        return item;
      }
      if (doc.batch_id === cur.batch_id) {
        if (isOpen(doc.status)) {
          open++;
          return item;
        }
        return { ...item, outcome: outcomeOf(doc, now) };
      }
      // Another batch took the transfer over before this one recorded how it ended.
      return {
        ...item,
        outcome: {
          status: 'error' as const,
          size: doc.size ?? null,
          transferred_bytes: 0,
          retry_count: 0,
          error_message: `outcome not recorded: the transfer now belongs to ${doc.batch_id ?? 'another batch'}`,
          mega_link: null,
          at: now,
        },
      };
    });
    if (open > 0) return same({ ended: false, open });
    const next: BatchDoc = {
      ...cur,
      files,
      state: cur.stop_request === 'cancel' ? 'cancelled' : 'finished',
      stop_request: null,
      finished_at: now,
      updated_at: now,
    };
    return { next, result: { ended: true, batch: next } };
  };
}

/** A cancel asked for a running batch (any process may ask; the batch ends `cancelled`). */
export function cancelBatchRule(): BatchRule<'asked' | 'ended' | 'missing'> {
  return (cur, now) => {
    if (!cur) return same('missing');
    if (cur.state !== 'running') return same('ended');
    if (cur.stop_request === 'cancel') return same('asked');
    return { next: { ...cur, stop_request: 'cancel', updated_at: now }, result: 'asked' };
  };
}

/** Clears an ended batch from Transfers (`clear`), or shows it again (`show`); a running one stays. */
export function clearBatchRule(action: 'clear' | 'show'): BatchRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.state === 'running') return same(false);
    if (action === 'clear' ? cur.cleared_at : !cur.cleared_at) return same(false);
    return { next: { ...cur, cleared_at: action === 'clear' ? now : null, updated_at: now }, result: true };
  };
}

/**
 * A retry: the batch runs again and forgets the outcomes of the items it restarts (their new
 * outcomes are recorded when they end).
 */
export function reopenBatchRule(restart: { remote_key: string; s4_key: string }[]): BatchRule<boolean> {
  return (cur, now) => {
    if (!cur || cur.state === 'running') return same(false);
    const keys = new Set(restart.map((r) => `${r.remote_key}\u0000${r.s4_key}`));
    return {
      next: {
        ...cur,
        state: 'running',
        stop_request: null,
        finished_at: null,
        cleared_at: null,
        updated_at: now,
        files: cur.files.map((i) =>
          keys.has(`${i.remote_key}\u0000${i.s4_key}`)
            ? { ...i, start_result: 'started' as const, reason: null, in_batch: null, outcome: null }
            : i,
        ),
      },
      result: true,
    };
  };
}

/** Writes the items' start results once the start has queued them. */
export function setItemsRule(files: BatchItemDoc[]): BatchRule<boolean> {
  return (cur, now) => {
    if (!cur) return same(false);
    return { next: { ...cur, files, updated_at: now }, result: true };
  };
}

// ------------------------------------------------------------------------------ folders

/**
 * Before a process creates a folder at a destination: the folder's recorded handle when another
 * process made it, else the right to make it (a lease, like a transfer's), else who holds that
 * right now. `gone`: a recorded handle this process found missing (the folder was deleted), which
 * may be made again.
 */
export function folderClaimRule(
  owner: string,
  leaseMs: number,
  gone: string | null = null,
): FolderRule<FolderClaim> {
  return (cur, now) => {
    if (cur?.handle && cur.handle !== gone) return same({ kind: 'known', handle: cur.handle });
    if (
      cur &&
      !cur.handle &&
      cur.lease_owner &&
      cur.lease_owner !== owner &&
      cur.lease_expires_at &&
      cur.lease_expires_at > now
    ) {
      return same({ kind: 'held', owner: cur.lease_owner });
    }
    const next: FolderDoc = {
      destination: cur?.destination ?? '',
      path: cur?.path ?? '',
      handle: null,
      lease_owner: owner,
      lease_expires_at: new Date(now.getTime() + leaseMs),
      rev: cur?.rev ?? 0,
      created_at: cur?.created_at ?? now,
      modified_date: now,
    };
    const takeover = Boolean(cur && ((cur.lease_owner && cur.lease_owner !== owner) || cur.handle));
    return { next, result: { kind: 'mine', takeover } };
  };
}

/** The folder `owner` made (or found) under its claim: its handle, for every process. */
export function folderRecordRule(owner: string, handle: string): FolderRule<boolean> {
  return (cur, now) => {
    if (cur?.handle === handle) return same(true);
    if (cur && cur.lease_owner !== owner && cur.handle) return same(false);
    const next: FolderDoc = {
      destination: cur?.destination ?? '',
      path: cur?.path ?? '',
      handle,
      lease_owner: null,
      lease_expires_at: null,
      rev: cur?.rev ?? 0,
      created_at: cur?.created_at ?? now,
      modified_date: now,
    };
    return { next, result: true };
  };
}
