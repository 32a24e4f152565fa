/**
 * Batches and their files, kept live from events. Files live in one flat record keyed by
 * batch + source, so a progress tick replaces one entry and only that row's selector changes.
 */
import { create } from 'zustand';
import {
  type BatchStarted,
  type BatchStatus,
  type FerryEvent,
  type FileProgress,
  type FileStatus,
} from '../../../shared/contract';
import { countStatuses } from '../../../shared/batch-counts';
import { fractionThrough } from '../../../shared/batch-summary';
import { api, errorText } from '../api';
import { useApp } from './app';

export type BatchSummary = Omit<BatchStatus, 'files'> & { fileIds: string[] };

/** What one Start did: a started batch, or a request that failed as a whole. */
export type StartOutcome =
  { ok: true; label: string; result: BatchStarted } | { ok: false; label: string; error: string };

interface TransfersState {
  order: string[];
  batches: Record<string, BatchSummary>;
  files: Record<string, FileProgress>;
  loaded: boolean;
  error: string | null;
  expanded: Record<string, boolean>;
  lastStart: StartOutcome[] | null;
  /** Busy cancel/retry actions by batch id. */
  busy: Record<string, boolean>;
  /** The batch that ended last (the live region announces it); `n` tells two endings apart. */
  ended: { id: string; n: number } | null;
  refreshAll(): Promise<void>;
  refreshBatch(batchId: string): Promise<void>;
  applyEvent(event: FerryEvent): void;
  toggleExpanded(batchId: string): void;
  setLastStart(outcomes: StartOutcome[] | null): void;
  cancel(batchId: string): Promise<void>;
  retry(batchId: string): Promise<void>;
  /** Pauses the batch, or some of its files (codes); resumes them; moves it to the queue's head. */
  pause(batchId: string, codes?: string[]): Promise<void>;
  resume(batchId: string, codes?: string[]): Promise<void>;
  toFront(batchId: string): Promise<void>;
  /** Pauses (resumes) every running batch, whichever process moves it. */
  pauseAll(): Promise<void>;
  resumeAll(): Promise<void>;
}

export const fileId = (batchId: string, f: Pick<FileProgress, 'bucket_name' | 'remote_key'>) =>
  `${batchId}\u0000${f.bucket_name}\u0000${f.remote_key}`;

/** Recounts a batch from its files (events carry files; counts are derived from them). */
function recount(batch: BatchSummary, files: Record<string, FileProgress>): BatchSummary {
  const statuses = batch.fileIds.flatMap((id) => files[id]?.status ?? []);
  return { ...batch, ...countStatuses(statuses) };
}

function split(b: BatchStatus): { summary: BatchSummary; files: Record<string, FileProgress> } {
  const { files, ...rest } = b;
  const map: Record<string, FileProgress> = {};
  const fileIds = files.map((f) => {
    const id = fileId(b.batch_id, f);
    map[id] = f;
    return id;
  });
  return { summary: { ...rest, fileIds }, files: map };
}

/** Batches being refreshed: whether another refresh was asked for meanwhile, and the run's end. */
const inFlight = new Map<string, { again: boolean; done: Promise<void> }>();

