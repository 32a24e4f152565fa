/** The History screen: pages of `files` documents for a status filter and a search. */
import { create } from 'zustand';
import type { FileRecord } from '../../../shared/api';
import type { FileStatus } from '../../../shared/contract';
import { api, errorText } from '../api';

export const HISTORY_PAGE = 100;

interface HistoryState {
  status: FileStatus | '';
  q: string;
  files: FileRecord[];
  cursor: string | null;
  loading: boolean;
  loaded: boolean;
  error: string | null;
  setFilter(filter: { status?: FileStatus | ''; q?: string }): void;
  load(): Promise<void>;
  loadMore(): Promise<void>;
  /** Every row of the current filter, all pages. */
  fetchAll(): Promise<FileRecord[]>;
}

let generation = 0;

export const useHistory = create<HistoryState>()((set, get) => ({
  status: '',
  q: '',
  files: [],
  cursor: null,
  loading: false,
  loaded: false,
  error: null,
  setFilter(filter) {
    set(filter);
    void get().load();
  },
  async load() {
    const gen = ++generation;
    const { status, q } = get();
    set({ loading: true, error: null });
    try {
      const page = await api().listFiles({
        status: status || undefined,
        q: q.trim() || undefined,
        limit: HISTORY_PAGE,
      });
      if (gen !== generation) return;
      set({ files: page.files, cursor: page.next_cursor, loading: false, loaded: true });
    } catch (err) {
      if (gen === generation)
        set({ loading: false, loaded: true, error: errorText(err), files: [], cursor: null });
    }
  },
  async loadMore() {
    const { status, q, cursor, loading } = get();
    if (!cursor || loading) return;
    const gen = generation;
    set({ loading: true });
    try {
      const page = await api().listFiles({
        status: status || undefined,
        q: q.trim() || undefined,
        limit: HISTORY_PAGE,
        cursor,
      });
      if (gen !== generation) return;
      set((s) => ({ files: [...s.files, ...page.files], cursor: page.next_cursor, loading: false }));
    } catch (err) {
      if (gen === generation) set({ loading: false, error: errorText(err) });
    }
  },
  async fetchAll() {
    const { status, q } = get();
    const all: FileRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await api().listFiles({
        status: status || undefined,
        q: q.trim() || undefined,
        limit: 1000,
        cursor,
      });
      all.push(...page.files);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  },
}));
