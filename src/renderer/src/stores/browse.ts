/**
 * The S3 browser: bucket, folder, its listing (loaded page by page), search, the selection and
 * the transfer options. Rows subscribe to `selected.has(key)`, so a click re-renders two rows.
 *
 * Keys that may not list buckets can still browse: a bucket can be typed, and one typed that
 * opened is remembered (in this browser) and offered with the listed ones, as is the default
 * bucket of the settings.
 */
import { create } from 'zustand';
import type { S3ObjectEntry } from '../../../shared/contract';
import { sourceProblemOf, type SourceProblem } from '../../../shared/source-problems';
import { api, errorText } from '../api';
import { type DestinationKind, defaultTargetOf, isDestinationKind } from '../../../shared/destinations';

const REMEMBERED_KEY = 'megaferry.buckets';
const DESTINATION_KEY = 'megaferry.destination';

/** The destination and target last started to (this browser), so the next start offers them. */
function lastDestination(): { kind: DestinationKind; targets: Partial<Record<DestinationKind, string>> } {
  try {
    const saved = JSON.parse(localStorage.getItem(DESTINATION_KEY) ?? '{}') as {
      kind?: unknown;
      targets?: Record<string, unknown>;
    };
    const targets: Partial<Record<DestinationKind, string>> = {};
    for (const [k, v] of Object.entries(saved.targets ?? {}))
      if (isDestinationKind(k) && typeof v === 'string') targets[k] = v;
    return { kind: isDestinationKind(saved.kind) ? saved.kind : 'mega', targets };
  } catch {
    return { kind: 'mega', targets: {} };
  }
}

/** Remembers where a selection was started to (the destination picker offers it next time). */
export function rememberDestination(kind: DestinationKind, target: string): void {
  try {
    const { targets } = lastDestination();
    localStorage.setItem(DESTINATION_KEY, JSON.stringify({ kind, targets: { ...targets, [kind]: target } }));
  } catch {
    // storage unavailable: remembered for this page only
  }
}
const REMEMBER_AT_MOST = 20;

function rememberedBuckets(): string[] {
  try {
    const list = JSON.parse(localStorage.getItem(REMEMBERED_KEY) ?? '[]') as unknown;
    return Array.isArray(list) ? list.filter((b): b is string => typeof b === 'string') : [];
  } catch {
    return [];
  }
}

function remember(list: string[]): void {
  try {
    localStorage.setItem(REMEMBERED_KEY, JSON.stringify(list));
  } catch {
    // storage unavailable: remembered for this page only
  }
}

/** The buckets to offer: the listed ones, then the remembered and the default ones not listed. */
export function offeredBuckets(listed: string[], remembered: string[], preferred: string): string[] {
  const out = [...listed];
  for (const b of [preferred, ...remembered]) if (b && !out.includes(b)) out.push(b);
  return out;
}

export const PAGE_SIZE = 1000;

export interface Row {
  /** The object key, or the folder prefix (ending with "/"). */
  key: string;
  folder: boolean;
  size: number | null;
  lastModified: string | null;
}

export interface Selected {
  folder: boolean;
  size: number | null;
  code?: string;
}

