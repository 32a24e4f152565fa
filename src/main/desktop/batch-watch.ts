/**
 * Follows the batches in progress for the tray and the notifications, from the engine's events:
 * a batch touched by an event is read again at most once per `intervalMs`; batches whose end was
 * announced are reported together once their final status is read (one notification when
 * "Cancel all" stops several). Pure: no electron.
 */
import type { FerryApi } from '../../shared/api';
import type { BatchStatus, FerryEvent } from '../../shared/contract';

export interface BatchWatchListener {
  /** The batches in progress changed (tooltip, taskbar progress). */
  onChange(active: BatchStatus[]): void;
  /** These batches have just ended (finished or cancelled). */
  onEnded(ended: BatchStatus[]): void;
}

export class BatchWatch {
  private readonly active = new Map<string, BatchStatus>();
  private readonly dirty = new Set<string>();
  private readonly ending = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly api: Pick<FerryApi, 'getBatch' | 'listBatches'>,
    private readonly listener: BatchWatchListener,
    private readonly intervalMs = 1000,
  ) {}

  /** Reads the batches in progress once (those resumed at start-up among them). */
  async start(): Promise<void> {
    const all = await this.api.listBatches();
    for (const b of all) if (b.overall_status === 'in_progress') this.active.set(b.batch_id, b);
    if (!this.closed) this.listener.onChange(this.activeBatches());
  }

  push(event: FerryEvent): void {
    if (this.closed || event.type === 'hold') return;
    this.dirty.add(event.batch_id);
    if (event.type === 'batch') {
      if (event.state === 'running') this.ending.delete(event.batch_id);
      else this.ending.add(event.batch_id);
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.chain = this.chain.then(() => this.refresh());
    }, this.intervalMs);
  }

  activeBatches(): BatchStatus[] {
    return [...this.active.values()];
  }

  /** Reads the touched batches now; resolves when the listener has been told. */
  async refresh(): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    if (ids.length === 0 || this.closed) return;
    const ending = new Set([...this.ending].filter((id) => ids.includes(id)));
    for (const id of ending) this.ending.delete(id);
    const ended: BatchStatus[] = [];
    await Promise.all(
      ids.map(async (id) => {
        let status: BatchStatus;
        try {
          status = await this.api.getBatch(id);
        } catch {
          this.active.delete(id); // gone, or the store is closing
          return;
        }
        if (status.overall_status === 'in_progress' && !ending.has(id)) this.active.set(id, status);
        else {
          this.active.delete(id);
          if (ending.has(id)) ended.push(status);
        }
      }),
    );
    if (this.closed) return;
    this.listener.onChange(this.activeBatches());
    if (ended.length > 0) this.listener.onEnded(ended);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
