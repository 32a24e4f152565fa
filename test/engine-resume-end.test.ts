/**
 * A resume whose checkpoint already covers the whole file (every chunk reached MEGA, the process
 * died before the node was made): it reads nothing more from S3 (no `Range: bytes=SIZE-`, which
 * S3 answers 416 InvalidRange) and sends nothing more to MEGA; it makes the node and ends `done`.
 * Real peers: s3rver, mega-mock, the embedded store.
 *
 * The state is the one a kill leaves: the checkpoint is made by the real MegaDestination (sealed
 * with the account's key, holding MEGA's completion token), the file's document holds it under a
 * lease of a process that is gone, and the batch is still `running`.
 */
import { megaDestinationId } from '../src/main/engine/destinations/ids';
import { claimRule, patchHeldRule, queueRule } from '../src/main/store/rules';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import { CancelledError } from '../src/main/engine/errors';
import type { UploadCheckpoint } from '../src/main/engine/ports';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { openStore } from '../src/main/store/open';
import { ferryEnv } from './peers/env';
import { KiB, MiB, sha256, testBytes } from './peers/fixtures';
import { downloadSha256, listPath, startMegaPeer, type MegaPeer } from './peers/mega';
import { startS3Peer, type S3Peer } from './peers/s3';

const BUCKET = 'resume-end';

let s3: S3Peer;
let mega: MegaPeer;
let dataDir: string;

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  dataDir = await mkdtemp(join(tmpdir(), 'megaferry-resume-end-'));
});

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const config = () => configFromEnv(ferryEnv({ s3, mega, mongo: null }, dataDir));

/** Sends every chunk of `data` to MEGA and stops before the node: the last checkpoint. */
async function finalCheckpoint(path: string, data: Buffer, transferId: string): Promise<UploadCheckpoint> {
  const dest = new MegaDestination({ email: mega.email, password: mega.password, gateway: mega.gateway });
  try {
    const controller = new AbortController();
    let last: UploadCheckpoint | null = null;
    const upload = dest.upload({
      path,
      size: data.length,
      body: Readable.from([data]),
      transfer_id: transferId,
      signal: controller.signal,
      onProgress: () => undefined,
      onCheckpoint: (checkpoint) => {
        last = checkpoint;
        if (checkpoint.next_offset === data.length) controller.abort(); // killed right after it
      },
    });
    expect(await upload.catch((e: unknown) => e)).toBeInstanceOf(CancelledError);
    expect(last).not.toBeNull();
    return last as unknown as UploadCheckpoint;
  } finally {
    await dest.close();
  }
}

describe('resume with the checkpoint at the end of the file', () => {
  it.each([
    ['end/three-mib.bin', 3 * MiB + 5],
    ['end/one-chunk.bin', 128 * KiB],
  ])('%s: no read from S3, no byte sent again, the node made once, done', async (key, size) => {
    const data = testBytes(size, size % 251);
    await s3.put(BUCKET, key, data);
    const path = `/End/${key}`;
    const transferId = `tid-${size}`;
    const checkpoint = await finalCheckpoint(path, data, transferId);
    expect(checkpoint.next_offset).toBe(size);
    expect(await listPath(mega, path)).toHaveLength(0);

    // The document and the batch as a kill leaves them.
    let etag: string | null;
    {
      const probe = await FerryService.open(config(), { resume: false });
      try {
        etag = (await probe.source.head(BUCKET, key))?.etag ?? null;
      } finally {
        await probe.close();
      }
    }
    const batchId = `batch_end${size}`;
    const ref = {
      bucket_name: BUCKET,
      remote_key: key,
      destination: megaDestinationId(mega.email),
      s4_key: path,
    };
    const store = await openStore({ dataDir });
    try {
      const now = new Date();
      await store.insertBatch({
        batch_id: batchId,
        options: { bucket: BUCKET, keys: [key], target: '/End', max_concurrent: 1, force: false },
        destination: ref.destination,
        files: [{ code: key, remote_key: key, s4_key: path, start_result: 'started' }],
        state: 'running',
        rev: 0,
        created_at: now,
        updated_at: now,
      });
      const seed = { ...ref, code: key, size, etag };
      const queued = await store.applyFile(
        ref,
        queueRule(seed, { batchId, force: false, newTransferId: transferId }),
      );
      expect(queued.kind).toBe('queued');
      expect(await store.applyFile(ref, claimRule('gone-process', 1))).not.toBeNull();
      await store.applyFile(
        ref,
        patchHeldRule('gone-process', {
          upload_session: { transfer_id: transferId, size, etag, next_offset: size, state: checkpoint.state },
        }),
      );
    } finally {
      await store.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 5)); // its lease has expired

    const sentBefore = mega.uploadedBytes();
    const service = await FerryService.open(config(), { resume: true });
    try {
      expect(service.resumed).toContain(batchId);
      await service.manager.waitForBatch(batchId);
      const [doc] = await service.store.getFiles([ref]);
      expect(doc?.error_message ?? null, 'no S3 InvalidRange').toBeNull();
      expect(doc?.status).toBe('done');
      expect(doc?.retry_count).toBe(0);
      expect(doc?.upload_session ?? null).toBeNull();
      expect(mega.uploadedBytes()).toBe(sentBefore);
    } finally {
      await service.close();
    }
    expect(await listPath(mega, path)).toHaveLength(1);
    expect(await downloadSha256(mega, path)).toEqual({ sha256: sha256(data), size });
  });
});