interface BrowseState {
  /** The buckets offered: listed by S3, plus the default and the remembered ones. */
  buckets: string[];
  bucketsLoaded: boolean;
  bucketsError: string | null;
  /** What went wrong listing buckets, for the UI to say what to do. */
  bucketsProblem: SourceProblem | null;
  /** Buckets typed and opened before (this browser). */
  remembered: string[];
  /** What went wrong listing the current folder. */
  problem: SourceProblem | null;
  bucket: string;
  prefix: string;
  folders: string[];
  objects: S3ObjectEntry[];
  loading: boolean;
  complete: boolean;
  error: string | null;
  search: string;
  selected: Map<string, Selected>;
  anchor: string | null;
  /** Where Start sends the selection (the last used, remembered in this browser). */
  destination: DestinationKind;
  /** The target for that destination (a MEGA folder, an S4 bucket/prefix, a local folder). */
  target: string;
  targetTouched: boolean;
  /** The targets typed for the other destinations, given back when one is picked again. */
  targets: Partial<Record<DestinationKind, string>>;
  concurrency: number;
  force: boolean;
  /** Queue the selection's smallest files first. */
  smallFirst: boolean;
  loadBuckets(preferred?: string): Promise<void>;
  openBucket(bucket: string): void;
  /** Opens a bucket typed by name; it is remembered once its listing succeeds. */
  openTypedBucket(bucket: string): void;
  openPrefix(prefix: string): void;
  reload(): void;
  setSearch(search: string): void;
  /** Plain click: only this row. Toggle (ctrl/cmd, checkbox, space): flip it. Range (shift). */
  selectOnly(row: Row): void;
  toggle(row: Row): void;
  /** Selects from the anchor (or `from` when there is none) to `toKey`. */
  selectRange(rows: Row[], toKey: string, additive: boolean, from?: string): void;
  setAll(rows: Row[], on: boolean): void;
  clearSelection(): void;
  selectEntries(entries: { key: string; size: number; code?: string }[]): void;
  setTarget(target: string, touched?: boolean): void;
  /** Picks a destination; its target is the one last used for it, else `fallback` (the settings' default). */
  setDestination(kind: DestinationKind, fallback: string): void;
  setConcurrency(n: number): void;
  setForce(force: boolean): void;
  setSmallFirst(smallFirst: boolean): void;
}

let generation = 0;

const selEntry = (row: Row): Selected => ({ folder: row.folder, size: row.size });

