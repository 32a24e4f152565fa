/**
 * LocalDestination on the real filesystem: what is special to a local folder. Paths that would
 * lead out of the folder, the partial file and its rename, checkpoints that name only fsynced
 * bytes, the free-space refusal, a resume that cuts back a partial file longer than its
 * checkpoint, and a finished copy adopted by its device and inode. What every destination does
 * (bytes at boundary sizes, resume, adopt, replace, cancel, quota) is in
 * destinations.conformance.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDestination } from '../src/main/engine/destinations/local';
import { CancelledError, FerryError, ResumeRejectedError } from '../src/main/engine/errors';
import type { UploadCheckpoint, UploadRequest } from '../src/main/engine/ports';

let base: string;
let root: string;
let outside: string;
let dest: LocalDestination;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'megaferry-local-dest-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(outside);
  dest = new LocalDestination({ root, checkpointIntervalMs: 100 });
  await dest.connect();
});

afterAll(async () => {
  await dest?.close();
  if (base) {
    await chmod(join(base, 'locked'), 0o755).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  }
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function request(path: string, data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    path,
    size: data.length,
    body: Readable.from(data.length > 0 ? [data] : []),
    transfer_id: `tid-${path}`,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...extra,
  };
}

/**
 * A body that gives `data` 64 KiB at a time up to `until`, then stalls until `release(upTo)` lets
 * it go on (to the end by default).
 */
function heldBody(data: Buffer, until: number): { body: Readable; release: (upTo?: number) => void } {
  let sent = 0;
  let limit = until;
  let wanted = false;
  const pump = (): void => {
    if (!wanted) return;
    if (sent >= data.length) {
      wanted = false;
      body.push(null);
      return;
    }
    if (sent >= limit) return; // stalled: wanted stays true until release
    wanted = false;
    const n = Math.min(64 * 1024, limit - sent);
    const piece = data.subarray(sent, sent + n);
    sent += n;
    body.push(piece);
  };
  const body = new Readable({
    read() {
      wanted = true;
      pump();
    },
  });
  return {
    body,
    release(upTo = data.length) {
      limit = upTo;
      pump();
    },
  };
}

/** Puts another file (another inode: the old one still exists while it is made) at `path`. */
async function replaceFile(path: string, bytes: Buffer): Promise<void> {
  await writeFile(path + '.other', bytes);
  await rename(path + '.other', path);
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}

/**
 * A 1 MiB tmpfs mounted at `at` (with more mount options, e.g. "ro"), where this process may
 * mount one (Linux, as root); else false.
 */
function mountSmallFilesystem(at: string, options: string[] = []): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', ['size=1m', ...options].join(','), 'tmpfs', at], {
    stdio: 'ignore',
  });
  return mounted.status === 0;
}

describe('connect', () => {
  it('makes a missing folder, and names the destination by its folder', async () => {
    const folder = join(base, 'made', 'on', 'connect');
    const made = new LocalDestination({ root: folder + '/' });
    expect(made.id).toBe(`local:${folder}`);
    await made.connect();
    expect((await stat(folder)).isDirectory()).toBe(true);
  });

  it('refuses a relative path and a file as config', async () => {
    const relativeErr = await rejection(new LocalDestination({ root: 'relative/folder' }).connect());
    expect(relativeErr).toMatchObject({ kind: 'config', side: 'destination' });
    expect((relativeErr as Error).message).toContain('absolute');

    const file = join(base, 'a-file');
    await writeFile(file, 'x');
    const fileErr = await rejection(new LocalDestination({ root: file }).connect());
    expect(fileErr).toMatchObject({ kind: 'config', side: 'destination' });
    expect((fileErr as Error).message).toContain(file);
    const under = await rejection(new LocalDestination({ root: join(file, 'below') }).connect());
    expect(under).toMatchObject({ kind: 'config', side: 'destination' });
  });

  it.skipIf(process.platform === 'win32')('refuses a folder it cannot write to as auth', async (ctx) => {
    // A folder without write permission; as root (who writes anyway) a read-only filesystem.
    const locked = join(base, 'locked');
    await mkdir(locked);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      if (!mountSmallFilesystem(locked, ['ro'])) {
        ctx.skip();
        return;
      }
    } else {
      await chmod(locked, 0o555);
    }
    try {
      const err = await rejection(new LocalDestination({ root: locked }).connect());
      expect(err).toMatchObject({ kind: 'auth', side: 'destination' });
      expect((err as Error).message).toContain(locked);
      const below = await rejection(new LocalDestination({ root: join(locked, 'sub') }).connect());
      expect(below).toMatchObject({ kind: 'auth', side: 'destination' });
    } finally {
      if (asRoot) spawnSync('umount', [locked], { stdio: 'ignore' });
    }
  });
});

