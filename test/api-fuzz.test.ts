/**
 * Property-based fuzzing of every REST route and every IPC method with hostile input (fast-check):
 * wrong types, huge and unicode-edge strings, operators such as {"$gt": ""}, "__proto__" keys,
 * encoded and re-spelled paths. Against real peers (s3rver, mega-mock, the embedded store), every
 * answer must be a 2xx or a 4xx with a JSON `{ error }` — never a 5xx, never a hang — and when the
 * run is over the documents, batches, data folder and MEGA's nodes must be as they were.
 *
 * The run is seeded (FUZZ_SEED, default a fixed seed; fast-check prints the seed and the shrunk
 * counterexample on a failure) and bounded (FUZZ_RUNS per property).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FERRY_API_METHODS, type FerryApiMethod } from '../src/shared/api';
import { API_PREFIX, HTTP_ROUTES } from '../src/shared/http-routes';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import { createDispatcher } from '../src/main/desktop/ipc-dispatch';
import type { BatchStatus } from '../src/shared/contract';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { ferryState, rawRequest, type RawAnswer } from './peers/host-probe';
import { testBytes, waitFor } from './peers/fixtures';

const BUCKET = 'fuzz-bucket';
const TOKEN = 'fuzz-token-8d3e1f0a';
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let dataDir: string;
let service: FerryService;
let host: RunningHost;
let initial: unknown;
/** Requests sent per route, for the report at the end. */
const tried = new Map<string, number>();

const AUTH = { Authorization: `Bearer ${TOKEN}` };
/** The methods that change state; no hostile call to them may succeed. */
const WRITES: readonly FerryApiMethod[] = ['startBatch', 'cancelBatch', 'retryBatch'];

function count(route: string): void {
  tried.set(route, (tried.get(route) ?? 0) + 1);
}

/** The property every answer must have: a 2xx, or a 4xx with one JSON error line; never 5xx or a hang. */
function checkAnswer(answer: RawAnswer, what: string): void {
  expect(answer.status, `${what}: no answer (hang?)`).not.toBeNaN();
  expect(answer.status, `${what}: ${answer.body.slice(0, 300)}`).toBeLessThan(500);
  expect(answer.status, what).toBeGreaterThanOrEqual(200);
  if (answer.status >= 400 && answer.headers['content-type']?.startsWith('application/json')) {
    const body = JSON.parse(answer.body) as { error?: unknown };
    expect(typeof body.error, `${what}: ${answer.body.slice(0, 300)}`).toBe('string');
    expect(body.error, what).not.toMatch(/\n\s+at /); // no stack
    expect(answer.body).not.toContain(TOKEN);
  } else if (answer.status >= 400) {
    expect(answer.body, `${what}: a 4xx without a JSON body`).toBe('');
  }
}

// ------------------------------------------------------------------------------ arbitraries

const EDGE_STRINGS = [
  '',
  '.',
  '..',
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f',
  '%00',
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u202e',
  '\u2028',
  '\ufeff',
  '\ud800',
  '\udfff',
  '😀',
  'ﬃ',
  'İ',
  '$gt',
  '$where',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '{"$gt":""}',
  '/etc/passwd',
  'local:/etc',
  'local:',
  'C:\\Windows',
  '\\\\server\\share',
  'a'.repeat(5000),
  '9'.repeat(400),
  '1e309',
  '-0',
  'NaN',
  'Infinity',
  'null',
  'true',
];

const hostileString = fc.oneof(
  fc.constantFrom(...EDGE_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 3000, minLength: 1025 }),
);

const operator = fc.oneof(
  fc.constant({ $gt: '' }),
  fc.constant({ $ne: null }),
  fc.constant({ $where: 'sleep(1000)' }),
  fc.constant({ $regex: '.*' }),
  fc.constant({ $in: ['a', 'b'] }),
  fc.record({ $expr: fc.jsonValue() }),
);

/** Any JSON value, biased to the hostile. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  operator,
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 5 }),
);

/** A control character put somewhere in a string. */
const withControl = fc
  .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 31 }), fc.string({ maxLength: 20 }))
  .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);

