/**
 * Imports the embedded store of MegaFerry 0.1 (nedb's append-only `files.db` and `batches.db` in
 * the data folder) into the SQLite store, once. nedb's format: one JSON document per line, dates
 * as `{"$$date": ms}`, a later line for the same `_id` replacing the earlier one, `$$deleted`
 * lines removing it, `$$indexCreated` lines describing indexes. The old files are kept, renamed
 * `*.migrated-0.1`, so nothing is ever lost.
 */
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { BatchDoc, FileDoc } from './port';

export const NEDB_FILES = ['files.db', 'batches.db'] as const;
export const MIGRATED_SUFFIX = '.migrated-0.1';

/** The live documents of one nedb data file, in the order they were first written. */
export function parseNedb<T>(text: string): T[] {
  const docs = new Map<string, T>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line, (_key, v: unknown) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const o = v as Record<string, unknown>;
          if (Object.keys(o).length === 1 && typeof o.$$date === 'number') return new Date(o.$$date);
        }
        return v;
      }) as Record<string, unknown>;
    } catch {
      continue; // nedb itself skips a torn last line
    }
    if ('$$indexCreated' in value || '$$indexRemoved' in value) continue;
    const id = typeof value._id === 'string' ? value._id : null;
    if (!id) continue;
    if (value.$$deleted === true) {
      docs.delete(id);
      continue;
    }
    const { _id: _drop, ...doc } = value;
    docs.delete(id); // a rewrite moves the document to the end, as nedb's compaction does
    docs.set(id, doc as T);
  }
  return [...docs.values()];
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Imports 0.1 data when the folder holds it and the store has not imported it yet. `importAll`
 * runs in one transaction of the store and says whether it imported (another process starting at
 * the same moment may have done it first). The old files are renamed afterwards.
 */
export async function importNedbData(
  dataDir: string,
  store: { alreadyImported(): boolean; importAll(files: FileDoc[], batches: BatchDoc[]): boolean },
): Promise<{ files: number; batches: number } | null> {
  const [filesText, batchesText] = await Promise.all(
    NEDB_FILES.map((f) => readIfExists(path.join(dataDir, f))),
  );
  if (filesText === null && batchesText === null) return null;
  let imported: { files: number; batches: number } | null = null;
  if (!store.alreadyImported()) {
    const files = parseNedb<FileDoc>(filesText ?? '');
    const batches = parseNedb<BatchDoc>(batchesText ?? '');
    if (store.importAll(files, batches)) imported = { files: files.length, batches: batches.length };
  }
  for (const name of NEDB_FILES) {
    const from = path.join(dataDir, name);
    await rename(from, from + MIGRATED_SUFFIX).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return imported;
}