export const useBrowse = create<BrowseState>()((set, get) => {
  /** Loads the current folder page after page; a newer navigation stops an older load. */
  async function loadListing() {
    const gen = ++generation;
    const { bucket, prefix } = get();
    set({ folders: [], objects: [], loading: !!bucket, complete: false, error: null, problem: null });
    if (!bucket) return;
    let token: string | undefined;
    try {
      do {
        const page = await api().listObjects({ bucket, prefix, token, limit: PAGE_SIZE });
        if (gen !== generation) return;
        set((s) => ({
          folders: page.folders.length ? [...s.folders, ...page.folders] : s.folders,
          objects: page.objects.length ? s.objects.concat(page.objects) : s.objects,
        }));
        token = page.next_token ?? undefined;
      } while (token);
      set({ loading: false, complete: true });
      if (typing === bucket) {
        typing = null;
        const remembered = [bucket, ...get().remembered.filter((b) => b !== bucket)].slice(
          0,
          REMEMBER_AT_MOST,
        );
        remember(remembered);
        set((s) => ({
          remembered,
          buckets: s.buckets.includes(bucket) ? s.buckets : [...s.buckets, bucket],
        }));
      }
    } catch (err) {
      if (gen === generation) set({ loading: false, error: errorText(err), problem: sourceProblemOf(err) });
    }
  }
  /** The bucket being opened by name, remembered when its listing succeeds. */
  let typing: string | null = null;

  return {
    buckets: [],
    bucketsLoaded: false,
    bucketsError: null,
    bucketsProblem: null,
    remembered: rememberedBuckets(),
    problem: null,
    bucket: '',
    prefix: '',
    folders: [],
    objects: [],
    loading: false,
    complete: false,
    error: null,
    search: '',
    selected: new Map(),
    anchor: null,
    ...(() => {
      const last = lastDestination();
      const target = last.targets[last.kind];
      return {
        destination: last.kind,
        target: target ?? defaultTargetOf(last.kind),
        targetTouched: target !== undefined,
        targets: last.targets,
      };
    })(),
    concurrency: 3,
    force: false,
    smallFirst: false,

    async loadBuckets(preferred) {
      const current = get().bucket;
      try {
        const listed = (await api().listBuckets()).buckets;
        const buckets = offeredBuckets(listed, get().remembered, preferred ?? '');
        set({ buckets, bucketsLoaded: true, bucketsError: null, bucketsProblem: null });
        const pick =
          current && buckets.includes(current)
            ? current
            : preferred && buckets.includes(preferred)
              ? preferred
              : buckets[0];
        if (pick && pick !== current) get().openBucket(pick);
      } catch (err) {
        // Not allowed to list buckets (or S3 unreachable): the default and remembered buckets are
        // still offered, and the default one opened, so a bucket these keys may read is browsable.
        const buckets = offeredBuckets([], get().remembered, preferred ?? '');
        set({
          buckets,
          bucketsLoaded: true,
          bucketsError: errorText(err),
          bucketsProblem: sourceProblemOf(err),
        });
        const pick = current || preferred || buckets[0];
        if (pick && pick !== current) get().openBucket(pick);
      }
    },
    openTypedBucket(bucket) {
      typing = bucket;
      set((s) => ({ buckets: s.buckets.includes(bucket) ? s.buckets : [...s.buckets, bucket] }));
      get().openBucket(bucket);
    },
    openBucket(bucket) {
      set({ bucket, prefix: '', search: '', selected: new Map(), anchor: null });
      void loadListing();
    },
    openPrefix(prefix) {
      set({ prefix, search: '', anchor: null });
      void loadListing();
    },
    reload() {
      void loadListing();
    },
    setSearch: (search) => set({ search }),

    selectOnly(row) {
      set({ selected: new Map([[row.key, selEntry(row)]]), anchor: row.key });
    },
    toggle(row) {
      const selected = new Map(get().selected);
      if (selected.has(row.key)) selected.delete(row.key);
      else selected.set(row.key, selEntry(row));
      set({ selected, anchor: row.key });
    },
    selectRange(rows, toKey, additive, fromKey) {
      const anchor = get().anchor ?? fromKey ?? null;
      const to = rows.findIndex((r) => r.key === toKey);
      let from = anchor ? rows.findIndex((r) => r.key === anchor) : -1;
      if (from === -1) from = to;
      if (to === -1) return;
      const selected = additive ? new Map(get().selected) : new Map<string, Selected>();
      const [a, b] = from <= to ? [from, to] : [to, from];
      for (let i = a; i <= b; i++) selected.set(rows[i]!.key, selEntry(rows[i]!));
      set({ selected, anchor: anchor ?? toKey });
    },
    setAll(rows, on) {
      const selected = new Map(get().selected);
      for (const r of rows) {
        if (on) selected.set(r.key, selEntry(r));
        else selected.delete(r.key);
      }
      set({ selected });
    },
    clearSelection: () => set({ selected: new Map(), anchor: null }),
    selectEntries(entries) {
      const selected = new Map(get().selected);
      for (const e of entries)
        selected.set(e.key, { folder: false, size: e.size, ...(e.code ? { code: e.code } : {}) });
      set({ selected });
    },
    setTarget: (target, touched = true) => set({ target, targetTouched: touched || get().targetTouched }),
    setDestination: (kind, fallback) => {
      const { destination, target, targets } = get();
      if (kind === destination) return;
      const kept = { ...targets, [destination]: target };
      const next = kept[kind];
      set({ destination: kind, targets: kept, target: next ?? fallback, targetTouched: next !== undefined });
    },
    setConcurrency: (concurrency) => set({ concurrency }),
    setForce: (force) => set({ force }),
    setSmallFirst: (smallFirst) => set({ smallFirst }),
  };
});

/** The rows of the current folder: folders first, then objects, each filtered by the search. */
export function buildRows(
  prefix: string,
  folders: string[],
  objects: S3ObjectEntry[],
  search: string,
): Row[] {
  const q = search.trim().toLowerCase();
  const match = (key: string) => !q || key.slice(prefix.length).toLowerCase().includes(q);
  const rows: Row[] = [];
  for (const f of folders) if (match(f)) rows.push({ key: f, folder: true, size: null, lastModified: null });
  for (const o of objects) {
    if (o.key === prefix) continue; // a "folder marker" object
    if (match(o.key)) rows.push({ key: o.key, folder: false, size: o.size, lastModified: o.last_modified });
  }
  return rows;
}
