/**
 * The store as the engine uses it, written once over an adapter's compare-and-set primitives:
 * read the document, compute the next version with a pure rule (./rules.ts), write it only if
 * nobody wrote in between (same `rev`), else read again. MongoDB and SQLite behave the same
 * because they run the same code; only reading and the conditional write differ.
 */
import type { BatchState } from '../../shared/contract';
import type {
  BatchDoc,
  BatchRule,
  ClaimResult,
  ClaimScope,
  FileDoc,
  FileListQuery,
  FileRule,
  FilesPage,
  FolderDoc,
  FolderRule,
  MetadataStore,
  ProcessDoc,
  StoreAdapter,
  TransferRef,
} from './port';
import { claimRule } from './rules';

/** Attempts of one compare-and-set before the store reports it could not write. */
const CAS_ATTEMPTS = 50;
/** How many of the oldest pending transfers a claim looks at (the head first, then the others). */
const CLAIM_WINDOW = 8;

export class StoreCore implements MetadataStore {
  /** Claims lost to another process since this store was opened (for the measurements). */
  lostClaims = 0;

  constructor(private readonly adapter: StoreAdapter) {}

  get kind(): 'mongodb' | 'embedded' {
    return this.adapter.kind;
  }

  init(): Promise<void> {
    return this.adapter.init();
  }

  close(): Promise<void> {
    return this.adapter.close();
  }

  getFile(ref: TransferRef): Promise<FileDoc | null> {
    return this.adapter.readFile(ref);
  }

  getFiles(refs: TransferRef[]): Promise<FileDoc[]> {
    return this.adapter.readFiles(refs);
  }

  listFiles(query: FileListQuery): Promise<FilesPage> {
    return this.adapter.listFiles(query);
  }

  getBatch(batchId: string): Promise<BatchDoc | null> {
    return this.adapter.readBatch(batchId);
  }

  listBatches(query: { state?: BatchState; limit?: number }): Promise<BatchDoc[]> {
    return this.adapter.listBatches(query);
  }

  async insertBatch(batch: BatchDoc): Promise<void> {
    if (!(await this.adapter.writeBatch({ ...batch, rev: 0 }, null))) {
      throw new Error(`batch ${batch.batch_id} already exists`);
    }
  }

  findOpen(batchIds: string[]): Promise<FileDoc[]> {
    return batchIds.length === 0 ? Promise.resolve([]) : this.adapter.findOpen(batchIds);
  }

  findPendingHead(destination: string): Promise<FileDoc[]> {
    return this.adapter.findPending({ destinations: [destination] }, 1);
  }

  openBatches(batchIds: string[]): Promise<string[]> {
    return batchIds.length === 0 ? Promise.resolve([]) : this.adapter.openBatches(batchIds);
  }

  findProcessing(): Promise<FileDoc[]> {
    return this.adapter.findProcessing();
  }

  recordProcess(doc: ProcessDoc): Promise<void> {
    return this.adapter.writeProcess(doc);
  }

  listProcesses(): Promise<ProcessDoc[]> {
    return this.adapter.listProcesses();
  }

  pruneProcesses(before: Date): Promise<number> {
    return this.adapter.deleteProcesses(before);
  }

  async applyFile<R>(ref: TransferRef, rule: FileRule<R>): Promise<R> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.adapter.readFile(ref);
      const { next, result } = rule(cur, new Date());
      if (!next) return result;
      const written: FileDoc = {
        ...next,
        bucket_name: ref.bucket_name,
        remote_key: ref.remote_key,
        destination: ref.destination,
        s4_key: ref.s4_key,
        rev: cur ? (cur.rev ?? 0) + 1 : 0,
      };
      if (await this.adapter.writeFile(written, cur ? (cur.rev ?? 0) : null)) {
        return rewrap(result, next, written);
      }
      await backoff(attempt);
    }
    throw new Error(
      `the store could not write ${ref.bucket_name}/${ref.remote_key} → ${ref.s4_key}: it kept changing`,
    );
  }

  async applyBatch<R>(batchId: string, rule: BatchRule<R>): Promise<R> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.adapter.readBatch(batchId);
      const { next, result } = rule(cur, new Date());
      if (!next || !cur) return result;
      const written: BatchDoc = { ...next, batch_id: batchId, rev: (cur.rev ?? 0) + 1 };
      if (await this.adapter.writeBatch(written, cur.rev ?? 0)) return rewrap(result, next, written);
      await backoff(attempt);
    }
    throw new Error(`the store could not write batch ${batchId}: it kept changing`);
  }

  async applyFolder<R>(destination: string, path: string, rule: FolderRule<R>): Promise<R> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.adapter.readFolder(destination, path);
      const { next, result } = rule(cur, new Date());
      if (!next) return result;
      const written: FolderDoc = { ...next, destination, path, rev: cur ? cur.rev + 1 : 0 };
      if (await this.adapter.writeFolder(written, cur ? cur.rev : null)) return result;
      await backoff(attempt);
    }
    throw new Error(`the store could not write the folder record ${path}: it kept changing`);
  }

  async claimNext(scope: ClaimScope, owner: string, leaseMs: number): Promise<ClaimResult> {
    let lost = 0;
    // The head of the queue first (the queue's order is the users': batches in the order started,
    // one moved to the front, small files first); when another runner took it, the rest of the
    // oldest few from a random one, so runners racing for the head spread instead of all colliding
    // on the next one. Null only when nothing is pending in scope.
    for (let round = 0; round < 100; round++) {
      const candidates = await this.adapter.findPending(scope, CLAIM_WINDOW);
      if (candidates.length === 0) return { doc: null, lost };
      const start = 1 + Math.floor(Math.random() * Math.max(1, candidates.length - 1));
      for (let i = 0; i < candidates.length; i++) {
        const index = i === 0 ? 0 : 1 + ((start - 1 + i - 1) % Math.max(1, candidates.length - 1));
        const candidate = candidates[index] as FileDoc;
        const doc = await this.applyFile(candidate, claimRule(owner, leaseMs));
        if (doc) return { doc, lost };
        lost++;
        this.lostClaims++;
      }
    }
    return { doc: null, lost };
  }
}

/** A rule returns the document it computed; callers get it as written (with its new revision). */
function rewrap<R, D extends { rev: number }>(result: R, next: D, written: D): R {
  if (result === (next as unknown)) return written as unknown as R;
  if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    for (const key of ['doc', 'batch']) {
      if (r[key] === next) return { ...r, [key]: written } as R;
    }
  }
  return result;
}

function backoff(attempt: number): Promise<void> {
  if (attempt < 2) return Promise.resolve();
  const ms = Math.min(50, 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
