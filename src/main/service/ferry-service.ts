/**
 * The service: implements the one API (src/shared/api.ts) over the engine, the store, the S3
 * source and the MEGA destination. The CLI, the headless host and the desktop shell all use it.
 */
import type {
  AllControlled,
  BatchMoved,
  BatchesCleared,
  BatchPaused,
  BatchResumed,
  FilesPaused,
  Overview,
  FerryApi,
  FileRecord,
  Health,
  ProcessKind,
  WorkerStatus,
} from '../../shared/api';
import { LOCAL_BUCKET_PREFIX } from '../../shared/constants';
import { parseBwLimit } from '../../shared/bwlimit';
import type {
  BatchCancelled,
  BatchStarted,
  BatchStatus,
  ConnectionTestResult,
  FerryEvent,
  S3ObjectsPage,
  SettingsView,
  TransferPlan,
} from '../../shared/contract';
import type { BatchRequest } from '../../shared/contract';
import { planTransfer } from './plan';
import { summarizeTransfer } from '../../shared/transfer-summary';
import { BatchManager, type TransferPeers, type WorkScope } from '../engine/batch-manager';
import { ConflictError, InputError, NotFoundError } from '../engine/errors';
import type { Destination, Source } from '../engine/ports';
import { isLocalBucket } from '../engine/sources/local';
import { RoutedSource } from '../engine/sources/routed';
import type { S3Config } from '../engine/sources/s3';
import { openStore } from '../store/open';
import { megaDestinationId } from '../engine/destinations/ids';
import {
  DESTINATION_KINDS,
  type DestinationKind,
  declarationOf,
  isDestinationKind,
} from '../../shared/destinations';
import { DestinationDirectory } from './destination-directory';
import { ListingCursorSeal } from './listing-cursor';
import type { FileDoc, MetadataStore } from '../store/port';
import type { FerryConfig } from './config';
import {
  DESTINATION_REGISTRY,
  destinationContextOf,
  s3ConfigOf,
  s3Source,
  testDestination,
  testMongo,
  testS3,
} from './peers';
import {
  type SecretBox,
  SettingsFile,
  type SettingsValues,
  checkChange,
  flattenPatch,
  resolveSettings,
  settingsView,
} from './settings';
import { batchTotals, overallSpeed } from '../../shared/batch-totals';
import pkg from '../../../package.json';

export type { SecretBox } from './settings';

export interface FerryServiceOptions {
  /**
   * Unfinished batches continue (once a MEGA account is configured), and this process works every
   * running batch of the store (the desktop app, `serve`, `resume`). Without it the process works
   * only the batches it starts or retries (a CLI `transfer`).
   */
  resume?: boolean;
  /**
   * Seals secrets saved in the settings (the desktop passes one backed by the OS keychain).
   * Without it secrets come from environment variables only.
   */
  secretBox?: SecretBox;
  /** Overrides which batches this process moves (default: every running one with `resume`, else its own). */
  work?: WorkScope;
  /** Buckets named `local:<folder>` read local files (the desktop's drag and drop). */
  allowLocalFiles?: boolean;
  /** Who this process is in its heartbeat (default: a CLI run named host/pid). */
  kind?: ProcessKind;
  name?: string;
  /** A worker: refuses the embedded store before opening anything (workers share a MongoDB). */
  requireMongo?: boolean;
}

type ClosableSource = Source & { close?(): void };

export { ConflictError, NotFoundError };

export const VERSION: string = pkg.version;

/**
 * The contract's schemas (zod), loaded by the first call that validates input: listing batches
 * needs none, and zod costs a process about 0.1 CPU-seconds and 10 MB to load.
 */
const schemas = () => import('../../shared/contract');

export class FerryService implements FerryApi {
  readonly manager: BatchManager;
  /** The unfinished batches this service took up (with `resume`, once MEGA is configured). */
  resumed: string[] = [];
  private values: SettingsValues;
  private current: { source: ClosableSource; destinations: DestinationDirectory; s3: string };
  private resumePending = false;
  /** A second-factor code for the next MEGA login only (never stored). */
  private mfaCode: string | null = null;
  /** Old peers, closed once the batches that use them end. */
  private readonly retiring = new Set<Promise<void>>();
  private saving: Promise<unknown> = Promise.resolve();
  private readonly box: SecretBox | null;
  private readonly cursors = new ListingCursorSeal();