/** Object keys that must be refused (no path inside the target), never valid ones. */
const badKey = fc.oneof(
  fc.constantFrom('', '.', '..', '../x.bin', 'ok/../../../x.bin', './a', 'a/.', 'a/..', '..\u0000'),
  withControl,
  fc
    .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('.', '..'), fc.string({ maxLength: 10 }))
    .map(([a, dots, b]) => `${a}/${dots}/${b}`),
  fc.string({ minLength: 1025, maxLength: 2000 }),
  operator,
  fc.integer(),
  fc.constant(null),
);

/** Folder paths that must be refused. */
const badTarget = fc.oneof(
  fc.constantFrom('', 'Backup', '/a/../b', '/./x', '/..', '../x', 'local:/etc', '\\Windows'),
  withControl.map((s) => `/${s}`),
  fc.string({ minLength: 1025, maxLength: 1500 }).map((s) => `/${s}`),
  operator,
  fc.integer(),
);

/** Settings that must be refused, one field at a time. */
const badSettings = fc.oneof(
  fc.record({
    s3: fc.record({ endpoint: fc.oneof(fc.constantFrom('ftp://x', 'x y', 'http://a\nb'), operator) }),
  }),
  fc.record({ s3: fc.record({ region: fc.oneof(withControl, operator, fc.integer()) }) }),
  fc.record({
    s3: fc.record({
      default_bucket: fc.oneof(badKey, fc.constantFrom('../x', 'a', 'a/b', '-ab')).filter((b) => b !== ''),
    }),
  }),
  fc.record({ s3: fc.record({ force_path_style: fc.oneof(hostileString, fc.integer()) }) }),
  fc.record({ mega: fc.record({ default_target: badTarget }) }),
  fc.record({
    mega: fc.record({ mfa_code: fc.oneof(fc.constantFrom('12345', '1234567', 'abcdef'), operator) }),
  }),
  fc.record({ mega: fc.record({ email: fc.oneof(withControl, operator, fc.integer()) }) }),
  fc.record({
    mongodb: fc.record({ uri: fc.oneof(fc.constantFrom('http://x', 'mongodb:/x', 'x'), withControl) }),
  }),
  fc.record({
    transfers: fc.record({
      max_concurrent: fc.oneof(fc.constantFrom(0, 6, 1.5, -1, '3'), operator),
    }),
  }),
  fc.record({
    transfers: fc.record({ connections_per_file: fc.oneof(fc.constantFrom(0, 17, 2.5), operator) }),
  }),
  fc.record({
    ui: fc.record({
      language: fc.oneof(
        fc.constantFrom('fr', 'zh', 'zh-CN', 'EN', 'zh-hans', ''),
        hostileString.filter((l) => !['system', 'en', 'zh-Hans', 'zh-Hant'].includes(l)),
        operator,
      ),
    }),
  }),
  fc
    .dictionary(hostileString, hostileValue, { minKeys: 1, maxKeys: 3 })
    .filter((d) => !['s3', 'mega', 'mongodb', 'transfers', 'ui'].some((k) => k in d)),
);

