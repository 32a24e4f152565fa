/**
 * `megaferry verify`: files `done` at MEGA are downloaded and checked against their source. The
 * ciphertext comes from MEGA (the API's `g` command) and is decrypted here with AES-128-CTR; its
 * SHA-256 and size must equal the source object's, and its meta-MAC, computed from the plaintext
 * by MEGA's reference algorithm (mega-crypto's MetaMacStream), must equal the one in the node key.
 * Both sides are streamed and hashed as they arrive: memory stays bounded whatever the size.
 *
 * Each result is recorded on the file's document (verify_result, verified_at). With `repair`, the
 * files that do not match are sent again as a forced transfer (the engine's replace: the new copy
 * takes the path, the old node goes to the Rubbish Bin), then checked again.
 */
import { itemRef } from '../engine/batch-manager';
import { refKey } from '../store/documents';
import { verificationRule } from '../store/rules';
import { createHash, randomInt } from 'node:crypto';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { VerifyResult } from '../../shared/api';
import type { MegaDestination, StoredCopy } from '../engine/destinations/mega';
import { ctrDecipher, MetaMacStream, splitNodeKey } from '../engine/destinations/mega-crypto';
import { InputError, shortReason } from '../engine/errors';
import { pathSegments } from '../engine/paths';
import type { Destination, Source } from '../engine/ports';
import { type DestinationKind, destinationLabel, kindOfDestinationId } from '../../shared/destinations';
import type { FileDoc, MetadataStore } from '../store/port';

/** A result, or `error` when a side could not be read to the end (nothing is recorded then). */
export type VerifyOutcome = VerifyResult | 'error';

export interface FileVerification {
  code: string;
  bucket_name: string;
  remote_key: string;
  destination: string;
  s4_key: string;
  mega_handle: string | null;
  result: VerifyOutcome;
  /** Why it is not `ok`. */
  detail: string | null;
}

export interface VerifySummary {
  files: number;
  ok: number;
  mac_mismatch: number;
  bytes_mismatch: number;
  missing: number;
  error: number;
}

export interface VerifyReport {
  files: FileVerification[];
  summary: VerifySummary;
  /** With `repair` and something to repair: the batches that re-sent the files, and the check after. */
  repair: { batch_ids: string[]; files: FileVerification[]; summary: VerifySummary } | null;
  /** True when every file checked is `ok` in the end (after the repair, if any). */
  ok: boolean;
}

/** What verify needs of the MEGA destination. */
export type StoredCopyReader = Pick<MegaDestination, 'readStored'>;

/**
 * How the copies of one destination are read back: MEGA's encrypted (decrypted here, its MAC
 * checked against the reference), or the bytes as stored (S4, a local folder).
 */
export type CopyReader =
  | { kind: 'mega'; reader: StoredCopyReader }
  | { kind: 'plain'; destination: Pick<Destination, 'readCopy'> }
  | { kind: 'unavailable'; reason: string };

/** What verify needs of the service (FerryService provides it). */
export interface VerifyContext {
  store: MetadataStore;
  source: Source;
  /** The reader of a stored destination id's copies. */
  readerFor(destination: string): Promise<CopyReader>;
  /** Starts a batch (FerryService.startBatch: validated, with the settings' defaults). */
  startBatch(request: unknown): Promise<{ batch_id: string; started: string[] }>;
  /** Resolves when the batch's run in this process has ended. */
  waitForBatch(batchId: string): Promise<void>;
  /** Files per batch at most. */
  maxFilesPerBatch: number;
}

export interface VerifyOptions {
  /** Only the files of this batch; otherwise every done file. */
  batchId?: string;
  /** Check only this many files, picked at random. */
  sample?: number;
  repair?: boolean;
  /** Files checked at once (default 2). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called as each file's check ends (first pass and after the repair). */
  onResult?: (file: FileVerification, pass: 'check' | 'after_repair') => void;
  /** Called when the repair batches have started. */
  onRepair?: (batchIds: string[], files: number) => void;
}

