/**
 * The batch manager: starts, runs, cancels, pauses, retries and resumes batches (SPEC.md "Rules of
 * a batch", "Processes and the store"). It knows only the source and destination interfaces, the
 * store port and the accounting.
 *
 * The store is the queue and the one truth. A start records the batch and queues its transfers;
 * the runner of every process that opens the store claims pending transfers under the process's
 * cap (MEGAFERRY_MAX_ACTIVE) and each batch's max_concurrent, renews its leases about once a
 * second (writing progress, and learning of a cancel or pause asked by any process), and gives
 * them back when it stops. A batch ends by a conditional write when nothing of it is pending or
 * processing, whichever process moved its files, and records each item's outcome for good.
 *
 * Safety rules it keeps:
 * - a transfer is moved only by the holder of its lease (claims are compare-and-set in the store),
 *   so the same object never goes to the same path twice at once, in this process or another one;
 * - the destination node carries the transfer's transfer_id, so a node a crash left behind is
 *   adopted instead of uploaded again, and any other node at the same path goes to the Rubbish Bin
 *   once the new one exists: one copy per path, and copies at other paths are never touched;
 * - every state change is written to the store before it is reported.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { Readable, pipeline } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type {
  BatchCancelled,
  BatchRequest,
  BatchStarted,
  BatchStatus,
  FailedToStart,
  FerryEvent,
  FileProgress,
  FileStatus,
} from '../../shared/contract';
import type { ProcessKind, WorkerStatus } from '../../shared/api';
import { keyProblem } from '../../shared/object-paths';
import { countStatuses, overallStatusOf } from '../../shared/batch-counts';
import { refKey } from '../store/documents';
import type {
  BatchDoc,
  BatchItemDoc,
  FileDoc,
  FileSeed,
  MetadataStore,
  ProcessDoc,
  StopRequest,
  TransferRef,
  UploadSessionDoc,
} from '../store/port';
import {
  cancelBatchRule,
  clearBatchRule,
  dropSessionRule,
  endBatchRule,
  failedAttemptRule,
  failToStartRule,
  finishRule,
  folderClaimRule,
  folderRecordRule,
  isOpen,
  outcomeOf,
  patchHeldRule,
  queueRule,
  reclaimRule,
  recordOutcomeRule,
  releaseRule,
  renewRule,
  reopenBatchRule,
  requeueRule,
  resumeRule,
  frontRule,
  setItemsRule,
  stopRule,
} from '../store/rules';
import { FAILED_STATUSES } from '../../shared/constants';
import { TransferAccount } from './accounting';
import { BandwidthLimiter } from './bandwidth';
import { filtersEmpty, objectFilter } from '../../shared/filters';
import {
  CancelledError,
  FerryError,
  InputError,
  ResumeRejectedError,
  shortReason,
  statusForError,
} from './errors';
import { isDeadOwner, newOwnerId, retireOwner } from './owner';
import { isFolderMarker } from './paths';
import {
  declarationOf,
  destinationKey,
  destinationLabel,
  kindOfDestinationId,
} from '../../shared/destinations';
import type {
  Destination,
  DestinationNode,
  DestinationSet,
  FolderRegistry,
  Source,
  SourceObject,
  UploadCheckpoint,
} from './ports';
import { DEFAULT_RETRY, requestPolicy, type RetryPolicy, withRetry } from './retry';

export interface EngineConfig {
  /** Upper bound of max_concurrent (SPEC: 5; settings may raise it on purpose). */
  maxConcurrentLimit: number;
  maxFilesPerBatch: number;
  retry: RetryPolicy;
  /**
   * Tries of one request (a chunk POST, a MEGA API command, an S3 range read) inside an attempt;
   * the peers are built with it.
   */
  requestRetry: RetryPolicy;
  /** How long a lease lives without renewal (MEGAFERRY_LEASE_MS). */
  leaseMs: number;
  /**
   * Leases are renewed, and progress written to the store, this often per transfer: a cancel or
   * pause from another process is seen within this time.
   */
  progressWriteMs: number;
  /** Progress events are emitted at most this often per file. */
  progressEmitMs: number;
  /**
   * Transfers at once in this process, over all its batches (MEGAFERRY_MAX_ACTIVE): six batches
   * of three never mean eighteen uploads.
   */
  maxActive: number;
  /** How often the runner looks at the store for work and for what other processes did. */
  pollMs: number;
  /**
   * How long a destination's queue waits after MEGA refuses more data (over its storage or
   * transfer quota) before it is tried again; doubled at each refusal up to 30 minutes
   * (MEGAFERRY_QUOTA_RETRY_MS).
   */
  quotaRetryMs: number;
}

/** The longest wait between two tries of a destination over its quota. */
const QUOTA_RETRY_MAX_MS = 30 * 60_000;

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  maxConcurrentLimit: 5,
  maxFilesPerBatch: 50,
  retry: DEFAULT_RETRY,
  requestRetry: requestPolicy(DEFAULT_RETRY),
  leaseMs: 30_000,
  progressWriteMs: 1000,
  progressEmitMs: 250,
  maxActive: 6,
  pollMs: 1000,
  quotaRetryMs: 60_000,
};

/**
 * What the runner of this process works on: every running batch of the store except those handed
 * to the workers (the desktop app, `serve`, `resume`), every running batch (a `worker`), only the
 * batches this process started or retried (a CLI `transfer`), or none (a process that only starts
 * batches for others to move: `transfer --queue`).
 */
export type WorkScope = 'all' | 'worker' | 'own' | 'none';

/** Who this process is, in its heartbeat (the Workers panel, and the file rows it moves). */
export interface ProcessIdentity {
  kind: ProcessKind;
  /** Default: host/pid. */
  name?: string;
  version: string;
}

/** A process that has not heartbeaten for this long is shown gone. */
export const GONE_AFTER_MS = 10_000;
/** How long a command-line run stays in the list after its last heartbeat. */
const CLI_SHOWN_MS = 10 * 60_000;
/** Heartbeats of processes gone this long are forgotten. */
const FORGET_AFTER_MS = 24 * 3600_000;

export interface BatchManagerDeps {
  store: MetadataStore;
  /** The process's bandwidth limit (none: unlimited). */
  bandwidth?: BandwidthLimiter;
  source: Source;
  destinations: DestinationSet;
  config?: Partial<EngineConfig>;
  work?: WorkScope;
  identity?: ProcessIdentity;
}

/** The source and destination a transfer works with (settings may replace them for new claims). */
export interface TransferPeers {
  source: Source;
  destinations: DestinationSet;
}

/** Why this process stopped a transfer it holds. */
type StopReason = StopRequest | 'shutdown' | 'lost';

interface ActiveFile {
  batchId: string;
  ref: TransferRef;
  peers: TransferPeers;
  /** The transfer's destination (the one its batch recorded), from `peers`. */
  destination: Destination;
  account: TransferAccount;
  abort: AbortController;
  stop: StopReason | null;
  lastEmit: number;
  done: Promise<void>;
}

export function newBatchId(): string {
  return 'batch_' + randomBytes(6).toString('hex');
}

/** `refused`: why a listed key cannot be placed inside the target (no document is written for it). */
type Selection = { key: string; code: string; object: SourceObject | null; refused?: string }[];

/** The transfer of a batch's item. */
export function itemRef(batch: Pick<BatchDoc, 'options' | 'destination'>, item: BatchItemDoc): TransferRef {
  return {
    bucket_name: batch.options.bucket,
    remote_key: item.remote_key,
    destination: batch.destination,
    s4_key: item.s4_key,
  };
}

