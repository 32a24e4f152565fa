/**
 * The store's rules (src/main/store/rules.ts) on their own: every change of a transfer or a batch
 * is a pure transition `(current, now) → {next | null, result}`, so its meaning is tested here
 * without any store. The conformance suite checks that both adapters apply them atomically.
 *
 * SPEC.md "Data model", "Rules of a batch", "Processes and the store".
 */
import { describe, expect, it } from 'vitest';
import type { FileStatus } from '../src/shared/contract';
import type {
  BatchDoc,
  BatchItemDoc,
  FileDoc,
  FileRule,
  FileSeed,
  ItemOutcome,
} from '../src/main/store/port';
import {
  cancelBatchRule,
  claimRule,
  endBatchRule,
  failedAttemptRule,
  failToStartRule,
  finishRule,
  patchHeldRule,
  queueRule,
  reclaimRule,
  recordOutcomeRule,
  releaseRule,
  renewRule,
  reopenBatchRule,
  requeueRule,
  resumeRule,
  setItemsRule,
  stopRule,
  verificationRule,
} from '../src/main/store/rules';

const DEST = 'mega:ferry@example.com';
const T0 = new Date('2026-01-01T00:00:00.000Z');
/** `now` of the rules under test: one minute after T0. */
const NOW = new Date(T0.getTime() + 60_000);
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

const ALL_STATUSES: FileStatus[] = [
  'pending',
  'processing',
  'done',
  's3_download_failed',
  's4_upload_failed',
  'error',
  'cancelled',
  'paused',
];
const FAILED: FileStatus[] = ['s3_download_failed', 's4_upload_failed', 'error', 'cancelled'];

/** Freezes a value and everything in it: a rule that wrote into its input would throw. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Date) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

function fileDoc(over: Partial<FileDoc> = {}): FileDoc {
  return frozen({
    bucket_name: 'media',
    remote_key: 'movies/a.mp4',
    destination: DEST,
    s4_key: '/Archive/movies/a.mp4',
    code: 'code-a',
    status: 'pending',
    status_updated_at: T0,
    creation_date: T0,
    modified_date: T0,
    retry_count: 0,
    error_message: null,
    rev: 7,
    size: 1000,
    etag: '"e1"',
    transferred_bytes: 0,
    batch_id: 'batch_a',
    queued_at: T0,
    transfer_id: 'tid-0',
    lease_owner: null,
    lease_expires_at: null,
    stop_request: null,
    ...over,
  });
}

/** A processing document held by `owner` under a live lease. */
function heldDoc(owner = 'w1', over: Partial<FileDoc> = {}): FileDoc {
  return fileDoc({ status: 'processing', lease_owner: owner, lease_expires_at: at(30), ...over });
}

function seedOf(over: Partial<FileSeed> = {}): FileSeed {
  return frozen({
    bucket_name: 'media',
    remote_key: 'movies/a.mp4',
    destination: DEST,
    s4_key: '/Archive/movies/a.mp4',
    code: 'code-new',
    size: 2000,
    etag: '"e2"',
    ...over,
  });
}

function item(key: string, over: Partial<BatchItemDoc> = {}): BatchItemDoc {
  return {
    code: `code-${key}`,
    remote_key: key,
    s4_key: `/Archive/${key}`,
    start_result: 'started',
    ...over,
  };
}

function batchDoc(over: Partial<BatchDoc> = {}): BatchDoc {
  return frozen({
    batch_id: 'batch_a',
    options: { bucket: 'media', target: '/Archive', max_concurrent: 3, force: false, keys: ['x', 'y'] },
    destination: DEST,
    files: [item('x'), item('y')],
    state: 'running',
    stop_request: null,
    rev: 4,
    created_at: T0,
    updated_at: T0,
    finished_at: null,
    ...over,
  });
}

/** The document of item `key` of batch_a. */
function docFor(key: string, over: Partial<FileDoc> = {}): FileDoc {
  return fileDoc({ remote_key: key, s4_key: `/Archive/${key}`, code: `code-${key}`, ...over });
}

const Q = { batchId: 'batch_b', force: false, newTransferId: 'tid-new' };

// ------------------------------------------------------------------------------ transfers

