/**
 * The transfer engine against real peers: s3rver, mega-mock and MongoDB (MONGODB_URI or jongodb),
 * plus the embedded store. Bytes are proven by downloading back from MEGA with stock megajs and
 * comparing SHA-256; statuses are read back from the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { FerryEvent } from '../src/shared/contract';
import { configFromEnv, type FerryConfig } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { InputError } from '../src/main/engine/errors';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, listPath, type MegaPeer } from './peers/mega';
import { startMongo } from './peers/mongo';
import { ferryEnv } from './peers/env';
import { BOUNDARY_SIZES, MiB, sha256, testBytes, waitFor } from './peers/fixtures';

const BUCKET = 'media';

let s3: S3Peer;
let mega: MegaPeer;
let mongo: { uri: string; stop(): Promise<void> };
let dataDir: string;
const objects = new Map<string, string>(); // key → sha256

function keyFor(size: number, i: number): string {
  const shapes = [
    (s: number) => `plain/${s}.bin`,
    (s: number) => `with spaces/file of ${s} bytes.bin`,
    (s: number) => `Café/naïve ü 文件 ${s}.bin`,
    (s: number) => `deep/a/b/c/d/e/f/${s}.dat`,
  ];
  return (shapes[i % shapes.length] as (s: number) => string)(size);
}

async function putObject(key: string, size: number, seed: number): Promise<void> {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  objects.set(key, sha256(data));
}

function testConfig(
  overrides: { mongodbUri?: string | null; megaPassword?: string; env?: Record<string, string> } = {},
): FerryConfig {
  return configFromEnv({
    ...ferryEnv({ s3, mega, mongo: overrides.mongodbUri === null ? null : mongo }, dataDir),
    ...overrides.env,
    ...(overrides.megaPassword ? { MEGA_PASSWORD: overrides.megaPassword } : {}),
    ...(overrides.mongodbUri ? { MONGODB_URI: overrides.mongodbUri } : {}),
  });
}

async function expectInMega(s4Key: string, remoteKey: string): Promise<void> {
  const got = await downloadSha256(mega, s4Key);
  expect(got.sha256, `bytes of ${s4Key}`).toBe(objects.get(remoteKey));
}

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  dataDir = await mkdtemp(join(tmpdir(), 'megaferry-engine-'));
  let i = 0;
  for (const size of BOUNDARY_SIZES) await putObject(keyFor(size, i++), size, i);
  for (let n = 0; n < 6; n++) await putObject(`conc/file-${n}.bin`, 2 * MiB + n, 100 + n);
  for (let n = 0; n < 4; n++) await putObject(`slow/file-${n}.bin`, 12 * MiB + n, 200 + n);
  await putObject('fail/unlucky.bin', 777_777, 300);
  await putObject('fail/lucky.bin', 5000, 301);
  await putObject('force/again.bin', 4096, 302);
  for (let n = 0; n < 3; n++) await putObject(`twice/file-${n}.bin`, 4 * MiB + n, 350 + n);
  await putObject('paths/one.bin', 9000, 360);
  await putObject('embedded/one.bin', 70_000, 303);
  await putObject('embedded/two.bin', 0, 304);
  for (let b = 0; b < 10; b++) {
    for (let f = 0; f < 3; f++) await putObject(`cap/b${b}/f${f}.bin`, MiB + 1000 * b + f, 400 + 3 * b + f);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the process cap over all batches', () => {
  it('ten batches of three at once never run more than MEGAFERRY_MAX_ACTIVE transfers', async () => {
    const service = await FerryService.open(testConfig({ env: { MEGAFERRY_MAX_ACTIVE: '4' } }), {
      resume: false,
    });
    const moving = new Set<string>();
    let most = 0;
    const off = service.onEvent((event) => {
      if (event.type !== 'file') return;
      if (event.file.status === 'processing') moving.add(event.file.remote_key);
      else moving.delete(event.file.remote_key);
      most = Math.max(most, moving.size);
    });
    try {
      const batches = await Promise.all(
        Array.from({ length: 10 }, (_, b) =>
          service.startBatch({ bucket: BUCKET, prefix: `cap/b${b}/`, target: '/Cap', max_concurrent: 3 }),
        ),
      );
      for (const started of batches) await service.manager.waitForBatch(started.batch_id);
      for (const started of batches) {
        expect((await service.getBatch(started.batch_id)).overall_status).toBe('completed');
      }
      // Without the process cap this is up to 30 (ten limiters of three).
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBeGreaterThanOrEqual(2);
    } finally {
      off();
      await service.close();
    }
  }, 120_000);
});

describe('batches that share files (MongoDB store)', () => {
  it("a second batch over the same folder waits for the first one's transfers; its cancel leaves them alone", async () => {
    mega.setChunkDelay(60); // the first batch is still moving when the second starts
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const first = await service.startBatch({
        bucket: BUCKET,
        prefix: 'twice/',
        target: '/Twice',
        max_concurrent: 1,
      });
      expect(first.started).toHaveLength(3);
      const second = await service.startBatch({ bucket: BUCKET, prefix: 'twice/', target: '/Twice' });
      expect(second.started).toEqual([]);
      expect(second.already_in_progress.map((f) => [f.remote_key, f.batch_id])).toEqual(
        [0, 1, 2].map((n) => [`twice/file-${n}.bin`, first.batch_id]),
      );
      const waiting = await service.getBatch(second.batch_id);
      expect(waiting.overall_status).toBe('in_progress');
      expect(waiting.files.every((f) => f.in_batch === first.batch_id)).toBe(true);

      const cancelled = await service.cancelBatch(second.batch_id);
      expect(cancelled.cancelled_transfers).toBe(0);
      const after = await service.getBatch(second.batch_id);
      expect(after.overall_status).toBe('cancelled');
      // The first batch was not touched: it is still moving, then ends completed.
      expect((await service.getBatch(first.batch_id)).overall_status).toBe('in_progress');
      mega.setChunkDelay(0);
      await service.manager.waitForBatch(first.batch_id);
      const done = await service.getBatch(first.batch_id);
      expect(done.overall_status).toBe('completed');
      for (const f of done.files) await expectInMega(f.s4_key, f.remote_key);
      // And the cancelled batch's history stays as it was recorded.
      expect((await service.getBatch(second.batch_id)).files.map((f) => f.status)).toEqual(
        after.files.map((f) => f.status),
      );
    } finally {
      mega.setChunkDelay(0);
      await service.close();
    }
  }, 180_000);

  it('the same object to two folders is two transfers, both done, both copies in MEGA', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const a = await service.startBatch({ bucket: BUCKET, keys: ['paths/one.bin'], target: '/PathA' });
      await service.manager.waitForBatch(a.batch_id);
      const b = await service.startBatch({ bucket: BUCKET, keys: ['paths/one.bin'], target: '/PathB' });
      expect(b.started).toEqual(['paths/one.bin']);
      expect(b.already_done).toEqual([]);
      await service.manager.waitForBatch(b.batch_id);
      await expectInMega('/PathA/paths/one.bin', 'paths/one.bin');
      await expectInMega('/PathB/paths/one.bin', 'paths/one.bin');
      const docs = (await service.listFiles({ q: 'paths/one.bin' })).files;
      expect(docs.map((d) => [d.s4_key, d.status, d.batch_id]).sort()).toEqual([
        ['/PathA/paths/one.bin', 'done', a.batch_id],
        ['/PathB/paths/one.bin', 'done', b.batch_id],
      ]);
    } finally {
      await service.close();
    }
  }, 120_000);
});

describe('a batch against real peers (MongoDB store)', () => {
  it('copies every size across the chunk and block boundaries, byte for byte, with seed-B documents', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const keys = [...objects.keys()].filter((k) => /^(plain|with spaces|Café|deep)\//.test(k));
      expect(keys).toHaveLength(BOUNDARY_SIZES.length);
      const started = await service.startBatch({
        bucket: BUCKET,
        keys,
        target: '/Backup',
        max_concurrent: 3,
      });
      expect(started.batch_id).toMatch(/^batch_[a-z0-9]+$/);
      expect(started.status).toBe('started');
      expect(started.started).toHaveLength(keys.length);
      expect(started.already_done).toEqual([]);
      expect(started.failed_to_start).toEqual([]);
      await service.manager.waitForBatch(started.batch_id);

      const status = await service.getBatch(started.batch_id);
      expect(status.overall_status).toBe('completed');
      expect(status.completed).toBe(keys.length);
      for (const f of status.files) {
        expect(f.status).toBe('done');
        expect(f.progress).toBe(100);
        expect(f.s4_key).toBe('/Backup/' + f.remote_key);
        await expectInMega(f.s4_key, f.remote_key);
      }

      // The documents, read back with a raw driver: seed B's fields, names and types exactly.
      const client = await MongoClient.connect(mongo.uri);
      try {
        const docs = await client
          .db()
          .collection('files')
          .find({ remote_key: { $in: keys } })
          .toArray();
        expect(docs).toHaveLength(keys.length);
        for (const d of docs) {
          expect(d.code).toBe(d.remote_key);
          expect(d.bucket_name).toBe(BUCKET);
          expect(d.s4_key).toBe('/Backup/' + d.remote_key);
          expect(d.status).toBe('done');
          expect(d.status_updated_at).toBeInstanceOf(Date);
          expect(d.creation_date).toBeInstanceOf(Date);
          expect(d.modified_date).toBeInstanceOf(Date);
          expect(d.retry_count).toBe(0);
          expect(typeof d.mega_handle).toBe('string');
        }
      } finally {
        await client.close();
      }
    } finally {
      await service.close();
    }
  });

  it('reports already-done files per destination path, and a forced copy replaces the old node at that path only', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const key = 'force/again.bin';
      const first = await service.startBatch({ bucket: BUCKET, keys: [key], target: '/Forced' });
      await service.manager.waitForBatch(first.batch_id);
      const [before] = await listPath(mega, '/Forced/force/again.bin');
      expect(before).toBeDefined();

      const second = await service.startBatch({ bucket: BUCKET, keys: [key], target: '/Forced' });
      expect(second.already_done).toEqual([key]);
      expect(second.started).toEqual([]);
      await service.manager.waitForBatch(second.batch_id);
      expect((await service.getBatch(second.batch_id)).overall_status).toBe('completed');
      expect(await listPath(mega, '/Forced/force/again.bin')).toHaveLength(1);

      const forced = await service.startBatch({
        bucket: BUCKET,
        keys: [key],
        target: '/Forced',
        force: true,
      });
      expect(forced.started).toEqual([key]);
      await service.manager.waitForBatch(forced.batch_id);
      const after = await listPath(mega, '/Forced/force/again.bin');
      expect(after).toHaveLength(1);
      expect(after[0]?.handle).not.toBe(before?.handle);
      await expectInMega('/Forced/force/again.bin', key);
      // The old node went to the Rubbish Bin, not away.
      const rubbish = await listPath(mega, '/Forced/force/again.bin', { trash: true });
      expect(rubbish.some((n) => n.handle === before?.handle && n.inTrash)).toBe(true);

      // Forced into another folder: a transfer of its own; the copy in the earlier folder stays.
      const moved = await service.startBatch({
        bucket: BUCKET,
        keys: [key],
        target: '/Forced2',
        force: true,
      });
      expect(moved.started).toEqual([key]);
      await service.manager.waitForBatch(moved.batch_id);
      const kept = await listPath(mega, '/Forced/force/again.bin');
      expect(kept.map((n) => n.handle)).toEqual([after[0]?.handle]);
      expect(await listPath(mega, '/Forced2/force/again.bin')).toHaveLength(1);
      await expectInMega('/Forced/force/again.bin', key);
      await expectInMega('/Forced2/force/again.bin', key);
      // Two documents, one per destination path, both done; the earlier batches keep their history.
      const docs = (await service.listFiles({ q: 'force/again.bin' })).files;
      expect(docs.map((d) => [d.s4_key, d.status]).sort()).toEqual([
        ['/Forced/force/again.bin', 'done'],
        ['/Forced2/force/again.bin', 'done'],
      ]);
      expect((await service.getBatch(first.batch_id)).overall_status).toBe('completed');
      expect((await service.getBatch(forced.batch_id)).overall_status).toBe('completed');
    } finally {
      await service.close();
    }
  });

  it('lists a missing object in failed_to_start and marks it s3_download_failed; the others go on', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const started = await service.startBatch({
        bucket: BUCKET,
        items: [
          { key: 'nope/not-here.bin', code: 'MISSING-1' },
          { key: 'fail/lucky.bin', code: 'LUCKY' },
        ],
        target: '/Missing',
      });
      expect(started.failed_to_start).toEqual([
        { code: 'MISSING-1', remote_key: 'nope/not-here.bin', reason: expect.stringContaining('not found') },
      ]);
      expect(started.started).toEqual(['LUCKY']);
      await service.manager.waitForBatch(started.batch_id);
      const status = await service.getBatch(started.batch_id);
      expect(status.overall_status).toBe('partial');
      expect(status.files.map((f) => [f.code, f.status])).toEqual([
        ['MISSING-1', 's3_download_failed'],
        ['LUCKY', 'done'],
      ]);
      const page = await service.listFiles({ status: 's3_download_failed' });
      const missing = page.files.find((f) => f.remote_key === 'nope/not-here.bin');
      expect(missing?.code).toBe('MISSING-1');
      expect(missing?.error_message).toContain('not found');
      expect(await listPath(mega, '/Missing/nope/not-here.bin')).toHaveLength(0);
    } finally {
      await service.close();
    }
  });

  it('never runs more files at once than max_concurrent', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    const active = new Set<string>();
    let peak = 0;
    const off = service.onEvent((e: FerryEvent) => {
      if (e.type !== 'file') return;
      if (e.file.status === 'processing') active.add(e.file.remote_key);
      else active.delete(e.file.remote_key);
      peak = Math.max(peak, active.size);
    });
    try {
      const keys = [...objects.keys()].filter((k) => k.startsWith('conc/'));
      const started = await service.startBatch({ bucket: BUCKET, keys, target: '/Conc', max_concurrent: 2 });
      await service.manager.waitForBatch(started.batch_id);
      expect((await service.getBatch(started.batch_id)).overall_status).toBe('completed');
      expect(peak).toBe(2);
    } finally {
      off();
      await service.close();
    }
  });

  it('retries a failing MEGA upload, then marks it s4_upload_failed with retry_count and a reason; the rest finish', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    // Only uploads of this size fail (mega-mock's upload URL carries the size).
    mega.setUploadError((url) =>
      url.pathname?.includes('/777777') ? new Error('injected upload failure') : undefined,
    );
    try {
      const started = await service.startBatch({
        bucket: BUCKET,
        keys: ['fail/unlucky.bin', 'fail/lucky.bin'],
        target: '/Inject',
        force: true,
      });
      await service.manager.waitForBatch(started.batch_id);
      const status = await service.getBatch(started.batch_id);
      const unlucky = status.files.find((f) => f.remote_key === 'fail/unlucky.bin');
      const lucky = status.files.find((f) => f.remote_key === 'fail/lucky.bin');
      expect(lucky?.status).toBe('done');
      expect(unlucky?.status).toBe('s4_upload_failed');
      expect(unlucky?.retry_count).toBe(3); // three attempts, each counted
      expect(unlucky?.error_message).toBeTruthy();
      expect(status.overall_status).toBe('partial');
      expect(await listPath(mega, '/Inject/fail/unlucky.bin')).toHaveLength(0);

      // Retry after the fault is gone: the failed file is done, with its history kept.
      mega.setUploadError(null);
      await service.retryBatch(started.batch_id);
      await service.manager.waitForBatch(started.batch_id);
      const again = await service.getBatch(started.batch_id);
      expect(again.overall_status).toBe('completed');
      expect(again.files.find((f) => f.remote_key === 'fail/unlucky.bin')?.retry_count).toBe(3);
      await expectInMega('/Inject/fail/unlucky.bin', 'fail/unlucky.bin');
    } finally {
      mega.setUploadError(null);
      await service.close();
    }
  });

  it('cancels within a second: reads and uploads stop, nothing stays processing, nothing half-made in MEGA', async () => {
    const service = await FerryService.open(testConfig(), { resume: false });
    try {
      const keys = [...objects.keys()].filter((k) => k.startsWith('slow/'));
      const started = await service.startBatch({
        bucket: BUCKET,
        keys,
        target: '/Cancel',
        max_concurrent: 2,
      });
      await waitFor('bytes moving', async () => {
        const s = await service.getBatch(started.batch_id);
        return s.files.some((f) => f.transferred_bytes > 0 && f.status === 'processing');
      });
      const t0 = Date.now();
      const result = await service.cancelBatch(started.batch_id);
      const took = Date.now() - t0;
      expect(took).toBeLessThan(1000);
      expect(result.status).toBe('cancelled');
      expect(result.total_files).toBe(4);
      expect(result.cancelled_transfers).toBe(4); // 2 in flight + 2 pending
      const status = await service.getBatch(started.batch_id);
      expect(status.overall_status).toBe('cancelled');
      expect(status.transferring + status.pending).toBe(0);
      expect(status.files.every((f) => f.status === 'cancelled')).toBe(true);
      const processing = await service.listFiles({ status: 'processing' });
      expect(processing.files).toHaveLength(0);
      await new Promise((r) => setTimeout(r, 500));
      for (const k of keys) expect(await listPath(mega, '/Cancel/' + k)).toHaveLength(0);
    } finally {
      await service.close();
    }
  });

  it('refuses a wrong MEGA password before writing anything', async () => {
    const service = await FerryService.open(testConfig({ megaPassword: 'not-the-password' }), {
      resume: false,
    });
    try {
      const before = await service.listBatches();
      const attempt = service.startBatch({ bucket: BUCKET, keys: ['plain/1.bin'], target: '/Wrong' });
      await expect(attempt).rejects.toBeInstanceOf(InputError);
      await expect(attempt).rejects.toThrow(/MEGA/);
      await expect(attempt).rejects.not.toThrow(/not-the-password/);
      expect(await service.listBatches()).toHaveLength(before.length);
      expect(await listPath(mega, '/Wrong/plain/1.bin')).toHaveLength(0);
    } finally {
      await service.close();
    }
  });

  it('validates before doing anything: cap, concurrency, bucket', async () => {
    const config = testConfig();
    config.engine.maxFilesPerBatch = 2;
    const service = await FerryService.open(config, { resume: false });
    try {
      await expect(service.startBatch({ bucket: BUCKET, keys: ['a', 'b', 'c'] })).rejects.toThrow(
        /at most 2/,
      );
      await expect(service.startBatch({ bucket: BUCKET, keys: ['a'], max_concurrent: 6 })).rejects.toThrow(
        /max_concurrent must be an integer from 1 to 5/,
      );
      // A missing bucket is bad input that says what to do, and carries the S3 problem for the UI.
      const missing = await service
        .startBatch({ bucket: 'no-such-bucket', keys: ['a'] })
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(InputError);
      expect(String(missing)).toMatch(
        /no-such-bucket not found \(check its name, and the endpoint and region/,
      );
      expect((missing as InputError).problem).toBe('bucket_missing');
      await expect(service.startBatch({ bucket: BUCKET, prefix: 'conc/' })).rejects.toThrow(/at most 2/);
    } finally {
      await service.close();
    }
  });
});

describe('a batch with the embedded store', () => {
  it('copies the files and keeps the documents across a restart of the store', async () => {
    const config = testConfig({ mongodbUri: null });
    let batchId: string;
    const service = await FerryService.open(config, { resume: false });
    try {
      expect((await service.health()).store).toBe('embedded');
      const started = await service.startBatch({ bucket: BUCKET, prefix: 'embedded/', target: '/Embedded' });
      batchId = started.batch_id;
      expect(started.started.sort()).toEqual(['embedded/one.bin', 'embedded/two.bin']);
      await service.manager.waitForBatch(batchId);
    } finally {
      await service.close();
    }
    const reopened = await FerryService.open(config, { resume: true });
    try {
      const status = await reopened.getBatch(batchId);
      expect(status.overall_status).toBe('completed');
      for (const f of status.files) await expectInMega(f.s4_key, f.remote_key);
      const done = await reopened.listFiles({ status: 'done', q: 'embedded/' });
      expect(done.files.map((f) => f.remote_key).sort()).toEqual(['embedded/one.bin', 'embedded/two.bin']);
    } finally {
      await reopened.close();
    }
  });
});
