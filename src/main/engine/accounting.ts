/**
 * Live transfer statistics, kept apart from the I/O (rclone's fs/accounting): bytes, percent,
 * a moving-average speed and the time remaining, per file.
 */

export interface TransferStats {
  transferred_bytes: number;
  total_bytes: number | null;
  progress: number;
  speed: number;
  eta_seconds: number | null;
}

/** Speed is an exponentially weighted average of samples taken at least this far apart. */
const SAMPLE_MS = 250;
/** Weight of the newest sample: about a 2-second window at 4 samples a second. */
const ALPHA = 0.25;

export class TransferAccount {
  private bytes = 0;
  private speed = 0;
  private sampleAt: number;
  private sampleBytes = 0;
  private hasSample = false;

  constructor(
    readonly total: number | null,
    private readonly now: () => number = Date.now,
    start = 0,
  ) {
    this.bytes = start;
    this.sampleBytes = start;
    this.sampleAt = now();
  }

  /** Records the bytes done so far (monotonic; a restart of the file may reset with `reset`). */
  update(bytes: number): void {
    this.bytes = bytes;
    const t = this.now();
    const dt = t - this.sampleAt;
    if (dt >= SAMPLE_MS) {
      const instant = ((bytes - this.sampleBytes) * 1000) / dt;
      this.speed = this.hasSample ? ALPHA * instant + (1 - ALPHA) * this.speed : instant;
      this.hasSample = true;
      this.sampleAt = t;
      this.sampleBytes = bytes;
    }
  }

  reset(bytes = 0): void {
    this.bytes = bytes;
    this.sampleBytes = bytes;
    this.sampleAt = this.now();
  }

  get transferred(): number {
    return this.bytes;
  }

  stats(): TransferStats {
    const total = this.total;
    const progress = total === null ? 0 : total === 0 ? 100 : Math.min(100, (this.bytes / total) * 100);
    const speed = Math.max(0, Math.round(this.speed));
    const remaining = total === null ? null : Math.max(0, total - this.bytes);
    const eta =
      remaining === null ? null : remaining === 0 ? 0 : speed > 0 ? Math.ceil(remaining / speed) : null;
    return {
      transferred_bytes: this.bytes,
      total_bytes: total,
      progress: Math.round(progress * 10) / 10,
      speed,
      eta_seconds: eta,
    };
  }
}