describe('queueRule', () => {
  it('inserts a pending transfer with seed B fields, owned by the batch', () => {
    const { next, result } = queueRule(seedOf(), Q)(null, NOW);
    expect(next).not.toBeNull();
    expect(result).toEqual({ kind: 'queued', doc: next });
    expect(next).toEqual({
      bucket_name: 'media',
      remote_key: 'movies/a.mp4',
      destination: DEST,
      s4_key: '/Archive/movies/a.mp4',
      code: 'code-new',
      size: 2000,
      etag: '"e2"',
      status: 'pending',
      status_updated_at: NOW,
      creation_date: NOW,
      modified_date: NOW,
      retry_count: 0,
      transferred_bytes: 0,
      batch_id: 'batch_b',
      queued_at: NOW,
      transfer_id: 'tid-new',
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
      rev: 0,
    });
    // error_message only after a failure
    expect(next).not.toHaveProperty('error_message');
    expect(Number.isInteger(next!.retry_count)).toBe(true);
  });

  it('reports a done transfer as already_done, unchanged, unless forced', () => {
    const done = fileDoc({ status: 'done', batch_id: 'batch_old', mega_handle: 'H1' });
    expect(queueRule(seedOf(), Q)(done, NOW)).toEqual({
      next: null,
      result: { kind: 'already_done', doc: done },
    });
    // whichever batch made it
    expect(queueRule(seedOf(), { ...Q, batchId: 'batch_old' })(done, NOW).result.kind).toBe('already_done');
  });

  it('forced on a done transfer: a new generation that replaces the old node, verification cleared', () => {
    const done = fileDoc({
      status: 'done',
      batch_id: 'batch_old',
      retry_count: 2,
      transferred_bytes: 1000,
      mega_handle: 'H-OLD',
      mega_link: 'https://mega.nz/file/H-OLD',
      upload_session: { transfer_id: 'tid-0', size: 1000, etag: null, next_offset: 10, state: {} },
      verified_at: T0,
      verify_result: 'ok',
    });
    const { next, result } = queueRule(seedOf(), { ...Q, force: true })(done, NOW);
    expect(result).toEqual({ kind: 'queued', doc: next });
    expect(next).toMatchObject({
      status: 'pending',
      status_updated_at: NOW,
      modified_date: NOW,
      queued_at: NOW,
      creation_date: T0,
      batch_id: 'batch_b',
      transfer_id: 'tid-new',
      replaces_handle: 'H-OLD',
      mega_handle: null,
      mega_link: null,
      transferred_bytes: 0,
      upload_session: null,
      verify_result: null,
      verified_at: null,
      retry_count: 2,
      code: 'code-new',
      size: 2000,
      etag: '"e2"',
      error_message: null,
    });
  });

  it('re-queues a failed transfer: pending, error cleared, retry_count and transfer_id kept', () => {
    for (const status of FAILED) {
      const failed = fileDoc({ status, batch_id: 'batch_old', retry_count: 3, error_message: 'quota' });
      const { next } = queueRule(seedOf(), Q)(failed, NOW);
      expect(next, status).toMatchObject({
        status: 'pending',
        status_updated_at: NOW,
        error_message: null,
        retry_count: 3,
        transfer_id: 'tid-0',
        batch_id: 'batch_b',
        creation_date: T0,
      });
      expect(next!.replaces_handle ?? null).toBeNull();
    }
  });

  it('forced on a transfer that is not done keeps its transfer_id and replaces nothing', () => {
    const failed = fileDoc({ status: 'error', batch_id: 'batch_old', mega_handle: null });
    const { next } = queueRule(seedOf(), { ...Q, force: true })(failed, NOW);
    expect(next).toMatchObject({ status: 'pending', transfer_id: 'tid-0' });
    expect(next!.replaces_handle ?? null).toBeNull();
  });

  it('gives a transfer without a transfer_id one', () => {
    const old = fileDoc({ status: 'error', transfer_id: null });
    expect(queueRule(seedOf(), Q)(old, NOW).next?.transfer_id).toBe('tid-new');
  });

  it('reports a transfer open in another batch as already_in_progress with that batch, unchanged', () => {
    for (const status of ['pending', 'processing', 'paused'] as const) {
      const open =
        status === 'processing'
          ? heldDoc('w1', { batch_id: 'batch_other' })
          : fileDoc({ status, batch_id: 'batch_other' });
      for (const force of [false, true]) {
        expect(queueRule(seedOf(), { ...Q, force })(open, NOW), status).toEqual({
          next: null,
          result: { kind: 'already_in_progress', batch_id: 'batch_other' },
        });
      }
    }
    // even when its holder's lease has expired: the owning batch still owns it
    const stale = heldDoc('w1', { batch_id: 'batch_other', lease_expires_at: at(-30) });
    expect(queueRule(seedOf(), Q)(stale, NOW).result).toEqual({
      kind: 'already_in_progress',
      batch_id: 'batch_other',
    });
  });

  it('leaves a transfer already queued by the same batch as it is', () => {
    for (const cur of [fileDoc({ batch_id: 'batch_b' }), heldDoc('w1', { batch_id: 'batch_b' })]) {
      expect(queueRule(seedOf(), Q)(cur, NOW)).toEqual({ next: null, result: { kind: 'queued', doc: cur } });
    }
  });

  it('an open document of an older version (no batch_id) is left alone only while a live lease holds it', () => {
    const live = heldDoc('old-proc', { batch_id: undefined });
    expect(queueRule(seedOf(), Q)(live, NOW)).toEqual({
      next: null,
      result: { kind: 'already_in_progress', batch_id: 'unknown' },
    });
    const liveNull = heldDoc('old-proc', { batch_id: null });
    expect(queueRule(seedOf(), Q)(liveNull, NOW).result).toEqual({
      kind: 'already_in_progress',
      batch_id: 'unknown',
    });

    const expired = heldDoc('old-proc', { batch_id: null, lease_expires_at: at(-1) });
    const taken = queueRule(seedOf(), Q)(expired, NOW).next;
    expect(taken).toMatchObject({
      status: 'pending',
      status_updated_at: NOW,
      batch_id: 'batch_b',
      lease_owner: null,
      lease_expires_at: null,
    });
    for (const status of ['pending', 'paused'] as const) {
      expect(queueRule(seedOf(), Q)(fileDoc({ status, batch_id: null }), NOW).next?.batch_id, status).toBe(
        'batch_b',
      );
    }
  });

  it('a final transfer of another batch is taken over by the new batch', () => {
    const cancelled = fileDoc({ status: 'cancelled', batch_id: 'batch_other', stop_request: 'cancel' });
    const { next } = queueRule(seedOf(), Q)(cancelled, NOW);
    expect(next).toMatchObject({ status: 'pending', batch_id: 'batch_b', stop_request: null });
  });
});

