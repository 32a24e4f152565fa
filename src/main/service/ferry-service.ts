/**
 * The service: implements the one API (src/shared/api.ts) over the engine, the store, the S3
 * source and the MEGA destination. The CLI, the headless host and the desktop shell all use it.
 */
import type { FerryApi, FileRecord, Health } from '../../shared/api';
import {
  BatchIdSchema,
  type BatchCancelled,
  type BatchStarted,
  type BatchStatus,
  type FerryEvent,
  FilesQuerySchema,
  S3ObjectsQuerySchema,
  type S3ObjectsPage,
  batchRequestSchema,
  describeZodError,
} from '../../shared/contract';
import { BatchManager } from '../engine/batch-manager';
import { MegaDestination } from '../engine/destinations/mega';
import { InputError } from '../engine/errors';
import type { Destination, Source } from '../engine/ports';
import { S3Source } from '../engine/sources/s3';
import { openStore } from '../store/open';
import type { FileDoc, MetadataStore } from '../store/port';
import type { FerryConfig } from './config';
import pkg from '../../../package.json';

/** A request that contradicts the current state (e.g. retrying a running batch): 409 over HTTP. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** An unknown batch id: 404 over HTTP. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export const VERSION: string = pkg.version;

export class FerryService implements FerryApi {
  readonly manager: BatchManager;
  /** The unfinished batches this service took up when it opened (with `resume`). */
  resumed: string[] = [];

  constructor(
    readonly config: FerryConfig,
    readonly store: MetadataStore,
    readonly source: Source & { close?(): void },
    readonly destination: Destination,
  ) {
    this.manager = new BatchManager({ store, source, destination, config: config.engine });
  }

  /** Opens the store and connects the peers; with `resume`, unfinished batches continue. */
  static async open(config: FerryConfig, opts: { resume?: boolean } = {}): Promise<FerryService> {
    if (!config.mega) {
      throw new InputError('MEGA account not configured: set MEGA_EMAIL and MEGA_PASSWORD');
    }
    let store: MetadataStore;
    try {
      store = await openStore({ mongodbUri: config.mongodbUri ?? undefined, dataDir: config.dataDir });
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err));
    }
    const service = new FerryService(
      config,
      store,
      new S3Source(config.s3),
      new MegaDestination(config.mega),
    );
    if (opts.resume) service.resumed = await service.manager.resumeUnfinished();
    return service;
  }

  async startBatch(request: unknown): Promise<BatchStarted> {
    const schema = batchRequestSchema({
      maxConcurrent: this.config.engine.maxConcurrentLimit,
      maxFiles: this.config.engine.maxFilesPerBatch,
    });
    const parsed = schema.safeParse(request);
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    return this.manager.start(parsed.data);
  }

  async getBatch(batchId: string): Promise<BatchStatus> {
    const status = await this.manager.status(checkBatchId(batchId));
    if (!status) throw new NotFoundError(`unknown batch: ${batchId}`);
    return status;
  }

  listBatches(): Promise<BatchStatus[]> {
    return this.manager.listBatches();
  }

  async cancelBatch(batchId: string): Promise<BatchCancelled> {
    const status = await this.getBatch(batchId);
    if (status.overall_status !== 'in_progress') {
      throw new ConflictError(
        `batch ${batchId} has already ended (${status.overall_status}); nothing to cancel`,
      );
    }
    const result = await this.manager.cancel(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${batchId}`);
    return result;
  }

  async retryBatch(batchId: string) {
    const status = await this.getBatch(batchId);
    if (this.manager.isRunning(status.batch_id) || status.overall_status === 'in_progress') {
      throw new ConflictError(
        `batch ${batchId} is still in progress; cancel it or wait for it to end before a retry`,
      );
    }
    const result = await this.manager.retry(status.batch_id);
    if (!result) throw new NotFoundError(`unknown batch: ${batchId}`);
    return {
      batch_id: result.batch_id,
      status: 'started' as const,
      message: `${result.restarted.length} file${result.restarted.length === 1 ? '' : 's'} started again`,
      restarted: result.restarted,
    };
  }

  async listFiles(query: unknown): Promise<{ files: FileRecord[]; next_cursor: string | null }> {
    const parsed = FilesQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const page = await this.store.listFiles(parsed.data);
    return { files: page.files.map(toRecord), next_cursor: page.next_cursor };
  }

  async listBuckets(): Promise<{ buckets: string[] }> {
    return { buckets: await this.source.listBuckets() };
  }

  async listObjects(query: unknown): Promise<S3ObjectsPage> {
    const parsed = S3ObjectsQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw new InputError(describeZodError(parsed.error));
    const { bucket, prefix, token, limit } = parsed.data;
    const page = await this.source.list(bucket, { prefix, delimiter: '/', token, maxKeys: limit });
    return {
      bucket,
      prefix,
      folders: page.folders,
      objects: page.objects
        .filter((o) => o.key !== prefix) // the folder's own placeholder object
        .map((o) => ({ key: o.key, size: o.size, last_modified: o.last_modified?.toISOString() ?? null })),
      next_token: page.next_token,
    };
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
    await this.destination.close();
    this.source.close?.();
    await this.store.close();
  }
}

function checkBatchId(batchId: string): string {
  const parsed = BatchIdSchema.safeParse(batchId);
  if (!parsed.success) throw new NotFoundError(`unknown batch: ${batchId}`);
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
    last_batch_id: doc.last_batch_id ?? null,
    mega_handle: doc.mega_handle ?? null,
    mega_link: doc.mega_link ?? null,
  };
}
