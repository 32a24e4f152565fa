/**
 * Embedded adapter of the store: SQLite in the data folder (node:sqlite on Node 22.13+,
 * better-sqlite3 in Electron and on Node 20: src/main/platform/sqlite-driver.ts), for machines
 * without MongoDB. Safe for several processes on one machine at once (the desktop app in the tray, the
 * CLI, `serve`, workers): WAL mode, a busy timeout, and every write a compare-and-set on the
 * document's revision in one statement. The rules themselves are ./rules.ts, applied by
 * ./core.ts; this file only reads and writes.
 *
 * Documents are kept whole as JSON (dates as `{"$date": ms}`) beside the columns the queries use.
 * Older data is brought to this schema at the first start: nedb's `files.db` and `batches.db` of
 * version 0.1 (kept, renamed `*.migrated-0.1`) and the first SQLite schema.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openSqlite, prepareSqlite, type SqliteDatabase } from '../platform/sqlite-driver';
import type { BatchState } from '../../shared/contract';
import { StoreCore } from './core';
import { decodeFilesCursor, encodeFilesCursor, refKey, uniqueRefs } from './documents';
import { importNedbData } from './nedb-import';
import { StoreSchemaError } from './schema-error';
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
  upgradeBatch,
  upgradeFile,
} from './upgrade';

/** The database file in the data folder. */
export const EMBEDDED_DB_FILE = 'megaferry.sqlite';
/** How long a write waits for another process's transaction before it fails. */
const BUSY_TIMEOUT_MS = 15_000;
/** 1: one document per source object. 2: one per transfer (destination path), revisions. */
const SCHEMA_VERSION = 2;

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