/** Batch requests that must be refused: one field of a valid request made hostile, or anything else. */
const badBatch = fc.oneof(
  fc.record({ bucket: fc.constant(BUCKET), keys: fc.array(badKey, { minLength: 1, maxLength: 4 }) }),
  fc.record({
    bucket: fc.constant(BUCKET),
    items: fc.array(fc.record({ key: badKey, code: fc.option(hostileString) }), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
  fc.record({ bucket: fc.constant(BUCKET), keys: fc.constant(['ok/0.bin']), target: badTarget }),
  fc.record({
    bucket: fc.constant(BUCKET),
    keys: fc.constant(['ok/0.bin']),
    max_concurrent: fc.oneof(fc.constantFrom(0, 6, 2.5, -1, '3', 1e9), operator),
  }),
  fc.record({
    bucket: fc.constant(BUCKET),
    keys: fc.constant(['ok/0.bin']),
    force: fc.oneof(hostileString, operator),
  }),
  fc.record({
    bucket: fc.oneof(hostileString, operator).filter((b) => b !== BUCKET),
    keys: fc.constant(['ok/0.bin']),
  }),
  fc.record({
    bucket: fc.constant(BUCKET),
    prefix: fc.oneof(withControl, fc.constantFrom('../', './x/', 'a/../'), operator),
  }),
  fc.record({ bucket: fc.constant(BUCKET), keys: fc.oneof(hostileString, operator, fc.integer()) }),
  fc.dictionary(hostileString, hostileValue, { maxKeys: 4 }),
  hostileValue,
);

/** Percent-encodes `text` byte by byte (a lone surrogate becomes U+FFFD, as UTF-8 has it). */
function encodeBytes(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** A path, percent-encoded or re-spelled in ways routers and proxies disagree about. */
function respelled(path: string): fc.Arbitrary<string> {
  // The event stream takes ?access_token= by design; every other route must ignore it.
  const suffixes = ['', '/', '.', '?a=1', '#x', '/.', '%20'];
  if (!path.endsWith('/events')) suffixes.push('?access_token=' + TOKEN);
  return fc
    .array(fc.constantFrom('keep', 'encode', 'ENCODE', 'double', 'upper', 'slash', 'dot'), {
      minLength: path.length,
      maxLength: path.length,
    })
    .chain((ops) =>
      fc.constantFrom(...suffixes).map((suffix) => {
        let out = '';
        [...path].forEach((ch, i) => {
          const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
          switch (ops[i]) {
            case 'encode':
              out += ch === '/' ? ch : `%${hex}`;
              break;
            case 'ENCODE':
              out += ch === '/' ? ch : `%${hex.toUpperCase()}`;
              break;
            case 'double':
              out += ch === '/' ? ch : `%25${hex}`;
              break;
            case 'upper':
              out += ch.toUpperCase();
              break;
            case 'slash':
              out += ch === '/' ? '//' : ch;
              break;
            case 'dot':
              out += ch === '/' ? '/./' : ch;
              break;
            default:
              out += ch;
          }
        });
        return out + suffix;
      }),
    );
}

// ------------------------------------------------------------------------------ peers

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-fuzz-'));
  dataDir = join(work, 'data');
  for (let i = 0; i < 2; i++) await s3.put(BUCKET, `ok/${i}.bin`, testBytes(500 + i, i));
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, dataDir)), { resume: false });
  host = await startHost(service, { host: '127.0.0.1', port: 0, token: TOKEN });
  // One finished batch, so the routes have something to read and protect.
  const started = await service.startBatch({ bucket: BUCKET, prefix: 'ok/', target: '/Fuzz' });
  await waitFor('the batch to end', async () => {
    const status: BatchStatus = await service.getBatch(started.batch_id);
    return status.overall_status === 'completed' ? true : undefined;
  });
  initial = await ferryState(service, dataDir, mega);
}, 120_000);

