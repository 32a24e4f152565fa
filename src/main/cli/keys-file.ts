/**
 * Reads a keys file for `transfer --keys-file`: one key per line, or CSV with a `key` column and an
 * optional `code` column.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { BatchItem } from '../../shared/contract';
import { InputError } from '../engine/errors';

export function parseKeysText(text: string, name = 'keys file'): BatchItem[] {
  const body = text.replace(/^\uFEFF/, '');
  const firstLine = body.split(/\r?\n/, 1)[0] ?? '';
  const header = firstLine.split(',').map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  if ((header.includes('key') && firstLine.includes(',')) || (header.length === 1 && header[0] === 'key')) {
    let rows: Record<string, string>[];
    try {
      rows = parse(body, {
        columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
        skip_empty_lines: true,
        trim: true,
      });
    } catch (err) {
      throw new InputError(`${name}: not valid CSV (${(err as Error).message})`);
    }
    return rows
      .filter((r) => (r.key ?? '') !== '')
      .map((r) => (r.code ? { key: r.key as string, code: r.code } : { key: r.key as string }));
  }
  return body
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((key) => ({ key }));
}

export async function readKeysFile(path: string): Promise<BatchItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(
      `--keys-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const items = parseKeysText(text, `--keys-file ${path}`);
  if (items.length === 0) throw new InputError(`--keys-file: ${path} holds no keys`);
  return items;
}