export const useTransfers = create<TransfersState>()((set, get) => ({
  order: [],
  batches: {},
  files: {},
  loaded: false,
  error: null,
  expanded: {},
  lastStart: null,
  busy: {},
  ended: null,

  async refreshAll() {
    try {
      const list = await api().listBatches();
      const batches: Record<string, BatchSummary> = {};
      let files: Record<string, FileProgress> = {};
      for (const b of list) {
        const s = split(b);
        batches[b.batch_id] = s.summary;
        files = Object.assign(files, s.files);
      }
      set({ order: list.map((b) => b.batch_id), batches, files, loaded: true, error: null });
    } catch (err) {
      set({ loaded: true, error: errorText(err) });
    }
  },

  refreshBatch(batchId) {
    // One request at a time per batch; one asked for meanwhile runs right after (the end of a
    // batch must never be lost behind a refresh that started before it). Every caller gets the
    // promise of the run that brings the newest state.
    const running = inFlight.get(batchId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const run = { again: false, done: Promise.resolve() };
    inFlight.set(batchId, run);
    run.done = (async () => {
      try {
        do {
          run.again = false;
          const b = await api().getBatch(batchId);
          const s = split(b);
          set((st) => {
            const files = { ...st.files };
            for (const id of st.batches[batchId]?.fileIds ?? []) delete files[id];
            Object.assign(files, s.files);
            const known = st.order.includes(batchId);
            return {
              batches: { ...st.batches, [batchId]: s.summary },
              files,
              order: known ? st.order : [batchId, ...st.order],
            };
          });
        } while (run.again);
      } catch {
        // a batch that vanished or a dropped connection: the next catch-up settles it
      } finally {
        inFlight.delete(batchId);
      }
    })();
    return run.done;
  },

  applyEvent(event) {
    if (event.type === 'hold') {
      useApp.getState().setHold(event);
      return;
    }
    const st = get();
    const batch = st.batches[event.batch_id];
    // The ending of a batch settles every file: take the service's final word, then announce it —
    // also for a batch that ended before this page knew of it (a small batch on a fast machine).
    const ending = event.type === 'batch' && event.state !== 'running';
    const announce = () => set((s) => ({ ended: { id: event.batch_id, n: (s.ended?.n ?? 0) + 1 } }));
    if (!batch) {
      const refreshed = st.refreshBatch(event.batch_id);
      void (ending ? refreshed.then(announce) : refreshed);
      return;
    }
    if (event.type === 'batch') {
      set({
        batches: { ...st.batches, [event.batch_id]: { ...batch, overall_status: event.overall_status } },
      });
      if (ending) void st.refreshBatch(event.batch_id).then(announce);
      return;
    }
    const id = fileId(event.batch_id, event.file);
    const before = st.files[id];
    const files = { ...st.files, [id]: event.file };
    if (!before) {
      void st.refreshBatch(event.batch_id);
      set({ files });
      return;
    }
    if (before.status === event.file.status) {
      set({ files });
      return;
    }
    const recounted = recount(batch, files);
    if (
      recounted.overall_status !== 'in_progress' &&
      (event.file.status === 'pending' || event.file.status === 'processing')
    ) {
      recounted.overall_status = 'in_progress';
    }
    set({ files, batches: { ...st.batches, [event.batch_id]: recounted } });
  },

  toggleExpanded(batchId) {
    set((s) => ({ expanded: { ...s.expanded, [batchId]: !s.expanded[batchId] } }));
  },

  setLastStart(outcomes) {
    set({ lastStart: outcomes });
  },

  async cancel(batchId) {
    set((s) => ({ busy: { ...s.busy, [batchId]: true } }));
    try {
      await api().cancelBatch(batchId);
      await get().refreshBatch(batchId);
    } finally {
      set((s) => ({ busy: { ...s.busy, [batchId]: false } }));
    }
  },

  async retry(batchId) {
    await busyWith(batchId, () => api().retryBatch(batchId));
  },

  async pause(batchId, codes) {
    await busyWith(batchId, () =>
      codes ? api().pauseFiles({ batch_id: batchId, codes }) : api().pauseBatch(batchId),
    );
  },

  async resume(batchId, codes) {
    await busyWith(batchId, () =>
      codes ? api().resumeFiles({ batch_id: batchId, codes }) : api().resumeBatch(batchId),
    );
  },

  async toFront(batchId) {
    await busyWith(batchId, () => api().moveBatchToFront(batchId));
  },

  async pauseAll() {
    await api().pauseAll();
    await get().refreshAll();
  },

  async resumeAll() {
    await api().resumeAll();
    await get().refreshAll();
  },
}));

/** Overall progress of a batch in percent (bytes when every size is known, else by files). */
export function batchPercent(batch: BatchSummary, files: Record<string, FileProgress>): number {
  if (batch.fileIds.length === 0) return batch.overall_status === 'in_progress' ? 0 : 100;
  const present = batch.fileIds.map((id) => files[id]).filter((f): f is FileProgress => f !== undefined);
  // Done files count whole; the others (failed and cancelled too) count what they moved.
  return Math.round(fractionThrough(present, DONE) * 1000) / 10;
}

const DONE: ReadonlySet<FileStatus> = new Set(['done']);

/** The percent of a selection's batches together (every file of every batch counts once). */
export function selectionPercent(
  ids: string[],
  batches: Record<string, BatchSummary>,
  files: Record<string, FileProgress>,
): number {
  const present = ids
    .flatMap((id) => batches[id]?.fileIds ?? [])
    .map((fid) => files[fid])
    .filter((f): f is FileProgress => f !== undefined);
  if (present.length === 0) return 0;
  return Math.round(fractionThrough(present, DONE) * 1000) / 10;
}

/** The batches list as shown: a selection's batches together, at the place of its newest. */
export function groupBySelection(
  order: string[],
  batches: Record<string, BatchSummary>,
): { selection: string | null; ids: string[] }[] {
  const groups: { selection: string | null; ids: string[] }[] = [];
  const bySelection = new Map<string, { selection: string | null; ids: string[] }>();
  for (const id of order) {
    const selection = batches[id]?.selection ?? null;
    const group = selection ? bySelection.get(selection) : undefined;
    if (group) {
      group.ids.push(id);
      continue;
    }
    const next = { selection, ids: [id] };
    groups.push(next);
    if (selection) bySelection.set(selection, next);
  }
  return groups;
}

/** Adds the batches a Start created, expands them and remembers the outcome for the banner. */
export async function recordStart(outcomes: StartOutcome[]): Promise<void> {
  const st = useTransfers.getState();
  st.setLastStart(outcomes);
  const ids = outcomes.flatMap((o) => (o.ok ? [o.result.batch_id] : []));
  // The batch a reload comes back to.
  if (ids.length === 1 && ids[0]) useApp.getState().setBatch(ids[0]);
  // One batch opens with its files; a selection split into several shows its batches closed
  // under its overall bar.
  if (ids.length === 1) {
    useTransfers.setState((s) => ({
      expanded: { ...s.expanded, ...Object.fromEntries(ids.map((id) => [id, true])) },
    }));
  }
  await Promise.all(ids.map((id) => st.refreshBatch(id)));
}

/** Runs a batch's action with the batch marked busy, then takes the service's word on it. */
async function busyWith(batchId: string, action: () => Promise<unknown>): Promise<void> {
  useTransfers.setState((s) => ({ busy: { ...s.busy, [batchId]: true } }));
  try {
    await action();
    await useTransfers.getState().refreshBatch(batchId);
  } finally {
    useTransfers.setState((s) => ({ busy: { ...s.busy, [batchId]: false } }));
  }
}
