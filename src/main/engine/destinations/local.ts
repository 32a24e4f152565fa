/**
 * The local-folder destination: each copy is a plain file under one folder (the root). A file is
 * written to `<name>.partial` beside its final name, fsynced, then renamed over the final name
 * (replace in place) and its folder fsynced: a crash leaves the old file or the new one, never half
 * of one. A checkpoint names only bytes already fsynced, so it is still true after a crash.
 *
 * A plain file cannot carry a transfer id: a copy that was finished but never recorded is adopted
 * through its checkpoint instead (the last one, written before the rename, names the partial
 * file's device and inode, which the renamed file keeps).
 *
 * Paths are the file's path under the root, "/"-separated, without a leading slash. None leads
 * outside the root: absolute paths, "." and ".." segments, empty segments and NUL are refused, and
 * every folder on the way is resolved to its real path and checked, so a symlink inside the root
 * cannot lead out of it.
 */
import { constants, type BigIntStats, type Stats } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  realpath,
  rename,
  stat,
  statfs,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { plainBytes } from '../../../shared/transfer-summary';
import { CancelledError, FerryError, ResumeRejectedError } from '../errors';
import { abortable } from '../retry';
import type { Destination, DestinationNode, UploadCheckpoint, UploadRequest } from '../ports';
import { localDestinationId } from './ids';

export interface LocalConfig {
  /** The folder, an absolute path; created when missing. */
  root: string;
  /** At most one checkpoint per this many milliseconds (default 1000). */
  checkpointIntervalMs?: number;
}

/** What a local checkpoint holds (its `state`): the partial file and its identity. */
export interface LocalUploadState {
  /** The partial file's path under the root ("photos/a.jpg.partial"). */
  partial: string;
  /** Device and inode numbers of the partial file, in decimal (exact beyond 2^53). */
  dev: string;
  ino: string;
}

