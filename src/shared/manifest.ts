/**
 * Lists of object keys (and optional codes): a manifest dropped on the window, or the CLI's
 * `--keys-file`. Formats: CSV with a `key` column and optional `code` column; TXT with one key
 * per line (blank lines and `#` comments skipped); JSON as an array of strings or of
 * `{ key, code? }`. Pure: text in, entries out.
 */
import { parseCsv } from './csv';

export interface ManifestEntry {
  key: string;
  code?: string;
}

export type ManifestKind = 'csv' | 'txt' | 'json';

/** The manifest kind a file name says, or null when it is not a manifest. */
export function manifestKind(fileName: string): ManifestKind | null {
  const m = /\.(csv|txt|json)$/i.exec(fileName.trim());
  return m ? (m[1]!.toLowerCase() as ManifestKind) : null;
}

export class ManifestError extends Error {}

/** Keeps the first entry of each key, dropping empty keys; a later code fills a missing one. */
function dedupe(entries: ManifestEntry[]): ManifestEntry[] {
  const byKey = new Map<string, ManifestEntry>();
  for (const e of entries) {
    if (!e.key) continue;
    const seen = byKey.get(e.key);
    if (!seen) byKey.set(e.key, e.code ? { key: e.key, code: e.code } : { key: e.key });
    else if (!seen.code && e.code) seen.code = e.code;
  }
  return [...byKey.values()];
}

function parseCsvManifest(text: string, fileName: string): ManifestEntry[] {
  const rows = parseCsv(text).filter((r) => r.some((f) => f.trim() !== ''));
  if (rows.length === 0) return [];
  const header = rows[0]!.map((h) => h.trim().toLowerCase());
  const keyCol = header.findIndex((h) => h === 'key' || h === 'remote_key');
  const codeCol = header.findIndex((h) => h === 'code');
  if (keyCol === -1) {
    throw new ManifestError(`${fileName} has no "key" column (the first line must name the columns)`);
  }
  return rows.slice(1).map((r) => {
    const key = (r[keyCol] ?? '').trim();
    const code = codeCol === -1 ? '' : (r[codeCol] ?? '').trim();
    return code ? { key, code } : { key };
  });
}

function parseJsonManifest(text: string, fileName: string): ManifestEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw new ManifestError(`${fileName} is not valid JSON`);
  }
  if (!Array.isArray(data)) {
    throw new ManifestError(`${fileName} must hold an array of keys or of { "key", "code" } objects`);
  }
  return data.map((item, i) => {
    if (typeof item === 'string') return { key: item.trim() };
    if (item && typeof item === 'object' && typeof (item as { key?: unknown }).key === 'string') {
      const { key, code } = item as { key: string; code?: unknown };
      if (code !== undefined && code !== null && typeof code !== 'string' && typeof code !== 'number') {
        throw new ManifestError(`${fileName}: item ${i + 1} has a "code" that is not text`);
      }
      const c = code === undefined || code === null ? '' : String(code).trim();
      return c ? { key: key.trim(), code: c } : { key: key.trim() };
    }
    throw new ManifestError(`${fileName}: item ${i + 1} is neither a key nor an object with a "key"`);
  });
}

function parseTxtManifest(text: string): ManifestEntry[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => !line.startsWith('#'))
    .map((key) => ({ key }));
}

/** Parses a manifest's text by its file name; throws ManifestError with a one-line reason. */
export function parseManifest(fileName: string, text: string): ManifestEntry[] {
  const kind = manifestKind(fileName);
  if (!kind) throw new ManifestError(`${fileName} is not a manifest (.csv, .txt or .json)`);
  return parseManifestText(kind, text, fileName);
}

/** Parses a list of the given kind (`name` names it in errors); first entry of each key kept. */
export function parseManifestText(kind: ManifestKind, text: string, name: string): ManifestEntry[] {
  const entries =
    kind === 'csv'
      ? parseCsvManifest(text, name)
      : kind === 'json'
        ? parseJsonManifest(text, name)
        : parseTxtManifest(text);
  return dedupe(entries);
}

/** The folder prefix a key lives in ("a/b/c.jpg" → "a/b/", "c.jpg" → ""). */
export function parentPrefix(key: string): string {
  const i = key.lastIndexOf('/');
  return i === -1 ? '' : key.slice(0, i + 1);
}

/** Groups keys by their folder prefix, so each folder is listed once when looking them up. */
export function groupByPrefix(keys: string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const p = parentPrefix(key);
    const list = groups.get(p);
    if (list) list.push(key);
    else groups.set(p, [key]);
  }
  return groups;
}