describe('paths stay inside the folder', () => {
  const refused = [
    '../escape.bin',
    'a/../../escape.bin',
    '/etc/escape.bin',
    'a//b.bin',
    './a.bin',
    'a/.',
    '',
    'a/b/',
    'nul\0.bin',
  ];

  it.each(refused)('refuses %j as config, naming it, and writes nothing', async (path) => {
    const before = await readdir(base);
    for (const call of [
      () => dest.upload(request(path, randomBytes(10))),
      () => dest.find(path),
      () => dest.discard(path),
      () => dest.readCopy(path, new AbortController().signal),
    ]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(FerryError);
      expect(err).toMatchObject({ kind: 'config', side: 'destination' });
      expect((err as Error).message).toContain(JSON.stringify(path));
    }
    expect(await readdir(base)).toEqual(before);
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses a symlink inside the folder that leads outside it, and follows one that stays inside', async () => {
    await symlink(outside, join(root, 'out-link'));
    await writeFile(join(outside, 'secret.txt'), 'secret');
    for (const path of ['out-link/new.bin', 'out-link/deeper/new.bin', 'out-link/secret.txt']) {
      for (const call of [
        () => dest.upload(request(path, randomBytes(10))),
        () => dest.find(path),
        () => dest.discard(path),
        () => dest.readCopy(path, new AbortController().signal),
      ]) {
        const err = await rejection(call());
        expect(err).toMatchObject({ kind: 'config', side: 'destination' });
        expect((err as Error).message).toContain(path);
      }
    }
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret');

    // A dangling symlink on the way is refused too, and makes nothing where it points.
    await symlink(join(outside, 'not-there'), join(root, 'dangling'));
    const dangling = await rejection(dest.upload(request('dangling/new.bin', randomBytes(10))));
    expect(dangling).toMatchObject({ kind: 'config', side: 'destination' });
    expect(await readdir(outside)).toEqual(['secret.txt']);

    // A symlink to a folder inside the root is fine.
    await mkdir(join(root, 'real-folder'));
    await symlink(join(root, 'real-folder'), join(root, 'in-link'));
    const data = randomBytes(100);
    await dest.upload(request('in-link/file.bin', data));
    expect(await readFile(join(root, 'real-folder', 'file.bin'))).toEqual(data);
  });

  it('never reads or follows a symlink at the file itself; an upload replaces the link', async () => {
    await writeFile(join(outside, 'target.txt'), 'outside bytes');
    await symlink(join(outside, 'target.txt'), join(root, 'linked.txt'));
    expect(await dest.find('linked.txt')).toEqual([]);
    expect(await dest.readCopy('linked.txt', new AbortController().signal)).toBeNull();
    const data = randomBytes(50);
    await dest.upload(request('linked.txt', data));
    expect(await readFile(join(root, 'linked.txt'))).toEqual(data);
    expect(await readFile(join(outside, 'target.txt'), 'utf8')).toBe('outside bytes');
  });

  it('refuses a file standing where a folder of the path is needed', async () => {
    await writeFile(join(root, 'plain'), 'x');
    const err = await rejection(dest.upload(request('plain/inner.bin', randomBytes(10))));
    expect(err).toMatchObject({ kind: 'config', side: 'destination' });
    expect(await dest.find('plain/inner.bin')).toEqual([]);
  });
});

