/**
 * Embedded adapter of the metadata store port: SQLite (better-sqlite3) in the data folder, for
 * machines without MongoDB. Safe for several processes on one machine at once (the desktop app in
 * the tray, the CLI, `serve`): WAL mode, a busy timeout, and every read-modify-write of a document
 * in one `BEGIN IMMEDIATE` transaction, so claim, finish and friends are atomic across processes.
 * Semantics match MongoStore; the conformance suite holds both to them.
 *
 * Documents are kept whole as JSON (dates as `{"$date": ms}`) beside the columns the queries use.
 * Data of version 0.1 (nedb's `files.db` and `batches.db`) is imported at the first start and the
 * old files are kept, renamed `*.migrated-0.1`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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
  encodeFilesCursor,
  decodeFilesCursor,
  isLeaseLive,
} from './documents';
import { importNedbData } from './nedb-import';

/** The database file in the data folder. */
export const EMBEDDED_DB_FILE = 'megaferry.sqlite';
/** How long a write waits for another process's transaction before it fails. */
const BUSY_TIMEOUT_MS = 15_000;
const SCHEMA_VERSION = 1;

/** JSON with dates kept as dates: `{"$date": ms}` on disk. */
function toJson(doc: object): string {
  return JSON.stringify(doc, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.getTime() };
    return value === undefined ? undefined : value;
  });
}

function fromJson<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const v = value as Record<string, unknown>;
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$date' && typeof v.$date === 'number') return new Date(v.$date);
    }
    return value;
  }) as T;
}

/** A copy without undefined fields. */
function clean<T extends object>(doc: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (v !== undefined) out[k] = v;
  return out as T;
}

function isHeldBy(doc: FileDoc | null, owner: string): doc is FileDoc {
  return doc !== null && doc.status === 'processing' && doc.lease_owner === owner;
}

/** Sets `status`, stamping status_updated_at only when it changes. */
function withStatus(doc: FileDoc, status: FileStatus, now: Date): FileDoc {
  return doc.status === status ? { ...doc } : { ...doc, status, status_updated_at: now };
}