const PARTIAL_SUFFIX = '.partial';
const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
const IS_WINDOWS = process.platform === 'win32';
/** Opening a symlink fails (ELOOP) instead of following it; Windows has no such flag. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export class LocalDestination implements Destination {
  readonly id: string;
  private readonly root: string;
  private readonly checkpointIntervalMs: number;
  /** The root's real path, once connected (concurrent callers share the attempt). */
  private realRoot: Promise<string> | null = null;

  constructor(config: LocalConfig) {
    this.root = config.root;
    this.id = localDestinationId(config.root);
    this.checkpointIntervalMs = config.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  /** The root is an absolute path, made when missing, and a folder this process can write to. */
  async connect(): Promise<void> {
    await this.ready();
  }

  async find(path: string): Promise<DestinationNode[]> {
    const at = await this.existing(path);
    if (!at) return [];
    const info = await lstatOrNull(at.file, `cannot look at ${path} in ${this.root}`);
    return info?.isFile() ? [{ handle: path, size: info.size, transfer_id: null }] : [];
  }

  async upload(req: UploadRequest): Promise<DestinationNode> {
    const { signal, body } = req;
    let handle: FileHandle | null = null;
    try {
      if (signal.aborted) throw new CancelledError();
      const root = await this.ready();
      const segments = segmentsOf(req.path);
      const dir = await this.makeFolders(root, segments.slice(0, -1), req.path);
      const file = join(dir, segments[segments.length - 1] as string);
      const partial = file + PARTIAL_SUFFIX;
      const partialPath = req.path + PARTIAL_SUFFIX;

      let start = 0;
      if (req.resume) {
        const resumed = await this.reopen(req, file, partial, partialPath);
        if ('adopted' in resumed) {
          body.destroy();
          await syncFolder(dir); // its rename may not be on disk yet
          req.onProgress(resumed.adopted.size);
          return resumed.adopted;
        }
        handle = resumed.handle;
        start = resumed.start;
      }
      const standing = await lstatOrNull(file, `cannot look at ${req.path} in ${this.root}`);
      if (standing?.isDirectory()) {
        throw new FerryError(
          'config',
          'destination',
          `cannot write ${req.path} in ${this.root}: it is a folder`,
        );
      }
      await this.checkFreeSpace(dir, req.size - start);
      if (!handle) handle = await createPartial(partial, req.path);
      const identity = await handle.stat({ bigint: true }).catch((err: unknown) => {
        throw classifyFsError(err, `cannot look at ${partialPath} in ${this.root}`);
      });
      const state: LocalUploadState = {
        partial: partialPath,
        dev: String(identity.dev),
        ino: String(identity.ino),
      };

      await new PartialWriter(handle, req, start, state, this.checkpointIntervalMs).write();
      if (signal.aborted) throw new CancelledError(); // the partial file stays: a resume finishes it
      const closing = handle;
      handle = null;
      await closing.close().catch((err: unknown) => {
        throw classifyFsError(err, `cannot close ${partialPath} in ${this.root}`);
      });
      await rename(partial, file).catch((err: unknown) => {
        throw classifyFsError(err, `cannot rename ${partialPath} to its final name in ${this.root}`);
      });
      await syncFolder(dir);
      return { handle: req.path, size: req.size, transfer_id: req.transfer_id };
    } catch (err) {
      body.destroy();
      if (signal.aborted && !(err instanceof CancelledError)) throw new CancelledError();
      throw err;
    } finally {
      // A cancel does not wait for a slow fsync to end before the close can.
      const closing = handle?.close().catch(() => undefined);
      if (!signal.aborted) await closing;
    }
  }

  /** Deletes the file; a missing one is fine. */
  async discard(handle: string): Promise<void> {
    const at = await this.existing(handle);
    if (!at) return;
    const info = await lstatOrNull(at.file, `cannot look at ${handle} in ${this.root}`);
    if (!info || info.isDirectory()) return;
    await unlinkIfThere(at.file, `cannot delete ${handle} in ${this.root}`);
  }

  /** Deletes the partial file of an unfinished upload; a missing one is fine. */
  async abandon(checkpoint: UploadCheckpoint): Promise<void> {
    const partial = checkpoint.state?.partial;
    if (typeof partial !== 'string' || !partial.endsWith(PARTIAL_SUFFIX)) return;
    const at = await this.existing(partial);
    if (!at) return;
    // Whatever its inode: a later attempt of the same transfer may have started the partial file
    // anew before its first checkpoint; a cancelled transfer leaves nothing behind.
    const info = await lstatOrNull(at.file, `cannot look at ${partial} in ${this.root}`);
    if (!info?.isFile()) return;
    await unlinkIfThere(at.file, `cannot delete ${partial} in ${this.root}`);
  }

  /** The file's bytes, or null when it is missing (or not a plain file). */
  async readCopy(handle: string, signal: AbortSignal): Promise<Readable | null> {
    const at = await this.existing(handle);
    if (!at) return null;
    let file: FileHandle;
    try {
      file = await open(at.file, constants.O_RDONLY | O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null;
      throw classifyFsError(err, `cannot read ${handle} in ${this.root}`);
    }
    const info = await file.stat().catch(() => null);
    if (!info?.isFile()) {
      await file.close().catch(() => undefined);
      return null;
    }
    return addAbortSignal(signal, file.createReadStream());
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  // ------------------------------------------------------------------------------------------

  private ready(): Promise<string> {
    if (!this.realRoot) {
      const attempt = prepareRoot(this.root);
      this.realRoot = attempt;
      attempt.catch(() => {
        if (this.realRoot === attempt) this.realRoot = null;
      });
    }
    return this.realRoot;
  }

  /**
   * Where `path`'s file is, when every folder of it exists: the real path of its folder (checked
   * to be inside the root) joined with its name. Null when a folder is missing.
   */
  private async existing(path: string): Promise<{ dir: string; file: string } | null> {
    const segments = segmentsOf(path);
    const dir = await this.folder(await this.ready(), segments.slice(0, -1), path, false);
    return dir === null ? null : { dir, file: join(dir, segments[segments.length - 1] as string) };
  }

  /** The real path of the folder `folders` under the root, each missing folder made on the way. */
  private async makeFolders(root: string, folders: string[], path: string): Promise<string> {
    return (await this.folder(root, folders, path, true)) as string;
  }

  /**
   * Walks to the folder `folders` under the root one folder at a time, resolving each to its real
   * path and checking it is inside the root before going further or making anything in it (mkdir
   * -p would follow a symlink out of the root first and be checked afterwards). A missing folder
   * is made when `make`, else the walk ends with null.
   */
  private async folder(root: string, folders: string[], path: string, make: boolean): Promise<string | null> {
    let dir = root;
    for (const name of folders) {
      const next = join(dir, name);
      if (make) {
        await mkdir(next).catch((err: unknown) => {
          if (errnoCode(err) !== 'EEXIST') {
            throw classifyFsError(err, `cannot make the folder for ${path} in ${this.root}`);
          }
        });
      }
      try {
        dir = await realpath(next);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' && make) throw refusedPath(path, 'a symlink on its way leads nowhere');
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw classifyFsError(err, `cannot look at ${path} in ${this.root}`);
      }
      this.checkInside(root, dir, path);
      const info = await stat(dir).catch((err: unknown) => {
        throw classifyFsError(err, `cannot look at ${path} in ${this.root}`);
      });
      if (!info.isDirectory()) {
        if (!make) return null;
        throw new FerryError(
          'config',
          'destination',
          `cannot write ${path} in ${this.root}: ${relative(root, dir) || name} is a file, not a folder`,
        );
      }
    }
    return dir;
  }

  private checkInside(root: string, dir: string, path: string): void {
    const rel = relative(root, dir);
    if (rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel))) return;
    throw refusedPath(path, `a symlink on its way leads outside ${this.root}`);
  }

  /**
   * Reopens the partial file of an interrupted upload (same device and inode, at least the
   * checkpoint's bytes), cut back to the checkpoint. Without it, a final file with the checkpoint's
   * device and inode and the full size is the copy finished but never recorded: adopted as it is.
   */
  private async reopen(
    req: UploadRequest,
    file: string,
    partial: string,
    partialPath: string,
  ): Promise<{ handle: FileHandle; start: number } | { adopted: DestinationNode }> {
    const resume = req.resume as UploadCheckpoint;
    const { partial: named, dev, ino } = resume.state ?? {};
    const offset = resume.next_offset;
    if (
      named !== partialPath ||
      typeof dev !== 'string' ||
      typeof ino !== 'string' ||
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      offset > req.size
    ) {
      throw new ResumeRejectedError(`the checkpoint of ${req.path} does not fit this file; starting it over`);
    }
    const same = (info: BigIntStats): boolean =>
      info.isFile() && String(info.dev) === dev && String(info.ino) === ino;

    let handle: FileHandle | null = null;
    try {
      handle = await open(partial, constants.O_RDWR | O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ELOOP') {
        throw classifyFsError(err, `cannot open ${partialPath} in ${this.root}`);
      }
    }
    if (handle) {
      try {
        const info = await handle.stat({ bigint: true });
        if (same(info) && info.size >= BigInt(offset)) {
          await handle.truncate(offset);
          return { handle, start: offset };
        }
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw classifyFsError(err, `cannot reopen ${partialPath} in ${this.root}`);
      }
      await handle.close().catch(() => undefined);
      throw new ResumeRejectedError(
        `${partialPath} is not the partial file of the checkpoint; starting it over`,
      );
    }
    const final = await lstat(file, { bigint: true }).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return null;
      throw classifyFsError(err, `cannot look at ${req.path} in ${this.root}`);
    });
    if (final && same(final) && final.size === BigInt(req.size)) {
      return { adopted: { handle: req.path, size: req.size, transfer_id: req.transfer_id } };
    }
    throw new ResumeRejectedError(`the partial file of ${req.path} is gone; starting it over`);
  }

  /** Refuses (quota) a file whose bytes still to write exceed the free space of its folder. */
  private async checkFreeSpace(dir: string, needed: number): Promise<void> {
    if (needed <= 0) return;
    const space = await statfs(dir).catch((err: unknown) => {
      throw classifyFsError(err, `cannot read the free space of ${this.root}`);
    });
    const free = space.bavail * space.bsize;
    if (needed > free) {
      throw new FerryError(
        'quota',
        'destination',
        `not enough free space in ${this.root}: ${plainBytes(needed)} needed, ${plainBytes(free)} free`,
      );
    }
  }
}

