/**
 * A store client in an OS process of its own, for the multi-process store suite: opens the store
 * it is told to (the embedded SQLite file in a folder, or a MongoDB database), then runs one job
 * and prints one JSON line per result on stdout.
 *
 *   node store-process.mjs '{"store":{...},"job":"claim","owner":"p1","keys":[...],"leaseMs":60000}'
 *
 * Jobs: `claim` (claim each key once, hold it), `claim-finish` (claim and finish as done),
 * `drain` (take the oldest pending transfer of the queue until none is left, finishing each, as a
 * runner does), `hold` (claim, print, then wait to be killed), `queue` (queue each key for the
 * batch `batch_<owner>`, printing what the store answered).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { EmbeddedStore } from '../../src/main/store/embedded';
import { MongoStore } from '../../src/main/store/mongo';
import type { MetadataStore } from '../../src/main/store/port';
import { claimRule, finishRule, queueRule } from '../../src/main/store/rules';

interface Order {
  store: { kind: 'embedded'; dir: string } | { kind: 'mongodb'; uri: string; dbName: string };
  job: 'claim' | 'claim-finish' | 'drain' | 'hold' | 'queue';
  owner: string;
  bucket: string;
  destination: string;
  keys: string[];
  leaseMs: number;
  /** Epoch ms to start at, so every process starts its job at the same moment. */
  startAt: number;
}

const order = JSON.parse(process.argv[2] ?? '{}') as Order;
const store: MetadataStore =
  order.store.kind === 'embedded'
    ? new EmbeddedStore(order.store.dir)
    : new MongoStore(order.store.uri, { dbName: order.store.dbName });
await store.init();
const wait = order.startAt - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));

// `self`: an owner id as the engine makes them (host:pid:nonce), so its death can be seen.
const owner =
  order.owner === 'self' ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}` : order.owner;
const out = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
const refOf = (key: string) => ({
  bucket_name: order.bucket,
  remote_key: key,
  destination: order.destination,
  s4_key: `/mp/${key}`,
});

if (order.job === 'drain') {
  let lost = 0;
  for (;;) {
    const claim = await store.claimNext({ destinations: [order.destination] }, owner, order.leaseMs);
    lost += claim.lost;
    if (!claim.doc) break;
    await new Promise((r) => setTimeout(r, 10)); // the transfer's work
    const finished = await store.applyFile(
      claim.doc,
      finishRule(owner, { status: 'done', transferred_bytes: 1 }),
    );
    out({ key: claim.doc.remote_key, claimed: true, owner, finished: finished !== null });
  }
  out({ lost });
} else {
  for (const key of order.keys) {
    const ref = refOf(key);
    if (order.job === 'queue') {
      const r = await store.applyFile(
        ref,
        queueRule(
          { ...ref, code: key, size: 1, etag: null },
          { batchId: `batch_${owner}`, force: false, newTransferId: `${owner}-${key}` },
        ),
      );
      out({ key, queued: r.kind === 'queued', result: r.kind });
      continue;
    }
    const doc = await store.applyFile(ref, claimRule(owner, order.leaseMs));
    out({ key, claimed: doc !== null, owner: doc?.lease_owner ?? null });
    if (doc && order.job === 'claim-finish') {
      const finished = await store.applyFile(
        ref,
        finishRule(owner, { status: 'done', transferred_bytes: 1 }),
      );
      out({ key, finished: finished !== null });
    }
  }
}
out({ done: true });
// Until killed: a timer keeps the event loop alive (an empty loop would end the process, code 13).
if (order.job === 'hold') await new Promise(() => setInterval(() => undefined, 60_000));
await store.close();
process.exit(0);
