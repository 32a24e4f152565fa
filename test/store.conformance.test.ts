/**
 * One conformance suite for the metadata store, run against both adapters: MongoStore on a real
 * MongoDB peer (MONGODB_URI or jongodb) and EmbeddedStore (SQLite) in a temporary folder. The rules
 * themselves are tested without a store (test/store.rules.test.ts); here the stores must keep one
 * document per transfer, apply the rules atomically (compare-and-set on `rev`), claim from the
 * shared queue exclusively and in order, list and page alike, and keep everything across a reopen.
 * Then what only MongoDB has: its field types, its indexes, and the upgrade of 0.1 data.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db, type Document } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileStatus } from '../src/shared/contract';
import { StoreCore } from '../src/main/store/core';
import { EmbeddedStore } from '../src/main/store/embedded';
import { MongoStore } from '../src/main/store/mongo';
import { openStore } from '../src/main/store/open';
import type {
  BatchDoc,
  BatchItemDoc,
  ClaimResult,
  ClaimScope,
  FileDoc,
  FileRule,
  FileSeed,
  MetadataStore,
  ProcessDoc,
  TransferRef,
} from '../src/main/store/port';
import {
  cancelBatchRule,
  claimRule,
  endBatchRule,
  failToStartRule,
  finishRule,
  patchHeldRule,
  queueRule,
  reclaimRule,
  recordOutcomeRule,
  releaseRule,
  renewRule,
  resumeRule,
  stopRule,
  verificationRule,
  type QueueResult,
} from '../src/main/store/rules';
import { dropDatabases, startMongo, type MongoPeer } from './peers/mongo';

interface StoreFixture {
  name: 'mongodb' | 'embedded';
  setup(): Promise<void>;
  /** A new, empty store (its own database or folder), initialised. */
  open(): Promise<MetadataStore>;
  /** The same data as the last store opened, through a new instance (the first may stay open). */
  reopen(): Promise<MetadataStore>;
  teardown(): Promise<void>;
}

function mongoFixture(): StoreFixture & { peer(): MongoPeer; lastDbName(): string; newDbName(): string } {
  let peer: MongoPeer | null = null;
  let n = 0;
  let dbName = '';
  const used: string[] = [];
  const newDbName = () => {
    if (!peer) throw new Error('mongo peer not started');
    const name = `${peer.dbName}_${++n}`;
    used.push(name);
    return name;
  };
  return {
    name: 'mongodb',
    async setup() {
      peer = await startMongo();
    },
    async open() {
      if (!peer) throw new Error('mongo peer not started');
      dbName = newDbName();
      const store = new MongoStore(peer.uri, { dbName });
      await store.init();
      return store;
    },
    async reopen() {
      if (!peer) throw new Error('mongo peer not started');
      const store = new MongoStore(peer.uri, { dbName });
      await store.init();
      return store;
    },
    async teardown() {
      if (!peer) return;
      // A real server keeps databases: drop the per-test ones (jongodb forgets them on exit).
      if (process.env.MONGODB_URI) await dropDatabases(peer.uri, used.splice(0));
      await peer.stop();
      peer = null;
    },
    peer() {
      if (!peer) throw new Error('mongo peer not started');
      return peer;
    },
    lastDbName: () => dbName,
    newDbName,
  };
}