  private constructor(
    readonly config: FerryConfig,
    readonly store: MetadataStore,
    private readonly settings: SettingsFile,
    private readonly options: FerryServiceOptions,
  ) {
    this.box = options.secretBox ?? null;
    this.values = this.resolve();
    this.current = this.buildPeers(this.values, null);
    this.manager = new BatchManager({
      store,
      source: this.current.source,
      destinations: this.current.destinations,
      config: config.engine,
      work: options.work ?? (options.resume ? 'all' : 'own'),
      identity: { kind: options.kind ?? 'cli', name: options.name, version: VERSION },
    });
    this.applyBandwidth();
  }

  /** The bandwidth limit of the settings, applied at once to every upload of this process. */
  private applyBandwidth(): void {
    const parsed = parseBwLimit(this.values.transfers.bwlimit);
    this.manager.bandwidth.setSchedule('schedule' in parsed ? parsed.schedule : []);
  }

  /**
   * Opens the store and prepares the peers (MEGA logs in when first needed, so this works with no
   * account configured); with `resume`, unfinished batches continue.
   */
  static async open(config: FerryConfig, opts: FerryServiceOptions = {}): Promise<FerryService> {
    const settings = new SettingsFile(config.dataDir, opts.secretBox ?? null);
    await settings.load();
    const values = resolveSettings([config.fromEnv.settings, settings.layer()], {
      maxConcurrentLimit: config.engine.maxConcurrentLimit,
    });
    if (opts.requireMongo && !values.mongodb.uri) {
      throw new InputError(
        'a worker needs MONGODB_URI: workers share one MongoDB store (set MONGODB_URI=mongodb://host:27017/megaferry)',
      );
    }
    let store: MetadataStore;
    try {
      store = await openStore({
        mongodbUri: values.mongodb.uri || undefined,
        dataDir: config.dataDir,
        legacyDestination: values.mega.email ? megaDestinationId(values.mega.email) : undefined,
      });
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err));
    }
    const service = new FerryService(config, store, settings, opts);
    if (opts.resume) {
      if (service.anyDestinationConfigured) service.resumed = await service.manager.resumeUnfinished();
      else service.resumePending = true;
    }
    return service;
  }

  /** The source in use for new work (S3, or S3 and local folders on the desktop). */
  get source(): Source {
    return this.current.source;
  }

  /** The destinations this process can write now (the registry's, from the settings). */
  get destinations(): DestinationDirectory {
    return this.current.destinations;
  }

  /** The MEGA destination of the settings (verify reads MEGA copies through it). */
  get megaDestination(): Destination {
    const directory = this.current.destinations;
    if (!directory.configured('mega')) throw new InputError(directory.notConfigured('mega'));
    return directory.byId(directory.idFor('mega', '/')) as Destination;
  }

  /** True when a MEGA e-mail and password are configured (environment or settings). */
  get megaConfigured(): boolean {
    return this.current.destinations.configured('mega');
  }

  /** True when any destination needing an account has one (a local folder needs none). */
  get anyDestinationConfigured(): boolean {
    return DESTINATION_KINDS.some(
      (k) => declarationOf(k).required.length > 0 && this.destinations.configured(k),
    );
  }

  /** Throws the clear InputError of a destination that is not configured (the CLI checks this first). */
  requireDestination(kind: DestinationKind = 'mega'): void {
    if (!this.destinations.configured(kind)) throw new InputError(this.destinations.notConfigured(kind));
  }

  private resolve(): SettingsValues {
    return resolveSettings([this.config.fromEnv.settings, this.settings.layer()], {
      maxConcurrentLimit: this.config.engine.maxConcurrentLimit,
    });
  }

  /** Builds the peers for `values`, keeping those of `previous` whose configuration is the same. */
  private buildPeers(
    values: SettingsValues,
    previous: FerryService['current'] | null,
  ): FerryService['current'] {
    const s3Config = s3ConfigOf(values, this.config);
    const s3Key = JSON.stringify(s3Config);
    const newS3 = (config: S3Config): ClosableSource => {
      const s3 = s3Source(config);
      return this.options.allowLocalFiles ? new RoutedSource(s3) : s3;
    };
    const ctx = destinationContextOf(values, this.config, this.mfaCode);
    this.mfaCode = null; // used by the MEGA destination built next, for its login only
    const destinations = previous
      ? previous.destinations.successor(values, ctx)
      : new DestinationDirectory(values, ctx, DESTINATION_REGISTRY, this.box !== null);
    return {
      source: previous?.s3 === s3Key ? previous.source : newS3(s3Config),
      destinations,
      s3: s3Key,
    };
  }

  /** New settings apply to new work; the old peers close when the batches using them end. */
  private async applySettings(values: SettingsValues): Promise<void> {
    const previous = this.current;
    this.values = values;
    this.applyBandwidth();
    const next = this.buildPeers(values, previous);
    this.current = next;
    const peers: TransferPeers = { source: next.source, destinations: next.destinations };
    const retired = this.manager
      .replacePeers(peers)
      .then(async () => {
        await previous.destinations.close();
        if (next.source !== previous.source) previous.source.close?.();
      })
      .catch(() => undefined);
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
    if (this.resumePending && this.anyDestinationConfigured) {
      this.resumePending = false;
      this.resumed = await this.manager.resumeUnfinished();
    }
  }

  async getSettings(): Promise<SettingsView> {
    return settingsView(this.values, {
      env: this.config.fromEnv.settings,
      maxConcurrentLimit: this.config.engine.maxConcurrentLimit,
      maxFilesPerBatch: this.config.engine.maxFilesPerBatch,
      storeInUse: this.store.kind,
      box: this.box,
    });
  }

  saveSettings(patch: unknown): Promise<SettingsView> {
    const run = this.saving.then(() => this.save(patch));
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async save(patch: unknown): Promise<SettingsView> {
    const { settingsPatchSchema, describeZodError } = await schemas();
    const schema = settingsPatchSchema({ maxConcurrent: this.config.engine.maxConcurrentLimit });
    const parsed = schema.safeParse(patch ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const { layer, mfaCode } = flattenPatch(parsed.data);
    const env = this.config.fromEnv.settings;
    checkChange(layer, { env, current: this.values, box: this.box });
    // Values the environment fixes (given unchanged) are not saved.
    for (const name of Object.keys(layer) as (keyof typeof layer)[]) {
      if (env[name] !== undefined) delete layer[name];
    }
    if (Object.keys(layer).length > 0) await this.settings.save(layer);
    if (mfaCode) this.mfaCode = mfaCode;
    await this.applySettings(this.resolve());
    return this.getSettings();
  }

  async testConnection(request: unknown): Promise<ConnectionTestResult> {
    const { connectionTestSchema, describeZodError } = await schemas();
    const schema = connectionTestSchema({ maxConcurrent: this.config.engine.maxConcurrentLimit });
    const parsed = schema.safeParse(request ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const { target, draft } = parsed.data;
    const { layer, mfaCode } = flattenPatch(draft ?? {});
    const values = resolveSettings([this.config.fromEnv.settings, layer, this.settings.layer()], {
      maxConcurrentLimit: this.config.engine.maxConcurrentLimit,
    });
    if (target === 's3') return testS3(s3ConfigOf(values, this.config), values.s3.default_bucket);
    if (target === 'mongodb') return testMongo(values.mongodb.uri, this.config.dataDir);
    return testDestination(target, values, destinationContextOf(values, this.config, mfaCode));
  }

  /** A `local:` bucket outside the desktop app is refused before anything else is done. */
  private checkBucketKind(bucket: string): void {
    if (isLocalBucket(bucket) && !this.options.allowLocalFiles) {
      throw new InputError(
        `bucket "${bucket}": local files (buckets starting with "${LOCAL_BUCKET_PREFIX}") can only be sent from the desktop app`,
      );
    }
  }

  async startBatch(request: unknown): Promise<BatchStarted> {
    const parsed = await this.parseBatchRequest(request);
    if (parsed.dry_run)
      throw new InputError('dry_run: a dry run is a plan: ask planBatch (POST /api/batches/plan)');
    if (parsed.run === 'queue' && declarationOf(parsed.destination).machineBound) {
      throw new InputError(
        `run: "queue" hands the batch to workers, which may run on other machines: a ${parsed.destination} ` +
          'destination is written by the process that starts the batch ("here")',
      );
    }
    if (parsed.run === 'queue' && this.store.kind !== 'mongodb') {
      throw new InputError(
        'run: "queue" hands the batch to workers, and workers share a MongoDB store: set MONGODB_URI ' +
          '(this process uses the embedded store); "here" moves it in this process',
      );
    }
    // Nothing to send to yet: one clear message (the host starts without an account).
    this.requireDestination(parsed.destination);
    return this.manager.start(parsed);
  }

  async planBatch(request: unknown): Promise<TransferPlan> {
    const parsed = await this.parseBatchRequest(request);
    // A plan needs the destination's name (where "already done" is looked up), not a login.
    return planTransfer(parsed, {
      source: this.current.source,
      store: this.store,
      destination: this.destinations.idFor(parsed.destination, parsed.target),
    });
  }

  private async parseBatchRequest(request: unknown): Promise<BatchRequest> {
    const { batchRequestSchema, describeZodError } = await schemas();
    const schema = batchRequestSchema({
      maxConcurrent: this.config.engine.maxConcurrentLimit,
      maxFiles: this.config.engine.maxFilesPerBatch,
    });
    // The settings' defaults for what the request leaves out (the target: that of its destination).
    let withDefaults = request;
    if (request && typeof request === 'object' && !Array.isArray(request)) {
      const given = request as Record<string, unknown>;
      const kind = isDestinationKind(given.destination) ? given.destination : 'mega';
      const target = (this.values[kind] as Record<string, string>).default_target;
      withDefaults = {
        max_concurrent: this.values.transfers.max_concurrent,
        ...(target ? { target } : {}),
        ...request,
      };
    }
    const parsed = schema.safeParse(withDefaults);
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    this.checkBucketKind(parsed.data.bucket);
    return parsed.data;
  }

  async getBatch(batchId: string): Promise<BatchStatus> {
    const id = await checkBatchId(batchId);
    const status = await this.manager.status(id);
    if (!status) throw new NotFoundError(`unknown batch: ${id}`);
    // The summary at the end (as the CLI prints it); while it runs, elapsed is still unknown.
    return { ...status, summary: summarizeTransfer([status]) };
  }

  async getOverview(): Promise<Overview> {
    const running = (await this.manager.runningBatches()).filter((b) => b.overall_status === 'in_progress');
    const t = batchTotals(running);
    return {
      running_batches: running.length,
      files: t.files,
      done: t.done,
      failed: t.failed,
      cancelled: t.cancelled,
      transferring: t.transferring,
      pending: t.pending,
      percent: t.percent,
      speed: Math.round(overallSpeed(running)),
    };
  }

  listBatches(): Promise<BatchStatus[]> {
    return this.manager.listBatches();
  }

  /** The batch, while it runs; else a conflict saying it has ended and there is nothing to `verb`. */
  private async runningBatch(batchId: string, verb: string): Promise<BatchStatus> {
    const status = await this.getBatch(batchId);
    if (status.overall_status !== 'in_progress') {
      throw new ConflictError(
        `batch ${status.batch_id} has already ended (${status.overall_status}); nothing to ${verb}`,
      );
    }
    return status;
  }

  async cancelBatch(batchId: string): Promise<BatchCancelled> {
    const status = await this.runningBatch(batchId, 'cancel');
    const result = await this.manager.cancel(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${status.batch_id}`);
    return result;
  }

  async pauseBatch(batchId: string): Promise<BatchPaused> {
    const status = await this.runningBatch(batchId, 'pause');
    const result = await this.manager.pause(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${status.batch_id}`);
    return {
      batch_id: result.batch_id,
      status: 'paused',
      message: `batch paused: ${result.paused} transfer${result.paused === 1 ? '' : 's'} held`,
      paused_transfers: result.paused,
    };
  }

  async resumeBatch(batchId: string): Promise<BatchResumed> {
    const status = await this.runningBatch(batchId, 'resume');
    const result = await this.manager.resume(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${status.batch_id}`);
    return {
      batch_id: result.batch_id,
      status: 'resumed',
      message: `batch resumed: ${result.resumed} transfer${result.resumed === 1 ? '' : 's'} queued again`,
      resumed_transfers: result.resumed,
    };
  }

  /** The batch of a files request, running (checked), and the codes it names that it holds. */
  private async filesOf(request: unknown, verb: string): Promise<{ batchId: string; codes: string[] }> {
    const { filesControlSchema, describeZodError } = await schemas();
    const parsed = filesControlSchema().safeParse(request ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const status = await this.runningBatch(parsed.data.batch_id, verb);
    const known = new Set(status.files.map((f) => f.code));
    const unknown = parsed.data.codes.filter((c) => !known.has(c));
    if (unknown.length > 0) {
      throw new NotFoundError(
        `batch ${status.batch_id} has no file with code ${unknown
          .slice(0, 5)
          .map((c) => JSON.stringify(c))
          .join(', ')}`,
      );
    }
    return { batchId: status.batch_id, codes: parsed.data.codes };
  }

  async pauseFiles(request: unknown): Promise<FilesPaused> {
    const { batchId, codes } = await this.filesOf(request, 'pause');
    const r = await this.manager.pause(batchId, codes);
    const n = r?.paused ?? 0;
    return {
      batch_id: batchId,
      status: 'paused',
      message: `${n} file${n === 1 ? '' : 's'} paused`,
      changed: n,
    };
  }

  async resumeFiles(request: unknown): Promise<FilesPaused> {
    const { batchId, codes } = await this.filesOf(request, 'resume');
    const r = await this.manager.resume(batchId, codes);
    const n = r?.resumed ?? 0;
    return {
      batch_id: batchId,
      status: 'resumed',
      message: `${n} file${n === 1 ? '' : 's'} queued again`,
      changed: n,
    };
  }

  async pauseAll(none?: unknown): Promise<AllControlled> {
    noInput(none, 'pauseAll');
    const r = await this.manager.pauseAll();
    return {
      status: 'paused',
      message: `${r.paused} transfer${r.paused === 1 ? '' : 's'} paused in ${r.batches} running batch${r.batches === 1 ? '' : 'es'}`,
      batches: r.batches,
      changed: r.paused,
    };
  }

  async resumeAll(none?: unknown): Promise<AllControlled> {
    noInput(none, 'resumeAll');
    const r = await this.manager.resumeAll();
    return {
      status: 'resumed',
      message: `${r.resumed} transfer${r.resumed === 1 ? '' : 's'} queued again in ${r.batches} running batch${r.batches === 1 ? '' : 'es'}`,
      batches: r.batches,
      changed: r.resumed,
    };
  }

  async moveBatchToFront(batchId: string): Promise<BatchMoved> {
    const status = await this.runningBatch(batchId, 'move');
    const r = await this.manager.toFront(status.batch_id);
    const n = r?.moved ?? 0;
    return {
      batch_id: status.batch_id,
      status: 'moved',
      message: `${n} waiting transfer${n === 1 ? '' : 's'} moved to the front of the queue`,
      moved: n,
    };
  }

  async clearFinished(none?: unknown): Promise<BatchesCleared> {
    noInput(none, 'clearFinished');
    const n = await this.manager.clearFinished('clear');
    return {
      status: 'cleared',
      message: `${n} finished batch${n === 1 ? '' : 'es'} cleared from Transfers (History keeps their files)`,
      changed: n,
    };
  }

  async showCleared(none?: unknown): Promise<BatchesCleared> {
    noInput(none, 'showCleared');
    const n = await this.manager.clearFinished('show');
    return { status: 'shown', message: `${n} cleared batch${n === 1 ? '' : 'es'} shown again`, changed: n };
  }

  async retryBatch(batchId: string) {
    const status = await this.getBatch(batchId);
    // Its last file may have ended a moment ago, before the batch's end was written.
    if ((await this.manager.settle(status.batch_id)) || status.overall_status === 'in_progress') {
      throw new ConflictError(
        `batch ${status.batch_id} is still in progress; cancel it or wait for it to end before a retry`,
      );
    }
    const result = await this.manager.retry(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${status.batch_id}`);
    return {
      batch_id: result.batch_id,
      status: 'started' as const,
      message: `${result.restarted.length} file${result.restarted.length === 1 ? '' : 's'} started again`,
      restarted: result.restarted,
    };
  }

  async listFiles(query: unknown): Promise<{ files: FileRecord[]; next_cursor: string | null }> {
    const { filesQuerySchema, describeZodError } = await schemas();
    const parsed = filesQuerySchema().safeParse(query ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const scope = [parsed.data.status, parsed.data.q];
    const cursor = parsed.data.cursor ? this.cursors.open(parsed.data.cursor, scope, 'cursor') : undefined;
    const page = await this.store.listFiles({ ...parsed.data, cursor });
    return { files: page.files.map(toRecord), next_cursor: this.cursors.seal(page.next_cursor, scope) };
  }

  async listBuckets(): Promise<{ buckets: string[] }> {
    return { buckets: await this.source.listBuckets() };
  }

  async listObjects(query: unknown): Promise<S3ObjectsPage> {
    const { s3ObjectsQuerySchema, describeZodError } = await schemas();
    const parsed = s3ObjectsQuerySchema().safeParse(query ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const { bucket, prefix, limit } = parsed.data;
    this.checkBucketKind(bucket);
    // S3's continuation token, sealed like the files cursor: a forged one never reaches S3.
    const scope = ['s3', bucket, prefix];
    const token = parsed.data.token ? this.cursors.open(parsed.data.token, scope, 'token') : undefined;
    const page = await this.source.list(bucket, { prefix, delimiter: '/', token, maxKeys: limit });
    return {
      bucket,
      prefix,
      folders: page.folders,
      objects: page.objects
        // The folder's own placeholder object ("photos/" listed under prefix "photos/").
        .filter((o) => !(o.key === prefix && prefix.endsWith('/')))
        .map((o) => ({ key: o.key, size: o.size, last_modified: o.last_modified?.toISOString() ?? null })),
      next_token: this.cursors.seal(page.next_token, scope),
    };
  }

  async listWorkers(): Promise<{ workers: WorkerStatus[] }> {
    return { workers: await this.manager.workers() };
  }

  async health(): Promise<Health> {
    return { ok: true, store: this.store.kind, version: VERSION };
  }

  onEvent(listener: (event: FerryEvent) => void): () => void {
    return this.manager.onEvent(listener);
  }

  /** Graceful stop: in-flight files go back to pending for the next start. */
  async close(): Promise<void> {
    await this.manager.shutdown();
    await Promise.all(this.retiring);
    await this.current.destinations.close();
    this.current.source.close?.();
    await this.store.close();
  }
}

/**
 * A method that acts on everything takes no input: anything but nothing (or an empty object) is
 * refused, so a confused or hostile caller changes nothing.
 */
function noInput(value: unknown, method: string): void {
  if (value === undefined) return;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    if (Object.keys(value).length === 0) return;
  }
  throw new InputError(`${method} takes no input`);
}

/** The batch id, or NotFoundError: ids arrive from IPC and HTTP as anything at all. */
async function checkBatchId(batchId: unknown): Promise<string> {
  const { batchIdSchema } = await schemas();
  const parsed = batchIdSchema().safeParse(batchId);
  if (!parsed.success) {
    const shown = typeof batchId === 'string' ? JSON.stringify(batchId.slice(0, 100)) : `a ${typeof batchId}`;
    throw new NotFoundError(
      `unknown batch: ${shown} is not a batch id ("batch_" and lowercase letters or digits)`,
    );
  }
  return parsed.data;
}

export function toRecord(doc: FileDoc): FileRecord {
  return {
    code: doc.code,
    bucket_name: doc.bucket_name,
    remote_key: doc.remote_key,
    s4_key: doc.s4_key,
    status: doc.status,
    status_updated_at: doc.status_updated_at.toISOString(),
    creation_date: doc.creation_date.toISOString(),
    modified_date: doc.modified_date.toISOString(),
    retry_count: doc.retry_count,
    error_message: doc.error_message ?? null,
    size: doc.size ?? null,
    transferred_bytes: doc.transferred_bytes ?? 0,
    destination: doc.destination,
    batch_id: doc.batch_id ?? null,
    mega_handle: doc.mega_handle ?? null,
    mega_link: doc.mega_link ?? null,
    verified_at: doc.verified_at?.toISOString() ?? null,
    verify_result: doc.verify_result ?? null,
  };
}
