/**
 * Sizes and rates as people type them, like rclone's: `20M`, `1.5G`, `512K`, `100` (bytes).
 * Suffixes are binary (K = KiB = 1024 bytes), with an optional `i` and `B` (`20MiB`, `20MB`).
 * Pure: used by the CLI, the contract, the engine and the UI.
 */

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes for `text` ("20M", "1.5G", "100"), or null when it is not a size. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[m[2]!.toUpperCase()];
  if (unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? Math.round(n) : null;
}

export const SIZE_RULE = 'a size in bytes, or with a suffix K, M, G or T (binary: 20M = 20 MiB)';
