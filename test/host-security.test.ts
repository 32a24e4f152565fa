/**
 * The headless host tried as an attacker would, against real peers (s3rver, mega-mock, the
 * embedded store): every spelling of a protected path without the token, the static UI's folder,
 * hostile inputs that must be a 4xx naming the field and change nothing (store, data folder,
 * MEGA), bodiless POSTs, oversized bodies, security headers, and the token kept out of the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, tokenMatches, type RunningHost } from '../src/main/host/server';
import type { BatchStarted, BatchStatus } from '../src/shared/contract';
import { API_SECURITY_POLICY, HOSTED_UI_SECURITY_POLICY } from '../src/shared/web-policy';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { ferryState, rawRequest, type RawAnswer } from './peers/host-probe';
import { testBytes, waitFor } from './peers/fixtures';

const BUCKET = 'sec-bucket';
const TOKEN = 'sec-token-4f1c9a7e2b';
const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'megaferry.mjs');

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let dataDir: string;
let service: FerryService;
let host: RunningHost;
let doneBatch: string;

function raw(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  return rawRequest(host.url, method, path, opts);
}

function json(answer: RawAnswer): unknown {
  return JSON.parse(answer.body);
}

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
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

const stateOf = () => ferryState(service, dataDir, mega);

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-sec-'));
  dataDir = join(work, 'data');
  for (let i = 0; i < 3; i++) await s3.put(BUCKET, `ok/${i}.bin`, testBytes(1000 + i, i));
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, dataDir)), { resume: false });
  host = await startHost(service, {
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    uiDir: join(ROOT, 'out', 'renderer'),
  });
  const started = await api<BatchStarted>('POST', '/api/batches', {
    bucket: BUCKET,
    prefix: 'ok/',
    target: '/Sec',
  });
  expect(started.status).toBe(202);
  doneBatch = started.body.batch_id;
  await waitFor('the first batch to end', async () => {
    const r = await api<BatchStatus>('GET', `/api/batches/${doneBatch}`);
    return r.body.overall_status === 'completed' ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Ways of writing a protected path that a router, a proxy or a file system may take for it. */
const PROTECTED_SPELLINGS = [
  '/api/batches',
  '/%61pi/batches',
  '/%2561pi/batches',
  '/api/%62atches',
  '/%61%70%69/%62%61%74%63%68%65%73',
  '//api/batches',
  '/api//batches',
  '///api///batches',
  '/api/./batches',
  '/./api/batches',
  '/api/x/../batches',
  '/api/%2e%2e/api/batches',
  '/x/../api/batches',
  '/API/batches',
  '/Api/Batches',
  '/api/batches.',
  '/api./batches',
  '/api/batches/',
  '/api/batches%2f',
  '/api%2fbatches',
  '/api\\batches',
  '/api/batches?x=1',
  '/api/batches?access_token=' + TOKEN,
  '/api/batches#x',
  '/api/batches;x',
  '/api/batches%00',
  '/api/batches/batch_abc',
  '/api/batches/batch_abc/cancel',
  '/api/batches/batch_abc/retry',
  '/api/files',
  '/api/s3/buckets',
  '/api/s3/objects?bucket=' + BUCKET,
  '/api/settings',
  '/%61pi/settings',
  '/api/settings/test',
  '/api/events',
  '/%61pi/events',
  '/api/unknown',
  '/api',
  '/api/health/..',
  '/api/health/../batches',
];

describe('authentication is decided where routing is', () => {
  it('answers 401 to every spelling of a protected path, whatever the method, without the token', async () => {
    const before = await stateOf();
    for (const path of PROTECTED_SPELLINGS) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
        const variants: Record<string, string>[] = [
          {},
          { Authorization: 'Bearer wrong-token' },
          { Authorization: `Basic ${TOKEN}` },
        ];
        for (const headers of variants) {
          const body =
            method === 'POST' || method === 'PUT'
              ? JSON.stringify({ bucket: BUCKET, keys: ['ok/0.bin'] })
              : undefined;
          const answer = await raw(method, path, {
            headers: { ...headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
            body,
          });
          expect(answer.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
          if (method !== 'HEAD') expect(json(answer)).toEqual({ error: expect.stringMatching(/token/) });
          expect(answer.body).not.toContain(TOKEN);
        }
      }
    }
    expect(await stateOf()).toEqual(before);
  });

  it('lets the same spellings through with the token (they do reach the protected routes)', async () => {
    for (const path of ['/%61pi/batches', '/api/%62atches', '/%61%70%69/%62%61%74%63%68%65%73']) {
      const answer = await raw('GET', path, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(answer.status, path).toBe(200);
      expect(Array.isArray(json(answer))).toBe(true);
    }
  });

  it('takes ?access_token= on the event stream only, and /api/health without a token', async () => {
    const events = await fetch(`${host.url}/api/events?access_token=${TOKEN}`);
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(events.headers.get('cache-control')).toMatch(/no-store/);
    await events.body?.cancel();
    const wrong = await raw('GET', '/api/events?access_token=nope');
    expect(wrong.status).toBe(401);
    const health = await raw('GET', '/%61pi/health');
    expect(health.status).toBe(200);
    expect(json(health)).toMatchObject({ ok: true, store: 'embedded' });
  });

  it('compares tokens by their hashes, whatever their lengths', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    for (const other of ['', TOKEN.slice(0, -1), TOKEN + 'x', TOKEN.toUpperCase(), 'x'.repeat(10_000)]) {
      expect(tokenMatches(other, TOKEN)).toBe(false);
    }
  });
});

