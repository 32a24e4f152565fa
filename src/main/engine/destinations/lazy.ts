/**
 * A destination whose implementation is loaded on first use. The MEGA destination pulls in megajs
 * and the uploader, S4 the AWS SDK; commands that never touch MEGA (`status`, `files`, `--help`, a batch whose
 * files are all done already) should not pay for it.
 */
import type { Readable } from 'node:stream';
import type {
  Destination,
  DestinationNode,
  FindOptions,
  FolderRegistry,
  UploadCheckpoint,
  UploadRequest,
} from '../ports';

export class LazyDestination implements Destination {
  private loading: Promise<Destination> | null = null;
  private registry: FolderRegistry | null = null;

  constructor(
    readonly id: string,
    private readonly loader: () => Promise<Destination>,
  ) {}

  /** The destination itself, loaded now if it was not yet (e.g. for what only MEGA can do). */
  load(): Promise<Destination> {
    return this.destination();
  }

  private destination(): Promise<Destination> {
    if (!this.loading) {
      const attempt = this.loader().then((destination) => {
        if (this.registry) destination.useFolderRegistry?.(this.registry);
        return destination;
      });
      this.loading = attempt;
      // A failed load (it should not happen) may be tried again at the next use.
      attempt.catch(() => {
        if (this.loading === attempt) this.loading = null;
      });
    }
    return this.loading;
  }

  async connect(): Promise<void> {
    return (await this.destination()).connect();
  }

  async find(path: string, opts?: FindOptions): Promise<DestinationNode[]> {
    return (await this.destination()).find(path, opts);
  }

  async upload(req: UploadRequest): Promise<DestinationNode> {
    return (await this.destination()).upload(req);
  }

  async discard(handle: string): Promise<void> {
    return (await this.destination()).discard(handle);
  }

  async abandon(checkpoint: UploadCheckpoint): Promise<void> {
    const destination = await this.destination();
    if (destination.abandon) await destination.abandon(checkpoint);
  }

  async readCopy(handle: string, signal: AbortSignal): Promise<Readable | null> {
    const destination = await this.destination();
    if (!destination.readCopy) throw new Error(`${this.id} cannot read its copies back`);
    return destination.readCopy(handle, signal);
  }

  async link(handle: string): Promise<string | null> {
    const destination = await this.destination();
    return destination.link ? destination.link(handle) : null;
  }

  async locate(handle: string): Promise<string | null> {
    const destination = await this.destination();
    return destination.locate ? destination.locate(handle) : null;
  }

  useFolderRegistry(registry: FolderRegistry): void {
    this.registry = registry;
    void this.loading?.then((d) => d.useFolderRegistry?.(registry)).catch(() => undefined);
  }

  /** Closes the destination if it was ever loaded (one never used is never loaded). */
  async close(): Promise<void> {
    const loading = this.loading;
    if (!loading) return;
    const destination = await loading.catch(() => null);
    await destination?.close();
  }
}

/** `destination` itself, or what it stands for when it is a LazyDestination (loaded now). */
export async function loadedDestination(destination: Destination): Promise<Destination> {
  return destination instanceof LazyDestination ? destination.load() : destination;
}
