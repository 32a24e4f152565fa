/**
 * Data of MegaFerry 0.1 (its embedded store: nedb's append-only files.db and batches.db, as a
 * crashed 0.1 process left them — test/fixtures/store-0.1, written by the 0.1 adapter itself) is
 * imported into the SQLite store at the first start: every document, with its dates, nothing
 * doubled on the next start, and the old files kept beside it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedStore } from '../src/main/store/embedded';
import { parseNedb } from '../src/main/store/nedb-import';

const FIXTURE = resolve(__dirname, 'fixtures', 'store-0.1');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'megaferry-migrate-'));
  await cp(FIXTURE, dir, { recursive: true });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded store of 0.1', () => {
  it('is imported at the first start: every file and batch, dates as dates, the last write of each', async () => {
    const store = new EmbeddedStore(dir, { legacyDestination: 'mega:owner@example.com' });
    await store.init();
    try {
      const page = await store.listFiles({ limit: 100 });
      const byKey = new Map(page.files.map((f) => [f.remote_key, f]));
      expect([...byKey.keys()].sort()).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'gone.jpg']);
      expect(byKey.get('a.jpg')).toMatchObject({
        status: 'done',
        transferred_bytes: 1000,
        mega_handle: 'HaNdLe01',
        transfer_id: 'tid-a.jpg',
        lease_owner: null,
      });
      expect(byKey.get('b.jpg')).toMatchObject({
        status: 's4_upload_failed',
        retry_count: 2,
        error_message: 'MEGA refused the upload',
      });
      expect(byKey.get('c.jpg')).toMatchObject({ status: 'processing', lease_owner: 'host:99999:bb' });
      expect(byKey.get('gone.jpg')).toMatchObject({ status: 's3_download_failed' });
      for (const f of page.files) {
        expect(f.creation_date).toBeInstanceOf(Date);
        expect(f.status_updated_at).toBeInstanceOf(Date);
      }
      expect(byKey.get('c.jpg')?.lease_expires_at).toBeInstanceOf(Date);
      // The queries work on the imported data.
      expect((await store.listFiles({ limit: 10, status: 'done' })).files.map((f) => f.remote_key)).toEqual([
        'a.jpg',
      ]);
      expect((await store.findProcessing()).map((f) => f.remote_key)).toEqual(['c.jpg']);
      // Today's model: each transfer keyed by its destination too (the configured MEGA account),
      // owned by the batch 0.1 recorded last, with a revision for compare-and-set.
      for (const f of page.files) {
        expect(f.destination).toBe('mega:owner@example.com');
        expect(f.rev).toBe(0);
        expect(f.batch_id).toMatch(/^batch_old[12]$/);
        expect(f).not.toHaveProperty('last_batch_id');
      }
      const old1 = await store.getBatch('batch_old1');
      expect(old1?.destination).toBe('mega:owner@example.com');
      expect(old1?.files.map((i) => i.s4_key)).toEqual([
        '/Backup/a.jpg',
        '/Backup/b.jpg',
        '/Backup/c.jpg',
        '/Backup/gone.jpg',
      ]);
      const batches = await store.listBatches({});
      expect(batches.map((b) => [b.batch_id, b.state])).toEqual([
        ['batch_old2', 'finished'],
        ['batch_old1', 'running'],
      ]);
      expect(batches[0]?.finished_at).toBeInstanceOf(Date);
      expect((await store.getBatch('batch_old1'))?.files).toHaveLength(4);
    } finally {
      await store.close();
    }
    // The old files are kept, renamed; nothing is deleted.
    expect((await readdir(dir)).sort()).toEqual(
      expect.arrayContaining(['batches.db.migrated-0.1', 'files.db.migrated-0.1', 'megaferry.sqlite']),
    );
  });

  it('is imported once: a second start (or a second process) adds nothing', async () => {
    const first = new EmbeddedStore(dir);
    const second = new EmbeddedStore(dir);
    await Promise.all([first.init(), second.init()]);
    await first.close();
    await second.close();
    // Old files put back by hand (a restore from backup) are not imported a second time either.
    await cp(join(FIXTURE, 'files.db'), join(dir, 'files.db'));
    const again = new EmbeddedStore(dir);
    await again.init();
    try {
      expect((await again.listFiles({ limit: 100 })).files).toHaveLength(4);
      expect(await again.listBatches({})).toHaveLength(2);
    } finally {
      await again.close();
    }
  });

  it('brings the first SQLite schema (a document per object) to a document per transfer', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'megaferry-schema1-'));
    try {
      // The tables and one row each as the first SQLite adapter wrote them.
      const db = new Database(join(empty, 'megaferry.sqlite'));
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE files (bucket_name TEXT NOT NULL, remote_key TEXT NOT NULL, status TEXT NOT NULL,
          creation_date INTEGER NOT NULL, code TEXT NOT NULL, s4_key TEXT NOT NULL, doc TEXT NOT NULL,
          PRIMARY KEY (bucket_name, remote_key));
        CREATE TABLE batches (batch_id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at INTEGER NOT NULL,
          doc TEXT NOT NULL);
      `);
      db.prepare('INSERT INTO meta VALUES (?, ?)').run('schema_version', '1');
      const at = { $date: 1_790_000_000_000 };
      const file = {
        bucket_name: 'media',
        remote_key: 'v/a.mp4',
        code: 'A',
        s4_key: '/Backup/v/a.mp4',
        status: 'done',
        status_updated_at: at,
        creation_date: at,
        modified_date: at,
        retry_count: 0,
        size: 5,
        transferred_bytes: 5,
        last_batch_id: 'batch_s1',
        mega_handle: 'H1',
      };
      db.prepare('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        'media',
        'v/a.mp4',
        'done',
        at.$date,
        'A',
        '/Backup/v/a.mp4',
        JSON.stringify(file),
      );
      const batch = {
        batch_id: 'batch_s1',
        options: { bucket: 'media', keys: ['v/a.mp4'], target: '/Backup', max_concurrent: 3, force: false },
        files: [
          { bucket_name: 'media', remote_key: 'v/a.mp4', code: 'A', start_result: 'started', reason: null },
        ],
        state: 'finished',
        created_at: at,
        updated_at: at,
        finished_at: at,
      };
      db.prepare('INSERT INTO batches VALUES (?, ?, ?, ?)').run(
        'batch_s1',
        'finished',
        at.$date,
        JSON.stringify(batch),
      );
      db.close();

      const store = new EmbeddedStore(empty, { legacyDestination: 'mega:owner@example.com' });
      await store.init();
      try {
        const doc = await store.getFile({
          bucket_name: 'media',
          remote_key: 'v/a.mp4',
          destination: 'mega:owner@example.com',
          s4_key: '/Backup/v/a.mp4',
        });
        expect(doc).toMatchObject({ status: 'done', batch_id: 'batch_s1', rev: 0, mega_handle: 'H1' });
        expect(doc?.creation_date).toEqual(new Date(at.$date));
        const upgraded = await store.getBatch('batch_s1');
        expect(upgraded?.destination).toBe('mega:owner@example.com');
        expect(upgraded?.files[0]).toMatchObject({
          s4_key: '/Backup/v/a.mp4',
          start_result: 'started',
          outcome: { status: 'done', size: 5 },
        });
      } finally {
        await store.close();
      }
      // Opened again: nothing changes (the schema is current).
      const again = new EmbeddedStore(empty);
      await again.init();
      try {
        expect((await again.listFiles({ limit: 10 })).files).toHaveLength(1);
        expect((await again.getBatch('batch_s1'))?.destination).toBe('mega:owner@example.com');
      } finally {
        await again.close();
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("reads nedb's format: later lines win, deletions remove, a torn last line is skipped", () => {
    const text = [
      '{"$$indexCreated":{"fieldName":"x","unique":true}}',
      '{"_id":"1","v":1,"at":{"$$date":1000}}',
      '{"_id":"2","v":2}',
      '{"_id":"1","v":3,"at":{"$$date":2000}}',
      '{"$$deleted":true,"_id":"2"}',
      '{"_id":"3","v":',
    ].join('\n');
    expect(parseNedb(text)).toEqual([{ v: 3, at: new Date(2000) }]);
  });
});
