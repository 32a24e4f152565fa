/** What reaches the window and the tray from the engine's events, without Electron. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FerryEvent, FileProgress } from '../../shared/contract';
import { EventCoalescer } from './event-coalescer';
import { BatchWatch } from './batch-watch';

function progress(code: string, pct: number, status: FileProgress['status'] = 'processing'): FileProgress {
  return {
    code,
    bucket_name: 'b',
    remote_key: code,
    s4_key: `/${code}`,
    status,
    progress: pct,
    transferred_bytes: pct,
    total_bytes: 100,
    speed: 1,
    eta_seconds: null,
    retry_count: 0,
    error_message: null,
  };
}

describe('EventCoalescer', () => {
  afterEach(() => vi.useRealTimers());

  it('sends the newest progress per file a few times a second, file and batch events at once', () => {
    vi.useFakeTimers();
    const sent: FerryEvent[] = [];
    const c = new EventCoalescer((e) => sent.push(e), 250);
    for (let i = 1; i <= 50; i++) {
      c.push({ type: 'progress', batch_id: 'batch_a', file: progress('x', i) });
      c.push({ type: 'progress', batch_id: 'batch_a', file: progress('y', i) });
    }
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(250);
    expect(sent.map((e) => (e.type === 'progress' ? `${e.file.code}:${e.file.progress}` : e.type))).toEqual([
      'x:50',
      'y:50',
    ]);

    // A file event makes that file's pending progress stale; a batch event flushes its batch first.
    sent.length = 0;
    c.push({ type: 'progress', batch_id: 'batch_a', file: progress('x', 99) });
    c.push({ type: 'progress', batch_id: 'batch_a', file: progress('y', 60) });
    c.push({ type: 'file', batch_id: 'batch_a', file: progress('x', 100, 'done') });
    c.push({ type: 'batch', batch_id: 'batch_a', overall_status: 'completed', state: 'finished' });
    expect(sent.map((e) => `${e.type}${'file' in e ? `:${e.file.code}:${e.file.progress}` : ''}`)).toEqual([
      'file:x:100',
      'progress:y:60',
      'batch',
    ]);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(3);
    c.close();
  });
});

describe('BatchWatch', () => {
  it('follows batches in progress and reports those that ended, together', async () => {
    vi.useFakeTimers();
    const statuses: Record<string, { overall_status: string }> = {
      batch_a: { overall_status: 'in_progress' },
      batch_b: { overall_status: 'in_progress' },
    };
    const api = {
      listBatches: async () => Object.entries(statuses).map(([id, s]) => ({ batch_id: id, ...s })),
      getBatch: async (id: string) => ({ batch_id: id, ...statuses[id]! }),
    } as unknown as ConstructorParameters<typeof BatchWatch>[0];
    const changes: string[][] = [];
    const ended: string[][] = [];
    const watch = new BatchWatch(
      api,
      {
        onChange: (a) => changes.push(a.map((b) => b.batch_id)),
        onEnded: (e) => ended.push(e.map((b) => b.batch_id)),
      },
      1000,
    );
    await watch.start();
    expect(changes).toEqual([['batch_a', 'batch_b']]);

    statuses.batch_a = { overall_status: 'cancelled' };
    statuses.batch_b = { overall_status: 'partial' };
    watch.push({ type: 'batch', batch_id: 'batch_a', overall_status: 'cancelled', state: 'cancelled' });
    watch.push({ type: 'batch', batch_id: 'batch_b', overall_status: 'partial', state: 'finished' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes.at(-1)).toEqual([]);
    expect(ended).toEqual([['batch_a', 'batch_b']]);
    watch.close();
    vi.useRealTimers();
  });
});
