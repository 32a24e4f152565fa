/**
 * The one declared API. The service implements it; IPC, HTTP and the CLI all speak it.
 * Inputs arrive as `unknown` and are validated against the schemas in ./contract.
 */
import type {
  BatchCancelled,
  BatchStarted,
  BatchStatus,
  ConnectionTestResult,
  FerryEvent,
  FileStatus,
  S3ObjectsPage,
  SettingsView,
  TransferPlan,
} from './contract';

/** What `megaferry verify` found for a file's copy at the destination. */
export const VERIFY_RESULTS = ['ok', 'mac_mismatch', 'bytes_mismatch', 'missing'] as const;
export type VerifyResult = (typeof VERIFY_RESULTS)[number];

export interface FileRecord {
  code: string;
  bucket_name: string;
  remote_key: string;
  s4_key: string;
  status: FileStatus;
  status_updated_at: string;
  creation_date: string;
  modified_date: string;
  retry_count: number;
  error_message: string | null;
  size: number | null;
  transferred_bytes: number;
  /** Where the copy goes (`mega:<e-mail>`, `s4:<host>/<bucket>`, `local:<folder>`). */
  destination: string;
  /** The batch that owns the transfer now. */
  batch_id: string | null;
  mega_handle: string | null;
  mega_link: string | null;
  /** When `megaferry verify` last checked this copy (ISO date), and what it found; null: never. */
  verified_at: string | null;
  verify_result: VerifyResult | null;
}

export interface BatchPaused {
  batch_id: string;
  status: 'paused';
  message: string;
  /** Transfers held now or asked to stop at their holder's next lease renewal. */
  paused_transfers: number;
}

export interface BatchResumed {
  batch_id: string;
  status: 'resumed';
  message: string;
  resumed_transfers: number;
}

