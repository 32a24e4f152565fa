/**
 * Control of transfers over the REST API (issue 12) against the real peers (s3rver, mega-mock, the
 * embedded store): `"dry_run": true` answers 200 with the plan and changes nothing, `filters`
 * choose a prefix's objects, a batch's status carries what its summary needs (skipped files, the
 * end time), and the bandwidth limit is a setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import type { BatchStarted, BatchStatus, SettingsView, TransferPlan } from '../src/shared/contract';
import { summarizeTransfer } from '../src/shared/transfer-summary';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { testBytes, waitFor } from './peers/fixtures';

const BUCKET = 'rest-control';
const TOKEN = 'control-token-0123456789';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let service: FerryService;
let host: RunningHost;

async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(host.url + path, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const ended = (id: string) =>
  waitFor(
    `${id} to end`,
    async () => {
      const r = await api<BatchStatus>('GET', `/api/batches/${id}`);
      return r.body.overall_status !== 'in_progress' ? r.body : undefined;
    },
    60_000,
    100,
  );

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-host-control-'));
  await s3.put(BUCKET, 'pics/a.jpg', testBytes(5000, 1));
  await s3.put(BUCKET, 'pics/b.jpg', testBytes(50, 2));
  await s3.put(BUCKET, 'pics/c.png', testBytes(7000, 3));
  await s3.put(BUCKET, 'pics/old/d.jpg', testBytes(9000, 4));
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega, mongo: null }, join(work, 'data'))), {
    resume: false,
  });
  host = await startHost(service, { host: '127.0.0.1', port: 0, token: TOKEN });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('POST /api/batches with filters and dry_run', () => {
  it('a dry run answers 200 with the plan, the same as POST /api/batches/plan, and starts nothing', async () => {
    const request = { bucket: BUCKET, prefix: 'pics/', target: '/Rest', filters: { include: ['*.jpg'] } };
    const dry = await api<TransferPlan>('POST', '/api/batches', { ...request, dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      dry_run: true,
      selected: { files: 3, bytes: 14_050 },
      to_transfer: { files: 3, bytes: 14_050 },
      already_done: { files: 0, bytes: 0 },
      filtered_out: { files: 1, bytes: 7000 },
    });
    const plan = await api<TransferPlan>('POST', '/api/batches/plan', request);
    expect(plan.status).toBe(200);
    expect(plan.body.files).toEqual(dry.body.files);
    expect((await api<BatchStatus[]>('GET', '/api/batches')).body).toEqual([]);
    expect((await api<{ files: unknown[] }>('GET', '/api/files')).body.files).toEqual([]);
  });

  it('filters choose the objects of a prefix; a later dry run counts them as already done', async () => {
    const started = await api<BatchStarted>('POST', '/api/batches', {
      bucket: BUCKET,
      prefix: 'pics/',
      target: '/Rest',
      filters: { include: ['*.jpg'], exclude: ['pics/old/**'], min_size: '1K' },
    });
    expect(started.status).toBe(202);
    expect(started.body.started).toEqual(['pics/a.jpg']);
    const status = await ended(started.body.batch_id);
    expect(status.overall_status).toBe('completed');
    expect(status.finished_at).toEqual(expect.any(String));

    const plan = await api<TransferPlan>('POST', '/api/batches', {
      bucket: BUCKET,
      prefix: 'pics/',
      target: '/Rest',
      dry_run: true,
    });
    expect(plan.body).toMatchObject({
      selected: { files: 4 },
      to_transfer: { files: 3, bytes: 16_050 },
      already_done: { files: 1, bytes: 5000 },
    });
  });

  it('a second batch over the same files reports them skipped; its summary says so', async () => {
    const started = await api<BatchStarted>('POST', '/api/batches', {
      bucket: BUCKET,
      keys: ['pics/a.jpg', 'pics/b.jpg'],
      target: '/Rest',
    });
    const status = await ended(started.body.batch_id);
    expect(status.files.find((f) => f.remote_key === 'pics/a.jpg')?.skipped).toBe(true);
    const summary = summarizeTransfer([status]);
    expect(summary).toMatchObject({ done: 1, skipped: 1, failed: 0, bytes: 50 });
    expect(summary.elapsed_ms).toBeGreaterThanOrEqual(0);
    // GET /api/batches/{id} carries the same summary.
    expect(status.summary).toEqual(summary);
  });

  it('clear-finished clears the ended batches for every client (flag in the store), show-cleared brings them back', async () => {
    const started = await api<BatchStarted>('POST', '/api/batches', {
      bucket: BUCKET,
      keys: ['pics/c.png'],
      target: '/Cleared',
    });
    await ended(started.body.batch_id);
    const cleared = await api<{ status: string; changed: number }>('POST', '/api/batches/clear-finished');
    expect(cleared.status).toBe(200);
    expect(cleared.body.status).toBe('cleared');
    expect(cleared.body.changed).toBeGreaterThanOrEqual(1);
    const listed = await api<BatchStatus[]>('GET', '/api/batches');
    expect(listed.body.find((b) => b.batch_id === started.body.batch_id)?.cleared).toBe(true);
    // History keeps the files.
    const files = await api<{ files: { remote_key: string }[] }>('GET', '/api/files?q=pics/c.png');
    expect(files.body.files.map((f) => f.remote_key)).toContain('pics/c.png');
    // A second clear changes nothing; show-cleared brings them all back.
    expect((await api<{ changed: number }>('POST', '/api/batches/clear-finished')).body.changed).toBe(0);
    const shown = await api<{ status: string; changed: number }>('POST', '/api/batches/show-cleared');
    expect(shown.body).toMatchObject({ status: 'shown', changed: cleared.body.changed });
    const again = await api<BatchStatus[]>('GET', '/api/batches');
    expect(again.body.every((b) => !b.cleared)).toBe(true);
  });

  it('refuses bad filters, and filters with keys, with 400 and the field named', async () => {
    const bad: [unknown, RegExp][] = [
      [{ min_size: 'huge' }, /filters\.min_size must be a size/],
      [{ min_size: '2K', max_size: '1K' }, /min_size must not be larger/],
      [{ newer_than: 'last week' }, /filters\.newer_than must be/],
      [{ colour: 'red' }, /unknown field/],
    ];
    for (const [filters, message] of bad) {
      const r = await api<{ error: string }>('POST', '/api/batches', {
        bucket: BUCKET,
        prefix: 'pics/',
        filters,
      });
      expect(r.status, JSON.stringify(filters)).toBe(400);
      expect(r.body.error).toMatch(message);
    }
    const withKeys = await api<{ error: string }>('POST', '/api/batches', {
      bucket: BUCKET,
      keys: ['pics/a.jpg'],
      filters: { include: ['*.jpg'] },
    });
    expect(withKeys.status).toBe(400);
    expect(withKeys.body.error).toMatch(/filters apply to a prefix/);
  });
});

describe('the bandwidth limit in the settings', () => {
  it('PUT /api/settings saves transfers.bwlimit (a timetable too) and refuses a bad one', async () => {
    const ok = await api<SettingsView>('PUT', '/api/settings', {
      transfers: { bwlimit: '08:00,2M 19:00,off' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.transfers.bwlimit).toBe('08:00,2M 19:00,off');
    expect((await api<SettingsView>('GET', '/api/settings')).body.transfers.bwlimit).toBe(
      '08:00,2M 19:00,off',
    );
    const bad = await api<{ error: string }>('PUT', '/api/settings', { transfers: { bwlimit: '25:00,1M' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/transfers\.bwlimit/);
    await api('PUT', '/api/settings', { transfers: { bwlimit: '' } });
  });
});
