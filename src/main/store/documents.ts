/**
 * Small helpers both store adapters share: file references, the listing cursor, lease checks.
 */
import type { FileDoc, FileRef } from './port';

export interface FilesCursor {
  creation_date: Date;
  bucket_name: string;
  remote_key: string;
}

/** The fields of a patch that are set (undefined means "leave as it is"). */
export function definedFields<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function refOf(ref: FileRef): FileRef {
  return { bucket_name: ref.bucket_name, remote_key: ref.remote_key };
}

export function refKey(ref: FileRef): string {
  return JSON.stringify([ref.bucket_name, ref.remote_key]);
}

export function uniqueRefs(refs: FileRef[]): FileRef[] {
  const seen = new Map<string, FileRef>();
  for (const r of refs) seen.set(refKey(r), refOf(r));
  return [...seen.values()];
}

/** The documents found, in the order their refs were asked for. */
export function orderByRefs(docs: FileDoc[], refs: FileRef[]): FileDoc[] {
  const byKey = new Map(docs.map((d) => [refKey(d), d]));
  return refs.flatMap((r) => byKey.get(refKey(r)) ?? []);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Opaque listing cursor: the sort key of the last document of a page, base64url JSON. */
export function encodeFilesCursor(doc: FileDoc): string {
  return Buffer.from(JSON.stringify([doc.creation_date.getTime(), doc.bucket_name, doc.remote_key])).toString(
    'base64url',
  );
}

export function decodeFilesCursor(cursor: string): FilesCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      typeof v[0] === 'number' &&
      Number.isSafeInteger(v[0]) &&
      Math.abs(v[0]) <= 8.64e15 &&
      typeof v[1] === 'string' &&
      typeof v[2] === 'string'
    ) {
      return { creation_date: new Date(v[0]), bucket_name: v[1], remote_key: v[2] };
    }
  } catch {
    // fall through
  }
  throw new RangeError('cursor is not valid (pass next_cursor from a previous page)');
}

export function isLeaseLive(doc: FileDoc, now: Date): boolean {
  return doc.status === 'processing' && doc.lease_expires_at instanceof Date && doc.lease_expires_at > now;
}