/**
 * Writes the body into the partial file from `start`: progress as bytes are written, and a
 * checkpoint (awaited) at most once per interval for the bytes fsynced before it — also while the
 * body stalls — and a last one for the whole file once it is fsynced.
 */
class PartialWriter {
  private written: number;
  private checkpointed: number;
  private lastCheckpointAt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Checkpoints run one at a time, in order. */
  private checkpointing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly req: UploadRequest,
    start: number,
    private readonly state: LocalUploadState,
    private readonly intervalMs: number,
  ) {
    this.written = start;
    this.checkpointed = start;
  }

  async write(): Promise<void> {
    const { req } = this;
    const onAbort = (): void => {
      req.body.destroy();
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const piece of this.pieces()) {
        if (this.written + piece.length > req.size) {
          throw new FerryError('transient', 'source', 'the source gave more bytes than its announced size');
        }
        await this.writeAll(piece);
        this.written += piece.length;
        req.onProgress(this.written);
        if (req.signal.aborted) throw new CancelledError();
        await this.maybeCheckpoint();
      }
      if (req.signal.aborted) throw new CancelledError();
      if (this.written !== req.size) {
        throw new FerryError('transient', 'source', 'the source gave fewer bytes than its announced size');
      }
      this.clearTimer();
      await abortable(this.checkpointing, req.signal);
      await abortable(this.sync(), req.signal);
      // The last checkpoint names the whole file before it gets its final name: a crash after the
      // rename leaves a checkpoint that adopts the file.
      if (req.onCheckpoint)
        await abortable(Promise.resolve(req.onCheckpoint(this.checkpoint(req.size))), req.signal);
    } finally {
      this.stopped = true;
      this.clearTimer();
      req.signal.removeEventListener('abort', onAbort);
    }
  }

  /** The body's pieces as buffers; a failure of the body is the source's (or a cancel). */
  private async *pieces(): AsyncGenerator<Buffer> {
    const iterator = this.req.body[Symbol.asyncIterator]() as AsyncIterator<unknown>;
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err) {
        if (this.req.signal.aborted) throw new CancelledError();
        if (err instanceof FerryError) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new FerryError('transient', 'source', `reading the source failed: ${message}`, { cause: err });
      }
      if (next.done) return;
      yield toBuffer(next.value);
    }
  }

  private async writeAll(piece: Buffer): Promise<void> {
    let done = 0;
    while (done < piece.length) {
      const { bytesWritten } = await this.handle
        .write(piece, done, piece.length - done, this.written + done)
        .catch((err: unknown) => {
          throw classifyFsError(err, `cannot write ${this.state.partial}`);
        });
      done += bytesWritten;
    }
  }

  /** A checkpoint now when the interval has passed; else one when it ends, if the body stalls. */
  private async maybeCheckpoint(): Promise<void> {
    if (!this.req.onCheckpoint || this.written <= this.checkpointed) return;
    const wait = this.lastCheckpointAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.clearTimer();
      await abortable(this.queueCheckpoint(), this.req.signal);
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // Handled here; a failure still rejects the chain the writer awaits next.
      this.queueCheckpoint().catch(() => undefined);
    }, wait);
    this.timer.unref();
  }

  /** fsync, then the checkpoint for the bytes written before the fsync began. */
  private queueCheckpoint(): Promise<void> {
    const run = this.checkpointing.then(async () => {
      const upTo = this.written;
      if (this.stopped || upTo <= this.checkpointed) return;
      this.lastCheckpointAt = Date.now();
      await this.sync();
      if (this.stopped || this.req.signal.aborted) return;
      this.checkpointed = upTo;
      await this.req.onCheckpoint?.(this.checkpoint(upTo));
    });
    this.checkpointing = run;
    run.catch(() => undefined);
    return run;
  }

  private checkpoint(nextOffset: number): UploadCheckpoint {
    return { next_offset: nextOffset, state: { ...this.state } };
  }

  private async sync(): Promise<void> {
    await this.handle.sync().catch((err: unknown) => {
      throw classifyFsError(err, `cannot fsync ${this.state.partial}`);
    });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The root's real path, after making it when missing and checking it is a writable folder. */
async function prepareRoot(root: string): Promise<string> {
  if (!isAbsolute(root)) {
    throw new FerryError('config', 'destination', `the local folder must be an absolute path: "${root}"`);
  }
  const problem = (err: unknown, what: string): FerryError => {
    const code = errnoCode(err);
    const kind = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'auth' : 'config';
    return new FerryError(kind, 'destination', `${what} ${root}${code ? ` (${code})` : ''}`, { cause: err });
  };
  try {
    await makeFolderTree(root);
  } catch (err) {
    throw problem(err, 'cannot make the local folder');
  }
  let info;
  try {
    info = await stat(root);
  } catch (err) {
    throw problem(err, 'cannot open the local folder');
  }
  if (!info.isDirectory()) {
    throw new FerryError('config', 'destination', `the local folder ${root} is not a folder`);
  }
  try {
    await access(root, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw problem(err, 'no permission to write in the local folder');
  }
  try {
    return await realpath(root);
  } catch (err) {
    throw problem(err, 'cannot open the local folder');
  }
}

/**
 * mkdir -p. Node's recursive mkdir reports ENOENT where the real failure was another (EROFS, on a
 * read-only filesystem): then the first missing folder is made on its own, which fails with the
 * real reason (or succeeds, and the rest follows).
 */
async function makeFolderTree(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    let missing = folder;
    for (
      let parent = dirname(missing);
      parent !== missing && !(await isThere(parent));
      parent = dirname(missing)
    ) {
      missing = parent;
    }
    await mkdir(missing).catch((cause: unknown) => {
      if (errnoCode(cause) !== 'EEXIST') throw cause;
    });
    await mkdir(folder, { recursive: true });
  }
}

function isThere(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A path's segments, or a config error when it could lead outside the root. */
function segmentsOf(path: string): string[] {
  if (path.includes('\0')) throw refusedPath(path, 'it contains a NUL character');
  if (path.startsWith('/') || isAbsolute(path)) {
    throw refusedPath(path, 'it is absolute (paths are relative to the folder)');
  }
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') throw refusedPath(path, 'it has an empty segment');
    if (segment === '.' || segment === '..') throw refusedPath(path, 'it has a "." or ".." segment');
    if (IS_WINDOWS && /[\\:]/.test(segment)) throw refusedPath(path, 'it has a "\\" or ":" in a name');
  }
  return segments;
}

function refusedPath(path: string, why: string): FerryError {
  return new FerryError('config', 'destination', `refused the local path ${JSON.stringify(path)}: ${why}`);
}

/** A new, empty partial file (an old one is removed first, so the new one has an inode of its own). */
async function createPartial(partial: string, path: string): Promise<FileHandle> {
  await unlinkIfThere(partial, `cannot remove the old partial file of ${path}`);
  return open(partial, 'wx').catch((err: unknown) => {
    throw classifyFsError(err, `cannot create the partial file of ${path}`);
  });
}

/** fsync of a folder makes a rename in it durable (Windows cannot open a folder for that). */
async function syncFolder(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  const handle = await open(dir, constants.O_RDONLY).catch((err: unknown) => {
    throw classifyFsError(err, `cannot open the folder ${dir}`);
  });
  try {
    await handle.sync();
  } catch (err) {
    throw classifyFsError(err, `cannot fsync the folder ${dir}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function lstatOrNull(file: string, context: string): Promise<Stats | null> {
  try {
    return await lstat(file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw classifyFsError(err, context);
  }
}

async function unlinkIfThere(file: string, context: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw classifyFsError(err, context);
  }
}

function toBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (typeof piece === 'string') return Buffer.from(piece);
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  throw new FerryError('unexpected', 'source', 'the source gave something other than bytes');
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A failure of the filesystem, classified once: full → quota, refused → auth, a name the
 * filesystem cannot hold → config, anything else (I/O) → transient.
 */
function classifyFsError(err: unknown, context: string): FerryError {
  if (err instanceof FerryError) return err;
  const code = errnoCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FerryError('quota', 'destination', `${context}: the disk is full (${detail})`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new FerryError('auth', 'destination', `${context}: permission denied (${detail})`, { cause: err });
  }
  if (code === 'ENAMETOOLONG' || code === 'EISDIR') {
    return new FerryError('config', 'destination', `${context}: ${detail}`, { cause: err });
  }
  return new FerryError('transient', 'destination', `${context}: ${detail}`, { cause: err });
}