describe('the partial file and the rename', () => {
  it('writes name.partial while the upload runs, then renames it over the final name', async () => {
    const old = randomBytes(3000);
    await dest.upload(request('gen/file.bin', old));
    const data = randomBytes(400_000);
    const held = heldBody(data, 128 * 1024);
    const upload = dest.upload({ ...request('gen/file.bin', data), body: held.body });
    const partial = join(root, 'gen', 'file.bin.partial');
    await waitFor(
      async () => (await stat(partial).catch(() => null))?.size === 128 * 1024,
      'the partial file',
    );
    // The earlier copy stays whole and readable until the new one is complete.
    expect(await readFile(join(root, 'gen', 'file.bin'))).toEqual(old);
    expect(await dest.find('gen/file.bin')).toEqual([
      { handle: 'gen/file.bin', size: 3000, transfer_id: null },
    ]);
    held.release();
    const node = await upload;
    expect(node).toEqual({ handle: 'gen/file.bin', size: data.length, transfer_id: 'tid-gen/file.bin' });
    expect(await exists(partial)).toBe(false);
    expect(sha256(await readFile(join(root, 'gen', 'file.bin')))).toBe(sha256(data));
    expect(await readdir(join(root, 'gen'))).toEqual(['file.bin']);
  });

  it('makes the folders of a deep path and reads the copy back through readCopy', async () => {
    const data = randomBytes(70_000);
    await dest.upload(request('deep/a/b/c/d.bin', data));
    const stream = await dest.readCopy('deep/a/b/c/d.bin', new AbortController().signal);
    expect(stream).not.toBeNull();
    const chunks: Buffer[] = [];
    for await (const chunk of stream as Readable) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    expect(await dest.readCopy('deep/a/b/c/missing.bin', new AbortController().signal)).toBeNull();
    expect(await dest.readCopy('no/such/folder.bin', new AbortController().signal)).toBeNull();
    expect(await dest.find('deep/a/b/c')).toEqual([]); // a folder is not a copy
    await dest.discard('deep/a/b/c/d.bin');
    await dest.discard('deep/a/b/c/d.bin'); // missing is fine
    await dest.discard('no/such/folder.bin');
    expect(await dest.find('deep/a/b/c/d.bin')).toEqual([]);
  });

  it('leaves the partial file on cancel (a pause resumes it) and abandon deletes it', async () => {
    const data = randomBytes(500_000);
    const held = heldBody(data, 192 * 1024);
    const controller = new AbortController();
    let last: UploadCheckpoint | null = null;
    const upload = dest.upload({
      ...request('cancel/file.bin', data),
      body: held.body,
      signal: controller.signal,
      onCheckpoint: (c) => {
        last = c;
      },
    });
    await waitFor(() => (last as UploadCheckpoint | null)?.next_offset === 192 * 1024, 'a checkpoint');
    const abortedAt = Date.now();
    controller.abort();
    expect(await rejection(upload)).toBeInstanceOf(CancelledError);
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(held.body.destroyed).toBe(true);
    expect(await readdir(join(root, 'cancel'))).toEqual(['file.bin.partial']);
    await dest.abandon(last as unknown as UploadCheckpoint);
    expect(await readdir(join(root, 'cancel'))).toEqual([]);
    await dest.abandon(last as unknown as UploadCheckpoint); // already gone: fine
  });

  it('stops promptly on cancel even while a checkpoint is being recorded', async () => {
    const data = randomBytes(300_000);
    const controller = new AbortController();
    let recording = false;
    const upload = dest.upload(
      request('slow-store/file.bin', data, {
        signal: controller.signal,
        onCheckpoint: async () => {
          recording = true;
          await sleep(5000); // a store that answers slowly
        },
      }),
    );
    await waitFor(() => recording, 'a checkpoint');
    const abortedAt = Date.now();
    controller.abort();
    expect(await rejection(upload)).toBeInstanceOf(CancelledError);
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(await dest.find('slow-store/file.bin')).toEqual([]);
  });

  it('refuses to write over a folder', async () => {
    await mkdir(join(root, 'taken', 'name.bin'), { recursive: true });
    const err = await rejection(dest.upload(request('taken/name.bin', randomBytes(10))));
    expect(err).toMatchObject({ kind: 'config', side: 'destination' });
    expect((err as Error).message).toContain('taken/name.bin');
    expect(await readdir(join(root, 'taken'))).toEqual(['name.bin']);
  });

  it('rejects a short or long body as a source error and never renames it', async () => {
    const short = await rejection(dest.upload({ ...request('bad/short.bin', randomBytes(100)), size: 200 }));
    expect(short).toMatchObject({ kind: 'transient', side: 'source' });
    const long = await rejection(dest.upload({ ...request('bad/long.bin', randomBytes(300)), size: 200 }));
    expect(long).toMatchObject({ kind: 'transient', side: 'source' });
    const broken = new Readable({
      read() {
        this.destroy(new Error('socket hang up'));
      },
    });
    const failed = await rejection(
      dest.upload({ ...request('bad/broken.bin', randomBytes(10)), body: broken }),
    );
    expect(failed).toMatchObject({ kind: 'transient', side: 'source' });
    expect((await readdir(join(root, 'bad'))).filter((name) => !name.endsWith('.partial'))).toEqual([]);
  });
});

