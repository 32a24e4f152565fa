/**
 * Small helpers both store adapters share: transfer references and the listing cursor.
 */
import type { FileDoc, TransferRef } from './port';

export function refOf(ref: TransferRef): TransferRef {
  return {
    bucket_name: ref.bucket_name,
    remote_key: ref.remote_key,
    destination: ref.destination,
    s4_key: ref.s4_key,
  };
}

export function refKey(ref: TransferRef): string {
  return JSON.stringify([ref.bucket_name, ref.remote_key, ref.destination, ref.s4_key]);
}

export function uniqueRefs(refs: TransferRef[]): TransferRef[] {
  const seen = new Map<string, TransferRef>();
  for (const r of refs) seen.set(refKey(r), refOf(r));
  return [...seen.values()];
}

/** The documents found, in the order their refs were asked for. */
export function orderByRefs(docs: FileDoc[], refs: TransferRef[]): FileDoc[] {
  const byKey = new Map(docs.map((d) => [refKey(d), d]));
  return refs.flatMap((r) => byKey.get(refKey(r)) ?? []);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The listing's sort key: newest first, then the transfer's own key. */
export interface FilesCursor extends TransferRef {
  creation_date: Date;
}

/** Opaque listing cursor: the sort key of the last document of a page, base64url JSON. */
export function encodeFilesCursor(doc: FileDoc): string {
  return Buffer.from(
    JSON.stringify([
      doc.creation_date.getTime(),
      doc.bucket_name,
      doc.remote_key,
      doc.destination,
      doc.s4_key,
    ]),
  ).toString('base64url');
}

export function decodeFilesCursor(cursor: string): FilesCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 5 &&
      typeof v[0] === 'number' &&
      Number.isSafeInteger(v[0]) &&
      Math.abs(v[0]) <= 8.64e15 &&
      v.slice(1).every((s) => typeof s === 'string')
    ) {
      const [at, bucket_name, remote_key, destination, s4_key] = v as [
        number,
        string,
        string,
        string,
        string,
      ];
      return { creation_date: new Date(at), bucket_name, remote_key, destination, s4_key };
    }
  } catch {
    // fall through
  }
  throw new RangeError('cursor is not valid (pass next_cursor from a previous page)');
}
