/**
 * MongoDB adapter of the metadata store port (official `mongodb` driver).
 *
 * Every state change of a file is one atomic single-document operation whose filter carries the
 * precondition (status, lease owner, lease expiry), so several processes sharing one database can
 * never both hold the same file. Where a write depends on the current document in a way a filter
 * cannot express without aggregation-pipeline updates (which jongodb does not support), the
 * adapter reads the document and writes with a compare-and-set filter on what it read, retrying
 * when another writer got there first.
 *
 * Conditional writes go through `updateOne` and its matched count, then read the document back,
 * rather than `findOneAndUpdate`: both are atomic on MongoDB, but jongodb (the test peer) runs
 * concurrent findAndModify commands from two connections without isolation, so two processes
 * could both see their filter match (measured: about one double claim in seven). `updateOne` is
 * isolated there as well.
 */
import {
  MongoClient,
  MongoServerError,
  type Collection,
  type Db,
  type Filter,
  type UpdateFilter,
} from 'mongodb';
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
  uniqueRefs,
  orderByRefs,
  escapeRegExp,
  encodeFilesCursor,
  decodeFilesCursor,
  isLeaseLive,
} from './documents';
import { parseMongoUri, redactMongoUri } from './mongo-uri';

// The connection-string helpers live apart so that reading a URI never loads the driver.
export { parseMongoUri, redactMongoUri, type MongoUriParts } from './mongo-uri';

export const DEFAULT_DB_NAME = 'megaferry';

export interface MongoStoreOptions {
  /** Overrides the database named in the URI's path (default `megaferry`). */
  dbName?: string;
  /** How long to look for a reachable server before failing (default 5000 ms). */
  serverSelectionTimeoutMS?: number;
}

