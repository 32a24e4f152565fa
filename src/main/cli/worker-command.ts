/**
 * `megaferry worker`: works the shared queue of a MongoDB store — any pending transfer of any
 * batch, with this machine's own S3 and MEGA credentials — until SIGTERM or Ctrl-C, which give
 * its transfers back at once (their checkpoints kept: the next worker continues mid-file).
 *
 * What it shows: on a terminal a bar per file it moves under a line of its totals; otherwise one
 * line per file started and ended, and its totals every half minute.
 */
import { hostname } from 'node:os';
import type cliProgress from 'cli-progress';
import type { FerryEvent, FileProgress } from '../../shared/contract';
import { InputError } from '../engine/errors';
import type { FerryConfig } from '../service/config';
import { formatBytes } from './progress-view';

const FINAL = new Set(['done', 's3_download_failed', 's4_upload_failed', 'error', 'cancelled']);

export interface WorkerOptions {
  concurrency?: number;
  name?: string;
}

/** Exit code: 0 after SIGTERM, 130 after Ctrl-C (SIGINT). */
export async function workerCommand(config: FerryConfig, opts: WorkerOptions): Promise<number> {
  if (opts.concurrency !== undefined) config.engine.maxActive = opts.concurrency;
  const name = opts.name ?? `${hostname()}/${process.pid}`;
  const [{ FerryService }, { keyFileSecretBox }] = await Promise.all([
    import('../service/ferry-service'),
    import('../service/key-file-box'),
  ]);
  const service = await FerryService.open(config, {
    work: 'worker',
    kind: 'worker',
    name,
    requireMongo: true,
    secretBox: keyFileSecretBox(config.dataDir),
  });
  let view: WorkerView | null = null;
  try {
    if (service.store.kind !== 'mongodb') {
      throw new InputError('a worker needs MONGODB_URI: workers share one MongoDB store');
    }
    if (!service.anyDestinationConfigured) service.requireDestination('mega');
    // Logs in now: a wrong password is said at once, not at the first file.
    if (service.megaConfigured) {
      await service.megaDestination.connect().catch((err: unknown) => {
        throw new InputError(`MEGA: ${err instanceof Error ? err.message : String(err)}`);
      });
    }
    const where = (service.store as { describe?: () => string }).describe?.() ?? 'MongoDB';
    process.stdout.write(
      `worker ${name}: working the queues of ${service.destinations.describe()} in ${where}, ` +
        `up to ${config.engine.maxActive} transfer${config.engine.maxActive === 1 ? '' : 's'} at once; ` +
        'Ctrl-C or SIGTERM gives its transfers back\n',
    );
    view = await createWorkerView(name);
    const off = service.manager.onLocalTransfer((e) => view?.handle(e));
    service.manager.ensureRunner();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    off();
    view.stop();
    view = null;
    const moving = service.manager.activeCount;
    const stats = service.manager.stats();
    process.stdout.write(
      `stopping (${signal}): giving back ${moving} transfer${moving === 1 ? '' : 's'} for another worker to continue; ` +
        `moved ${stats.moved}, lost ${stats.lost_claims} claim${stats.lost_claims === 1 ? '' : 's'} to other processes\n`,
    );
    return signal === 'SIGINT' ? 130 : 0;
  } finally {
    view?.stop();
    await service.close();
  }
}

interface WorkerView {
  handle(event: FerryEvent & { type: 'progress' | 'file' }): void;
  stop(): void;
}

/** Totals of what this worker did since it started. */
class Totals {
  done = 0;
  failed = 0;
  bytes = 0;
  readonly speeds = new Map<string, number>();

  take(f: FileProgress): boolean {
    const id = `${f.bucket_name}/${f.remote_key}→${f.s4_key}`;
    if (f.status === 'processing') {
      this.speeds.set(id, f.speed);
      return false;
    }
    this.speeds.delete(id);
    if (!FINAL.has(f.status)) return false;
    if (f.status === 'done') {
      this.done++;
      this.bytes += f.total_bytes ?? 0;
    } else if (f.status !== 'cancelled') this.failed++;
    return true;
  }