describe('failToStartRule', () => {
  it('inserts a failed transfer with the reason', () => {
    const { next, result } = failToStartRule(
      seedOf(),
      'batch_b',
      's3_download_failed',
      'object not found',
    )(null, NOW);
    expect(result).toEqual({ kind: 'failed', doc: next });
    expect(next).toMatchObject({
      status: 's3_download_failed',
      error_message: 'object not found',
      retry_count: 0,
      batch_id: 'batch_b',
      code: 'code-new',
      s4_key: '/Archive/movies/a.mp4',
      destination: DEST,
      creation_date: NOW,
      status_updated_at: NOW,
      modified_date: NOW,
      rev: 0,
    });
  });

  it('marks an existing transfer failed, keeping creation_date and retry_count', () => {
    const cur = fileDoc({ status: 'error', batch_id: 'batch_old', retry_count: 2 });
    const { next } = failToStartRule(seedOf(), 'batch_b', 's3_download_failed', 'gone')(cur, NOW);
    expect(next).toMatchObject({
      status: 's3_download_failed',
      status_updated_at: NOW,
      creation_date: T0,
      retry_count: 2,
      batch_id: 'batch_b',
      error_message: 'gone',
    });
    // the same status again is no status change
    const again = failToStartRule(seedOf(), 'batch_b', 's3_download_failed', 'gone')(next, at(5)).next;
    expect(again?.status_updated_at).toBe(NOW);
    expect(again?.modified_date).toEqual(at(5));
  });

  it('leaves a transfer another batch is moving to that batch', () => {
    for (const cur of [
      fileDoc({ batch_id: 'batch_other' }),
      heldDoc('w1', { batch_id: 'batch_other' }),
      fileDoc({ status: 'paused', batch_id: 'batch_other' }),
    ]) {
      expect(failToStartRule(seedOf(), 'batch_b', 's3_download_failed', 'gone')(cur, NOW)).toEqual({
        next: null,
        result: { kind: 'already_in_progress', batch_id: 'batch_other' },
      });
    }
  });

  it('leaves alone a transfer of an older version held under a live lease (as queueRule does)', () => {
    const live = heldDoc('old-proc', { batch_id: null });
    const { next, result } = failToStartRule(seedOf(), 'batch_b', 's3_download_failed', 'gone')(live, NOW);
    expect(result).toEqual({ kind: 'already_in_progress', batch_id: 'unknown' });
    expect(next).toBeNull();
  });
});

describe('claimRule', () => {
  it('takes a pending transfer for the owner with a lease', () => {
    const { next, result } = claimRule('w1', 30_000)(fileDoc(), NOW);
    expect(result).toBe(next);
    expect(next).toMatchObject({
      status: 'processing',
      status_updated_at: NOW,
      modified_date: NOW,
      lease_owner: 'w1',
      lease_expires_at: new Date(NOW.getTime() + 30_000),
      queued_at: T0,
      batch_id: 'batch_a',
    });
  });

  it('takes nothing but a pending transfer without a stop request', () => {
    expect(claimRule('w1', 1000)(null, NOW)).toEqual({ next: null, result: null });
    for (const status of ALL_STATUSES.filter((s) => s !== 'pending')) {
      expect(claimRule('w1', 1000)(fileDoc({ status }), NOW), status).toEqual({ next: null, result: null });
    }
    // an expired lease is reclaimRule's business, not a claim's
    const stale = heldDoc('dead', { lease_expires_at: at(-60) });
    expect(claimRule('w2', 1000)(stale, NOW).next).toBeNull();
    expect(claimRule('w2', 1000)(heldDoc('w2'), NOW).next).toBeNull();
    for (const stop of ['cancel', 'pause'] as const) {
      expect(claimRule('w1', 1000)(fileDoc({ stop_request: stop }), NOW).next, stop).toBeNull();
    }
  });
});

describe('renewRule', () => {
  it('renews the holder’s lease and writes its progress, status unchanged', () => {
    const held = heldDoc('w1', { status_updated_at: T0 });
    const { next, result } = renewRule('w1', 45_000, 4096)(held, NOW);
    expect(result).toEqual({ held: true, stop: null });
    expect(next).toEqual({
      ...held,
      lease_expires_at: new Date(NOW.getTime() + 45_000),
      transferred_bytes: 4096,
      modified_date: NOW,
    });
  });

  it('tells the holder a stop was asked for', () => {
    for (const stop of ['cancel', 'pause'] as const) {
      const { next, result } = renewRule('w1', 1000, 1)(heldDoc('w1', { stop_request: stop }), NOW);
      expect(result).toEqual({ held: true, stop });
      expect(next?.stop_request).toBe(stop);
    }
  });

  it('is refused to anyone but the holder', () => {
    expect(renewRule('w2', 1000, 1)(heldDoc('w1'), NOW)).toEqual({ next: null, result: { held: false } });
    expect(renewRule('w1', 1000, 1)(fileDoc({ lease_owner: 'w1' }), NOW)).toEqual({
      next: null,
      result: { held: false },
    });
    expect(renewRule('w1', 1000, 1)(null, NOW)).toEqual({ next: null, result: { held: false } });
  });
});

describe('patchHeldRule and failedAttemptRule', () => {
  it('patchHeldRule sets only the fields given (null clears), for the holder only', () => {
    const session = { transfer_id: 'tid-0', size: 1000, etag: null, next_offset: 512, state: { u: 'x' } };
    const held = heldDoc('w1', { replaces_handle: 'H-OLD', mega_handle: 'H-1' });
    const { next, result } = patchHeldRule('w1', {
      upload_session: session,
      replaces_handle: null,
      mega_link: undefined,
    })(held, NOW);
    expect(result).toBe(true);
    expect(next).toEqual({ ...held, upload_session: session, replaces_handle: null, modified_date: NOW });
    expect(patchHeldRule('w2', { mega_handle: 'X' })(held, NOW)).toEqual({ next: null, result: false });
  });

  it('failedAttemptRule counts a retried failure; the holder keeps the transfer', () => {
    const held = heldDoc('w1', { retry_count: 1 });
    const { next } = failedAttemptRule('w1', 'socket hang up')(held, NOW);
    expect(next).toEqual({ ...held, retry_count: 2, error_message: 'socket hang up', modified_date: NOW });
    expect(failedAttemptRule('w2', 'x')(held, NOW)).toEqual({ next: null, result: false });
  });
});