/** `%`, `_` and the escape character itself taken literally in a LIKE pattern. */
function likeLiteral(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

type Change<R> = (current: FileDoc | null, now: Date) => { next: FileDoc | null; result: R };

export class EmbeddedStore implements MetadataStore {
  readonly kind = 'embedded' as const;
  private db: Database.Database | null = null;
  private statements: ReturnType<EmbeddedStore['prepare']> | null = null;

  constructor(private readonly dataDir: string) {}

  /** Opens (or creates) the database, its tables and indexes, and imports 0.1 data once. */
  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(this.dataDir, { recursive: true });
    const db = new Database(path.join(this.dataDir, EMBEDDED_DB_FILE), { timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.transaction(() => {
        db.exec(`
          CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE TABLE IF NOT EXISTS files (
            bucket_name TEXT NOT NULL,
            remote_key TEXT NOT NULL,
            status TEXT NOT NULL,
            creation_date INTEGER NOT NULL,
            code TEXT NOT NULL,
            s4_key TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (bucket_name, remote_key)
          );
          CREATE INDEX IF NOT EXISTS files_status ON files (status);
          CREATE INDEX IF NOT EXISTS files_listing ON files (creation_date DESC, bucket_name, remote_key);
          CREATE TABLE IF NOT EXISTS batches (
            batch_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            doc TEXT NOT NULL
          );
          CREATE INDEX IF NOT EXISTS batches_listing ON batches (created_at DESC, batch_id DESC);
        `);
        const version = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
          { value: string } | undefined;
        if (version && Number(version.value) > SCHEMA_VERSION) {
          throw new Error(
            `the embedded store was written by a newer MegaFerry (schema ${version.value}; this one knows ${SCHEMA_VERSION})`,
          );
        }
        db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(
          'schema_version',
          String(SCHEMA_VERSION),
        );
      }).immediate();
      this.db = db;
      this.statements = this.prepare(db);
      await importNedbData(this.dataDir, {
        alreadyImported: () => this.readMeta('nedb_imported') !== null,
        importAll: (files, batches) =>
          this.write(() => {
            if (this.readMeta('nedb_imported') !== null) return false;
            for (const doc of files) this.statements?.insertFileIfNew.run(this.fileRow(doc));
            for (const batch of batches) this.statements?.insertBatchIfNew.run(this.batchRow(batch));
            this.db
              ?.prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
              .run('nedb_imported', new Date().toISOString());
            return true;
          }),
      });
    } catch (err) {
      this.db = null;
      this.statements = null;
      db.close();
      throw err;
    }
  }

  private prepare(db: Database.Database) {
    return {
      getFile: db.prepare('SELECT doc FROM files WHERE bucket_name = ? AND remote_key = ?'),
      upsertFile: db.prepare(
        `INSERT INTO files (bucket_name, remote_key, status, creation_date, code, s4_key, doc)
         VALUES (@bucket_name, @remote_key, @status, @creation_date, @code, @s4_key, @doc)
         ON CONFLICT (bucket_name, remote_key) DO UPDATE SET
           status = excluded.status, creation_date = excluded.creation_date, code = excluded.code,
           s4_key = excluded.s4_key, doc = excluded.doc`,
      ),
      insertFileIfNew: db.prepare(
        `INSERT OR IGNORE INTO files (bucket_name, remote_key, status, creation_date, code, s4_key, doc)
         VALUES (@bucket_name, @remote_key, @status, @creation_date, @code, @s4_key, @doc)`,
      ),
      processing: db.prepare("SELECT doc FROM files WHERE status = 'processing'"),
      insertBatch: db.prepare(
        'INSERT INTO batches (batch_id, state, created_at, doc) VALUES (@batch_id, @state, @created_at, @doc)',
      ),
      insertBatchIfNew: db.prepare(
        'INSERT OR IGNORE INTO batches (batch_id, state, created_at, doc) VALUES (@batch_id, @state, @created_at, @doc)',
      ),
      getBatch: db.prepare('SELECT doc FROM batches WHERE batch_id = ?'),
      updateBatch: db.prepare('UPDATE batches SET state = @state, doc = @doc WHERE batch_id = @batch_id'),
    };
  }

  private fileRow(doc: FileDoc) {
    return {
      bucket_name: doc.bucket_name,
      remote_key: doc.remote_key,
      status: doc.status,
      creation_date: doc.creation_date.getTime(),
      code: doc.code,
      s4_key: doc.s4_key,
      doc: toJson(clean(doc)),
    };
  }

  private batchRow(batch: BatchDoc) {
    return {
      batch_id: batch.batch_id,
      state: batch.state,
      created_at: batch.created_at.getTime(),
      doc: toJson(clean(batch)),
    };
  }

  private readMeta(key: string): string | null {
    const row = this.ready().prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  /** Closes the database (its WAL is folded back into the main file by SQLite). */
  async close(): Promise<void> {
    if (!this.db) return;
    const db = this.db;
    this.db = null;
    this.statements = null;
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      db.close();
    }
  }

  private ready(): Database.Database {
    if (!this.db) throw new Error('EmbeddedStore is not initialised (call init() first)');
    return this.db;
  }

  private stmts(): NonNullable<EmbeddedStore['statements']> {
    this.ready();
    return this.statements as NonNullable<EmbeddedStore['statements']>;
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE: other processes wait, then see its result). */
  private write<R>(fn: () => R): R {
    return this.ready().transaction(fn).immediate();
  }

  private readFile(ref: FileRef): FileDoc | null {
    const row = this.stmts().getFile.get(ref.bucket_name, ref.remote_key) as { doc: string } | undefined;
    return row ? fromJson<FileDoc>(row.doc) : null;
  }

  /**
   * Reads the file, lets `change` compute its next version and writes it, in one transaction.
   * `change` returns null to leave the document as it is.
   */
  private modify<R>(ref: FileRef, change: Change<R>): Promise<R> {
    return Promise.resolve(this.write(() => this.modifyNow(ref, change)));
  }

  private modifyNow<R>(ref: FileRef, change: Change<R>): R {
    const current = this.readFile(ref);
    const { next, result } = change(current, new Date());
    if (next) this.stmts().upsertFile.run(this.fileRow({ ...next, ...refOf(ref) }));
    return result;
  }

  async getFile(ref: FileRef): Promise<FileDoc | null> {
    return this.readFile(ref);
  }

  async getFiles(refs: FileRef[]): Promise<FileDoc[]> {
    const unique = uniqueRefs(refs);
    if (unique.length === 0) return [];
    // One read transaction: a consistent view of every file asked for.
    return this.ready().transaction(() => unique.flatMap((r) => this.readFile(r) ?? []))();
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
    const change: Change<boolean> = (cur, now) => {
      if (!cur || !changing.has(cur.status)) return { next: null, result: false };
      const next: FileDoc = { ...withStatus(cur, to, now), modified_date: now };
      if (message !== undefined) next.error_message = message;
      if (to !== 'processing') {
        next.lease_owner = null;
        next.lease_expires_at = null;
      }
      return { next, result: true };
    };
    // One transaction for the whole set: another process sees all of it or none.
    return this.write(() => uniqueRefs(refs).filter((ref) => this.modifyNow(ref, change)).length);
  }

  async listProcessing(): Promise<FileDoc[]> {
    return (this.stmts().processing.all() as { doc: string }[]).map((r) => fromJson<FileDoc>(r.doc));
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
    const limit = Math.max(1, Math.floor(query.limit));
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.status) {
      where.push('status = ?');
      params.push(query.status);
    }
    if (query.q) {
      const like = likeLiteral(query.q);
      where.push("(code LIKE ? ESCAPE '\\' OR remote_key LIKE ? ESCAPE '\\' OR s4_key LIKE ? ESCAPE '\\')");
      params.push(like, like, like);
    }
    if (query.cursor) {
      const c = decodeFilesCursor(query.cursor);
      const at = c.creation_date.getTime();
      where.push(
        '(creation_date < ? OR (creation_date = ? AND bucket_name > ?) OR (creation_date = ? AND bucket_name = ? AND remote_key > ?))',
      );
      params.push(at, at, c.bucket_name, at, c.bucket_name, c.remote_key);
    }
    const sql =
      'SELECT doc FROM files' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY creation_date DESC, bucket_name ASC, remote_key ASC LIMIT ?';
    const rows = this.ready()
      .prepare(sql)
      .all(...params, limit + 1) as { doc: string }[];
    const page = rows.slice(0, limit).map((r) => fromJson<FileDoc>(r.doc));
    const last = page[page.length - 1];
    return { files: page, next_cursor: rows.length > limit && last ? encodeFilesCursor(last) : null };
  }

  async insertBatch(batch: BatchDoc): Promise<void> {
    try {
      this.stmts().insertBatch.run(this.batchRow(batch));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new Error(`batch ${batch.batch_id} already exists`, { cause: err });
      }
      throw err;
    }
  }

  async getBatch(batchId: string): Promise<BatchDoc | null> {
    return this.readBatch(batchId);
  }

  async updateBatch(
    batchId: string,
    patch: Partial<Pick<BatchDoc, 'state' | 'finished_at' | 'files'>>,
  ): Promise<void> {
    this.write(() => {
      const current = this.readBatch(batchId);
      if (!current) throw new Error(`batch ${batchId} not found`);
      const next: BatchDoc = { ...current, updated_at: new Date() };
      if (patch.state !== undefined) next.state = patch.state;
      if (patch.finished_at !== undefined) next.finished_at = patch.finished_at;
      if (patch.files !== undefined) next.files = patch.files;
      this.stmts().updateBatch.run({ batch_id: batchId, state: next.state, doc: toJson(clean(next)) });
    });
  }

  private readBatch(batchId: string): BatchDoc | null {
    const row = this.stmts().getBatch.get(batchId) as { doc: string } | undefined;
    return row ? fromJson<BatchDoc>(row.doc) : null;
  }

  async listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]> {
    const params: (string | number)[] = [];
    let sql = 'SELECT doc FROM batches';
    if (query.state) {
      sql += ' WHERE state = ?';
      params.push(query.state);
    }
    sql += ' ORDER BY created_at DESC, batch_id DESC';
    if (query.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(Math.max(1, Math.floor(query.limit)));
    }
    const rows = this.ready()
      .prepare(sql)
      .all(...params) as { doc: string }[];
    return rows.map((r) => fromJson<BatchDoc>(r.doc));
  }
}