/** How long a process may hold the right to make a folder (one MEGA request, retried). */
const FOLDER_LEASE_MS = 30_000;

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class BatchManager {
  readonly owner = newOwnerId();
  readonly config: EngineConfig;
  readonly identity: Required<ProcessIdentity>;
  private readonly startedAt = new Date();
  private readonly store: MetadataStore;
  private peers: TransferPeers;
  private readonly events = new EventEmitter();
  private readonly work: WorkScope;
  /** Batches this process started or retried (the scope of an `own` runner). */
  private readonly own = new Set<string>();
  /** Transfers this process holds, by transfer. */
  private readonly active = new Map<string, ActiveFile>();
  /** max_concurrent of the batches this process has worked on. */
  private readonly batchCaps = new Map<string, number>();
  /** Running batches handed to the workers (`run: queue`): only a `worker` moves them. */
  private readonly queueBatches = new Set<string>();
  /** The destination of each running batch this process knows of (its queue is claimed from). */
  private readonly batchDestinations = new Map<string, string>();
  /** Running batches bound to another machine (a local folder there): never claimed here. */
  private readonly foreignBatches = new Set<string>();
  /** The names of the processes sharing the store, by lease owner id (from their heartbeats). */
  private processNames = new Map<string, string>();
  /** What the store last said a transfer another process moves had sent, to show its speed. */
  private observed = new Map<string, { bytes: number; at: number; speed: number }>();
  private lastPrune = 0;
  private namesLearnt = 0;
  /** Destinations whose queue waits after a quota refusal: why, until when, and the wait used. */
  private readonly holds = new Map<string, { reason: string; until: number; waitMs: number }>();
  private closed = false;
  /** Transfers this process finished as done. */
  private moved = 0;
  private runner: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private woken = false;
  /** Transfers this process held since its last report (their events came from here). */
  private heldSinceReport = new Set<string>();
  /** What this process last saw of the store's running batches (to report other processes' work). */
  private seen = new Map<string, { rev: number; state: string; open: Map<string, number> }>();
  private lastMaintain = 0;

  /** The bandwidth limit every upload of this process shares (./bandwidth.ts). */
  readonly bandwidth: BandwidthLimiter;

  constructor(deps: BatchManagerDeps) {
    this.store = deps.store;
    this.bandwidth = deps.bandwidth ?? new BandwidthLimiter();
    this.peers = { source: deps.source, destinations: deps.destinations };
    this.config = { ...DEFAULT_ENGINE_CONFIG, ...deps.config };
    this.work = deps.work ?? 'all';
    this.identity = {
      kind: deps.identity?.kind ?? 'cli',
      name: deps.identity?.name ?? `${hostname()}/${process.pid}`,
      version: deps.identity?.version ?? '0',
    };
    this.processNames.set(this.owner, this.identity.name);
    this.events.setMaxListeners(0);
    this.peers.destinations.useFolderRegistry(this.folderRegistry());
  }

  /** The store's folder records, through which every process makes a new folder once. */
  private folderRegistry(): FolderRegistry {
    return {
      claim: (destination, path, gone) =>
        this.store.applyFolder(destination, path, folderClaimRule(this.owner, FOLDER_LEASE_MS, gone ?? null)),
      record: async (destination, path, handle) => {
        await this.store.applyFolder(destination, path, folderRecordRule(this.owner, handle));
      },
    };
  }

  /** The destinations this process can write now (it works their queues). */
  get destinations(): DestinationSet {
    return this.peers.destinations;
  }

  /** Learns where a running batch sends its files, and whether another machine must move them. */
  private knowBatch(batch: Pick<BatchDoc, 'batch_id' | 'destination' | 'host'>): void {
    this.batchDestinations.set(batch.batch_id, batch.destination);
    const kind = kindOfDestinationId(batch.destination);
    if (kind && declarationOf(kind).machineBound && batch.host && batch.host !== hostname())
      this.foreignBatches.add(batch.batch_id);
  }

  /** The destinations whose queues this process claims from now: writable here, and not held. */
  private claimableDestinations(): string[] {
    const now = Date.now();
    const ids = new Set(this.batchDestinations.values());
    return [...ids].filter((id) => {
      const hold = this.holds.get(id);
      if (hold && now < hold.until) return false;
      return this.peers.destinations.byId(id) !== null;
    });
  }

  /**
   * New claims use `next`; transfers already going keep theirs. Resolves when no transfer uses the
   * previous peers any more, so their owner may close them then.
   */
  replacePeers(next: TransferPeers): Promise<void> {
    const previous = this.peers;
    this.peers = next;
    next.destinations.useFolderRegistry(this.folderRegistry());
    this.poke();
    const users = [...this.active.values()].filter((a) => a.peers === previous);
    return Promise.all(users.map((a) => a.done)).then(() => undefined);
  }

  onEvent(listener: (event: FerryEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  /**
   * Events of the transfers this process moves, and no other (a worker shows what it does; the
   * report of what other processes did goes to `onEvent` listeners only).
   */
  onLocalTransfer(listener: (event: FerryEvent & { type: 'progress' | 'file' }) => void): () => void {
    this.events.on('local', listener);
    return () => this.events.off('local', listener);
  }

  private emit(event: FerryEvent): void {
    this.events.emit('event', event);
  }

  private emitLocal(event: FerryEvent & { type: 'progress' | 'file' }): void {
    this.events.emit('event', event);
    this.events.emit('local', event);
  }

  // ---------------------------------------------------------------- start

  /**
   * Validates everything first (selection, cap, bucket, MEGA login) and writes nothing on bad
   * input; then records the batch, queues its transfers in the store and wakes the runner.
   */
  async start(request: BatchRequest): Promise<BatchStarted> {
    this.assertOpen();
    if (request.max_concurrent > this.config.maxConcurrentLimit) {
      throw new InputError(`max_concurrent must be an integer from 1 to ${this.config.maxConcurrentLimit}`);
    }
    const peers = this.peers;
    await this.checkSource(peers.source, request.bucket);
    const selection = await this.select(peers.source, request);
    const kind = request.destination;
    const destination = peers.destinations.idFor(kind, request.target);
    const writer = peers.destinations.byId(destination);
    if (!writer)
      throw new InputError(peers.destinations.problemWith(destination) ?? `cannot write ${destination}`);
    await this.checkDestination(writer, destination);

    const batchId = newBatchId();
    const now = new Date();
    const items: BatchItemDoc[] = selection.map((item) => {
      // A key that cannot be a path inside the target (nor, at S4, a key under its prefix).
      const placed = destinationKey(kind, request.target, item.key);
      const refused = item.refused ?? ('problem' in placed ? placed.problem : null);
      if (refused || 'problem' in placed) {
        return {
          code: item.code,
          remote_key: item.key,
          s4_key: '',
          start_result: 'failed_to_start',
          reason: `object key ${refused}`,
        };
      }
      const s4_key = placed.key;
      if (!item.object) {
        return {
          code: item.code,
          remote_key: item.key,
          s4_key,
          start_result: 'failed_to_start',
          reason: `object not found in bucket ${request.bucket}`,
        };
      }
      return { code: item.code, remote_key: item.key, s4_key, start_result: 'started' };
    });
    const batch: BatchDoc = {
      batch_id: batchId,
      options: request,
      destination,
      host: hostname(),
      files: items,
      state: 'running',
      rev: 0,
      created_at: now,
      updated_at: now,
    };
    // The batch is recorded first, so a crash from here on leaves a batch that resumes.
    await this.store.insertBatch(batch);
    this.own.add(batchId);
    this.batchCaps.set(batchId, request.max_concurrent);
    this.knowBatch(batch);
    if (request.run === 'queue') this.queueBatches.add(batchId);

    const objects = new Map(selection.map((s) => [s.key, s.object]));
    const seedOf = (item: BatchItemDoc): FileSeed => ({
      ...itemRef(batch, item),
      code: item.code,
      size: objects.get(item.remote_key)?.size ?? null,
      etag: objects.get(item.remote_key)?.etag ?? null,
    });
    await this.recordEarlierOutcomes(
      items.filter((i) => i.s4_key).map((i) => itemRef(batch, i)),
      batchId,
    );
    // Small files first: the queue's order (queued_at) follows the sizes within the batch.
    const queuedAt = new Map<string, Date>();
    if (request.order === 'small_first') {
      const bySize = selection
        .filter((s) => s.object)
        .sort((a, b) => (a.object?.size ?? 0) - (b.object?.size ?? 0) || a.key.localeCompare(b.key));
      bySize.forEach((s, rank) => queuedAt.set(s.key, new Date(now.getTime() + rank)));
    }
    const final: BatchItemDoc[] = [];
    for (const item of items) {
      if (item.start_result === 'failed_to_start' && !item.s4_key) {
        final.push({ ...item, outcome: this.failedOutcome(item.reason ?? 'failed to start') });
        continue;
      }
      if (item.start_result === 'failed_to_start') {
        const r = await this.store.applyFile(
          itemRef(batch, item),
          failToStartRule(seedOf(item), batchId, 's3_download_failed', item.reason ?? 'object not found'),
        );
        final.push(
          r.kind === 'already_in_progress'
            ? { ...item, start_result: 'already_in_progress', in_batch: r.batch_id, reason: null }
            : r.kind === 'failed'
              ? { ...item, outcome: outcomeOf(r.doc, new Date()) }
              : item,
        );
        continue;
      }
      const r = await this.store.applyFile(
        itemRef(batch, item),
        queueRule(seedOf(item), {
          batchId,
          force: request.force,
          newTransferId: randomUUID(),
          queuedAt: queuedAt.get(item.remote_key),
        }),
      );
      if (r.kind === 'queued') final.push(item);
      else if (r.kind === 'already_done')
        final.push({ ...item, start_result: 'already_done', outcome: outcomeOf(r.doc, new Date()) });
      else final.push({ ...item, start_result: 'already_in_progress', in_batch: r.batch_id });
    }
    await this.store.applyBatch(batchId, setItemsRule(final));
    this.emit({ type: 'batch', batch_id: batchId, overall_status: 'in_progress', state: 'running' });
    // Ends now when there is nothing to move (all done, or all moved by other batches and ended);
    // else the runner moves its files, or waits for the other batches' transfers, and ends it.
    if (!final.some((i) => i.start_result === 'started')) await this.tryEnd(batchId);
    this.ensureRunner();

    const started = final.filter((i) => i.start_result === 'started').map((i) => i.code);
    const alreadyDone = final.filter((i) => i.start_result === 'already_done').map((i) => i.code);
    const failedToStart: FailedToStart[] = final
      .filter((i) => i.start_result === 'failed_to_start')
      .map((i) => ({ code: i.code, remote_key: i.remote_key, reason: i.reason ?? 'failed to start' }));
    const inProgress = final
      .filter((i) => i.start_result === 'already_in_progress')
      .map((i) => ({ code: i.code, remote_key: i.remote_key, batch_id: i.in_batch ?? 'unknown' }));
    const parts = [
      `${started.length} to transfer`,
      `${alreadyDone.length} already done`,
      ...(inProgress.length ? [`${inProgress.length} already in progress in another batch`] : []),
      `${failedToStart.length} failed to start`,
    ];
    return {
      batch_id: batchId,
      status: 'started',
      message: `batch started with ${final.length} file${final.length === 1 ? '' : 's'}: ${parts.join(', ')}`,
      total_files: final.length,
      started,
      already_done: alreadyDone,
      already_in_progress: inProgress,
      failed_to_start: failedToStart,
    };
  }

  private failedOutcome(reason: string) {
    return {
      status: 's3_download_failed' as const,
      size: null,
      transferred_bytes: 0,
      retry_count: 0,
      error_message: reason,
      mega_link: null,
      at: new Date(),
    };
  }

  /**
   * Before a batch takes over transfers that earlier batches finished, each earlier batch records
   * how its transfer ended (when it has not yet: a process may have died in between), so taking
   * the transfer over never rewrites an earlier batch's history.
   */
  private async recordEarlierOutcomes(refs: TransferRef[], batchId: string): Promise<void> {
    const docs = await this.store.getFiles(refs);
    const byBatch = new Map<string, FileDoc[]>();
    for (const doc of docs) {
      if (!doc.batch_id || doc.batch_id === batchId || isOpen(doc.status)) continue;
      byBatch.set(doc.batch_id, [...(byBatch.get(doc.batch_id) ?? []), doc]);
    }
    for (const [earlier, list] of byBatch) {
      const batch = await this.store.getBatch(earlier);
      if (!batch) continue;
      for (const doc of list) {
        const item = batch.files.find((i) => i.remote_key === doc.remote_key && i.s4_key === doc.s4_key);
        if (item && item.start_result === 'started' && !item.outcome) {
          await this.store.applyBatch(earlier, recordOutcomeRule(doc));
        }
      }
    }
  }

  private async checkSource(source: Source, bucket: string): Promise<void> {
    try {
      await source.checkBucket(bucket);
    } catch (err) {
      throw asInputError(err, `S3 bucket ${bucket}`);
    }
  }

  private async checkDestination(destination: Destination, id: string): Promise<void> {
    try {
      await destination.connect();
    } catch (err) {
      throw asInputError(err, destinationLabel(id));
    }
  }
  /** Resolves the request's selection: the keys or items given, else every object under the prefix. */
  private async select(source: Source, request: BatchRequest): Promise<Selection> {
    const cap = this.config.maxFilesPerBatch;
    const overCap = (n: number) =>
      new InputError(`too many files: ${n} selected, at most ${cap} per batch (the max files setting)`);

    if (request.keys || request.items) {
      const items = request.items ?? (request.keys ?? []).map((key) => ({ key, code: undefined }));
      const seen = new Set<string>();
      const unique = items.filter((i) => !seen.has(i.key) && seen.add(i.key));
      if (unique.length === 0) throw new InputError('keys: give at least one object key');
      if (unique.length > cap) throw overCap(unique.length);
      const heads = await mapLimit(unique, 8, async (i) => {
        try {
          return await source.head(request.bucket, i.key);
        } catch (err) {
          throw asInputError(err, `S3 object ${request.bucket}/${i.key}`);
        }
      });
      return unique.map((i, n) => ({ key: i.key, code: i.code ?? i.key, object: heads[n] ?? null }));
    }

    const selection: Selection = [];
    const prefix = request.prefix ?? '';
    const taken = objectFilter(request.filters);
    try {
      for await (const object of source.listAll(request.bucket, prefix)) {
        if (isFolderMarker(object.key, object.size)) continue;
        if (!taken(object)) continue;
        const problem = keyProblem(object.key);
        selection.push({
          key: object.key,
          code: object.key,
          object,
          ...(problem ? { refused: problem } : {}),
        });
        if (selection.length > cap) throw overCap(selection.length);
      }
    } catch (err) {
      if (err instanceof InputError) {
        throw new InputError(
          `too many files: more than ${cap} objects under "${prefix}", at most ${cap} per batch (the max files setting)`,
        );
      }
      throw asInputError(err, `S3 listing of ${request.bucket}/${prefix}`);
    }
    if (selection.length === 0) {
      throw new InputError(
        `no objects found in bucket ${request.bucket}${prefix ? ` under prefix "${prefix}"` : ''}` +
          (filtersEmpty(request.filters) ? '' : ' that match the filters'),
      );
    }
    return selection;
  }

  // ---------------------------------------------------------------- the runner

  /** What this process did: transfers it finished as done, claims it lost to other processes. */
  stats(): { moved: number; lost_claims: number; owner: string } {
    return { moved: this.moved, lost_claims: this.store.lostClaims, owner: this.owner };
  }

  /** Transfers this process moves now. */
  get activeCount(): number {
    return this.active.size;
  }

  /** Starts this process's runner (once): it works the store's queue until shutdown. */
  ensureRunner(): void {
    if (this.closed) return;
    if (!this.runner) {
      this.runner = this.runLoop().catch((err: unknown) => {
        console.error(`the transfer runner stopped: ${shortReason(err)}`);
      });
    }
    this.poke();
  }

  /** Makes the runner look at the store now (new work, a free place). */
  private poke(): void {
    this.woken = true;
    this.wake?.();
  }

  private async runLoop(): Promise<void> {
    while (!this.closed) {
      this.woken = false;
      try {
        await this.fill();
        if (Date.now() - this.lastMaintain >= this.config.pollMs) {
          this.lastMaintain = Date.now();
          await this.maintain();
        }
      } catch (err) {
        // The store was unreachable for a moment: the next round tries again.
        if (!this.closed) console.error(`transfer runner: ${shortReason(err)}`);
      }
      if (this.closed) break;
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.config.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Claims pending transfers in scope until this process's cap or the batches' caps are reached. */
  private async fill(): Promise<void> {
    const full = new Set<string>();
    if (this.work === 'none') return;
    while (!this.closed && this.active.size < this.config.maxActive) {
      if (this.work === 'own' && this.own.size === 0) return;
      const perBatch = new Map<string, number>();
      for (const a of this.active.values()) perBatch.set(a.batchId, (perBatch.get(a.batchId) ?? 0) + 1);
      for (const [id, n] of perBatch) if (n >= (this.batchCaps.get(id) ?? Infinity)) full.add(id);
      const peers = this.peers;
      // A destination over its quota waits (with its reason shown) until it is tried again; one
      // this process cannot write is left to the processes that can.
      const destinations = this.claimableDestinations();
      if (destinations.length === 0) return;
      // Batches handed to the workers are moved by workers only.
      const handedOff = this.work === 'worker' ? [] : [...this.queueBatches];
      const { doc } = await this.store.claimNext(
        {
          destinations,
          batch_ids:
            this.work === 'own' ? [...this.own].filter((id) => !this.queueBatches.has(id)) : undefined,
          exclude_batch_ids: [...full, ...handedOff, ...this.foreignBatches],
        },
        this.owner,
        this.config.leaseMs,
      );
      if (!doc) return;
      const batchId = doc.batch_id ?? '';
      let cap = this.batchCaps.get(batchId);
      if (cap === undefined) {
        const batch = batchId ? await this.store.getBatch(batchId) : null;
        cap = batch?.options.max_concurrent ?? 1;
        this.batchCaps.set(batchId, cap);
        if (batch?.options.run === 'queue') this.queueBatches.add(batchId);
      }
      if (this.work !== 'worker' && this.queueBatches.has(batchId)) {
        // Handed to the workers after this process last looked: give it back untouched.
        await this.store.applyFile(doc, releaseRule(this.owner, 'pending'));
        continue;
      }
      if ((perBatch.get(batchId) ?? 0) >= cap) {
        // Its batch is at its max_concurrent here: give it back for later (or for another process).
        await this.store.applyFile(doc, releaseRule(this.owner, 'pending'));
        full.add(batchId);
        continue;
      }
      const destination = peers.destinations.byId(doc.destination);
      if (!destination) {
        // The settings changed since the claim's scope was made: another process may write it.
        await this.store.applyFile(doc, releaseRule(this.owner, 'pending'));
        return;
      }
      this.launch(doc, peers, destination);
    }
  }

  private launch(doc: FileDoc, peers: TransferPeers, destination: Destination): void {
    const batchId = doc.batch_id ?? '';
    const active: ActiveFile = {
      batchId,
      ref: {
        bucket_name: doc.bucket_name,
        remote_key: doc.remote_key,
        destination: doc.destination,
        s4_key: doc.s4_key,
      },
      peers,
      destination,
      account: new TransferAccount(doc.size ?? null),
      abort: new AbortController(),
      stop: null,
      lastEmit: 0,
      done: Promise.resolve(),
    };
    const key = refKey(doc);
    this.active.set(key, active);
    this.heldSinceReport.add(key);
    active.done = this.transferFile(doc, active)
      .catch((err: unknown) => {
        // Only store failures reach here (transfer failures are recorded per file); the lease
        // expires and the transfer is taken up again.
        console.error(`transfer ${doc.remote_key} → ${doc.s4_key}: ${shortReason(err)}`);
      })
      .finally(() => {
        this.active.delete(key);
        this.poke();
      });
  }

  /**
   * Looks after what no single transfer does: takes back transfers whose holder is gone, ends
   * batches in scope whose last file another process moved (or that a dead process left), and
   * reports to this process's listeners what other processes did.
   */
  private async maintain(): Promise<void> {
    const now = new Date();
    for (const doc of await this.store.findProcessing()) {
      if (doc.lease_owner === this.owner || !this.peers.destinations.byId(doc.destination)) continue;
      const expired = (doc.lease_expires_at?.getTime() ?? 0) <= now.getTime();
      if (expired || isDeadOwner(doc.lease_owner)) {
        await this.store.applyFile(doc, reclaimRule(isDeadOwner));
        this.poke();
      }
    }
    const running = await this.store.listBatches({ state: 'running' });
    for (const b of running) {
      if (b.options.run === 'queue') this.queueBatches.add(b.batch_id);
      this.knowBatch(b);
    }
    const inScope = running.filter(
      (b) => this.work === 'all' || this.work === 'worker' || this.own.has(b.batch_id),
    );
    // The open transfers themselves only when someone watches (the report); else which batches
    // have any (a worker reads no document for it).
    const watched = this.events.listenerCount('event') > 0;
    const openBy = new Map<string, FileDoc[]>();
    if (watched) {
      for (const d of await this.store.findOpen(running.map((b) => b.batch_id))) {
        openBy.set(d.batch_id ?? '', [...(openBy.get(d.batch_id ?? '') ?? []), d]);
      }
    }
    const openIds = watched
      ? new Set(openBy.keys())
      : new Set(await this.store.openBatches(inScope.map((b) => b.batch_id)));
    for (const batch of inScope) {
      if (!openIds.has(batch.batch_id)) await this.tryEnd(batch.batch_id);
    }
    for (const id of this.own) {
      if (!running.some((b) => b.batch_id === id)) this.own.delete(id);
    }
    for (const id of this.queueBatches) {
      if (!running.some((b) => b.batch_id === id)) this.queueBatches.delete(id);
    }
    for (const id of this.batchDestinations.keys()) {
      if (!running.some((b) => b.batch_id === id)) {
        this.batchDestinations.delete(id);
        this.foreignBatches.delete(id);
      }
    }
    await this.heartbeat(null);
    if (watched) {
      // Names are read again only when a holder is not known yet (a file row names its worker).
      await this.knowHolders([...openBy.values()].flat());
      await this.report(running, openBy);
    }
  }

  // ---------------------------------------------------------------- heartbeats

  /** This process's heartbeat: who it is, what it moves now and how fast. */
  private async heartbeat(stoppedAt: Date | null): Promise<void> {
    const now = new Date();
    let speed = 0;
    for (const a of this.active.values()) speed += a.account.stats().speed;
    const doc: ProcessDoc = {
      id: this.owner,
      name: this.identity.name,
      kind: this.identity.kind,
      host: hostname(),
      pid: process.pid,
      version: this.identity.version,
      destination: this.peers.destinations.describe(),
      capacity: this.work === 'none' ? 0 : this.config.maxActive,
      started_at: this.startedAt,
      last_seen: now,
      stopped_at: stoppedAt,
      active: stoppedAt ? 0 : this.active.size,
      bytes_per_s: stoppedAt ? 0 : Math.round(speed),
      moved: this.moved,
      holds: stoppedAt ? [] : this.heldDestinations(),
    };
    await this.store.recordProcess(doc);
    if (now.getTime() - this.lastPrune > 60_000) {
      this.lastPrune = now.getTime();
      await this.store.pruneProcesses(new Date(now.getTime() - FORGET_AFTER_MS));
    }
  }

  /** The names of the processes sharing the store (a file's row names the one moving it). */
  private async learnNames(): Promise<void> {
    const names = new Map<string, string>([[this.owner, this.identity.name]]);
    for (const p of await this.store.listProcesses()) names.set(p.id, p.name);
    this.processNames = names;
    this.namesLearnt = Date.now();
  }

  /** Learns the names again when a holder is not known yet (at most once a second). */
  private async knowHolders(docs: Iterable<FileDoc>): Promise<void> {
    if (Date.now() - this.namesLearnt < 1000) return;
    for (const d of docs) {
      if (d.status === 'processing' && d.lease_owner && !this.processNames.has(d.lease_owner)) {
        await this.learnNames();
        return;
      }
    }
  }

  /** The processes sharing the store, as their heartbeats say (newest first). */
  async workers(): Promise<WorkerStatus[]> {
    const now = Date.now();
    // A command-line run that has ended is of interest for a few minutes; workers, hosts and
    // desktop apps for the day their heartbeat is kept.
    const list = (await this.store.listProcesses()).filter(
      (p) => p.kind !== 'cli' || now - p.last_seen.getTime() < CLI_SHOWN_MS,
    );
    return list
      .map((p): WorkerStatus => {
        const gone = p.stopped_at !== null || now - p.last_seen.getTime() > GONE_AFTER_MS;
        return {
          id: p.id,
          name: p.name,
          kind: p.kind,
          host: p.host,
          pid: p.pid,
          version: p.version,
          state: gone ? 'gone' : p.active > 0 ? 'online' : 'idle',
          capacity: p.capacity,
          active_transfers: gone ? 0 : p.active,
          bytes_per_s: gone ? 0 : p.bytes_per_s,
          moved: p.moved,
          holds: gone ? [] : (p.holds ?? []),
          started_at: p.started_at.toISOString(),
          last_seen: p.last_seen.toISOString(),
          this_process: p.id === this.owner,
        };
      })
      .sort((a, b) => b.started_at.localeCompare(a.started_at));
  }

  /** The name of the process holding a transfer (its id's host and pid when it never said). */
  private workerName(owner: string | null | undefined): string | null {
    if (!owner) return null;
    const named = this.processNames.get(owner);
    if (named) return named;
    const parts = owner.split(':');
    parts.pop();
    const pid = parts.pop();
    return `${parts.join(':')}/${pid ?? '?'}`;
  }

  /** A transfer another process moves, as the store says, with the speed its progress shows. */
  private remoteProgress(doc: FileDoc): FileProgress {
    const progress = toProgress(doc, null);
    if (doc.status !== 'processing') {
      this.observed.delete(refKey(doc));
      return progress;
    }
    const key = refKey(doc);
    const bytes = doc.transferred_bytes ?? 0;
    const now = Date.now();
    const before = this.observed.get(key);
    let speed = before?.speed ?? 0;
    if (before && now > before.at && bytes >= before.bytes) {
      const instant = ((bytes - before.bytes) * 1000) / (now - before.at);
      speed = before.speed ? before.speed * 0.5 + instant * 0.5 : instant;
    }
    this.observed.set(key, { bytes, at: now, speed });
    const total = doc.size ?? null;
    return {
      ...progress,
      speed: Math.round(speed),
      eta_seconds: total && speed > 0 ? Math.max(0, Math.round((total - bytes) / speed)) : null,
      worker: this.workerName(doc.lease_owner),
    };
  }

  /**
   * Events for what other processes did to the store's running batches since the last look: the
   * desktop shows a batch the CLI runs, and the reverse.
   */
  private async report(running: BatchDoc[], openBy: Map<string, FileDoc[]>): Promise<void> {
    const local = this.heldSinceReport;
    this.heldSinceReport = new Set(this.active.keys());
    const ours = (key: string) => local.has(key) || this.active.has(key);
    const next = new Map<string, { rev: number; state: string; open: Map<string, number> }>();
    for (const batch of running) {
      const before = this.seen.get(batch.batch_id);
      const docs = openBy.get(batch.batch_id) ?? [];
      const open = new Map(docs.map((d) => [refKey(d), d.rev]));
      // A batch started elsewhere appears; one started here was announced by its start.
      if (!before && !this.own.has(batch.batch_id)) {
        this.emit({
          type: 'batch',
          batch_id: batch.batch_id,
          overall_status: 'in_progress',
          state: 'running',
        });
      }
      for (const doc of docs) {
        if (ours(refKey(doc)) || before?.open.get(refKey(doc)) === doc.rev) continue;
        // A transfer first seen waiting is news to nobody: the batch's status lists it.
        if (doc.status === 'pending' && !before?.open.has(refKey(doc))) continue;
        this.emit({
          type: doc.status === 'processing' ? 'progress' : 'file',
          batch_id: batch.batch_id,
          file: this.remoteProgress(doc),
        });
      }
      // Transfers that left the open set were finished somewhere: say how.
      const left = [...(before?.open.keys() ?? [])].filter((k) => !open.has(k) && !ours(k));
      if (left.length > 0) {
        const refs = batch.files
          .filter((i) => left.includes(refKey(itemRef(batch, i))))
          .map((i) => itemRef(batch, i));
        for (const doc of await this.store.getFiles(refs)) {
          this.observed.delete(refKey(doc));
          this.emit({ type: 'file', batch_id: batch.batch_id, file: toProgress(doc, null) });
        }
      }
      next.set(batch.batch_id, { rev: batch.rev, state: batch.state, open });
    }
    for (const id of this.seen.keys()) {
      if (next.has(id)) continue;
      const batch = await this.store.getBatch(id);
      if (!batch) continue;
      const status = await this.describe(batch);
      if (status.overall_status !== 'in_progress') {
        this.emit({ type: 'batch', batch_id: id, overall_status: status.overall_status, state: batch.state });
      }
    }
    this.seen = next;
  }

  /** Ends the batch when the store says nothing of it is left (any process may; one write wins). */
  private async tryEnd(batchId: string): Promise<boolean> {
    const batch = await this.store.getBatch(batchId);
    if (!batch || batch.state !== 'running') return false;
    const docs = await this.store.getFiles(
      batch.files
        .filter(
          (i) => !i.outcome && (i.start_result === 'started' || i.start_result === 'already_in_progress'),
        )
        .map((i) => itemRef(batch, i)),
    );
    const result = await this.store.applyBatch(batchId, endBatchRule(docs));
    if (!result.ended) return false;
    const status = await this.describe(result.batch);
    this.emit({
      type: 'batch',
      batch_id: batchId,
      overall_status: status.overall_status,
      state: result.batch.state,
    });
    return true;
  }

  private async transferFile(claimed: FileDoc, active: ActiveFile): Promise<void> {
    let doc = claimed;
    const ref = active.ref;
    if (this.closed) active.stop = 'shutdown';
    if (active.stop) active.abort.abort();
    await this.emitFile(active.batchId, doc, active);

    // The lease is renewed, and progress written, about once a second; the answer carries a
    // cancel or pause asked by any process, and says when another process took the transfer.
    let renewing = false;
    const heartbeat = setInterval(() => {
      if (renewing) return;
      renewing = true;
      this.store
        .applyFile(ref, renewRule(this.owner, this.config.leaseMs, active.account.transferred))
        .then((r) => {
          if (!r.held) this.stopActive(active, 'lost');
          else if (r.stop) this.stopActive(active, r.stop);
        })
        .catch(() => undefined)
        .finally(() => {
          renewing = false;
        });
    }, this.config.progressWriteMs);

    let ended: FileDoc | null = null;
    try {
      const { node, location } = await withRetry((n) => this.attempt(doc, active, n), this.config.retry, {
        signal: active.abort.signal,
        onFailure: async (err, _attempt, willRetry) => {
          if (willRetry) {
            await this.store.applyFile(ref, failedAttemptRule(this.owner, shortReason(err)));
            active.account.reset(0);
          }
        },
      });
      clearInterval(heartbeat);
      ended = await this.store.applyFile(
        ref,
        finishRule(this.owner, {
          status: 'done',
          error_message: null,
          transferred_bytes: node.size,
          mega_handle: node.handle,
          mega_link: location,
          size: node.size,
        }),
      );
    } catch (err) {
      clearInterval(heartbeat);
      const stop = active.stop;
      if (stop === 'lost') {
        // Another process holds it now (this one stopped renewing in time): nothing to write.
      } else if (stop === 'shutdown') {
        await this.store.applyFile(ref, releaseRule(this.owner, 'pending'));
      } else if (!stop && isQuotaRefusal(err)) {
        // MEGA takes no more data now: the file waits in the queue (its checkpoint kept, no failure
        // counted) and the destination's queue is held until it is tried again.
        await this.store.applyFile(ref, releaseRule(this.owner, 'pending'));
        this.holdDestination(ref.destination, shortReason(err));
      } else if (stop === 'pause') {
        // The checkpoint stays with the document: a resume continues from it.
        ended = await this.store.applyFile(ref, releaseRule(this.owner, 'paused'));
      } else {
        const cancelled = stop === 'cancel' || err instanceof CancelledError;
        // A cancelled transfer leaves nothing behind (an S4 multipart upload, a partial file).
        if (cancelled) await this.abandonUpload(doc, active.destination);
        const status: FileStatus = cancelled ? 'cancelled' : statusForError(err);
        ended = await this.store.applyFile(
          ref,
          finishRule(this.owner, {
            status,
            count_failure: !cancelled,
            error_message: cancelled ? 'cancelled by the user' : shortReason(err),
            transferred_bytes: active.account.transferred,
          }),
        );
      }
    }
    doc = ended ?? (await this.store.getFile(ref)) ?? doc;
    if (ended?.status === 'done') {
      this.moved++;
      this.releaseHold(ref.destination);
    }
    await this.emitFile(active.batchId, doc, null);
    if (ended && !isOpen(ended.status) && ended.batch_id) {
      await this.store.applyBatch(ended.batch_id, recordOutcomeRule(ended));
      // Only the last of the batch's own transfers can end it (an indexed query, not the batch's
      // every document at each file's end).
      if ((await this.store.openBatches([ended.batch_id])).length === 0) await this.tryEnd(ended.batch_id);
    }
  }

  /**
   * Drops what the transfer's unfinished upload left at the destination, and its checkpoint. A
   * failure here is not the transfer's: its leftovers stay (and the checkpoint with them).
   */
  private async abandonUpload(doc: FileDoc, destination: Destination): Promise<void> {
    const session = doc.upload_session;
    if (!session || !destination.abandon) return;
    try {
      await destination.abandon({ next_offset: session.next_offset, state: session.state });
      await this.saveCheckpoint(doc, null);
    } catch (err) {
      console.error(`could not drop the unfinished upload of ${doc.s4_key}: ${shortReason(err)}`);
    }
  }

  private stopActive(active: ActiveFile, reason: StopReason): void {
    if (active.stop === 'cancel' || active.stop === 'lost') return;
    active.stop = reason;
    active.abort.abort();
  }

  /**
   * One attempt: adopt a node a crash or a lost answer left behind, or upload; then keep one copy
   * at the path. A later attempt asks the destination afresh (an earlier one may have ended with
   * an answer lost after MEGA made the node).
   */
  private async attempt(
    doc: FileDoc,
    active: ActiveFile,
    attemptNo = 1,
  ): Promise<{ node: DestinationNode; location: string | null }> {
    const { bucket_name: bucket, remote_key: key } = doc;
    const signal = active.abort.signal;
    const { source } = active.peers;
    const destination = active.destination;
    const object = await source.head(bucket, key, signal);
    if (!object) throw new FerryError('not_found', 'source', `S3 object not found: ${bucket}/${key}`);
    const transferId = doc.transfer_id ?? randomUUID();
    active.account = new TransferAccount(object.size);

    // A later attempt, or a transfer an earlier holder worked on (a process that died, or this
    // one before a retry), asks MEGA itself: a node may be there that this process never saw.
    const fresh = attemptNo > 1 || (doc.claims ?? 1) > 1;
    const ours = (nodes: DestinationNode[]) =>
      nodes.find((n) => n.transfer_id === transferId && n.size === object.size);
    let node = ours(await destination.find(doc.s4_key, { fresh }));
    if (!node) {
      const saved = doc.upload_session;
      const resumable =
        saved && saved.transfer_id === transferId && saved.size === object.size && saved.etag === object.etag
          ? { next_offset: saved.next_offset, state: saved.state }
          : null;
      try {
        node = await this.upload(doc, active, object, transferId, resumable);
      } catch (err) {
        if (!(err instanceof ResumeRejectedError)) throw err;
        // MEGA no longer takes that upload URL, or cannot be asked for its token any more (the
        // last chunk's answer was lost): see what MEGA has, then adopt or start over on a new URL.
        node =
          ours(await destination.find(doc.s4_key, { fresh: true })) ??
          (await this.upload(doc, active, object, transferId, null));
      }
    }
    await this.saveCheckpoint(doc, null);
    active.account.update(node.size);
    if (node.size !== object.size) {
      await destination.discard(node.handle);
      throw new FerryError(
        'transient',
        'destination',
        `size check failed at ${doc.s4_key}: ${destinationLabel(doc.destination)} has ${node.size} bytes, S3 has ${object.size}`,
      );
    }
    // One copy per path: every other node there (an earlier copy, a forced transfer's old node,
    // a duplicate a crash left) goes to the Rubbish Bin.
    const kept = node.handle;
    for (const other of await destination.find(doc.s4_key, { fresh })) {
      if (other.handle !== kept) await destination.discard(other.handle);
    }
    // A forced copy replaces the earlier one at this path (found above when it is still there).
    if (doc.replaces_handle && doc.replaces_handle !== kept) {
      await destination.discard(doc.replaces_handle);
      await this.store.applyFile(doc, patchHeldRule(this.owner, { replaces_handle: null }));
    }
    const location = destination.locate ? await destination.locate(kept).catch(() => null) : null;
    return { node, location };
  }

  /**
   * Uploads the object, from the checkpoint's offset when resuming. When the destination gives the
   * upload up (ResumeRejectedError: its URL refused, or its last answer lost) the checkpoint goes
   * too, so no later attempt resumes on that URL.
   */
  private async upload(
    doc: FileDoc,
    active: ActiveFile,
    object: SourceObject,
    transferId: string,
    resume: UploadCheckpoint | null,
  ): Promise<DestinationNode> {
    const signal = active.abort.signal;
    const start = resume?.next_offset ?? 0;
    active.account = new TransferAccount(object.size, Date.now, start);
    // A checkpoint that covers the whole file needs no byte more (S3 answers a range that starts
    // at the end with 416 InvalidRange): the destination only makes, or adopts, the node.
    const body =
      start >= object.size
        ? Readable.from([])
        : this.throttled(
            await active.peers.source.read(doc.bucket_name, doc.remote_key, { start, signal }),
            signal,
          );
    let open = true;
    let written: Promise<void> = Promise.resolve();
    try {
      return await active.destination.upload({
        path: doc.s4_key,
        size: object.size,
        body,
        transfer_id: transferId,
        signal,
        resume,
        onProgress: (bytes) => this.onProgress(doc, active, bytes),
        onCheckpoint: (checkpoint) => {
          if (!open) return; // a late one, after the upload ended
          const write = this.saveCheckpoint(doc, {
            transfer_id: transferId,
            size: object.size,
            etag: object.etag,
            next_offset: checkpoint.next_offset,
            state: checkpoint.state,
          });
          written = write.catch(() => undefined);
          return write;
        },
      });
    } catch (err) {
      open = false;
      if (err instanceof ResumeRejectedError) {
        await written;
        await this.saveCheckpoint(doc, null);
      }
      throw err;
    } finally {
      open = false;
    }
  }

  /** The source's bytes at the pace of the process's bandwidth limit. */
  private throttled(source: Readable, signal: AbortSignal): Readable {
    const limited = this.bandwidth.throttle(signal);
    pipeline(source, limited, () => undefined);
    return limited;
  }

  /** Records (or clears) where the file's upload stands, in the store and in the attempt's copy. */
  private async saveCheckpoint(doc: FileDoc, session: UploadSessionDoc | null): Promise<void> {
    if (!session && !doc.upload_session) return;
    doc.upload_session = session;
    await this.store.applyFile(doc, patchHeldRule(this.owner, { upload_session: session }));
  }

  private onProgress(doc: FileDoc, active: ActiveFile, bytes: number): void {
    active.account.update(bytes);
    const now = Date.now();
    if (now - active.lastEmit < this.config.progressEmitMs) return;
    active.lastEmit = now;
    this.emitLocal({
      type: 'progress',
      batch_id: active.batchId,
      file: { ...toProgress({ ...doc, status: 'processing' }, active), worker: this.identity.name },
    });
  }

  private async emitFile(batchId: string, doc: FileDoc, active: ActiveFile | null): Promise<void> {
    const file = toProgress(doc, active);
    if (active && doc.status === 'processing') file.worker = this.identity.name;
    this.emitLocal({ type: 'file', batch_id: batchId, file });
  }

  // ---------------------------------------------------------------- status

  async status(batchId: string): Promise<BatchStatus | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    return this.describe(batch);
  }

  /**
   * The batch as its owner sees it: an item that ended shows its recorded outcome (history is
   * never rewritten by a later batch), one still moving its transfer's live state (from this
   * process, or from the store when another process moves it); one already in progress in
   * another batch shows that transfer's state and the batch that moves it (`in_batch`).
   */
  private async describe(batch: BatchDoc): Promise<BatchStatus> {
    const live = batch.files.filter(
      (i) => !i.outcome && (i.start_result === 'started' || i.start_result === 'already_in_progress'),
    );
    const docs = new Map(
      (await this.store.getFiles(live.map((i) => itemRef(batch, i)))).map((d) => [refKey(d), d]),
    );
    await this.knowHolders(docs.values());
    const files = batch.files.map((item) => {
      const ref = itemRef(batch, item);
      const base = {
        code: item.code,
        bucket_name: ref.bucket_name,
        remote_key: item.remote_key,
        s4_key: item.s4_key,
      };
      let progress: FileProgress;
      if (item.outcome) {
        const o = item.outcome;
        progress = {
          ...base,
          status: o.status,
          progress: o.status === 'done' ? 100 : o.size ? round1((o.transferred_bytes / o.size) * 100) : 0,
          transferred_bytes: o.transferred_bytes,
          total_bytes: o.size,
          speed: 0,
          eta_seconds: o.status === 'done' ? 0 : null,
          retry_count: o.retry_count,
          error_message: o.error_message,
          mega_link: o.mega_link,
        };
      } else {
        const doc = docs.get(refKey(ref));
        if (item.start_result === 'already_in_progress') {
          progress = doc
            ? toProgress({ ...doc, code: item.code }, this.active.get(refKey(ref)) ?? null)
            : pendingOf(base);
        } else if (doc && doc.batch_id === batch.batch_id) {
          progress = toProgress({ ...doc, code: item.code }, this.active.get(refKey(ref)) ?? null);
          if (doc.status === 'processing') progress.worker = this.workerName(doc.lease_owner);
        } else if (item.start_result === 'failed_to_start') {
          progress = { ...pendingOf(base), status: 's3_download_failed', error_message: item.reason ?? null };
        } else {
          progress = pendingOf(base);
        }
      }
      if (item.start_result === 'already_in_progress') progress.in_batch = item.in_batch ?? null;
      if (item.start_result === 'already_done') progress.skipped = true;
      return progress;
    });
    const counts = countStatuses(files.map((f) => f.status));
    return {
      batch_id: batch.batch_id,
      total_files: files.length,
      ...counts,
      overall_status: overallStatusOf(batch.state, files.length, counts),
      created_at: batch.created_at.toISOString(),
      finished_at: batch.finished_at?.toISOString() ?? null,
      target: batch.options.target,
      destination: batch.destination,
      bucket: batch.options.bucket,
      selection: batch.options.selection ?? null,
      run: batch.options.run ?? 'here',
      cleared: Boolean(batch.cleared_at),
      files,
    };
  }

  /** Clears every ended batch from Transfers (`show`: shows the cleared ones again); how many. */
  async clearFinished(action: 'clear' | 'show'): Promise<number> {
    let changed = 0;
    for (const batch of await this.store.listBatches({})) {
      if (batch.state === 'running' || Boolean(batch.cleared_at) === (action === 'clear')) continue;
      if (await this.store.applyBatch(batch.batch_id, clearBatchRule(action))) changed++;
    }
    return changed;
  }

  async listBatches(limit = 50): Promise<BatchStatus[]> {
    const batches = await this.store.listBatches({ limit });
    return Promise.all(batches.map((b) => this.describe(b)));
  }

  /** The running batches of the store, described (only those are read). */
  async runningBatches(): Promise<BatchStatus[]> {
    const batches = await this.store.listBatches({ state: 'running' });
    return Promise.all(batches.map((b) => this.describe(b)));
  }

  /**
   * Ends the batch now when nothing of it is open any more (its last file ended a moment ago and
   * the process that moved it has not written the end yet); true when it is still running.
   */
  async settle(batchId: string): Promise<boolean> {
    if (!(await this.isRunning(batchId))) return false;
    if ((await this.store.openBatches([batchId])).length === 0) await this.tryEnd(batchId);
    return this.isRunning(batchId);
  }

  /** True while the store says the batch runs (in any process). */
  async isRunning(batchId: string): Promise<boolean> {
    return (await this.store.getBatch(batchId))?.state === 'running';
  }

  /** Resolves when the store says the batch has ended, whichever process ended it. */
  async waitForBatch(batchId: string): Promise<void> {
    for (;;) {
      const batch = await this.store.getBatch(batchId);
      if (!batch || batch.state !== 'running') return;
      if (this.closed) return;
      await sleepFor(Math.min(250, this.config.pollMs));
    }
  }

  // ---------------------------------------------------------------- cancel, pause, resume, retry

  /**
   * Cancels a batch from any process: the cancel is recorded with the batch, pending transfers
   * stop at once, those held here are aborted now and those held by another process within a
   * lease renewal (about a second). Returns once nothing of the batch is `processing` (or after a
   * few seconds when a holder does not answer: its lease ends the transfer as cancelled).
   */
  async cancel(batchId: string): Promise<BatchCancelled | null> {
    // What this process moves of the batch stops at once; the store then carries the cancel to
    // the transfers other processes hold.
    const local = [...this.active.values()].filter((a) => a.batchId === batchId);
    for (const a of local) this.stopActive(a, 'cancel');
    const asked = await this.store.applyBatch(batchId, cancelBatchRule());
    if (asked === 'missing') return null;
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    const stoppedHere = new Set(local.map((a) => refKey(a.ref)));
    let stopped = 0;
    for (const item of batch.files) {
      const key = refKey(itemRef(batch, item));
      // One this process stopped may have ended, and had its outcome recorded, already.
      if (item.start_result !== 'started' || item.outcome) {
        if (stoppedHere.has(key)) stopped++;
        continue;
      }
      const r = await this.store.applyFile(itemRef(batch, item), stopRule(batchId, 'cancel'));
      if (r !== 'not_ours' || stoppedHere.has(key)) stopped++;
      const active = this.active.get(key);
      if (active) this.stopActive(active, 'cancel');
    }
    await Promise.all(local.map((a) => a.done));
    // Holders elsewhere see it at their next lease renewal (about a second); a holder that does
    // not answer in a few seconds has its lease end the transfer as cancelled.
    const deadline = Date.now() + Math.max(3000, 3 * this.config.progressWriteMs);
    while (Date.now() < deadline) {
      const open = await this.store.findOpen([batchId]);
      if (!open.some((d) => d.status === 'processing')) break;
      await sleepFor(100);
    }
    await this.abandonCancelled(batch);
    await this.tryEnd(batchId);
    return {
      status: 'cancelled',
      message: `batch cancelled: ${stopped} transfer${stopped === 1 ? '' : 's'} stopped`,
      batch_id: batchId,
      cancelled_transfers: stopped,
      total_files: batch.files.length,
    };
  }

  /**
   * Transfers of the batch cancelled while waiting or paused may have an unfinished upload (a
   * paused one always keeps its checkpoint): the destination drops what it left, when this
   * process can write there (else it stays, with its checkpoint, for the processes that can).
   */
  private async abandonCancelled(batch: BatchDoc): Promise<void> {
    const refs = batch.files.filter((i) => i.s4_key).map((i) => itemRef(batch, i));
    for (const doc of await this.store.getFiles(refs)) {
      const session = doc.upload_session;
      if (doc.status !== 'cancelled' || doc.batch_id !== batch.batch_id || !session) continue;
      const destination = this.peers.destinations.byId(doc.destination);
      if (!destination?.abandon) continue;
      try {
        await destination.abandon({ next_offset: session.next_offset, state: session.state });
        await this.store.applyFile(doc, dropSessionRule(session.transfer_id));
      } catch (err) {
        console.error(`could not drop the unfinished upload of ${doc.s4_key}: ${shortReason(err)}`);
      }
    }
  }

  /**
   * Pauses a batch from any process: pending transfers wait, moving ones stop at their holder's
   * next lease renewal and keep their checkpoint. The batch stays running until resumed.
   */
  async pause(batchId: string, codes?: string[]): Promise<{ batch_id: string; paused: number } | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    let paused = 0;
    for (const item of batch.files) {
      if (item.start_result !== 'started' || item.outcome) continue;
      if (codes && !codes.includes(item.code)) continue;
      const r = await this.store.applyFile(itemRef(batch, item), stopRule(batchId, 'pause'));
      if (r !== 'not_ours') paused++;
      const active = this.active.get(refKey(itemRef(batch, item)));
      if (active) this.stopActive(active, 'pause');
    }
    return { batch_id: batchId, paused };
  }

  /**
   * Resumes a paused batch (or some of its files): its paused transfers are queued again (from
   * their checkpoints).
   */
  async resume(batchId: string, codes?: string[]): Promise<{ batch_id: string; resumed: number } | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    let resumed = 0;
    for (const item of batch.files) {
      if (item.start_result !== 'started' || item.outcome) continue;
      if (codes && !codes.includes(item.code)) continue;
      if (await this.store.applyFile(itemRef(batch, item), resumeRule(batchId))) resumed++;
    }
    this.knowBatch(batch);
    if (this.work === 'own') this.own.add(batchId);
    this.ensureRunner();
    return { batch_id: batchId, resumed };
  }

  /** Pauses every running batch of the store, whichever process moves it. */
  async pauseAll(): Promise<{ batches: number; paused: number }> {
    let paused = 0;
    const running = await this.store.listBatches({ state: 'running' });
    for (const b of running) paused += (await this.pause(b.batch_id))?.paused ?? 0;
    return { batches: running.length, paused };
  }

  /** Resumes the paused transfers of every running batch. */
  async resumeAll(): Promise<{ batches: number; resumed: number }> {
    let resumed = 0;
    const running = await this.store.listBatches({ state: 'running' });
    for (const b of running) resumed += (await this.resume(b.batch_id))?.resumed ?? 0;
    return { batches: running.length, resumed };
  }

  /**
   * Moves a batch's waiting transfers to the front of its destination's queue (before everything
   * pending now, in their own order), for every process that claims from it.
   */
  async toFront(batchId: string): Promise<{ batch_id: string; moved: number } | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    const [head] = await this.store.findPendingHead(batch.destination);
    const items = batch.files.filter((i) => i.start_result === 'started' && !i.outcome);
    const docs = (await this.store.getFiles(items.map((i) => itemRef(batch, i))))
      .filter((d) => d.status === 'pending' && d.batch_id === batchId)
      .sort((a, b) => (a.queued_at?.getTime() ?? 0) - (b.queued_at?.getTime() ?? 0));
    // Before the head of the queue: one millisecond apart, keeping the batch's own order.
    const start = (head?.queued_at?.getTime() ?? Date.now()) - docs.length - 1;
    let moved = 0;
    for (const [rank, doc] of docs.entries()) {
      if (await this.store.applyFile(doc, frontRule(batchId, new Date(start + rank)))) moved++;
    }
    this.poke();
    return { batch_id: batchId, moved };
  }

  // ---------------------------------------------------------------- quota holds

  /**
   * Holds a destination's queue after a quota refusal. Files refused while it is held (several
   * were moving at once) change nothing; a refusal at the next try doubles the wait.
   */
  private holdDestination(destination: string, reason: string): void {
    const before = this.holds.get(destination);
    if (before && Date.now() < before.until) return;
    const waitMs = before ? Math.min(QUOTA_RETRY_MAX_MS, before.waitMs * 2) : this.config.quotaRetryMs;
    const until = Date.now() + waitMs;
    this.holds.set(destination, { reason, until, waitMs });
    this.emit({ type: 'hold', destination, reason, retry_at: new Date(until).toISOString() });
  }

  /** A transfer went through: the destination takes data again. */
  private releaseHold(destination: string): void {
    if (!this.holds.delete(destination)) return;
    this.emit({ type: 'hold', destination, reason: null, retry_at: null });
  }

  /** The destinations whose queue waits in this process, with why and until when. */
  heldDestinations(): { destination: string; reason: string; retry_at: string }[] {
    return [...this.holds].map(([destination, h]) => ({
      destination,
      reason: h.reason,
      retry_at: new Date(h.until).toISOString(),
    }));
  }

  /**
   * Starts the batch's failed and cancelled transfers again — those it still owns (a transfer a
   * later batch took over is that batch's now). Returns the codes restarted.
   */
  async retry(batchId: string): Promise<{ batch_id: string; restarted: string[] } | null> {
    this.assertOpen();
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    const writer = this.peers.destinations.byId(batch.destination);
    if (!writer) {
      throw new InputError(
        this.peers.destinations.problemWith(batch.destination) ??
          `batch ${batchId} sends to ${batch.destination}, which this process cannot write`,
      );
    }
    await this.checkDestination(writer, batch.destination);
    const candidates = batch.files.filter(
      (i) => i.start_result === 'started' && i.outcome && FAILED_STATUSES.includes(i.outcome.status),
    );
    const docs = new Map(
      (await this.store.getFiles(candidates.map((i) => itemRef(batch, i)))).map((d) => [refKey(d), d]),
    );
    const restart = candidates.filter((i) => {
      const doc = docs.get(refKey(itemRef(batch, i)));
      return doc && doc.batch_id === batchId && FAILED_STATUSES.includes(doc.status);
    });
    // The batch runs again first, so no process can end it between the two writes.
    if (!(await this.store.applyBatch(batchId, reopenBatchRule(restart)))) {
      return { batch_id: batchId, restarted: [] };
    }
    const restarted: string[] = [];
    for (const item of restart) {
      if (await this.store.applyFile(itemRef(batch, item), requeueRule(batchId))) restarted.push(item.code);
    }
    this.own.add(batchId);
    this.batchCaps.set(batchId, batch.options.max_concurrent);
    this.knowBatch(batch);
    this.emit({ type: 'batch', batch_id: batchId, overall_status: 'in_progress', state: 'running' });
    this.ensureRunner();
    await this.tryEnd(batchId);
    return { batch_id: batchId, restarted };
  }

  // ---------------------------------------------------------------- restart

  /**
   * After a start: transfers a dead process held go back to the queue, transfers of running
   * batches that never got their document (a crash during a start) are queued, and the runner
   * works every running batch. Returns the running batches.
   */
  async resumeUnfinished(): Promise<string[]> {
    this.assertOpen();
    for (const doc of await this.store.findProcessing()) {
      if (doc.lease_owner !== this.owner) await this.store.applyFile(doc, reclaimRule(isDeadOwner));
    }
    const resumed: string[] = [];
    for (const batch of await this.store.listBatches({ state: 'running' })) {
      const started = batch.files.filter((i) => i.start_result === 'started' && !i.outcome && i.s4_key);
      const docs = new Map(
        (await this.store.getFiles(started.map((i) => itemRef(batch, i)))).map((d) => [refKey(d), d]),
      );
      for (const item of started) {
        if (docs.has(refKey(itemRef(batch, item))) || keyProblem(item.remote_key)) continue;
        await this.store.applyFile(
          itemRef(batch, item),
          queueRule(
            { ...itemRef(batch, item), code: item.code, size: null, etag: null },
            { batchId: batch.batch_id, force: batch.options.force, newTransferId: randomUUID() },
          ),
        );
      }
      if (this.work === 'own') this.own.add(batch.batch_id);
      this.knowBatch(batch);
      resumed.push(batch.batch_id);
    }
    this.ensureRunner();
    return resumed;
  }

  /**
   * Stops this process's work without cancelling it: in-flight transfers are aborted and go back
   * to `pending` for any process to take; batches stay `running`.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.active.values()) this.stopActive(a, 'shutdown');
    this.poke();
    await Promise.all([...this.active.values()].map((a) => a.done));
    await this.runner;
    // Said only by a process that heartbeats (one that ran its runner).
    if (this.runner) await this.heartbeat(new Date()).catch(() => undefined);
    retireOwner(this.owner);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the transfer engine is shutting down');
  }
}

type ProgressSource = Pick<
  FileDoc,
  'code' | 'bucket_name' | 'remote_key' | 's4_key' | 'status' | 'retry_count'
> &
  Partial<Pick<FileDoc, 'size' | 'transferred_bytes' | 'error_message' | 'mega_link'>>;

const round1 = (n: number) => Math.round(Math.min(100, n) * 10) / 10;

function pendingOf(base: Pick<FileProgress, 'code' | 'bucket_name' | 'remote_key' | 's4_key'>): FileProgress {
  return {
    ...base,
    status: 'pending',
    progress: 0,
    transferred_bytes: 0,
    total_bytes: null,
    speed: 0,
    eta_seconds: null,
    retry_count: 0,
    error_message: null,
    mega_link: null,
  };
}

function toProgress(doc: ProgressSource, active: ActiveFile | null): FileProgress {
  const total = doc.size ?? null;
  const stats = active?.account.stats();
  const transferred =
    stats?.transferred_bytes ?? (doc.status === 'done' ? (total ?? 0) : (doc.transferred_bytes ?? 0));
  const progress =
    stats?.progress ?? (doc.status === 'done' ? 100 : total ? round1((transferred / total) * 100) : 0);
  return {
    code: doc.code,
    bucket_name: doc.bucket_name,
    remote_key: doc.remote_key,
    s4_key: doc.s4_key,
    status: doc.status,
    progress,
    transferred_bytes: transferred,
    total_bytes: stats?.total_bytes ?? total,
    speed: stats?.speed ?? 0,
    eta_seconds: stats ? stats.eta_seconds : doc.status === 'done' ? 0 : null,
    retry_count: doc.retry_count,
    error_message: doc.error_message ?? null,
    mega_link: doc.mega_link ?? null,
  };
}

/** MEGA refusing more data (storage or transfer quota): the queue waits instead of failing files. */
function isQuotaRefusal(err: unknown): boolean {
  return err instanceof FerryError && err.kind === 'quota' && err.side === 'destination';
}

/** Turns a failure to reach S3 or MEGA during validation into bad-configuration input. */
export function asInputError(err: unknown, what: string): Error {
  if (err instanceof InputError) return err;
  if (err instanceof FerryError) {
    // The S3 problem (no credentials, access denied, bucket missing…) goes along: the UI says
    // what happened and what to do in the user's language, the CLI prints the message.
    const problem = err.problem ? { problem: err.problem } : undefined;
    if (err.kind === 'not_found') {
      return new InputError(
        `${what} not found (check its name, and the endpoint and region it is in)`,
        problem,
      );
    }
    return new InputError(`${what}: ${shortReason(err)}`, problem);
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function mapLimit<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(n);
  return Promise.all(items.map((i) => limit(() => fn(i))));
}
