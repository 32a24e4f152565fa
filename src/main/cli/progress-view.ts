/**
 * What the CLI shows while batches run: on a TTY a bar per active file plus an overall bar
 * (cli-progress, loaded only then); otherwise one plain line per file status change.
 */
import type cliProgress from 'cli-progress';
import type { FerryEvent, FileProgress } from '../../shared/contract';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** What a quota hold says: why the queue waits and when it is tried again, or that it goes on. */
export function holdLine(event: Extract<FerryEvent, { type: 'hold' }>): string {
  if (!event.reason || !event.retry_at) return `${event.destination} takes data again: the queue goes on`;
  const at = new Date(event.retry_at).toLocaleTimeString();
  return `${event.destination} refused more data (${event.reason}): the queue waits, files keep their place; next try at ${at}`;
}

function formatEta(s: number | null): string {
  if (s === null) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function shortName(key: string, width = 32): string {
  return key.length <= width ? key.padEnd(width) : '…' + key.slice(key.length - width + 1);
}

export interface ProgressView {
  handle(event: FerryEvent): void;
  /** Sets the overall bar from the files of the batches being watched, as they stand now. */
  setFiles(files: FileProgress[]): void;
  stop(): void;
}

type CliProgress = typeof cliProgress;

export async function createProgressView(
  stream: NodeJS.WriteStream,
  batchIds: Set<string>,
): Promise<ProgressView> {
  if (!stream.isTTY) return new LinesView(stream, batchIds);
  const { default: bars } = await import('cli-progress');
  return new BarsView(bars, stream, batchIds);
}

const FINAL = new Set(['done', 's3_download_failed', 's4_upload_failed', 'error', 'cancelled']);

class BarsView implements ProgressView {
  private readonly multi: cliProgress.MultiBar;
  private readonly overall: cliProgress.SingleBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly bytes = new Map<string, number>();
  private readonly speeds = new Map<string, number>();
  private finished = 0;
  private files = 0;

  constructor(
    bars: CliProgress,
    stream: NodeJS.WriteStream,
    private readonly batchIds: Set<string>,
  ) {
    this.multi = new bars.MultiBar(
      {
        stream,
        clearOnComplete: false,
        hideCursor: true,
        autopadding: true,
        format: '{name} |{bar}| {percentage}% {done}/{size} {speed} ETA {eta_text} {state}',
        barsize: 24,
        fps: 5,
      },
      bars.Presets.shades_classic,
    );
    this.overall = this.multi.create(1, 0, {
      name: shortName('overall'),
      done: '0 B',
      size: '0 B',
      speed: '',
      eta_text: '',
      state: '',
    });
  }

  setFiles(files: FileProgress[]): void {
    this.files = files.length;
    this.overall.setTotal(
      Math.max(
        1,
        files.reduce((n, f) => n + (f.total_bytes ?? 0), 0),
      ),
    );
    for (const f of files) {
      this.bytes.set(`${f.bucket_name}/${f.remote_key}`, f.transferred_bytes);
      if (FINAL.has(f.status)) this.finished++;
    }
    this.refreshOverall();
  }

  private refreshOverall(): void {
    let sum = 0;
    for (const v of this.bytes.values()) sum += v;
    let speed = 0;
    for (const v of this.speeds.values()) speed += v;
    const remaining = Math.max(0, this.overall.getTotal() - sum);
    this.overall.update(sum, {
      done: formatBytes(sum),
      size: formatBytes(this.overall.getTotal()),
      speed: speed > 0 ? `${formatBytes(speed)}/s` : '',
      eta_text: speed > 0 ? formatEta(Math.ceil(remaining / speed)) : '--:--',
      state: `${this.finished}/${this.files} files`,
    });
  }

  handle(event: FerryEvent): void {
    if (event.type === 'hold') {
      this.multi.log(holdLine(event) + '\n');
      return;
    }
    if (!this.batchIds.has(event.batch_id) || event.type === 'batch') return;
    const f = event.file;
    const id = `${f.bucket_name}/${f.remote_key}`;
    this.bytes.set(id, f.transferred_bytes);
    if (f.status === 'processing') this.speeds.set(id, f.speed);
    else this.speeds.delete(id);
    let bar = this.bars.get(id);
    if (!bar && f.status === 'processing') {
      bar = this.multi.create(Math.max(1, f.total_bytes ?? 1), 0, this.payload(f));
      this.bars.set(id, bar);
    }
    if (bar) {
      bar.setTotal(Math.max(1, f.total_bytes ?? 1));
      bar.update(f.transferred_bytes, this.payload(f));
    }
    if (event.type === 'file' && FINAL.has(f.status)) {
      this.finished++;
      if (bar) {
        this.multi.remove(bar);
        this.bars.delete(id);
      }
      this.multi.log(
        `${f.status === 'done' ? 'done ' : f.status.padEnd(5)} ${f.s4_key}${f.error_message && f.status !== 'done' ? ` — ${f.error_message}` : ''}\n`,
      );
    }
    this.refreshOverall();
  }

  private payload(f: FileProgress) {
    return {
      name: shortName(f.remote_key),
      done: formatBytes(f.transferred_bytes),
      size: formatBytes(f.total_bytes ?? 0),
      speed: `${formatBytes(f.speed)}/s`,
      eta_text: formatEta(f.eta_seconds),
      state: f.retry_count > 0 ? `retry ${f.retry_count}` : '',
    };
  }

  stop(): void {
    this.multi.update(); // flushes lines logged since the last redraw
    this.multi.stop();
  }
}

class LinesView implements ProgressView {
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly batchIds: Set<string>,
  ) {}

  setFiles(files: FileProgress[]): void {
    const bytes = files.reduce((n, f) => n + (f.total_bytes ?? 0), 0);
    this.stream.write(`${files.length} file${files.length === 1 ? '' : 's'}, ${formatBytes(bytes)}\n`);
  }

  handle(event: FerryEvent): void {
    if (event.type === 'hold') {
      this.stream.write(holdLine(event) + '\n');
      return;
    }
    if (!this.batchIds.has(event.batch_id) || event.type !== 'file') return;
    const f = event.file;
    if (f.status === 'processing') {
      this.stream.write(`start ${f.remote_key} → ${f.s4_key} (${formatBytes(f.total_bytes ?? 0)})\n`);
    } else if (FINAL.has(f.status)) {
      const why = f.status !== 'done' && f.error_message ? ` — ${f.error_message}` : '';
      this.stream.write(`${f.status} ${f.remote_key}${why}\n`);
    }
  }

  stop(): void {}
}
