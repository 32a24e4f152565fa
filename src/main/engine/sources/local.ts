/**
 * The local-file source: files dropped on the desktop window, read from the folder they were
 * dropped from. The bucket is `local:` + that folder's absolute path (LOCAL_BUCKET_PREFIX); keys
 * are paths relative to it with forward slashes. A key never leads outside the folder.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, win32 } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { LOCAL_BUCKET_PREFIX } from '../../../shared/constants';
import { FerryError } from '../errors';
import type { Source, SourceListing, SourceObject } from '../ports';

export function isLocalBucket(bucket: string): boolean {
  return bucket.startsWith(LOCAL_BUCKET_PREFIX);
}

export class LocalSource implements Source {
  async checkBucket(bucket: string): Promise<void> {
    const root = rootOf(bucket);
    const info = await stat(root).catch((err: unknown) => {
      throw classifyFsError(err, `local folder ${root}`);
    });
    if (!info.isDirectory()) {
      throw new FerryError('not_found', 'source', `local folder not found: ${root} is not a folder`);
    }
  }

  /** Dropped folders are not listed as buckets: they exist only in the requests that name them. */
  async listBuckets(): Promise<string[]> {
    return [];
  }

  async list(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; token?: string; maxKeys?: number },
    signal?: AbortSignal,
  ): Promise<SourceListing> {
    const prefix = opts.prefix ?? '';
    const maxKeys = opts.maxKeys ?? 1000;
    const folders = new Set<string>();
    const objects: SourceObject[] = [];
    const all = (await this.walk(bucket, prefix, signal)).filter((o) => o.key.startsWith(prefix));
    let next: string | null = null;
    for (const object of all) {
      if (opts.token !== undefined && object.key <= opts.token) continue;
      const rest = object.key.slice(prefix.length);
      const cut = opts.delimiter ? rest.indexOf(opts.delimiter) : -1;
      if (cut >= 0) {
        folders.add(prefix + rest.slice(0, cut + (opts.delimiter?.length ?? 0)));
        continue;
      }
      if (objects.length === maxKeys) {
        next = objects[objects.length - 1]?.key ?? null;
        break;
      }
      objects.push(object);
    }
    return { folders: [...folders].sort(), objects, next_token: next };
  }

  async *listAll(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<SourceObject> {
    for (const object of await this.walk(bucket, prefix, signal)) {
      if (object.key.startsWith(prefix)) yield object;
    }
  }

  async head(bucket: string, key: string): Promise<SourceObject | null> {
    const path = pathOf(bucket, key);
    try {
      const info = await stat(path);
      if (!info.isFile()) return null;
      return toObject(key, info);
    } catch (err) {
      const classified = classifyFsError(err, `${bucket}/${key}`);
      if (classified.kind === 'not_found') return null;
      throw classified;
    }
  }

  async read(bucket: string, key: string, opts: { start?: number; signal: AbortSignal }): Promise<Readable> {
    const path = pathOf(bucket, key);
    const stream = createReadStream(path, { start: opts.start ?? 0 });
    addAbortSignal(opts.signal, stream);
    // Opening fails here (missing file, no permission), not later in the middle of the upload.
    await new Promise<void>((resolve, reject) => {
      const onError = (err: unknown): void => {
        stream.off('open', onOpen);
        reject(classifyFsError(err, `${bucket}/${key}`));
      };
      const onOpen = (): void => {
        stream.off('error', onError);
        resolve();
      };
      stream.once('error', onError);
      stream.once('open', onOpen);
    });
    return stream;
  }

  /**
   * Every file under the folder the prefix lies in (a dropped folder `Videos/` of `local:/home/u`
   * walks /home/u/Videos, not the whole home folder), sorted by key; symlinks to files count, to
   * folders do not. A prefix whose folder does not exist holds nothing.
   */
  private async walk(bucket: string, prefix: string, signal?: AbortSignal): Promise<SourceObject[]> {
    const root = rootOf(bucket);
    const start = prefix.slice(0, prefix.lastIndexOf('/') + 1).replace(/\/$/, '');
    if (start) {
      const info = await stat(pathOf(bucket, start)).catch(() => null);
      if (!info?.isDirectory()) return [];
    }
    const out: SourceObject[] = [];
    const visit = async (relative: string): Promise<void> => {
      if (signal?.aborted) throw new FerryError('cancelled', 'source', `listing of ${root} aborted`);
      const entries = await readdir(join(root, relative), { withFileTypes: true }).catch((err: unknown) => {
        throw classifyFsError(err, `local folder ${join(root, relative)}`);
      });
      for (const entry of entries) {
        const key = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await visit(key);
        else if (entry.isFile() || entry.isSymbolicLink()) {
          const info = await stat(join(root, key)).catch(() => null);
          if (info?.isFile()) out.push(toObject(key, info));
        }
      }
    };
    await visit(start);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

function toObject(key: string, info: { size: number; mtime: Date; mtimeMs: number }): SourceObject {
  return {
    key,
    size: info.size,
    // Changes when the file does, so an interrupted upload of an edited file starts over.
    etag: `${info.size}-${Math.trunc(info.mtimeMs)}`,
    last_modified: info.mtime,
  };
}

/** The dropped folder of a `local:` bucket; it must be an absolute path. */
function rootOf(bucket: string): string {
  const root = bucket.slice(LOCAL_BUCKET_PREFIX.length);
  if (!isLocalBucket(bucket) || !root || !isAbsolute(root)) {
    throw new FerryError(
      'config',
      'source',
      `not a local folder: "${bucket}" (expected "${LOCAL_BUCKET_PREFIX}" followed by an absolute folder path)`,
    );
  }
  return root;
}

/**
 * The file a key names inside the bucket's folder. Keys are relative paths with forward slashes;
 * an absolute key, a ".." segment or a backslash (a separator on Windows) is refused, so a key
 * never reads outside the dropped folder.
 */
export function pathOf(bucket: string, key: string): string {
  const root = rootOf(bucket);
  const segments = key.split('/');
  if (
    !key ||
    key.includes('\\') ||
    key.includes('\0') ||
    posix.isAbsolute(key) ||
    win32.isAbsolute(key) ||
    segments.some((s) => s === '..' || s === '.' || s === '')
  ) {
    throw new FerryError(
      'config',
      'source',
      `invalid local file key "${key}": keys are paths relative to the dropped folder, with "/" and without "." or ".." segments`,
    );
  }
  return join(root, ...segments);
}

function classifyFsError(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new FerryError('not_found', 'source', `local file not found: ${what}`, { cause: err });
  }
  if ((err as Error)?.name === 'AbortError') {
    return new FerryError('cancelled', 'source', `read of ${what} aborted`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FerryError('auth', 'source', `no permission to read ${what}`, { cause: err });
  }
  if (code === 'EMFILE' || code === 'ENFILE' || code === 'EBUSY' || code === 'EAGAIN') {
    return new FerryError('transient', 'source', `${what} is busy (${code})`, { cause: err });
  }
  return new FerryError('unexpected', 'source', `cannot read ${what}${code ? ` (${code})` : ''}`, {
    cause: err,
  });
}
