/** App-wide state: current screen, connection to the service, theme, and notices. */
import { create } from 'zustand';
import type { Health } from '../../../shared/api';
import type { ConnectionState } from '../api';

export type Screen = 'browse' | 'transfers' | 'history' | 'settings';
export type ThemeChoice = 'system' | 'light' | 'dark';
export type NoticeTone = 'info' | 'ok' | 'warn' | 'error';

export interface Notice {
  id: number;
  tone: NoticeTone;
  title: string;
  detail?: string;
}

interface AppState {
  screen: Screen;
  health: Health | null;
  healthError: string | null;
  connection: ConnectionState;
  theme: ThemeChoice;
  notices: Notice[];
  setScreen(screen: Screen): void;
  setHealth(health: Health | null, error?: string | null): void;
  setConnection(state: ConnectionState): void;
  setTheme(theme: ThemeChoice): void;
  /** Shows a notice; returns its id (to dismiss it when it is no longer true). */
  notify(tone: NoticeTone, title: string, detail?: string): number;
  dismiss(id: number): void;
}

const THEME_KEY = 'megaferry.theme';

function savedTheme(): ThemeChoice {
  try {
    const t = localStorage.getItem(THEME_KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

let nextNotice = 1;

export const useApp = create<AppState>()((set) => ({
  screen: 'browse',
  health: null,
  healthError: null,
  connection: 'connecting',
  theme: savedTheme(),
  notices: [],
  setScreen: (screen) => set({ screen }),
  setHealth: (health, error = null) => set({ health, healthError: error }),
  setConnection: (connection) => set({ connection }),
  setTheme: (theme) => {
    try {
      if (theme === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, theme);
    } catch {
      // storage unavailable: the choice lasts for this session
    }
    set({ theme });
  },
  notify: (tone, title, detail) => {
    const id = nextNotice++;
    set((s) => ({ notices: [...s.notices.slice(-3), { id, tone, title, detail }] }));
    return id;
  },
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
}));