describe('checkpoints', () => {
  it('name only bytes already on disk, at most one per interval, the last one for the whole file before the rename', async () => {
    const interval = 300;
    const timed = new LocalDestination({ root, checkpointIntervalMs: interval });
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const partial = join(root, 'cp', 'file.bin.partial');
    const final = join(root, 'cp', 'file.bin');
    let sent = 0;
    // 64 KiB every 25 ms: at least 1.2 s for the whole file (timers never fire early), so at
    // least three checkpoints at a 300 ms interval however fast the disk is.
    const body = new Readable({
      read() {
        if (sent >= data.length) {
          this.push(null);
          return;
        }
        setTimeout(() => {
          const n = Math.min(64 * 1024, data.length - sent);
          this.push(data.subarray(sent, sent + n));
          sent += n;
        }, 25);
      },
    });
    const seen: { at: number; next_offset: number; onDisk: Buffer; finalThere: boolean }[] = [];
    let progress = 0;
    const node = await timed.upload({
      ...request('cp/file.bin', data),
      body,
      onProgress: (bytes) => (progress = bytes),
      onCheckpoint: async (c) => {
        // When it was called (the reads below take longer on a loaded machine).
        const at = Date.now();
        const onDisk = await readFile(partial);
        const info = await stat(partial, { bigint: true });
        expect(c.state).toEqual({
          partial: 'cp/file.bin.partial',
          dev: String(info.dev),
          ino: String(info.ino),
        });
        // Bytes written but not yet checkpointed may follow; never fewer than the checkpoint says.
        expect(progress).toBeGreaterThanOrEqual(c.next_offset);
        seen.push({ at, next_offset: c.next_offset, onDisk, finalThere: await exists(final) });
        await sleep(50); // awaited: the upload waits for it
      },
    });
    expect(node.size).toBe(data.length);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const [i, c] of seen.entries()) {
      expect(c.onDisk.length).toBeGreaterThanOrEqual(c.next_offset);
      expect(sha256(c.onDisk.subarray(0, c.next_offset))).toBe(sha256(data.subarray(0, c.next_offset)));
      expect(c.finalThere).toBe(false);
      if (i > 0) {
        expect(c.next_offset).toBeGreaterThan((seen[i - 1] as { next_offset: number }).next_offset);
        if (i < seen.length - 1) {
          expect(c.at - (seen[i - 1] as { at: number }).at).toBeGreaterThanOrEqual(interval * 0.6);
        }
      }
    }
    expect(seen.at(-1)?.next_offset).toBe(data.length);
    expect(seen.filter((c) => c.next_offset === data.length)).toHaveLength(1);
    expect(sha256(await readFile(final))).toBe(sha256(data));
  });

  it('are given while the body stalls, for the bytes written before the stall', async () => {
    const data = randomBytes(600_000);
    const held = heldBody(data, 300_000);
    const checkpoints: number[] = [];
    const upload = dest.upload({
      ...request('stall/file.bin', data),
      body: held.body,
      onCheckpoint: (c) => {
        checkpoints.push(c.next_offset);
      },
    });
    await waitFor(() => checkpoints.at(-1) === 300_000, 'the trailing checkpoint');
    held.release();
    await upload;
    expect(checkpoints.at(-1)).toBe(600_000);
  });

  it('a failing checkpoint fails the upload before the rename', async () => {
    const err = await rejection(
      dest.upload(
        request('cp-fail/file.bin', randomBytes(1000), {
          onCheckpoint: () => Promise.reject(new FerryError('transient', 'store', 'store is down')),
        }),
      ),
    );
    expect(err).toMatchObject({ kind: 'transient', side: 'store' });
    expect(await dest.find('cp-fail/file.bin')).toEqual([]);
  });
});

describe('free space', () => {
  it('refuses a file larger than the free space as quota, before reading a byte', async () => {
    const { bavail, bsize } = statfsSync(root);
    const size = bavail * bsize + 1024 * 1024;
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1024;
        this.push(Buffer.alloc(1024));
      },
    });
    const err = await rejection(dest.upload({ ...request('big/huge.bin', Buffer.alloc(0)), size, body }));
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'quota', side: 'destination' });
    expect((err as Error).message).toMatch(
      new RegExp(
        `^not enough free space in ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+ needed, .+ free$`,
      ),
    );
    expect(pulled).toBeLessThanOrEqual(64 * 1024);
    expect(await readdir(join(root, 'big'))).toEqual([]);
  });
});