afterAll(async () => {
  if (tried.size > 0) {
    const lines = [...tried.entries()].sort().map(([route, n]) => `  ${route}: ${n}`);
    console.log(`fuzz seed ${SEED}, requests per route:\n${lines.join('\n')}`);
  }
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

const params = (n = RUNS) => ({ seed: SEED, numRuns: n, endOnFailure: true });

/** Sends `body` (a JSON value, or raw text) to a route with the token. */
function send(method: string, path: string, body?: unknown, raw = false): Promise<RawAnswer> {
  const text = body === undefined ? undefined : raw ? String(body) : JSON.stringify(body);
  return rawRequest(host.url, method, path, {
    headers: { ...AUTH, ...(text === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: text,
  });
}

describe('every REST route with hostile input', () => {
  it('POST /api/batches refuses every hostile batch request and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(badBatch, async (body) => {
        count('POST /api/batches');
        const answer = await send('POST', '/api/batches', body === undefined ? null : body);
        checkAnswer(answer, `POST /api/batches ${JSON.stringify(body)?.slice(0, 200)}`);
        expect(answer.status).toBeGreaterThanOrEqual(400);
      }),
      params(RUNS * 2),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });

  it('bodies with "__proto__", "constructor" and broken JSON are 400 on every body route', async () => {
    const texts = fc.oneof(
      fc.constantFrom(
        '{"__proto__":{"polluted":true}}',
        '{"bucket":"fuzz-bucket","keys":["ok/0.bin"],"__proto__":{"force":true}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"s3":{"__proto__":{"x":1}}}',
        '{',
        '{"a":1}}',
        '[',
        '\u0000',
        '\ufeff{}',
        '{"a":"\\ud800"}',
        'null',
        '1e999',
        '"' + 'x'.repeat(1000) + '"',
      ),
      fc.string({ maxLength: 100 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    const bodyRoutes = FERRY_API_METHODS.filter((m) => HTTP_ROUTES[m].argument === 'body');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...bodyRoutes), texts, async (method, text) => {
        const route = HTTP_ROUTES[method];
        count(`${route.method} ${API_PREFIX}${route.path} (raw body)`);
        const answer = await send(route.method, API_PREFIX + route.path, text, true);
        checkAnswer(answer, `${route.method} ${route.path} ${text.slice(0, 100)}`);
      }),
      params(),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });

  it('PUT /api/settings and POST /api/settings/test refuse hostile settings and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(badSettings, async (patch) => {
        count('PUT /api/settings');
        const answer = await send('PUT', '/api/settings', patch);
        checkAnswer(answer, `PUT /api/settings ${JSON.stringify(patch).slice(0, 200)}`);
        expect(answer.status).toBe(400);
      }),
      params(),
    );
    const tests = fc.oneof(
      fc.record({
        target: fc
          .oneof(hostileString, operator)
          .filter((t) => !['s3', 'mega', 'mongodb'].includes(t as string)),
      }),
      fc.record({ target: fc.constantFrom('s3', 'mega', 'mongodb'), draft: badSettings }),
      hostileValue,
    );
    await fc.assert(
      fc.asyncProperty(tests, async (body) => {
        count('POST /api/settings/test');
        const answer = await send('POST', '/api/settings/test', body);
        checkAnswer(answer, `POST /api/settings/test ${JSON.stringify(body)?.slice(0, 200)}`);
        expect(answer.status).toBe(400);
      }),
      params(),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });

  it('batch ids: GET, cancel and retry answer 404 or 400 for anything but a batch', async () => {
    const idRoutes = FERRY_API_METHODS.filter((m) => HTTP_ROUTES[m].argument === 'id');
    const ids = fc.oneof(
      hostileString,
      fc.constantFrom('batch_', 'batch_0', 'BATCH_abc', 'batch_abc/../..', 'batch_x%2f..', '%00', '%', '%zz'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...idRoutes), ids, fc.boolean(), async (method, id, encode) => {
        const route = HTTP_ROUTES[method];
        count(`${route.method} ${API_PREFIX}${route.path}`);
        // Either every byte encoded, or only what cannot stand in a request line.
        const segment = encode ? encodeBytes(id) : id.replace(/[^\x21-\x7e]|[#?%]/g, encodeBytes);
        const answer = await send(route.method, API_PREFIX + route.path.replace(':id', segment));
        checkAnswer(answer, `${route.method} ${route.path} ${JSON.stringify(id).slice(0, 100)}`);
        expect(answer.status).toBeGreaterThanOrEqual(400);
      }),
      params(),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });

  it('query routes: hostile query strings are 400 (or an answer that reads only)', async () => {
    const queryValue = fc.oneof(
      hostileString,
      fc.constantFrom('done', '10', '0', '-1', '1001', '1e3', BUCKET, 'ok/'),
    );
    const queries = fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          'status',
          'q',
          'limit',
          'cursor',
          'bucket',
          'prefix',
          'token',
          'access_token',
          '__proto__',
          'constructor',
        ),
        hostileString,
      ),
      fc.oneof(queryValue, fc.array(queryValue, { minLength: 2, maxLength: 3 })),
      { maxKeys: 4 },
    );
    const routes = FERRY_API_METHODS.filter((m) => HTTP_ROUTES[m].method === 'GET');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), queries, async (method, query) => {
        const route = HTTP_ROUTES[method];
        count(`GET ${API_PREFIX}${route.path}${route.argument === 'query' ? '' : ' (query ignored)'}`);
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) {
          for (const one of Array.isArray(v) ? v : [v]) search.append(k, String(one));
        }
        const path = API_PREFIX + route.path.replace(':id', 'batch_nosuch') + '?' + search.toString();
        const answer = await send('GET', path);
        checkAnswer(answer, `GET ${path.slice(0, 200)}`);
      }),
      params(RUNS * 2),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });

  it('no spelling of a protected path, with any method, gets past the router without the token', async () => {
    const protectedPaths = [
      ...FERRY_API_METHODS.filter((m) => HTTP_ROUTES[m].access === 'token').map((m) =>
        (API_PREFIX + HTTP_ROUTES[m].path).replace(':id', 'batch_abc'),
      ),
      `${API_PREFIX}/events`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...protectedPaths).chain((p) => respelled(p)),
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
        fc.constantFrom<Record<string, string>>({}, { Authorization: 'Bearer x' }, { Authorization: TOKEN }),
        async (path, method, headers) => {
          count('unauthenticated spellings');
          const answer = await rawRequest(host.url, method, path, { headers });
          expect(answer.status, `${method} ${path}`).toBe(401);
        },
      ),
      params(RUNS * 2),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });
});

