/**
 * Thins the engine's event stream for the window: `progress` events are coalesced per file and
 * sent at most every `intervalMs` (the newest wins); `file` and `batch` events go out at once.
 * A `file` event drops that file's pending progress (it is newer), and a `batch` event first
 * flushes its batch's pending progress, so the window never sees an older state after a newer one.
 * Pure: no electron.
 */
import type { FerryEvent } from '../../shared/contract';

type ProgressEvent = Extract<FerryEvent, { type: 'progress' }>;

export class EventCoalescer {
  private readonly pending = new Map<string, ProgressEvent>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly send: (event: FerryEvent) => void,
    private readonly intervalMs = 250,
  ) {}

  push(event: FerryEvent): void {
    if (this.closed) return;
    if (event.type === 'progress') {
      this.pending.set(fileKey(event.batch_id, event.file.code), event);
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.intervalMs);
      return;
    }
    if (event.type === 'file') this.pending.delete(fileKey(event.batch_id, event.file.code));
    else if (event.type === 'batch') this.flush(event.batch_id);
    this.send(event);
  }

  /** Sends the pending progress (of one batch, or all). */
  flush(batchId?: string): void {
    for (const [key, event] of this.pending) {
      if (batchId !== undefined && event.batch_id !== batchId) continue;
      this.pending.delete(key);
      this.send(event);
    }
    if (this.pending.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }
}

function fileKey(batchId: string, code: string): string {
  return `${batchId}\u0000${code}`;
}
