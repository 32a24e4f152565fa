/**
 * One source over two: buckets named `local:<folder>` go to the local-file source (files dropped
 * on the desktop window), every other bucket to S3. The batch manager sees a single Source.
 */
import type { Readable } from 'node:stream';
import type { Source, SourceListing, SourceObject } from '../ports';
import { LocalSource, isLocalBucket } from './local';

export class RoutedSource implements Source {
  constructor(
    private readonly s3: Source & { close?(): void },
    private readonly local: Source = new LocalSource(),
  ) {}

  private route(bucket: string): Source {
    return isLocalBucket(bucket) ? this.local : this.s3;
  }

  checkBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    return this.route(bucket).checkBucket(bucket, signal);
  }

  /** The S3 buckets (dropped folders are not buckets one browses). */
  listBuckets(signal?: AbortSignal): Promise<string[]> {
    return this.s3.listBuckets(signal);
  }

  list(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; token?: string; maxKeys?: number },
    signal?: AbortSignal,
  ): Promise<SourceListing> {
    return this.route(bucket).list(bucket, opts, signal);
  }

  listAll(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<SourceObject> {
    return this.route(bucket).listAll(bucket, prefix, signal);
  }

  head(bucket: string, key: string, signal?: AbortSignal): Promise<SourceObject | null> {
    return this.route(bucket).head(bucket, key, signal);
  }

  read(bucket: string, key: string, opts: { start?: number; signal: AbortSignal }): Promise<Readable> {
    return this.route(bucket).read(bucket, key, opts);
  }

  close(): void {
    this.s3.close?.();
  }
}
