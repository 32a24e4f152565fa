/**
 * MongoDB adapter of the store (official `mongodb` driver): the store across machines. The rules
 * are ./rules.ts, applied once by ./core.ts; this adapter reads, and writes with a
 * compare-and-set on the document's revision (`replaceOne` filtered by key and `rev`, or an insert
 * that the unique index refuses when the document exists).
 *
 * Writes go through `replaceOne`/`insertOne` and their counts rather than `findOneAndUpdate`: both
 * are atomic on MongoDB, but jongodb (the test peer) runs concurrent findAndModify commands from
 * two connections without isolation (measured: about one double claim in seven), while its
 * update commands are isolated.
 *
 * Collections of version 0.1 (a document per source object, unique on {bucket_name, remote_key})
 * are brought to today's model at the first start: the old unique index is dropped, each document
 * upgraded in place (./upgrade.ts), and the new unique index created.
 */
import { MongoClient, MongoServerError, type Collection, type Db, type Filter } from 'mongodb';
import type { BatchState } from '../../shared/contract';
import { StoreCore } from './core';
import {
  decodeFilesCursor,
  encodeFilesCursor,
  escapeRegExp,
  orderByRefs,
  refKey,
  refOf,
  uniqueRefs,
} from './documents';
import type {
  BatchDoc,
  ClaimScope,
  FileDoc,
  FileListQuery,
  FilesPage,
  FolderDoc,
  ProcessDoc,
  StoreAdapter,
  TransferRef,
} from './port';
import {
  type LegacyBatchDoc,
  type LegacyFileDoc,
  UNKNOWN_MEGA_DESTINATION,
  legacyPath,
  upgradeBatch,
  upgradeFile,
} from './upgrade';
import { OPEN_STATUSES } from './rules';
import { parseMongoUri, redactMongoUri } from './mongo-uri';
import { StoreSchemaError } from './schema-error';
import pkg from '../../../package.json';

const VERSION: string = pkg.version;

// The connection-string helpers live apart so that reading a URI never loads the driver.
export { parseMongoUri, redactMongoUri, type MongoUriParts } from './mongo-uri';

export const DEFAULT_DB_NAME = 'megaferry';

