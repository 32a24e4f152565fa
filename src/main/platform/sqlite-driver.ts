/**
 * One SQLite interface over two engines, chosen at run time:
 *
 * - `node:sqlite`, Node's own SQLite (unflagged from Node 22.13 and 23.4), in the CLI, the
 *   headless host and workers on Node 22, 24 and later: nothing native to compile, so the built CLI
 *   runs on any of them whatever Node ran `npm ci`.
 * - `better-sqlite3`, a native module, in Electron (rebuilt for its ABI by electron-builder) and on
 *   a Node without `node:sqlite` (Node 20). It is loaded only when chosen: compiled for one Node's
 *   ABI, it cannot even be loaded by another.
 *
 * The interface is the part of better-sqlite3's that the embedded store uses: open with a busy
 * timeout, `pragma`, `exec`, `prepare().get/all/run` with positional `?` and named `@name`
 * parameters, `transaction(fn)` with its `deferred`/`immediate`/`exclusive` forms (nested calls
 * become savepoints; a throw rolls back), and `close`. Errors carry SQLite's result code name in
 * `code` (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_PRIMARYKEY`, …) with either engine.
 *
 * `MEGAFERRY_SQLITE_DRIVER=better-sqlite3|node:sqlite` forces one (for tests, or to work around a
 * fault of one engine).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type * as NodeSqlite from 'node:sqlite';

export const SQLITE_DRIVERS = ['node:sqlite', 'better-sqlite3'] as const;
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number];

export type SqlValue = string | number | bigint | Uint8Array | null;
/** Values of named parameters, keyed by name without the `@`. */
export type SqlNamedParams = Readonly<Record<string, SqlValue>>;
/** Positional values, or one object of named values (first). */
export type SqlParam = SqlValue | SqlNamedParams;

export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  /** The first row, or undefined. */
  get(...params: SqlParam[]): unknown;
  all(...params: SqlParam[]): unknown[];
  run(...params: SqlParam[]): SqlRunResult;
}

/** `fn` wrapped in a transaction: called as is it runs in `BEGIN` (deferred). */
export interface SqliteTransaction<A extends unknown[], R> {
  (...args: A): R;
  deferred(...args: A): R;
  /** `BEGIN IMMEDIATE`: takes the write lock first (other writers wait up to the busy timeout). */
  immediate(...args: A): R;
  exclusive(...args: A): R;
}

export interface SqliteDatabase {
  readonly driver: SqliteDriverName;
  readonly inTransaction: boolean;
  /** Runs `PRAGMA <source>` and returns its rows. */
  pragma(source: string): unknown[];
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R>;
  close(): void;
}

export interface SqliteOpenOptions {
  /** Busy timeout in milliseconds: how long a statement waits for another connection's lock. */
  timeout: number;
  /** The engine; default: `chooseSqliteDriver()`. */
  driver?: SqliteDriverName;
}

