/**
 * The batch manager: starts, runs, cancels, retries and resumes batches (SPEC.md "Rules of a
 * batch"). It knows only the source and destination interfaces, the store port and the accounting.
 *
 * Safety rules it keeps:
 * - a file is transferred only by the holder of its lease (`claim` is atomic in the store), so the
 *   same object never moves twice at once, in this process or another one;
 * - the destination node carries the file's transfer_id, so a node a crash left behind is adopted
 *   instead of uploaded again, and any other node at the same path goes to the Rubbish Bin once
 *   the new one exists: one copy per path;
 * - every state change is written to the store before it is reported.
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
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
import { FAILED_STATUSES } from '../../shared/constants';
import { keyProblem } from '../../shared/object-paths';
import { countStatuses, overallStatusOf } from '../../shared/batch-counts';
import type {
  BatchDoc,
  BatchFileEntry,
  FileDoc,
  FileRef,
  FileSeed,
  MetadataStore,
  UploadSessionDoc,
} from '../store/port';
import { TransferAccount } from './accounting';
import {
  CancelledError,
  FerryError,
  InputError,
  ResumeRejectedError,
  shortReason,
  statusForError,
} from './errors';
import { isDeadOwner, newOwnerId, retireOwner } from './owner';
import { isFolderMarker, s4Key } from './paths';
import type { Destination, DestinationNode, Source, SourceObject, UploadCheckpoint } from './ports';
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
  /** How long a lease lives without renewal. */
  leaseMs: number;
  /** Progress is written to the store at most this often per file. */
  progressWriteMs: number;
  /** Progress events are emitted at most this often per file. */
  progressEmitMs: number;
  /**
   * Transfers at once in this process, over all its batches (MEGAFERRY_MAX_ACTIVE): six batches
   * of three never mean eighteen uploads.
   */
  maxActive: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  maxConcurrentLimit: 5,
  maxFilesPerBatch: 50,
  retry: DEFAULT_RETRY,
  requestRetry: requestPolicy(DEFAULT_RETRY),
  leaseMs: 30_000,
  progressWriteMs: 1000,
  progressEmitMs: 250,
  maxActive: 6,
};

export interface BatchManagerDeps {
  store: MetadataStore;
  source: Source;
  destination: Destination;
  config?: Partial<EngineConfig>;
}

/** The source and destination a batch run works with (settings may replace them for new runs). */
export interface TransferPeers {
  source: Source;
  destination: Destination;
}

interface ActiveFile {
  batchId: string;
  ref: FileRef;
  peers: TransferPeers;
  account: TransferAccount;
  abort: AbortController;
  lastEmit: number;
}

interface RunningBatch {
  batchId: string;
  /** A run keeps the peers it started with to its end. */
  peers: TransferPeers;
  cancelled: boolean;
  active: Map<string, ActiveFile>;
  /** Settles when every queued file of this run has been handled. */
  done: Promise<void>;
}

const refKey = (r: FileRef) => `${r.bucket_name}\u0000${r.remote_key}`;

export function newBatchId(): string {
  return 'batch_' + randomBytes(6).toString('hex');
}

/** `refused`: why a listed key cannot be placed inside the target (no document is written for it). */
type Selection = { key: string; code: string; object: SourceObject | null; refused?: string }[];

export class BatchManager {
  readonly owner = newOwnerId();
  readonly config: EngineConfig;
  private readonly store: MetadataStore;
  private peers: TransferPeers;
  private readonly events = new EventEmitter();
  private readonly running = new Map<string, RunningBatch>();
  private closed = false;
  /** The process's one cap over every batch it works on; each batch also has its own. */
  private readonly activeLimit: ReturnType<typeof pLimit>;

  constructor(deps: BatchManagerDeps) {
    this.store = deps.store;
    this.peers = { source: deps.source, destination: deps.destination };
    this.config = { ...DEFAULT_ENGINE_CONFIG, ...deps.config };
    this.activeLimit = pLimit(this.config.maxActive);
    this.events.setMaxListeners(0);
  }

