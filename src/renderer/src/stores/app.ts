/**
 * App-wide state: current screen, connection to the service, theme, and notices. The screen and
 * the batch one is on live in the address (`#/transfers/batch_…`), so a reload returns to them.
 */
import { create } from 'zustand';
import type { Health } from '../../../shared/api';
import type { ConnectionState } from '../api';

export type Screen = 'browse' | 'transfers' | 'history' | 'workers' | 'settings';
export type ThemeChoice = 'system' | 'light' | 'dark';
export type NoticeTone = 'info' | 'ok' | 'warn' | 'error';

export interface Notice {
  id: number;
  tone: NoticeTone;
  title: string;
  detail?: string;
}

const SCREENS: readonly Screen[] = ['browse', 'transfers', 'history', 'workers', 'settings'];

/** The screen and batch an address names (`#/transfers/batch_x`), or nulls. */
export function placeOf(hash: string): { screen: Screen | null; batch: string | null } {
  const m = /^#\/(\w+)(?:\/(batch_[a-z0-9]+))?$/.exec(hash);
  const screen = m && (SCREENS as readonly string[]).includes(m[1]!) ? (m[1] as Screen) : null;
  return { screen, batch: screen === 'transfers' ? (m?.[2] ?? null) : null };
}

function writePlace(screen: Screen, batch: string | null): void {
  if (typeof window === 'undefined') return;
  const hash = `#/${screen}${screen === 'transfers' && batch ? `/${batch}` : ''}`;
  if (window.location.hash !== hash) history.replaceState(history.state, '', hash);
}

const initialPlace =
  typeof window === 'undefined' ? { screen: null, batch: null } : placeOf(window.location.hash);

interface AppState {
  screen: Screen;
  /** The address named a screen at load (a reload): the first-run setup does not move away from it. */
  screenFromAddress: boolean;
  /** The batch one is on in Transfers (the one last opened), kept in the address. */
  batch: string | null;
  /** The connection was up once: a loss after that is shown as "disconnected — reconnecting". */
  everConnected: boolean;
  setBatch(batch: string | null): void;
  health: Health | null;
  healthError: string | null;
  connection: ConnectionState;
  theme: ThemeChoice;
  notices: Notice[];
  setScreen(screen: Screen): void;
  setHealth(health: Health | null, error?: string | null): void;
  setConnection(state: ConnectionState): void;
  setTheme(theme: ThemeChoice): void;
  /** Destinations whose queue waits after MEGA refused more data: why, and the next try. */
  holds: Record<string, { reason: string; retry_at: string }>;
  setHold(event: { destination: string; reason: string | null; retry_at: string | null }): void;
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
  screen: initialPlace.screen ?? 'browse',
  screenFromAddress: initialPlace.screen !== null,
  batch: initialPlace.batch,
  everConnected: false,
  health: null,
  healthError: null,
  connection: 'connecting',
  theme: savedTheme(),
  notices: [],
  holds: {},
  setHold: ({ destination, reason, retry_at }) =>
    set((s) => {
      const holds = { ...s.holds };
      if (reason && retry_at) holds[destination] = { reason, retry_at };
      else delete holds[destination];
      return { holds };
    }),
  setScreen: (screen) =>
    set((s) => {
      writePlace(screen, s.batch);
      return { screen };
    }),
  setBatch: (batch) =>
    set((s) => {
      writePlace(s.screen, batch);
      return { batch };
    }),
  setHealth: (health, error = null) =>
    set((s) => ({ health, healthError: error, everConnected: s.everConnected || (!error && !!health) })),
  setConnection: (connection) =>
    set((s) => ({ connection, everConnected: s.everConnected || connection === 'connected' })),
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

/** Lost the service after having had it: actions wait (disabled) until it is back. */
export function isOffline(s: Pick<AppState, 'everConnected' | 'healthError' | 'connection'>): boolean {
  return s.everConnected && (s.healthError !== null || s.connection !== 'connected');
}

/** True while the service is lost: every action that would call it is disabled. */
export const useOffline = (): boolean => useApp(isOffline);
