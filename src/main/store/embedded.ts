/**
 * Embedded, file-backed adapter of the metadata store port (@seald-io/nedb), for machines without
 * MongoDB. Single process: every read-modify-write of a file runs under an in-process lock keyed
 * by {bucket_name, remote_key}, which makes claim, finish and friends atomic within the process.
 * Semantics match MongoStore; the conformance suite holds both to them.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Datastore from '@seald-io/nedb';
import type { BatchState, FileStatus } from '../../shared/contract';
import type {
  BatchDoc,
  FileDoc,
  FileListQuery,
  FileRef,
  FileSeed,
  FilesPage,
  FinishPatch,
  HeldPatch,
  MetadataStore,
  Verification,
} from './port';
import {
  definedFields,
  refOf,
  refKey,
  uniqueRefs,
  escapeRegExp,
  encodeFilesCursor,
  decodeFilesCursor,
  isLeaseLive,
} from './documents';

type Stored<T> = T & { _id: string };

const COMPACTION_INTERVAL_MS = 10 * 60_000;

// nedb's query language is untyped; these aliases keep that fact in one place.
type NedbQuery = Record<string, unknown>;

/** Runs tasks one at a time per key; different keys run concurrently. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const current = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Resolves once every task started so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}

/** A copy without nedb's `_id` and without undefined fields. */
function clean<T extends object>(doc: T & { _id?: unknown }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (k !== '_id' && v !== undefined) out[k] = v;
  return out as T;
}

function isHeldBy(doc: FileDoc | null, owner: string): doc is FileDoc {
  return doc !== null && doc.status === 'processing' && doc.lease_owner === owner;
}

/** Sets `status`, stamping status_updated_at only when it changes. */
function withStatus(doc: FileDoc, status: FileStatus, now: Date): FileDoc {
  return doc.status === status ? { ...doc } : { ...doc, status, status_updated_at: now };
}

export class EmbeddedStore implements MetadataStore {
  readonly kind = 'embedded' as const;
  private readonly filesDb: Datastore<FileDoc>;
  private readonly batchesDb: Datastore<BatchDoc>;
  private readonly lock = new KeyedLock();
  private ready = false;
  private compaction: NodeJS.Timeout | null = null;

  constructor(private readonly dataDir: string) {
    this.filesDb = new Datastore<FileDoc>({ filename: path.join(dataDir, 'files.db') });
    this.batchesDb = new Datastore<BatchDoc>({ filename: path.join(dataDir, 'batches.db') });
  }

  async init(): Promise<void> {
    if (this.ready) return;
    await mkdir(this.dataDir, { recursive: true });
    await this.filesDb.loadDatabaseAsync();
    await this.batchesDb.loadDatabaseAsync();
    await this.filesDb.ensureIndexAsync({ fieldName: ['bucket_name', 'remote_key'], unique: true });
    await this.filesDb.ensureIndexAsync({ fieldName: 'status' });
    await this.batchesDb.ensureIndexAsync({ fieldName: 'batch_id', unique: true });
    // The data files are append-only (a progress write adds a line); rewrite them now and then.
    this.compaction = setInterval(() => {
      this.filesDb.compactDatafileAsync().catch(() => undefined);
      this.batchesDb.compactDatafileAsync().catch(() => undefined);
    }, COMPACTION_INTERVAL_MS);
    this.compaction.unref();
    this.ready = true;
  }

  /** Waits for writes in flight and compacts the data files (one line per document). */
  async close(): Promise<void> {
    if (!this.ready) return;
    if (this.compaction) clearInterval(this.compaction);
    this.compaction = null;
    await this.lock.idle();
    await this.filesDb.compactDatafileAsync();
    await this.batchesDb.compactDatafileAsync();
    this.ready = false;
  }

  private assertReady(): void {
    if (!this.ready) throw new Error('EmbeddedStore is not initialised (call init() first)');
  }

  private async findStored(ref: FileRef): Promise<Stored<FileDoc> | null> {
    this.assertReady();
    const doc = (await this.filesDb.findOneAsync(refOf(ref))) as Stored<FileDoc> | null;
    return doc ?? null;
  }

  /**
   * Reads the file, lets `change` compute its next version and writes it, all under the file's
   * lock. `change` returns null to leave the document as it is; the result is then `current`.
   */
  private async modify<R>(
    ref: FileRef,
    change: (current: FileDoc | null, now: Date) => { next: FileDoc | null; result: R },
  ): Promise<R> {
    return this.lock.run(refKey(ref), async () => {
      const stored = await this.findStored(ref);
      const current = stored ? clean(stored) : null;
      const { next, result } = change(current, new Date());
      if (next) {
        const doc = clean({ ...next, ...refOf(ref) });
        if (stored) await this.filesDb.updateAsync({ _id: stored._id }, doc, {});
        else await this.filesDb.insertAsync(doc);
      }
      return result;
    });
  }

  async getFile(ref: FileRef): Promise<FileDoc | null> {
    const doc = await this.findStored(ref);
    return doc ? clean(doc) : null;
  }