/** A SQLite failure: `code` is SQLite's result code name, as better-sqlite3 names it. */
export class SqliteError extends Error {
  override readonly name = 'SqliteError';
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type NodeSqliteModule = typeof NodeSqlite;

/** Node's own SQLite module, or null where this runtime has none (Node 20, older 22). */
export function nodeSqliteModule(): NodeSqliteModule | null {
  const mod = process.getBuiltinModule('node:sqlite') as NodeSqliteModule | undefined;
  return mod ?? null;
}

/**
 * The engine for this process: `MEGAFERRY_SQLITE_DRIVER` when set; better-sqlite3 in Electron;
 * else node:sqlite where Node has it, else better-sqlite3.
 */
export function chooseSqliteDriver(
  env: NodeJS.ProcessEnv = process.env,
  runtime: { electron: boolean; hasNodeSqlite: () => boolean } = {
    electron: typeof process.versions.electron === 'string',
    hasNodeSqlite: () => nodeSqliteModule() !== null,
  },
): SqliteDriverName {
  const forced = env.MEGAFERRY_SQLITE_DRIVER;
  if (forced !== undefined && forced !== '') {
    if (!(SQLITE_DRIVERS as readonly string[]).includes(forced)) {
      throw new Error(`MEGAFERRY_SQLITE_DRIVER must be ${SQLITE_DRIVERS.join(' or ')} (got "${forced}")`);
    }
    return forced as SqliteDriverName;
  }
  if (runtime.electron) return 'better-sqlite3';
  return runtime.hasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3';
}

/** Opens (or creates) a database file with the chosen engine. */
export function openSqlite(file: string, options: SqliteOpenOptions): SqliteDatabase {
  const driver = options.driver ?? chooseSqliteDriver();
  return driver === 'node:sqlite'
    ? new NodeSqliteDatabase(file, options.timeout)
    : new BetterSqliteDatabase(file, options.timeout);
}

// ---------------------------------------------------------------------------------------------
// better-sqlite3

const requireHere = createRequire(import.meta.url);

/**
 * better-sqlite3's compiled addon where `npm ci` builds it (build/Release), handed to it as
 * `nativeBinding`; undefined leaves the finding to better-sqlite3 itself (its `bindings` helper).
 * `bindings` probes a dozen candidate paths and reads a stack trace at the first open: ~8 ms of CPU
 * of every process that opens the embedded store on Node 20 (`megaferry status` takes ~0.2 s in
 * all). Electron keeps better-sqlite3's own search (electron-builder moves the addon out of the
 * app's archive).
 */
function betterSqlite3Addon(): string | undefined {
  if (addonPath === null) addonPath = findBetterSqlite3Addon();
  return addonPath;
}

let addonPath: string | undefined | null = null;

function findBetterSqlite3Addon(): string | undefined {
  if (typeof process.versions.electron === 'string') return undefined;
  try {
    const root = dirname(requireHere.resolve('better-sqlite3/package.json'));
    const addon = join(root, 'build', 'Release', 'better_sqlite3.node');
    return existsSync(addon) ? addon : undefined;
  } catch {
    return undefined;
  }
}

/** better-sqlite3's JavaScript as imported by `prepareSqlite`, if it was. */
let imported: typeof BetterSqlite3 | null = null;

/**
 * Gets the engine's JavaScript ready before a first open, for code that can wait (the embedded
 * store's init). better-sqlite3 is imported here rather than required at the open: in the CLI's
 * bundle it is then one chunk, not a dozen CommonJS files resolved and read one by one (~8 ms of
 * CPU of every command that opens the store on Node 20). Only with its addon where `npm ci` builds
 * it: bundled, better-sqlite3 could not find the addon by itself. Otherwise (Electron, an addon
 * elsewhere), and for a caller that did not prepare, the open requires it as before.
 */
export async function prepareSqlite(driver: SqliteDriverName = chooseSqliteDriver()): Promise<void> {
  if (driver !== 'better-sqlite3' || imported || betterSqlite3Addon() === undefined) return;
  try {
    imported = (await import('better-sqlite3')).default;
  } catch {
    // the open requires it, and says why it cannot
  }
}

/**
 * better-sqlite3's database; its native part loads at the first open and fails there on a Node
 * of another ABI: say what to do then.
 */
function openBetterSqlite3(file: string, timeout: number): BetterSqlite3.Database {
  let Database: typeof BetterSqlite3;
  try {
    Database = imported ?? (requireHere('better-sqlite3') as typeof BetterSqlite3);
  } catch (err) {
    throw cannotLoad(err);
  }
  try {
    return new Database(file, { timeout, nativeBinding: betterSqlite3Addon() });
  } catch (err) {
    if (
      /NODE_MODULE_VERSION|compiled against a different|bindings file|ELF|dlopen/i.test(
        (err as Error).message,
      )
    ) {
      throw cannotLoad(err);
    }
    throw err;
  }
}

function cannotLoad(cause: unknown): Error {
  const hint = nodeSqliteModule()
    ? 'this Node has node:sqlite: unset MEGAFERRY_SQLITE_DRIVER to use it'
    : `it is compiled for the Node that ran npm ci: run npm rebuild better-sqlite3 with Node ${process.versions.node}, or use Node 22.13 or newer`;
  return new Error(`cannot load better-sqlite3 (${hint}): ${(cause as Error).message.split('\n')[0]}`, {
    cause,
  });
}

class BetterSqliteDatabase implements SqliteDatabase {
  readonly driver = 'better-sqlite3' as const;
  private readonly db: BetterSqlite3.Database;