describe('finishRule', () => {
  it('sets the final status and its fields, drops the lease and a stop request', () => {
    const held = heldDoc('w1', {
      stop_request: 'pause',
      upload_session: { transfer_id: 'tid-0', size: 1000, etag: null, next_offset: 1, state: {} },
    });
    const { next, result } = finishRule('w1', {
      status: 'done',
      mega_handle: 'H',
      mega_link: 'https://mega.nz/file/H',
      size: 1000,
      transferred_bytes: 1000,
    })(held, NOW);
    expect(result).toBe(next);
    expect(next).toMatchObject({
      status: 'done',
      status_updated_at: NOW,
      modified_date: NOW,
      mega_handle: 'H',
      mega_link: 'https://mega.nz/file/H',
      size: 1000,
      transferred_bytes: 1000,
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
      upload_session: null,
      retry_count: 0,
      error_message: null,
    });
  });

  it('counts a failure and keeps what it was not given', () => {
    const held = heldDoc('w1', { retry_count: 1, error_message: 'earlier', transferred_bytes: 300 });
    const failed = finishRule('w1', { status: 's4_upload_failed', count_failure: true })(held, NOW).next;
    expect(failed).toMatchObject({
      status: 's4_upload_failed',
      retry_count: 2,
      error_message: 'earlier',
      transferred_bytes: 300,
    });
    const withReason = finishRule('w1', { status: 'error', error_message: 'boom' })(held, NOW).next;
    expect(withReason).toMatchObject({ status: 'error', error_message: 'boom', retry_count: 1 });
  });

  it('is refused to anyone but the holder', () => {
    expect(finishRule('w2', { status: 'done' })(heldDoc('w1'), NOW)).toEqual({ next: null, result: null });
    expect(
      finishRule('w1', { status: 'done' })(fileDoc({ status: 'done', lease_owner: 'w1' }), NOW).next,
    ).toBe(null);
    expect(finishRule('w1', { status: 'done' })(null, NOW).next).toBeNull();
  });
});

describe('releaseRule', () => {
  it('gives the transfer back as pending, keeping its place in the queue', () => {
    const held = heldDoc('w1', { stop_request: 'pause', queued_at: T0 });
    const { next, result } = releaseRule('w1')(held, NOW);
    expect(result).toBe(next);
    expect(next).toMatchObject({
      status: 'pending',
      status_updated_at: NOW,
      lease_owner: null,
      lease_expires_at: null,
      stop_request: null,
      queued_at: T0,
    });
  });

  it('or as what a stop asked for: paused keeps the checkpoint, cancelled says why', () => {
    const session = { transfer_id: 'tid-0', size: 1000, etag: null, next_offset: 500, state: { s: 1 } };
    const paused = releaseRule('w1', 'paused')(heldDoc('w1', { upload_session: session }), NOW).next;
    expect(paused).toMatchObject({ status: 'paused', upload_session: session, lease_owner: null });
    const cancelled = releaseRule('w1', 'cancelled')(heldDoc('w1'), NOW).next;
    expect(cancelled).toMatchObject({
      status: 'cancelled',
      error_message: 'cancelled by the user',
      lease_owner: null,
    });
  });

  it('is refused to anyone but the holder', () => {
    expect(releaseRule('w2')(heldDoc('w1'), NOW)).toEqual({ next: null, result: null });
    expect(releaseRule('w1')(fileDoc({ lease_owner: 'w1' }), NOW).next).toBeNull();
  });
});

describe('reclaimRule', () => {
  const alive = () => false;

  it('takes back a transfer whose lease expired', () => {
    const stale = heldDoc('dead', { lease_expires_at: at(-1), queued_at: T0 });
    const { next, result } = reclaimRule(alive)(stale, NOW);
    expect(result).toBe(next);
    expect(next).toMatchObject({
      status: 'pending',
      status_updated_at: NOW,
      lease_owner: null,
      lease_expires_at: null,
      queued_at: T0,
    });
    // a lease expiring exactly now is no longer live
    expect(reclaimRule(alive)(heldDoc('dead', { lease_expires_at: NOW }), NOW).next?.status).toBe('pending');
    // a processing document without a lease at all
    expect(reclaimRule(alive)(heldDoc('x', { lease_expires_at: null }), NOW).next?.status).toBe('pending');
  });

  it('takes back a live lease only when its owner is dead', () => {
    const live = heldDoc('w-dead');
    expect(reclaimRule(alive)(live, NOW)).toEqual({ next: null, result: null });
    const seen: (string | null | undefined)[] = [];
    const dead = (owner: string | null | undefined) => {
      seen.push(owner);
      return owner === 'w-dead';
    };
    expect(reclaimRule(dead)(live, NOW).next?.status).toBe('pending');
    expect(seen).toContain('w-dead');
    expect(reclaimRule(dead)(heldDoc('w-alive'), NOW).next).toBeNull();
  });

  it('honours a stop asked for while it was held', () => {
    const cancel = reclaimRule(alive)(
      heldDoc('d', { lease_expires_at: at(-1), stop_request: 'cancel' }),
      NOW,
    );
    expect(cancel.next).toMatchObject({
      status: 'cancelled',
      error_message: 'cancelled by the user',
      stop_request: null,
    });
    const pause = reclaimRule(alive)(heldDoc('d', { lease_expires_at: at(-1), stop_request: 'pause' }), NOW);
    expect(pause.next).toMatchObject({ status: 'paused', stop_request: null, lease_owner: null });
  });

  it('touches nothing that is not processing', () => {
    expect(reclaimRule(() => true)(null, NOW).next).toBeNull();
    for (const status of ALL_STATUSES.filter((s) => s !== 'processing')) {
      const doc = fileDoc({ status, lease_owner: 'dead', lease_expires_at: at(-1) });
      expect(reclaimRule(() => true)(doc, NOW).next, status).toBeNull();
    }
  });
});

