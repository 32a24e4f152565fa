/**
 * The headless host over HTTP against real peers: every route, the token, bad input, a batch to
 * `completed` with bytes verified in MEGA, cancel, retry, the event stream, and SIGTERM / SIGKILL
 * of a `megaferry serve` process in the middle of a batch.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import type { BatchCancelled, BatchStarted, BatchStatus, FerryEvent } from '../src/shared/contract';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, listPath, type MegaPeer } from './peers/mega';
import { startMongo } from './peers/mongo';
import { ferryEnv } from './peers/env';
import { MiB, sha256, testBytes, waitFor } from './peers/fixtures';

const BUCKET = 'host-bucket';
const TOKEN = 'test-token-0123456789';
const BIN = resolve(__dirname, '..', 'bin', 'megaferry.mjs');

let s3: S3Peer;
let mega: MegaPeer;
let mongo: { uri: string; stop(): Promise<void> };
let work: string;
let service: FerryService;
let host: RunningHost;
const shas = new Map<string, string>();

const peerEnv = () =>
  ferryEnv({ s3, mega, mongo }, join(work, 'data'), { attempts: 2, baseMs: 20, maxMs: 100 });

async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string | null; raw?: string; base?: string } = {},
): Promise<{ status: number; body: T }> {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch((opts.base ?? host.url) + path, {
    method,
    headers,
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function untilEnded(batchId: string, base?: string, timeoutMs = 60_000): Promise<BatchStatus> {
  return waitFor(
    `${batchId} to end`,
    async () => {
      const r = await api<BatchStatus>('GET', `/api/batches/${batchId}`, undefined, { base });
      return r.status === 200 && r.body.overall_status !== 'in_progress' ? r.body : undefined;
    },
    timeoutMs,
    100,
  );
}

async function put(key: string, size: number, seed: number) {
  const data = testBytes(size, seed);
  await s3.put(BUCKET, key, data);
  shas.set(key, sha256(data));
}

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([
    startS3Peer([BUCKET, 'other-bucket']),
    startMegaPeer(),
    startMongo(),
  ]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-host-'));
  await put('albums/2023/one.flac', 200_000, 1);
  await put('albums/2023/two.flac', 131_073, 2);
  await put('albums/2024/three.flac', 17, 3);
  await put('albums/cover.jpg', 0, 4);
  for (let i = 0; i < 4; i++) await put(`slow/${i}.bin`, 12 * MiB + i, 10 + i);
  await put('flaky/a.bin', 654_321, 20);
  await put('flaky/b.bin', 1000, 21);
  for (let i = 0; i < 6; i++) await put(`kill/${i}.bin`, 4 * MiB + i, 30 + i);
  for (let i = 0; i < 4; i++) await put(`term/${i}.bin`, 4 * MiB + i, 40 + i);
  service = await FerryService.open(configFromEnv(peerEnv()), { resume: false });
  host = await startHost(service, { host: '127.0.0.1', port: 0, token: TOKEN, heartbeatSeconds: 1 });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('authentication', () => {
  it('answers /api/health without a token and everything else only with the right one', async () => {
    const health = await api<{ ok: boolean; store: string; version: string }>(
      'GET',
      '/api/health',
      undefined,
      {
        token: null,
      },
    );
    expect(health.status).toBe(200);
    expect(health.body).toEqual({
      ok: true,
      store: 'mongodb',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    const routes: [string, string][] = [
      ['POST', '/api/batches'],
      ['GET', '/api/batches'],
      ['GET', '/api/batches/batch_abc'],
      ['POST', '/api/batches/batch_abc/cancel'],
      ['POST', '/api/batches/batch_abc/retry'],
      ['GET', '/api/files'],
      ['GET', '/api/s3/buckets'],
      ['GET', `/api/s3/objects?bucket=${BUCKET}`],
      ['GET', '/api/events'],
      ['GET', '/api/settings'],
      ['PUT', '/api/settings'],
      ['POST', '/api/settings/test'],
    ];
    for (const [method, path] of routes) {
      for (const token of [null, 'wrong-token']) {
        const r = await api<{ error: string }>(method, path, method === 'GET' ? undefined : {}, { token });
        expect(r.status, `${method} ${path} with ${token}`).toBe(401);
        expect(r.body.error).toMatch(/token/);
        expect(JSON.stringify(r.body)).not.toContain(TOKEN);
      }
    }
  });
});

describe('bad input', () => {
  const cases: [string, unknown, RegExp][] = [
    ['no bucket', { keys: ['a'] }, /bucket/],
    ['max_concurrent 0', { bucket: BUCKET, keys: ['a'], max_concurrent: 0 }, /max_concurrent.*1 to 5/],
    ['max_concurrent 6', { bucket: BUCKET, keys: ['a'], max_concurrent: 6 }, /max_concurrent.*1 to 5/],
    [
      'max_concurrent as a string',
      { bucket: BUCKET, keys: ['a'], max_concurrent: '3' },
      /max_concurrent.*1 to 5/,
    ],
    ['keys not an array', { bucket: BUCKET, keys: 'a' }, /keys/],
    ['force not a boolean', { bucket: BUCKET, keys: ['a'], force: 'yes' }, /force/],
    ['a relative target', { bucket: BUCKET, keys: ['a'], target: 'Backup' }, /target.*"\/"/],
    ['an unknown field', { bucket: BUCKET, keys: ['a'], colour: 'red' }, /unknown field.*colour/],
    ['keys and a prefix', { bucket: BUCKET, keys: ['a'], prefix: 'x/' }, /prefix/],
    ['over the cap', { bucket: BUCKET, keys: Array.from({ length: 51 }, (_, i) => `k${i}`) }, /at most 50/],
    ['an unknown bucket', { bucket: 'no-such-bucket', keys: ['a'] }, /no-such-bucket/],
  ];
  it.each(cases)(
    'POST /api/batches with %s → 400 naming the field, nothing written',
    async (_n, body, message) => {
      const before = await api<BatchStatus[]>('GET', '/api/batches');
      const r = await api<{ error: string }>('POST', '/api/batches', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(message);
      expect((await api<BatchStatus[]>('GET', '/api/batches')).body).toHaveLength(before.body.length);
    },
  );

  it('malformed JSON → 400; unknown batch → 404; bad query values → 400', async () => {
    const malformed = await api<{ error: string }>('POST', '/api/batches', undefined, { raw: '{"bucket": ' });
    expect(malformed).toEqual({ status: 400, body: { error: 'malformed JSON body' } });
    for (const [method, path] of [
      ['GET', '/api/batches/batch_unknown1'],
      ['POST', '/api/batches/batch_unknown1/cancel'],
      ['POST', '/api/batches/batch_unknown1/retry'],
      ['GET', '/api/batches/not-a-batch-id'],
    ] as const) {
      const r = await api<{ error: string }>(method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error).toMatch(/unknown batch/);
    }
    const badStatus = await api<{ error: string }>('GET', '/api/files?status=finished');
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error).toMatch(/status.*pending/);
    const badLimit = await api<{ error: string }>('GET', '/api/files?limit=0');
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error).toMatch(/limit must be an integer from 1 to 1000/);
    const noBucket = await api<{ error: string }>('GET', '/api/s3/objects');
    expect(noBucket.status).toBe(400);
    expect(noBucket.body.error).toMatch(/bucket/);
  });
});

describe('browsing S3', () => {
  it('lists buckets, then folders and objects page by page', async () => {
    const buckets = await api<{ buckets: string[] }>('GET', '/api/s3/buckets');
    expect(buckets.status).toBe(200);
    expect(buckets.body.buckets).toEqual(expect.arrayContaining([BUCKET, 'other-bucket']));
    const top = await api<{ folders: string[]; objects: { key: string; size: number }[] }>(
      'GET',
      `/api/s3/objects?bucket=${BUCKET}&prefix=albums/`,
    );
    expect(top.status).toBe(200);
    expect(top.body.folders).toEqual(['albums/2023/', 'albums/2024/']);
    expect(top.body.objects).toEqual([
      { key: 'albums/cover.jpg', size: 0, last_modified: expect.any(String) },
    ]);
    const page1 = await api<{ objects: { key: string }[]; next_token: string | null }>(
      'GET',
      `/api/s3/objects?bucket=${BUCKET}&prefix=albums/2023/&limit=1`,
    );
    expect(page1.body.objects.map((o) => o.key)).toEqual(['albums/2023/one.flac']);
    expect(page1.body.next_token).toBeTruthy();
    const page2 = await api<{ objects: { key: string }[]; next_token: string | null }>(
      'GET',
      `/api/s3/objects?bucket=${BUCKET}&prefix=albums/2023/&limit=1&token=${encodeURIComponent(page1.body.next_token ?? '')}`,
    );
    expect(page2.body.objects.map((o) => o.key)).toEqual(['albums/2023/two.flac']);
  });
});

/** Reads the SSE stream into a list until stopped. */
function collectEvents(): { events: FerryEvent[]; heartbeats: () => number; stop: () => void } {
  const events: FerryEvent[] = [];
  let heartbeats = 0;
  const controller = new AbortController();
  void (async () => {
    const res = await fetch(`${host.url}/api/events?access_token=${TOKEN}`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.includes(': heartbeat')) heartbeats++;
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        const type = block.split('\n').find((l) => l.startsWith('event: '));
        if (data && type) {
          const event = JSON.parse(data.slice(6)) as FerryEvent;
          expect(type.slice(7)).toBe(event.type);
          events.push(event);
        }
      }
    }
  })().catch(() => undefined);
  return { events, heartbeats: () => heartbeats, stop: () => controller.abort() };
}

