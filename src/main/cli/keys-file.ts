/**
 * Reads a keys file for `transfer --keys-file`: one key per line, or CSV with a `key` column and an
 * optional `code` column. The parsing is the one the UI uses for dropped manifests
 * (src/shared/manifest.ts); the kind is told from the first line rather than the file name.
 */
import { readFile } from 'node:fs/promises';
import type { BatchItem } from '../../shared/contract';
import { ManifestError, parseManifestText } from '../../shared/manifest';
import { InputError } from '../engine/errors';

export function parseKeysText(text: string, name = 'keys file'): BatchItem[] {
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const header = firstLine.split(',').map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  const csv =
    (header.includes('key') && firstLine.includes(',')) || (header.length === 1 && header[0] === 'key');
  try {
    return parseManifestText(csv ? 'csv' : 'txt', text, name);
  } catch (err) {
    if (err instanceof ManifestError) throw new InputError(err.message);
    throw err;
  }
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