/** Removes any trace of the URI's credentials from a message. */
function scrub(message: string, uri: string): string {
  let out = redactMongoUri(message);
  const password = passwordOf(uri);
  const secrets = [password, password ? encodeURIComponent(password) : null, uri];
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

function passwordOf(uri: string): string | null {
  try {
    return parseMongoUri(uri).password;
  } catch {
    return null;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

type StoredFile = FileDoc;
type StoredBatch = BatchDoc;

function stripId<T extends object>(doc: T & { _id?: unknown }): T {
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

const CAS_ATTEMPTS = 8;

export class MongoStore implements MetadataStore {
  readonly kind = 'mongodb' as const;
  private client: MongoClient | null = null;
  private db: Db | null = null;
  private readonly dbName: string;
  private readonly hosts: string;
  private readonly serverSelectionTimeoutMS: number;

  constructor(
    private readonly uri: string,
    opts: MongoStoreOptions = {},
  ) {
    const parts = parseMongoUri(uri);
    this.hosts = parts.hosts;
    this.dbName = opts.dbName ?? parts.dbName ?? DEFAULT_DB_NAME;
    this.serverSelectionTimeoutMS = opts.serverSelectionTimeoutMS ?? 5000;
  }

  /** Where this store lives, without credentials (for logs and health). */
  describe(): string {
    return `${this.hosts}/${this.dbName}`;
  }

  async init(): Promise<void> {
    if (this.db) return;
    let client: MongoClient | null = null;
    try {
      client = new MongoClient(this.uri, {
        serverSelectionTimeoutMS: this.serverSelectionTimeoutMS,
        connectTimeoutMS: this.serverSelectionTimeoutMS,
        ignoreUndefined: true,
      });
      await client.connect();
      const db = client.db(this.dbName);
      await db.command({ ping: 1 });
      const files = db.collection<StoredFile>('files');
      // Default index names, so a database seed B's tool already indexed is accepted as it is.
      await files.createIndex({ bucket_name: 1, remote_key: 1 }, { unique: true });
      await files.createIndex({ status: 1 });
      // Supports the listing order of listFiles (newest first, stable tie-break).
      await files.createIndex({ creation_date: -1, bucket_name: 1, remote_key: 1 });
      await db.collection<StoredBatch>('batches').createIndex({ batch_id: 1 }, { unique: true });
      this.client = client;
      this.db = db;
    } catch (err) {
      await client?.close().catch(() => undefined);
      // The driver's error is not attached as `cause`: only its scrubbed message leaves here, so
      // nothing that logs the error chain can print the URI's credentials.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(
        `cannot use MongoDB at ${this.hosts || 'the given address'} (database ${this.dbName}): ${scrub(errorMessage(err), this.uri)}`,
      );
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.db = null;
    await client?.close();
  }

  private get files(): Collection<StoredFile> {
    if (!this.db) throw new Error('MongoStore is not initialised (call init() first)');
    return this.db.collection<StoredFile>('files');
  }

  private get batches(): Collection<StoredBatch> {
    if (!this.db) throw new Error('MongoStore is not initialised (call init() first)');
    return this.db.collection<StoredBatch>('batches');
  }

  async getFile(ref: FileRef): Promise<FileDoc | null> {
    const doc = await this.files.findOne(refOf(ref));
    return doc ? stripId(doc) : null;
  }

  async getFiles(refs: FileRef[]): Promise<FileDoc[]> {
    const unique = uniqueRefs(refs);
    const found: FileDoc[] = [];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      const docs = await this.files.find({ $or: chunk }).toArray();
      for (const d of docs) found.push(stripId(d));
    }
    return orderByRefs(found, unique);
  }

  async queueFile(seed: FileSeed, opts: { force: boolean; newTransferId: string }): Promise<FileDoc | null> {
    const ref = refOf(seed);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.getFile(ref);
      const now = new Date();
      if (cur && isLeaseLive(cur, now)) return null;
      const set: Partial<FileDoc> = {
        code: seed.code,
        s4_key: seed.s4_key,
        size: seed.size,
        etag: seed.etag,
        last_batch_id: seed.batch_id,
        status: 'pending',
        modified_date: now,
        lease_owner: null,
        lease_expires_at: null,
      };
      if (!cur || cur.status !== 'pending') set.status_updated_at = now;
      if (cur && cur.error_message != null) set.error_message = null;
      const onInsert: Partial<FileDoc> = { creation_date: now, retry_count: 0, transferred_bytes: 0 };
      if (!cur) {
        onInsert.transfer_id = opts.newTransferId;
      } else if (opts.force && cur.status === 'done') {
        set.transfer_id = opts.newTransferId;
        set.replaces_handle = cur.mega_handle ?? null;
        set.mega_handle = null;
        set.mega_link = null;
        set.transferred_bytes = 0;
        set.verify_result = null;
        set.verified_at = null;
        delete onInsert.transferred_bytes;
      } else if (!cur.transfer_id) {
        set.transfer_id = opts.newTransferId;
      }
      const result = await this.casWrite(ref, cur, { $set: set, $setOnInsert: onInsert });
      if (result !== 'conflict') return result;
    }
    // The document kept changing under us; it is being worked on right now.
    const last = await this.getFile(ref);
    if (last && isLeaseLive(last, new Date())) return null;
    throw new Error(`queueFile: ${ref.bucket_name}/${ref.remote_key} kept changing concurrently`);
  }

  async markFailedToStart(seed: FileSeed, status: FileStatus, message: string): Promise<FileDoc> {
    const ref = refOf(seed);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.getFile(ref);
      const now = new Date();
      const set: Partial<FileDoc> = {
        code: seed.code,
        s4_key: seed.s4_key,
        size: seed.size,
        etag: seed.etag,
        last_batch_id: seed.batch_id,
        status,
        error_message: message,
        modified_date: now,
      };
      if (status !== 'processing') {
        set.lease_owner = null;
        set.lease_expires_at = null;
      }
      if (!cur || cur.status !== status) set.status_updated_at = now;
      const onInsert: Partial<FileDoc> = { creation_date: now, retry_count: 0, transferred_bytes: 0 };
      const result = await this.casWrite(ref, cur, { $set: set, $setOnInsert: onInsert });
      if (result !== 'conflict') return result;
    }
    throw new Error(`markFailedToStart: ${ref.bucket_name}/${ref.remote_key} kept changing concurrently`);
  }

  /**
   * Writes `update` only if the document is still as `cur` saw it (same status and lease), or
   * inserts it when `cur` is null and no document exists yet. 'conflict' means: read again.
   */
  private async casWrite(
    ref: FileRef,
    cur: FileDoc | null,
    update: UpdateFilter<StoredFile>,
  ): Promise<FileDoc | 'conflict'> {
    const filter: Filter<StoredFile> = cur
      ? {
          ...ref,
          status: cur.status,
          lease_owner: cur.lease_owner ?? null,
          lease_expires_at: cur.lease_expires_at ?? null,
        }
      : // Matches no existing document: the upsert inserts, or fails on the unique index.
        { ...ref, creation_date: { $exists: false } };
    try {
      return (await this.updateThenRead(ref, filter, update, { upsert: true })) ?? 'conflict';
    } catch (err) {
      if (isDuplicateKey(err)) return 'conflict';
      throw err;
    }
  }

  async claim(ref: FileRef, owner: string, leaseMs: number): Promise<FileDoc | null> {
    const key = refOf(ref);
    const now = new Date();
    const expires = new Date(now.getTime() + leaseMs);
    const fresh = await this.updateThenRead(
      key,
      { ...key, status: 'pending' },
      {
        $set: {
          status: 'processing',
          status_updated_at: now,
          modified_date: now,
          lease_owner: owner,
          lease_expires_at: expires,
        },
      },
    );
    if (fresh) return fresh;
    // Take over a transfer whose owner stopped renewing: the status does not change.
    return this.updateThenRead(
      key,
      {
        ...key,
        status: 'processing',
        $or: [{ lease_expires_at: { $lte: now } }, { lease_expires_at: null }],
      },
      { $set: { modified_date: now, lease_owner: owner, lease_expires_at: expires } },
    );
  }

  /**
   * Applies `update` to the file `filter` matches (or upserts it) in one atomic write, and returns
   * the document as read right after; null when the filter matched nothing and nothing was
   * inserted.
   */
  private async updateThenRead(
    ref: FileRef,
    filter: Filter<StoredFile>,
    update: UpdateFilter<StoredFile>,
    opts: { upsert?: boolean } = {},
  ): Promise<FileDoc | null> {
    const res = await this.files.updateOne(filter, update, { upsert: opts.upsert ?? false });
    if (res.matchedCount === 0 && res.upsertedCount === 0) return null;
    return this.getFile(ref);
  }

  private heldBy(ref: FileRef, owner: string): Filter<StoredFile> {
    return { ...refOf(ref), status: 'processing', lease_owner: owner };
  }

  async renewLease(
    ref: FileRef,
    owner: string,
    leaseMs: number,
    progress: { transferred_bytes: number },
  ): Promise<boolean> {
    const now = new Date();
    const res = await this.files.updateOne(this.heldBy(ref, owner), {
      $set: {
        lease_expires_at: new Date(now.getTime() + leaseMs),
        transferred_bytes: progress.transferred_bytes,
        modified_date: now,
      },
    });
    return res.matchedCount === 1;
  }

  async patchHeld(ref: FileRef, owner: string, patch: HeldPatch): Promise<boolean> {
    const set: Partial<FileDoc> = { ...definedFields(patch), modified_date: new Date() };
    const res = await this.files.updateOne(this.heldBy(ref, owner), { $set: set });
    return res.matchedCount === 1;
  }

  async recordFailedAttempt(ref: FileRef, owner: string, errorMessage: string): Promise<boolean> {
    const res = await this.files.updateOne(this.heldBy(ref, owner), {
      $set: { error_message: errorMessage, modified_date: new Date() },
      $inc: { retry_count: 1 },
    });
    return res.matchedCount === 1;
  }

  async recordVerification(ref: FileRef, verification: Verification): Promise<boolean> {
    const res = await this.files.updateOne(
      { ...refOf(ref), status: 'done', mega_handle: verification.mega_handle },
      {
        $set: {
          verify_result: verification.verify_result,
          verified_at: verification.verified_at,
          modified_date: new Date(),
        },
      },
    );
    return res.matchedCount === 1;
  }

  async finish(ref: FileRef, owner: string, patch: FinishPatch): Promise<boolean> {
    const now = new Date();
    const set: Partial<FileDoc> = {
      status: patch.status,
      modified_date: now,
      lease_owner: null,
      lease_expires_at: null,
    };
    // A held file is `processing`; its status changes unless the patch keeps it so.
    if (patch.status !== 'processing') set.status_updated_at = now;
    if (patch.error_message !== undefined) set.error_message = patch.error_message;
    if (patch.transferred_bytes !== undefined) set.transferred_bytes = patch.transferred_bytes;
    if (patch.mega_handle !== undefined) set.mega_handle = patch.mega_handle;
    if (patch.mega_link !== undefined) set.mega_link = patch.mega_link;
    if (patch.size !== undefined) set.size = patch.size;
    const update: UpdateFilter<StoredFile> = { $set: set };
    if (patch.count_failure) update.$inc = { retry_count: 1 };
    const res = await this.files.updateOne(this.heldBy(ref, owner), update);
    return res.matchedCount === 1;
  }

  async setStatusWhere(
    refs: FileRef[],
    from: FileStatus[],
    to: FileStatus,
    message?: string | null,
  ): Promise<number> {
    const changing = from.filter((s) => s !== to);
    const unique = uniqueRefs(refs);
    if (changing.length === 0 || unique.length === 0) return 0;
    const now = new Date();
    const set: Partial<FileDoc> = { status: to, status_updated_at: now, modified_date: now };
    if (message !== undefined) set.error_message = message;
    if (to !== 'processing') {
      set.lease_owner = null;
      set.lease_expires_at = null;
    }
    let changed = 0;
    for (let i = 0; i < unique.length; i += 500) {
      const res = await this.files.updateMany(
        { $or: unique.slice(i, i + 500), status: { $in: changing } },
        { $set: set },
      );
      changed += res.modifiedCount;
    }
    return changed;
  }

  async listProcessing(): Promise<FileDoc[]> {
    const docs = await this.files.find({ status: 'processing' }).toArray();
    return docs.map((d) => stripId(d));
  }

  async release(ref: FileRef, owner: string, status: FileStatus = 'pending'): Promise<boolean> {
    const now = new Date();
    const set: Partial<FileDoc> = { status, modified_date: now, lease_owner: null, lease_expires_at: null };
    if (status !== 'processing') set.status_updated_at = now;
    const res = await this.files.updateOne(this.heldBy(ref, owner), { $set: set });
    return res.matchedCount === 1;
  }

  async listFiles(query: FileListQuery): Promise<FilesPage> {
    const limit = Math.max(1, Math.floor(query.limit));
    const and: Filter<StoredFile>[] = [];
    if (query.status) and.push({ status: query.status });
    if (query.q) {
      const pattern = escapeRegExp(query.q);
      and.push({
        $or: [
          { code: { $regex: pattern, $options: 'i' } },
          { remote_key: { $regex: pattern, $options: 'i' } },
          { s4_key: { $regex: pattern, $options: 'i' } },
        ],
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
    const filter: Filter<StoredFile> = and.length === 0 ? {} : and.length === 1 ? and[0]! : { $and: and };
    const docs = await this.files
      .find(filter)
      .sort({ creation_date: -1, bucket_name: 1, remote_key: 1 })
      .limit(limit + 1)
      .toArray();
    const page = docs.slice(0, limit).map((d) => stripId(d));
    const last = page[page.length - 1];
    return { files: page, next_cursor: docs.length > limit && last ? encodeFilesCursor(last) : null };
  }

  async insertBatch(batch: BatchDoc): Promise<void> {
    try {
      await this.batches.insertOne({ ...batch });
    } catch (err) {
      if (isDuplicateKey(err)) throw new Error(`batch ${batch.batch_id} already exists`, { cause: err });
      throw err;
    }
  }

  async getBatch(batchId: string): Promise<BatchDoc | null> {
    const doc = await this.batches.findOne({ batch_id: batchId });
    return doc ? stripId(doc) : null;
  }

  async updateBatch(
    batchId: string,
    patch: Partial<Pick<BatchDoc, 'state' | 'finished_at' | 'files'>>,
  ): Promise<void> {
    const set: Partial<BatchDoc> = { updated_at: new Date() };
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.finished_at !== undefined) set.finished_at = patch.finished_at;
    if (patch.files !== undefined) set.files = patch.files;
    const res = await this.batches.updateOne({ batch_id: batchId }, { $set: set });
    if (res.matchedCount === 0) throw new Error(`batch ${batchId} not found`);
  }

  async listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]> {
    let cursor = this.batches
      .find(query.state ? { state: query.state } : {})
      .sort({ created_at: -1, batch_id: -1 });
    if (query.limit !== undefined) cursor = cursor.limit(Math.max(1, Math.floor(query.limit)));
    const docs = await cursor.toArray();
    return docs.map((d) => stripId(d));
  }
}