describe('a batch over HTTP', () => {
  it('runs to completed with bytes verified in MEGA, and events arrive in a sensible order', async () => {
    const stream = collectEvents();
    await new Promise((r) => setTimeout(r, 200));
    const start = await api<BatchStarted>('POST', '/api/batches', {
      bucket: BUCKET,
      prefix: 'albums/',
      target: '/Music',
      max_concurrent: 2,
    });
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({
      status: 'started',
      total_files: 4,
      already_done: [],
      failed_to_start: [],
    });
    expect(start.body.message).toMatch(/4 files/);
    const batchId = start.body.batch_id;
    const status = await untilEnded(batchId);
    expect(status).toMatchObject({
      batch_id: batchId,
      total_files: 4,
      completed: 4,
      failed: 0,
      overall_status: 'completed',
    });
    for (const f of status.files) {
      expect(f).toMatchObject({ status: 'done', progress: 100, error_message: null, retry_count: 0 });
      // The MEGA web app's address of the folder holding the file (private, not a public link).
      expect(f.mega_link).toMatch(/^https:\/\/mega\.nz\/fm\/[\w-]+$/);
      expect((await downloadSha256(mega, f.s4_key)).sha256).toBe(shas.get(f.remote_key));
    }

    await waitFor('the batch event', () =>
      stream.events.some((e) => e.type === 'batch' && e.batch_id === batchId && e.state === 'finished'),
    );
    await waitFor('a heartbeat', () => stream.heartbeats() > 0, 5000);
    stream.stop();
    const mine = stream.events.filter((e) => e.type !== 'hold' && e.batch_id === batchId);
    expect(mine[0]).toMatchObject({ type: 'batch', state: 'running' });
    expect(mine[mine.length - 1]).toMatchObject({
      type: 'batch',
      state: 'finished',
      overall_status: 'completed',
    });
    for (const f of status.files) {
      const forFile = mine.filter(
        (e) => (e.type === 'file' || e.type === 'progress') && e.file.remote_key === f.remote_key,
      );
      const kinds = forFile.map((e) =>
        e.type === 'file' || e.type === 'progress' ? `${e.type}:${e.file.status}` : '',
      );
      expect(kinds[0]).toBe('file:processing');
      expect(kinds[kinds.length - 1]).toBe('file:done');
      expect(kinds.slice(1, -1).every((k) => k === 'progress:processing')).toBe(true);
    }

    const list = await api<BatchStatus[]>('GET', '/api/batches');
    expect(list.body[0]?.batch_id).toBe(batchId); // newest first
    const files = await api<{
      files: { remote_key: string; status: string; mega_link: string | null }[];
      next_cursor: string | null;
    }>('GET', '/api/files?status=done&q=ALBUMS/2023&limit=1');
    expect(files.body.files).toHaveLength(1);
    expect(files.body.files[0]?.mega_link).toBe(
      status.files.find((f) => f.remote_key === files.body.files[0]?.remote_key)?.mega_link,
    );
    expect(files.body.next_cursor).toBeTruthy();
    const rest = await api<{ files: { remote_key: string }[]; next_cursor: string | null }>(
      'GET',
      `/api/files?status=done&q=ALBUMS/2023&limit=1&cursor=${encodeURIComponent(files.body.next_cursor ?? '')}`,
    );
    expect([files.body.files[0]?.remote_key, rest.body.files[0]?.remote_key].sort()).toEqual([
      'albums/2023/one.flac',
      'albums/2023/two.flac',
    ]);
    const cancelEnded = await api<{ error: string }>('POST', `/api/batches/${batchId}/cancel`);
    expect(cancelEnded.status).toBe(409);
  });

  it('cancel right after start counts the pending files and leaves nothing transferring', async () => {
    // A slow link: no file can finish between the start and the cancel, however fast the machine.
    mega.setChunkDelay(300);
    onTestFinished(() => mega.setChunkDelay(0));
    const start = await api<BatchStarted>('POST', '/api/batches', {
      bucket: BUCKET,
      prefix: 'slow/',
      target: '/Cancelled',
      max_concurrent: 1,
    });
    expect(start.status).toBe(202);
    const cancel = await api<BatchCancelled>('POST', `/api/batches/${start.body.batch_id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({
      status: 'cancelled',
      message: expect.any(String),
      batch_id: start.body.batch_id,
      cancelled_transfers: 4,
      total_files: 4,
    });
    const status = await api<BatchStatus>('GET', `/api/batches/${start.body.batch_id}`);
    expect(status.body).toMatchObject({
      overall_status: 'cancelled',
      transferring: 0,
      pending: 0,
      cancelled: 4,
    });
  });

  it('retries the files a MEGA failure stopped', async () => {
    mega.setUploadError((url) =>
      url.pathname?.includes('/654321') ? new Error('injected upload failure') : undefined,
    );
    let batchId: string;
    try {
      const start = await api<BatchStarted>('POST', '/api/batches', {
        bucket: BUCKET,
        keys: ['flaky/a.bin', 'flaky/b.bin'],
        target: '/Flaky',
      });
      batchId = start.body.batch_id;
      const failed = await untilEnded(batchId);
      expect(failed.overall_status).toBe('partial');
      const a = failed.files.find((f) => f.remote_key === 'flaky/a.bin');
      expect(a).toMatchObject({ status: 's4_upload_failed', retry_count: 2 });
      expect(a?.error_message).toBeTruthy();
    } finally {
      mega.setUploadError(null);
    }
    const retry = await api<{ status: string; restarted: string[] }>('POST', `/api/batches/${batchId}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body.restarted).toEqual(['flaky/a.bin']);
    const done = await untilEnded(batchId);
    expect(done.overall_status).toBe('completed');
    expect((await downloadSha256(mega, '/Flaky/flaky/a.bin')).sha256).toBe(shas.get('flaky/a.bin'));
  });
});

