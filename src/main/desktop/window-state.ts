/**
 * The window's remembered size and position (a small JSON file in the data folder). Pure: no
 * electron; the shell passes in the displays' work areas.
 */

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: Rect;
  maximized: boolean;
}

export const WINDOW_STATE_FILE = 'window-state.json';
export const DEFAULT_SIZE = { width: 1100, height: 720 } as const;
export const MIN_SIZE = { width: 760, height: 480 } as const;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Reads the saved state; null for anything missing, malformed or absurd. */
export function parseWindowState(text: string | null | undefined): WindowState | null {
  if (!text) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object') return null;
  const { bounds, maximized } = raw as { bounds?: Partial<Rect>; maximized?: unknown };
  if (!bounds || typeof bounds !== 'object') return null;
  const { x, y, width, height } = bounds;
  if (!isInt(x) || !isInt(y) || !isInt(width) || !isInt(height)) return null;
  if (width < MIN_SIZE.width || height < MIN_SIZE.height || width > 20_000 || height > 20_000) return null;
  return { bounds: { x, y, width, height }, maximized: maximized === true };
}

export function serializeWindowState(state: WindowState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/**
 * Whether a window at `bounds` would be usable on these displays: a good part of its title bar
 * (the top 40 px, at least 100 px wide) lies inside one display's work area. A state saved on a
 * monitor that is gone is then ignored and the window opens centred.
 */
export function isOnScreen(bounds: Rect, workAreas: readonly Rect[]): boolean {
  const bar: Rect = { x: bounds.x, y: bounds.y, width: bounds.width, height: Math.min(40, bounds.height) };
  return workAreas.some((area) => {
    const w = Math.min(bar.x + bar.width, area.x + area.width) - Math.max(bar.x, area.x);
    const h = Math.min(bar.y + bar.height, area.y + area.height) - Math.max(bar.y, area.y);
    return w >= Math.min(100, bar.width) && h >= Math.min(20, bar.height);
  });
}

/** The saved state when it fits one of the displays, else null (open centred at the default size). */
export function restorableState(saved: WindowState | null, workAreas: readonly Rect[]): WindowState | null {
  if (!saved) return null;
  return isOnScreen(saved.bounds, workAreas) ? saved : null;
}
