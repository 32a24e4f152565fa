/**
 * The plan of a batch request, without doing it (`transfer --dry-run`, REST `"dry_run": true`,
 * the UI's preview before Start): the selection's objects (a prefix listed and filtered, or the
 * keys looked up), and for each what a start would do — transfer it, leave it (already done at
 * that destination path), leave it to the batch that moves it, or fail it (missing). Reads the
 * source and the store only; writes nothing. Unlike a start it has no files-per-batch cap: it
 * tells what the whole selection holds, which the CLI and the UI then split into batches.
 */
import type { BatchRequest, PlanCount, TransferPlan } from '../../shared/contract';
import { objectFilter } from '../../shared/filters';
import { InputError } from '../engine/errors';
import { asInputError } from '../engine/batch-manager';
import { isFolderMarker } from '../engine/paths';
import { destinationKey } from '../../shared/destinations';
import type { Source, SourceObject } from '../engine/ports';
import type { MetadataStore, TransferRef } from '../store/port';
import { isOpen } from '../store/rules';
import { refKey } from '../store/documents';

/** More than this is refused: a plan lists every file. */
const MAX_PLANNED = 1_000_000;
const LOOKUP_CHUNK = 500;

export async function planTransfer(
  request: BatchRequest,
  peers: { source: Source; store: MetadataStore; destination: string },
): Promise<TransferPlan> {
  const { source, store, destination } = peers;
  try {
    await source.checkBucket(request.bucket);
  } catch (err) {
    throw asInputError(err, `S3 bucket ${request.bucket}`);
  }
  const filtered: PlanCount = { files: 0, bytes: 0 };
  let objects: { key: string; code: string; object: SourceObject | null }[];
  if (request.keys || request.items) {
    const items = request.items ?? (request.keys ?? []).map((key) => ({ key, code: undefined }));
    const seen = new Set<string>();
    const unique = items.filter((i) => !seen.has(i.key) && seen.add(i.key));
    if (unique.length === 0) throw new InputError('keys: give at least one object key');
    const heads: (SourceObject | null)[] = new Array(unique.length).fill(null);
    let next = 0;
    const worker = async () => {
      for (let n = next++; n < unique.length; n = next++) {
        try {
          heads[n] = await source.head(request.bucket, unique[n]!.key);
        } catch (err) {
          throw asInputError(err, `S3 object ${request.bucket}/${unique[n]!.key}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, unique.length) }, worker));
    objects = unique.map((i, n) => ({ key: i.key, code: i.code ?? i.key, object: heads[n] ?? null }));
  } else {
    const prefix = request.prefix ?? '';
    const taken = objectFilter(request.filters);
    objects = [];
    try {
      for await (const object of source.listAll(request.bucket, prefix)) {
        if (isFolderMarker(object.key, object.size)) continue;
        if (!taken(object)) {
          filtered.files++;
          filtered.bytes += object.size;
          continue;
        }
        objects.push({ key: object.key, code: object.key, object });
        if (objects.length > MAX_PLANNED) {
          throw new InputError(`too many objects under "${prefix}" to plan (more than ${MAX_PLANNED})`);
        }
      }
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw asInputError(err, `S3 listing of ${request.bucket}/${prefix}`);
    }
  }

  const placed = objects.map((o) => {
    const at = destinationKey(request.destination, request.target, o.key);
    return 'problem' in at
      ? { ...o, problem: at.problem, s4_key: '' }
      : { ...o, problem: null, s4_key: at.key };
  });
  const refs: TransferRef[] = placed
    .filter((o) => o.object && !o.problem)
    .map((o) => ({ bucket_name: request.bucket, remote_key: o.key, destination, s4_key: o.s4_key }));
  const docs = new Map<string, Awaited<ReturnType<MetadataStore['getFiles']>>[number]>();
  for (let i = 0; i < refs.length; i += LOOKUP_CHUNK) {
    for (const doc of await store.getFiles(refs.slice(i, i + LOOKUP_CHUNK))) docs.set(refKey(doc), doc);
  }

  const count = (): PlanCount => ({ files: 0, bytes: 0 });
  const plan: TransferPlan = {
    dry_run: true,
    bucket: request.bucket,
    target: request.target,
    destination,
    message: '',
    selected: count(),
    to_transfer: count(),
    already_done: count(),
    in_progress: { ...count(), batches: [] },
    missing: count(),
    filtered_out: filtered,
    files: [],
  };
  const add = (c: PlanCount, size: number | null) => {
    c.files++;
    c.bytes += size ?? 0;
  };
  const batches = new Set<string>();
  for (const o of placed) {
    const size = o.object?.size ?? null;
    const base = { code: o.code, remote_key: o.key, s4_key: o.s4_key, size };
    add(plan.selected, size);
    if (o.problem) {
      add(plan.missing, size);
      plan.files.push({ ...base, plan: 'refused', reason: `object key ${o.problem}` });
      continue;
    }
    if (!o.object) {
      add(plan.missing, size);
      plan.files.push({ ...base, plan: 'missing', reason: `object not found in bucket ${request.bucket}` });
      continue;
    }
    const doc = docs.get(
      refKey({ bucket_name: request.bucket, remote_key: o.key, destination, s4_key: o.s4_key }),
    );
    if (doc && isOpen(doc.status) && doc.batch_id) {
      add(plan.in_progress, size);
      batches.add(doc.batch_id);
      plan.files.push({ ...base, plan: 'in_progress', batch_id: doc.batch_id });
    } else if (doc?.status === 'done' && !request.force) {
      add(plan.already_done, size);
      plan.files.push({ ...base, plan: 'already_done' });
    } else {
      add(plan.to_transfer, size);
      plan.files.push({ ...base, plan: 'transfer' });
    }
  }
  plan.in_progress.batches = [...batches];
  const parts = [
    `${plan.to_transfer.files} to transfer`,
    `${plan.already_done.files} already done`,
    `${plan.in_progress.files} in progress elsewhere`,
    `${plan.missing.files} missing`,
    ...(filtered.files ? [`${filtered.files} left out by the filters`] : []),
  ];
  plan.message = `dry run: ${plan.selected.files} file${plan.selected.files === 1 ? '' : 's'} selected: ${parts.join(', ')}; nothing changed`;
  return plan;
}