  /**
   * New batch runs (starts, retries, resumes) use `next`; runs already going keep theirs. Resolves
   * when no run uses the previous peers any more, so their owner may close them then.
   */
  replacePeers(next: TransferPeers): Promise<void> {
    const previous = this.peers;
    this.peers = next;
    const users = [...this.running.values()].filter((r) => r.peers === previous);
    return Promise.all(users.map((r) => r.done)).then(() => undefined);
  }

  onEvent(listener: (event: FerryEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private emit(event: FerryEvent): void {
    this.events.emit('event', event);
  }

  // ---------------------------------------------------------------- start

  /**
   * Validates everything first (selection, cap, bucket, MEGA login) and writes nothing on bad
   * input; then records the batch and its files and starts it in the background.
   */
  async start(request: BatchRequest): Promise<BatchStarted> {
    this.assertOpen();
    if (request.max_concurrent > this.config.maxConcurrentLimit) {
      throw new InputError(`max_concurrent must be an integer from 1 to ${this.config.maxConcurrentLimit}`);
    }
    const peers = this.peers;
    await this.checkSource(peers.source, request.bucket);
    const selection = await this.select(peers.source, request);
    await this.checkDestination(peers.destination);

    const batchId = newBatchId();
    const now = new Date();
    const existing = new Map(
      (
        await this.store.getFiles(selection.map((s) => ({ bucket_name: request.bucket, remote_key: s.key })))
      ).map((d) => [refKey(d), d]),
    );

    const entries: BatchFileEntry[] = [];
    const started: string[] = [];
    const alreadyDone: string[] = [];
    const failedToStart: FailedToStart[] = [];
    const toQueue: FileSeed[] = [];
    const missing: { seed: FileSeed; reason: string }[] = [];

    for (const item of selection) {
      const ref = { bucket_name: request.bucket, remote_key: item.key };
      if (item.refused) {
        const reason = `object key ${item.refused}`;
        failedToStart.push({ code: item.code, remote_key: item.key, reason });
        entries.push({ ...ref, code: item.code, start_result: 'failed_to_start', reason });
        continue;
      }
      const seed: FileSeed = {
        ...ref,
        code: item.code,
        s4_key: s4Key(request.target, item.key),
        size: item.object?.size ?? null,
        etag: item.object?.etag ?? null,
        batch_id: batchId,
      };
      const doc = existing.get(refKey(ref));
      if (!item.object) {
        const reason = `object not found in bucket ${request.bucket}`;
        missing.push({ seed, reason });
        failedToStart.push({ code: item.code, remote_key: item.key, reason });
        entries.push({ ...ref, code: item.code, start_result: 'failed_to_start', reason });
      } else if (doc?.status === 'done' && !request.force) {
        alreadyDone.push(item.code);
        entries.push({ ...ref, code: item.code, start_result: 'already_done' });
      } else if (doc && this.isHeldByLiveOwner(doc)) {
        const reason = `already transferring${doc.last_batch_id ? ` in ${doc.last_batch_id}` : ''}`;
        failedToStart.push({ code: item.code, remote_key: item.key, reason });
        entries.push({ ...ref, code: item.code, start_result: 'in_flight', reason });
      } else {
        toQueue.push(seed);
        started.push(item.code);
        entries.push({ ...ref, code: item.code, start_result: 'started' });
      }
    }

    // The batch is recorded first, so a crash from here on leaves a batch that resumes.
    await this.store.insertBatch({
      batch_id: batchId,
      options: request,
      files: entries,
      state: 'running',
      created_at: now,
      updated_at: now,
    });
    for (const { seed, reason } of missing) {
      await this.store.markFailedToStart(seed, 's3_download_failed', reason);
    }
    for (const seed of toQueue) {
      const doc = await this.store.queueFile(seed, { force: request.force, newTransferId: randomUUID() });
      if (!doc) {
        // Taken by another process between the check and now: it is in flight there.
        const entry = entries.find((e) => e.remote_key === seed.remote_key);
        if (entry) {
          entry.start_result = 'in_flight';
          entry.reason = 'already transferring';
        }
        started.splice(started.indexOf(seed.code), 1);
        failedToStart.push({ code: seed.code, remote_key: seed.remote_key, reason: 'already transferring' });
      }
    }
    if (entries.some((e) => e.start_result === 'in_flight'))
      await this.store.updateBatch(batchId, { files: entries });

    this.runBatch(batchId, request, entries, peers);
    this.emit({ type: 'batch', batch_id: batchId, overall_status: 'in_progress', state: 'running' });

    return {
      batch_id: batchId,
      status: 'started',
      message: `batch started with ${entries.length} file${entries.length === 1 ? '' : 's'}: ${started.length} to transfer, ${alreadyDone.length} already done, ${failedToStart.length} failed to start`,
      total_files: entries.length,
      started,
      already_done: alreadyDone,
      failed_to_start: failedToStart,
    };
  }

  private async checkSource(source: Source, bucket: string): Promise<void> {
    try {
      await source.checkBucket(bucket);
    } catch (err) {
      throw asInputError(err, `S3 bucket ${bucket}`);
    }
  }

  private async checkDestination(destination: Destination): Promise<void> {
    try {
      await destination.connect();
    } catch (err) {
      throw asInputError(err, 'MEGA');
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
    try {
      for await (const object of source.listAll(request.bucket, prefix)) {
        if (isFolderMarker(object.key, object.size)) continue;
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
        `no objects found in bucket ${request.bucket}${prefix ? ` under prefix "${prefix}"` : ''}`,
      );
    }
    return selection;
  }

  private isHeldByLiveOwner(doc: FileDoc): boolean {
    if (doc.status !== 'processing') return false;
    const expires = doc.lease_expires_at?.getTime() ?? 0;
    return expires > Date.now() && !isDeadOwner(doc.lease_owner);
  }

  // ---------------------------------------------------------------- run

  /** Runs the batch's startable files in the background, at most max_concurrent at once. */
  private runBatch(
    batchId: string,
    request: BatchRequest,
    entries: BatchFileEntry[],
    peers: TransferPeers = this.peers,
  ): RunningBatch {
    const existing = this.running.get(batchId);
    if (existing) return existing;
    const limit = pLimit(request.max_concurrent);
    const run: RunningBatch = {
      batchId,
      peers,
      cancelled: false,
      active: new Map(),
      done: Promise.resolve(),
    };
    this.running.set(batchId, run);
    const refs = entries.filter((e) => e.start_result === 'started');
    // A file waits for a place in its batch, then for one in the process (first come, first served
    // across batches), so neither cap is ever exceeded.
    run.done = Promise.all(refs.map((e) => limit(() => this.activeLimit(() => this.transferFile(run, e)))))
      .then(() => this.finishBatch(run))
      .catch((err: unknown) => {
        // Only store failures reach here (transfer failures are recorded per file).
        console.error(`batch ${batchId} stopped: ${shortReason(err)}`);
      })
      .finally(() => {
        if (this.running.get(batchId) === run) this.running.delete(batchId);
      });
    return run;
  }

  private async finishBatch(run: RunningBatch): Promise<void> {
    if (this.closed) return; // shutting down: the batch stays `running` and resumes next start
    const state = run.cancelled ? 'cancelled' : 'finished';
    await this.store.updateBatch(run.batchId, { state, finished_at: new Date() });
    const status = await this.status(run.batchId);
    this.emit({
      type: 'batch',
      batch_id: run.batchId,
      overall_status: status?.overall_status ?? 'completed',
      state,
    });
  }

  private async transferFile(run: RunningBatch, entry: FileRef): Promise<void> {
    if (run.cancelled || this.closed) return;
    const ref = { bucket_name: entry.bucket_name, remote_key: entry.remote_key };
    const claimed = await this.store.claim(ref, this.owner, this.config.leaseMs);
    if (!claimed) return; // not pending any more, or another process holds it
    let doc: FileDoc = claimed;
    const abort = new AbortController();
    const active: ActiveFile = {
      batchId: run.batchId,
      ref,
      peers: run.peers,
      account: new TransferAccount(doc.size ?? null),
      abort,
      lastEmit: 0,
    };
    run.active.set(refKey(ref), active);
    if (run.cancelled || this.closed) abort.abort(); // cancelled between the claim and now
    await this.emitFile(run.batchId, doc, active);

    let lastWrite = Date.now();
    let written = doc.transferred_bytes ?? 0;
    const heartbeat = setInterval(() => {
      const now = Date.now();
      const bytes = active.account.transferred;
      if (bytes !== written || now - lastWrite >= this.config.leaseMs / 3) {
        written = bytes;
        lastWrite = now;
        this.store
          .renewLease(ref, this.owner, this.config.leaseMs, { transferred_bytes: bytes })
          .catch(() => undefined);
      }
    }, this.config.progressWriteMs);

    try {
      const { node, location } = await withRetry((n) => this.attempt(doc, active, n), this.config.retry, {
        signal: abort.signal,
        onFailure: async (err, _attempt, willRetry) => {
          if (willRetry) {
            await this.store.recordFailedAttempt(ref, this.owner, shortReason(err));
            active.account.reset(0);
          }
        },
      });
      clearInterval(heartbeat);
      await this.store.finish(ref, this.owner, {
        status: 'done',
        error_message: null,
        transferred_bytes: node.size,
        mega_handle: node.handle,
        mega_link: location,
        size: node.size,
      });
    } catch (err) {
      clearInterval(heartbeat);
      if (this.closed && !run.cancelled) {
        // Shutting down, not cancelled: leave the file for the next start.
        await this.store.release(ref, this.owner, 'pending');
      } else {
        const cancelled = run.cancelled || err instanceof CancelledError;
        const status: FileStatus = cancelled ? 'cancelled' : statusForError(err);
        await this.store.finish(ref, this.owner, {
          status,
          count_failure: !cancelled,
          error_message: cancelled ? 'cancelled by the user' : shortReason(err),
          transferred_bytes: active.account.transferred,
        });
      }
    } finally {
      run.active.delete(refKey(ref));
    }
    doc = (await this.store.getFile(ref)) ?? doc;
    await this.emitFile(run.batchId, doc, null);
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
    const { source, destination } = active.peers;
    const object = await source.head(bucket, key, signal);
    if (!object) throw new FerryError('not_found', 'source', `S3 object not found: ${bucket}/${key}`);
    const transferId = doc.transfer_id ?? randomUUID();
    active.account = new TransferAccount(object.size);

    const fresh = attemptNo > 1;
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
        `size check failed at ${doc.s4_key}: MEGA has ${node.size} bytes, S3 has ${object.size}`,
      );
    }
    // One copy per path: every other node there (an earlier copy, a forced transfer's old node,
    // a duplicate a crash left) goes to the Rubbish Bin.
    const kept = node.handle;
    for (const other of await destination.find(doc.s4_key, { fresh })) {
      if (other.handle !== kept) await destination.discard(other.handle);
    }
    // A forced copy replaces the earlier one wherever it was (an earlier target folder too).
    if (doc.replaces_handle && doc.replaces_handle !== kept) {
      await destination.discard(doc.replaces_handle);
      await this.store.patchHeld(doc, this.owner, { replaces_handle: null });
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
        : await active.peers.source.read(doc.bucket_name, doc.remote_key, { start, signal });
    let open = true;
    let written: Promise<void> = Promise.resolve();
    try {
      return await active.peers.destination.upload({
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

  /** Records (or clears) where the file's upload stands, in the store and in the attempt's copy. */
  private async saveCheckpoint(doc: FileDoc, session: UploadSessionDoc | null): Promise<void> {
    if (!session && !doc.upload_session) return;
    doc.upload_session = session;
    await this.store.patchHeld(doc, this.owner, { upload_session: session });
  }

  private onProgress(doc: FileDoc, active: ActiveFile, bytes: number): void {
    active.account.update(bytes);
    const now = Date.now();
    if (now - active.lastEmit < this.config.progressEmitMs) return;
    active.lastEmit = now;
    this.emit({
      type: 'progress',
      batch_id: active.batchId,
      file: toProgress({ ...doc, status: 'processing' }, active),
    });
  }

  private async emitFile(batchId: string, doc: FileDoc, active: ActiveFile | null): Promise<void> {
    this.emit({ type: 'file', batch_id: batchId, file: toProgress(doc, active) });
  }

  // ---------------------------------------------------------------- status

  async status(batchId: string): Promise<BatchStatus | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    return this.describe(batch);
  }

  private async describe(batch: BatchDoc): Promise<BatchStatus> {
    const docs = new Map((await this.store.getFiles(batch.files)).map((d) => [refKey(d), d]));
    const run = this.running.get(batch.batch_id);
    const files = batch.files.map((entry) => {
      const doc = docs.get(refKey(entry));
      const active = run?.active.get(refKey(entry)) ?? null;
      if (!doc) {
        return toProgress(
          {
            ...entry,
            s4_key: keyProblem(entry.remote_key) ? '' : s4Key(batch.options.target, entry.remote_key),
            status: entry.start_result === 'failed_to_start' ? 's3_download_failed' : 'pending',
            retry_count: 0,
            error_message: entry.reason ?? null,
          },
          null,
        );
      }
      return toProgress({ ...doc, code: entry.code }, active);
    });
    const counts = countStatuses(files.map((f) => f.status));
    return {
      batch_id: batch.batch_id,
      total_files: files.length,
      ...counts,
      overall_status: overallStatusOf(batch.state, files.length, counts),
      created_at: batch.created_at.toISOString(),
      target: batch.options.target,
      bucket: batch.options.bucket,
      files,
    };
  }

  async listBatches(limit = 50): Promise<BatchStatus[]> {
    const batches = await this.store.listBatches({ limit });
    return Promise.all(batches.map((b) => this.describe(b)));
  }

  /** True while the batch runs in this process. */
  isRunning(batchId: string): boolean {
    return this.running.has(batchId);
  }

  /** Resolves when the batch's run in this process has finished (at once if none). */
  async waitForBatch(batchId: string): Promise<void> {
    for (;;) {
      const run = this.running.get(batchId);
      if (!run) return;
      await run.done;
    }
  }

  // ---------------------------------------------------------------- cancel / retry

  /**
   * Cancels a batch: pending files become `cancelled`, in-flight reads and uploads are aborted,
   * and the call returns once nothing of the batch is `processing` here.
   */
  async cancel(batchId: string): Promise<BatchCancelled | null> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    const run = this.running.get(batchId);
    let inFlight = 0;
    if (run) {
      run.cancelled = true;
      inFlight = run.active.size;
      for (const a of run.active.values()) a.abort.abort();
    }
    const pendingRefs = batch.files.filter((f) => f.start_result === 'started');
    const pendingCancelled = await this.store.setStatusWhere(
      pendingRefs,
      ['pending'],
      'cancelled',
      'cancelled by the user',
    );
    if (run) await run.done; // its end (finishBatch) records the batch as cancelled and says so
    if (!run || this.closed) {
      await this.store.updateBatch(batchId, { state: 'cancelled', finished_at: new Date() });
      this.emit({ type: 'batch', batch_id: batchId, overall_status: 'cancelled', state: 'cancelled' });
    }
    const cancelledTransfers = pendingCancelled + inFlight;
    return {
      status: 'cancelled',
      message: `batch cancelled: ${cancelledTransfers} transfer${cancelledTransfers === 1 ? '' : 's'} stopped`,
      batch_id: batchId,
      cancelled_transfers: cancelledTransfers,
      total_files: batch.files.length,
    };
  }

  /** Starts the batch's failed and cancelled files again. Returns the codes restarted. */
  async retry(batchId: string): Promise<{ batch_id: string; restarted: string[] } | null> {
    this.assertOpen();
    const batch = await this.store.getBatch(batchId);
    if (!batch) return null;
    await this.waitForBatch(batchId);
    const peers = this.peers;
    await this.checkDestination(peers.destination);
    const docs = await this.store.getFiles(batch.files);
    const failed = docs.filter((d) => FAILED_STATUSES.includes(d.status));
    const failedKeys = new Set(failed.map(refKey));
    const entries = batch.files.map((e) =>
      failedKeys.has(refKey(e)) ? { ...e, start_result: 'started' as const, reason: null } : e,
    );
    await this.store.setStatusWhere(failed, [...FAILED_STATUSES], 'pending', null);
    await this.store.updateBatch(batchId, { state: 'running', files: entries, finished_at: null });
    const restarted = entries.filter((e) => failedKeys.has(refKey(e))).map((e) => e.code);
    this.runBatch(
      batchId,
      batch.options,
      entries.filter((e) => failedKeys.has(refKey(e))),
      peers,
    );
    this.emit({ type: 'batch', batch_id: batchId, overall_status: 'in_progress', state: 'running' });
    return { batch_id: batchId, restarted };
  }

  // ---------------------------------------------------------------- restart

  /**
   * After a start: files a dead process left `processing` go back to `pending`, and batches still
   * `running` in the store continue here.
   */
  async resumeUnfinished(): Promise<string[]> {
    this.assertOpen();
    for (const doc of await this.store.listProcessing()) {
      const expired = (doc.lease_expires_at?.getTime() ?? 0) <= Date.now();
      if ((expired || isDeadOwner(doc.lease_owner)) && doc.lease_owner !== this.owner) {
        await this.store.release(doc, doc.lease_owner ?? '', 'pending');
      }
    }
    const resumed: string[] = [];
    for (const batch of await this.store.listBatches({ state: 'running' })) {
      if (this.running.has(batch.batch_id)) continue;
      // Files of the batch that never got their document (a crash during start) are queued now.
      const docs = new Map((await this.store.getFiles(batch.files)).map((d) => [refKey(d), d]));
      for (const entry of batch.files) {
        if (entry.start_result === 'started' && !docs.has(refKey(entry)) && !keyProblem(entry.remote_key)) {
          await this.store.queueFile(
            {
              ...entry,
              s4_key: s4Key(batch.options.target, entry.remote_key),
              size: null,
              etag: null,
              batch_id: batch.batch_id,
            },
            { force: batch.options.force, newTransferId: randomUUID() },
          );
        }
      }
      this.runBatch(batch.batch_id, batch.options, batch.files);
      resumed.push(batch.batch_id);
    }
    return resumed;
  }

  /**
   * Stops this process's work without cancelling it: in-flight transfers are aborted and their
   * files go back to `pending`; batches stay `running` and resume at the next start.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const runs = [...this.running.values()];
    for (const run of runs) for (const a of run.active.values()) a.abort.abort();
    await Promise.all(runs.map((r) => r.done));
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

function toProgress(doc: ProgressSource, active: ActiveFile | null): FileProgress {
  const total = doc.size ?? null;
  const stats = active?.account.stats();
  const transferred =
    stats?.transferred_bytes ?? (doc.status === 'done' ? (total ?? 0) : (doc.transferred_bytes ?? 0));
  const progress =
    stats?.progress ??
    (doc.status === 'done'
      ? 100
      : total
        ? Math.round(Math.min(100, (transferred / total) * 100) * 10) / 10
        : 0);
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

/** Turns a failure to reach S3 or MEGA during validation into bad-configuration input. */
function asInputError(err: unknown, what: string): Error {
  if (err instanceof InputError) return err;
  if (err instanceof FerryError) {
    if (err.kind === 'not_found') return new InputError(`${what} not found`);
    return new InputError(`${what}: ${shortReason(err)}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function mapLimit<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(n);
  return Promise.all(items.map((i) => limit(() => fn(i))));
}