  async getFiles(refs: FileRef[]): Promise<FileDoc[]> {
    this.assertReady();
    const unique = uniqueRefs(refs);
    if (unique.length === 0) return [];
    const docs = (await this.filesDb.findAsync({ $or: unique })) as Stored<FileDoc>[];
    const byKey = new Map(docs.map((d) => [refKey(d), clean(d)]));
    return unique.flatMap((r) => byKey.get(refKey(r)) ?? []);
  }

  async queueFile(seed: FileSeed, opts: { force: boolean; newTransferId: string }): Promise<FileDoc | null> {
    return this.modify(seed, (cur, now) => {
      if (cur && isLeaseLive(cur, now)) return { next: null, result: null };
      const fields = {
        code: seed.code,
        s4_key: seed.s4_key,
        size: seed.size,
        etag: seed.etag,
        last_batch_id: seed.batch_id,
        modified_date: now,
        lease_owner: null,
        lease_expires_at: null,
      };
      let next: FileDoc;
      if (!cur) {
        next = {
          ...refOf(seed),
          ...fields,
          status: 'pending',
          status_updated_at: now,
          creation_date: now,
          retry_count: 0,
          transferred_bytes: 0,
          transfer_id: opts.newTransferId,
        };
      } else {
        next = { ...withStatus(cur, 'pending', now), ...fields };
        if (cur.error_message != null) next.error_message = null;
        if (opts.force && cur.status === 'done') {
          next.transfer_id = opts.newTransferId;
          next.replaces_handle = cur.mega_handle ?? null;
          next.mega_handle = null;
          next.mega_link = null;
          next.transferred_bytes = 0;
          next.verify_result = null;
          next.verified_at = null;
        } else if (!cur.transfer_id) {
          next.transfer_id = opts.newTransferId;
        }
      }
      return { next, result: next };
    });
  }

  async markFailedToStart(seed: FileSeed, status: FileStatus, message: string): Promise<FileDoc> {
    return this.modify(seed, (cur, now) => {
      const fields = {
        code: seed.code,
        s4_key: seed.s4_key,
        size: seed.size,
        etag: seed.etag,
        last_batch_id: seed.batch_id,
        error_message: message,
        modified_date: now,
      };
      const next: FileDoc = cur
        ? { ...withStatus(cur, status, now), ...fields }
        : {
            ...refOf(seed),
            ...fields,
            status,
            status_updated_at: now,
            creation_date: now,
            retry_count: 0,
            transferred_bytes: 0,
          };
      if (status !== 'processing') {
        next.lease_owner = null;
        next.lease_expires_at = null;
      }
      return { next, result: next };
    });
  }

  async claim(ref: FileRef, owner: string, leaseMs: number): Promise<FileDoc | null> {
    return this.modify(ref, (cur, now) => {
      const claimable =
        cur !== null && (cur.status === 'pending' || (cur.status === 'processing' && !isLeaseLive(cur, now)));
      if (!claimable) return { next: null, result: null };
      const next: FileDoc = {
        ...withStatus(cur, 'processing', now),
        modified_date: now,
        lease_owner: owner,
        lease_expires_at: new Date(now.getTime() + leaseMs),
      };
      return { next, result: next };
    });
  }