describe('stopRule', () => {
  it('stops a pending transfer at once: cancelled or paused', () => {
    const cancel = stopRule('batch_a', 'cancel')(fileDoc(), NOW);
    expect(cancel.result).toBe('stopped');
    expect(cancel.next).toMatchObject({
      status: 'cancelled',
      status_updated_at: NOW,
      error_message: 'cancelled by the user',
      stop_request: null,
    });
    const pause = stopRule('batch_a', 'pause')(fileDoc(), NOW);
    expect(pause.result).toBe('stopped');
    expect(pause.next).toMatchObject({ status: 'paused', status_updated_at: NOW, stop_request: null });
    expect(pause.next!.error_message ?? null).toBeNull();
  });

  it('a cancel also stops a paused transfer; a pause leaves it paused', () => {
    const paused = fileDoc({ status: 'paused' });
    expect(stopRule('batch_a', 'cancel')(paused, NOW).next?.status).toBe('cancelled');
    expect(stopRule('batch_a', 'pause')(paused, NOW).next).toBeNull();
  });

  it('asks the holder of a processing transfer; a cancel outranks a pause', () => {
    const held = heldDoc('w1');
    const asked = stopRule('batch_a', 'pause')(held, NOW);
    expect(asked).toEqual({
      next: { ...held, stop_request: 'pause', modified_date: NOW },
      result: 'asked_holder',
    });
    // asked again: nothing to write
    expect(stopRule('batch_a', 'pause')(asked.next, NOW)).toEqual({ next: null, result: 'asked_holder' });
    const cancel = stopRule('batch_a', 'cancel')(asked.next, NOW);
    expect(cancel.next?.stop_request).toBe('cancel');
    expect(cancel.next?.status).toBe('processing');
    expect(cancel.next?.lease_owner).toBe('w1');
    expect(stopRule('batch_a', 'pause')(cancel.next, NOW)).toEqual({ next: null, result: 'asked_holder' });
  });

  it('never touches another batch’s transfer', () => {
    for (const status of ALL_STATUSES) {
      const doc =
        status === 'processing'
          ? heldDoc('w1', { batch_id: 'batch_other' })
          : fileDoc({ status, batch_id: 'batch_other' });
      for (const kind of ['cancel', 'pause'] as const) {
        expect(stopRule('batch_a', kind)(doc, NOW), `${status} ${kind}`).toEqual({
          next: null,
          result: 'not_ours',
        });
      }
    }
    expect(stopRule('batch_a', 'cancel')(fileDoc({ batch_id: null }), NOW).next).toBeNull();
    expect(stopRule('batch_a', 'cancel')(null, NOW)).toEqual({ next: null, result: 'not_ours' });
  });

  it('leaves a final transfer of its own batch as it is', () => {
    for (const status of ['done', ...FAILED] as FileStatus[]) {
      expect(stopRule('batch_a', 'cancel')(fileDoc({ status }), NOW).next, status).toBeNull();
    }
  });
});

describe('resumeRule', () => {
  it('queues a paused transfer of the batch again, at the back of the queue', () => {
    const paused = fileDoc({ status: 'paused', queued_at: T0 });
    const { next, result } = resumeRule('batch_a')(paused, NOW);
    expect(result).toBe(true);
    expect(next).toMatchObject({
      status: 'pending',
      status_updated_at: NOW,
      queued_at: NOW,
      stop_request: null,
    });
  });

  it('withdraws a pause still being asked of the holder, but not a cancel', () => {
    const asked = heldDoc('w1', { stop_request: 'pause' });
    expect(resumeRule('batch_a')(asked, NOW)).toEqual({
      next: { ...asked, stop_request: null, modified_date: NOW },
      result: true,
    });
    expect(resumeRule('batch_a')(heldDoc('w1', { stop_request: 'cancel' }), NOW).next).toBeNull();
    expect(resumeRule('batch_a')(heldDoc('w1'), NOW).next).toBeNull();
  });

  it('touches nothing of another batch, nor anything not paused', () => {
    expect(resumeRule('batch_a')(fileDoc({ status: 'paused', batch_id: 'batch_other' }), NOW)).toEqual({
      next: null,
      result: false,
    });
    for (const status of ALL_STATUSES.filter((s) => s !== 'paused' && s !== 'processing')) {
      expect(resumeRule('batch_a')(fileDoc({ status }), NOW).next, status).toBeNull();
    }
    expect(resumeRule('batch_a')(null, NOW).result).toBe(false);
  });
});

describe('requeueRule', () => {
  it('queues the batch’s own failed and cancelled transfers again', () => {
    for (const status of FAILED) {
      const failed = fileDoc({ status, retry_count: 2, error_message: 'x', queued_at: T0 });
      const { next, result } = requeueRule('batch_a')(failed, NOW);
      expect(result, status).toBe(true);
      expect(next, status).toMatchObject({
        status: 'pending',
        status_updated_at: NOW,
        queued_at: NOW,
        error_message: null,
        retry_count: 2,
        transfer_id: 'tid-0',
      });
    }
  });

  it('only those: not another batch’s, not done or open ones', () => {
    expect(requeueRule('batch_a')(fileDoc({ status: 'error', batch_id: 'batch_b' }), NOW)).toEqual({
      next: null,
      result: false,
    });
    for (const status of ['done', 'pending', 'processing', 'paused'] as const) {
      expect(requeueRule('batch_a')(fileDoc({ status }), NOW).next, status).toBeNull();
    }
    expect(requeueRule('batch_a')(null, NOW).result).toBe(false);
  });
});