const CHANGES_WITHOUT_INPUT: string[] = ['pauseAll', 'resumeAll', 'clearFinished', 'showCleared'];

/** What such a method takes as "no input": nothing, or an empty plain object. */
function isNoInput(value: unknown): boolean {
  return (
    value === undefined ||
    (typeof value === 'object' &&
      value !== null &&
      Object.getPrototypeOf(value) === Object.prototype &&
      Object.keys(value).length === 0)
  );
}

describe('every IPC method with hostile arguments', () => {
  it('answers an envelope with a known kind, never an unexpected failure, and changes nothing', async () => {
    const dispatch = createDispatcher(() => service);
    const methodName = fc.oneof(
      { arbitrary: fc.constantFrom<string>(...FERRY_API_METHODS), weight: 6 },
      {
        arbitrary: fc.constantFrom(
          'constructor',
          '__proto__',
          'toString',
          'close',
          'onEvent',
          'manager',
          'store',
          'then',
        ),
        weight: 1,
      },
      { arbitrary: hostileString, weight: 1 },
    );
    const anything = fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withObjectString: true,
    });
    const argsFor = (name: string) =>
      name === 'startBatch'
        ? fc.oneof(
            badBatch.map((b) => [b]),
            fc.array(anything, { maxLength: 5 }),
          )
        : name === 'saveSettings'
          ? fc.oneof(
              badSettings.map((b) => [b]),
              fc.array(anything, { maxLength: 5 }).filter((a) => !isEmptyPatch(a)),
            )
          : CHANGES_WITHOUT_INPUT.includes(name)
            ? // Their whole purpose is a change, with no input: called with anything, they refuse it.
              fc.array(anything, { minLength: 1, maxLength: 5 }).filter((a) => !isNoInput(a[0]))
            : fc.oneof(fc.array(anything, { maxLength: 5 }), anything);
    await fc.assert(
      fc.asyncProperty(
        methodName.chain((m) => argsFor(m).map((args) => [m, args] as const)),
        async ([method, args]) => {
          count(`ipc ${FERRY_API_METHODS.includes(method as FerryApiMethod) ? method : '(unknown method)'}`);
          const answer = await dispatch(method, args);
          if (!answer.ok) {
            expect(answer.kind, `${method}: ${answer.error}`).not.toBe('unexpected');
            expect(answer.error.length).toBeGreaterThan(0);
          } else {
            // Only reads, or a settings patch or test that changes nothing, may succeed.
            expect(FERRY_API_METHODS.filter((m) => !WRITES.includes(m))).toContain(method);
          }
        },
      ),
      params(RUNS * 4),
    );
    expect(await ferryState(service, dataDir, mega)).toEqual(initial);
  });
});

/** `saveSettings({})`-like calls are valid and write nothing; they are not hostile. */
function isEmptyPatch(args: unknown[]): boolean {
  const first = args[0];
  return (
    first === undefined || first === null || (typeof first === 'object' && Object.keys(first).length === 0)
  );
}

describe('the fuzz run itself', () => {
  it('reached every route and every IPC method', () => {
    for (const method of FERRY_API_METHODS) {
      const route = HTTP_ROUTES[method];
      if (route.access === 'public' || route.argument === 'none') continue;
      const name = `${route.method} ${API_PREFIX}${route.path}`;
      expect(
        [...tried.keys()].some((k) => k.startsWith(name)),
        name,
      ).toBe(true);
    }
    for (const method of FERRY_API_METHODS) expect(tried.has(`ipc ${method}`), method).toBe(true);
  });
});