function embeddedFixture(): StoreFixture {
  let root = '';
  let dir = '';
  let n = 0;
  return {
    name: 'embedded',
    async setup() {
      root = await mkdtemp(join(tmpdir(), 'megaferry-store-'));
    },
    async open() {
      dir = join(root, `store-${++n}`);
      const store = new EmbeddedStore(dir);
      await store.init();
      return store;
    },
    async reopen() {
      const store = new EmbeddedStore(dir);
      await store.init();
      return store;
    },
    async teardown() {
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}

const mongo = mongoFixture();
const embedded = embeddedFixture();

const BUCKET = 'media-bucket';
const DEST = 'mega:ferry@example.com';
const BATCH = 'batch_a1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ref(key: string, over: Partial<TransferRef> = {}): TransferRef {
  return { bucket_name: BUCKET, remote_key: key, destination: DEST, s4_key: `/Archive/${key}`, ...over };
}

function seed(key: string, over: Partial<FileSeed> = {}): FileSeed {
  return { ...ref(key), code: `code-${key}`, size: 1024, etag: '"abc"', ...over };
}

function refOf(doc: TransferRef): TransferRef {
  return {
    bucket_name: doc.bucket_name,
    remote_key: doc.remote_key,
    destination: doc.destination,
    s4_key: doc.s4_key,
  };
}

/** Queues a transfer through the store's queueRule (batch_a1 unless told). */
function queue(
  store: MetadataStore,
  s: FileSeed,
  opts: Partial<{ batchId: string; force: boolean; newTransferId: string }> = {},
): Promise<QueueResult> {
  return store.applyFile(
    refOf(s),
    queueRule(s, { batchId: BATCH, force: false, newTransferId: 'tid-1', ...opts }),
  );
}

async function queued(store: MetadataStore, s: FileSeed, batchId = BATCH): Promise<FileDoc> {
  const r = await queue(store, s, { batchId });
  if (r.kind !== 'queued') throw new Error(`not queued: ${JSON.stringify(r)}`);
  return r.doc;
}

/** Queues a transfer and takes it for `owner`. */
async function queueAndClaim(store: MetadataStore, key: string, owner: string, leaseMs = 60_000) {
  await queued(store, seed(key));
  const held = await store.applyFile(ref(key), claimRule(owner, leaseMs));
  expect(held).not.toBeNull();
  return held!;
}

/** A document as it could be in the store (for setting up states the rules reach in many steps). */
function fileDoc(key: string, over: Partial<FileDoc> = {}): FileDoc {
  const now = new Date();
  return {
    ...ref(key),
    code: `code-${key}`,
    status: 'pending',
    status_updated_at: now,
    creation_date: now,
    modified_date: now,
    retry_count: 0,
    rev: 0,
    size: 1024,
    etag: '"abc"',
    transferred_bytes: 0,
    batch_id: BATCH,
    queued_at: now,
    transfer_id: `tid-${key}`,
    lease_owner: null,
    lease_expires_at: null,
    stop_request: null,
    ...over,
  };
}

/** Writes `doc` as it is (a rule that ignores the current document). */
function put(store: MetadataStore, doc: FileDoc): Promise<FileDoc> {
  const rule: FileRule<FileDoc> = () => ({ next: doc, result: doc });
  return store.applyFile(refOf(doc), rule);
}

function bitem(key: string, over: Partial<BatchItemDoc> = {}): BatchItemDoc {
  return {
    code: `code-${key}`,
    remote_key: key,
    s4_key: `/Archive/${key}`,
    start_result: 'started',
    ...over,
  };
}

function batch(id: string, createdAt: Date, over: Partial<BatchDoc> = {}): BatchDoc {
  return {
    batch_id: id,
    options: { bucket: BUCKET, target: '/Archive', max_concurrent: 3, force: false, keys: ['a', 'b'] },
    destination: DEST,
    files: [bitem('a'), bitem('b')],
    state: 'running',
    stop_request: null,
    rev: 0,
    created_at: createdAt,
    updated_at: createdAt,
    finished_at: null,
    ...over,
  };
}

const keyOf = (d: TransferRef) => `${d.bucket_name}|${d.remote_key}|${d.destination}|${d.s4_key}`;
const lostClaims = (store: MetadataStore) => (store instanceof StoreCore ? store.lostClaims : NaN);

describe.each([mongo, embedded])('MetadataStore conformance: $name', (fx: StoreFixture) => {
  let store: MetadataStore;

  beforeAll(() => fx.setup());
  afterAll(() => fx.teardown());
  beforeEach(async () => {
    store = await fx.open();
  });
  afterEach(async () => {
    await store.close();
  });

  it('reports its kind', () => {
    expect(store.kind).toBe(fx.name);
  });

  describe('transfers', () => {
    it('queues a transfer with seed B fields and reads it back whole, dates as dates', async () => {
      const before = Date.now();
      const doc = await queued(store, seed('movies/a.mp4'));
      expect(doc).not.toHaveProperty('_id');
      expect(doc).toMatchObject({
        code: 'code-movies/a.mp4',
        bucket_name: BUCKET,
        remote_key: 'movies/a.mp4',
        destination: DEST,
        s4_key: '/Archive/movies/a.mp4',
        status: 'pending',
        retry_count: 0,
        size: 1024,
        etag: '"abc"',
        batch_id: BATCH,
        transfer_id: 'tid-1',
        rev: 0,
      });
      for (const field of ['status_updated_at', 'creation_date', 'modified_date', 'queued_at'] as const) {
        const value = doc[field];
        expect(value, field).toBeInstanceOf(Date);
        expect(value!.getTime(), field).toBeGreaterThanOrEqual(before - 5);
        expect(value!.getTime(), field).toBeLessThanOrEqual(Date.now() + 5);
      }
      expect(await store.getFile(ref('movies/a.mp4'))).toEqual(doc);
      expect(await store.getFile(ref('movies/a.mp4', { s4_key: '/Elsewhere/movies/a.mp4' }))).toBeNull();
      expect(await store.getFile(ref('movies/a.mp4', { destination: 'mega:other@example.com' }))).toBeNull();
    });

    it('the same object to two destination paths, or to two destinations, is two transfers', async () => {
      const paths = [
        ref('x.bin', { s4_key: '/A/x.bin' }),
        ref('x.bin', { s4_key: '/B/x.bin' }),
        ref('x.bin', { s4_key: '/A/x.bin', destination: 's4:s4.example.com/backup' }),
        ref('x.bin', { s4_key: '/A/x.bin', destination: 'local:/srv/copies' }),
      ];
      for (const p of paths) await queued(store, { ...seed('x.bin'), ...p });
      expect((await store.listFiles({ limit: 100 })).files).toHaveLength(4);
      // each with its own status
      const held = await store.applyFile(paths[0]!, claimRule('w1', 60_000));
      expect(held?.status).toBe('processing');
      const others = await store.getFiles(paths.slice(1));
      expect(others.map((d) => d.status)).toEqual(['pending', 'pending', 'pending']);
      // the same place again is the same transfer
      expect((await queue(store, { ...seed('x.bin'), ...paths[1]! })).kind).toBe('queued');
      expect(await queue(store, { ...seed('x.bin'), ...paths[0]! }, { batchId: 'batch_b2' })).toEqual({
        kind: 'already_in_progress',
        batch_id: BATCH,
      });
      expect((await store.listFiles({ limit: 100 })).files).toHaveLength(4);
    });

    it('keeps one document per transfer when batches queue it at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => queue(store, seed('race'), { batchId: `batch_c${i}` })),
      );
      const winners = results.filter((r) => r.kind === 'queued');
      expect(winners).toHaveLength(1);
      const owner = (await store.getFile(ref('race')))!.batch_id;
      const w = winners[0];
      expect(w?.kind === 'queued' ? w.doc.batch_id : null).toBe(owner);
      for (const r of results.filter((x) => x.kind !== 'queued')) {
        expect(r).toEqual({ kind: 'already_in_progress', batch_id: owner });
      }
      // and as many documents as paths when they differ
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => queue(store, seed('race', { s4_key: `/P${i}/race` }))),
      );
      const all = await store.listFiles({ limit: 100 });
      expect(all.files.filter((d) => d.remote_key === 'race')).toHaveLength(9);
      expect(new Set(all.files.map(keyOf)).size).toBe(9);
    });

    it('returns what a rule wrote, with its revision, and +1 revision at every write', async () => {
      const q = await queued(store, seed('r'));
      expect(q.rev).toBe(0);
      const held = (await store.applyFile(ref('r'), claimRule('w', 60_000)))!;
      expect(held.rev).toBe(1);
      expect(await store.getFile(ref('r'))).toEqual(held);
      expect(await store.applyFile(ref('r'), renewRule('w', 60_000, 10))).toEqual({ held: true, stop: null });
      expect((await store.getFile(ref('r')))!.rev).toBe(2);
      // a rule that changes nothing writes nothing
      expect(await store.applyFile(ref('r'), claimRule('w2', 60_000))).toBeNull();
      expect((await store.getFile(ref('r')))!.rev).toBe(2);
      // the key is the ref's, whatever the rule computed
      const stray: FileRule<boolean> = (cur) => ({
        next: { ...cur!, s4_key: '/Somewhere/else', remote_key: 'other' },
        result: true,
      });
      await store.applyFile(ref('r'), stray);
      expect((await store.getFile(ref('r')))!.rev).toBe(3);
      expect(await store.getFile(ref('other', { s4_key: '/Somewhere/else' }))).toBeNull();
    });

    it('follows a transfer through its life: claim, progress, checkpoint, done, verify, forced again', async () => {
      const q = await queued(store, seed('life'));
      await sleep(5);
      const held = (await store.applyFile(ref('life'), claimRule('w', 60_000)))!;
      expect(held.status_updated_at.getTime()).toBeGreaterThan(q.status_updated_at.getTime());
      expect(await store.applyFile(ref('life'), renewRule('w', 120_000, 512))).toEqual({
        held: true,
        stop: null,
      });
      const session = {
        transfer_id: 'tid-1',
        size: 3 * 1024 * 1024,
        etag: '"abc"',
        next_offset: 1024 * 1024,
        state: { upload_url: 'http://x/upload/1', sealed_key: 'AAAA', macs: ['m1', 'm2'], n: 3, ok: true },
      };
      expect(await store.applyFile(ref('life'), patchHeldRule('w', { upload_session: session }))).toBe(true);
      const mid = (await store.getFile(ref('life')))!;
      expect(mid.upload_session).toEqual(session);
      expect(mid.transferred_bytes).toBe(512);
      expect(mid.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 100_000);
      expect(mid.status_updated_at.getTime()).toBe(held.status_updated_at.getTime());
      // only the holder
      expect(await store.applyFile(ref('life'), finishRule('intruder', { status: 'done' }))).toBeNull();
      const done = await store.applyFile(
        ref('life'),
        finishRule('w', { status: 'done', mega_handle: 'H-1', mega_link: 'https://mega.nz/file/H-1' }),
      );
      expect(done).toMatchObject({
        status: 'done',
        mega_handle: 'H-1',
        lease_owner: null,
        upload_session: null,
      });
      expect(await store.getFile(ref('life'))).toEqual(done);
      const verifiedAt = new Date(Date.now() - 1000);
      expect(
        await store.applyFile(
          ref('life'),
          verificationRule({ mega_handle: 'H-1', verify_result: 'mac_mismatch', verified_at: verifiedAt }),
        ),
      ).toBe(true);
      const verified = (await store.getFile(ref('life')))!;
      expect(verified.verified_at).toBeInstanceOf(Date);
      expect(verified.verified_at!.getTime()).toBe(verifiedAt.getTime());
      expect(verified.verify_result).toBe('mac_mismatch');
      // already done, unless forced
      expect((await queue(store, seed('life'), { batchId: 'batch_b2' })).kind).toBe('already_done');
      const forced = await queue(store, seed('life'), {
        batchId: 'batch_b2',
        force: true,
        newTransferId: 'tid-2',
      });
      expect(forced.kind).toBe('queued');
      const again = (await store.getFile(ref('life')))!;
      expect(again).toMatchObject({
        status: 'pending',
        batch_id: 'batch_b2',
        transfer_id: 'tid-2',
        replaces_handle: 'H-1',
        creation_date: q.creation_date,
      });
      expect(again.mega_handle ?? null).toBeNull();
      expect(again.verify_result ?? null).toBeNull();
      expect(again.verified_at ?? null).toBeNull();
    });

    it('a stop reaches the holder at its renewal; paused, resumed, cancelled', async () => {
      await queueAndClaim(store, 'st', 'w');
      expect(await store.applyFile(ref('st'), stopRule('batch_other', 'pause'))).toBe('not_ours');
      expect(await store.applyFile(ref('st'), stopRule(BATCH, 'pause'))).toBe('asked_holder');
      expect(await store.applyFile(ref('st'), renewRule('w', 60_000, 1))).toEqual({
        held: true,
        stop: 'pause',
      });
      expect((await store.applyFile(ref('st'), releaseRule('w', 'paused')))?.status).toBe('paused');
      expect(await store.applyFile(ref('st'), resumeRule('batch_other'))).toBe(false);
      expect(await store.applyFile(ref('st'), resumeRule(BATCH))).toBe(true);
      expect((await store.getFile(ref('st')))!.status).toBe('pending');
      expect(await store.applyFile(ref('st'), stopRule(BATCH, 'cancel'))).toBe('stopped');
      expect((await store.getFile(ref('st')))!).toMatchObject({
        status: 'cancelled',
        error_message: 'cancelled by the user',
      });
    });

    it('takes back a transfer whose lease expired; its old holder can no longer finish it', async () => {
      await queueAndClaim(store, 'stale', 'dead-worker', 1);
      await sleep(20);
      const back = await store.applyFile(
        ref('stale'),
        reclaimRule(() => false),
      );
      expect(back).toMatchObject({ status: 'pending', lease_owner: null, lease_expires_at: null });
      expect(await store.applyFile(ref('stale'), finishRule('dead-worker', { status: 'done' }))).toBeNull();
      expect(await store.applyFile(ref('stale'), renewRule('dead-worker', 1000, 5))).toEqual({ held: false });
      // a live lease is left alone unless its owner is dead
      await store.applyFile(ref('stale'), claimRule('w2', 60_000));
      expect(
        await store.applyFile(
          ref('stale'),
          reclaimRule(() => false),
        ),
      ).toBeNull();
      expect(
        (
          await store.applyFile(
            ref('stale'),
            reclaimRule((o) => o === 'w2'),
          )
        )?.status,
      ).toBe('pending');
    });

    it('records a transfer that could not start', async () => {
      const r = await store.applyFile(
        ref('missing'),
        failToStartRule(seed('missing'), BATCH, 's3_download_failed', 'object not found'),
      );
      expect(r.kind).toBe('failed');
      expect(await store.getFile(ref('missing'))).toMatchObject({
        status: 's3_download_failed',
        error_message: 'object not found',
        retry_count: 0,
        batch_id: BATCH,
      });
    });
  });

  describe('claims', () => {
    it('are exclusive: of 10 concurrent claims of one transfer exactly one wins', async () => {
      await queued(store, seed('hot'));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.applyFile(ref('hot'), claimRule(`worker-${i}`, 60_000))),
      );
      const winners = results.filter((r): r is FileDoc => r !== null);
      expect(winners).toHaveLength(1);
      const doc = (await store.getFile(ref('hot')))!;
      expect(doc).toEqual(winners[0]);
      expect(doc.status).toBe('processing');
      expect(doc.rev).toBe(1);
      expect(doc.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    });

    it('20 concurrent claimNext over 5 pending: each transfer claimed once, the losses counted', async () => {
      for (let i = 0; i < 5; i++) await queued(store, seed(`q${i}`));
      const lostBefore = lostClaims(store);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.claimNext({ destinations: [DEST] }, `w${i}`, 60_000)),
      );
      const docs = results.map((r) => r.doc).filter((d): d is FileDoc => d !== null);
      expect(docs).toHaveLength(5);
      expect(new Set(docs.map((d) => d.remote_key)).size).toBe(5);
      for (const d of docs) {
        expect((await store.getFile(d))!.lease_owner).toBe(d.lease_owner);
      }
      const lost = results.reduce((n, r) => n + r.lost, 0);
      expect(lost).toBeGreaterThan(0);
      expect(lostClaims(store) - lostBefore).toBe(lost);
      expect(await store.claimNext({ destinations: [DEST] }, 'late', 60_000)).toEqual({ doc: null, lost: 0 });
    });

    it('two stores on the same data never both claim a transfer', async () => {
      const other = await fx.reopen();
      try {
        for (let round = 0; round < 5; round++) {
          const keys = Array.from({ length: 8 }, (_, i) => `r${round}-s${i}`);
          for (const k of keys) await queued(store, seed(k));
          const results = await Promise.all(
            keys.flatMap((k) => [
              store.applyFile(ref(k), claimRule('proc-A', 60_000)),
              other.applyFile(ref(k), claimRule('proc-B', 60_000)),
            ]),
          );
          for (const [i, key] of keys.entries()) {
            const pair = [results[2 * i], results[2 * i + 1]].filter((r) => r !== null);
            expect(pair, key).toHaveLength(1);
            expect((await other.getFile(ref(key)))?.lease_owner).toBe(pair[0]?.lease_owner);
          }
        }
        // and through the queue
        for (let i = 0; i < 6; i++) await queued(store, seed(`n${i}`));
        const results: ClaimResult[] = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 ? other : store).claimNext({ destinations: [DEST] }, `p${i}`, 60_000),
          ),
        );
        const taken = results.flatMap((r) => (r.doc ? [r.doc.remote_key] : []));
        expect(taken.sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
        // what one queued the other sees as in progress
        expect(await queue(other, seed('n0'), { batchId: 'batch_b2' })).toEqual({
          kind: 'already_in_progress',
          batch_id: BATCH,
        });
      } finally {
        await other.close();
      }
    });

    /** Claims for `owner` until nothing in scope is left; the keys in the order taken. */
    async function claimAll(scope: ClaimScope, owner = 'w'): Promise<string[]> {
      const taken: string[] = [];
      for (;;) {
        const { doc } = await store.claimNext(scope, owner, 60_000);
        if (!doc) return taken;
        expect(doc).toMatchObject({
          status: 'processing',
          lease_owner: owner,
        });
        expect(scope.destinations).toContain(doc.destination);
        taken.push(doc.remote_key);
        expect(taken.length).toBeLessThan(100);
      }
    }

    it('claimNext takes from the head of the queue (oldest queued_at), within its destination', async () => {
      const t = Date.now() - 600_000;
      // Written out of order: the queue is by queued_at, not by insertion.
      const ranks = [7, 19, 0, 12, 3, 15, 9, 1, 18, 5, 11, 2, 16, 8, 14, 4, 17, 6, 13, 10];
      for (const r of ranks)
        await put(store, fileDoc(`q${String(r).padStart(2, '0')}`, { queued_at: new Date(t + r * 1000) }));
      await put(
        store,
        fileDoc('elsewhere', { queued_at: new Date(t - 1000), destination: 'mega:other@example.com' }),
      );
      await put(store, fileDoc('paused', { queued_at: new Date(t - 1000), status: 'paused' }));
      await put(store, fileDoc('failed', { queued_at: new Date(t - 1000), status: 'error' }));
      await put(
        store,
        fileDoc('held', { queued_at: new Date(t - 1000), status: 'processing', lease_owner: 'x' }),
      );
      const remaining = ranks.map((r) => `q${String(r).padStart(2, '0')}`).sort();
      for (;;) {
        const { doc } = await store.claimNext({ destinations: [DEST] }, 'w', 60_000);
        if (!doc) break;
        // Runners racing for the head spread over its first few (CLAIM_WINDOW, 8, in core.ts): never
        // a transfer with more than that many queued before it.
        const rank = remaining.indexOf(doc.remote_key);
        expect(rank, doc.remote_key).toBeGreaterThanOrEqual(0);
        expect(rank, doc.remote_key).toBeLessThan(8);
        remaining.splice(rank, 1);
      }
      expect(remaining).toEqual([]);
      expect(await claimAll({ destinations: ['mega:other@example.com'] })).toEqual(['elsewhere']);
      expect(await claimAll({ destinations: [] })).toEqual([]);
      expect(
        (await store.getFiles([ref('paused'), ref('failed'), ref('held')])).map((d) => d.status),
      ).toEqual(['paused', 'error', 'processing']);
      expect((await store.getFile(ref('held')))?.lease_owner).toBe('x');
    });

    it('claimNext over several destinations takes from each, oldest first, and from no other', async () => {
      const t = Date.now() - 600_000;
      const S4 = 's4:s3.eu-central-1.s4.mega.io/archive';
      const LOCAL = 'local:/srv/archive';
      await put(store, fileDoc('m1', { queued_at: new Date(t + 3000) }));
      await put(store, fileDoc('s1', { queued_at: new Date(t + 1000), destination: S4, s4_key: 's1' }));
      await put(store, fileDoc('s2', { queued_at: new Date(t + 4000), destination: S4, s4_key: 's2' }));
      await put(store, fileDoc('l1', { queued_at: new Date(t), destination: LOCAL, s4_key: 'l1' }));
      expect(await claimAll({ destinations: [DEST, S4] })).toEqual(['s1', 'm1', 's2']);
      expect(await claimAll({ destinations: [LOCAL] })).toEqual(['l1']);
    });

    it('claimNext honours batch_ids and exclude_batch_ids', async () => {
      for (const [i, b] of ['batch_x', 'batch_y', 'batch_z', 'batch_x', 'batch_y'].entries()) {
        await put(store, fileDoc(`k${i}`, { batch_id: b }));
      }
      const scope = { destinations: [DEST] };
      expect(await claimAll({ ...scope, batch_ids: [] })).toEqual([]);
      expect(await claimAll({ ...scope, batch_ids: ['batch_none'] })).toEqual([]);
      expect(await claimAll({ ...scope, exclude_batch_ids: ['batch_x', 'batch_y', 'batch_z'] })).toEqual([]);
      expect(await claimAll({ ...scope, exclude_batch_ids: ['batch_x', 'batch_y'] })).toEqual(['k2']);
      expect(
        (
          await claimAll({ ...scope, batch_ids: ['batch_x', 'batch_y'], exclude_batch_ids: ['batch_y'] })
        ).sort(),
      ).toEqual(['k0', 'k3']);
      expect((await claimAll({ ...scope, exclude_batch_ids: [] })).sort()).toEqual(['k1', 'k4']);
      expect(await claimAll(scope)).toEqual([]);
    });

    it('a pending transfer of no batch (0.1 data) is claimed whatever batches a scope excludes', async () => {
      await put(store, fileDoc('orphan', { batch_id: null }));
      const scope = { destinations: [DEST], exclude_batch_ids: ['batch_busy'] };
      expect((await store.claimNext(scope, 'w', 60_000)).doc?.remote_key).toBe('orphan');
    });
  });

  describe('compare-and-set', () => {
    it('loses no update: 20 concurrent increments all land', async () => {
      await queued(store, seed('count'));
      const bump: FileRule<number> = (cur) =>
        cur
          ? { next: { ...cur, retry_count: cur.retry_count + 1 }, result: cur.retry_count + 1 }
          : { next: null, result: -1 };
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.applyFile(ref('count'), bump)),
      );
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const doc = (await store.getFile(ref('count')))!;
      expect(doc.retry_count).toBe(20);
      expect(doc.rev).toBe(20);
    });

    it('a lease renewal and a stop request at once both land (two stores)', async () => {
      const other = await fx.reopen();
      try {
        const keys = Array.from({ length: 10 }, (_, i) => `cas${i}`);
        for (const k of keys) await queueAndClaim(store, k, 'holder');
        const results = await Promise.all(
          keys.flatMap((k, i) => [
            store.applyFile(ref(k), renewRule('holder', 90_000, 1000 + i)),
            other.applyFile(ref(k), stopRule(BATCH, i % 2 ? 'pause' : 'cancel')),
          ]),
        );
        expect(results.filter((r) => r === 'asked_holder')).toHaveLength(10);
        for (const [i, k] of keys.entries()) {
          const doc = (await store.getFile(ref(k)))!;
          expect(doc, k).toMatchObject({
            status: 'processing',
            lease_owner: 'holder',
            transferred_bytes: 1000 + i,
            stop_request: i % 2 ? 'pause' : 'cancel',
            rev: 3,
          });
          expect(doc.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 80_000);
        }
      } finally {
        await other.close();
      }
    });
  });

  describe('process heartbeats', () => {
    const beat = (id: string, lastSeen: Date, over: Partial<ProcessDoc> = {}): ProcessDoc => ({
      id,
      name: `name-${id}`,
      kind: 'worker',
      host: 'h',
      pid: 42,
      version: '1.0.0',
      destination: 'mega:a@b',
      capacity: 4,
      started_at: new Date(lastSeen.getTime() - 60_000),
      last_seen: lastSeen,
      stopped_at: null,
      active: 2,
      bytes_per_s: 1234,
      moved: 7,
      ...over,
    });

    it('records a heartbeat, replaces it at the next one, lists every process whole, dates as dates', async () => {
      const t = new Date(Date.now() - 1000);
      await store.recordProcess(beat('h:1:a', t));
      await store.recordProcess(beat('h:2:b', t, { kind: 'desktop', active: 0 }));
      const later = new Date(t.getTime() + 1000);
      await store.recordProcess(beat('h:1:a', later, { active: 3, stopped_at: later }));
      const list = await store.listProcesses();
      expect(list.map((p) => p.id)).toEqual(['h:1:a', 'h:2:b']);
      expect(list[0]).toEqual(beat('h:1:a', later, { active: 3, stopped_at: later }));
      expect(list[0]?.last_seen).toBeInstanceOf(Date);
      expect(list[1]?.kind).toBe('desktop');
      expect(list[0]).not.toHaveProperty('_id');
    });

    it('forgets processes last seen before a time, and only those', async () => {
      const now = Date.now();
      await store.recordProcess(beat('old', new Date(now - 48 * 3600_000)));
      await store.recordProcess(beat('new', new Date(now)));
      expect(await store.pruneProcesses(new Date(now - 24 * 3600_000))).toBe(1);
      expect((await store.listProcesses()).map((p) => p.id)).toEqual(['new']);
    });
  });

  describe('findOpen and findProcessing', () => {
    it('find the open transfers of the batches asked, and every processing one', async () => {
      const statuses: FileStatus[] = ['pending', 'processing', 'paused', 'done', 'error', 'cancelled'];
      for (const b of ['batch_x', 'batch_y']) {
        for (const s of statuses) {
          await put(
            store,
            fileDoc(`${b}-${s}`, {
              batch_id: b,
              status: s,
              lease_owner: s === 'processing' ? 'w' : null,
              lease_expires_at: s === 'processing' ? new Date(Date.now() + 60_000) : null,
            }),
          );
        }
      }
      await put(store, fileDoc('loose', { batch_id: null, status: 'processing', lease_owner: 'old' }));
      const names = (docs: FileDoc[]) => docs.map((d) => d.remote_key).sort();
      expect(names(await store.findOpen(['batch_x']))).toEqual([
        'batch_x-paused',
        'batch_x-pending',
        'batch_x-processing',
      ]);
      expect(names(await store.findOpen(['batch_x', 'batch_y', 'batch_none']))).toHaveLength(6);
      expect(await store.findOpen([])).toEqual([]);
      expect(await store.findOpen(['batch_none'])).toEqual([]);
      // Which batches have anything open, without reading their documents.
      await put(store, fileDoc('closed-done', { batch_id: 'batch_closed', status: 'done' }));
      expect((await store.openBatches(['batch_y', 'batch_x', 'batch_closed', 'batch_none'])).sort()).toEqual([
        'batch_x',
        'batch_y',
      ]);
      expect(await store.openBatches([])).toEqual([]);
      const processing = await store.findProcessing();
      expect(names(processing)).toEqual(['batch_x-processing', 'batch_y-processing', 'loose']);
      for (const d of processing) expect(d).not.toHaveProperty('_id');
    });

    it('getFiles returns the documents found, in the order asked, once each', async () => {
      await queued(store, seed('x'));
      await queued(store, seed('y'));
      await queued(store, seed('z', { bucket_name: 'b2' }));
      await queued(store, seed('y', { s4_key: '/Other/y' }));
      const docs = await store.getFiles([
        ref('y'),
        ref('missing'),
        ref('x'),
        ref('z', { bucket_name: 'b2' }),
        ref('y'),
        ref('z'),
        ref('y', { s4_key: '/Other/y' }),
        ref('y', { destination: 'mega:other@example.com' }),
      ]);
      expect(docs.map((d) => `${d.bucket_name}/${d.s4_key}`)).toEqual([
        `${BUCKET}//Archive/y`,
        `${BUCKET}//Archive/x`,
        'b2//Archive/z',
        `${BUCKET}//Other/y`,
      ]);
      expect(await store.getFiles([])).toEqual([]);
      expect(docs[0]).not.toHaveProperty('_id');
    });
  });

  describe('listFiles', () => {
    /**
     * 48 transfers over 3 creation dates, 16 at each differing in every part of the key; the newest
     * keys sort last, so the date must come first.
     */
    async function fillGrid(): Promise<FileDoc[]> {
      const base = Date.now() - 3_600_000;
      const docs: FileDoc[] = [];
      for (const [n, prefix] of ['a', 'm', 'z'].entries()) {
        const t = base + n * 1000;
        for (const bucket of ['bucket-a', 'bucket-b']) {
          for (const key of [`${prefix}1`, `${prefix}2`]) {
            for (const dest of ['mega:a@example.com', 's4:host/b']) {
              for (const s4 of ['/P/1', '/P/2']) {
                docs.push(
                  await put(
                    store,
                    fileDoc(key, {
                      bucket_name: bucket,
                      destination: dest,
                      s4_key: s4,
                      creation_date: new Date(t),
                      code: `c-${t}-${bucket}-${key}-${dest}-${s4}`,
                    }),
                  ),
                );
              }
            }
          }
        }
      }
      return docs;
    }

    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const listingOrder = (a: FileDoc, b: FileDoc) =>
      b.creation_date.getTime() - a.creation_date.getTime() ||
      cmp(a.bucket_name, b.bucket_name) ||
      cmp(a.remote_key, b.remote_key) ||
      cmp(a.destination, b.destination) ||
      cmp(a.s4_key, b.s4_key);

    async function pageAll(query: { status?: FileStatus; q?: string; limit: number }): Promise<FileDoc[]> {
      const seen: FileDoc[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listFiles({ ...query, cursor });
        expect(page.files.length).toBeLessThanOrEqual(query.limit);
        if (page.next_cursor) expect(page.files).toHaveLength(query.limit);
        seen.push(...page.files);
        cursor = page.next_cursor ?? undefined;
        expect(++pages).toBeLessThan(200);
      } while (cursor);
      return seen;
    }

    it('pages newest first through every document exactly once, ties broken by the whole key', async () => {
      const docs = await fillGrid();
      const expected = [...docs].sort(listingOrder).map(keyOf);
      expect(new Set(expected).size).toBe(48);
      for (const limit of [1, 5, 7, 16, 48, 100]) {
        const seen = await pageAll({ limit });
        expect(seen.map(keyOf), `limit ${limit}`).toEqual(expected);
      }
      const first = await store.listFiles({ limit: 5 });
      expect(first.files.map(keyOf)).toEqual(expected.slice(0, 5));
      for (const d of first.files) {
        expect(d).not.toHaveProperty('_id');
        expect(d.creation_date).toBeInstanceOf(Date);
      }
    });

    it('a limit that divides the total ends with next_cursor null, not an empty page', async () => {
      for (const k of ['a', 'b', 'c', 'd']) await queued(store, seed(k));
      const p1 = await store.listFiles({ limit: 2 });
      expect(p1.next_cursor).not.toBeNull();
      const p2 = await store.listFiles({ limit: 2, cursor: p1.next_cursor! });
      expect(p2.files).toHaveLength(2);
      expect(p2.next_cursor).toBeNull();
      expect((await store.listFiles({ limit: 10 })).next_cursor).toBeNull();
      expect(await store.listFiles({ limit: 10, status: 'done' })).toEqual({ files: [], next_cursor: null });
    });

    it('filters by status and by a case-insensitive substring of code, remote_key or s4_key', async () => {
      for (let i = 0; i < 23; i++) {
        const key = `Folder/Clip_${String(i).padStart(2, '0')}.MP4`;
        const bucket = i % 3 === 0 ? 'zz-bucket' : BUCKET;
        const s = seed(key, {
          bucket_name: bucket,
          code: i === 7 ? 'SPECIAL-Code' : `c${i}`,
          s4_key: `/Dest/${i}/v.mp4`,
        });
        await queued(store, s);
        if (i % 4 === 0) await store.applyFile(refOf(s), failToStartRule(s, BATCH, 'error', 'x'));
        if (i % 5 === 0) await sleep(2); // some creation dates equal, some not
      }
      const errors = await store.listFiles({ status: 'error', limit: 100 });
      expect(errors.files.map((d) => d.remote_key).sort()).toEqual(
        [0, 4, 8, 12, 16, 20].map((i) => `Folder/Clip_${String(i).padStart(2, '0')}.MP4`),
      );
      expect(errors.files.every((d) => d.status === 'error')).toBe(true);

      const byCode = await store.listFiles({ q: 'special-CODE', limit: 100 });
      expect(byCode.files.map((d) => d.code)).toEqual(['SPECIAL-Code']);
      expect((await store.listFiles({ q: 'clip_1', limit: 100 })).files).toHaveLength(10);
      const byS4 = await store.listFiles({ q: '/dest/22/', limit: 100 });
      expect(byS4.files.map((d) => d.remote_key)).toEqual(['Folder/Clip_22.MP4']);
      // pattern characters of either store are taken literally
      expect((await store.listFiles({ q: 'clip_.*', limit: 100 })).files).toHaveLength(0);
      expect((await store.listFiles({ q: 'clip%', limit: 100 })).files).toHaveLength(0);
      expect((await store.listFiles({ q: 'c_ip', limit: 100 })).files).toHaveLength(0);
      expect((await store.listFiles({ q: '\\', limit: 100 })).files).toHaveLength(0);
      expect((await store.listFiles({ q: '.mp4', limit: 100 })).files).toHaveLength(23);
      // the destination is no part of the search
      expect((await store.listFiles({ q: 'ferry@example', limit: 100 })).files).toHaveLength(0);

      // filters and paging together
      const seen = await pageAll({ status: 'pending', q: 'CLIP_1', limit: 3 });
      expect(seen.map((d) => d.remote_key).sort()).toEqual(
        [10, 11, 13, 14, 15, 17, 18, 19].map((i) => `Folder/Clip_${i}.MP4`),
      );
    });

    it('matches literal %, _ and \\ in keys', async () => {
      for (const key of ['50%_off.jpg', '50pct-off.jpg', 'a\\b.jpg', 'ab.jpg'])
        await queued(store, seed(key));
      const names = async (q: string) =>
        (await store.listFiles({ q, limit: 100 })).files.map((d) => d.remote_key).sort();
      expect(await names('50%_')).toEqual(['50%_off.jpg']);
      expect(await names('a\\b')).toEqual(['a\\b.jpg']);
    });

    it('refuses a cursor it did not make', async () => {
      const cursors = [
        'not-a-cursor',
        // the listing cursor of the previous model: 3 parts
        Buffer.from(JSON.stringify([Date.now(), BUCKET, 'k'])).toString('base64url'),
        Buffer.from(JSON.stringify([Date.now(), BUCKET, 'k', DEST, 5])).toString('base64url'),
        Buffer.from(JSON.stringify([1e300, BUCKET, 'k', DEST, '/x'])).toString('base64url'),
        Buffer.from(JSON.stringify({ at: 1, bucket_name: BUCKET })).toString('base64url'),
      ];
      for (const cursor of cursors) {
        await expect(store.listFiles({ limit: 5, cursor }), cursor).rejects.toThrow(/cursor/);
      }
    });
  });

  describe('batches', () => {
    it('inserts, gets and lists newest first', async () => {
      const t0 = new Date('2024-05-01T10:00:00Z');
      const at = new Date('2024-05-01T10:05:00Z');
      const old = batch('batch_old', t0, {
        files: [
          bitem('a', {
            outcome: {
              status: 'done',
              size: 5,
              transferred_bytes: 5,
              retry_count: 1,
              error_message: null,
              mega_link: 'https://mega.nz/file/A',
              at,
            },
          }),
          bitem('b', { start_result: 'already_in_progress', in_batch: 'batch_q', reason: null }),
        ],
        rev: 9, // insertBatch starts every batch at revision 0
      });
      await store.insertBatch(old);
      await store.insertBatch(batch('batch_mid', new Date(t0.getTime() + 1000), { state: 'finished' }));
      await store.insertBatch(batch('batch_new', new Date(t0.getTime() + 2000)));

      const got = (await store.getBatch('batch_old'))!;
      expect(got).toEqual({ ...old, rev: 0 });
      expect(got.created_at).toBeInstanceOf(Date);
      expect(got.files[0]!.outcome!.at).toBeInstanceOf(Date);
      expect(got).not.toHaveProperty('_id');
      expect(await store.getBatch('batch_unknown')).toBeNull();

      expect((await store.listBatches({})).map((b) => b.batch_id)).toEqual([
        'batch_new',
        'batch_mid',
        'batch_old',
      ]);
      expect((await store.listBatches({ limit: 2 })).map((b) => b.batch_id)).toEqual([
        'batch_new',
        'batch_mid',
      ]);
      expect((await store.listBatches({ state: 'running' })).map((b) => b.batch_id)).toEqual([
        'batch_new',
        'batch_old',
      ]);
      expect((await store.listBatches({ state: 'cancelled' })).map((b) => b.batch_id)).toEqual([]);
    });

    it('refuses a second batch with the same id; a rule on an unknown batch creates nothing', async () => {
      await store.insertBatch(batch('batch_dup', new Date()));
      await expect(store.insertBatch(batch('batch_dup', new Date(), { state: 'finished' }))).rejects.toThrow(
        /batch_dup/,
      );
      expect(await store.listBatches({})).toHaveLength(1);
      expect((await store.getBatch('batch_dup'))!.state).toBe('running');
      expect(await store.applyBatch('batch_nope', cancelBatchRule())).toBe('missing');
      expect(await store.getBatch('batch_nope')).toBeNull();
    });

    it('applies batch rules with compare-and-set: concurrent outcomes all land', async () => {
      const keys = Array.from({ length: 10 }, (_, i) => `o${i}`);
      await store.insertBatch(batch(BATCH, new Date(), { files: keys.map((k) => bitem(k)) }));
      const docs = keys.map((k) => fileDoc(k, { status: 'done', size: 7, mega_link: `L-${k}` }));
      const results = await Promise.all(docs.map((d) => store.applyBatch(BATCH, recordOutcomeRule(d))));
      expect(results).toEqual(keys.map(() => true));
      const b = (await store.getBatch(BATCH))!;
      expect(b.rev).toBe(10);
      expect(b.files.map((i) => i.outcome?.mega_link)).toEqual(keys.map((k) => `L-${k}`));
      // recorded once
      expect(await store.applyBatch(BATCH, recordOutcomeRule({ ...docs[0]!, status: 'error' }))).toBe(false);
      expect((await store.getBatch(BATCH))!.rev).toBe(10);
    });

    it('a batch ends by the store’s word, whichever store moved its files; a cancel at once is kept', async () => {
      const other = await fx.reopen();
      try {
        await store.insertBatch(batch(BATCH, new Date(), { files: [bitem('a'), bitem('b')] }));
        await queueAndClaim(store, 'a', 'w');
        await queued(store, seed('b'));
        const docsNow = () => store.getFiles([ref('a'), ref('b')]);
        expect(await store.applyBatch(BATCH, endBatchRule(await docsNow()))).toEqual({
          ended: false,
          open: 2,
        });
        await store.applyFile(ref('a'), finishRule('w', { status: 'done', mega_link: 'L-a' }));
        await other.applyFile(ref('b'), stopRule(BATCH, 'cancel'));
        expect(await store.findOpen([BATCH])).toEqual([]);
        const [ended, cancel] = await Promise.all([
          store.applyBatch(BATCH, endBatchRule(await docsNow())),
          other.applyBatch(BATCH, cancelBatchRule()),
        ]);
        expect(ended.ended).toBe(true);
        const b = (await other.getBatch(BATCH))!;
        // either the cancel came first (the batch ends cancelled) or the end did (the cancel finds it ended)
        expect(b.state).toBe(cancel === 'asked' ? 'cancelled' : 'finished');
        expect(cancel === 'asked' || cancel === 'ended').toBe(true);
        expect(b.finished_at).toBeInstanceOf(Date);
        expect(b.files.map((i) => i.outcome?.status)).toEqual(['done', 'cancelled']);
        expect(b.files[0]!.outcome!.mega_link).toBe('L-a');
      } finally {
        await other.close();
      }
    });
  });

  it('keeps its documents across close and reopen', async () => {
    await queued(store, seed('keep'));
    await queueAndClaim(store, 'kept-held', 'w');
    await store.applyFile(ref('kept-held'), finishRule('w', { status: 'done', mega_handle: 'HK' }));
    await queued(store, seed('keep', { s4_key: '/Other/keep' }));
    await store.insertBatch(batch('batch_keep', new Date('2024-01-01T00:00:00Z')));
    const before = await store.listFiles({ limit: 100 });
    const batchBefore = await store.getBatch('batch_keep');
    await store.close();
    store = await fx.reopen();
    const after = await store.listFiles({ limit: 100 });
    expect(after).toEqual(before);
    expect(after.files).toHaveLength(3);
    expect(after.files[0]!.creation_date).toBeInstanceOf(Date);
    expect(await store.getBatch('batch_keep')).toEqual(batchBefore);
    // the unique key still holds after a reopen, and revisions go on
    expect((await queue(store, seed('keep'), { batchId: 'batch_b2' })).kind).toBe('already_in_progress');
    expect((await store.listFiles({ limit: 100 })).files).toHaveLength(3);
    const held = await store.applyFile(ref('keep'), claimRule('w2', 60_000));
    expect(held?.rev).toBe(1);
  });
});