describe('verificationRule', () => {
  const v = { mega_handle: 'H1', verify_result: 'mac_mismatch' as const, verified_at: at(-10) };

  it('records what a verify found on the done copy it checked, status unchanged', () => {
    const done = fileDoc({ status: 'done', mega_handle: 'H1' });
    const { next, result } = verificationRule(v)(done, NOW);
    expect(result).toBe(true);
    expect(next).toEqual({
      ...done,
      verify_result: 'mac_mismatch',
      verified_at: at(-10),
      modified_date: NOW,
    });
  });

  it('records nothing for another copy, a transfer not done, or none', () => {
    expect(verificationRule(v)(fileDoc({ status: 'done', mega_handle: 'H2' }), NOW)).toEqual({
      next: null,
      result: false,
    });
    expect(verificationRule(v)(fileDoc({ status: 'pending', mega_handle: 'H1' }), NOW).next).toBeNull();
    expect(verificationRule(v)(null, NOW).next).toBeNull();
    // a copy without a handle (e.g. S4 or local) matches a verification of no handle
    const noHandle = fileDoc({ status: 'done' });
    expect(verificationRule({ ...v, mega_handle: null })(noHandle, NOW).result).toBe(true);
  });
});

// ------------------------------------------------------------------------------ any file rule

describe('every file rule', () => {
  const docs: FileDoc[] = [
    fileDoc(),
    fileDoc({ status: 'paused' }),
    fileDoc({ status: 'done', mega_handle: 'H1' }),
    fileDoc({ status: 'error', error_message: 'x' }),
    fileDoc({ status: 'cancelled' }),
    fileDoc({ batch_id: 'batch_other' }),
    fileDoc({ batch_id: null }),
    heldDoc('w1'),
    heldDoc('w1', { stop_request: 'pause' }),
    heldDoc('w1', { stop_request: 'cancel' }),
    heldDoc('w1', { lease_expires_at: at(-5) }),
    heldDoc('w2', { batch_id: 'batch_other' }),
    heldDoc('w1', { batch_id: null }),
  ];
  const seed = seedOf();
  const rules: [string, FileRule<unknown>][] = [
    ['queue', queueRule(seed, { batchId: 'batch_a', force: false, newTransferId: 'tid-n' })],
    ['queue other', queueRule(seed, Q)],
    ['queue forced', queueRule(seed, { ...Q, force: true })],
    ['failToStart', failToStartRule(seed, 'batch_a', 's3_download_failed', 'gone')],
    ['failToStart same', failToStartRule(seed, 'batch_a', 'error', 'x')],
    ['claim', claimRule('w1', 1000)],
    ['renew', renewRule('w1', 1000, 5)],
    ['patchHeld', patchHeldRule('w1', { mega_handle: 'H9' })],
    ['failedAttempt', failedAttemptRule('w1', 'retry')],
    ['finish done', finishRule('w1', { status: 'done' })],
    ['finish error', finishRule('w1', { status: 'error', count_failure: true })],
    ['release', releaseRule('w1')],
    ['release paused', releaseRule('w1', 'paused')],
    ['reclaim', reclaimRule(() => false)],
    ['reclaim dead', reclaimRule(() => true)],
    ['cancel', stopRule('batch_a', 'cancel')],
    ['pause', stopRule('batch_a', 'pause')],
    ['resume', resumeRule('batch_a')],
    ['requeue', requeueRule('batch_a')],
    ['verify', verificationRule({ mega_handle: 'H1', verify_result: 'ok', verified_at: NOW })],
  ];

  it('changes status_updated_at exactly when it changes the status, and modified_date at every write', () => {
    let writes = 0;
    for (const [name, rule] of rules) {
      for (const cur of docs) {
        const { next } = rule(cur, NOW);
        if (!next) continue;
        writes++;
        const label = `${name} on ${cur.status}/${cur.batch_id}/${cur.lease_owner}/${cur.stop_request}`;
        if (next.status === cur.status) expect(next.status_updated_at, label).toBe(cur.status_updated_at);
        else expect(next.status_updated_at, label).toBe(NOW);
        expect(next.modified_date, label).toBe(NOW);
        // the key, the creation date and the revision are never a rule's to change
        expect(
          [next.bucket_name, next.remote_key, next.destination, next.s4_key, next.creation_date, next.rev],
          label,
        ).toEqual([cur.bucket_name, cur.remote_key, cur.destination, cur.s4_key, cur.creation_date, cur.rev]);
        // no transfer is left processing without a holder, nor held when it is not processing
        if (next.status === 'processing') expect(next.lease_owner, label).toBeTruthy();
        else expect(next.lease_owner ?? null, label).toBeNull();
      }
    }
    expect(writes).toBeGreaterThan(30);
  });

  it('is pure: the same input gives the same output, and the input is never written (inputs are frozen)', () => {
    for (const [name, rule] of rules) {
      for (const cur of [null, ...docs]) {
        expect(rule(cur, NOW), name).toEqual(rule(cur, NOW));
      }
    }
  });

  it('status_updated_at follows a transfer through its life', () => {
    const t = (s: number) => new Date(T0.getTime() + s * 1000);
    let doc = queueRule(seed, Q)(null, t(1)).next!;
    expect(doc.status_updated_at).toEqual(t(1));
    expect(queueRule(seed, Q)(doc, t(2)).next).toBeNull(); // queued again by the same batch
    doc = claimRule('w', 60_000)(doc, t(3)).next!;
    expect(doc.status_updated_at).toEqual(t(3));
    doc = renewRule('w', 60_000, 10)(doc, t(4)).next!;
    doc = patchHeldRule('w', { mega_handle: 'H' })(doc, t(5)).next!;
    doc = failedAttemptRule('w', 'retry')(doc, t(6)).next!;
    expect(doc.status_updated_at).toEqual(t(3));
    expect(doc.modified_date).toEqual(t(6));
    doc = finishRule('w', { status: 'done', mega_handle: 'H' })(doc, t(7)).next!;
    expect(doc.status_updated_at).toEqual(t(7));
    doc = verificationRule({ mega_handle: 'H', verify_result: 'ok', verified_at: t(8) })(doc, t(8)).next!;
    expect(doc.status_updated_at).toEqual(t(7));
    expect(doc.modified_date).toEqual(t(8));
  });
});

