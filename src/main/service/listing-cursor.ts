/**
 * The paging cursors the API hands out (`GET /api/files`'s next_cursor, `GET /api/s3/objects`'s
 * next_token): the store's or S3's own cursor, bound to the query it pages and sealed with an
 * HMAC under a key of this process. A forged cursor, or one from another query or another
 * process, is refused as bad input before the store or S3 sees it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '../engine/errors';

export class ListingCursorSeal {
  /** Made at the first seal or open: a process that pages nothing never loads node:crypto for it. */
  private sealKey: Buffer | null = null;

  private get key(): Buffer {
    return (this.sealKey ??= randomBytes(32));
  }

  private tag(storeCursor: string, scope: readonly (string | undefined)[]): Buffer {
    const mac = createHmac('sha256', this.key).update(storeCursor);
    for (const part of scope) mac.update('\0').update(part ?? '');
    return mac.digest().subarray(0, 16);
  }

  seal(storeCursor: string | null, scope: readonly (string | undefined)[]): string | null {
    if (storeCursor === null) return null;
    return `${storeCursor}.${this.tag(storeCursor, scope).toString('base64url')}`;
  }

  /** The store's cursor inside `cursor`, or an InputError naming `field` when it was not sealed here for this query. */
  open(cursor: string, scope: readonly (string | undefined)[], field: string): string {
    const dot = cursor.lastIndexOf('.');
    const storeCursor = cursor.slice(0, Math.max(dot, 0));
    const given = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const want = this.tag(storeCursor, scope);
    if (dot <= 0 || given.length !== want.length || !timingSafeEqual(given, want)) {
      throw new InputError(
        `${field} is not valid for this listing: pass next_${field} from the previous page of the same query`,
      );
    }
    return storeCursor;
  }
}
