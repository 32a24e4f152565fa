/**
 * A batch records its destination, and whichever process moves its files later asks for that
 * destination, never "whichever is configured now" (issue 11, item 1). Against real peers: S3
 * (s3rver) and two MEGA S4 endpoints (two s3rvers behind the S4 rules proxy). Also the REST
 * `destination` field and the Settings' S4 Test through the headless host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startS4Peer, type S4Peer } from './peers/s4';
import { MiB, sha256, testBytes, waitFor } from './peers/fixtures';
import { apiCall, serveProcess } from './peers/cli-process';

const BUCKET = 'svc-media';
const ARCHIVE = 'archive';

let s3: S3Peer;
let s4a: S4Peer;
let s4b: S4Peer;
let work: string;
const shas = new Map<string, string>();

function env(s4: S4Peer, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...s3.env,
    ...s4.env,
    MEGAFERRY_DATA_DIR: dataDir,
    MEGAFERRY_RETRY_ATTEMPTS: '3',
    MEGAFERRY_RETRY_BASE_MS: '20',
    MEGAFERRY_RETRY_MAX_MS: '100',
    ...extra,
  };
}

beforeAll(async () => {
  [s3, s4a, s4b] = await Promise.all([
    startS3Peer([BUCKET]),
    startS4Peer({ buckets: [ARCHIVE] }),
    startS4Peer({ buckets: [ARCHIVE] }),
  ]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-dest-svc-'));
  for (let i = 0; i < 3; i++) {
    const data = testBytes(17 * MiB + i, 90 + i); // three parts of at most 8 MiB
    await s3.put(BUCKET, `slow/${i}.bin`, data);
    shas.set(`slow/${i}.bin`, sha256(data));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), s4a?.stop(), s4b?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a batch keeps its destination', () => {
  it('a resume under other S4 settings leaves the batch alone; under its own, it finishes there', async () => {
    const dataDir = join(work, 'resume');
    // Started on endpoint A, slowly (4 MiB/s), then stopped: its files go back to the queue.
    const first = await FerryService.open(configFromEnv(env(s4a, dataDir, { MEGAFERRY_BWLIMIT: '4M' })), {
      resume: false,
    });
    const started = await first.startBatch({
      bucket: BUCKET,
      prefix: 'slow/',
      destination: 's4',
      target: ARCHIVE,
    });
    expect(started.started).toHaveLength(3);
    const batch = await first.getBatch(started.batch_id);
    expect(batch.destination).toBe(`s4:${new URL(s4a.endpoint).host}/${ARCHIVE}`);
    await waitFor('a part at S4 A', () => s4a.count('UploadPart').requests > 0 || undefined, 30_000);
    await first.close();

    // Another process configured for endpoint B resumes every unfinished batch: not this one.
    const other = await FerryService.open(configFromEnv(env(s4b, dataDir)), { resume: true });
    try {
      expect(other.destinations.byId(batch.destination ?? '')).toBeNull();
      expect(other.destinations.problemWith(batch.destination ?? '')).toMatch(
        /is not the MEGA S4 access configured here/,
      );
      await new Promise((r) => setTimeout(r, 2500));
      const waiting = await other.getBatch(started.batch_id);
      expect(waiting.overall_status).toBe('in_progress');
      expect(waiting.files.every((f) => f.status === 'pending')).toBe(true);
      expect(s4b.count('UploadPart').requests + s4b.count('PutObject').requests).toBe(0);
      // A retry asked of it says why, changing nothing.
      await expect(other.manager.retry(started.batch_id)).rejects.toThrow(
        /not the MEGA S4 access configured here/,
      );
    } finally {
      await other.close();
    }

    // Under its own settings it finishes, at A, from the checkpoints.
    const own = await FerryService.open(configFromEnv(env(s4a, dataDir)), { resume: true });
    try {
      expect(own.resumed).toContain(started.batch_id);
      await own.manager.waitForBatch(started.batch_id);
      expect((await own.getBatch(started.batch_id)).overall_status).toBe('completed');
    } finally {
      await own.close();
    }
    for (const [key, sha] of shas) {
      const object = await s4a.readObject(ARCHIVE, key);
      expect(sha256(object?.bytes ?? Buffer.alloc(0)), key).toBe(sha);
      expect(await s4b.readObject(ARCHIVE, key), key).toBeNull();
    }
    expect(s4a.openUploads(ARCHIVE)).toEqual([]);
  });

  it('a cancelled transfer leaves no unfinished upload at S4', async () => {
    const dataDir = join(work, 'cancel');
    const service = await FerryService.open(configFromEnv(env(s4a, dataDir, { MEGAFERRY_BWLIMIT: '4M' })), {
      resume: false,
    });
    try {
      const started = await service.startBatch({
        bucket: BUCKET,
        keys: ['slow/0.bin', 'slow/1.bin'],
        destination: 's4',
        target: `${ARCHIVE}/cancel/`,
        max_concurrent: 2,
      });
      await waitFor(
        'an open multipart upload',
        () => s4a.openUploads(ARCHIVE).length > 0 || undefined,
        30_000,
      );
      await service.cancelBatch(started.batch_id);
      expect((await service.getBatch(started.batch_id)).overall_status).toBe('cancelled');
      // An upload S4 was still making when the cancel came is aborted as soon as S4 names it.
      await waitFor(
        'no open upload under cancel/',
        () => s4a.openUploads(ARCHIVE).every((u) => !u.key.startsWith('cancel/')) || undefined,
        10_000,
      );
      expect(await s4a.listKeys(ARCHIVE, 'cancel/')).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('the headless host', () => {
  it('takes "destination": "s4" on POST /api/batches and tests the S4 settings', async () => {
    const token = 'dest-token-0123456789';
    const { proc, url } = await serveProcess(env(s4a, join(work, 'host')), token);
    try {
      const settings = await apiCall<Record<string, Record<string, unknown>>>(
        url,
        token,
        'GET',
        '/api/settings',
      );
      expect(settings.body.s4).toEqual({
        endpoint: s4a.endpoint,
        region: s4a.region,
        access_key_id: s4a.accessKeyId,
        has_secret_access_key: true,
        default_target: '',
      });
      expect(JSON.stringify(settings.body)).not.toContain(s4a.secretAccessKey);
      const test = await apiCall<{ ok: boolean; message: string }>(url, token, 'POST', '/api/settings/test', {
        target: 's4',
        draft: { s4: { default_target: `${ARCHIVE}/x/` } },
      });
      expect(test.body).toMatchObject({
        ok: true,
        message: `1 bucket visible; default bucket ${ARCHIVE} can be written`,
      });

      const bad = await apiCall<{ error: string }>(url, token, 'POST', '/api/batches', {
        bucket: BUCKET,
        keys: ['slow/2.bin'],
        destination: 'ftp',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/destination must be one of mega, s4, local/);

      const started = await apiCall<{ batch_id: string }>(url, token, 'POST', '/api/batches', {
        bucket: BUCKET,
        keys: ['slow/2.bin'],
        destination: 's4',
        target: `${ARCHIVE}/rest`,
      });
      expect(started.status).toBe(202);
      const done = await waitFor(
        'the REST batch to end',
        async () => {
          const r = await apiCall<{ overall_status: string; files: { s4_key: string }[] }>(
            url,
            token,
            'GET',
            `/api/batches/${started.body.batch_id}`,
          );
          return r.body.overall_status === 'in_progress' ? undefined : r.body;
        },
        60_000,
      );
      expect(done.overall_status).toBe('completed');
      expect(done.files.map((f) => f.s4_key)).toEqual(['rest/slow/2.bin']);
      const object = await s4a.readObject(ARCHIVE, 'rest/slow/2.bin');
      expect(sha256(object?.bytes ?? Buffer.alloc(0))).toBe(shas.get('slow/2.bin'));
    } finally {
      proc.child.kill('SIGTERM');
      await proc.done;
    }
  });
});
