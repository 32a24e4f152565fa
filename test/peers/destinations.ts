/**
 * The destinations the conformance suite (test/destinations.conformance.test.ts) runs against,
 * like rclone's fstests: one entry per destination, each starting its real peer and building the
 * Destination under test on it. The suite names no destination: adding one is adding an entry
 * here.
 *
 * What an entry gives, and why the suite needs it:
 * - `name`: shown in the suite's titles.
 * - `boundarySizes`: file sizes on and around the destination's chunk and part boundaries, 0 first.
 * - `resume`: a file size and two offsets inside it where a checkpoint can fall (chunk or part
 *   boundaries): the suite's body stalls at `stallAt`, waits for a checkpoint naming it and aborts;
 *   a resumed upload is interrupted the same way at `stallAgainAt`.
 * - `start()`: starts the peer and builds the destination; what it gives (below) is on that peer.
 * - `destination`: the Destination under test (not yet connected: the suite connects it).
 * - `reopen()`: a second Destination on the same peer, as a restarted process would build it (a
 *   finished copy is adopted by the process that comes after a crash).
 * - `path(relative)`: the destination's path for a file at `relative` ("Sizes/a.bin"): MEGA's
 *   start with "/", S4's object keys and local paths do not.
 * - `readBack(path)`: the SHA-256 and size of the one copy at `path`, read from the peer itself
 *   (never through the destination under test); rejects when there is not exactly one.
 * - `copies(path)`: how many copies the peer holds at `path` (MEGA: file nodes outside the Rubbish
 *   Bin; S4: 0 or 1 object; local: 0 or 1 file).
 * - `leftovers(path)`: what an unfinished upload left for `path` besides copies (local: the partial
 *   file; S4: multipart uploads in progress); empty when nothing is left.
 * - `receivedBytes()`: bytes of file data the peer received so far, repeats included (what crossed
 *   the wire), when the peer can tell; without it the suite counts what the body gave.
 * - `refuseForQuota()`: makes the destination refuse uploads for quota from now on; gives the size
 *   of a file to declare (MEGA: any; local: more than the free space) and how to undo it.
 * - `stop()`: closes the destinations and stops the peer, removing what it wrote.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statfsSync } from 'node:fs';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDestination } from '../../src/main/engine/destinations/local';
import { MegaDestination } from '../../src/main/engine/destinations/mega';
import type { Destination } from '../../src/main/engine/ports';
import { downloadSha256, listPath, startMegaPeer } from './mega';
import { S4Destination } from '../../src/main/engine/destinations/s4';
import { startS4Peer } from './s4';

export interface DestinationUnderTest {
  name: string;
  boundarySizes: number[];
  resume: { size: number; stallAt: number; stallAgainAt: number };
  start(): Promise<RunningDestination>;
}

export interface RunningDestination {
  destination: Destination;
  reopen(): Destination;
  path(relative: string): string;
  readBack(path: string): Promise<{ sha256: string; size: number }>;
  copies(path: string): Promise<number>;
  leftovers(path: string): Promise<string[]>;
  receivedBytes?(): number;
  refuseForQuota(): Promise<{ size: number; restore(): Promise<void> }>;
  stop(): Promise<void>;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * MEGA's cloud drive on mega-mock (test/peers/mega.ts). Chunks are 128 KiB, 256 KiB, … 1 MiB,
 * then 1 MiB each; the MAC works on 16-byte blocks. Bytes are read back as the ciphertext MEGA
 * serves, decrypted with the node key and MAC-checked by the peer (not by megajs's download,
 * whose MAC check is wrong at some sizes).
 */
export const megaUnderTest: DestinationUnderTest = {
  name: 'mega',
  boundarySizes: [0, 1, 15, 16, 17, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 384 * KiB, MiB + 1],
  // Chunks of 128, 256, 384 … 1024 KiB, then 1 MiB each: 1280 KiB ends the fourth, 1920 KiB the fifth.
  resume: { size: 3 * MiB + 5, stallAt: 1280 * KiB, stallAgainAt: 1920 * KiB },
  async start() {
    const peer = await startMegaPeer();
    const made: MegaDestination[] = [];
    const build = (): MegaDestination => {
      const destination = new MegaDestination({
        email: peer.email,
        password: peer.password,
        gateway: peer.gateway,
        connections: 2,
        requestRetry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
      });
      made.push(destination);
      return destination;
    };
    return {
      destination: build(),
      reopen: build,
      path: (relative) => '/' + relative,
      readBack: (path) => downloadSha256(peer, path),
      copies: async (path) => (await listPath(peer, path)).length,
      // An unfinished MEGA upload makes no node; its upload URL expires by itself.
      leftovers: async () => [],
      receivedBytes: () => peer.uploadedBytes(),
      async refuseForQuota() {
        // EOVERQUOTA (−17) to the upload commands: `u` (an upload URL) and `p` (the node).
        peer.setCommandAnswer('u', -17);
        peer.setCommandAnswer('p', -17);
        return {
          size: 100 * KiB,
          async restore() {
            peer.setCommandAnswer('u', null);
            peer.setCommandAnswer('p', null);
          },
        };
      },
      async stop() {
        await Promise.all(made.map((destination) => destination.close().catch(() => undefined)));
        await peer.stop();
      },
    };
  },
};

