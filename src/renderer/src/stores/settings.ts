/**
 * Settings as the service reports them (SettingsView); secrets are only said to be set. The
 * language setting applies as soon as a view arrives.
 */
import { create } from 'zustand';
import type { SettingsView } from '../../../shared/contract';
import { api, errorText } from '../api';
import { HttpError } from '../api/http-client';
import { applyLanguageChoice } from '../i18n';

interface SettingsState {
  view: SettingsView | null;
  loading: boolean;
  /** The host has no settings routes (an older host): the screen says so. */
  unavailable: boolean;
  error: string | null;
  load(): Promise<SettingsView | null>;
  setView(view: SettingsView): void;
}

export const useSettings = create<SettingsState>()((set) => ({
  view: null,
  loading: false,
  unavailable: false,
  error: null,
  async load() {
    set({ loading: true, error: null });
    try {
      const view = await api().getSettings();
      applyLanguageChoice(view.ui.language);
      set({ view, loading: false, unavailable: false });
      return view;
    } catch (err) {
      const missing = err instanceof HttpError && err.status === 404;
      set({ loading: false, unavailable: missing, error: missing ? null : errorText(err) });
      return null;
    }
  },
  setView: (view) => {
    applyLanguageChoice(view.ui.language);
    set({ view, error: null, unavailable: false });
  },
}));