  async renewLease(
    ref: FileRef,
    owner: string,
    leaseMs: number,
    progress: { transferred_bytes: number },
  ): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!isHeldBy(cur, owner)) return { next: null, result: false };
      const next: FileDoc = {
        ...cur,
        lease_expires_at: new Date(now.getTime() + leaseMs),
        transferred_bytes: progress.transferred_bytes,
        modified_date: now,
      };
      return { next, result: true };
    });
  }

  async patchHeld(ref: FileRef, owner: string, patch: HeldPatch): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!isHeldBy(cur, owner)) return { next: null, result: false };
      const next: FileDoc = { ...cur, ...definedFields(patch), modified_date: now };
      return { next, result: true };
    });
  }

  async recordFailedAttempt(ref: FileRef, owner: string, errorMessage: string): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!isHeldBy(cur, owner)) return { next: null, result: false };
      const next: FileDoc = {
        ...cur,
        error_message: errorMessage,
        retry_count: (cur.retry_count ?? 0) + 1,
        modified_date: now,
      };
      return { next, result: true };
    });
  }

  async recordVerification(ref: FileRef, verification: Verification): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!cur || cur.status !== 'done' || (cur.mega_handle ?? null) !== verification.mega_handle) {
        return { next: null, result: false };
      }
      const next: FileDoc = {
        ...cur,
        verify_result: verification.verify_result,
        verified_at: verification.verified_at,
        modified_date: now,
      };
      return { next, result: true };
    });
  }

  async finish(ref: FileRef, owner: string, patch: FinishPatch): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!isHeldBy(cur, owner)) return { next: null, result: false };
      const next: FileDoc = {
        ...withStatus(cur, patch.status, now),
        modified_date: now,
        lease_owner: null,
        lease_expires_at: null,
      };
      if (patch.error_message !== undefined) next.error_message = patch.error_message;
      if (patch.transferred_bytes !== undefined) next.transferred_bytes = patch.transferred_bytes;
      if (patch.mega_handle !== undefined) next.mega_handle = patch.mega_handle;
      if (patch.mega_link !== undefined) next.mega_link = patch.mega_link;
      if (patch.size !== undefined) next.size = patch.size;
      if (patch.count_failure) next.retry_count = (cur.retry_count ?? 0) + 1;
      return { next, result: true };
    });
  }

  async setStatusWhere(
    refs: FileRef[],
    from: FileStatus[],
    to: FileStatus,
    message?: string | null,
  ): Promise<number> {
    const changing = new Set(from.filter((s) => s !== to));
    if (changing.size === 0) return 0;
    let changed = 0;
    for (const ref of uniqueRefs(refs)) {
      const did = await this.modify(ref, (cur, now) => {
        if (!cur || !changing.has(cur.status)) return { next: null, result: false };
        const next: FileDoc = { ...withStatus(cur, to, now), modified_date: now };
        if (message !== undefined) next.error_message = message;
        if (to !== 'processing') {
          next.lease_owner = null;
          next.lease_expires_at = null;
        }
        return { next, result: true };
      });
      if (did) changed++;
    }
    return changed;
  }

  async listProcessing(): Promise<FileDoc[]> {
    this.assertReady();
    const docs = (await this.filesDb.findAsync({ status: 'processing' })) as Stored<FileDoc>[];
    return docs.map((d) => clean(d));
  }

  async release(ref: FileRef, owner: string, status: FileStatus = 'pending'): Promise<boolean> {
    return this.modify(ref, (cur, now) => {
      if (!isHeldBy(cur, owner)) return { next: null, result: false };
      const next: FileDoc = {
        ...withStatus(cur, status, now),
        modified_date: now,
        lease_owner: null,
        lease_expires_at: null,
      };
      return { next, result: true };
    });
  }

  async listFiles(query: FileListQuery): Promise<FilesPage> {
    this.assertReady();
    const limit = Math.max(1, Math.floor(query.limit));
    const and: NedbQuery[] = [];
    if (query.status) and.push({ status: query.status });
    if (query.q) {
      const re = new RegExp(escapeRegExp(query.q), 'i');
      and.push({
        $or: [{ code: { $regex: re } }, { remote_key: { $regex: re } }, { s4_key: { $regex: re } }],
      });
    }
    if (query.cursor) {
      const c = decodeFilesCursor(query.cursor);
      and.push({
        $or: [
          { creation_date: { $lt: c.creation_date } },
          { creation_date: c.creation_date, bucket_name: { $gt: c.bucket_name } },
          { creation_date: c.creation_date, bucket_name: c.bucket_name, remote_key: { $gt: c.remote_key } },
        ],
      });
    }
    const filter: NedbQuery = and.length === 0 ? {} : { $and: and };
    const docs = (await this.filesDb
      .findAsync(filter)
      .sort({ creation_date: -1, bucket_name: 1, remote_key: 1 })
      .limit(limit + 1)) as unknown as Stored<FileDoc>[];
    const page = docs.slice(0, limit).map((d) => clean(d));
    const last = page[page.length - 1];
    return { files: page, next_cursor: docs.length > limit && last ? encodeFilesCursor(last) : null };
  }

  async insertBatch(batch: BatchDoc): Promise<void> {
    this.assertReady();
    try {
      await this.batchesDb.insertAsync(clean(batch));
    } catch (err) {
      if (err instanceof Error && (err as { errorType?: string }).errorType === 'uniqueViolated') {
        throw new Error(`batch ${batch.batch_id} already exists`, { cause: err });
      }
      throw err;
    }
  }

  async getBatch(batchId: string): Promise<BatchDoc | null> {
    this.assertReady();
    const doc = (await this.batchesDb.findOneAsync({ batch_id: batchId })) as Stored<BatchDoc> | null;
    return doc ? clean(doc) : null;
  }

  async updateBatch(
    batchId: string,
    patch: Partial<Pick<BatchDoc, 'state' | 'finished_at' | 'files'>>,
  ): Promise<void> {
    this.assertReady();
    const set: Partial<BatchDoc> = { updated_at: new Date() };
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.finished_at !== undefined) set.finished_at = patch.finished_at;
    if (patch.files !== undefined) set.files = patch.files;
    const { numAffected } = await this.batchesDb.updateAsync({ batch_id: batchId }, { $set: set }, {});
    if (numAffected === 0) throw new Error(`batch ${batchId} not found`);
  }

  async listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]> {
    this.assertReady();
    let cursor = this.batchesDb
      .findAsync(query.state ? { state: query.state } : {})
      .sort({ created_at: -1, batch_id: -1 });
    if (query.limit !== undefined) cursor = cursor.limit(Math.max(1, Math.floor(query.limit)));
    const docs = (await cursor) as unknown as Stored<BatchDoc>[];
    return docs.map((d) => clean(d));
  }
}