describe('the static UI', () => {
  it('serves no file outside its folder', async () => {
    const outside = [
      '/../package.json',
      '/%2e%2e/package.json',
      '/%2e%2e%2fpackage.json',
      '/..%2fpackage.json',
      '/assets/../../package.json',
      '/assets/..%2f..%2fpackage.json',
      '/..\\package.json',
      '/%252e%252e/package.json',
      '/index.html/../../package.json',
      '/.env',
      '/etc/passwd',
      '/../../../../etc/passwd',
    ];
    for (const path of outside) {
      const answer = await raw('GET', path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toMatch(/"name":\s*"megaferry"|root:x:0/);
    }
  });

  it('serves the UI with the security headers, and API answers uncached', async () => {
    const page = await raw('GET', '/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<!doctype html>/i);
    expect(page.headers['content-security-policy']).toBe(HOSTED_UI_SECURITY_POLICY);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-frame-options']).toBe('DENY');
    for (const answer of [
      await raw('GET', '/api/batches', { headers: { Authorization: `Bearer ${TOKEN}` } }),
      await raw('GET', '/api/health'),
      await raw('GET', '/api/batches'),
      await raw('GET', '/api/nope'),
    ]) {
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['content-security-policy']).toBe(API_SECURITY_POLICY);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
    }
  });
});

describe('hostile input is a 4xx naming the field, and changes nothing', () => {
  const start = (fields: Record<string, unknown>) => ({ bucket: BUCKET, target: '/Hostile', ...fields });
  const cases: [string, string, string, unknown, number, RegExp][] = [
    [
      'key ".."',
      'POST',
      '/api/batches',
      start({ keys: ['..'] }),
      400,
      /keys\[\] "\.\." has "\." or "\.\." path segments/,
    ],
    ['key "."', 'POST', '/api/batches', start({ keys: ['.'] }), 400, /keys\[\] "\." has/],
    [
      'key ../../etc/passwd',
      'POST',
      '/api/batches',
      start({ keys: ['../../etc/passwd'] }),
      400,
      /keys\[\].*outside the target/,
    ],
    [
      'key ok/../../../x.bin',
      'POST',
      '/api/batches',
      start({ keys: ['ok/../../../x.bin'] }),
      400,
      /keys\[\].*segments/,
    ],
    [
      'key with NUL',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin\u0000'] }),
      400,
      /keys\[\].*control characters/,
    ],
    [
      'key with BEL',
      'POST',
      '/api/batches',
      start({ keys: ['ok/\u0007.bin'] }),
      400,
      /keys\[\].*control characters/,
    ],
    [
      'key with a newline',
      'POST',
      '/api/batches',
      start({ keys: ['ok/a\nb'] }),
      400,
      /keys\[\].*control characters/,
    ],
    [
      'key with DEL',
      'POST',
      '/api/batches',
      start({ keys: ['ok/\u007f'] }),
      400,
      /keys\[\].*control characters/,
    ],
    [
      'a 2000-byte key',
      'POST',
      '/api/batches',
      start({ keys: ['k'.repeat(2000)] }),
      400,
      /keys\[\].*1024 bytes/,
    ],
    ['an empty key', 'POST', '/api/batches', start({ keys: [''] }), 400, /keys\[\].*empty/],
    [
      'items key ../x.bin',
      'POST',
      '/api/batches',
      start({ items: [{ key: '../x.bin', code: 'X' }] }),
      400,
      /items\[\]\.key "\.\.\/x\.bin" has/,
    ],
    [
      'items code with NUL',
      'POST',
      '/api/batches',
      start({ items: [{ key: 'ok/0.bin', code: 'a\u0000' }] }),
      400,
      /items\[\]\.code must not contain control characters/,
    ],
    [
      'target with NUL',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], target: '/bad\u0000dir' }),
      400,
      /target contains control characters/,
    ],
    [
      'target with ..',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], target: '/a/../b' }),
      400,
      /target must not contain "\." or "\.\."/,
    ],
    [
      'target relative',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], target: 'etc' }),
      400,
      /target must be a folder path starting with "\/"/,
    ],
    [
      'prefix ../',
      'POST',
      '/api/batches',
      start({ prefix: '../' }),
      400,
      /prefix has "\." or "\.\." path segments/,
    ],
    [
      'prefix with NUL',
      'POST',
      '/api/batches',
      start({ prefix: 'ok/\u0000' }),
      400,
      /prefix contains control characters/,
    ],
    [
      'bucket ../etc',
      'POST',
      '/api/batches',
      { bucket: '../etc', keys: ['a'] },
      400,
      /bucket must be an S3 bucket name/,
    ],
    ['bucket as an operator', 'POST', '/api/batches', { bucket: { $gt: '' }, keys: ['a'] }, 400, /bucket/],
    [
      'keys as an operator',
      'POST',
      '/api/batches',
      start({ keys: { $ne: null } }),
      400,
      /keys must be a list/,
    ],
    [
      'key as an operator',
      'POST',
      '/api/batches',
      start({ keys: [{ $regex: '.*' }] }),
      400,
      /keys\[\] must be object keys/,
    ],
    [
      'max_concurrent as an operator',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], max_concurrent: { $gt: 0 } }),
      400,
      /max_concurrent must be an integer from 1 to 5/,
    ],
    [
      'force as a string',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], force: 'true' }),
      400,
      /force must be true or false/,
    ],
    [
      'a body that is a list',
      'POST',
      '/api/batches',
      [start({ keys: ['ok/0.bin'] })],
      400,
      /expected object/i,
    ],
    ['a body that is a string', 'POST', '/api/batches', 'ok/0.bin', 400, /expected object/i],
    [
      'an unknown field',
      'POST',
      '/api/batches',
      start({ keys: ['ok/0.bin'], $where: '1' }),
      400,
      /unknown field: \$where/,
    ],
    [
      'settings: a bucket with a path',
      'PUT',
      '/api/settings',
      { s3: { default_bucket: '../x' } },
      400,
      /s3\.default_bucket must be an S3 bucket name/,
    ],
    [
      'settings: a target with NUL',
      'PUT',
      '/api/settings',
      { mega: { default_target: '/a\u0000' } },
      400,
      /mega\.default_target contains control characters/,
    ],
    [
      'settings: a region with a newline',
      'PUT',
      '/api/settings',
      { s3: { region: 'us\neast' } },
      400,
      /s3\.region .*control characters/,
    ],
    [
      'settings: an operator',
      'PUT',
      '/api/settings',
      { transfers: { max_concurrent: { $gt: 1 } } },
      400,
      /transfers\.max_concurrent must be an integer/,
    ],
    [
      'settings: an unknown section',
      'PUT',
      '/api/settings',
      { admin: { on: true } },
      400,
      /unknown field: admin/,
    ],
    [
      'test: an unknown target',
      'POST',
      '/api/settings/test',
      { target: 'ftp' },
      400,
      /target must be one of s3, mega, s4, local, mongodb/,
    ],
  ];

  it.each(cases)('%s → %s %s answers %#', async (_name, method, path, body, status, message) => {
    const before = await stateOf();
    const answer = await raw(method, path, {
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(status);
    const error = (json(answer) as { error: string }).error;
    expect(error).toMatch(message);
    expect(await stateOf()).toEqual(before);
  });

  it('a __proto__ key, a constructor.prototype key and malformed JSON are 400', async () => {
    const before = await stateOf();
    for (const [body, message] of [
      ['{"__proto__":{"isAdmin":true},"bucket":"sec-bucket","keys":["ok/0.bin"]}', /__proto__/],
      ['{"constructor":{"prototype":{"x":1}},"bucket":"sec-bucket"}', /__proto__/],
      ['{"bucket": ', /malformed JSON body/],
      ['\u0000', /malformed JSON body/],
    ] as const) {
      const answer = await raw('POST', '/api/batches', {
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body,
      });
      expect(answer.status, body).toBe(400);
      expect((json(answer) as { error: string }).error).toMatch(message);
    }
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(await stateOf()).toEqual(before);
  });

  it('an S3 listing with a bad bucket name is 400, a missing bucket 404, never 500', async () => {
    const before = await stateOf();
    const bad = await raw('GET', '/api/s3/objects?bucket=..%2F..%2Fetc', {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(bad.status).toBe(400);
    expect((json(bad) as { error: string }).error).toMatch(/bucket must be an S3 bucket name/);
    const missing = await raw('GET', '/api/s3/objects?bucket=no-such-bucket-here', {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(missing.status).toBe(404);
    const badToken = await raw('GET', `/api/s3/objects?bucket=${BUCKET}&token=forged-token`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(badToken.status).toBe(400);
    expect((json(badToken) as { error: string }).error).toMatch(/token is not valid for this listing/);
    expect(await stateOf()).toEqual(before);
  });

  it('a forged or foreign listing cursor is 400', async () => {
    const page = await api<{ files: unknown[]; next_cursor: string | null }>(
      'GET',
      '/api/files?status=done&limit=1',
    );
    expect(page.status).toBe(200);
    expect(page.body.next_cursor).toBeTruthy();
    const next = await api<{ files: unknown[] }>(
      'GET',
      `/api/files?status=done&limit=1&cursor=${encodeURIComponent(page.body.next_cursor ?? '')}`,
    );
    expect(next.status).toBe(200);
    expect(next.body.files).toHaveLength(1);
    const forged = Buffer.from(JSON.stringify([1e300, 'a', 'b'])).toString('base64url');
    for (const cursor of [
      forged,
      `${forged}.AAAAAAAAAAAAAAAAAAAAAA`,
      (page.body.next_cursor ?? '') + 'x',
      'not-a-cursor',
    ]) {
      const r = await api<{ error: string }>(
        'GET',
        `/api/files?status=done&cursor=${encodeURIComponent(cursor)}`,
      );
      expect(r.status, cursor).toBe(400);
      expect(r.body.error).toMatch(/cursor is not valid/);
    }
    // The same cursor for another query (foreign) is refused too.
    const foreign = await api<{ error: string }>(
      'GET',
      `/api/files?status=error&cursor=${encodeURIComponent(page.body.next_cursor ?? '')}`,
    );
    expect(foreign.status).toBe(400);
  });

  it('a body over the limit is 413 with a JSON answer, and nothing changes', async () => {
    const before = await stateOf();
    const huge = JSON.stringify({ bucket: BUCKET, keys: ['x'.repeat(5 * 1024 * 1024)] });
    const res = await fetch(`${host.url}/api/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: huge,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/too large.*4 MiB/) });
    expect(await stateOf()).toEqual(before);
  });
});

describe('a POST that carries no body', () => {
  it('is accepted whatever its Content-Type', async () => {
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      undefined,
    ]) {
      const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}`, 'Content-Length': '0' };
      if (contentType) headers['Content-Type'] = contentType;
      const retry = await raw('POST', `/api/batches/${doneBatch}/retry`, { headers });
      expect(retry.status, String(contentType)).toBe(202);
      expect(json(retry)).toMatchObject({ batch_id: doneBatch, status: 'started' });
      await waitFor('the retried batch to end', async () => {
        const r = await api<BatchStatus>('GET', `/api/batches/${doneBatch}`);
        return r.body.overall_status === 'completed' ? true : undefined;
      });
      const cancel = await raw('POST', '/api/batches/batch_nosuch1/cancel', { headers });
      expect(cancel.status, String(contentType)).toBe(404);
      expect((json(cancel) as { error: string }).error).toMatch(/unknown batch/);
    }
    // A body that is not JSON is refused with the allowed type named.
    const xml = await raw('POST', '/api/batches', {
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/xml' },
      body: '<batch/>',
    });
    expect(xml.status).toBe(415);
    expect((json(xml) as { error: string }).error).toMatch(/application\/json/);
  });
});

describe('the token in the logs', () => {
  it('never appears in what `megaferry serve` prints, even at debug level', async () => {
    const env = {
      ...process.env,
      ...ferryEnv({ s3, mega }, join(work, 'serve-data')),
      MEGAFERRY_TOKEN: TOKEN,
      MEGAFERRY_PORT: '0',
      MEGAFERRY_LOG_LEVEL: 'debug',
    };
    const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const url = await waitFor(
        'serve to listen',
        () => /listening on (http:\/\/\S+)/.exec(output)?.[1],
        30_000,
      );
      const auth = { authorization: `Bearer ${TOKEN}` };
      await fetch(`${url}/api/batches`, { headers: auth });
      await fetch(`${url}/api/batches`, { headers: { authorization: `Bearer ${TOKEN}x` } });
      await fetch(`${url}/api/files?q=${TOKEN}`, { headers: auth });
      await fetch(`${url}/api/nope?access_token=${TOKEN}`);
      const events = await fetch(`${url}/api/events?access_token=${TOKEN}`);
      await events.body?.cancel();
      await fetch(`${url}/api/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{',
      });
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    // The UI address line carries the token on purpose (printed once, for the user to open).
    const logged = output
      .split('\n')
      .filter((line) => !line.includes('#token='))
      .join('\n');
    expect(logged).toMatch(/incoming request|request completed|"msg"/);
    expect(logged).not.toContain(TOKEN);
    expect((await stat(join(work, 'serve-data'))).isDirectory()).toBe(true);
  });
});