/** The kinds of process that work the store's queue. */
export const PROCESS_KINDS = ['desktop', 'serve', 'cli', 'worker'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

/**
 * A process sharing the store, as its heartbeat says: `online` moves files now, `idle` has
 * nothing to move, `gone` stopped (cleanly, or stopped heartbeating: killed, or its machine lost).
 */
export interface WorkerStatus {
  id: string;
  name: string;
  kind: ProcessKind;
  host: string;
  pid: number;
  version: string;
  state: 'online' | 'idle' | 'gone';
  /** Transfers it may move at once. */
  capacity: number;
  active_transfers: number;
  bytes_per_s: number;
  /** Transfers it finished as done since it started. */
  moved: number;
  /** Destinations whose queue it holds after MEGA refused more data, and when it tries again. */
  holds: { destination: string; reason: string; retry_at: string }[];
  started_at: string;
  last_seen: string;
  /** True for the process answering. */
  this_process: boolean;
}

/** Pause or resume some files of a batch (by their codes). */
export interface FilesControl {
  batch_id: string;
  codes: string[];
}

export interface FilesPaused {
  batch_id: string;
  status: 'paused' | 'resumed';
  message: string;
  /** Transfers held (or queued again) by this request. */
  changed: number;
}

export interface AllControlled {
  status: 'paused' | 'resumed';
  message: string;
  batches: number;
  changed: number;
}

export interface BatchMoved {
  batch_id: string;
  status: 'moved';
  message: string;
  /** Its waiting transfers now at the head of the queue. */
  moved: number;
}

export interface BatchesCleared {
  status: 'cleared' | 'shown';
  message: string;
  /** Batches cleared (or shown again) by this request. */
  changed: number;
}

/** Every running batch together, as the top bar of Transfers and the tray show it. */
export interface Overview {
  running_batches: number;
  files: number;
  done: number;
  failed: number;
  cancelled: number;
  transferring: number;
  pending: number;
  /** 0–100: by bytes when every size is known, else by files; below 100 while anything moves. */
  percent: number;
  /** Bytes a second moving now over all of them. */
  speed: number;
}

export interface Health {
  ok: boolean;
  store: 'mongodb' | 'embedded';
  version: string;
}

export interface FerryApi {
  startBatch(request: unknown): Promise<BatchStarted>;
  /** A dry run of a batch request: what it selects and what a start would do; changes nothing. */
  planBatch(request: unknown): Promise<TransferPlan>;
  getBatch(batchId: string): Promise<BatchStatus>;
  listBatches(): Promise<BatchStatus[]>;
  /** One figure over every running batch: files, how far through, the speed (the UI's top bar). */
  getOverview(): Promise<Overview>;
  cancelBatch(batchId: string): Promise<BatchCancelled>;
  /** Holds the batch's transfers (moving ones keep their checkpoint), from any process. */
  pauseBatch(batchId: string): Promise<BatchPaused>;
  /** Queues the batch's paused transfers again; they continue from their checkpoints. */
  resumeBatch(batchId: string): Promise<BatchResumed>;
  /** Holds some files of a batch (FilesControl: batch_id, codes). */
  pauseFiles(request: unknown): Promise<FilesPaused>;
  /** Queues some paused files of a batch again (FilesControl). */
  resumeFiles(request: unknown): Promise<FilesPaused>;
  /** Pauses every running batch, whichever process moves it (takes no input: anything else is refused). */
  pauseAll(none?: unknown): Promise<AllControlled>;
  /** Resumes the paused transfers of every running batch (takes no input). */
  resumeAll(none?: unknown): Promise<AllControlled>;
  /** Moves a batch's waiting transfers to the head of the queue. */
  moveBatchToFront(batchId: string): Promise<BatchMoved>;
  /** Clears every ended batch from Transfers (every UI, `status`); History keeps their files. */
  clearFinished(none?: unknown): Promise<BatchesCleared>;
  /** Shows the cleared batches in Transfers again (takes no input). */
  showCleared(none?: unknown): Promise<BatchesCleared>;
  retryBatch(
    batchId: string,
  ): Promise<{ batch_id: string; status: 'started'; message: string; restarted: string[] }>;
  listFiles(query: unknown): Promise<{ files: FileRecord[]; next_cursor: string | null }>;
  listBuckets(): Promise<{ buckets: string[] }>;
  listObjects(query: unknown): Promise<S3ObjectsPage>;
  health(): Promise<Health>;
  /** The processes sharing the store (workers, desktop apps, hosts, CLI runs), newest first. */
  listWorkers(): Promise<{ workers: WorkerStatus[] }>;
  /** Settings without secrets (SettingsView). */
  getSettings(): Promise<SettingsView>;
  /** Validates a SettingsPatch, saves it, applies it to new work, and returns the new view. */
  saveSettings(patch: unknown): Promise<SettingsView>;
  /** Tries one connection (ConnectionTest: target + optional unsaved draft). */
  testConnection(request: unknown): Promise<ConnectionTestResult>;
  onEvent(listener: (event: FerryEvent) => void): () => void;
}

/** The request/response methods of FerryApi: IPC binds exactly these, generically. */
export const FERRY_API_METHODS = [
  'startBatch',
  'planBatch',
  'getBatch',
  'listBatches',
  'getOverview',
  'cancelBatch',
  'pauseBatch',
  'resumeBatch',
  'pauseFiles',
  'resumeFiles',
  'pauseAll',
  'resumeAll',
  'moveBatchToFront',
  'clearFinished',
  'showCleared',
  'retryBatch',
  'listFiles',
  'listBuckets',
  'listObjects',
  'health',
  'listWorkers',
  'getSettings',
  'saveSettings',
  'testConnection',
] as const satisfies readonly Exclude<keyof FerryApi, 'onEvent'>[];
export type FerryApiMethod = (typeof FERRY_API_METHODS)[number];

/** Fails to compile when a FerryApi method is missing from FERRY_API_METHODS. */
type MissingMethods = Exclude<Exclude<keyof FerryApi, 'onEvent'>, FerryApiMethod>;
export const API_METHODS_COMPLETE: MissingMethods extends never ? true : never = true;
