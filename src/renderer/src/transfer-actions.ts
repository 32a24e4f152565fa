/**
 * Starting transfers from the UI: the Browse selection, a dropped manifest (which selects keys)
 * and local files dropped on the desktop window. Each ends by showing what happened.
 */
import { defaultTargetOf } from '../../shared/destinations';
import {
  DEFAULT_MAX_FILES,
  LOCAL_BUCKET_PREFIX,
  newSelectionId,
  type BatchRequestInput,
  type PlanCount,
  type TransferPlan,
} from '../../shared/contract';
import { type FiltersInput, objectFilter, resolveFilters } from '../../shared/filters';
import { filtersOfDraft, useSelectionFilters } from './stores/selection-filters';
import { api, errorText } from './api';
import { formatList } from './format';
import { i18n } from './i18n';
import { groupByPrefix, parseManifest, type ManifestEntry } from '../../shared/manifest';
import { sourceProblemOf } from '../../shared/source-problems';
import { useApp } from './stores/app';
import { rememberDestination, useBrowse } from './stores/browse';
import { useSettings } from './stores/settings';
import { recordStart, type StartOutcome } from './stores/transfers';

/** Files one batch may hold on this host (its MEGAFERRY_MAX_FILES), as its settings say. */
function batchCap(): number {
  return useSettings.getState().view?.transfers.max_files_per_batch ?? DEFAULT_MAX_FILES;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

type ListPage = {
  folders: string[];
  objects: { key: string; size: number; last_modified: string | null }[];
  next_token: string | null;
};

/**
 * Every object key under a folder (its subfolders walked through the one-level listing) when
 * there are more than `cap`; null when the folder fits in one batch (sent as its prefix then).
 */
export async function folderKeysOverCap(
  list: (query: { bucket: string; prefix: string; token?: string; limit: number }) => Promise<ListPage>,
  bucket: string,
  folder: string,
  cap: number,
  filters?: FiltersInput,
): Promise<string[] | null> {
  const resolved = filters ? resolveFilters(filters) : null;
  const taken = objectFilter(resolved && 'filters' in resolved ? resolved.filters : null);
  const keys: string[] = [];
  const folders = [folder];
  for (let prefix = folders.shift(); prefix !== undefined; prefix = folders.shift()) {
    let token: string | undefined;
    do {
      const page = await list({ bucket, prefix, token, limit: 1000 });
      for (const o of page.objects) if (taken(o)) keys.push(o.key);
      folders.push(...page.folders);
      token = page.next_token ?? undefined;
    } while (token);
  }
  return keys.length > cap ? keys : null;
}

async function runRequests(requests: { label: string; body: BatchRequestInput }[]): Promise<StartOutcome[]> {
  const outcomes: StartOutcome[] = [];
  for (const { label, body } of requests) {
    try {
      outcomes.push({ ok: true, label, result: await api().startBatch(body) });
    } catch (err) {
      // An S3 problem (no credentials, access denied, bucket missing…) in the user's language.
      const problem = sourceProblemOf(err);
      const error = problem ? i18n.t(`s3Problem.${problem}`, { what: body.bucket }) : errorText(err);
      outcomes.push({ ok: false, label, error });
    }
  }
  return outcomes;
}

async function finish(outcomes: StartOutcome[]): Promise<void> {
  useApp.getState().setScreen('transfers');
  await recordStart(outcomes);
}

/**
 * Starts the Browse selection: a batch per selected folder, the objects in batches of the cap.
 * `queue`: handed to the workers on the shared MongoDB (this app moves none of it).
 */
export async function startSelection(run: 'here' | 'queue' = 'here'): Promise<void> {
  const { bucket, selected, target, destination, concurrency, force, smallFirst } = useBrowse.getState();
  if (!bucket || selected.size === 0) return;
  const options = {
    destination,
    target: target.trim() || defaultTargetOf(destination),
    max_concurrent: concurrency,
    force,
    run,
    ...(smallFirst ? { order: 'small_first' as const } : {}),
  };
  const filters = filtersOfDraft(useSelectionFilters.getState());
  const requests: { label: string; body: BatchRequestInput }[] = [];
  const objects: { key: string; code?: string }[] = [];
  const cap = batchCap();
  for (const [key, s] of selected) {
    if (!s.folder) {
      objects.push(s.code ? { key, code: s.code } : { key });
      continue;
    }
    // A folder that holds more than one batch may is sent as batches of its keys (filtered).
    const keys = await folderKeysOverCap((q) => api().listObjects(q), bucket, key, cap, filters);
    if (!keys) {
      requests.push({
        label: `${bucket}/${key}`,
        body: { bucket, prefix: key, ...options, ...(filters ? { filters } : {}) },
      });
      continue;
    }
    chunks(keys, cap).forEach((group, i) =>
      requests.push({
        label: i18n.t('startLabel.range', {
          from: i * cap + 1,
          to: i * cap + group.length,
          bucket: `${bucket}/${key}`,
        }),
        body: { bucket, keys: group, ...options },
      }),
    );
  }
  const groups = chunks(objects, cap);
  groups.forEach((group, i) => {
    const label =
      groups.length === 1
        ? i18n.t('startLabel.objects', { count: group.length, bucket })
        : i18n.t('startLabel.range', { from: i * cap + 1, to: i * cap + group.length, bucket });
    const body: BatchRequestInput = group.some((o) => o.code)
      ? { bucket, items: group, ...options }
      : { bucket, keys: group.map((o) => o.key), ...options };
    requests.push({ label, body });
  });
  // Split over several batches, they carry one selection id and are shown together.
  if (requests.length > 1) {
    const selection = newSelectionId();
    for (const r of requests) r.body = { ...r.body, selection };
  }
  const outcomes = await runRequests(requests);
  if (outcomes.some((o) => o.ok)) rememberDestination(destination, options.target);
  if (outcomes.every((o) => o.ok)) useBrowse.getState().clearSelection();
  await finish(outcomes);
}

/** The totals of a selection's plan: its parts (a folder, the objects ticked) added up. */
export interface SelectionPlan {
  selected: PlanCount;
  to_transfer: PlanCount;
  already_done: PlanCount;
  in_progress: PlanCount;
  missing: PlanCount;
  filtered_out: PlanCount;
}

/**
 * The plan of the Browse selection as Start would send it (a dry run: nothing changes): each
 * ticked folder with the filters, and the ticked objects, counted and sized, with what is already
 * done at that destination path and what another batch moves.
 */
export async function planSelection(): Promise<SelectionPlan | null> {
  const { bucket, selected, target, destination, force } = useBrowse.getState();
  if (!bucket || selected.size === 0) return null;
  const options = { destination, target: target.trim() || defaultTargetOf(destination), force };
  const filters = filtersOfDraft(useSelectionFilters.getState());
  const requests: BatchRequestInput[] = [];
  const objects: { key: string; code?: string }[] = [];
  for (const [key, s] of selected) {
    if (s.folder) requests.push({ bucket, prefix: key, ...options, ...(filters ? { filters } : {}) });
    else objects.push(s.code ? { key, code: s.code } : { key });
  }
  if (objects.length) requests.push({ bucket, items: objects, ...options });
  const plans = await Promise.all(requests.map((r) => api().planBatch(r)));
  const sum = (pick: (p: TransferPlan) => PlanCount): PlanCount =>
    plans.reduce((a, p) => ({ files: a.files + pick(p).files, bytes: a.bytes + pick(p).bytes }), {
      files: 0,
      bytes: 0,
    });
  return {
    selected: sum((p) => p.selected),
    to_transfer: sum((p) => p.to_transfer),
    already_done: sum((p) => p.already_done),
    in_progress: sum((p) => p.in_progress),
    missing: sum((p) => p.missing),
    filtered_out: sum((p) => p.filtered_out),
  };
}

/** Looks keys up in a bucket; returns those that exist (with sizes) and those that do not. */
async function lookUpKeys(
  bucket: string,
  entries: ManifestEntry[],
): Promise<{ found: { key: string; size: number; code?: string }[]; missing: string[] }> {
  const sizes = new Map<string, number>();
  const groups = [...groupByPrefix(entries.map((e) => e.key))];
  const queue = [...groups];
  const worker = async () => {
    for (let g = queue.shift(); g; g = queue.shift()) {
      const [prefix, keys] = g;
      if (keys.length <= 20) {
        // A few keys: ask for each one (its own prefix lists it first).
        for (const key of keys) {
          const page = await api().listObjects({ bucket, prefix: key, limit: 100 });
          const hit = page.objects.find((o) => o.key === key);
          if (hit) sizes.set(key, hit.size);
        }
      } else {
        const wanted = new Set(keys);
        let token: string | undefined;
        do {
          const page = await api().listObjects({ bucket, prefix, token, limit: 1000 });
          for (const o of page.objects) if (wanted.has(o.key)) sizes.set(o.key, o.size);
          token = page.next_token ?? undefined;
        } while (token);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, groups.length) }, worker));
  const found: { key: string; size: number; code?: string }[] = [];
  const missing: string[] = [];
  for (const e of entries) {
    const size = sizes.get(e.key);
    if (size === undefined) missing.push(e.key);
    else found.push({ key: e.key, size, ...(e.code ? { code: e.code } : {}) });
  }
  return { found, missing };
}

