import { describe, expect, it } from 'vitest';
import { humanLine, humanLogStream, logFormatFor } from './log-lines';

describe('the host log on a terminal', () => {
  it('is human lines on a TTY and JSON otherwise, unless MEGAFERRY_LOG_FORMAT says', () => {
    expect(logFormatFor(true, {})).toBe('pretty');
    expect(logFormatFor(false, {})).toBe('json');
    expect(logFormatFor(undefined, {})).toBe('json');
    expect(logFormatFor(true, { MEGAFERRY_LOG_FORMAT: 'json' })).toBe('json');
    expect(logFormatFor(false, { MEGAFERRY_LOG_FORMAT: 'Pretty' })).toBe('pretty');
    expect(logFormatFor(false, { MEGAFERRY_LOG_FORMAT: 'yaml' })).toBe('json');
  });

  it('writes a pino record as one line: time, level, message, request, status, duration, the rest', () => {
    const time = new Date(2026, 10, 26, 9, 4, 5).getTime();
    const record = {
      level: 30,
      time,
      pid: 1,
      hostname: 'h',
      reqId: 'req-1',
      req: { method: 'GET', url: '/api/batches' },
      res: { statusCode: 200 },
      responseTime: 12.4,
      msg: 'request completed',
    };
    expect(humanLine(JSON.stringify(record))).toBe(
      '09:04:05  INFO   request completed  GET /api/batches  200  12ms',
    );
    expect(humanLine(JSON.stringify({ level: 50, time, msg: 'request failed', err: 'boom: a b' }))).toBe(
      '09:04:05  ERROR  request failed  err="boom: a b"',
    );
    expect(humanLine('not json\n')).toBe('not json');
  });

  it('passes every line of a write through', () => {
    const out: string[] = [];
    const stream = humanLogStream({ write: (text: string) => out.push(text) });
    stream.write(
      `${JSON.stringify({ level: 40, time: 0, msg: 'a' })}\n${JSON.stringify({ level: 20, time: 0, msg: 'b' })}\n`,
    );
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/ WARN {3}a\n$/);
    expect(out[1]).toMatch(/ DEBUG {2}b\n$/);
  });
});