describe('MongoStore specifics', () => {
  let store: MongoStore;
  let client: MongoClient;

  beforeAll(async () => {
    await mongo.setup();
    client = new MongoClient(mongo.peer().uri, { serverSelectionTimeoutMS: 5000 });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await mongo.teardown();
  });
  beforeEach(async () => {
    store = (await mongo.open()) as MongoStore;
  });
  afterEach(async () => {
    await store.close();
  });

  it('writes seed B field names and BSON types (read back with a raw client)', async () => {
    await queueAndClaim(store, 'raw.bin', 'w');
    await store.applyFile(
      ref('raw.bin'),
      finishRule('w', { status: 'error', error_message: 'bad', count_failure: true }),
    );
    const files = client.db(mongo.lastDbName()).collection('files');
    const raw = await files.findOne({ bucket_name: BUCKET, remote_key: 'raw.bin' });
    expect(raw).not.toBeNull();
    for (const f of [
      'code',
      'bucket_name',
      'remote_key',
      'destination',
      's4_key',
      'status',
      'error_message',
    ]) {
      expect(typeof raw![f], f).toBe('string');
    }
    for (const f of ['status_updated_at', 'creation_date', 'modified_date']) {
      expect(raw![f], f).toBeInstanceOf(Date);
    }
    expect(raw!.retry_count).toBe(1);
    const typed = await files.countDocuments({
      remote_key: 'raw.bin',
      creation_date: { $type: 'date' },
      modified_date: { $type: 'date' },
      status_updated_at: { $type: 'date' },
      queued_at: { $type: 'date' },
      retry_count: { $type: 'int' },
      rev: { $type: 'int' },
    });
    expect(typed).toBe(1);
    expect(new Set(Object.keys(raw!))).toEqual(
      new Set([
        '_id',
        'code',
        'bucket_name',
        'remote_key',
        'destination',
        's4_key',
        'status',
        'status_updated_at',
        'creation_date',
        'modified_date',
        'retry_count',
        'error_message',
        'rev',
        'size',
        'etag',
        'transferred_bytes',
        'batch_id',
        'queued_at',
        'transfer_id',
        'lease_owner',
        'lease_expires_at',
        'stop_request',
        'claims',
      ]),
    );
    // the batch too: dates as dates
    await store.insertBatch(batch('batch_raw', new Date()));
    const rawBatch = await client
      .db(mongo.lastDbName())
      .collection('batches')
      .findOne({ batch_id: 'batch_raw' });
    expect(rawBatch?.created_at).toBeInstanceOf(Date);
    expect(rawBatch?.destination).toBe(DEST);
  });

  it('creates the indexes, and the unique one holds against raw inserts', async () => {
    const db = client.db(mongo.lastDbName());
    const fileIndexes = await db.collection('files').listIndexes().toArray();
    const unique = fileIndexes.find((i) => i.name === 'transfer_unique');
    expect(unique?.unique).toBe(true);
    expect(unique?.key).toEqual({ bucket_name: 1, remote_key: 1, destination: 1, s4_key: 1 });
    // no other unique index on files (the _id index aside)
    expect(fileIndexes.filter((i) => i.unique && i.name !== '_id_').map((i) => i.name)).toEqual([
      'transfer_unique',
    ]);
    const firstFields = fileIndexes.map((i) => Object.keys(i.key as Document)[0]);
    expect(firstFields).toContain('status');
    expect(firstFields).toContain('batch_id');
    const batchIndexes = await db.collection('batches').listIndexes().toArray();
    expect(batchIndexes.find((i) => JSON.stringify(i.key) === JSON.stringify({ batch_id: 1 }))?.unique).toBe(
      true,
    );

    await queued(store, seed('uniq'));
    await expect(db.collection('files').insertOne({ ...ref('uniq') })).rejects.toThrow(
      /duplicate key|E11000/,
    );
    // another path or destination of the same object is another transfer
    await db.collection('files').insertOne({ ...ref('uniq', { s4_key: '/Other/uniq' }) });
    await db.collection('files').insertOne({ ...ref('uniq', { destination: 'local:/srv' }) });
    expect(await db.collection('files').countDocuments({ remote_key: 'uniq' })).toBe(3);
    await store.insertBatch(batch('batch_u', new Date()));
    await expect(db.collection('batches').insertOne({ batch_id: 'batch_u' })).rejects.toThrow(
      /duplicate key|E11000/,
    );
  });

  it('fails fast on an unreachable server, naming the host and never the password', async () => {
    const started = Date.now();
    const uri = 'mongodb://ferry:Sup3r-S3cret@127.0.0.1:1/megaferry?authSource=admin';
    const unreachable = new MongoStore(uri, { serverSelectionTimeoutMS: 800 });
    const err = await unreachable.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('127.0.0.1:1');
    expect(message).not.toContain('Sup3r-S3cret');
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('Sup3r-S3cret');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('takes the database name from the URI path, default megaferry', async () => {
    const peer = mongo.peer();
    const named = new MongoStore(peer.uri);
    expect(named.describe()).toMatch(new RegExp(`/${peer.dbName}$`));
    const bare = new MongoStore(peer.uri.replace(/\/[^/?]*(\?|$)/, '$1'));
    expect(bare.describe()).toMatch(/\/megaferry$/);
    // and it is the database written to
    const viaUri = new MongoStore(peer.uri.replace(`/${peer.dbName}`, `/${peer.dbName}_path`));
    await viaUri.init();
    try {
      await queued(viaUri, seed('in-path'));
      const raw = await client
        .db(`${peer.dbName}_path`)
        .collection('files')
        .findOne({ remote_key: 'in-path' });
      expect(raw?.status).toBe('pending');
    } finally {
      await viaUri.close();
      // a real server keeps it (jongodb forgets it on exit)
      if (process.env.MONGODB_URI) await dropDatabases(peer.uri, [`${peer.dbName}_path`]);
    }
  });

  describe('upgrade of 0.1 data', () => {
    const LEGACY_DEST = 'mega:old@example.com';
    const BUCKET01 = 'media';
    const t = (m: number) => new Date(Date.UTC(2025, 5, 1, 12, m));
    /** A document as 0.1 wrote it: one per source object, no destination, no revision. */
    const legacyFile = (key: string, s4: string, over: Document = {}): Document => ({
      code: `code-${key}`,
      bucket_name: BUCKET01,
      remote_key: key,
      s4_key: s4,
      status: 'pending',
      status_updated_at: t(1),
      creation_date: t(0),
      modified_date: t(2),
      retry_count: 0,
      size: 1000,
      etag: '"e"',
      transferred_bytes: 0,
      transfer_id: `tid-${key}`,
      lease_owner: null,
      lease_expires_at: null,
      ...over,
    });
    const legacyFiles = (): Document[] => [
      legacyFile('a.jpg', '/Archive/a.jpg', {
        status: 'done',
        last_batch_id: 'batch_old',
        transferred_bytes: 1000,
        mega_handle: 'H-A',
        mega_link: 'https://mega.nz/file/H-A',
        retry_count: 1,
      }),
      legacyFile('b.jpg', '/Archive/b.jpg', {
        status: 's4_upload_failed',
        last_batch_id: 'batch_old',
        retry_count: 2,
        error_message: 'quota',
        transferred_bytes: 300,
      }),
      legacyFile('c.jpg', '/Photos/c.jpg', { last_batch_id: 'batch_run' }),
      legacyFile('d.jpg', '/Photos/d.jpg', {
        status: 'processing',
        last_batch_id: 'batch_run',
        lease_owner: 'host:1:x',
        lease_expires_at: t(30),
      }),
      legacyFile('e.jpg', '/e.jpg', { status: 'done', mega_handle: 'H-E' }),
    ];
    const legacyBatches = (): Document[] => [
      {
        batch_id: 'batch_old',
        options: {
          bucket: BUCKET01,
          target: '/Archive',
          max_concurrent: 3,
          force: false,
          keys: ['a.jpg', 'b.jpg', 'x.jpg', 'z.jpg'],
        },
        files: [
          { bucket_name: BUCKET01, remote_key: 'a.jpg', code: 'code-a.jpg', start_result: 'started' },
          { bucket_name: BUCKET01, remote_key: 'b.jpg', code: 'code-b.jpg', start_result: 'started' },
          {
            bucket_name: BUCKET01,
            remote_key: 'x.jpg',
            code: 'code-x.jpg',
            start_result: 'failed_to_start',
            reason: 'object not found',
          },
          {
            bucket_name: BUCKET01,
            remote_key: 'z.jpg',
            code: 'code-z.jpg',
            start_result: 'in_flight',
            in_batch: 'batch_other',
          },
        ],
        state: 'finished',
        created_at: t(0),
        updated_at: t(9),
        finished_at: t(8),
      },
      {
        batch_id: 'batch_run',
        options: {
          bucket: BUCKET01,
          target: '/Photos',
          max_concurrent: 2,
          force: false,
          keys: ['c.jpg', 'd.jpg'],
        },
        files: [
          { bucket_name: BUCKET01, remote_key: 'c.jpg', code: 'code-c.jpg', start_result: 'started' },
          { bucket_name: BUCKET01, remote_key: 'd.jpg', code: 'code-d.jpg', start_result: 'started' },
        ],
        state: 'running',
        created_at: t(10),
        updated_at: t(10),
      },
    ];

    /** 0.1's documents and indexes (its unique index on the source object, named by default). */
    // jongodb (the offline MongoDB peer) has no dropIndexes command: the documents' upgrade is
    // tested without 0.1's unique index, the index itself in a test of its own.
    async function seedLegacy(db: Db, files = legacyFiles(), legacyIndex = false): Promise<void> {
      if (legacyIndex) {
        await db.collection('files').createIndex({ bucket_name: 1, remote_key: 1 }, { unique: true });
      }
      await db.collection('files').createIndex({ status: 1 });
      await db.collection('files').insertMany(files);
      await db.collection('batches').createIndex({ batch_id: 1 }, { unique: true });
      await db.collection('batches').insertMany(legacyBatches());
    }

    const openUpgraded = async (dbName: string) => {
      const s = new MongoStore(mongo.peer().uri, { dbName, legacyDestination: LEGACY_DEST });
      await s.init();
      return s;
    };

    /** Every document, as stored, in a stable order (for "nothing changed"). */
    async function snapshot(db: Db): Promise<{ files: Document[]; batches: Document[]; indexes: string[] }> {
      return {
        files: await db.collection('files').find().sort({ remote_key: 1, s4_key: 1 }).toArray(),
        batches: await db.collection('batches').find().sort({ batch_id: 1 }).toArray(),
        indexes: (await db.collection('files').listIndexes().toArray()).map((i) => String(i.name)).sort(),
      };
    }

    async function expectUpgraded(db: Db): Promise<void> {
      const before = new Map(legacyFiles().map((f) => [f.remote_key as string, f]));
      const files = await db.collection('files').find().toArray();
      // nothing lost, nothing doubled
      expect(files.map((f) => f.remote_key as string).sort()).toEqual([...before.keys()].sort());
      for (const f of files) {
        const prev = before.get(f.remote_key as string)!;
        const { last_batch_id, ...kept } = prev;
        expect(f, f.remote_key as string).toMatchObject({
          ...kept,
          destination: LEGACY_DEST,
          rev: 0,
          batch_id: last_batch_id ?? null,
        });
        expect(f, f.remote_key as string).not.toHaveProperty('last_batch_id');
      }
      const c = files.find((f) => f.remote_key === 'c.jpg')!;
      expect(c.queued_at).toEqual(t(2)); // a pending 0.1 transfer keeps its place in the queue

      const batches = new Map(
        (await db.collection('batches').find().toArray()).map((b) => [b.batch_id as string, b]),
      );
      expect([...batches.keys()].sort()).toEqual(['batch_old', 'batch_run']);
      const old = batches.get('batch_old')!;
      expect(old).toMatchObject({
        destination: LEGACY_DEST,
        rev: 0,
        state: 'finished',
        created_at: t(0),
        finished_at: t(8),
        options: legacyBatches()[0]!.options as Document,
      });
      const items = old.files as BatchItemDoc[];
      expect(items.map((i) => [i.remote_key, i.s4_key, i.start_result])).toEqual([
        ['a.jpg', '/Archive/a.jpg', 'started'],
        ['b.jpg', '/Archive/b.jpg', 'started'],
        ['x.jpg', '/Archive/x.jpg', 'failed_to_start'],
        ['z.jpg', '/Archive/z.jpg', 'already_in_progress'],
      ]);
      expect(items[0]!.outcome).toEqual({
        status: 'done',
        size: 1000,
        transferred_bytes: 1000,
        retry_count: 1,
        error_message: null,
        mega_link: 'https://mega.nz/file/H-A',
        at: t(8),
      });
      expect(items[1]!.outcome).toMatchObject({
        status: 's4_upload_failed',
        retry_count: 2,
        error_message: 'quota',
        transferred_bytes: 300,
      });
      expect(items[2]).toMatchObject({ reason: 'object not found', outcome: null });
      expect(items[3]).toMatchObject({ in_batch: 'batch_other', outcome: null });
      const run = batches.get('batch_run')!;
      expect(run).toMatchObject({ destination: LEGACY_DEST, rev: 0, state: 'running' });
      expect((run.files as BatchItemDoc[]).map((i) => [i.s4_key, i.outcome ?? null])).toEqual([
        ['/Photos/c.jpg', null],
        ['/Photos/d.jpg', null],
      ]);
    }

    it('brings documents and batches to today’s model; two more starts at once change nothing', async () => {
      const dbName = mongo.newDbName();
      const db = client.db(dbName);
      await seedLegacy(db);
      const upgraded = await openUpgraded(dbName);
      try {
        await expectUpgraded(db);
        // the store works on the upgraded data
        const c = await upgraded.getFile({
          bucket_name: BUCKET01,
          remote_key: 'c.jpg',
          destination: LEGACY_DEST,
          s4_key: '/Photos/c.jpg',
        });
        expect(c).toMatchObject({ status: 'pending', batch_id: 'batch_run', rev: 0 });
        expect((await upgraded.findOpen(['batch_run'])).map((d) => d.remote_key).sort()).toEqual([
          'c.jpg',
          'd.jpg',
        ]);
        expect((await upgraded.findProcessing()).map((d) => d.remote_key)).toEqual(['d.jpg']);
        const old = (await upgraded.getBatch('batch_old'))!;
        expect(old.files[0]!.outcome!.at).toBeInstanceOf(Date);

        const before = await snapshot(db);
        const [s1, s2] = await Promise.all([openUpgraded(dbName), openUpgraded(dbName)]);
        await Promise.all([s1.close(), s2.close()]);
        expect(await snapshot(db)).toEqual(before);
      } finally {
        await upgraded.close();
      }
    });

    it('drops 0.1’s unique index: the same object can then go to a second path', async () => {
      const dbName = mongo.newDbName();
      const db = client.db(dbName);
      await seedLegacy(db, legacyFiles(), true);
      // Can this server drop an index at all? (A real MongoDB can; jongodb cannot.)
      await db.collection('probe').createIndex({ x: 1 });
      const canDrop = await db
        .collection('probe')
        .dropIndex('x_1')
        .then(() => true)
        .catch(() => false);
      if (!canDrop) {
        // The upgrade stops before changing anything, and says what to do.
        const before = await snapshot(db);
        const err = await openUpgraded(dbName).catch((e: unknown) => e);
        expect(String(err)).toMatch(/bucket_name_1_remote_key_1.*could not be dropped.*nothing was changed/);
        expect(String(err)).toContain('db.files.dropIndex("bucket_name_1_remote_key_1")');
        expect(await snapshot(db)).toEqual(before);
        return;
      }
      const upgraded = await openUpgraded(dbName);
      try {
        const indexes = await db.collection('files').listIndexes().toArray();
        expect(indexes.find((i) => i.name === 'transfer_unique')?.unique).toBe(true);
        const elsewhere: FileSeed = {
          bucket_name: BUCKET01,
          remote_key: 'a.jpg',
          destination: LEGACY_DEST,
          s4_key: '/Second/a.jpg',
          code: 'code-a.jpg',
          size: 1000,
          etag: null,
        };
        // the done one at its old path is still done
        const again = await queue(
          upgraded,
          { ...elsewhere, s4_key: '/Archive/a.jpg' },
          { batchId: 'batch_new' },
        );
        expect(again.kind).toBe('already_done');
        const second = await queue(upgraded, elsewhere, { batchId: 'batch_new' }).catch((e: unknown) => e);
        expect(second).toMatchObject({ kind: 'queued' });
        expect(await db.collection('files').countDocuments({ remote_key: 'a.jpg' })).toBe(2);
        expect(indexes.map((i) => i.name)).not.toContain('bucket_name_1_remote_key_1');
        // queued in 0.1, before anything queued now
        expect((await upgraded.claimNext({ destinations: [LEGACY_DEST] }, 'w', 60_000)).doc?.remote_key).toBe(
          'c.jpg',
        );
      } finally {
        await upgraded.close();
      }
    });

    it('is brought up alike when two processes start on 0.1 data at (nearly) the same moment', async () => {
      // Rounds with the second start a little later each time, so that it may begin while the first
      // is between the files and the batches.
      for (const lagMs of [0, 0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40]) {
        const dbName = mongo.newDbName();
        const db = client.db(dbName);
        await seedLegacy(db);
        const [s1, s2] = await Promise.all([
          openUpgraded(dbName),
          sleep(lagMs).then(() => openUpgraded(dbName)),
        ]);
        await Promise.all([s1.close(), s2.close()]);
        await expectUpgraded(db);
      }
    });

    it('an upgrade interrupted after the files still gives an ended batch its outcomes', async () => {
      // A start that upgraded the files and was killed before the batches.
      const dbName = mongo.newDbName();
      const db = client.db(dbName);
      const files = legacyFiles().map((f) => {
        const { last_batch_id, ...rest } = f;
        return {
          ...rest,
          destination: LEGACY_DEST,
          rev: 0,
          batch_id: last_batch_id ?? null,
          queued_at: f.status === 'pending' ? f.modified_date : null,
        };
      });
      await seedLegacy(db, files, false);
      await (await openUpgraded(dbName)).close();
      await expectUpgraded(db);
    });
  });
});

describe('openStore', () => {
  let dir: string;
  let peer: MongoPeer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'megaferry-open-'));
    peer = await startMongo();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await peer?.stop();
  });

  it('opens the embedded store without a URI, and MongoDB with one', async () => {
    const embeddedStore = await openStore({ dataDir: dir });
    expect(embeddedStore.kind).toBe('embedded');
    await queued(embeddedStore, seed('e'));
    await embeddedStore.close();

    const mongoStore = await openStore({ mongodbUri: peer.uri, dataDir: dir });
    expect(mongoStore.kind).toBe('mongodb');
    expect(await mongoStore.getFile(ref('e'))).toBeNull();
    await queued(mongoStore, seed('m'));
    expect((await mongoStore.getFile(ref('m')))!.status).toBe<FileStatus>('pending');
    await mongoStore.close();

    // a blank URI is no URI
    const again = await openStore({ mongodbUri: '  ', dataDir: dir });
    expect(again.kind).toBe('embedded');
    expect((await again.getFile(ref('e')))?.status).toBe('pending');
    await again.close();
  });

  it('says which store failed and why, without secrets', async () => {
    const err = await openStore({
      mongodbUri: 'mongodb://ferry:Sup3r-S3cret@127.0.0.1:1/megaferry',
      dataDir: dir,
      serverSelectionTimeoutMS: 500,
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/MongoDB/);
    expect(err?.message).toContain('127.0.0.1:1');
    expect(err?.message).not.toContain('Sup3r-S3cret');

    const bad = await openStore({ mongodbUri: 'http://nope', dataDir: dir }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(bad?.message).toMatch(/MongoDB.*not valid/);

    // a data folder under a regular file cannot exist
    const notAFolder = join(dir, 'plain-file');
    await writeFile(notAFolder, 'x');
    const blocked = await openStore({ dataDir: join(notAFolder, 'data') }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(blocked?.message).toMatch(/^embedded store in .*plain-file.* could not be opened/);
  });
});