describe('a disk that fills up while writing', () => {
  it('refuses as quota when the disk fills up in the middle (ENOSPC), keeping the partial file', async (ctx) => {
    const small = join(base, 'small');
    await mkdir(small);
    if (!mountSmallFilesystem(small)) {
      ctx.skip();
      return;
    }
    try {
      const onSmall = new LocalDestination({ root: join(small, 'root') });
      await onSmall.connect();
      const data = randomBytes(600 * 1024);
      const held = heldBody(data, 256 * 1024);
      const upload = onSmall.upload({ ...request('full/file.bin', data), body: held.body });
      const partial = join(small, 'root', 'full', 'file.bin.partial');
      await waitFor(
        async () => (await stat(partial).catch(() => null))?.size === 256 * 1024,
        'the partial file',
      );
      // Something else takes the rest of the disk meanwhile.
      await writeFile(join(small, 'filler'), Buffer.alloc(700 * 1024)).catch(() => undefined);
      held.release();
      const err = await rejection(upload);
      expect(err).toBeInstanceOf(FerryError);
      expect(err).toMatchObject({ kind: 'quota', side: 'destination' });
      expect((err as Error).message).toMatch(/ENOSPC/);
      expect(await onSmall.find('full/file.bin')).toEqual([]);
      expect(await exists(partial)).toBe(true);
    } finally {
      spawnSync('umount', [small], { stdio: 'ignore' });
    }
  });
});

describe('resume', () => {
  it('cuts back a partial file longer than its checkpoint and appends from there, in the same file', async () => {
    const data = randomBytes(900_000);
    const held = heldBody(data, 256 * 1024);
    const controller = new AbortController();
    const checkpoints: UploadCheckpoint[] = [];
    let block = false;
    const first = dest.upload({
      ...request('resume/file.bin', data),
      body: held.body,
      signal: controller.signal,
      onCheckpoint: (c) => {
        if (!block) checkpoints.push(c);
      },
    });
    await waitFor(() => checkpoints.at(-1)?.next_offset === 256 * 1024, 'a checkpoint');
    // More bytes reach the partial file, but no checkpoint names them (the store missed them).
    block = true;
    held.release(700_000);
    const partial = join(root, 'resume', 'file.bin.partial');
    await waitFor(async () => ((await stat(partial)).size ?? 0) > 600_000, 'bytes past the checkpoint');
    controller.abort();
    expect(await rejection(first)).toBeInstanceOf(CancelledError);
    const saved = checkpoints.at(-1) as UploadCheckpoint;
    const before = await stat(partial, { bigint: true });
    expect(before.size).toBeGreaterThan(BigInt(saved.next_offset));
    expect(saved.state).toMatchObject({ ino: String(before.ino), dev: String(before.dev) });

    const progress: number[] = [];
    const resumedCheckpoints: number[] = [];
    // The rest is different bytes from what the partial file holds past the checkpoint: they must
    // replace them, not follow them.
    const node = await dest.upload({
      ...request('resume/file.bin', data),
      body: Readable.from([data.subarray(saved.next_offset)]),
      resume: saved,
      onProgress: (bytes) => progress.push(bytes),
      onCheckpoint: (c) => {
        resumedCheckpoints.push(c.next_offset);
        expect(c.state).toEqual(saved.state); // the same file goes on
      },
    });
    expect(node).toEqual({
      handle: 'resume/file.bin',
      size: data.length,
      transfer_id: 'tid-resume/file.bin',
    });
    expect(progress[0]).toBeGreaterThan(saved.next_offset);
    expect(progress.at(-1)).toBe(data.length);
    expect(resumedCheckpoints.at(-1)).toBe(data.length);
    const after = await stat(join(root, 'resume', 'file.bin'), { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(sha256(await readFile(join(root, 'resume', 'file.bin')))).toBe(sha256(data));
  });

  it('finishes a file whose last checkpoint was given but which was never renamed, reading nothing', async () => {
    const data = randomBytes(200_000);
    const controller = new AbortController();
    let last: UploadCheckpoint | null = null;
    // Stopped after the checkpoint for the whole file, before the rename (as a crash there would).
    const first = dest.upload(
      request('unrenamed/file.bin', data, {
        signal: controller.signal,
        onCheckpoint: (c) => {
          last = c;
          if (c.next_offset === data.length) controller.abort();
        },
      }),
    );
    expect(await rejection(first)).toBeInstanceOf(CancelledError);
    expect(await readdir(join(root, 'unrenamed'))).toEqual(['file.bin.partial']);
    const saved = last as unknown as UploadCheckpoint;
    expect(saved.next_offset).toBe(data.length);
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(null);
      },
    });
    const node = await dest.upload({ ...request('unrenamed/file.bin', data), body, resume: saved });
    expect(node.size).toBe(data.length);
    expect(pulled).toBeLessThanOrEqual(1); // an empty body read once at most: no byte
    expect(await readdir(join(root, 'unrenamed'))).toEqual(['file.bin']);
    expect(sha256(await readFile(join(root, 'unrenamed', 'file.bin')))).toBe(sha256(data));
  });

  it('rejects a checkpoint whose partial file is gone, shorter, or another file', async () => {
    const data = randomBytes(300_000);
    const held = heldBody(data, 131_072);
    const controller = new AbortController();
    let last: UploadCheckpoint | null = null;
    const first = dest.upload({
      ...request('reject/file.bin', data),
      body: held.body,
      signal: controller.signal,
      onCheckpoint: (c) => {
        last = c;
      },
    });
    await waitFor(() => (last as UploadCheckpoint | null)?.next_offset === 131_072, 'a checkpoint');
    controller.abort();
    await rejection(first);
    const saved = last as unknown as UploadCheckpoint;
    const partial = join(root, 'reject', 'file.bin.partial');
    const again = (checkpoint: UploadCheckpoint, path = 'reject/file.bin') =>
      rejection(
        dest.upload({
          ...request(path, data),
          body: Readable.from([data.subarray(checkpoint.next_offset)]),
          resume: checkpoint,
        }),
      );

    // Another checkpoint's shape, or one of another path.
    expect(await again({ next_offset: 10, state: {} })).toBeInstanceOf(ResumeRejectedError);
    expect(await again(saved, 'reject/other.bin')).toBeInstanceOf(ResumeRejectedError);
    expect(await again({ ...saved, next_offset: data.length + 1 })).toBeInstanceOf(ResumeRejectedError);
    // Shorter than the checkpoint says.
    expect(await again({ ...saved, next_offset: 200_000 })).toBeInstanceOf(ResumeRejectedError);
    // Another file of the same name (a new inode).
    await replaceFile(partial, await readFile(partial));
    const err = await again(saved);
    expect(err).toBeInstanceOf(ResumeRejectedError);
    expect(err).toMatchObject({ kind: 'transient', side: 'destination' });
    // Gone, and no finished file either.
    await rm(partial);
    expect(await again(saved)).toBeInstanceOf(ResumeRejectedError);
    expect(await dest.find('reject/file.bin')).toEqual([]);
  });
});

