/**
 * A source whose implementation is loaded on first use. The S3 source pulls in the AWS SDK (about
 * 0.25 CPU-seconds and 20 MB for a process just to load it); commands that never read a bucket
 * (`status`, `files`, `--help`) should not pay for it.
 */
import type { Readable } from 'node:stream';
import type { Source, SourceListing, SourceObject } from '../ports';

type ClosableSource = Source & { close?(): void };

export class LazySource implements ClosableSource {
  private loading: Promise<ClosableSource> | null = null;
  private loaded: ClosableSource | null = null;
  private closed = false;

  constructor(private readonly load: () => Promise<ClosableSource>) {}

  private source(): Promise<ClosableSource> {
    if (!this.loading) {
      const attempt = this.load().then((source) => {
        this.loaded = source;
        if (this.closed) source.close?.();
        return source;
      });
      this.loading = attempt;
      // A failed load (it should not happen) may be tried again at the next use.
      attempt.catch(() => {
        if (this.loading === attempt) this.loading = null;
      });
    }
    return this.loading;
  }

  async checkBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    return (await this.source()).checkBucket(bucket, signal);
  }

  async listBuckets(signal?: AbortSignal): Promise<string[]> {
    return (await this.source()).listBuckets(signal);
  }

  async list(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; token?: string; maxKeys?: number },
    signal?: AbortSignal,
  ): Promise<SourceListing> {
    return (await this.source()).list(bucket, opts, signal);
  }

  async *listAll(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<SourceObject> {
    yield* (await this.source()).listAll(bucket, prefix, signal);
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<SourceObject | null> {
    return (await this.source()).head(bucket, key, signal);
  }

  async read(bucket: string, key: string, opts: { start?: number; signal: AbortSignal }): Promise<Readable> {
    return (await this.source()).read(bucket, key, opts);
  }

  /** Closes the source if it was ever loaded (a source never used is never loaded). */
  close(): void {
    this.closed = true;
    this.loaded?.close?.();
  }
}