  line(name: string): string {
    let speed = 0;
    for (const v of this.speeds.values()) speed += v;
    return (
      `${name}: ${this.speeds.size} moving, ${this.done} done (${formatBytes(this.bytes)}), ` +
      `${this.failed} failed${speed > 0 ? `, ${formatBytes(speed)}/s` : ''}`
    );
  }
}

async function createWorkerView(name: string): Promise<WorkerView> {
  const stream = process.stderr;
  if (stream.isTTY) {
    const { default: bars } = await import('cli-progress');
    return new WorkerBars(bars, stream, name);
  }
  return new WorkerLines(stream, name);
}

class WorkerLines implements WorkerView {
  private readonly totals = new Totals();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly name: string,
  ) {
    this.timer = setInterval(() => this.stream.write(this.totals.line(this.name) + '\n'), 30_000);
    this.timer.unref();
  }

  handle(event: FerryEvent & { type: 'progress' | 'file' }): void {
    const f = event.file;
    const started = event.type === 'file' && f.status === 'processing';
    const ended = this.totals.take(f);
    if (started) {
      this.stream.write(
        `start ${f.remote_key} → ${f.s4_key} (${formatBytes(f.total_bytes ?? 0)}, ${event.batch_id})\n`,
      );
    } else if (ended) {
      const why = f.status !== 'done' && f.error_message ? ` — ${f.error_message}` : '';
      this.stream.write(`${f.status} ${f.remote_key}${why}\n`);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.stream.write(this.totals.line(this.name) + '\n');
  }
}

class WorkerBars implements WorkerView {
  private readonly totals = new Totals();
  private readonly multi: cliProgress.MultiBar;
  private readonly head: cliProgress.SingleBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(
    bars: typeof cliProgress,
    stream: NodeJS.WriteStream,
    private readonly name: string,
  ) {
    this.multi = new bars.MultiBar(
      {
        stream,
        clearOnComplete: false,
        hideCursor: true,
        format: '{name} |{bar}| {percentage}% {done}/{size} {speed}',
        barsize: 24,
        fps: 5,
      },
      bars.Presets.shades_classic,
    );
    this.head = this.multi.create(1, 0, {}, { format: '{line}' });
    this.head.update(0, { line: this.totals.line(name) });
  }

  handle(event: FerryEvent & { type: 'progress' | 'file' }): void {
    const f = event.file;
    const id = `${f.bucket_name}/${f.remote_key}→${f.s4_key}`;
    const ended = this.totals.take(f);
    let bar = this.bars.get(id);
    if (!bar && f.status === 'processing') {
      bar = this.multi.create(Math.max(1, f.total_bytes ?? 1), 0, payload(f));
      this.bars.set(id, bar);
    }
    if (bar && !ended) {
      bar.setTotal(Math.max(1, f.total_bytes ?? 1));
      bar.update(f.transferred_bytes, payload(f));
    }
    if (ended) {
      if (bar) this.multi.remove(bar);
      this.bars.delete(id);
      const why = f.status !== 'done' && f.error_message ? ` — ${f.error_message}` : '';
      this.multi.log(`${f.status} ${f.s4_key}${why}\n`);
    }
    this.head.update(0, { line: this.totals.line(this.name) });
  }

  stop(): void {
    this.multi.update();
    this.multi.stop();
  }
}

function payload(f: FileProgress) {
  const key = f.remote_key.length <= 32 ? f.remote_key.padEnd(32) : '…' + f.remote_key.slice(-31);
  return {
    name: key,
    done: formatBytes(f.transferred_bytes),
    size: formatBytes(f.total_bytes ?? 0),
    speed: `${formatBytes(f.speed)}/s`,
  };
}