export interface MongoStoreOptions {
  /** Overrides the database named in the URI's path (default `megaferry`). */
  dbName?: string;
  /** How long to look for a reachable server before failing (default 5000 ms). */
  serverSelectionTimeoutMS?: number;
  /** The destination (`mega:<e-mail>`) data of version 0.1 went to (filled in at the upgrade). */
  legacyDestination?: string;
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

function stripId<T extends object>(doc: T & { _id?: unknown }): T {
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

/**
 * The data model this version writes, recorded in the `meta` collection: a process that finds a
 * higher one (written by a newer MegaFerry) refuses to use the store instead of misreading it.
 * 1: one document per source object (0.1). 2: one per transfer, revisions, leases, heartbeats.
 */
export const MONGO_SCHEMA_VERSION = 2;

/** Index names of version 0.1 (default names), dropped at the upgrade. */
const LEGACY_UNIQUE_INDEX = 'bucket_name_1_remote_key_1';

class MongoAdapter implements StoreAdapter {
  readonly kind = 'mongodb' as const;
  private client: MongoClient | null = null;
  private db: Db | null = null;
  readonly dbName: string;
  readonly hosts: string;
  private readonly serverSelectionTimeoutMS: number;
  private readonly legacyDestination: string;

  constructor(
    private readonly uri: string,
    opts: MongoStoreOptions = {},
  ) {
    const parts = parseMongoUri(uri);
    this.hosts = parts.hosts;
    this.dbName = opts.dbName ?? parts.dbName ?? DEFAULT_DB_NAME;
    this.serverSelectionTimeoutMS = opts.serverSelectionTimeoutMS ?? 5000;
    this.legacyDestination = opts.legacyDestination ?? UNKNOWN_MEGA_DESTINATION;
  }

  async init(): Promise<void> {
    if (this.db) return;
    let client: MongoClient | null = null;
    try {
      client = new MongoClient(this.uri, {
        serverSelectionTimeoutMS: this.serverSelectionTimeoutMS,
        connectTimeoutMS: this.serverSelectionTimeoutMS,
        // An answer that never comes fails the operation (and the caller tries again) instead of
        // holding the process forever: every operation of the store is short.
        socketTimeoutMS: 60_000,
        ignoreUndefined: true,
      });
      await client.connect();
      const db = client.db(this.dbName);
      await db.command({ ping: 1 });
      this.client = client;
      this.db = db;
      await this.checkSchema();
      await this.upgrade();
      const files = this.files;
      await files.createIndex(
        { bucket_name: 1, remote_key: 1, destination: 1, s4_key: 1 },
        { unique: true, name: 'transfer_unique' },
      );
      await files.createIndex({ status: 1 });
      await files.createIndex({ batch_id: 1, status: 1 });
      await files.createIndex({ status: 1, destination: 1, queued_at: 1 });
      // Supports the listing order of listFiles (newest first, stable tie-break).
      await files.createIndex({
        creation_date: -1,
        bucket_name: 1,
        remote_key: 1,
        destination: 1,
        s4_key: 1,
      });
      await this.batches.createIndex({ batch_id: 1 }, { unique: true });
      await this.batches.createIndex({ state: 1 });
      await this.folders.createIndex({ destination: 1, path: 1 }, { unique: true });
      await this.recordSchema();
    } catch (err) {
      if (err instanceof StoreSchemaError) {
        await client?.close().catch(() => undefined);
        this.client = null;
        this.db = null;
        throw err;
      }
      this.client = null;
      this.db = null;
      await client?.close().catch(() => undefined);
      // The driver's error is not attached as `cause`: only its scrubbed message leaves here, so
      // nothing that logs the error chain can print the URI's credentials.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(
        `cannot use MongoDB at ${this.hosts || 'the given address'} (database ${this.dbName}): ${scrub(errorMessage(err), this.uri)}`,
      );
    }
  }

  /** Refuses a store a newer MegaFerry wrote (its schema is not this version's to read or write). */
  private async checkSchema(): Promise<void> {
    const found = await this.meta.findOne({ _id: 'schema' });
    const version = typeof found?.version === 'number' ? found.version : 0;
    if (version > MONGO_SCHEMA_VERSION) {
      throw new StoreSchemaError(
        `the MongoDB store ${this.hosts}/${this.dbName} was written by a newer MegaFerry (schema ${version}; ` +
          `MegaFerry ${VERSION} knows ${MONGO_SCHEMA_VERSION}): upgrade this MegaFerry to share it`,
      );
    }
  }

  /** Records this version's schema unless a higher one is there (no `$max`: jongodb lacks it). */
  private async recordSchema(): Promise<void> {
    try {
      await this.meta.updateOne(
        { _id: 'schema', $or: [{ version: { $lt: MONGO_SCHEMA_VERSION } }, { version: { $exists: false } }] },
        { $set: { version: MONGO_SCHEMA_VERSION } },
        { upsert: true },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // recorded already, at this version or higher
    }
  }

  /**
   * Brings documents of 0.1 to today's model, in place. Safe when several processes start at
   * once: each document is replaced only while it is still the old one.
   */
  private async upgrade(): Promise<void> {
    const files = this.files;
    const indexes = await files
      .listIndexes()
      .toArray()
      .catch(() => [] as { name?: string }[]);
    if (indexes.some((i) => i.name === LEGACY_UNIQUE_INDEX)) {
      // One document per object (0.1) must become one per destination path: the old unique index
      // has to go before anything is changed. A server or user that cannot drop it stops here.
      try {
        await files.dropIndex(LEGACY_UNIQUE_INDEX);
      } catch (err) {
        // Only the driver's scrubbed message leaves (as in init): no error chain carrying the URI.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(
          `the collection files still has MegaFerry 0.1's unique index ${LEGACY_UNIQUE_INDEX} and it could not be dropped ` +
            `(${scrub(errorMessage(err), this.uri)}); nothing was changed. Drop it once as a user allowed to: ` +
            `db.files.dropIndex("${LEGACY_UNIQUE_INDEX}")`,
        );
      }
    }
    const legacyFilter = { $or: [{ rev: { $exists: false } }, { destination: { $exists: false } }] };
    for await (const raw of files.find(legacyFilter as Filter<FileDoc>)) {
      const { _id, ...doc } = raw as FileDoc & { _id: unknown };
      const next = upgradeFile(doc as unknown as LegacyFileDoc, this.legacyDestination);
      await files.replaceOne({ _id, ...legacyFilter } as Filter<FileDoc>, next);
    }
    const batches = this.batches;
    for await (const raw of batches.find(legacyFilter as Filter<BatchDoc>)) {
      const { _id, ...batch } = raw as BatchDoc & { _id: unknown };
      const legacy = batch as unknown as LegacyBatchDoc;
      const destination = legacy.destination ?? this.legacyDestination;
      // The transfers as the collection holds them now (upgraded above, or by another process).
      const target = legacy.options.target ?? '/';
      const refs = legacy.files.map((item) => ({
        bucket_name: legacy.options.bucket,
        remote_key: item.remote_key,
        destination,
        s4_key: item.s4_key ?? legacyPath(target, item.remote_key),
      }));
      const now = new Map((await this.readFiles(refs)).map((d) => [refKey(d), d]));
      const next = upgradeBatch(legacy, destination, (ref) => now.get(refKey({ ...ref, destination })));
      await batches.replaceOne({ _id, ...legacyFilter } as Filter<BatchDoc>, next);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.db = null;
    await client?.close();
  }

  get files(): Collection<FileDoc> {
    if (!this.db) throw new Error('the MongoDB store is not open (call init() first)');
    return this.db.collection<FileDoc>('files');
  }

  get meta(): Collection<{ _id: string; version?: number }> {
    if (!this.db) throw new Error('the MongoDB store is not open (call init() first)');
    return this.db.collection<{ _id: string; version?: number }>('meta');
  }

  /** Heartbeats, keyed by the process's id. */
  get processes(): Collection<{ _id: string } & Omit<ProcessDoc, 'id'>> {
    if (!this.db) throw new Error('the MongoDB store is not open (call init() first)');
    return this.db.collection<{ _id: string } & Omit<ProcessDoc, 'id'>>('processes');
  }

  async writeProcess(doc: ProcessDoc): Promise<void> {
    const { id, ...rest } = doc;
    await this.processes.replaceOne({ _id: id }, rest, { upsert: true });
  }

  async listProcesses(): Promise<ProcessDoc[]> {
    const docs = await this.processes.find({}).sort({ _id: 1 }).toArray();
    return docs.map(({ _id, ...rest }) => ({ id: _id, ...rest }));
  }

  async deleteProcesses(before: Date): Promise<number> {
    return (await this.processes.deleteMany({ last_seen: { $lt: before } })).deletedCount;
  }

  get folders(): Collection<FolderDoc> {
    if (!this.db) throw new Error('the MongoDB store is not open (call init() first)');
    return this.db.collection<FolderDoc>('folders');
  }

  async readFolder(destination: string, path: string): Promise<FolderDoc | null> {
    const doc = await this.folders.findOne({ destination, path });
    return doc ? stripId(doc) : null;
  }

  async writeFolder(next: FolderDoc, expectedRev: number | null): Promise<boolean> {
    try {
      if (expectedRev === null) {
        await this.folders.insertOne({ ...next });
        return true;
      }
      const filter = { destination: next.destination, path: next.path, rev: expectedRev };
      return (await this.folders.replaceOne(filter, { ...next })).matchedCount === 1;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  get batches(): Collection<BatchDoc> {
    if (!this.db) throw new Error('the MongoDB store is not open (call init() first)');
    return this.db.collection<BatchDoc>('batches');
  }

  async readFile(ref: TransferRef): Promise<FileDoc | null> {
    const doc = await this.files.findOne(refOf(ref));
    return doc ? stripId(doc) : null;
  }

  async readFiles(refs: TransferRef[]): Promise<FileDoc[]> {
    const unique = uniqueRefs(refs);
    const found: FileDoc[] = [];
    for (let i = 0; i < unique.length; i += 500) {
      const docs = await this.files.find({ $or: unique.slice(i, i + 500) }).toArray();
      for (const d of docs) found.push(stripId(d));
    }
    return orderByRefs(found, unique);
  }

  async writeFile(next: FileDoc, expectedRev: number | null): Promise<boolean> {
    try {
      if (expectedRev === null) {
        await this.files.insertOne({ ...next });
        return true;
      }
      const filter: Filter<FileDoc> = { ...refOf(next), rev: expectedRev };
      const res = await this.files.replaceOne(filter, { ...next });
      return res.matchedCount === 1;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async readBatch(batchId: string): Promise<BatchDoc | null> {
    const doc = await this.batches.findOne({ batch_id: batchId });
    return doc ? stripId(doc) : null;
  }

  async writeBatch(next: BatchDoc, expectedRev: number | null): Promise<boolean> {
    try {
      if (expectedRev === null) {
        await this.batches.insertOne({ ...next });
        return true;
      }
      const res = await this.batches.replaceOne({ batch_id: next.batch_id, rev: expectedRev }, { ...next });
      return res.matchedCount === 1;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async findPending(scope: ClaimScope, limit: number): Promise<FileDoc[]> {
    if (scope.destinations.length === 0) return [];
    const filter: Filter<FileDoc> = {
      status: 'pending',
      destination: scope.destinations.length === 1 ? scope.destinations[0] : { $in: scope.destinations },
    };
    const batch: Record<string, unknown> = {};
    if (scope.batch_ids) batch.$in = scope.batch_ids;
    if (scope.exclude_batch_ids && scope.exclude_batch_ids.length > 0) batch.$nin = scope.exclude_batch_ids;
    if (Object.keys(batch).length > 0) (filter as Record<string, unknown>).batch_id = batch;
    const docs = await this.files.find(filter).sort({ queued_at: 1 }).limit(limit).toArray();
    return docs.map((d) => stripId(d));
  }

  async findOpen(batchIds: string[]): Promise<FileDoc[]> {
    const docs = await this.files
      .find({ batch_id: { $in: batchIds }, status: { $in: [...OPEN_STATUSES] } })
      .toArray();
    return docs.map((d) => stripId(d));
  }

  async openBatches(batchIds: string[]): Promise<string[]> {
    // One indexed look per batch (running batches are few), reading no document.
    const open: string[] = [];
    for (const id of new Set(batchIds)) {
      const hit = await this.files.findOne(
        { batch_id: id, status: { $in: [...OPEN_STATUSES] } },
        { projection: { _id: 1 } },
      );
      if (hit) open.push(id);
    }
    return open;
  }

  async findProcessing(): Promise<FileDoc[]> {
    const docs = await this.files.find({ status: 'processing' }).toArray();
    return docs.map((d) => stripId(d));
  }

  async listFiles(query: FileListQuery): Promise<FilesPage> {
    const limit = Math.max(1, Math.floor(query.limit));
    const and: Filter<FileDoc>[] = [];
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
      const tie = ['bucket_name', 'remote_key', 'destination', 's4_key'] as const;
      const after: Filter<FileDoc>[] = [{ creation_date: { $lt: c.creation_date } }];
      tie.forEach((field, n) => {
        const eq: Record<string, unknown> = { creation_date: c.creation_date };
        for (const f of tie.slice(0, n)) eq[f] = c[f];
        eq[field] = { $gt: c[field] };
        after.push(eq as Filter<FileDoc>);
      });
      and.push({ $or: after });
    }
    const filter: Filter<FileDoc> = and.length === 0 ? {} : and.length === 1 ? and[0]! : { $and: and };
    const docs = await this.files
      .find(filter)
      .sort({ creation_date: -1, bucket_name: 1, remote_key: 1, destination: 1, s4_key: 1 })
      .limit(limit + 1)
      .toArray();
    const page = docs.slice(0, limit).map((d) => stripId(d));
    const last = page[page.length - 1];
    return { files: page, next_cursor: docs.length > limit && last ? encodeFilesCursor(last) : null };
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

/** The MongoDB store: the shared rules over the official driver. */
export class MongoStore extends StoreCore {
  private readonly where: string;

  constructor(uri: string, opts: MongoStoreOptions = {}) {
    const adapter = new MongoAdapter(uri, opts);
    super(adapter);
    this.where = `${adapter.hosts}/${adapter.dbName}`;
  }

  /** Where this store lives, without credentials (for logs and health). */
  describe(): string {
    return this.where;
  }
}