/** An unknown batch id (exit 2 on the command line). */
export class UnknownBatchError extends InputError {
  constructor(batchId: string) {
    super(`unknown batch: ${batchId}`);
  }
}

const MISMATCHES: readonly VerifyOutcome[] = ['mac_mismatch', 'bytes_mismatch', 'missing'];

export async function verifyFiles(ctx: VerifyContext, opts: VerifyOptions = {}): Promise<VerifyReport> {
  let docs = await selectDone(ctx.store, opts.batchId);
  if (opts.sample !== undefined && opts.sample < docs.length) docs = sample(docs, opts.sample);
  const files = await checkAll(ctx, docs, opts, 'check');
  const summary = summarize(files);
  const broken = files.filter((f) => MISMATCHES.includes(f.result));
  if (!opts.repair || broken.length === 0) {
    return { files, summary, repair: null, ok: summary.ok === summary.files };
  }

  const batchIds = await resend(ctx, broken);
  opts.onRepair?.(batchIds, broken.length);
  for (const id of batchIds) await ctx.waitForBatch(id);
  const after = await ctx.store.getFiles(broken);
  const redone = new Map(after.map((d) => [refKey(d), d]));
  const toCheck: FileDoc[] = [];
  const notRedone: FileVerification[] = [];
  for (const file of broken) {
    const doc = redone.get(refKey(file));
    if (doc?.status === 'done') {
      toCheck.push(doc);
    } else {
      const why = `the repair did not finish (${doc?.status ?? 'no document'}${doc?.error_message ? `: ${doc.error_message}` : ''})`;
      const still = { ...file, detail: `${file.detail ?? file.result}; ${why}` };
      notRedone.push(still);
      opts.onResult?.(still, 'after_repair');
    }
  }
  const rechecked = [...(await checkAll(ctx, toCheck, opts, 'after_repair')), ...notRedone];
  const repairSummary = summarize(rechecked);
  const fine = summary.ok + repairSummary.ok === summary.files && summary.error === 0;
  return {
    files,
    summary,
    repair: { batch_ids: batchIds, files: rechecked, summary: repairSummary },
    ok: fine,
  };
}