// ------------------------------------------------------------------------------ batches

function outcome(status: FileStatus, over: Partial<ItemOutcome> = {}): ItemOutcome {
  return {
    status,
    size: 1000,
    transferred_bytes: 1000,
    retry_count: 0,
    error_message: null,
    mega_link: null,
    at: T0,
    ...over,
  };
}

describe('recordOutcomeRule', () => {
  it('records how the batch’s transfer ended, once', () => {
    const batch = batchDoc();
    const done = docFor('x', {
      status: 'done',
      size: 1000,
      transferred_bytes: 10,
      mega_link: 'L',
      retry_count: 1,
    });
    const { next, result } = recordOutcomeRule(done)(batch, NOW);
    expect(result).toBe(true);
    expect(next!.files[0]!.outcome).toEqual({
      status: 'done',
      size: 1000,
      transferred_bytes: 1000, // a done file moved all of it
      retry_count: 1,
      error_message: null,
      mega_link: 'L',
      at: NOW,
    });
    expect(next!.files[1]).toEqual(batch.files[1]);
    expect(next!.updated_at).toBe(NOW);
    expect(next!.state).toBe('running');
    // never rewritten
    const later = docFor('x', { status: 'error', error_message: 'later' });
    expect(recordOutcomeRule(later)(next, at(5))).toEqual({ next: null, result: false });
  });

  it('records a failure with its bytes and reason', () => {
    const failed = docFor('y', {
      status: 's4_upload_failed',
      size: 1000,
      transferred_bytes: 300,
      retry_count: 3,
      error_message: 'quota',
    });
    const next = recordOutcomeRule(failed)(batchDoc(), NOW).next;
    expect(next!.files[1]!.outcome).toMatchObject({
      status: 's4_upload_failed',
      transferred_bytes: 300,
      retry_count: 3,
      error_message: 'quota',
    });
  });

  it('records nothing for another batch’s transfer, an open one, an item not started, or no batch', () => {
    const batch = batchDoc({ files: [item('x'), item('y', { start_result: 'already_done' })] });
    expect(recordOutcomeRule(docFor('x', { status: 'done', batch_id: 'batch_b' }))(batch, NOW)).toEqual({
      next: null,
      result: false,
    });
    for (const status of ['pending', 'processing', 'paused'] as const) {
      expect(recordOutcomeRule(docFor('x', { status }))(batch, NOW).next, status).toBeNull();
    }
    expect(recordOutcomeRule(docFor('y', { status: 'done' }))(batch, NOW).next).toBeNull();
    expect(recordOutcomeRule(docFor('z', { status: 'done' }))(batch, NOW).next).toBeNull();
    expect(recordOutcomeRule(docFor('x', { status: 'done' }))(null, NOW).result).toBe(false);
    // the same key at another destination path is another transfer
    const elsewhere = docFor('x', { status: 'done', s4_key: '/Other/x' });
    expect(recordOutcomeRule(elsewhere)(batch, NOW).next).toBeNull();
  });
});

