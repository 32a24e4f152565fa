/**
 * One conformance suite for the metadata store port, run against both adapters: MongoStore on a
 * real MongoDB peer (MONGODB_URI or jongodb) and EmbeddedStore in a temporary folder.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileStatus } from '../src/shared/contract';
import { EmbeddedStore } from '../src/main/store/embedded';
import { MongoStore } from '../src/main/store/mongo';
import { openStore } from '../src/main/store/open';
import type { BatchDoc, FileDoc, FileRef, FileSeed, MetadataStore } from '../src/main/store/port';
import { dropDatabases, startMongo, type MongoPeer } from './peers/mongo';

interface StoreFixture {
  name: 'mongodb' | 'embedded';
  setup(): Promise<void>;
  /** A new, empty store (its own database or folder), initialised. */
  open(): Promise<MetadataStore>;
  /** The same data as the last store opened, through a new instance. */
  reopen(): Promise<MetadataStore>;
  teardown(): Promise<void>;
}

function mongoFixture(): StoreFixture & { peer(): MongoPeer; lastDbName(): string } {
  let peer: MongoPeer | null = null;
  let n = 0;
  let dbName = '';
  const used: string[] = [];
  return {
    name: 'mongodb',
    async setup() {
      peer = await startMongo();
    },
    async open() {
      if (!peer) throw new Error('mongo peer not started');
      dbName = `${peer.dbName}_${++n}`;
      used.push(dbName);
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
  };
}

function embeddedFixture(): StoreFixture & { dir(): string } {
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
    dir: () => dir,
  };
}

const mongo = mongoFixture();
const embedded = embeddedFixture();

const BUCKET = 'media-bucket';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function seed(key: string, over: Partial<FileSeed> = {}): FileSeed {
  return {
    bucket_name: BUCKET,
    remote_key: key,
    code: `code-${key}`,
    s4_key: `/Archive/${key}`,
    size: 1024,
    etag: '"abc"',
    batch_id: 'batch_a1',
    ...over,
  };
}

function ref(key: string, bucket = BUCKET): FileRef {
  return { bucket_name: bucket, remote_key: key };
}

const Q = { force: false, newTransferId: 'tid-1' } as const;

function batch(id: string, createdAt: Date, over: Partial<BatchDoc> = {}): BatchDoc {
  return {
    batch_id: id,
    options: { bucket: BUCKET, target: '/Archive', max_concurrent: 3, force: false, keys: ['a'] },
    files: [{ bucket_name: BUCKET, remote_key: 'a', code: 'code-a', start_result: 'started' }],
    state: 'running',
    created_at: createdAt,
    updated_at: createdAt,
    ...over,
  };
}

/** Queues a file and takes it for `owner`. */
async function queueAndClaim(
  store: MetadataStore,
  key: string,
  owner: string,
  leaseMs = 60_000,
): Promise<FileDoc> {
  const queued = await store.queueFile(seed(key), Q);
  expect(queued).not.toBeNull();
  const held = await store.claim(ref(key), owner, leaseMs);
  expect(held).not.toBeNull();
  return held!;
}