/** `%`, `_` and the escape character itself taken literally in a LIKE pattern. */
function likeLiteral(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

const FILES_TABLE = `
  CREATE TABLE IF NOT EXISTS files (
    bucket_name TEXT NOT NULL,
    remote_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    s4_key TEXT NOT NULL,
    status TEXT NOT NULL,
    batch_id TEXT,
    queued_at INTEGER,
    creation_date INTEGER NOT NULL,
    code TEXT NOT NULL,
    rev INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (bucket_name, remote_key, destination, s4_key)
  );
  CREATE INDEX IF NOT EXISTS files_status ON files (status);
  CREATE INDEX IF NOT EXISTS files_batch ON files (batch_id, status);
  CREATE INDEX IF NOT EXISTS files_queue ON files (status, destination, queued_at);
  CREATE INDEX IF NOT EXISTS files_listing
    ON files (creation_date DESC, bucket_name, remote_key, destination, s4_key);
`;

const BATCHES_TABLE = `
  CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rev INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS batches_listing ON batches (created_at DESC, batch_id DESC);
  CREATE INDEX IF NOT EXISTS batches_state ON batches (state);
`;

const FOLDERS_TABLE = `
  CREATE TABLE IF NOT EXISTS folders (
    destination TEXT NOT NULL,
    path TEXT NOT NULL,
    rev INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (destination, path)
  );
`;

/** Heartbeats of the processes sharing the store (schema 2 gained it without a change of version). */
const PROCESSES_TABLE = `
  CREATE TABLE IF NOT EXISTS processes (
    id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL,
    doc TEXT NOT NULL
  );
`;

export interface EmbeddedStoreOptions {
  /**
   * The destination (`mega:<e-mail>`) older data went to: documents written before transfers were
   * keyed by destination are filled with it at the upgrade.
   */
  legacyDestination?: string;
}

class SqliteAdapter implements StoreAdapter {
  readonly kind = 'embedded' as const;
  private db: SqliteDatabase | null = null;
  private statements: ReturnType<SqliteAdapter['prepare']> | null = null;
  private readonly legacyDestination: string;

  constructor(
    private readonly dataDir: string,
    opts: EmbeddedStoreOptions,
  ) {
    this.legacyDestination = opts.legacyDestination ?? UNKNOWN_MEGA_DESTINATION;
  }

  /** Opens (or creates) the database, brings older data to this schema, imports 0.1 data once. */
  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(this.dataDir, { recursive: true });
    await prepareSqlite();
    if (this.db) return; // another init opened it meanwhile
    const db = openSqlite(path.join(this.dataDir, EMBEDDED_DB_FILE), { timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma('journal_mode = WAL');
      // WAL with NORMAL: a commit survives a process crash (the WAL is on disk); only a power loss
      // can drop the last commits, never corrupt the database.
      db.pragma('synchronous = NORMAL');
      db.transaction(() => this.migrate(db)).immediate();
      this.db = db;
      this.statements = this.prepare(db);
      await importNedbData(this.dataDir, {
        alreadyImported: () => this.readMeta('nedb_imported') !== null,
        importAll: (files, batches) =>
          this.ready()
            .transaction(() => {
              if (this.readMeta('nedb_imported') !== null) return false;
              this.importLegacy(files as unknown as LegacyFileDoc[], batches as unknown as LegacyBatchDoc[]);
              this.ready()
                .prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
                .run('nedb_imported', new Date().toISOString());
              return true;
            })
            .immediate(),
      });
    } catch (err) {
      this.db = null;
      this.statements = null;
      db.close();
      throw err;
    }
  }

  /** Creates the schema, or brings schema 1 to 2 (in the caller's transaction). */
  private migrate(db: SqliteDatabase): void {
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
      { value: string } | undefined;
    const version = row ? Number(row.value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new StoreSchemaError(
        `the embedded store was written by a newer MegaFerry (schema ${version}; this one knows ${SCHEMA_VERSION})`,
      );
    }
    if (version === 1) {
      const files = (db.prepare('SELECT doc FROM files').all() as { doc: string }[]).map((r) =>
        fromJson<LegacyFileDoc>(r.doc),
      );
      const batches = (db.prepare('SELECT doc FROM batches').all() as { doc: string }[]).map((r) =>
        fromJson<LegacyBatchDoc>(r.doc),
      );
      db.exec('DROP TABLE files; DROP TABLE batches;');
      db.exec(FILES_TABLE + BATCHES_TABLE + FOLDERS_TABLE + PROCESSES_TABLE);
      this.db = db;
      this.statements = this.prepare(db);
      try {
        this.importLegacy(files, batches);
      } finally {
        this.db = null;
        this.statements = null;
      }
    } else {
      db.exec(FILES_TABLE + BATCHES_TABLE + FOLDERS_TABLE + PROCESSES_TABLE);
    }
    // Written only when it changes: every process opens the store (`status` too), and a write here
    // made each open a write transaction (WAL frames, four fsyncs at close).
    if (version !== SCHEMA_VERSION) {
      db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(
        'schema_version',
        String(SCHEMA_VERSION),
      );
    }
  }

  /** Writes older documents in today's model (nothing already there is replaced). */
  private importLegacy(files: LegacyFileDoc[], batches: LegacyBatchDoc[]): void {
    const upgraded = files.map((f) => upgradeFile(f, this.legacyDestination));
    const byPath = new Map(upgraded.map((f) => [refKey(f), f]));
    for (const doc of upgraded) this.stmts().insertFile.run(fileRow(doc));
    for (const batch of batches) {
      const next = upgradeBatch(batch, this.legacyDestination, (ref) =>
        byPath.get(refKey({ ...ref, destination: batch.destination ?? this.legacyDestination })),
      );
      this.stmts().insertBatch.run(batchRow(next));
    }
  }

  private prepare(db: SqliteDatabase) {
    const key =
      'bucket_name = @bucket_name AND remote_key = @remote_key AND destination = @destination AND s4_key = @s4_key';
    return {
      getFile: db.prepare(`SELECT doc FROM files WHERE ${key}`),
      insertFile: db.prepare(
        `INSERT OR IGNORE INTO files
           (bucket_name, remote_key, destination, s4_key, status, batch_id, queued_at, creation_date, code, rev, doc)
         VALUES (@bucket_name, @remote_key, @destination, @s4_key, @status, @batch_id, @queued_at, @creation_date,
           @code, @rev, @doc)`,
      ),
      updateFile: db.prepare(
        `UPDATE files SET status = @status, batch_id = @batch_id, queued_at = @queued_at,
           creation_date = @creation_date, code = @code, rev = @rev, doc = @doc
         WHERE ${key} AND rev = @expected`,
      ),
      processing: db.prepare("SELECT doc FROM files WHERE status = 'processing'"),
      insertBatch: db.prepare(
        'INSERT OR IGNORE INTO batches (batch_id, state, created_at, rev, doc) VALUES (@batch_id, @state, @created_at, @rev, @doc)',
      ),
      updateBatch: db.prepare(
        'UPDATE batches SET state = @state, rev = @rev, doc = @doc WHERE batch_id = @batch_id AND rev = @expected',
      ),
      getBatch: db.prepare('SELECT doc FROM batches WHERE batch_id = ?'),
      getFolder: db.prepare('SELECT doc FROM folders WHERE destination = ? AND path = ?'),
      insertFolder: db.prepare(
        'INSERT OR IGNORE INTO folders (destination, path, rev, doc) VALUES (@destination, @path, @rev, @doc)',
      ),
      writeProcess: db.prepare(
        'INSERT INTO processes (id, last_seen, doc) VALUES (@id, @last_seen, @doc) ' +
          'ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, doc = excluded.doc',
      ),
      listProcesses: db.prepare('SELECT doc FROM processes ORDER BY id'),
      deleteProcesses: db.prepare('DELETE FROM processes WHERE last_seen < ?'),
      updateFolder: db.prepare(
        'UPDATE folders SET rev = @rev, doc = @doc WHERE destination = @destination AND path = @path AND rev = @expected',
      ),
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

  private ready(): SqliteDatabase {
    if (!this.db) throw new Error('the embedded store is not open (call init() first)');
    return this.db;
  }

  private stmts(): NonNullable<SqliteAdapter['statements']> {
    this.ready();
    return this.statements as NonNullable<SqliteAdapter['statements']>;
  }

  async readFile(ref: TransferRef): Promise<FileDoc | null> {
    return this.readFileNow(ref);
  }

  private readFileNow(ref: TransferRef): FileDoc | null {
    const row = this.stmts().getFile.get(keyParams(ref)) as { doc: string } | undefined;
    return row ? fromJson<FileDoc>(row.doc) : null;
  }

  async readFiles(refs: TransferRef[]): Promise<FileDoc[]> {
    const unique = uniqueRefs(refs);
    if (unique.length === 0) return [];
    // One read transaction: a consistent view of every file asked for.
    return this.ready().transaction(() => unique.flatMap((r) => this.readFileNow(r) ?? []))();
  }

  async writeFile(next: FileDoc, expectedRev: number | null): Promise<boolean> {
    const row = fileRow(next);
    if (expectedRev === null) return this.stmts().insertFile.run(row).changes === 1;
    return this.stmts().updateFile.run({ ...row, expected: expectedRev }).changes === 1;
  }

  async readBatch(batchId: string): Promise<BatchDoc | null> {
    const row = this.stmts().getBatch.get(batchId) as { doc: string } | undefined;
    return row ? fromJson<BatchDoc>(row.doc) : null;
  }

  async writeBatch(next: BatchDoc, expectedRev: number | null): Promise<boolean> {
    const row = batchRow(next);
    if (expectedRev === null) return this.stmts().insertBatch.run(row).changes === 1;
    // Exactly the statement's parameters: node:sqlite refuses unknown ones.
    const { batch_id, state, rev, doc } = row;
    return this.stmts().updateBatch.run({ batch_id, state, rev, doc, expected: expectedRev }).changes === 1;
  }

  async readFolder(destination: string, path: string): Promise<FolderDoc | null> {
    const row = this.stmts().getFolder.get(destination, path) as { doc: string } | undefined;
    return row ? fromJson<FolderDoc>(row.doc) : null;
  }

  async writeFolder(next: FolderDoc, expectedRev: number | null): Promise<boolean> {
    const row = { destination: next.destination, path: next.path, rev: next.rev, doc: toJson(next) };
    if (expectedRev === null) return this.stmts().insertFolder.run(row).changes === 1;
    return this.stmts().updateFolder.run({ ...row, expected: expectedRev }).changes === 1;
  }

  async writeProcess(doc: ProcessDoc): Promise<void> {
    this.stmts().writeProcess.run({ id: doc.id, last_seen: doc.last_seen.getTime(), doc: toJson(doc) });
  }

  async listProcesses(): Promise<ProcessDoc[]> {
    return (this.stmts().listProcesses.all() as { doc: string }[]).map((r) => fromJson<ProcessDoc>(r.doc));
  }

  async deleteProcesses(before: Date): Promise<number> {
    return Number(this.stmts().deleteProcesses.run(before.getTime()).changes);
  }

  async findPending(scope: ClaimScope, limit: number): Promise<FileDoc[]> {
    if (scope.destinations.length === 0) return [];
    const where = ["status = 'pending'", `destination IN (${scope.destinations.map(() => '?').join(', ')})`];
    const params: (string | number)[] = [...scope.destinations];
    if (scope.batch_ids) {
      if (scope.batch_ids.length === 0) return [];
      where.push(`batch_id IN (${scope.batch_ids.map(() => '?').join(', ')})`);
      params.push(...scope.batch_ids);
    }
    if (scope.exclude_batch_ids && scope.exclude_batch_ids.length > 0) {
      // NOT IN is never true for NULL: a transfer without a batch is not excluded by it.
      where.push(
        `(batch_id IS NULL OR batch_id NOT IN (${scope.exclude_batch_ids.map(() => '?').join(', ')}))`,
      );
      params.push(...scope.exclude_batch_ids);
    }
    const rows = this.ready()
      .prepare(`SELECT doc FROM files WHERE ${where.join(' AND ')} ORDER BY queued_at ASC LIMIT ?`)
      .all(...params, limit) as { doc: string }[];
    return rows.map((r) => fromJson<FileDoc>(r.doc));
  }

  async findOpen(batchIds: string[]): Promise<FileDoc[]> {
    const rows = this.ready()
      .prepare(
        `SELECT doc FROM files WHERE status IN ('pending', 'processing', 'paused')
         AND batch_id IN (${batchIds.map(() => '?').join(', ')})`,
      )
      .all(...batchIds) as { doc: string }[];
    return rows.map((r) => fromJson<FileDoc>(r.doc));
  }

  async openBatches(batchIds: string[]): Promise<string[]> {
    const rows = this.ready()
      .prepare(
        `SELECT DISTINCT batch_id FROM files WHERE batch_id IN (${batchIds.map(() => '?').join(', ')})
         AND status IN ('pending', 'processing', 'paused')`,
      )
      .all(...batchIds) as { batch_id: string }[];
    return rows.map((r) => r.batch_id);
  }

  async findProcessing(): Promise<FileDoc[]> {
    return (this.stmts().processing.all() as { doc: string }[]).map((r) => fromJson<FileDoc>(r.doc));
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
        '(creation_date < ? OR (creation_date = ? AND (bucket_name, remote_key, destination, s4_key) > (?, ?, ?, ?)))',
      );
      params.push(at, at, c.bucket_name, c.remote_key, c.destination, c.s4_key);
    }
    const sql =
      'SELECT doc FROM files' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY creation_date DESC, bucket_name ASC, remote_key ASC, destination ASC, s4_key ASC LIMIT ?';
    const rows = this.ready()
      .prepare(sql)
      .all(...params, limit + 1) as { doc: string }[];
    const page = rows.slice(0, limit).map((r) => fromJson<FileDoc>(r.doc));
    const last = page[page.length - 1];
    return { files: page, next_cursor: rows.length > limit && last ? encodeFilesCursor(last) : null };
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

function keyParams(ref: TransferRef) {
  return {
    bucket_name: ref.bucket_name,
    remote_key: ref.remote_key,
    destination: ref.destination,
    s4_key: ref.s4_key,
  };
}

function fileRow(doc: FileDoc) {
  return {
    ...keyParams(doc),
    status: doc.status,
    batch_id: doc.batch_id ?? null,
    queued_at: doc.queued_at ? doc.queued_at.getTime() : null,
    creation_date: doc.creation_date.getTime(),
    code: doc.code,
    rev: doc.rev,
    doc: toJson(doc),
  };
}

function batchRow(batch: BatchDoc) {
  return {
    batch_id: batch.batch_id,
    state: batch.state,
    created_at: batch.created_at.getTime(),
    rev: batch.rev,
    doc: toJson(batch),
  };
}

/** The embedded store: the shared rules over SQLite in the data folder. */
export class EmbeddedStore extends StoreCore {
  constructor(dataDir: string, opts: EmbeddedStoreOptions = {}) {
    super(new SqliteAdapter(dataDir, opts));
  }
}
