/**
 * How the headless host's log (pino, through Fastify) reads: JSON lines for a machine (a pipe, a
 * file, a log collector), human lines on a terminal — `12:04:05 WARN  request failed  GET /api/x
 * 500 12ms` — the same records either way. MEGAFERRY_LOG_FORMAT=pretty|json chooses; otherwise a
 * TTY gets human lines. Redaction happens before a record reaches here (pino's `redact`).
 */

export type LogFormat = 'pretty' | 'json';

/** The format for an output: MEGAFERRY_LOG_FORMAT when valid, else human lines on a TTY. */
export function logFormatFor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const chosen = env.MEGAFERRY_LOG_FORMAT?.trim().toLowerCase();
  if (chosen === 'pretty' || chosen === 'json') return chosen;
  return isTTY ? 'pretty' : 'json';
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** pino's own fields, shown in their places rather than as key=value. */
const OWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'req', 'res', 'responseTime', 'v']);

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One pino JSON record as one human line (the text itself when it is not JSON). */
export function humanLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = LEVELS[Number(rec.level)] ?? String(rec.level ?? '');
  const parts = [clock(rec.time), level.padEnd(5), String(rec.msg ?? '')];
  const req = rec.req as { method?: string; url?: string } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ''}`);
  const res = rec.res as { statusCode?: number } | undefined;
  if (res?.statusCode) parts.push(String(res.statusCode));
  if (typeof rec.responseTime === 'number') parts.push(`${Math.round(rec.responseTime)}ms`);
  const extra = Object.entries(rec)
    .filter(([k]) => !OWN.has(k))
    .map(([k, v]) => `${k}=${shown(v)}`);
  return [...parts.filter(Boolean), ...extra].join('  ');
}

/** A pino destination writing human lines to `out`. */
export function humanLogStream(out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(line: string) {
      for (const one of line.split('\n')) if (one.trim()) out.write(humanLine(one) + '\n');
    },
  };
}