async function markDone(store: MetadataStore, key: string, handle: string): Promise<void> {
  await queueAndClaim(store, key, 'w-done');
  expect(
    await store.finish(ref(key), 'w-done', {
      status: 'done',
      mega_handle: handle,
      mega_link: `link-${handle}`,
    }),
  ).toBe(true);
}

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

  describe('queueFile', () => {
    it('inserts a pending document with exactly seed B fields', async () => {
      const before = Date.now();
      const doc = await store.queueFile(seed('movies/a.mp4'), { force: false, newTransferId: 'tid-a' });
      expect(doc).not.toBeNull();
      const d = doc!;
      expect(d).not.toHaveProperty('_id');
      expect(d).toMatchObject({
        code: 'code-movies/a.mp4',
        bucket_name: BUCKET,
        remote_key: 'movies/a.mp4',
        s4_key: '/Archive/movies/a.mp4',
        status: 'pending',
        retry_count: 0,
        size: 1024,
        etag: '"abc"',
        last_batch_id: 'batch_a1',
        transfer_id: 'tid-a',
      });
      expect(d.error_message ?? null).toBeNull();
      for (const field of ['status_updated_at', 'creation_date', 'modified_date'] as const) {
        expect(d[field]).toBeInstanceOf(Date);
        expect(d[field].getTime()).toBeGreaterThanOrEqual(before - 5);
        expect(d[field].getTime()).toBeLessThanOrEqual(Date.now() + 5);
      }
      expect(Number.isInteger(d.retry_count)).toBe(true);
      expect(await store.getFile(ref('movies/a.mp4'))).toEqual(d);
    });

    it('re-queues: creation_date kept, modified_date advanced, fields updated, transfer_id kept', async () => {
      const first = (await store.queueFile(seed('k1'), { force: false, newTransferId: 'tid-1' }))!;
      await sleep(15);
      const second = (await store.queueFile(
        seed('k1', { code: 'NEW', s4_key: '/Other/k1', batch_id: 'batch_b2' }),
        {
          force: false,
          newTransferId: 'tid-2',
        },
      ))!;
      expect(second.creation_date.getTime()).toBe(first.creation_date.getTime());
      expect(second.modified_date.getTime()).toBeGreaterThan(first.modified_date.getTime());
      // pending → pending is no status change
      expect(second.status_updated_at.getTime()).toBe(first.status_updated_at.getTime());
      expect(second).toMatchObject({
        code: 'NEW',
        s4_key: '/Other/k1',
        last_batch_id: 'batch_b2',
        transfer_id: 'tid-1',
      });
    });

    it('re-queues a failed file as pending, clearing its error but keeping retry_count', async () => {
      await queueAndClaim(store, 'f1', 'w1');
      await store.finish(ref('f1'), 'w1', {
        status: 's4_upload_failed',
        error_message: 'quota',
        count_failure: true,
      });
      await sleep(5);
      const again = (await store.queueFile(seed('f1'), Q))!;
      expect(again.status).toBe('pending');
      expect(again.retry_count).toBe(1);
      expect(again.error_message ?? null).toBeNull();
    });

    it('with force on a done file: new transfer_id, replaces_handle = old mega_handle', async () => {
      await store.queueFile(seed('d1'), { force: false, newTransferId: 'tid-old' });
      await store.claim(ref('d1'), 'w', 60_000);
      await store.finish(ref('d1'), 'w', {
        status: 'done',
        mega_handle: 'H-OLD',
        mega_link: 'https://mega/x',
      });
      const forced = (await store.queueFile(seed('d1'), { force: true, newTransferId: 'tid-new' }))!;
      expect(forced).toMatchObject({ status: 'pending', transfer_id: 'tid-new', replaces_handle: 'H-OLD' });
      expect(forced.mega_handle ?? null).toBeNull();
    });

    it('without force keeps transfer_id of a done file and sets no replaces_handle', async () => {
      await store.queueFile(seed('d2'), { force: false, newTransferId: 'tid-old' });
      await store.claim(ref('d2'), 'w', 60_000);
      await store.finish(ref('d2'), 'w', { status: 'done', mega_handle: 'H-OLD' });
      const again = (await store.queueFile(seed('d2'), { force: false, newTransferId: 'tid-new' }))!;
      expect(again.transfer_id).toBe('tid-old');
      expect(again.replaces_handle ?? null).toBeNull();
    });

    it('with force on a file that is not done keeps its transfer_id', async () => {
      await queueAndClaim(store, 'nd', 'w');
      await store.finish(ref('nd'), 'w', { status: 'error', error_message: 'boom', count_failure: true });
      const again = (await store.queueFile(seed('nd'), { force: true, newTransferId: 'tid-new' }))!;
      expect(again.transfer_id).toBe('tid-1');
      expect(again.replaces_handle ?? null).toBeNull();
    });

    it('returns null for a processing file under a live lease and leaves it untouched', async () => {
      const held = await queueAndClaim(store, 'p1', 'owner-1', 60_000);
      expect(await store.queueFile(seed('p1', { code: 'changed' }), Q)).toBeNull();
      expect(await store.queueFile(seed('p1'), { force: true, newTransferId: 'x' })).toBeNull();
      expect(await store.getFile(ref('p1'))).toEqual(held);
    });

    it('takes over a processing file whose lease expired', async () => {
      await queueAndClaim(store, 'p2', 'owner-1', 1);
      await sleep(20);
      const doc = (await store.queueFile(seed('p2'), Q))!;
      expect(doc).not.toBeNull();
      expect(doc.status).toBe('pending');
      expect(doc.lease_owner ?? null).toBeNull();
      expect(doc.lease_expires_at ?? null).toBeNull();
      // the old owner lost it
      expect(await store.finish(ref('p2'), 'owner-1', { status: 'done' })).toBe(false);
    });

    it('keeps one document per {bucket_name, remote_key}', async () => {
      await store.queueFile(seed('same'), Q);
      await store.queueFile(seed('same', { code: 'other' }), Q);
      await Promise.all(Array.from({ length: 5 }, () => store.queueFile(seed('race'), Q)));
      // the same key in another bucket is another file
      await store.queueFile(seed('same', { bucket_name: 'other-bucket' }), Q);
      const all = await store.listFiles({ limit: 100 });
      const keys = all.files.map((f) => `${f.bucket_name}/${f.remote_key}`).sort();
      expect(keys).toEqual([`${BUCKET}/race`, `${BUCKET}/same`, 'other-bucket/same']);
    });
  });

  describe('markFailedToStart', () => {
    it('inserts a failed document when none exists', async () => {
      const doc = await store.markFailedToStart(seed('missing'), 's3_download_failed', 'object not found');
      expect(doc).toMatchObject({
        status: 's3_download_failed',
        error_message: 'object not found',
        retry_count: 0,
        code: 'code-missing',
        s4_key: '/Archive/missing',
      });
      expect(doc.creation_date).toBeInstanceOf(Date);
      expect(doc.status_updated_at).toBeInstanceOf(Date);
      expect(await store.getFile(ref('missing'))).toEqual(doc);
    });

    it('updates an existing document, keeping creation_date', async () => {
      const first = (await store.queueFile(seed('gone'), Q))!;
      await sleep(5);
      const doc = await store.markFailedToStart(seed('gone'), 's3_download_failed', 'object not found');
      expect(doc.status).toBe('s3_download_failed');
      expect(doc.creation_date.getTime()).toBe(first.creation_date.getTime());
      expect(doc.status_updated_at.getTime()).toBeGreaterThan(first.status_updated_at.getTime());
      expect(doc.retry_count).toBe(0);
    });
  });

  describe('claim', () => {
    it('is exclusive: of 10 concurrent claims exactly one wins', async () => {
      await store.queueFile(seed('hot'), Q);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.claim(ref('hot'), `worker-${i}`, 60_000)),
      );
      const winners = results.filter((r): r is FileDoc => r !== null);
      expect(winners).toHaveLength(1);
      const doc = (await store.getFile(ref('hot')))!;
      expect(doc.status).toBe('processing');
      expect(doc.lease_owner).toBe(winners[0]!.lease_owner);
      expect(doc.lease_expires_at).toBeInstanceOf(Date);
      expect(doc.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    });

    it('returns null for files that are not pending, or missing', async () => {
      expect(await store.claim(ref('nope'), 'w', 60_000)).toBeNull();
      await markDone(store, 'done1', 'H');
      expect(await store.claim(ref('done1'), 'w', 60_000)).toBeNull();
      await store.markFailedToStart(seed('failed1'), 's3_download_failed', 'missing');
      expect(await store.claim(ref('failed1'), 'w', 60_000)).toBeNull();
      await queueAndClaim(store, 'live', 'w1');
      expect(await store.claim(ref('live'), 'w2', 60_000)).toBeNull();
      expect(await store.claim(ref('live'), 'w1', 60_000)).toBeNull();
    });

    it('takes a processing file whose lease expired, without a status change', async () => {
      const first = await queueAndClaim(store, 'stale', 'dead-worker', 1);
      await sleep(20);
      const taken = (await store.claim(ref('stale'), 'new-worker', 60_000))!;
      expect(taken).not.toBeNull();
      expect(taken.lease_owner).toBe('new-worker');
      expect(taken.status_updated_at.getTime()).toBe(first.status_updated_at.getTime());
      expect(await store.renewLease(ref('stale'), 'dead-worker', 60_000, { transferred_bytes: 1 })).toBe(
        false,
      );
    });
  });

  describe('held operations (renewLease, patchHeld, finish)', () => {
    it('work only for the owner', async () => {
      const held = await queueAndClaim(store, 'h1', 'owner');
      expect(await store.renewLease(ref('h1'), 'intruder', 60_000, { transferred_bytes: 99 })).toBe(false);
      expect(await store.patchHeld(ref('h1'), 'intruder', { mega_handle: 'X' })).toBe(false);
      expect(await store.finish(ref('h1'), 'intruder', { status: 'done' })).toBe(false);
      expect(await store.recordFailedAttempt(ref('h1'), 'intruder', 'x')).toBe(false);
      expect(await store.release(ref('h1'), 'intruder')).toBe(false);
      expect(await store.getFile(ref('h1'))).toEqual(held);
    });

    it('renewLease writes progress and extends the lease, keeping status_updated_at', async () => {
      const held = await queueAndClaim(store, 'h2', 'owner', 1_000);
      await sleep(10);
      expect(await store.renewLease(ref('h2'), 'owner', 120_000, { transferred_bytes: 4096 })).toBe(true);
      const doc = (await store.getFile(ref('h2')))!;
      expect(doc.transferred_bytes).toBe(4096);
      expect(doc.lease_expires_at!.getTime()).toBeGreaterThan(held.lease_expires_at!.getTime() + 100_000);
      expect(doc.modified_date.getTime()).toBeGreaterThan(held.modified_date.getTime());
      expect(doc.status_updated_at.getTime()).toBe(held.status_updated_at.getTime());
      expect(doc.status).toBe('processing');
    });

    it('patchHeld sets only the given fields and keeps the status', async () => {
      const held = await queueAndClaim(store, 'h3', 'owner');
      await sleep(5);
      expect(await store.patchHeld(ref('h3'), 'owner', { mega_handle: 'NODE1', replaces_handle: null })).toBe(
        true,
      );
      const doc = (await store.getFile(ref('h3')))!;
      expect(doc).toMatchObject({
        mega_handle: 'NODE1',
        status: 'processing',
        lease_owner: 'owner',
        size: 1024,
      });
      expect(doc.replaces_handle ?? null).toBeNull();
      expect(doc.status_updated_at.getTime()).toBe(held.status_updated_at.getTime());
    });

    it('patchHeld keeps an upload checkpoint as given and clears it with null', async () => {
      await queueAndClaim(store, 'h4', 'owner');
      const session = {
        transfer_id: 't-1',
        size: 3 * 1024 * 1024,
        etag: '"abc"',
        next_offset: 1024 * 1024,
        state: { upload_url: 'http://x/upload/1', sealed_key: 'AAAA', macs: ['m1', 'm2'] },
      };
      expect(await store.patchHeld(ref('h4'), 'owner', { upload_session: session })).toBe(true);
      expect((await store.getFile(ref('h4')))?.upload_session).toEqual(session);
      expect(await store.patchHeld(ref('h4'), 'owner', { upload_session: null })).toBe(true);
      expect((await store.getFile(ref('h4')))?.upload_session ?? null).toBeNull();
    });

    it('finish sets the status, drops the lease and counts a failure', async () => {
      const held = await queueAndClaim(store, 'h4', 'owner');
      await sleep(5);
      expect(
        await store.finish(ref('h4'), 'owner', {
          status: 's4_upload_failed',
          error_message: 'over quota',
          count_failure: true,
          transferred_bytes: 512,
        }),
      ).toBe(true);
      const doc = (await store.getFile(ref('h4')))!;
      expect(doc).toMatchObject({
        status: 's4_upload_failed',
        error_message: 'over quota',
        retry_count: 1,
        transferred_bytes: 512,
      });
      expect(doc.lease_owner ?? null).toBeNull();
      expect(doc.lease_expires_at ?? null).toBeNull();
      expect(doc.status_updated_at.getTime()).toBeGreaterThan(held.status_updated_at.getTime());
      // no longer held: a second finish is refused
      expect(await store.finish(ref('h4'), 'owner', { status: 'done' })).toBe(false);
      // a second failed attempt counts again
      await store.queueFile(seed('h4'), Q);
      await store.claim(ref('h4'), 'owner2', 60_000);
      await store.finish(ref('h4'), 'owner2', {
        status: 'error',
        error_message: 'again',
        count_failure: true,
      });
      expect((await store.getFile(ref('h4')))!.retry_count).toBe(2);
    });

    it('recordFailedAttempt counts a retried failure and keeps the lease', async () => {
      const held = await queueAndClaim(store, 'rf', 'owner');
      expect(await store.recordFailedAttempt(ref('rf'), 'intruder', 'nope')).toBe(false);
      await sleep(5);
      expect(await store.recordFailedAttempt(ref('rf'), 'owner', 'socket hang up')).toBe(true);
      expect(await store.recordFailedAttempt(ref('rf'), 'owner', 'timeout')).toBe(true);
      const doc = (await store.getFile(ref('rf')))!;
      expect(doc).toMatchObject({
        status: 'processing',
        retry_count: 2,
        error_message: 'timeout',
        lease_owner: 'owner',
      });
      expect(doc.lease_expires_at!.getTime()).toBe(held.lease_expires_at!.getTime());
      expect(doc.status_updated_at.getTime()).toBe(held.status_updated_at.getTime());
      expect(await store.finish(ref('rf'), 'owner', { status: 'done', error_message: null })).toBe(true);
      expect((await store.getFile(ref('rf')))!).toMatchObject({
        status: 'done',
        retry_count: 2,
        error_message: null,
      });
    });

    it('finish done records the destination without counting a failure', async () => {
      await queueAndClaim(store, 'h5', 'owner');
      expect(
        await store.finish(ref('h5'), 'owner', {
          status: 'done',
          mega_handle: 'H5',
          mega_link: 'https://mega.nz/file/H5',
          size: 2048,
          transferred_bytes: 2048,
        }),
      ).toBe(true);
      const doc = (await store.getFile(ref('h5')))!;
      expect(doc).toMatchObject({
        status: 'done',
        mega_handle: 'H5',
        mega_link: 'https://mega.nz/file/H5',
        size: 2048,
        retry_count: 0,
      });
      expect(doc.error_message ?? null).toBeNull();
    });
  });

  describe('recordVerification', () => {
    it('writes the result on the done copy it checked, leaving the status as it is', async () => {
      await markDone(store, 'v1', 'H-V1');
      const before = (await store.getFile(ref('v1')))!;
      const at = new Date(Date.now() + 1000);
      expect(
        await store.recordVerification(ref('v1'), {
          mega_handle: 'H-V1',
          verify_result: 'mac_mismatch',
          verified_at: at,
        }),
      ).toBe(true);
      const doc = (await store.getFile(ref('v1')))!;
      expect(doc).toMatchObject({ status: 'done', verify_result: 'mac_mismatch', mega_handle: 'H-V1' });
      expect(doc.verified_at?.getTime()).toBe(at.getTime());
      expect(doc.status_updated_at.getTime()).toBe(before.status_updated_at.getTime());
      expect(doc.modified_date.getTime()).toBeGreaterThanOrEqual(before.modified_date.getTime());
      // A later verify replaces the result.
      await store.recordVerification(ref('v1'), {
        mega_handle: 'H-V1',
        verify_result: 'ok',
        verified_at: at,
      });
      expect((await store.getFile(ref('v1')))?.verify_result).toBe('ok');
    });

    it('writes nothing for another copy, a file not done, or no file', async () => {
      await markDone(store, 'v2', 'H-V2');
      const v = { verify_result: 'bytes_mismatch' as const, verified_at: new Date() };
      expect(await store.recordVerification(ref('v2'), { ...v, mega_handle: 'H-OTHER' })).toBe(false);
      expect((await store.getFile(ref('v2')))?.verify_result ?? null).toBeNull();
      await queueAndClaim(store, 'v3', 'w');
      expect(await store.recordVerification(ref('v3'), { ...v, mega_handle: null })).toBe(false);
      expect((await store.getFile(ref('v3')))?.verify_result ?? null).toBeNull();
      expect(await store.recordVerification(ref('nope'), { ...v, mega_handle: 'H' })).toBe(false);
      expect(await store.getFile(ref('nope'))).toBeNull();
    });

    it('a forced transfer drops the verification of the copy it replaces; a plain re-queue keeps it', async () => {
      await markDone(store, 'v4', 'H-V4');
      const v = { mega_handle: 'H-V4', verify_result: 'mac_mismatch' as const, verified_at: new Date() };
      await store.recordVerification(ref('v4'), v);
      const kept = (await store.queueFile(seed('v4'), { force: false, newTransferId: 'tid-x' }))!;
      expect(kept.verify_result).toBe('mac_mismatch');
      await store.claim(ref('v4'), 'w', 60_000);
      await store.finish(ref('v4'), 'w', { status: 'done', mega_handle: 'H-V4' });
      const forced = (await store.queueFile(seed('v4'), { force: true, newTransferId: 'tid-new' }))!;
      expect(forced.verify_result ?? null).toBeNull();
      expect(forced.verified_at ?? null).toBeNull();
      expect((await store.getFile(ref('v4')))?.verify_result ?? null).toBeNull();
    });
  });

  describe('status_updated_at', () => {
    it('changes only when the status changes', async () => {
      const q1 = (await store.queueFile(seed('s1'), Q))!;
      await sleep(5);
      const q2 = (await store.queueFile(seed('s1'), Q))!;
      expect(q2.status_updated_at.getTime()).toBe(q1.status_updated_at.getTime());
      await sleep(5);
      const held = (await store.claim(ref('s1'), 'o', 60_000))!;
      expect(held.status_updated_at.getTime()).toBeGreaterThan(q2.status_updated_at.getTime());
      await sleep(5);
      await store.renewLease(ref('s1'), 'o', 60_000, { transferred_bytes: 1 });
      await store.patchHeld(ref('s1'), 'o', { mega_handle: 'h' });
      const mid = (await store.getFile(ref('s1')))!;
      expect(mid.status_updated_at.getTime()).toBe(held.status_updated_at.getTime());
      expect(mid.modified_date.getTime()).toBeGreaterThan(held.modified_date.getTime());
      await sleep(5);
      await store.finish(ref('s1'), 'o', { status: 'done' });
      const done = (await store.getFile(ref('s1')))!;
      expect(done.status_updated_at.getTime()).toBeGreaterThan(mid.status_updated_at.getTime());
      await sleep(5);
      // done → done through setStatusWhere is no change
      expect(await store.setStatusWhere([ref('s1')], ['done'], 'done')).toBe(0);
      expect((await store.getFile(ref('s1')))!.status_updated_at.getTime()).toBe(
        done.status_updated_at.getTime(),
      );
    });
  });

  describe('setStatusWhere', () => {
    it('changes only files in the given statuses and counts them', async () => {
      await store.queueFile(seed('a'), Q);
      await store.queueFile(seed('b'), Q);
      await markDone(store, 'c', 'HC');
      await store.markFailedToStart(seed('d'), 's3_download_failed', 'missing');
      const before = (await store.getFile(ref('a')))!;
      await sleep(5);
      const refs = [ref('a'), ref('b'), ref('c'), ref('d'), ref('not-there'), ref('a')];
      expect(await store.setStatusWhere(refs, ['pending'], 'cancelled', 'cancelled by user')).toBe(2);
      const a = (await store.getFile(ref('a')))!;
      expect(a).toMatchObject({ status: 'cancelled', error_message: 'cancelled by user' });
      expect(a.status_updated_at.getTime()).toBeGreaterThan(before.status_updated_at.getTime());
      expect((await store.getFile(ref('b')))!.status).toBe('cancelled');
      expect((await store.getFile(ref('c')))!.status).toBe('done');
      expect(await store.setStatusWhere(refs, ['pending'], 'cancelled')).toBe(0);
      // retry: failed and cancelled back to pending; error message left as is when not given
      expect(await store.setStatusWhere(refs, ['cancelled', 's3_download_failed'], 'pending')).toBe(3);
      expect((await store.getFile(ref('d')))!).toMatchObject({ status: 'pending', error_message: 'missing' });
      expect(await store.setStatusWhere([], ['pending'], 'cancelled')).toBe(0);
    });

    it('moving a processing file away drops its lease', async () => {
      await queueAndClaim(store, 'pp', 'owner');
      expect(await store.setStatusWhere([ref('pp')], ['processing'], 'cancelled', 'cancelled')).toBe(1);
      const doc = (await store.getFile(ref('pp')))!;
      expect(doc.status).toBe('cancelled');
      expect(doc.lease_owner ?? null).toBeNull();
      expect(await store.finish(ref('pp'), 'owner', { status: 'done' })).toBe(false);
    });
  });

  describe('listProcessing and release', () => {
    it('lists every processing file; release returns one to pending (or a given status)', async () => {
      await queueAndClaim(store, 'r1', 'o1');
      await queueAndClaim(store, 'r2', 'o2');
      await store.queueFile(seed('r3'), Q);
      const processing = await store.listProcessing();
      expect(processing.map((d) => d.remote_key).sort()).toEqual(['r1', 'r2']);
      for (const d of processing) expect(d).not.toHaveProperty('_id');

      expect(await store.release(ref('r1'), 'o2')).toBe(false);
      expect(await store.release(ref('r1'), 'o1')).toBe(true);
      const r1 = (await store.getFile(ref('r1')))!;
      expect(r1.status).toBe('pending');
      expect(r1.lease_owner ?? null).toBeNull();
      expect(r1.lease_expires_at ?? null).toBeNull();
      expect(await store.release(ref('r1'), 'o1')).toBe(false);

      expect(await store.release(ref('r2'), 'o2', 'cancelled')).toBe(true);
      expect((await store.getFile(ref('r2')))!.status).toBe('cancelled');
      expect(await store.listProcessing()).toEqual([]);
    });
  });

  describe('getFiles', () => {
    it('returns the documents found, in the order asked, once each', async () => {
      await store.queueFile(seed('x'), Q);
      await store.queueFile(seed('y'), Q);
      await store.queueFile(seed('z', { bucket_name: 'b2' }), Q);
      const docs = await store.getFiles([
        ref('y'),
        ref('missing'),
        ref('x'),
        ref('z', 'b2'),
        ref('y'),
        ref('z'),
      ]);
      expect(docs.map((d) => `${d.bucket_name}/${d.remote_key}`)).toEqual([
        `${BUCKET}/y`,
        `${BUCKET}/x`,
        'b2/z',
      ]);
      expect(await store.getFiles([])).toEqual([]);
      expect(docs[0]).not.toHaveProperty('_id');
    });
  });

  describe('listFiles', () => {
    async function fill(): Promise<void> {
      for (let i = 0; i < 23; i++) {
        const key = `Folder/Clip_${String(i).padStart(2, '0')}.MP4`;
        const bucket = i % 3 === 0 ? 'zz-bucket' : BUCKET;
        await store.queueFile(
          seed(key, {
            bucket_name: bucket,
            code: i === 7 ? 'SPECIAL-Code' : `c${i}`,
            s4_key: `/Dest/${i}/v.mp4`,
          }),
          Q,
        );
        if (i % 4 === 0) await store.markFailedToStart(seed(key, { bucket_name: bucket }), 'error', 'x');
        if (i % 5 === 0) await sleep(2); // some creation dates equal, some not
      }
    }

    it('pages newest first through every document exactly once', async () => {
      await fill();
      const seen: FileDoc[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listFiles({ limit: 4, cursor });
        expect(page.files.length).toBeLessThanOrEqual(4);
        seen.push(...page.files);
        cursor = page.next_cursor ?? undefined;
        pages++;
        expect(pages).toBeLessThan(20);
      } while (cursor);
      expect(pages).toBe(6);
      const ids = seen.map((d) => `${d.bucket_name}/${d.remote_key}`);
      expect(new Set(ids).size).toBe(23);
      expect(ids).toHaveLength(23);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.creation_date.getTime()).toBeLessThanOrEqual(seen[i - 1]!.creation_date.getTime());
      }
      for (const d of seen) expect(d).not.toHaveProperty('_id');
    });

    it('a limit that divides the total ends with next_cursor null, not an empty page', async () => {
      for (const k of ['a', 'b', 'c', 'd']) await store.queueFile(seed(k), Q);
      const p1 = await store.listFiles({ limit: 2 });
      expect(p1.next_cursor).not.toBeNull();
      const p2 = await store.listFiles({ limit: 2, cursor: p1.next_cursor! });
      expect(p2.files).toHaveLength(2);
      expect(p2.next_cursor).toBeNull();
      expect((await store.listFiles({ limit: 10 })).next_cursor).toBeNull();
    });

    it('filters by status and by a case-insensitive substring of code, remote_key or s4_key', async () => {
      await fill();
      const errors = await store.listFiles({ status: 'error', limit: 100 });
      expect(errors.files.map((d) => d.remote_key).sort()).toEqual(
        [0, 4, 8, 12, 16, 20].map((i) => `Folder/Clip_${String(i).padStart(2, '0')}.MP4`),
      );
      expect(errors.files.every((d) => d.status === 'error')).toBe(true);

      const byCode = await store.listFiles({ q: 'special-CODE', limit: 100 });
      expect(byCode.files.map((d) => d.code)).toEqual(['SPECIAL-Code']);
      const byKey = await store.listFiles({ q: 'clip_1', limit: 100 });
      expect(byKey.files).toHaveLength(10);
      const byS4 = await store.listFiles({ q: '/dest/22/', limit: 100 });
      expect(byS4.files.map((d) => d.remote_key)).toEqual(['Folder/Clip_22.MP4']);
      // regular-expression characters are taken literally
      expect((await store.listFiles({ q: 'clip_.*', limit: 100 })).files).toHaveLength(0);
      expect((await store.listFiles({ q: '.mp4', limit: 100 })).files).toHaveLength(23);

      // filters and paging together
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listFiles({ status: 'pending', q: 'CLIP_1', limit: 3, cursor });
        seen.push(...page.files.map((d) => d.remote_key));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      expect(seen.sort()).toEqual([10, 11, 13, 14, 15, 17, 18, 19].map((i) => `Folder/Clip_${i}.MP4`));
    });

    it('rejects a cursor it did not make', async () => {
      await expect(store.listFiles({ limit: 5, cursor: 'not-a-cursor' })).rejects.toThrow(/cursor/);
    });
  });

  describe('batches', () => {
    it('inserts, gets, updates and lists newest first', async () => {
      const t0 = new Date('2024-05-01T10:00:00Z');
      await store.insertBatch(batch('batch_old', t0));
      await store.insertBatch(batch('batch_mid', new Date(t0.getTime() + 1000), { state: 'finished' }));
      await store.insertBatch(batch('batch_new', new Date(t0.getTime() + 2000)));

      const got = (await store.getBatch('batch_old'))!;
      expect(got).toEqual(batch('batch_old', t0));
      expect(got.created_at).toBeInstanceOf(Date);
      expect(got).not.toHaveProperty('_id');
      expect(await store.getBatch('batch_unknown')).toBeNull();

      const finishedAt = new Date();
      const files = [
        { bucket_name: BUCKET, remote_key: 'a', code: 'code-a', start_result: 'already_done' as const },
        {
          bucket_name: BUCKET,
          remote_key: 'b',
          code: 'b',
          start_result: 'failed_to_start' as const,
          reason: 'gone',
        },
      ];
      await store.updateBatch('batch_old', { state: 'cancelled', finished_at: finishedAt, files });
      const updated = (await store.getBatch('batch_old'))!;
      expect(updated).toMatchObject({ state: 'cancelled', files, batch_id: 'batch_old' });
      expect(updated.finished_at!.getTime()).toBe(finishedAt.getTime());
      expect(updated.updated_at.getTime()).toBeGreaterThan(t0.getTime());
      expect(updated.created_at.getTime()).toBe(t0.getTime());
      expect(updated.options).toEqual(got.options);

      expect((await store.listBatches({})).map((b) => b.batch_id)).toEqual([
        'batch_new',
        'batch_mid',
        'batch_old',
      ]);
      expect((await store.listBatches({ limit: 2 })).map((b) => b.batch_id)).toEqual([
        'batch_new',
        'batch_mid',
      ]);
      expect((await store.listBatches({ state: 'running' })).map((b) => b.batch_id)).toEqual(['batch_new']);
    });

    it('refuses a second batch with the same id and an update of an unknown one', async () => {
      await store.insertBatch(batch('batch_dup', new Date()));
      await expect(store.insertBatch(batch('batch_dup', new Date()))).rejects.toThrow(/batch_dup/);
      expect(await store.listBatches({})).toHaveLength(1);
      await expect(store.updateBatch('batch_nope', { state: 'finished' })).rejects.toThrow(/batch_nope/);
    });
  });

  it('keeps its documents across close and reopen', async () => {
    await store.queueFile(seed('keep'), Q);
    await markDone(store, 'kept-done', 'HK');
    await store.insertBatch(batch('batch_keep', new Date('2024-01-01T00:00:00Z')));
    const before = await store.listFiles({ limit: 100 });
    await store.close();
    store = await fx.reopen();
    const after = await store.listFiles({ limit: 100 });
    expect(after).toEqual(before);
    expect(after.files[0]!.creation_date).toBeInstanceOf(Date);
    expect((await store.getBatch('batch_keep'))!.created_at).toBeInstanceOf(Date);
    // the unique key still holds after a reopen
    await store.queueFile(seed('keep'), Q);
    expect((await store.listFiles({ limit: 100 })).files).toHaveLength(2);
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
    await store.finish(ref('raw.bin'), 'w', { status: 'error', error_message: 'bad', count_failure: true });
    const files = client.db(mongo.lastDbName()).collection('files');
    const raw = await files.findOne({ bucket_name: BUCKET, remote_key: 'raw.bin' });
    expect(raw).not.toBeNull();
    for (const f of ['code', 'bucket_name', 'remote_key', 's4_key', 'status', 'error_message']) {
      expect(typeof raw![f], f).toBe('string');
    }
    for (const f of ['status_updated_at', 'creation_date', 'modified_date']) {
      expect(raw![f], f).toBeInstanceOf(Date);
    }
    expect(typeof raw!.retry_count).toBe('number');
    expect(raw!.retry_count).toBe(1);
    // BSON types as stored: dates are BSON dates, retry_count an int
    const typed = await files.countDocuments({
      remote_key: 'raw.bin',
      creation_date: { $type: 'date' },
      modified_date: { $type: 'date' },
      status_updated_at: { $type: 'date' },
      retry_count: { $type: 'int' },
    });
    expect(typed).toBe(1);
    const expected = new Set<string>([
      '_id',
      'code',
      'bucket_name',
      'remote_key',
      's4_key',
      'status',
      'status_updated_at',
      'creation_date',
      'modified_date',
      'retry_count',
      'error_message',
      'size',
      'etag',
      'transferred_bytes',
      'last_batch_id',
      'transfer_id',
      'lease_owner',
      'lease_expires_at',
    ]);
    expect(new Set(Object.keys(raw!))).toEqual(expected);
  });

  it('creates the indexes, and the unique one holds against raw inserts', async () => {
    const db = client.db(mongo.lastDbName());
    const fileIndexes = await db.collection('files').listIndexes().toArray();
    const refIndex = fileIndexes.find(
      (i) => JSON.stringify(i.key) === JSON.stringify({ bucket_name: 1, remote_key: 1 }),
    );
    expect(refIndex?.unique).toBe(true);
    expect(fileIndexes.some((i) => JSON.stringify(i.key) === JSON.stringify({ status: 1 }))).toBe(true);
    const batchIndexes = await db.collection('batches').listIndexes().toArray();
    expect(batchIndexes.find((i) => JSON.stringify(i.key) === JSON.stringify({ batch_id: 1 }))?.unique).toBe(
      true,
    );

    await store.queueFile(seed('uniq'), Q);
    await expect(
      db.collection('files').insertOne({ bucket_name: BUCKET, remote_key: 'uniq' }),
    ).rejects.toThrow(/duplicate key|E11000/);
  });

  it('two stores sharing one database never both claim a file', async () => {
    const other = (await mongo.reopen()) as MongoStore;
    try {
      // Rounds of simultaneous claims from two connections: a server that ran the conditional
      // writes without isolation would hand some file to both.
      for (let round = 0; round < 8; round++) {
        const keys = Array.from({ length: 10 }, (_, i) => `r${round}-s${i}`);
        for (const k of keys) await store.queueFile(seed(k), Q);
        const results = await Promise.all(
          keys.flatMap((k) => [store.claim(ref(k), 'proc-A', 60_000), other.claim(ref(k), 'proc-B', 60_000)]),
        );
        for (const [i, key] of keys.entries()) {
          const pair = [results[2 * i], results[2 * i + 1]].filter((r) => r !== null);
          expect(pair, key).toHaveLength(1);
          expect((await store.getFile(ref(key)))?.lease_owner).toBe(pair[0]?.lease_owner);
        }
      }
      // what one process queues the other sees as in flight
      expect(await other.queueFile(seed('r0-s0'), Q)).toBeNull();
    } finally {
      await other.close();
    }
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
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('takes the database name from the URI path, default megaferry', async () => {
    const peer = mongo.peer();
    const named = new MongoStore(peer.uri);
    expect(named.describe()).toMatch(new RegExp(`/${peer.dbName}$`));
    const bare = new MongoStore(peer.uri.replace(/\/[^/?]*(\?|$)/, '$1'));
    expect(bare.describe()).toMatch(/\/megaferry$/);
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
    await embeddedStore.queueFile(seed('e'), Q);
    await embeddedStore.close();

    const mongoStore = await openStore({ mongodbUri: peer.uri, dataDir: dir });
    expect(mongoStore.kind).toBe('mongodb');
    expect(await mongoStore.getFile(ref('e'))).toBeNull();
    await mongoStore.queueFile(seed('m'), Q);
    expect((await mongoStore.getFile(ref('m')))!.status).toBe<FileStatus>('pending');
    await mongoStore.close();
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
