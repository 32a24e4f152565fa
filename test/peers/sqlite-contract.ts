/**
 * What the embedded store asks of a SQLite engine, checked with node:assert so that it runs both
 * inside vitest and in a child process of another Node (built by esbuild): the same checks for
 * better-sqlite3 and node:sqlite through src/main/platform/sqlite-driver.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  openSqlite,
  type SqliteDatabase,
  type SqliteDriverName,
} from '../../src/main/platform/sqlite-driver';

/** How many checks the contract makes (runSqliteContract throws at the first that fails). */
export const SQLITE_CONTRACT_SIZE = 16;

/** Runs every check in a fresh database file under `dir`; returns the names of the checks run. */
export function runSqliteContract(driver: SqliteDriverName, dir: string): string[] {
  const file = join(dir, `contract-${driver.replace(/\W/g, '-')}.sqlite`);
  const checked: string[] = [];
  const check = (name: string, body: () => void) => {
    try {
      body();
    } catch (err) {
      throw new Error(`${driver}: ${name}: ${(err as Error).message}`, { cause: err });
    }
    checked.push(name);
  };

  const TIMEOUT = 300;
  const db = openSqlite(file, { timeout: TIMEOUT, driver });
  const other = openSqlite(file, { timeout: TIMEOUT, driver });
  try {
    check('opens with the engine asked for and the busy timeout', () => {
      assert.equal(db.driver, driver);
      assert.deepEqual(db.pragma('busy_timeout'), [{ timeout: TIMEOUT }]);
    });

    check('pragma: WAL journal, synchronous FULL, foreign keys', () => {
      assert.deepEqual(db.pragma('journal_mode = WAL'), [{ journal_mode: 'wal' }]);
      db.pragma('synchronous = FULL');
      assert.deepEqual(db.pragma('synchronous'), [{ synchronous: 2 }]);
      db.pragma('foreign_keys = ON');
      assert.deepEqual(db.pragma('foreign_keys'), [{ foreign_keys: 1 }]);
    });

    check('exec runs several statements', () => {
      db.exec(`
        CREATE TABLE files (bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER, doc TEXT NOT NULL,
          PRIMARY KEY (bucket, key));
        CREATE INDEX files_size ON files (size);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    });

    const insert = db.prepare(
      'INSERT INTO files (bucket, key, size, doc) VALUES (@bucket, @key, @size, @doc)',
    );
    check('run with named @parameters reports the change', () => {
      const r = insert.run({ bucket: 'b', key: 'a/1', size: 10, doc: '{"n":1}' });
      assert.equal(r.changes, 1);
      assert.equal(Number(r.lastInsertRowid), 1);
      insert.run({ bucket: 'b', key: 'a/2', size: 2 ** 40, doc: '{"n":2}' });
      insert.run({ bucket: 'b', key: 'é/ü 3', size: null, doc: '{"n":3}' });
    });

    check('get with positional ? returns a plain row, or undefined', () => {
      const get = db.prepare('SELECT key, size, doc FROM files WHERE bucket = ? AND key = ?');
      const row = get.get('b', 'a/2');
      assert.deepEqual(row, { key: 'a/2', size: 2 ** 40, doc: '{"n":2}' });
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
      assert.deepEqual(get.get('b', 'é/ü 3'), { key: 'é/ü 3', size: null, doc: '{"n":3}' });
      assert.equal(get.get('b', 'missing'), undefined);
    });

    check('all with positional parameters, LIKE … ESCAPE and LIMIT', () => {
      const rows = db
        .prepare("SELECT key FROM files WHERE bucket = ? AND key LIKE ? ESCAPE '\\' ORDER BY key LIMIT ?")
        .all('b', 'a/%', 5);
      assert.deepEqual(rows, [{ key: 'a/1' }, { key: 'a/2' }]);
      assert.deepEqual(db.prepare("SELECT key FROM files WHERE doc = 'none'").all(), []);
    });

    check('upsert with ON CONFLICT … DO UPDATE and excluded', () => {
      const upsert = db.prepare(
        `INSERT INTO files (bucket, key, size, doc) VALUES (@bucket, @key, @size, @doc)
         ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, doc = excluded.doc`,
      );
      upsert.run({ bucket: 'b', key: 'a/1', size: 11, doc: '{"n":11}' });
      assert.deepEqual(db.prepare('SELECT size FROM files WHERE key = ?').get('a/1'), { size: 11 });
      assert.deepEqual(db.prepare('SELECT count(*) AS n FROM files').get(), { n: 3 });
    });

    check('a primary key conflict is SQLITE_CONSTRAINT_PRIMARYKEY', () => {
      assert.throws(
        () => insert.run({ bucket: 'b', key: 'a/1', size: 1, doc: '{}' }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
          assert.match(err.message, /UNIQUE constraint failed: files\.bucket, files\.key/);
          return true;
        },
      );
      assert.throws(() => db.exec('INSERT INTO meta (key, value) VALUES (NULL, NULL)'), {
        code: 'SQLITE_CONSTRAINT_NOTNULL',
      });
      assert.throws(() => db.prepare('SELECT nope FROM files'), { code: 'SQLITE_ERROR' });
    });

    const count = () => (db.prepare('SELECT count(*) AS n FROM files').get() as { n: number }).n;

    check('transaction: commits and returns the value; arguments pass through', () => {
      const add = db.transaction((key: string, size: number) => {
        insert.run({ bucket: 'tx', key, size, doc: '{}' });
        return db.inTransaction;
      });
      assert.equal(add('t/1', 1), true);
      assert.equal(add.immediate('t/2', 2), true);
      assert.equal(add.deferred('t/3', 3), true);
      assert.equal(add.exclusive('t/4', 4), true);
      assert.equal(db.inTransaction, false);
      assert.equal(count(), 7);
    });

    check('transaction: a throw rolls everything back and is rethrown as is', () => {
      const boom = new Error('boom');
      assert.throws(
        () =>
          db
            .transaction(() => {
              insert.run({ bucket: 'tx', key: 'lost', size: 0, doc: '{}' });
              throw boom;
            })
            .immediate(),
        (err) => err === boom,
      );
      assert.equal(db.inTransaction, false);
      assert.equal(count(), 7);
      // A failing statement inside: its error, and nothing of the transaction kept.
      assert.throws(
        () =>
          db.transaction(() => {
            insert.run({ bucket: 'tx', key: 'also-lost', size: 0, doc: '{}' });
            insert.run({ bucket: 'b', key: 'a/1', size: 0, doc: '{}' });
          })(),
        { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' },
      );
      assert.equal(count(), 7);
    });

    check('transaction: a nested one is a savepoint', () => {
      const outer = db.transaction(() => {
        insert.run({ bucket: 'nest', key: 'kept', size: 0, doc: '{}' });
        assert.throws(() =>
          db
            .transaction(() => {
              insert.run({ bucket: 'nest', key: 'undone', size: 0, doc: '{}' });
              throw new Error('inner');
            })
            .immediate(),
        );
        assert.equal(db.inTransaction, true);
        db.transaction(() => insert.run({ bucket: 'nest', key: 'inner-kept', size: 0, doc: '{}' }))();
      });
      outer.immediate();
      const keys = db.prepare("SELECT key FROM files WHERE bucket = 'nest' ORDER BY key").all();
      assert.deepEqual(keys, [{ key: 'inner-kept' }, { key: 'kept' }]);
    });

    check('transaction: a function returning a promise is refused and rolled back', () => {
      assert.throws(
        () =>
          db.transaction(() => {
            insert.run({ bucket: 'tx', key: 'async', size: 0, doc: '{}' });
            return Promise.resolve(1);
          })(),
        TypeError,
      );
      assert.equal(db.prepare("SELECT 1 AS x FROM files WHERE key = 'async'").get(), undefined);
    });

    const busy = (err: Error & { code?: string }) => /^SQLITE_BUSY/.test(err.code ?? '');

    check('a deferred BEGIN takes no lock until it writes', () => {
      db.transaction(() => {
        db.prepare('SELECT count(*) AS n FROM files').get();
        const write = () =>
          other.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('w', '1')").run().changes;
        assert.equal(other.transaction(write).immediate(), 1);
      })();
    });

    check(
      'BEGIN IMMEDIATE takes the write lock at once: another writer waits the timeout, then SQLITE_BUSY',
      () => {
        db.transaction(() => {
          // Nothing written yet: the lock is held from BEGIN.
          let started = Date.now();
          assert.throws(() => other.transaction(() => 0).immediate(), busy);
          const waited = Date.now() - started;
          assert.ok(waited >= TIMEOUT * 0.8, `waited ${waited} ms, busy timeout ${TIMEOUT} ms`);
          assert.equal(other.inTransaction, false);
          insert.run({ bucket: 'lock', key: 'held', size: 0, doc: '{}' });
          // A reader is not blocked and does not see the uncommitted row (WAL snapshot).
          assert.deepEqual(other.prepare("SELECT key FROM files WHERE bucket = 'lock'").all(), []);
          started = Date.now();
          assert.throws(() => other.exec("DELETE FROM files WHERE bucket = 'b'"), busy);
          assert.ok(Date.now() - started >= TIMEOUT * 0.8);
        }).immediate();
        assert.deepEqual(other.prepare("SELECT key FROM files WHERE bucket = 'lock'").all(), [
          { key: 'held' },
        ]);
        // Once the lock is free, the other connection writes at once.
        other.transaction(() => other.exec("DELETE FROM files WHERE bucket = 'lock'")).immediate();
        assert.equal(db.prepare("SELECT 1 AS x FROM files WHERE bucket = 'lock'").get(), undefined);
      },
    );

    check('close: the database is closed, statements refuse', () => {
      const stmt = other.prepare('SELECT 1 AS one');
      other.close();
      assert.throws(() => other.prepare('SELECT 1'));
      assert.throws(() => stmt.get());
    });
  } finally {
    closeQuietly(other);
    closeQuietly(db);
  }
  // The data is on disk for the next connection, in WAL mode still.
  const again = openSqlite(file, { timeout: TIMEOUT, driver });
  try {
    check('reopens with the data and the journal mode', () => {
      assert.deepEqual(again.pragma('journal_mode'), [{ journal_mode: 'wal' }]);
      assert.deepEqual(again.prepare('SELECT count(*) AS n FROM files').get(), { n: 9 });
      again.pragma('wal_checkpoint(PASSIVE)');
    });
  } finally {
    again.close();
  }
  assert.equal(checked.length, SQLITE_CONTRACT_SIZE, 'SQLITE_CONTRACT_SIZE is the number of checks');
  return checked;
}

function closeQuietly(db: SqliteDatabase): void {
  try {
    db.close();
  } catch {
    // already closed
  }
}
