/**
 * The engine's view of the outside world: a source it reads objects from and a destination it
 * writes them to. The batch manager knows only these interfaces.
 */
import type { Readable } from 'node:stream';
import type { DestinationKind } from '../../shared/destinations';

export interface SourceObject {
  key: string;
  size: number;
  etag: string | null;
  last_modified: Date | null;
}

export interface SourceListing {
  /** Common prefixes ("folders"), each ending with the delimiter. */
  folders: string[];
  objects: SourceObject[];
  next_token: string | null;
}

export interface Source {
  /** Checks that the bucket is reachable with the configured credentials. */
  checkBucket(bucket: string, signal?: AbortSignal): Promise<void>;
  listBuckets(signal?: AbortSignal): Promise<string[]>;
  /** One page of a listing; `delimiter` "/" gives folders. */
  list(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; token?: string; maxKeys?: number },
    signal?: AbortSignal,
  ): Promise<SourceListing>;
  /** Every object under the prefix, all pages. */
  listAll(bucket: string, prefix: string, signal?: AbortSignal): AsyncIterable<SourceObject>;
  /** null when the object does not exist. */
  head(bucket: string, key: string, signal?: AbortSignal): Promise<SourceObject | null>;
  /** A stream of the object's bytes from `start` (inclusive) to the end. */
  read(bucket: string, key: string, opts: { start?: number; signal: AbortSignal }): Promise<Readable>;
}

/** A file node at the destination. */
export interface DestinationNode {
  handle: string;
  size: number;
  /** The transfer_id the node was written with, when MegaFerry wrote it. */
  transfer_id: string | null;
}

/**
 * Where an interrupted upload stands. `state` is the destination's own record, sealed by it (no
 * usable file key in clear); the engine stores it with the file's document and hands it back.
 */
export interface UploadCheckpoint {
  /** Bytes confirmed at the destination, in order from 0: a resumed body starts here. */
  next_offset: number;
  state: Record<string, unknown>;
}

export interface UploadRequest {
  /**
   * Where the copy goes: the document's s4_key. MEGA: the path from the drive root, starting with
   * "/"; S4: the object key in the destination's bucket; a local folder: the path under it.
   */
  path: string;
  size: number;
  body: Readable;
  /** Stored on the node so a crash-orphaned node can be recognised later. */
  transfer_id: string;
  signal: AbortSignal;
  /**
   * Called with the bytes of the file accepted by the destination so far (a resumed upload counts
   * from 0, its earlier bytes included).
   */
  onProgress: (bytesUploaded: number) => void;
  /** Continue this interrupted upload; `body` then starts at `resume.next_offset`. */
  resume?: UploadCheckpoint | null;
  /** Called (about once a second, awaited) as the confirmed prefix grows. */
  onCheckpoint?: (checkpoint: UploadCheckpoint) => void | Promise<void>;
}

export interface FindOptions {
  /**
   * Ask the destination itself, not what this process last knew: after an ambiguous end (an
   * answer lost) the node may exist although this process never heard of it.
   */
  fresh?: boolean;
}

/** What the processes sharing the store know of a folder at a destination (see FolderRegistry). */
export type FolderClaim =
  { kind: 'known'; handle: string } | { kind: 'mine'; takeover: boolean } | { kind: 'held'; owner: string };

/**
 * Folders made at a destination, coordinated through the store: before a process makes a folder
 * it claims the folder's record (a lease, like a transfer's); the one that holds it makes the
 * folder and records its handle, every other uses that handle. Two processes that need the same
 * new folder at the same moment never make two.
 */
export interface FolderRegistry {
  /**
   * The recorded handle, the right to make the folder (`takeover`: a holder that stopped had it
   * before, and may have made it), or who is making it now. `gone`: a recorded handle found
   * missing, which may be replaced.
   */
  claim(destination: string, path: string, gone?: string | null): Promise<FolderClaim>;
  record(destination: string, path: string, handle: string): Promise<void>;
}

export interface Destination {
  /**
   * Which destination this is, as the store records it (`mega:<account e-mail>`): transfers are
   * keyed by it, and a process works only the queue of the destination it can write to.
   */
  readonly id: string;
  /** Logs in (once per process) and checks the account works. */
  connect(): Promise<void>;
  /** File nodes whose path equals `path` (a folder may hold several nodes of one name). */
  find(path: string, opts?: FindOptions): Promise<DestinationNode[]>;
  /** Uploads the body, creating missing folders; resolves with the new node. */
  upload(req: UploadRequest): Promise<DestinationNode>;
  /** Moves a node to the Rubbish Bin. Missing nodes are ignored. */
  discard(handle: string): Promise<void>;
  /**
   * Drops what an unfinished upload left at the destination (S4: aborts the multipart upload;
   * local: deletes the partial file). Called when a transfer is cancelled: a cancelled transfer
   * leaves nothing behind. An unknown or already finished upload is not an error.
   */
  abandon?(checkpoint: UploadCheckpoint): Promise<void>;
  /**
   * The bytes of a copy as stored (S4: the object; local: the file), for `verify`; null when it
   * is gone. MEGA's copies are read through its own path (decrypted and MAC-checked).
   */
  readCopy?(handle: string, signal: AbortSignal): Promise<Readable | null>;
  /** A public link to the node, when the destination can make one. */
  link?(handle: string): Promise<string | null>;
  /**
   * Where the account owner finds the node: for MEGA the web app address of the folder that holds
   * it (private to the owner, not a public link). Recorded as the file's `mega_link`.
   */
  locate?(handle: string): Promise<string | null>;
  /** Folders are made through the store's records from now on (several processes share it). */
  useFolderRegistry?(registry: FolderRegistry): void;
  close(): Promise<void>;
}

/**
 * The destinations a process can write, by the id the store records (`mega:<e-mail>`,
 * `s4:<host>/<bucket>`, `local:<folder>`): built from the settings by the destination registry.
 * A batch records its destination's id; whichever process moves its files asks this set for it,
 * never "whichever is configured now".
 */
export interface DestinationSet {
  /**
   * The id of the destination of this kind and (valid, normalized) target, as the store records
   * it; an InputError naming what to configure when this process cannot write it.
   */
  idFor(kind: DestinationKind, target: string): string;
  /** The destination writing `id`, or null when this process cannot write there. */
  byId(id: string): Destination | null;
  /**
   * Why this process cannot write `id` (one line naming what to configure), or null when it can.
   */
  problemWith(id: string): string | null;
  /** Folders are made through the store's records from now on (several processes share it). */
  useFolderRegistry(registry: FolderRegistry): void;
  /** What it writes, for the heartbeat (`mega:a@b.c, s4:host`). */
  describe(): string;
}