/**
 * A local folder in a temporary directory. Its writes go 64 KiB at a time (a stream's default),
 * so the boundaries are around 64 KiB; checkpoints at the default interval (one a second).
 */
export const localUnderTest: DestinationUnderTest = {
  name: 'local',
  boundarySizes: [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, MiB + 1],
  resume: { size: 3 * MiB + 5, stallAt: 1280 * KiB, stallAgainAt: 2304 * KiB },
  async start() {
    const base = await mkdtemp(join(tmpdir(), 'megaferry-local-peer-'));
    const root = join(base, 'destination');
    const build = (): LocalDestination => new LocalDestination({ root });
    const regularFile = async (path: string): Promise<boolean> =>
      (await lstat(join(root, ...path.split('/'))).catch(() => null))?.isFile() ?? false;
    return {
      destination: build(),
      reopen: build,
      path: (relative) => relative,
      async readBack(path) {
        const file = join(root, ...path.split('/'));
        if (!(await regularFile(path))) throw new Error(`expected one file at ${path}, found none`);
        const hash = createHash('sha256');
        let size = 0;
        for await (const piece of createReadStream(file)) {
          hash.update(piece as Buffer);
          size += (piece as Buffer).length;
        }
        return { sha256: hash.digest('hex'), size };
      },
      copies: async (path) => ((await regularFile(path)) ? 1 : 0),
      leftovers: async (path) => ((await regularFile(path + '.partial')) ? [path + '.partial'] : []),
      async refuseForQuota() {
        // More than the filesystem has free: refused before a byte is written.
        const { bavail, bsize } = statfsSync(base);
        return { size: bavail * bsize + 64 * MiB, restore: async () => undefined };
      },
      async stop() {
        await rm(base, { recursive: true, force: true });
      },
    };
  },
};

/** Every destination the conformance suite runs against. */
/**
 * MEGA S4 on a second s3rver behind the S4 rules proxy (test/peers/s4.ts), which refuses what S4
 * refuses (a part number sent twice, unequal parts, checksum headers, a missing Content-MD5), so a
 * case fails where S4 would. Parts are 5 MiB (S4's least): the boundaries are one PutObject up to
 * one part, multipart above it. Quota: 403 AccountProblem, as S4 answers over its quota.
 */
export const s4UnderTest: DestinationUnderTest = {
  name: 's4',
  boundarySizes: [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 10 * MiB + 1],
  resume: { size: 20 * MiB + 7, stallAt: 5 * MiB, stallAgainAt: 10 * MiB },
  async start() {
    const bucket = 'conformance';
    const peer = await startS4Peer({ buckets: [bucket] });
    const made: S4Destination[] = [];
    const build = (): S4Destination => {
      const destination = new S4Destination({
        endpoint: peer.endpoint,
        region: peer.region,
        accessKeyId: peer.accessKeyId,
        secretAccessKey: peer.secretAccessKey,
        bucket,
        connections: 2,
        partSize: 5 * MiB,
        requestRetry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
      });
      made.push(destination);
      return destination;
    };
    const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    return {
      destination: build(),
      reopen: build,
      path: (relative) => relative,
      async readBack(path) {
        const object = await peer.readObject(bucket, path);
        if (!object) throw new Error(`no object at ${path}`);
        return { sha256: sha(object.bytes), size: object.bytes.length };
      },
      copies: async (path) => ((await peer.readObject(bucket, path)) ? 1 : 0),
      leftovers: async (path) =>
        peer
          .openUploads(bucket)
          .filter((u) => u.key === path)
          .map((u) => `multipart upload ${u.uploadId}`),
      receivedBytes: () => peer.count('UploadPart').bytes + peer.count('PutObject').bytes,
      async refuseForQuota() {
        peer.answerQuota(() => true);
        return {
          size: 100 * KiB,
          async restore() {
            peer.clearFaults();
          },
        };
      },
      async stop() {
        await Promise.all(made.map((destination) => destination.close().catch(() => undefined)));
        await peer.stop();
      },
    };
  },
};

export const DESTINATIONS_UNDER_TEST: DestinationUnderTest[] = [megaUnderTest, s4UnderTest, localUnderTest];
