/**
 * The store shared by real OS processes, on both adapters: the embedded SQLite file in one data
 * folder (the desktop app, the CLI and `serve` on one machine) and one MongoDB database (machines
 * sharing a queue). Every file is claimed by exactly one process, writes are never lost, and a
 * process killed while holding leases leaves them to be taken back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { EmbeddedStore } from '../src/main/store/embedded';
import { MongoStore } from '../src/main/store/mongo';
import type { MetadataStore, TransferRef } from '../src/main/store/port';
import { claimRule, queueRule, reclaimRule, releaseRule } from '../src/main/store/rules';
import { isDeadOwner } from '../src/main/engine/owner';
import { startMongo, type MongoPeer } from './peers/mongo';
import { waitFor } from './peers/fixtures';

const BUCKET = 'mp-bucket';
const DESTINATION = 'mega:mp@example.com';
const ref = (key: string): TransferRef => ({
  bucket_name: BUCKET,
  remote_key: key,
  destination: DESTINATION,
  s4_key: `/mp/${key}`,
});
let work: string;
let script: string;
let mongo: MongoPeer;

type StoreSpec = { kind: 'embedded'; dir: string } | { kind: 'mongodb'; uri: string; dbName: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'megaferry-mp-'));
  // Inside the repository, so the bundle resolves its packages (better-sqlite3, mongodb) from node_modules.
  script = resolve(__dirname, '..', 'out', 'test-peers', `store-process-${process.pid}.mjs`);
  await build({
    entryPoints: [resolve(__dirname, 'peers', 'store-process.ts')],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  mongo = await startMongo();
}, 120_000);

afterAll(async () => {
  await mongo?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (script) await rm(script, { force: true });
});

interface Line {
  key?: string;
  claimed?: boolean;
  owner?: string | null;
  queued?: boolean;
  result?: string;
  finished?: boolean;
  lost?: number;
  done?: boolean;
}

/** Runs one store process to its end (or, for `hold`, until it printed `done`), returning its lines. */
function runProcess(
  spec: StoreSpec,
  job: string,
  owner: string,
  keys: string[],
  startAt: number,
  leaseMs = 60_000,
): { lines: Promise<Line[]>; pid: () => number | undefined; kill: () => void; printedDone: Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      script,
      JSON.stringify({
        store: spec,
        job,
        owner,
        bucket: BUCKET,
        destination: DESTINATION,
        keys,
        leaseMs,
        startAt,
      }),
    ],
    {
      cwd: resolve(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let markDone!: () => void;
  const printedDone = new Promise<void>((r) => (markDone = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('"done":true')) markDone();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = new Promise<Line[]>((resolveLines, reject) => {
    child.on('exit', (code, signal) => {
      const parsed = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line);
      if (code === 0 || signal === 'SIGKILL') resolveLines(parsed);
      else reject(new Error(`store process ${owner} exited ${code ?? signal}: ${err}`));
    });
  });
  return { lines, pid: () => child.pid, kill: () => child.kill('SIGKILL'), printedDone };
}

async function seedPending(store: MetadataStore, keys: string[]): Promise<void> {
  for (const key of keys) {
    await store.applyFile(
      ref(key),
      queueRule(
        { ...ref(key), code: key, size: 1, etag: null },
        { batchId: 'batch_seed', force: false, newTransferId: `t-${key}` },
      ),
    );
  }
}

const fixtures: { name: string; spec: () => StoreSpec; open: (spec: StoreSpec) => MetadataStore }[] = [
  {
    name: 'embedded (SQLite in one data folder)',
    spec: () => ({ kind: 'embedded', dir: join(work, `data-${Math.random().toString(36).slice(2)}`) }),
    open: (spec) => new EmbeddedStore((spec as { dir: string }).dir),
  },
  {
    name: 'MongoDB (one database)',
    spec: () => ({ kind: 'mongodb', uri: mongo.uri, dbName: `mp_${Math.random().toString(36).slice(2)}` }),
    open: (spec) => new MongoStore(mongo.uri, { dbName: (spec as { dbName: string }).dbName }),
  },
];

describe.each(fixtures)('the store shared by OS processes: $name', ({ spec: makeSpec, open }) => {
  it('four processes claiming the same 120 files at once: each file claimed once, finished once', async () => {
    const spec = makeSpec();
    const store = open(spec);
    await store.init();
    try {
      const keys = Array.from({ length: 120 }, (_, i) => `f${String(i).padStart(3, '0')}`);
      await seedPending(store, keys);
      const startAt = Date.now() + 1500;
      // Each process walks the keys in its own order, so they collide everywhere.
      const runs = ['p1', 'p2', 'p3', 'p4'].map((owner, n) =>
        runProcess(spec, 'claim-finish', owner, n % 2 ? [...keys].reverse() : keys, startAt),
      );
      const results = await Promise.all(runs.map((r) => r.lines));
      const claims = new Map<string, string[]>();
      let lost = 0;
      for (const [n, lines] of results.entries()) {
        for (const line of lines) {
          if (!line.key || line.claimed === undefined) continue;
          if (line.claimed) claims.set(line.key, [...(claims.get(line.key) ?? []), `p${n + 1}`]);
          else lost++;
        }
      }
      for (const key of keys) expect(claims.get(key), key).toHaveLength(1);
      expect(lost).toBe(keys.length * 3); // the claims that lost to another process
      const docs = await store.getFiles(keys.map(ref));
      expect(docs.map((d) => d.status)).toEqual(keys.map(() => 'done'));
      expect(docs.every((d) => d.lease_owner === null || d.lease_owner === undefined)).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('three runners draining one queue of 150 transfers: each taken once, every runner gets work, lost claims counted', async () => {
    const spec = makeSpec();
    const store = open(spec);
    await store.init();
    try {
      const keys = Array.from({ length: 150 }, (_, i) => `d${String(i).padStart(3, '0')}`);
      await seedPending(store, keys);
      const startAt = Date.now() + 1500;
      const runs = ['r1', 'r2', 'r3'].map((owner) => runProcess(spec, 'drain', owner, [], startAt));
      const results = await Promise.all(runs.map((r) => r.lines));
      const takers = new Map<string, number>();
      let lost = 0;
      for (const lines of results) {
        for (const line of lines) {
          if (line.key && line.claimed) {
            expect(line.finished, line.key).toBe(true);
            takers.set(line.key, (takers.get(line.key) ?? 0) + 1);
          }
          if (line.lost !== undefined) lost += line.lost;
        }
      }
      for (const key of keys) expect(takers.get(key), key).toBe(1);
      // Every runner got work: the queue is shared, not taken whole by the first.
      for (const lines of results) expect(lines.filter((l) => l.claimed).length).toBeGreaterThan(0);
      const docs = await store.getFiles(keys.map(ref));
      expect(docs.every((d) => d.status === 'done')).toBe(true);
      console.info(`${keys.length} transfers drained by 3 processes: ${lost} claims lost to contention`);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('two processes queueing the same files while a third claims them: no document lost or doubled', async () => {
    const spec = makeSpec();
    const store = open(spec);
    await store.init();
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `q${i}`);
      const startAt = Date.now() + 1500;
      const runs = [
        runProcess(spec, 'queue', 'qa', keys, startAt),
        runProcess(spec, 'queue', 'qb', [...keys].reverse(), startAt),
        runProcess(spec, 'claim', 'c1', keys, startAt + 50),
      ];
      const [qa, qb] = await Promise.all(runs.map((r) => r.lines));
      const page = await store.listFiles({ limit: 1000 });
      const mine = page.files.filter((f) => f.bucket_name === BUCKET && f.remote_key.startsWith('q'));
      expect(mine.map((f) => f.remote_key).sort()).toEqual([...keys].sort());
      for (const doc of mine) {
        expect(['pending', 'processing']).toContain(doc.status);
        if (doc.status === 'processing') expect(doc.lease_owner).toBe('c1');
        // Owned by exactly one of the two batches; the other was told it is in progress there.
        expect(['batch_qa', 'batch_qb']).toContain(doc.batch_id);
      }
      for (const key of keys) {
        const a = qa?.find((l) => l.key === key);
        const b = qb?.find((l) => l.key === key);
        expect([a?.queued, b?.queued].filter(Boolean), key).toHaveLength(1);
        expect([a?.result, b?.result].sort(), key).toEqual(['already_in_progress', 'queued']);
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a process killed while holding leases: its files stay held until the lease or its death is seen', async () => {
    const spec = makeSpec();
    const store = open(spec);
    await store.init();
    try {
      const keys = ['k1', 'k2', 'k3'];
      await seedPending(store, keys);
      // An owner id of this host (host:pid:nonce), so the engine can tell when its process is gone.
      const holder = runProcess(spec, 'hold', 'self', keys, 0, 60_000);
      await holder.printedDone;
      const held = await store.findProcessing();
      expect(held.map((d) => d.remote_key).sort()).toEqual(keys);
      const owner = held[0]?.lease_owner ?? '';
      expect(owner).toContain(`:${holder.pid()}:`);
      expect(isDeadOwner(owner)).toBe(false);
      // Another process cannot claim a live lease.
      expect(await store.applyFile(ref('k1'), claimRule('other', 60_000))).toBeNull();
      // Nor take it back while the holder lives.
      expect(await store.applyFile(ref('k1'), reclaimRule(isDeadOwner))).toBeNull();
      holder.kill();
      await holder.lines;
      // Its pid is gone now: the engine takes such files back at once (the store keeps them held).
      await waitFor('the killed process to be gone', () => (isDeadOwner(owner) ? true : undefined), 5000);
      // The store itself is intact and still answers every process.
      const after = await store.getFiles(keys.map(ref));
      expect(after.map((d) => d.status)).toEqual(['processing', 'processing', 'processing']);
      // The lease of a dead process is taken back at once (a runner's maintenance does this).
      expect((await store.applyFile(ref('k1'), reclaimRule(isDeadOwner)))?.status).toBe('pending');
      expect(await store.applyFile(ref('k2'), releaseRule(owner, 'pending'))).not.toBeNull();
      expect((await store.applyFile(ref('k1'), claimRule('other', 60_000)))?.lease_owner).toBe('other');
    } finally {
      await store.close();
    }
  }, 60_000);
});