/** A dropped manifest selects its keys in the current bucket and says which it could not find. */
export async function selectFromManifest(file: File): Promise<void> {
  const { notify, setScreen } = useApp.getState();
  const { bucket } = useBrowse.getState();
  setScreen('browse');
  if (!bucket) {
    notify('warn', i18n.t('manifest.pickBucket', { file: file.name }));
    return;
  }
  let entries: ManifestEntry[];
  try {
    entries = parseManifest(file.name, await file.text());
  } catch (err) {
    notify('error', i18n.t('manifest.readError', { file: file.name }), errorText(err));
    return;
  }
  if (entries.length === 0) {
    notify('warn', i18n.t('manifest.noKeys', { file: file.name }));
    return;
  }
  const pending = notify(
    'info',
    i18n.t('manifest.lookingUp', { count: entries.length, file: file.name, bucket }),
  );
  try {
    const { found, missing } = await lookUpKeys(bucket, entries);
    useBrowse.getState().selectEntries(found);
    const title = i18n.t('manifest.selected', {
      found: found.length,
      count: entries.length,
      file: file.name,
    });
    if (missing.length === 0) notify('ok', title);
    else notify('warn', title, i18n.t('manifest.notFound', { bucket, keys: formatList(missing, 10) }));
  } catch (err) {
    notify('error', i18n.t('manifest.lookupError', { file: file.name }), errorText(err));
  } finally {
    useApp.getState().dismiss(pending);
  }
}