/** The `done` documents of a batch, or every `done` document. */
async function selectDone(store: MetadataStore, batchId: string | undefined): Promise<FileDoc[]> {
  if (batchId !== undefined) {
    const batch = await store.getBatch(batchId);
    if (!batch) throw new UnknownBatchError(batchId);
    // The copies this batch made (or found done), at the paths it sent them to.
    return (await store.getFiles(batch.files.filter((i) => i.s4_key).map((i) => itemRef(batch, i)))).filter(
      (d) => d.status === 'done',
    );
  }
  const docs: FileDoc[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listFiles({ status: 'done', limit: 500, cursor });
    docs.push(...page.files);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return docs;
}

/** `n` of `docs` picked at random (a partial Fisher–Yates shuffle). */
function sample<T>(docs: T[], n: number): T[] {
  const out = [...docs];
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(out.length - i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out.slice(0, n);
}

async function checkAll(
  ctx: VerifyContext,
  docs: FileDoc[],
  opts: VerifyOptions,
  pass: 'check' | 'after_repair',
): Promise<FileVerification[]> {
  const limit = pLimit(Math.max(1, opts.concurrency ?? 2));
  return Promise.all(
    docs.map((doc) =>
      limit(async () => {
        const { result, detail } = await verifyOne(ctx, doc, opts.signal);
        if (result !== 'error') {
          await ctx.store.applyFile(
            doc,
            verificationRule({
              mega_handle: doc.mega_handle ?? null,
              verify_result: result,
              verified_at: new Date(),
            }),
          );
        }
        const file: FileVerification = {
          code: doc.code,
          bucket_name: doc.bucket_name,
          remote_key: doc.remote_key,
          destination: doc.destination,
          s4_key: doc.s4_key,
          mega_handle: doc.mega_handle ?? null,
          result,
          detail,
        };
        opts.onResult?.(file, pass);
        return file;
      }),
    ),
  );
}

/** Downloads one file's copy and its source side by side and compares them. */
async function verifyOne(
  ctx: VerifyContext,
  doc: FileDoc,
  outer: AbortSignal | undefined,
): Promise<{ result: VerifyOutcome; detail: string | null }> {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  outer?.addEventListener('abort', stop, { once: true });
  try {
    const where = destinationLabel(doc.destination);
    if (!doc.mega_handle) return { result: 'missing', detail: `no copy at ${where} is recorded for it` };
    const copies = await ctx.readerFor(doc.destination);
    if (copies.kind === 'unavailable') return { result: 'error', detail: copies.reason };
    if (copies.kind === 'plain') return await verifyPlain(ctx, doc, doc.mega_handle, copies, abort);
    const stored = await copies.reader.readStored(doc.mega_handle, abort.signal);
    if (!stored)
      return { result: 'missing', detail: `MEGA has no file ${doc.mega_handle} (at ${doc.s4_key})` };
    if (!stored.key) {
      stored.ciphertext.destroy();
      return { result: 'mac_mismatch', detail: 'the node key cannot be decrypted with the account key' };
    }
    const [dest, src] = await sideBySide(
      ctx,
      doc,
      abort,
      () => digestCopy(stored),
      () => stored.ciphertext.destroy(),
    );
    if (dest.size !== src.size || dest.sha256 !== src.sha256) {
      return {
        result: 'bytes_mismatch',
        detail: `MEGA has ${dest.size} bytes (SHA-256 ${dest.sha256.slice(0, 16)}…), the source ${src.size} (${src.sha256.slice(0, 16)}…)`,
      };
    }
    if (!dest.computedMac.equals(dest.storedMac)) {
      return {
        result: 'mac_mismatch',
        detail: `the node key holds the MAC ${dest.storedMac.toString('hex')}, the bytes give ${dest.computedMac.toString('hex')}`,
      };
    }
    return { result: 'ok', detail: null };
  } catch (err) {
    return { result: 'error', detail: shortReason(err) };
  } finally {
    outer?.removeEventListener('abort', stop);
  }
}

/** A copy stored as its plain bytes (S4, a local folder): its size and SHA-256 against the source's. */
async function verifyPlain(
  ctx: VerifyContext,
  doc: FileDoc,
  handle: string,
  copies: { destination: Pick<Destination, 'readCopy'> },
  abort: AbortController,
): Promise<{ result: VerifyOutcome; detail: string | null }> {
  const where = destinationLabel(doc.destination);
  if (!copies.destination.readCopy) return { result: 'error', detail: `${where} cannot be read back` };
  const copy = await copies.destination.readCopy(handle, abort.signal);
  if (!copy) return { result: 'missing', detail: `${where} has no copy at ${doc.s4_key}` };
  const [dest, src] = await sideBySide(
    ctx,
    doc,
    abort,
    () => digestSource(copy),
    () => copy.destroy(),
  );
  if (dest.size !== src.size || dest.sha256 !== src.sha256) {
    return {
      result: 'bytes_mismatch',
      detail: `${where} has ${dest.size} bytes (SHA-256 ${dest.sha256.slice(0, 16)}…), the source ${src.size} (${src.sha256.slice(0, 16)}…)`,
    };
  }
  return { result: 'ok', detail: null };
}

/**
 * The copy and its source read and digested side by side (memory stays bounded whatever the size);
 * a failure of either side stops the other.
 */
async function sideBySide<T>(
  ctx: VerifyContext,
  doc: FileDoc,
  abort: AbortController,
  digestOfCopy: () => Promise<T>,
  stopCopy: () => void,
): Promise<[T, { size: number; sha256: string }]> {
  const source = ctx.source.read(doc.bucket_name, doc.remote_key, { signal: abort.signal });
  source.catch(() => undefined);
  return Promise.all([
    digestOfCopy().catch((err: unknown) => {
      abort.abort();
      throw err;
    }),
    source.then(digestSource).catch((err: unknown) => {
      abort.abort();
      stopCopy();
      throw err;
    }),
  ]);
}

async function digestCopy(
  stored: StoredCopy,
): Promise<{ size: number; sha256: string; computedMac: Buffer; storedMac: Buffer }> {
  const { key, nonce, metaMac } = splitNodeKey(stored.key as Buffer);
  const decipher = ctrDecipher(key, nonce);
  const mac = new MetaMacStream(key, nonce);
  const hash = createHash('sha256');
  const take = (plain: Buffer): void => {
    hash.update(plain);
    mac.update(plain);
  };
  for await (const piece of stored.ciphertext) take(decipher.update(piece as Buffer));
  take(decipher.final());
  return { size: mac.size, sha256: hash.digest('hex'), computedMac: mac.metaMac(), storedMac: metaMac };
}

async function digestSource(body: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const piece of body) {
    hash.update(piece as Buffer);
    size += (piece as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Sends the files again as forced transfers to the same paths: one batch per source bucket and
 * target folder (the folder their path was made from), split at the batch cap.
 */
async function resend(ctx: VerifyContext, files: FileVerification[]): Promise<string[]> {
  const groups = new Map<
    string,
    { bucket: string; destination: DestinationKind; target: string; items: { key: string; code: string }[] }
  >();
  for (const f of files) {
    const { kind, target } = destinationTargetOf(f.destination, f.s4_key, f.remote_key);
    const id = JSON.stringify([f.bucket_name, f.destination, target]);
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { bucket: f.bucket_name, destination: kind, target, items: [] }));
    group.items.push({ key: f.remote_key, code: f.code });
  }
  const ids: string[] = [];
  for (const group of groups.values()) {
    for (let i = 0; i < group.items.length; i += ctx.maxFilesPerBatch) {
      const started = await ctx.startBatch({
        bucket: group.bucket,
        items: group.items.slice(i, i + ctx.maxFilesPerBatch),
        destination: group.destination,
        target: group.target,
        force: true,
      });
      ids.push(started.batch_id);
    }
  }
  return ids;
}

/** The target folder a path was made from: the path without the key's own segments. */
export function targetOf(s4Key: string, remoteKey: string): string {
  const path = pathSegments(s4Key);
  const key = pathSegments(remoteKey);
  const tail = path.slice(path.length - key.length);
  if (key.length === 0 || tail.join('/') !== key.join('/')) {
    throw new InputError(`cannot repair ${remoteKey}: its path ${s4Key} does not end with the key`);
  }
  return '/' + path.slice(0, path.length - key.length).join('/');
}

/**
 * The destination kind and target a stored copy was sent with: MEGA's target folder, S4's
 * `bucket/prefix` (the bucket from the destination id, the prefix before the key), a local folder.
 */
export function destinationTargetOf(
  destination: string,
  s4Key: string,
  remoteKey: string,
): { kind: DestinationKind; target: string } {
  const kind = kindOfDestinationId(destination) ?? 'mega';
  if (kind === 'mega') return { kind, target: targetOf(s4Key, remoteKey) };
  const rest = destination.slice(destination.indexOf(':') + 1);
  if (!s4Key.endsWith(remoteKey)) {
    throw new InputError(`cannot repair ${remoteKey}: its path ${s4Key} does not end with the key`);
  }
  const before = s4Key.slice(0, s4Key.length - remoteKey.length);
  if (kind === 's4') return { kind, target: `${rest.slice(rest.indexOf('/') + 1)}/${before}` };
  return { kind, target: before ? `${rest}/${before}` : rest };
}

function summarize(files: FileVerification[]): VerifySummary {
  const count = (r: VerifyOutcome) => files.filter((f) => f.result === r).length;
  return {
    files: files.length,
    ok: count('ok'),
    mac_mismatch: count('mac_mismatch'),
    bytes_mismatch: count('bytes_mismatch'),
    missing: count('missing'),
    error: count('error'),
  };
}
