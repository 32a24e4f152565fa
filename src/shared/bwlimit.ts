/**
 * The bandwidth limit of a process (MEGAFERRY_BWLIMIT, `--bwlimit`, Settings), as rclone's
 * `--bwlimit`: one rate (`20M` bytes a second, `off`), or a timetable of `HH:MM,RATE` entries
 * separated by spaces (`08:00,2M 19:00,off`): from each time on, its rate applies, until the next
 * entry; before the first entry of the day the last one still applies (from the day before).
 * Pure: the engine, the settings and the UI's Settings form read it the same way.
 */
import { SIZE_RULE, parseSize } from './sizes';

/** One entry: from `minute` of the day (0–1439) on, `rate` bytes a second (null: no limit). */
export interface BwEntry {
  minute: number;
  rate: number | null;
}

/** A parsed limit: one entry at 00:00 for a single rate. */
export type BwSchedule = readonly BwEntry[];

export const BWLIMIT_RULE =
  'a rate such as 20M (bytes a second; K, M, G suffixes), "off", or a timetable such as "08:00,2M 19:00,off"';

/** Parses a rate: a size, or "off" / "0" / "" for no limit. */
function parseRate(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'off' || t === '0') return null;
  const n = parseSize(t);
  return n === null || n < 1 ? undefined : n;
}

/** The schedule of `text`, or a message saying what is wrong with it. */
export function parseBwLimit(text: string): { schedule: BwSchedule } | { problem: string } {
  const trimmed = text.trim();
  if (!trimmed.includes(',')) {
    const rate = parseRate(trimmed);
    if (rate === undefined) return { problem: `bandwidth limit "${trimmed}" must be ${BWLIMIT_RULE}` };
    return { schedule: [{ minute: 0, rate }] };
  }
  const entries: BwEntry[] = [];
  for (const part of trimmed.split(/\s+/)) {
    const m = /^(\d{1,2}):(\d{2}),(.+)$/.exec(part);
    const rate = m ? parseRate(m[3]!) : undefined;
    const hours = m ? Number(m[1]) : NaN;
    const minutes = m ? Number(m[2]) : NaN;
    if (!m || rate === undefined || hours > 23 || minutes > 59) {
      return {
        problem: `bandwidth timetable entry "${part}" must be HH:MM,RATE (RATE: ${SIZE_RULE}, or off)`,
      };
    }
    const minute = hours * 60 + minutes;
    if (entries.some((e) => e.minute === minute)) {
      return { problem: `bandwidth timetable names ${m[1]}:${m[2]} twice` };
    }
    entries.push({ minute, rate });
  }
  entries.sort((a, b) => a.minute - b.minute);
  return { schedule: entries };
}

/** The problem of `text` as a bandwidth limit, or null when it is fine. */
export function bwLimitProblem(text: string): string | null {
  const parsed = parseBwLimit(text);
  return 'problem' in parsed ? parsed.problem : null;
}

/** The rate in force at `at` (local time of day), bytes a second; null: no limit. */
export function rateAt(schedule: BwSchedule, at: Date): number | null {
  if (schedule.length === 0) return null;
  const minute = at.getHours() * 60 + at.getMinutes();
  let current = schedule[schedule.length - 1]!;
  for (const e of schedule) if (e.minute <= minute) current = e;
  return current.rate;
}
