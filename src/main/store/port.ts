/**
 * The metadata store port. Two adapters implement the few primitives it rests on (MongoDB, and
 * SQLite in the data folder); every rule of the store is written once, as a pure transition in
 * ./rules.ts, and applied by ./core.ts through the adapters' compare-and-set. One conformance
 * suite (test/store.conformance.test.ts) and one multi-process suite run against both.
 *
 * A document in `files` is one transfer: a source object to one destination path. It carries
 * seed B's fields with exactly these names; the rest are our snake_case extensions. It is
 * identified by `{bucket_name, remote_key, destination, s4_key}` (unique index).
 */
import type { ProcessKind, VerifyResult } from '../../shared/api';
import type { BatchRequest, BatchState, FileStatus } from '../../shared/contract';

/** One transfer: the source object and the destination path it goes to. */
export interface TransferRef {
  bucket_name: string;
  remote_key: string;
  /** `mega:<account e-mail>`, `s4:<endpoint host>/<bucket>` or `local:<folder>`. */
  destination: string;
  s4_key: string;
}

/** Why a process stops a transfer it holds: the store carries the request to the holder. */
export type StopRequest = 'cancel' | 'pause';

export interface FileDoc extends TransferRef {
  code: string;
  status: FileStatus;
  status_updated_at: Date;
  creation_date: Date;
  modified_date: Date;
  retry_count: number;
  error_message?: string | null;
  // extensions
  /** Compare-and-set revision: +1 at every write. */
  rev: number;
  size?: number | null;
  etag?: string | null;
  transferred_bytes?: number;
  /** The batch that owns the transfer now (it queued it last). */
  batch_id?: string | null;
  /** When the transfer was queued (the shared queue is first in, first out). */
  queued_at?: Date | null;
  /**
   * Identifies one generation of this file at the destination: kept across retries and restarts,
   * renewed by a forced transfer. The destination node carries it, so a node left by a crash is
   * recognised (and adopted) instead of being uploaded a second time.
   */
  transfer_id?: string | null;
  mega_handle?: string | null;
  mega_link?: string | null;
  /** The node at this path a forced transfer replaces; it goes to the Rubbish Bin once the new one exists. */
  replaces_handle?: string | null;
  /** The process that holds the transfer (`worker` in SPEC.md's words) and until when. */
  lease_owner?: string | null;
  lease_expires_at?: Date | null;
  /**
   * How many times the transfer was claimed: above 1, an earlier holder may have left a node at
   * the path that this process's copy of the destination's tree does not know (it looks afresh).
   */
  claims?: number;
  /** Set by a cancel or pause from any process; the holder sees it at its next lease renewal. */
  stop_request?: StopRequest | null;
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

/** What a batch start knows about a transfer before it is queued. */
export interface FileSeed extends TransferRef {
  code: string;
  size: number | null;
  etag: string | null;
}

/** How one item of a batch ended, recorded once by the batch and never rewritten by another. */
export interface ItemOutcome {
  status: FileStatus;
  size: number | null;
  transferred_bytes: number;
  retry_count: number;
  error_message: string | null;
  mega_link: string | null;
  at: Date;
}

export type StartResult = 'started' | 'already_done' | 'failed_to_start' | 'already_in_progress';

export interface BatchItemDoc {
  code: string;
  remote_key: string;
  /** The destination path ('' when the key cannot be placed inside the target). */
  s4_key: string;
  start_result: StartResult;
  reason?: string | null;
  /** For `already_in_progress`: the batch that owns the transfer. */
  in_batch?: string | null;
  outcome?: ItemOutcome | null;
}

export interface BatchDoc {
  batch_id: string;
  /**
   * The request as started (bucket, selection, destination kind, target, max_concurrent, force,
   * run). `run` is absent in batches older than workers: they run `here`.
   */
  options: Omit<BatchRequest, 'run' | 'order' | 'destination'> & {
    run?: BatchRequest['run'];
    order?: BatchRequest['order'];
    /** The destination's kind (absent in batches older than destinations: `mega`). */
    destination?: BatchRequest['destination'];
  };
  /** Where the batch sends its files (the `destination` of its transfers). */
  destination: string;
  /** The machine of the process that started it (a local folder is written there only). */
  host?: string;
  files: BatchItemDoc[];
  /** `running` until the store says nothing of it is pending or processing. */
  state: BatchState;
  /** A cancel asked for by any process: the batch ends `cancelled`. */
  stop_request?: StopRequest | null;
  rev: number;
  created_at: Date;
  updated_at: Date;
  finished_at?: Date | null;
  /**
   * When it was cleared from Transfers (every UI, `status`): set only once it has ended, and gone
   * when it runs again. Its files stay in History.
   */
  cleared_at?: Date | null;
}

/**
 * A folder at a destination, as the processes sharing the store know it: one process at a time
 * may create it (it holds the record's lease), and every other uses the handle it records, so two
 * processes that need the same new folder at the same moment never make two.
 */
export interface FolderDoc {
  destination: string;
  /** From the drive root, starting with "/". */
  path: string;
  handle: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  rev: number;
  created_at: Date;
  modified_date: Date;
}

export type { ProcessKind } from '../../shared/api';

/**
 * A process that works the store's queue, as it last said (its heartbeat, written about once a
 * second by itself alone): the Workers panel and `GET /api/workers` show them, and a file's row
 * names the process that moves it.
 */
export interface ProcessDoc {
  /** The lease owner id of the process (`host:pid:nonce`). */
  id: string;
  name: string;
  kind: ProcessKind;
  host: string;
  pid: number;
  /** MegaFerry's version. */
  version: string;
  /** The destination whose queue it works (`mega:<e-mail>`). */
  destination: string;
  /** Transfers it may move at once. */
  capacity: number;
  started_at: Date;
  last_seen: Date;
  /** Set when it stopped cleanly (a killed process just stops heartbeating). */
  stopped_at: Date | null;
  /** Transfers it moves now, and their bytes per second together. */
  active: number;
  bytes_per_s: number;
  /** Transfers it finished as done since it started. */
  moved: number;
  /** Destinations whose queue it holds after a quota refusal, why, and when it tries again. */
  holds?: DestinationHold[];
}

/** A destination's queue waiting after MEGA refused more data (over its storage or transfer quota). */
export interface DestinationHold {
  destination: string;
  reason: string;
  /** ISO date of the next try. */
  retry_at: string;
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

/** Which pending transfers a runner may take. */
export interface ClaimScope {
  /** The destinations this process can write (an empty list claims nothing). */
  destinations: string[];
  /** Only these batches (a CLI run); absent: any running batch (the desktop, serve, workers). */
  batch_ids?: string[];
  /** Batches this process may not take more of right now (their max_concurrent is reached here). */
  exclude_batch_ids?: string[];
}

export interface ClaimResult {
  doc: FileDoc | null;
  /** Candidates another process took between this process's read and its write. */
  lost: number;
}

/**
 * The primitives an adapter provides. Writes are compare-and-set on `rev`: `expectedRev` null
 * inserts (false when the document exists), a number updates only that revision (false when
 * another writer got there first). Everything else is written once, in ./core.ts.
 */
export interface StoreAdapter {
  readonly kind: 'mongodb' | 'embedded';
  init(): Promise<void>;
  close(): Promise<void>;
  readFile(ref: TransferRef): Promise<FileDoc | null>;
  readFiles(refs: TransferRef[]): Promise<FileDoc[]>;
  writeFile(next: FileDoc, expectedRev: number | null): Promise<boolean>;
  readBatch(batchId: string): Promise<BatchDoc | null>;
  writeBatch(next: BatchDoc, expectedRev: number | null): Promise<boolean>;
  readFolder(destination: string, path: string): Promise<FolderDoc | null>;
  writeFolder(next: FolderDoc, expectedRev: number | null): Promise<boolean>;
  /** Pending transfers in scope, oldest queued first. */
  findPending(scope: ClaimScope, limit: number): Promise<FileDoc[]>;
  /** Transfers of these batches that are pending, processing or paused. */
  findOpen(batchIds: string[]): Promise<FileDoc[]>;
  /** Which of these batches have a transfer pending, processing or paused (no documents read). */
  openBatches(batchIds: string[]): Promise<string[]>;
  /** Every `processing` document. */
  findProcessing(): Promise<FileDoc[]>;
  listFiles(query: FileListQuery): Promise<FilesPage>;
  /** Newest first. */
  listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]>;
  /** Writes a process's heartbeat (inserting it the first time: only that process writes it). */
  writeProcess(doc: ProcessDoc): Promise<void>;
  listProcesses(): Promise<ProcessDoc[]>;
  /** Forgets processes last seen before `before`; returns how many. */
  deleteProcesses(before: Date): Promise<number>;
}

/** The store as the engine and the service use it (./core.ts implements it once). */
export interface MetadataStore {
  readonly kind: 'mongodb' | 'embedded';
  /** Claims this store lost to another process since it was opened (a measure of contention). */
  readonly lostClaims: number;
  init(): Promise<void>;
  close(): Promise<void>;
  getFile(ref: TransferRef): Promise<FileDoc | null>;
  getFiles(refs: TransferRef[]): Promise<FileDoc[]>;
  listFiles(query: FileListQuery): Promise<FilesPage>;
  getBatch(batchId: string): Promise<BatchDoc | null>;
  listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]>;
  insertBatch(batch: BatchDoc): Promise<void>;
  /** Applies a pure rule of ./rules.ts to one transfer, atomically against every other writer. */
  applyFile<R>(ref: TransferRef, rule: FileRule<R>): Promise<R>;
  /** Applies a pure rule of ./rules.ts to one batch. */
  applyBatch<R>(batchId: string, rule: BatchRule<R>): Promise<R>;
  /** Applies a pure rule of ./rules.ts to one folder record. */
  applyFolder<R>(destination: string, path: string, rule: FolderRule<R>): Promise<R>;
  /** The oldest pending transfer of a destination (the head of its queue), if any. */
  findPendingHead(destination: string): Promise<FileDoc[]>;
  /** Takes the oldest pending transfer in scope for `owner`. */
  claimNext(scope: ClaimScope, owner: string, leaseMs: number): Promise<ClaimResult>;
  findOpen(batchIds: string[]): Promise<FileDoc[]>;
  /** Which of these batches still have something open (an indexed look, no documents read). */
  openBatches(batchIds: string[]): Promise<string[]>;
  findProcessing(): Promise<FileDoc[]>;
  /** Records this process's heartbeat. */
  recordProcess(doc: ProcessDoc): Promise<void>;
  /** Every process that heartbeats in this store (gone ones until they are pruned). */
  listProcesses(): Promise<ProcessDoc[]>;
  pruneProcesses(before: Date): Promise<number>;
}

/** A pure transition of a transfer: `next` null leaves the document as it is. */
export type FileRule<R> = (current: FileDoc | null, now: Date) => { next: FileDoc | null; result: R };
/** A pure transition of a folder record (null when there is none yet). */
export type FolderRule<R> = (current: FolderDoc | null, now: Date) => { next: FolderDoc | null; result: R };
/** A pure transition of a batch (null when the batch does not exist). */
export type BatchRule<R> = (current: BatchDoc | null, now: Date) => { next: BatchDoc | null; result: R };
