/**
 * The destination conformance suite, like rclone's fstests: the same cases against every
 * destination of test/peers/destinations.ts, each on its real peer. Bytes at chunk and part
 * boundaries, names with spaces and non-ASCII characters, resume from a checkpoint, adopting a
 * copy that was finished but never recorded, replacing a copy in place, cancel, and the quota
 * refusal. Bytes are always read back from the peer itself, never through the destination.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, FerryError, ResumeRejectedError } from '../src/main/engine/errors';
import type { Destination, DestinationNode, UploadCheckpoint, UploadRequest } from '../src/main/engine/ports';
import { DESTINATIONS_UNDER_TEST, type RunningDestination } from './peers/destinations';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A body of `data` in 64 KiB pieces that counts the bytes the destination pulled from it. */
function countedBody(data: Buffer): { body: Readable; pulled: () => number } {
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= data.length) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, data.length - sent);
      this.push(data.subarray(sent, sent + n));
      sent += n;
    },
  });
  return { body, pulled: () => sent };
}

/** A body that gives `data` up to `stallAt`, then nothing more (until it is destroyed). */
function stallingBody(data: Buffer, stallAt: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= stallAt) return;
      const n = Math.min(64 * 1024, stallAt - sent);
      this.push(data.subarray(sent, sent + n));
      sent += n;
    },
  });
}

function request(path: string, data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    path,
    size: data.length,
    body: Readable.from(data.length > 0 ? [data] : []),
    // A transfer id is a UUID in the engine: ASCII, whatever the path.
    transfer_id: `tid-${sha256(Buffer.from(path)).slice(0, 24)}`,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}

