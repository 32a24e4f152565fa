/**
 * The metadata store port. Two adapters implement it (MongoDB and an embedded file-backed store);
 * one conformance suite (test/store.conformance.test.ts) runs against both.
 *
 * Documents in `files` carry seed B's fields with exactly these names; the rest are our snake_case
 * extensions. A file is identified by `{bucket_name, remote_key}` (unique index).
 */
import type { VerifyResult } from '../../shared/api';
import type { BatchRequest, BatchState, FileStatus } from '../../shared/contract';

export interface FileRef {
  bucket_name: string;
  remote_key: string;
}

export interface FileDoc extends FileRef {
  code: string;
  s4_key: string;
  status: FileStatus;
  status_updated_at: Date;
  creation_date: Date;
  modified_date: Date;
  retry_count: number;
  error_message?: string | null;
  // extensions
  size?: number | null;
  etag?: string | null;
  transferred_bytes?: number;
  last_batch_id?: string | null;
  /**
   * Identifies one generation of this file at the destination: kept across retries and restarts,
   * renewed by a forced transfer. The destination node carries it, so a node left by a crash is
   * recognised (and adopted) instead of being uploaded a second time.
   */
  transfer_id?: string | null;
  mega_handle?: string | null;
  mega_link?: string | null;
  /** The node a forced transfer replaces; it goes to the Rubbish Bin once the new one exists. */
  replaces_handle?: string | null;
  lease_owner?: string | null;
  lease_expires_at?: Date | null;
  /**
   * Where an interrupted upload stands, so a restart continues it instead of starting over:
   * written by the engine at checkpoints, cleared when the file is done or starts over.
   */
  upload_session?: UploadSessionDoc | null;
  /**
   * When `megaferry verify` last downloaded this copy and checked it against the source, and what
   * it found. Cleared when a forced transfer replaces the copy.
   */
  verified_at?: Date | null;
  verify_result?: VerifyResult | null;
}

/** What a verify found for the copy `mega_handle` of a `done` file. */
export interface Verification {
  mega_handle: string | null;
  verify_result: VerifyResult;
  verified_at: Date;
}

/**
 * A resumable upload's checkpoint. `state` is the destination's own record, sealed by it: no
 * usable file key is ever stored in clear.
 */
export interface UploadSessionDoc {
  transfer_id: string;
  size: number;
  etag: string | null;
  /** Bytes confirmed at the destination, in order from 0: the next read starts here. */
  next_offset: number;
  state: Record<string, unknown>;
}

/** Fields a lease holder may set without changing the status. */
export type HeldPatch = Partial<
  Pick<FileDoc, 'mega_handle' | 'mega_link' | 'size' | 'etag' | 'replaces_handle' | 'upload_session'>
>;

/** What a batch start knows about a file before it is queued. */
export interface FileSeed extends FileRef {
  code: string;
  s4_key: string;
  size: number | null;
  etag: string | null;
  batch_id: string;
}

export interface BatchFileEntry extends FileRef {
  code: string;
  /** Set when the file was not started (missing object, already done…). */
  start_result: 'started' | 'already_done' | 'failed_to_start' | 'in_flight';
  reason?: string | null;
}

export interface BatchDoc {
  batch_id: string;
  options: BatchRequest;
  files: BatchFileEntry[];
  state: BatchState;
  created_at: Date;
  updated_at: Date;
  finished_at?: Date | null;
}

export interface FilesPage {
  files: FileDoc[];
  next_cursor: string | null;
}

export interface FileListQuery {
  status?: FileStatus;
  /** Case-insensitive substring of code, remote_key or s4_key. */
  q?: string;
  limit: number;
  cursor?: string;
}

/** Fields a finishing transfer may set together with its new status. */
export interface FinishPatch {
  status: FileStatus;
  error_message?: string | null;
  /** +1 to retry_count (a failed attempt). */
  count_failure?: boolean;
  transferred_bytes?: number;
  mega_handle?: string | null;
  mega_link?: string | null;
  size?: number | null;
}

export interface MetadataStore {
  readonly kind: 'mongodb' | 'embedded';
  /** Connects and creates the indexes (unique {bucket_name, remote_key}; status). */
  init(): Promise<void>;
  close(): Promise<void>;

  getFile(ref: FileRef): Promise<FileDoc | null>;
  getFiles(refs: FileRef[]): Promise<FileDoc[]>;

  /**
   * Inserts the document as `pending` (creation_date set once, retry_count 0) or, when it exists
   * and is not `processing`, updates code, s4_key, size, etag, last_batch_id and sets it `pending`.
   * When `force` is true a `done` document gets a new transfer_id, remembers its old
   * mega_handle in replaces_handle and drops the old copy's verification. Returns the document after the write, or null when it is
   * `processing` under a live lease (someone is transferring it).
   */
  queueFile(seed: FileSeed, opts: { force: boolean; newTransferId: string }): Promise<FileDoc | null>;

  /** Marks a file failed before it started (e.g. missing object); inserts it if needed. */
  markFailedToStart(seed: FileSeed, status: FileStatus, message: string): Promise<FileDoc>;

  /**
   * Atomically takes a file for transfer: only when its status is `pending`, or `processing` with
   * an expired lease. Sets `processing`, the lease, and returns the document; null otherwise.
   */
  claim(ref: FileRef, owner: string, leaseMs: number): Promise<FileDoc | null>;

  /** Writes progress and renews the lease, only while `owner` holds it. */
  renewLease(
    ref: FileRef,
    owner: string,
    leaseMs: number,
    progress: { transferred_bytes: number },
  ): Promise<boolean>;

  /** Sets fields on a file held by `owner` without changing its status (e.g. mega_handle). */
  patchHeld(ref: FileRef, owner: string, patch: HeldPatch): Promise<boolean>;

  /**
   * Counts a failed attempt that will be retried: retry_count +1 and error_message set, status
   * stays `processing` and the lease stays with `owner`.
   */
  recordFailedAttempt(ref: FileRef, owner: string, errorMessage: string): Promise<boolean>;

  /**
   * Records what a verify found (verify_result, verified_at; modified_date too, status untouched),
   * only while the file is `done` with the copy it checked (`mega_handle`): a verify of an earlier
   * copy never lands on a newer one. False when nothing was written.
   */
  recordVerification(ref: FileRef, verification: Verification): Promise<boolean>;

  /** Sets the final status of an attempt and drops the lease, only while `owner` holds it. */
  finish(ref: FileRef, owner: string, patch: FinishPatch): Promise<boolean>;

  /**
   * Sets `status` for files in `from` statuses (no lease check): used by cancel for pending files
   * and by retry. Returns how many changed.
   */
  setStatusWhere(
    refs: FileRef[],
    from: FileStatus[],
    to: FileStatus,
    message?: string | null,
  ): Promise<number>;

  /** Every `processing` document (the engine decides which leases are dead). */
  listProcessing(): Promise<FileDoc[]>;
  /** Returns a `processing` document to `pending` when its lease is still held by `owner`. */
  release(ref: FileRef, owner: string, status?: FileStatus): Promise<boolean>;

  listFiles(query: FileListQuery): Promise<FilesPage>;

  insertBatch(batch: BatchDoc): Promise<void>;
  getBatch(batchId: string): Promise<BatchDoc | null>;
  updateBatch(
    batchId: string,
    patch: Partial<Pick<BatchDoc, 'state' | 'finished_at' | 'files'>>,
  ): Promise<void>;
  /** Newest first. */
  listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]>;
}