describe('endBatchRule', () => {
  it('keeps the batch running while any of its transfers is open', () => {
    for (const status of ['pending', 'processing', 'paused'] as const) {
      const docs = [docFor('x', { status: 'done' }), docFor('y', { status })];
      expect(endBatchRule(docs)(batchDoc(), NOW), status).toEqual({
        next: null,
        result: { ended: false, open: 1 },
      });
    }
  });

  it('counts a transfer without a document as open (its start is still queueing it)', () => {
    expect(endBatchRule([docFor('x', { status: 'done' })])(batchDoc(), NOW)).toEqual({
      next: null,
      result: { ended: false, open: 1 },
    });
    expect(endBatchRule([])(batchDoc(), NOW).result).toEqual({ ended: false, open: 2 });
  });

  it('ends finished, filling the outcomes not yet recorded and keeping those that are', () => {
    const recorded = outcome('done', { at: T0, mega_link: 'first' });
    const batch = batchDoc({
      files: [
        item('x', { outcome: recorded }),
        item('y'),
        item('z', { start_result: 'already_done' }),
        item('w', { start_result: 'failed_to_start', reason: 'gone' }),
      ],
    });
    const docs = [
      // x changed since its outcome was recorded: the recorded outcome stays
      docFor('x', { status: 'error', error_message: 'later' }),
      docFor('y', { status: 'error', error_message: 'boom', transferred_bytes: 5, retry_count: 2 }),
    ];
    const { next, result } = endBatchRule(docs)(batch, NOW);
    expect(result).toEqual({ ended: true, batch: next });
    expect(next).toMatchObject({ state: 'finished', finished_at: NOW, updated_at: NOW, stop_request: null });
    expect(next!.files[0]!.outcome).toBe(recorded);
    expect(next!.files[1]!.outcome).toEqual({
      status: 'error',
      size: 1000,
      transferred_bytes: 5,
      retry_count: 2,
      error_message: 'boom',
      mega_link: null,
      at: NOW,
    });
    expect(next!.files[2]).toEqual(batch.files[2]);
    expect(next!.files[3]).toEqual(batch.files[3]);
  });

  it('ends cancelled when a cancel was asked', () => {
    const batch = batchDoc({ stop_request: 'cancel' });
    const docs = [docFor('x', { status: 'cancelled' }), docFor('y', { status: 'done' })];
    const next = endBatchRule(docs)(batch, NOW).next;
    expect(next).toMatchObject({ state: 'cancelled', stop_request: null, finished_at: NOW });
    expect(next!.files.map((i) => i.outcome?.status)).toEqual(['cancelled', 'done']);
  });

  it('gives an item whose transfer another batch took over an error outcome naming that batch', () => {
    const docs = [
      docFor('x', { status: 'done' }),
      // taken over and still moving in the other batch: this batch is over with it
      docFor('y', { status: 'processing', batch_id: 'batch_z', lease_owner: 'w', lease_expires_at: at(30) }),
    ];
    const { next } = endBatchRule(docs)(batchDoc(), NOW);
    expect(next?.state).toBe('finished');
    const y = next!.files[1]!.outcome!;
    expect(y.status).toBe('error');
    expect(y.error_message).toContain('batch_z');
    expect(y.mega_link).toBeNull();
  });

  it('waits for an item another batch is moving, and records how it ended there', () => {
    const batch = batchDoc({
      files: [item('x'), item('y', { start_result: 'already_in_progress', in_batch: 'batch_z' })],
    });
    const x = docFor('x', { status: 'done' });
    for (const status of ['pending', 'processing', 'paused'] as const) {
      const y = docFor('y', { status, batch_id: 'batch_z' });
      expect(endBatchRule([x, y])(batch, NOW), status).toEqual({
        next: null,
        result: { ended: false, open: 1 },
      });
    }
    const y = docFor('y', { status: 'done', batch_id: 'batch_z', mega_link: 'L-y' });
    const { next } = endBatchRule([x, y])(batch, NOW);
    expect(next?.state).toBe('finished');
    expect(next!.files[1]).toMatchObject({
      start_result: 'already_in_progress',
      in_batch: 'batch_z',
      outcome: { status: 'done', mega_link: 'L-y', at: NOW },
    });
    // without a document there is nothing to wait for, and nothing to record
    const alone = endBatchRule([x])(batch, NOW).next;
    expect(alone?.state).toBe('finished');
    expect(alone!.files[1]!.outcome ?? null).toBeNull();
  });

  it('cancelled, stops waiting for an item another batch is moving (which goes on untouched)', () => {
    const batch = batchDoc({
      stop_request: 'cancel',
      files: [item('x'), item('y', { start_result: 'already_in_progress', in_batch: 'batch_z' })],
    });
    const x = docFor('x', { status: 'cancelled' });
    const y = docFor('y', { status: 'paused', batch_id: 'batch_z' });
    const { next, result } = endBatchRule([x, y])(batch, NOW);
    expect(result.ended).toBe(true);
    expect(next?.state).toBe('cancelled');
    expect(next!.files[1]!.outcome).toMatchObject({
      status: 'cancelled',
      error_message: 'cancelled while batch_z was moving it',
    });
  });

  it('does nothing to a batch that is not running, or none', () => {
    const docs = [docFor('x', { status: 'done' }), docFor('y', { status: 'done' })];
    for (const state of ['finished', 'cancelled'] as const) {
      expect(endBatchRule(docs)(batchDoc({ state }), NOW)).toEqual({
        next: null,
        result: { ended: false, open: 0 },
      });
    }
    expect(endBatchRule(docs)(null, NOW).next).toBeNull();
  });
});

describe('cancelBatchRule', () => {
  it('asks once for a running batch', () => {
    const { next, result } = cancelBatchRule()(batchDoc(), NOW);
    expect(result).toBe('asked');
    expect(next).toEqual({ ...batchDoc(), stop_request: 'cancel', updated_at: NOW });
    expect(cancelBatchRule()(next, at(1))).toEqual({ next: null, result: 'asked' });
  });

  it('does nothing to an ended batch, or none', () => {
    expect(cancelBatchRule()(batchDoc({ state: 'finished' }), NOW)).toEqual({ next: null, result: 'ended' });
    expect(cancelBatchRule()(batchDoc({ state: 'cancelled' }), NOW)).toEqual({ next: null, result: 'ended' });
    expect(cancelBatchRule()(null, NOW)).toEqual({ next: null, result: 'missing' });
  });
});

describe('reopenBatchRule', () => {
  const ended = () =>
    batchDoc({
      state: 'cancelled',
      stop_request: null,
      finished_at: T0,
      files: [
        item('x', { outcome: outcome('done') }),
        item('y', { outcome: outcome('cancelled') }),
        item('z', { start_result: 'already_in_progress', in_batch: 'batch_q' }),
      ],
    });

  it('runs the batch again and forgets the outcomes of the restarted items only', () => {
    const batch = ended();
    const { next, result } = reopenBatchRule([
      { remote_key: 'y', s4_key: '/Archive/y' },
      { remote_key: 'z', s4_key: '/Archive/z' },
    ])(batch, NOW);
    expect(result).toBe(true);
    expect(next).toMatchObject({ state: 'running', stop_request: null, finished_at: null, updated_at: NOW });
    expect(next!.files[0]).toEqual(batch.files[0]);
    expect(next!.files[1]).toEqual({ ...batch.files[1], outcome: null, reason: null, in_batch: null });
    expect(next!.files[2]).toMatchObject({ start_result: 'started', in_batch: null, outcome: null });
  });

  it('an item at another path is not restarted', () => {
    const next = reopenBatchRule([{ remote_key: 'y', s4_key: '/Other/y' }])(ended(), NOW).next;
    expect(next!.files[1]!.outcome?.status).toBe('cancelled');
  });

  it('does nothing to a running batch, or none', () => {
    expect(reopenBatchRule([{ remote_key: 'x', s4_key: '/Archive/x' }])(batchDoc(), NOW)).toEqual({
      next: null,
      result: false,
    });
    expect(reopenBatchRule([])(null, NOW).result).toBe(false);
  });
});

describe('setItemsRule', () => {
  it('writes the items’ start results', () => {
    const files = [item('x'), item('y', { start_result: 'already_done' })];
    expect(setItemsRule(files)(batchDoc(), NOW).next).toEqual({ ...batchDoc(), files, updated_at: NOW });
    expect(setItemsRule(files)(null, NOW)).toEqual({ next: null, result: false });
  });
});