  constructor(file: string, timeout: number) {
    this.db = openBetterSqlite3(file, timeout);
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  pragma(source: string): unknown[] {
    return this.db.pragma(source) as unknown[];
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    const stmt = this.db.prepare(sql);
    // A statement that returns no rows (INSERT, CREATE) cannot be read with get/all in
    // better-sqlite3; the embedded store never asks that.
    return {
      get: (...params) => stmt.get(...params),
      all: (...params) => stmt.all(...params),
      run: (...params) => stmt.run(...params),
    };
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R> {
    const tx = this.db.transaction(fn);
    const wrapped = ((...args: A) => tx(...args)) as SqliteTransaction<A, R>;
    wrapped.deferred = (...args: A) => tx.deferred(...args);
    wrapped.immediate = (...args: A) => tx.immediate(...args);
    wrapped.exclusive = (...args: A) => tx.exclusive(...args);
    return wrapped;
  }

  close(): void {
    this.db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// node:sqlite

/** Names of SQLite's result codes (https://sqlite.org/rescode.html), as better-sqlite3 gives them. */
const PRIMARY_CODES: Record<number, string> = {
  1: 'ERROR',
  2: 'INTERNAL',
  3: 'PERM',
  4: 'ABORT',
  5: 'BUSY',
  6: 'LOCKED',
  7: 'NOMEM',
  8: 'READONLY',
  9: 'INTERRUPT',
  10: 'IOERR',
  11: 'CORRUPT',
  12: 'NOTFOUND',
  13: 'FULL',
  14: 'CANTOPEN',
  15: 'PROTOCOL',
  16: 'EMPTY',
  17: 'SCHEMA',
  18: 'TOOBIG',
  19: 'CONSTRAINT',
  20: 'MISMATCH',
  21: 'MISUSE',
  22: 'NOLFS',
  23: 'AUTH',
  24: 'FORMAT',
  25: 'RANGE',
  26: 'NOTADB',
  27: 'NOTICE',
  28: 'WARNING',
};
/** Extended codes a caller may act on; any other extended code is named by its primary code. */
const EXTENDED_CODES: Record<number, string> = {
  261: 'BUSY_RECOVERY',
  517: 'BUSY_SNAPSHOT',
  773: 'BUSY_TIMEOUT',
  262: 'LOCKED_SHAREDCACHE',
  518: 'LOCKED_VTAB',
  264: 'READONLY_RECOVERY',
  520: 'READONLY_CANTLOCK',
  776: 'READONLY_ROLLBACK',
  1032: 'READONLY_DBMOVED',
  1288: 'READONLY_CANTINIT',
  1544: 'READONLY_DIRECTORY',
  275: 'CONSTRAINT_CHECK',
  531: 'CONSTRAINT_COMMITHOOK',
  787: 'CONSTRAINT_FOREIGNKEY',
  1043: 'CONSTRAINT_FUNCTION',
  1299: 'CONSTRAINT_NOTNULL',
  1555: 'CONSTRAINT_PRIMARYKEY',
  1811: 'CONSTRAINT_TRIGGER',
  2067: 'CONSTRAINT_UNIQUE',
  2323: 'CONSTRAINT_VTAB',
  2579: 'CONSTRAINT_ROWID',
  2835: 'CONSTRAINT_PINNED',
  3091: 'CONSTRAINT_DATATYPE',
};

/** SQLite's name for a (primary or extended) result code. */
export function sqliteCodeName(errcode: number): string {
  const name = EXTENDED_CODES[errcode] ?? PRIMARY_CODES[errcode & 0xff];
  return name ? `SQLITE_${name}` : `SQLITE_UNKNOWN_${errcode}`;
}

/** node:sqlite reports `ERR_SQLITE_ERROR` with the numeric `errcode`: give it SQLite's name. */
function translated<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    const e = err as { code?: unknown; errcode?: unknown; message?: unknown };
    if (e && e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
      throw new SqliteError(String(e.message), sqliteCodeName(e.errcode), { cause: err });
    }
    throw err;
  }
}

/** `Database` from Node 26.11 (DEP0210 deprecates the old name), `DatabaseSync` before. */
function nodeDatabaseClass(mod: NodeSqliteModule): typeof NodeSqlite.DatabaseSync {
  const renamed = (mod as { Database?: typeof NodeSqlite.DatabaseSync }).Database;
  return typeof renamed === 'function' ? renamed : mod.DatabaseSync;
}

const SAVEPOINT = '"megaferry.tx"';

/** Our parameters as node:sqlite's (the same shapes: values, or named values first). */
function asInput(params: SqlParam[]): NodeSqlite.SQLInputValue[] {
  return params as NodeSqlite.SQLInputValue[];
}

class NodeSqliteDatabase implements SqliteDatabase {
  readonly driver = 'node:sqlite' as const;
  private readonly db: NodeSqlite.DatabaseSync;
  /** Transactions begun here and not yet ended: inTransaction where Node lacks isTransaction (< 22.16). */
  private depth = 0;

  constructor(file: string, timeout: number) {
    const mod = nodeSqliteModule();
    if (!mod)
      throw new Error(`this Node (${process.versions.node}) has no node:sqlite: use Node 22.13 or newer`);
    const Database = nodeDatabaseClass(mod);
    this.db = translated(() => new Database(file));
    try {
      // The same busy handler better-sqlite3's `timeout` installs (sqlite3_busy_timeout).
      this.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(timeout))}`);
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  get inTransaction(): boolean {
    const own = (this.db as { isTransaction?: unknown }).isTransaction;
    return typeof own === 'boolean' ? own : this.depth > 0;
  }

  pragma(source: string): unknown[] {
    return this.prepare(`PRAGMA ${source}`).all();
  }

  exec(sql: string): void {
    translated(() => this.db.exec(sql));
  }

  prepare(sql: string): SqliteStatement {
    const stmt = translated(() => this.db.prepare(sql));
    // Rows come with a null prototype: give them an ordinary one, as better-sqlite3 does.
    return {
      get: (...params) => {
        const row = translated(() => stmt.get(...asInput(params)));
        return row === undefined ? undefined : { ...row };
      },
      all: (...params) => translated(() => stmt.all(...asInput(params))).map((row) => ({ ...row })),
      run: (...params) => {
        const r = translated(() => stmt.run(...asInput(params)));
        return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
      },
    };
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R> {
    const wrapped = this.transactionAs('BEGIN', fn) as SqliteTransaction<A, R>;
    wrapped.deferred = this.transactionAs('BEGIN DEFERRED', fn);
    wrapped.immediate = this.transactionAs('BEGIN IMMEDIATE', fn);
    wrapped.exclusive = this.transactionAs('BEGIN EXCLUSIVE', fn);
    return wrapped;
  }

  /** better-sqlite3's transaction semantics: a nested call is a savepoint; a throw undoes it all. */
  private transactionAs<A extends unknown[], R>(begin: string, fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const nested = this.inTransaction;
      this.exec(nested ? `SAVEPOINT ${SAVEPOINT}` : begin);
      this.depth++;
      try {
        const result = fn(...args);
        if (result && typeof (result as { then?: unknown }).then === 'function') {
          throw new TypeError('Transaction function cannot return a promise');
        }
        this.exec(nested ? `RELEASE ${SAVEPOINT}` : 'COMMIT');
        this.depth--;
        return result;
      } catch (err) {
        if (this.inTransaction) {
          this.exec(nested ? `ROLLBACK TO ${SAVEPOINT}` : 'ROLLBACK');
          if (nested) this.exec(`RELEASE ${SAVEPOINT}`);
        }
        this.depth--;
        throw err;
      }
    };
  }

  close(): void {
    translated(() => this.db.close());
  }
}