/** A dropped local file or folder, with its absolute path. */
export interface LocalDrop {
  path: string;
  folder: boolean;
}

function splitPath(path: string): { parent: string; name: string } {
  const trimmed = path.replace(/[\\/]+$/, '');
  const i = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  if (i === -1) return { parent: '', name: trimmed };
  // Keep the root's separator ("/" or "C:\").
  const parent =
    i === 0 || /^[A-Za-z]:$/.test(trimmed.slice(0, i)) ? trimmed.slice(0, i + 1) : trimmed.slice(0, i);
  return { parent, name: trimmed.slice(i + 1) };
}

/** Groups dropped paths by parent folder: files as keys, folders as prefixes (pure). */
export function planLocalDrop(drops: LocalDrop[]): { parent: string; keys: string[]; prefixes: string[] }[] {
  const byParent = new Map<string, { parent: string; keys: string[]; prefixes: string[] }>();
  for (const d of drops) {
    const { parent, name } = splitPath(d.path);
    if (!name) continue;
    let g = byParent.get(parent);
    if (!g) byParent.set(parent, (g = { parent, keys: [], prefixes: [] }));
    if (d.folder) g.prefixes.push(`${name}/`);
    else g.keys.push(name);
  }
  return [...byParent.values()];
}

/** Local files and folders dropped on the desktop window go to the Browse screen's target. */
export async function startLocalDrop(drops: LocalDrop[]): Promise<void> {
  const { target, concurrency, force } = useBrowse.getState();
  const options = { target: target.trim() || '/', max_concurrent: concurrency, force };
  const requests: { label: string; body: BatchRequestInput }[] = [];
  for (const g of planLocalDrop(drops)) {
    const bucket = LOCAL_BUCKET_PREFIX + g.parent;
    for (const prefix of g.prefixes)
      requests.push({ label: `${g.parent}/${prefix}`, body: { bucket, prefix, ...options } });
    chunks(g.keys, batchCap()).forEach((keys) =>
      requests.push({
        label: i18n.t('startLabel.files', { count: keys.length, folder: g.parent }),
        body: { bucket, keys, ...options },
      }),
    );
  }
  if (requests.length === 0) return;
  await finish(await runRequests(requests));
}
