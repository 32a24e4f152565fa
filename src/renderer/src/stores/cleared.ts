/**
 * Finished batches cleared from Transfers (kept in this browser or window: their files and their
 * history stay in the store and in History). Cleared ids that no longer come back are forgotten.
 */
import { create } from 'zustand';

const KEY = 'megaferry.clearedBatches';
const MAX = 5000;

function load(): Record<string, true> {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(list)
      ? Object.fromEntries(list.filter((x): x is string => typeof x === 'string').map((id) => [id, true]))
      : {};
  } catch {
    return {};
  }
}

interface ClearedState {
  ids: Record<string, true>;
  clear(ids: string[]): void;
  restore(): void;
}

export const useCleared = create<ClearedState>()((set, get) => ({
  ids: load(),
  clear(ids) {
    const next = { ...get().ids };
    for (const id of ids) next[id] = true;
    const list = Object.keys(next).slice(-MAX);
    try {
      localStorage.setItem(KEY, JSON.stringify(list));
    } catch {
      // storage full or denied: cleared for this session only
    }
    set({ ids: Object.fromEntries(list.map((id) => [id, true])) });
  },
  restore() {
    try {
      localStorage.removeItem(KEY);
    } catch {
      // nothing kept
    }
    set({ ids: {} });
  },
}));