describe('adopt', () => {
  it('adopts a finished copy the store never recorded by its device and inode, writing nothing', async () => {
    const data = randomBytes(250_000);
    let last: UploadCheckpoint | null = null;
    await dest.upload(
      request('adopt/file.bin', data, {
        onCheckpoint: (c) => {
          last = c;
        },
      }),
    );
    const saved = last as unknown as UploadCheckpoint;
    expect(saved.next_offset).toBe(data.length);
    const file = join(root, 'adopt', 'file.bin');
    const before = await stat(file, { bigint: true });
    expect(saved.state).toMatchObject({ dev: String(before.dev), ino: String(before.ino) });
    await sleep(20);

    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(null);
      },
    });
    const progress: number[] = [];
    const node = await dest.upload({
      ...request('adopt/file.bin', data),
      body,
      resume: saved,
      onProgress: (bytes) => progress.push(bytes),
      onCheckpoint: () => {
        throw new Error('no checkpoint expected');
      },
    });
    expect(node).toEqual({ handle: 'adopt/file.bin', size: data.length, transfer_id: 'tid-adopt/file.bin' });
    expect(pulled).toBe(0);
    expect(progress).toEqual([data.length]);
    const after = await stat(file, { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(await readdir(join(root, 'adopt'))).toEqual(['file.bin']);

    // A file of the same size but not the one the checkpoint names is not adopted.
    await replaceFile(file, randomBytes(data.length));
    const err = await rejection(
      dest.upload({ ...request('adopt/file.bin', data), body: Readable.from([]), resume: saved }),
    );
    expect(err).toBeInstanceOf(ResumeRejectedError);
  });
});