async function waitFor(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Attempt {
  node: DestinationNode;
  /** Bytes the attempt pulled from the source body. */
  pulled: number;
  /** Whether it adopted a node find listed (no upload at all). */
  adopted: boolean;
}

/**
 * The engine's next attempt at one transfer. It follows BatchManager.attempt (keep the two in
 * step): a fresh look adopts a node carrying our transfer_id and the file's size; else the file is
 * uploaded, from the saved checkpoint when there is one (when the destination rejects it, a fresh
 * look again, then from byte 0); then one copy per path: every other node `find` lists is
 * discarded.
 */
async function nextAttempt(
  destination: Destination,
  file: { path: string; data: Buffer; transferId: string; checkpoint?: UploadCheckpoint | null },
): Promise<Attempt> {
  const { path, data, transferId } = file;
  const ours = (nodes: DestinationNode[]): DestinationNode | undefined =>
    nodes.find((n) => n.transfer_id === transferId && n.size === data.length);
  let pulled = 0;
  const upload = async (resume: UploadCheckpoint | null): Promise<DestinationNode> => {
    const start = resume?.next_offset ?? 0;
    const counted = countedBody(data.subarray(start));
    try {
      return await destination.upload({
        ...request(path, data),
        body: counted.body,
        transfer_id: transferId,
        resume,
      });
    } finally {
      pulled += counted.pulled();
    }
  };
  let node = ours(await destination.find(path, { fresh: true }));
  const adopted = node !== undefined;
  if (!node) {
    try {
      node = await upload(file.checkpoint ?? null);
    } catch (err) {
      if (!(err instanceof ResumeRejectedError)) throw err;
      node = ours(await destination.find(path, { fresh: true })) ?? (await upload(null));
    }
  }
  expect(node.size).toBe(data.length);
  for (const other of await destination.find(path, { fresh: true })) {
    if (other.handle !== node.handle) await destination.discard(other.handle);
  }
  return { node, pulled, adopted };
}

describe.each(DESTINATIONS_UNDER_TEST.map((underTest) => [underTest.name, underTest] as const))(
  '%s destination',
  (_name, underTest) => {
    let peer: RunningDestination;
    let dest: Destination;

    beforeAll(async () => {
      peer = await underTest.start();
      dest = peer.destination;
      await dest.connect();
    });

    afterAll(async () => {
      await peer?.stop();
    });

    /** Bytes the peer received while `fn` ran, when it can tell. */
    async function received<T>(fn: () => Promise<T>): Promise<{ result: T; bytes: number | null }> {
      const before = peer.receivedBytes?.() ?? null;
      const result = await fn();
      const after = peer.receivedBytes?.() ?? null;
      return { result, bytes: before === null || after === null ? null : after - before };
    }

    describe('bytes', () => {
      it.each(underTest.boundarySizes)('stores the bytes of a %i-byte file', async (size) => {
        const path = peer.path(`Sizes/size-${size}.bin`);
        const data = randomBytes(size);
        const progress: number[] = [];
        const node = await dest.upload(request(path, data, { onProgress: (bytes) => progress.push(bytes) }));
        expect(node.size).toBe(size);
        if (size > 0) expect(progress.at(-1)).toBe(size);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(data), size });
        expect(await dest.find(path)).toEqual([expect.objectContaining({ handle: node.handle, size })]);
      });

      it('keeps names with spaces and non-ASCII characters', async () => {
        for (const relative of [
          'Name Tests/with some spaces.bin',
          'Café/naïve ü 文件.bin',
          'Ünï cödé/ζ 名前 😀.txt',
        ]) {
          const path = peer.path(relative);
          const data = randomBytes(1000 + relative.length);
          const node = await dest.upload(request(path, data));
          expect(await peer.readBack(path)).toEqual({ sha256: sha256(data), size: data.length });
          expect(await dest.find(path, { fresh: true })).toEqual([
            expect.objectContaining({ handle: node.handle, size: data.length }),
          ]);
        }
      });
    });

    describe('resume', () => {
      it('goes on from a checkpoint, byte-exact, sending fewer bytes than the file', async () => {
        const { size, stallAt } = underTest.resume;
        const path = peer.path('Resume/file.bin');
        const data = randomBytes(size);
        const controller = new AbortController();
        let last: UploadCheckpoint | null = null;
        const first = dest.upload({
          ...request(path, data),
          body: stallingBody(data, stallAt),
          signal: controller.signal,
          onCheckpoint: (c) => {
            last = c;
          },
        });
        await waitFor(() => (last?.next_offset ?? 0) >= stallAt, `a checkpoint at ${stallAt}`);
        controller.abort();
        expect(await rejection(first)).toBeInstanceOf(CancelledError);
        const saved = last as unknown as UploadCheckpoint;
        expect(saved.next_offset).toBe(stallAt);

        const { result, bytes } = await received(() =>
          nextAttempt(dest, { path, data, transferId: `tid-${path}`, checkpoint: saved }),
        );
        expect(result.adopted).toBe(false);
        expect(result.pulled).toBe(size - stallAt);
        if (bytes !== null) expect(bytes).toBeLessThan(size);
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(data), size });
        expect(await peer.copies(path)).toBe(1);
        expect(await peer.leftovers(path)).toEqual([]);
      });

      it('resumes an upload interrupted again after a resume, from its own checkpoint', async () => {
        const { size, stallAt, stallAgainAt } = underTest.resume;
        const path = peer.path('Resume/twice.bin');
        const data = randomBytes(size);
        const interrupted = async (start: number, stall: number, resume: UploadCheckpoint | null) => {
          const controller = new AbortController();
          let last: UploadCheckpoint | null = null;
          const upload = dest.upload({
            ...request(path, data),
            body: stallingBody(data.subarray(start), stall - start),
            signal: controller.signal,
            resume,
            onCheckpoint: (c) => {
              last = c;
            },
          });
          await waitFor(() => (last?.next_offset ?? 0) >= stall, `a checkpoint at ${stall}`);
          controller.abort();
          expect(await rejection(upload)).toBeInstanceOf(CancelledError);
          return last as unknown as UploadCheckpoint;
        };
        const first = await interrupted(0, stallAt, null);
        expect(first.next_offset).toBe(stallAt);
        const second = await interrupted(stallAt, stallAgainAt, first);
        expect(second.next_offset).toBe(stallAgainAt);

        const { result, bytes } = await received(() =>
          nextAttempt(dest, { path, data, transferId: `tid-${path}`, checkpoint: second }),
        );
        expect(result.pulled).toBe(size - stallAgainAt);
        if (bytes !== null) expect(bytes).toBeLessThan(size - stallAt);
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(data), size });
        expect(await peer.copies(path)).toBe(1);
        expect(await peer.leftovers(path)).toEqual([]);
      });
    });

    describe('adopt', () => {
      it('adopts a finished copy that was never recorded, sending no byte again', async () => {
        const path = peer.path('Adopt/file.bin');
        const data = randomBytes(300_000);
        const transferId = 'tid-adopt';
        let last: UploadCheckpoint | null = null;
        // The upload completes, but the process stops before recording it: the store keeps the last
        // checkpoint it was given, and another process takes the transfer over.
        await dest.upload({
          ...request(path, data),
          transfer_id: transferId,
          onCheckpoint: (c) => {
            last = c;
          },
        });
        const next = peer.reopen();
        await next.connect();
        const { result, bytes } = await received(() =>
          nextAttempt(next, { path, data, transferId, checkpoint: last }),
        );
        expect(result.pulled).toBe(0);
        if (bytes !== null) expect(bytes).toBe(0);
        expect(await peer.copies(path)).toBe(1);
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(data), size: data.length });
        expect(await next.find(path, { fresh: true })).toEqual([
          expect.objectContaining({ handle: result.node.handle, size: data.length }),
        ]);
      });
    });

    describe('replace', () => {
      it('replaces a copy in place: one copy at the path, with the new bytes', async () => {
        const path = peer.path('Replace/file.bin');
        const first = randomBytes(200_000);
        const second = randomBytes(150_001);
        await nextAttempt(dest, { path, data: first, transferId: 'tid-gen-1' });
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(first), size: first.length });
        // A forced transfer: a new generation of the same path, with its own transfer id.
        const { node } = await nextAttempt(dest, { path, data: second, transferId: 'tid-gen-2' });
        expect(await peer.copies(path)).toBe(1);
        expect(await peer.readBack(path)).toEqual({ sha256: sha256(second), size: second.length });
        expect(await dest.find(path, { fresh: true })).toEqual([
          expect.objectContaining({ handle: node.handle, size: second.length }),
        ]);
      });
    });

    describe('cancel', () => {
      it('stops promptly with CancelledError, and abandon leaves nothing at the path', async () => {
        const { size, stallAt } = underTest.resume;
        const path = peer.path('Cancel/file.bin');
        const data = randomBytes(size);
        const controller = new AbortController();
        const body = stallingBody(data, stallAt);
        let last: UploadCheckpoint | null = null;
        const upload = dest.upload({
          ...request(path, data),
          body,
          signal: controller.signal,
          onCheckpoint: (c) => {
            last = c;
          },
        });
        await waitFor(() => last !== null, 'a checkpoint');
        const abortedAt = Date.now();
        controller.abort();
        const err = await rejection(upload);
        expect(Date.now() - abortedAt).toBeLessThan(1000);
        expect(err).toBeInstanceOf(CancelledError);
        expect(body.destroyed).toBe(true);
        await dest.abandon?.(last as unknown as UploadCheckpoint);
        await sleep(200); // nothing made late either
        expect(await peer.copies(path)).toBe(0);
        expect(await peer.leftovers(path)).toEqual([]);
        expect(await dest.find(path, { fresh: true })).toEqual([]);
        // Abandoning again (an already abandoned upload) is not an error.
        await dest.abandon?.(last as unknown as UploadCheckpoint);
      });
    });

    describe('quota', () => {
      it('refuses for quota on the destination side, and nothing counts as a finished copy', async () => {
        const path = peer.path('Quota/file.bin');
        const { size, restore } = await peer.refuseForQuota();
        let err: unknown;
        try {
          // A body no longer than 1 MiB: a destination that does not refuse fails the test, not the disk.
          const data = randomBytes(Math.min(size, 1024 * 1024));
          err = await rejection(dest.upload({ ...request(path, data), size }));
        } finally {
          await restore();
        }
        expect(err).toBeInstanceOf(FerryError);
        expect(err).toMatchObject({ kind: 'quota', side: 'destination' });
        expect(await peer.copies(path)).toBe(0);
        expect(await dest.find(path, { fresh: true })).toEqual([]);
        expect(await peer.leftovers(path)).toEqual([]);
      });
    });
  },
);