describe('megaferry serve as a process', () => {
  function serve(): { child: ChildProcess; url: Promise<string>; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...peerEnv(),
        MEGAFERRY_PORT: '0',
        MEGAFERRY_TOKEN: TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const url = new Promise<string>((resolveUrl, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1]) resolveUrl(m[1]);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${out}`)));
    });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, url, exit };
  }

  it('prints its address and the UI address with the token', async () => {
    const s = serve();
    const url = await s.url;
    const health = await api<{ ok: boolean }>('GET', '/api/health', undefined, { base: url, token: null });
    expect(health.body.ok).toBe(true);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });

  it('after SIGTERM leaves the batch resumable; after SIGKILL the next start finishes it, each file once in MEGA', async () => {
    for (const [signal, prefix] of [
      ['SIGTERM', 'term/'],
      ['SIGKILL', 'kill/'],
    ] as const) {
      const first = serve();
      const url = await first.url;
      const start = await api<BatchStarted>(
        'POST',
        '/api/batches',
        { bucket: BUCKET, prefix, target: '/Restart', max_concurrent: 2 },
        { base: url },
      );
      expect(start.status).toBe(202);
      const batchId = start.body.batch_id;
      await waitFor(
        'one file done',
        async () =>
          (await api<BatchStatus>('GET', `/api/batches/${batchId}`, undefined, { base: url })).body
            .completed >= 1,
        60_000,
      );
      first.child.kill(signal);
      await first.exit;
      const middle = await service.getBatch(batchId);
      expect(middle.overall_status, signal).toBe('in_progress');
      if (signal === 'SIGTERM') expect(middle.transferring, 'nothing left processing after SIGTERM').toBe(0);

      const second = serve();
      const url2 = await second.url;
      const status = await untilEnded(batchId, url2);
      expect(status.overall_status, JSON.stringify(status.files.filter((f) => f.status !== 'done'))).toBe(
        'completed',
      );
      for (const f of status.files) {
        expect(await listPath(mega, f.s4_key), `copies of ${f.s4_key}`).toHaveLength(1);
        expect((await downloadSha256(mega, f.s4_key)).sha256).toBe(shas.get(f.remote_key));
      }
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  }, 180_000);
});
