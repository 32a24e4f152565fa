/**
 * The MEGA destination: megajs's Storage, logged in once per instance, streaming uploads (never
 * buffering a whole file), folders created on demand and shared between concurrent uploads, and
 * every failure classified once into a FerryError on the destination side.
 */
import { megaDestinationId } from './ids';
import { Storage, type MutableFile } from 'megajs';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  AmbiguousOutcomeError,
  CancelledError,
  FerryError,
  isNetworkError,
  isTransientHttpStatus,
  megaCodeKind,
  redactSecrets,
  type ErrorKind,
} from '../errors';
import type {
  Destination,
  DestinationNode,
  FindOptions,
  FolderRegistry,
  UploadCheckpoint,
  UploadRequest,
} from '../ports';
import { abortable, DEFAULT_RETRY, requestPolicy, type RetryPolicy } from '../retry';
import { megaApiFetch } from './mega-api';
import { logInToMega } from './mega-login';
import { e64, encryptCbcZeroIv, nodeAesKey, packAttributes } from './mega-crypto';
import {
  UploadUrlRejected,
  uploadChunks,
  type MegaApiLike,
  type UploadResult,
  type UploadSession,
} from './mega-upload';

export interface MegaConfig {
  email: string;
  password: string;
  /** API gateway URL; mega-mock needs the trailing slash (`http://127.0.0.1:PORT/`). */
  gateway?: string;
  secondFactorCode?: string;
  /**
   * Tries of one request before the file's attempt fails: each chunk POST and each API command
   * (backoff with jitter between them). Default: 5 tries, 1 s doubling up to 30 s.
   */
  requestRetry?: RetryPolicy;
  /** Chunk POSTs at once per file (default 4). */
  connections?: number;
}

const DEFAULT_REQUEST_RETRY = requestPolicy(DEFAULT_RETRY);

/** The node attribute holding the transfer_id a node was uploaded with. */
const TRANSFER_ID_ATTRIBUTE = 'mfid';

const DEFAULT_CONNECTIONS = 4;

/**
 * How long this process trusts its copy of the drive's tree before making a folder: older, it
 * reads the tree again (a folder may have been made in MEGA's own apps since).
 */
const TREE_FRESH_MS = 30_000;

/** The MEGA web app; `/fm/<folder handle>` opens a folder of the logged-in account. */
const MEGA_WEB_APP = 'https://mega.nz';

export class MegaDestination implements Destination {
  readonly id: string;
  private readonly config: MegaConfig;
  private readonly retries: RetryPolicy;
  private login: Promise<Storage> | null = null;
  /** Folder path ("A/B") → the folder, so one new folder is created once however many ask. */
  private readonly folders = new Map<string, Promise<MutableFile>>();
  /**
   * An answer to a command that creates something was lost and no fresh look has cleared it up
   * yet: MEGA may hold a node or folder the local tree lacks.
   */
  private doubts = 0;
  /** `doubts` as of the start of the last fresh look that succeeded. */
  private cleared = 0;
  /** When this process last read the whole tree from MEGA (login or a fresh look). */
  private treeAt = 0;
  /** The store's folder records, when several processes may make folders in this account. */
  private registry: FolderRegistry | null = null;

  constructor(config: MegaConfig) {
    this.config = config;
    this.id = megaDestinationId(config.email);
    this.retries = config.requestRetry ?? DEFAULT_REQUEST_RETRY;
  }

  private inDoubt(): boolean {
    return this.doubts > this.cleared;
  }

  async connect(): Promise<void> {
    await this.storage();
  }

  useFolderRegistry(registry: FolderRegistry): void {
    this.registry = registry;
  }

  async find(path: string, opts: FindOptions = {}): Promise<DestinationNode[]> {
    const storage = await this.storage();
    if (opts.fresh || this.inDoubt()) await this.refresh(storage);
    const { folders, name } = splitPath(path);
    let folder: MutableFile | undefined = storage.root;
    for (const segment of folders) {
      folder = childFolder(folder, segment);
      if (!folder) return [];
    }
    return (folder.children ?? [])
      .filter((child) => !child.directory && child.name === name)
      .map((node) => toDestinationNode(node));
  }

  async upload(req: UploadRequest): Promise<DestinationNode> {
    const { signal, body } = req;
    if (signal.aborted) {
      body.destroy();
      throw new CancelledError();
    }
    let storage: Storage;
    let folder: MutableFile;
    let name: string;
    try {
      const path = splitPath(req.path);
      name = path.name;
      storage = await this.storage();
      folder = await this.folder(storage, path.folders);
    } catch (err) {
      body.destroy();
      throw err;
    }
    if (signal.aborted) {
      body.destroy();
      throw new CancelledError();
    }
    return this.send(storage, folder, name, req);
  }

  async discard(handle: string): Promise<void> {
    const storage = await this.storage();
    const node = storage.files[handle];
    if (!node || node.parent === storage.trash) return;
    try {
      await node.moveTo(storage.trash);
    } catch (err) {
      if (megaErrorCode(err) === -9) return; // already gone at the server
      throw classifyMegaError(err, `MEGA could not move ${handle} to the Rubbish Bin`);
    }
    // With keepalive off megajs receives no action packets, so the local tree is updated here.
    reparent(node, storage.trash);
  }

  async link(handle: string): Promise<string | null> {
    const storage = await this.storage();
    const node = storage.files[handle];
    if (!node) return null;
    try {
      return await node.link({ noKey: false });
    } catch {
      return null;
    }
  }

  /** The MEGA web app address of the folder holding the node (`https://mega.nz/fm/<handle>`). */
  async locate(handle: string): Promise<string | null> {
    const storage = await this.storage();
    const parent = storage.files[handle]?.parent;
    return parent?.nodeId ? `${MEGA_WEB_APP}/fm/${parent.nodeId}` : null;
  }

  /**
   * The stored copy of a file, for checking it (`megaferry verify`): its size, its 32-byte node
   * key (null when it cannot be decrypted) and its ciphertext as MEGA serves it, from the URL the
   * API's `g` command gives. Decrypting and checking it is the caller's: megajs's own download
   * checks the MAC the way megajs 1.3.10 computes it, which is wrong at some sizes. Null when the
   * account has no such file outside the Rubbish Bin.
   */
  async readStored(handle: string, signal: AbortSignal): Promise<StoredCopy | null> {
    const storage = await this.storage();
    const node = storage.files[handle];
    if (!node || node.directory || isInRubbishBin(node, storage)) return null;
    let answer: { g?: unknown; s?: unknown };
    try {
      answer = (await storage.api.request({
        a: 'g',
        g: 1,
        ssl: 0,
        n: handle,
      } as unknown as JSON)) as unknown as {
        g?: unknown;
        s?: unknown;
      };
    } catch (err) {
      if (megaErrorCode(err) === -9) return null; // gone at the server
      throw classifyMegaError(err, `MEGA could not give the download of ${handle}`);
    }
    if (typeof answer?.g !== 'string') {
      throw new FerryError('transient', 'destination', `MEGA gave no download URL for ${handle}`);
    }
    const key = node.key && node.key.length === 32 ? Buffer.from(node.key) : null;
    const size = typeof answer.s === 'number' ? answer.s : (node.size ?? 0);
    return { size, key, ciphertext: await httpGet(answer.g, signal) };
  }

  async close(): Promise<void> {
    const login = this.login;
    this.login = null;
    this.folders.clear();
    if (!login) return;
    const storage = await login.catch(() => null);
    if (!storage) return;
    await storage.close().catch(() => undefined);
  }

  /** Logs in once; concurrent callers share the attempt, a failed attempt may be repeated. */
  private storage(): Promise<Storage> {
    if (!this.login) {
      const attempt = this.logIn();
      this.login = attempt;
      attempt.catch(() => {
        if (this.login === attempt) this.login = null;
      });
    }
    return this.login;
  }

  private async logIn(): Promise<Storage> {
    const { email, password, gateway, secondFactorCode } = this.config;
    try {
      // megajs's login, with its key derivation and RSA done by OpenSSL (mega-login.ts). Each API
      // command is retried on its own (mega-api.ts), before megajs sees a failure. keepalive is
      // off: mega-mock has no /sc (action packet) endpoint, and this process makes every change
      // itself.
      const storage = await logInToMega({
        email,
        password,
        gateway,
        secondFactorCode,
        fetch: megaApiFetch({ policy: this.retries }),
      });
      this.treeAt = Date.now();
      return storage;
    } catch (err) {
      throw classifyLoginError(err, email);
    }
  }

  /** The folder at `segments` under the drive root, created (once) when missing. */
  private folder(storage: Storage, segments: string[]): Promise<MutableFile> {
    if (segments.length === 0) return Promise.resolve(storage.root);
    const key = segments.join('/');
    let pending = this.folders.get(key);
    if (!pending) {
      pending = (async () => {
        const parent = await this.folder(storage, segments.slice(0, -1));
        const name = segments[segments.length - 1] as string;
        // After a lost answer MEGA may hold a folder this process never heard of: look first.
        if (this.inDoubt()) await this.refresh(storage);
        const known = childFolder(parent, name);
        if (known) return known;
        if (this.registry) return this.sharedFolder(this.registry, storage, parent, name, key);
        return this.makeFolder(storage, parent, name, key);
      })();
      this.folders.set(key, pending);
      pending.catch(() => {
        if (this.folders.get(key) === pending) this.folders.delete(key);
      });
    }
    return pending;
  }

  /**
   * A folder other processes may need at the same moment: the store's record says whether one of
   * them made it (its handle), or gives this process the right to make it; while another holds
   * that right, this one waits for its record. A tree older than TREE_FRESH_MS, or a right taken
   * over from a holder that stopped, is read afresh first: the folder may exist already.
   */
  private async sharedFolder(
    registry: FolderRegistry,
    storage: Storage,
    parent: MutableFile,
    name: string,
    key: string,
  ): Promise<MutableFile> {
    const path = '/' + key;
    const usable = (node: MutableFile | undefined): node is MutableFile =>
      Boolean(node?.directory && node.parent === parent);
    let gone: string | null = null;
    for (let round = 0; ; round++) {
      const claim = await registry.claim(this.id, path, gone);
      if (claim.kind === 'known') {
        let folder: MutableFile | undefined = storage.files[claim.handle];
        if (!usable(folder)) {
          await this.refresh(storage);
          folder = storage.files[claim.handle];
        }
        if (usable(folder)) return folder;
        gone = claim.handle; // deleted or moved since: made anew
        continue;
      }
      if (claim.kind === 'mine') {
        if (claim.takeover || Date.now() - this.treeAt > TREE_FRESH_MS) await this.refresh(storage);
        const folder = childFolder(parent, name) ?? (await this.makeFolder(storage, parent, name, key));
        await registry.record(this.id, path, folder.nodeId as string);
        return folder;
      }
      // Another process is making it now: its record follows within a request or two.
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, 50 * (round + 1))));
    }
  }

  /**
   * Makes a folder (megajs's mkdir: a `p`). When the answer is lost MEGA may have made it: a fresh
   * look tells, and that folder is used; else it is asked for again. Never two of one name.
   */
  private async makeFolder(
    storage: Storage,
    parent: MutableFile,
    name: string,
    key: string,
  ): Promise<MutableFile> {
    for (let tries = 1; ; tries++) {
      try {
        return await parent.mkdir({ name });
      } catch (err) {
        if (!(err instanceof AmbiguousOutcomeError)) {
          throw classifyMegaError(err, `MEGA could not create the folder /${key}`);
        }
        this.doubts++;
        await this.refresh(storage);
        const made = childFolder(parent, name);
        if (made) return made;
        if (tries >= this.retries.attempts) throw err;
      }
    }
  }

  /**
   * The upload itself: chunks through `uploadChunks` (OpenSSL crypto, parallel POSTs, resumable),
   * then the node, made as megajs's `upload()` makes it after its chunks.
   */
  private async send(
    storage: Storage,
    folder: MutableFile,
    name: string,
    req: UploadRequest,
  ): Promise<DestinationNode> {
    const { signal, body, size, transfer_id: transferId } = req;
    const session = req.resume ? unsealSession(storage, req.resume) : null;
    const onCheckpoint = req.onCheckpoint;
    let chunks: UploadResult;
    try {
      chunks = await uploadChunks({
        api: storage.api as unknown as MegaApiLike,
        size,
        body,
        signal,
        connections: this.config.connections ?? DEFAULT_CONNECTIONS,
        onProgress: (bytes) => {
          if (!signal.aborted) req.onProgress(bytes);
        },
        session,
        onCheckpoint: onCheckpoint
          ? (state) => onCheckpoint({ next_offset: state.next_offset, state: sealSession(storage, state) })
          : undefined,
        retry: this.retries,
      });
    } catch (err) {
      if (err instanceof FerryError) throw err;
      throw classifyMegaError(err, `MEGA upload of ${req.path} failed`);
    }
    if (signal.aborted) throw new CancelledError();

    // The node is made even when the user cancels meanwhile; then it goes to the Rubbish Bin.
    const made = this.makeNode(storage, folder, name, chunks, req, session !== null);
    let node: MutableFile;
    try {
      node = await abortable(made, signal);
    } catch (err) {
      if (err instanceof CancelledError) {
        void made
          .then((late) => late.moveTo(storage.trash).then(() => reparent(late, storage.trash)))
          .catch(() => undefined);
      }
      throw err;
    }
    if (!node.nodeId) {
      throw new FerryError(
        'unexpected',
        'destination',
        `MEGA upload of ${req.path} gave a node without handle`,
      );
    }
    return { handle: node.nodeId, size: node.size ?? size, transfer_id: transferId };
  }

  /**
   * Makes the file node of a finished upload (`p`, as megajs's upload() makes it). When the answer
   * to `p` is lost MEGA may have made the node: a fresh look at the folder on the server tells, and
   * that node (it carries the transfer id) is adopted; when MEGA has none, `p` is sent again with
   * the same upload token. A token MEGA no longer takes means starting over on a new upload URL.
   */
  private async makeNode(
    storage: Storage,
    folder: MutableFile,
    name: string,
    chunks: UploadResult,
    req: UploadRequest,
    resumed: boolean,
  ): Promise<MutableFile> {
    const attributes = packAttributes({ [TRANSFER_ID_ATTRIBUTE]: req.transfer_id, n: name });
    const command = {
      a: 'p',
      t: nodeHandle(folder),
      n: [
        {
          h: e64(chunks.uploadHandle),
          t: 0,
          a: e64(encryptCbcZeroIv(nodeAesKey(chunks.key), attributes)),
          k: e64(storage.aes.encryptECB(Buffer.from(chunks.key))),
        },
      ],
    };
    let tokenInDoubt = false;
    for (let tries = 1; ; tries++) {
      try {
        const response = await storage.api.request({ ...command } as unknown as JSON);
        const f = (response as unknown as { f?: MegaNodeRecord[] }).f?.[0];
        if (!f) throw new Error('MEGA made no node (Empty response)');
        const node = (storage as unknown as StorageInternals)._importFile(f);
        (storage as unknown as NodeJS.EventEmitter).emit('add', node);
        return node;
      } catch (err) {
        if (err instanceof AmbiguousOutcomeError) {
          // Whatever happens next, look before acting: adopt what MEGA made, never make a second.
          this.doubts++;
          const adopted = await this.adoptMade(storage, folder, name, req);
          if (adopted) return adopted;
          if (tries >= this.retries.attempts) throw err;
          tokenInDoubt = true;
          continue;
        }
        if (resumed || tokenInDoubt) {
          // The token of a resumed upload, or of one whose first `p` was lost, is no longer good.
          throw new UploadUrlRejected(`MEGA refused to make the node of ${req.path}: ${oneLine(err)}`, {
            cause: err,
          });
        }
        throw classifyMegaError(err, `MEGA upload of ${req.path} failed`);
      }
    }
  }

  /** After a lost answer to `p`: the node MEGA made for this transfer, seen by a fresh look. */
  private async adoptMade(
    storage: Storage,
    folder: MutableFile,
    name: string,
    req: UploadRequest,
  ): Promise<MutableFile | null> {
    await this.refresh(storage);
    const made = (folder.children ?? []).find((child) => {
      if (child.directory || child.name !== name) return false;
      const node = toDestinationNode(child);
      return node.transfer_id === req.transfer_id && node.size === req.size;
    });
    return made ?? null;
  }

  /**
   * Brings megajs's local tree up to what MEGA has now, from a fresh `f` (with keepalive off megajs
   * receives no action packets, so nodes made, moved or removed elsewhere are unknown to it).
   */
  private async refresh(storage: Storage): Promise<void> {
    const doubtsBefore = this.doubts;
    let records: MegaNodeRecord[];
    try {
      const response = (await storage.api.request({ a: 'f', c: 1 } as unknown as JSON)) as unknown as {
        f?: MegaNodeRecord[];
      };
      records = response.f ?? [];
    } catch (err) {
      throw classifyMegaError(err, 'MEGA could not list the drive');
    }
    this.cleared = Math.max(this.cleared, doubtsBefore);
    this.treeAt = Date.now();
    const internals = storage as unknown as StorageInternals;
    const seen = new Set<string>();
    for (const record of records) {
      internals._importFile(record);
      seen.add(record.h);
    }
    for (const record of records) {
      const node = internals.files[record.h];
      const parent = record.p ? internals.files[record.p] : undefined;
      if (node && parent && node.parent !== parent) reparent(node, parent);
    }
    for (const [handle, node] of Object.entries(internals.files)) {
      if (seen.has(handle)) continue;
      const siblings = node.parent?.children;
      const index = siblings ? siblings.indexOf(node) : -1;
      if (siblings && index >= 0) siblings.splice(index, 1);
      delete internals.files[handle];
    }
  }
}

/** A node as MEGA's `f` and `p` commands describe it. */
interface MegaNodeRecord {
  h: string;
  p?: string;
  t: number;
}

/** megajs's Storage internals the destination uses (as megajs's own upload and reload do). */
interface StorageInternals {
  files: Record<string, MutableFile>;
  _importFile(f: MegaNodeRecord): MutableFile;
}

/** A file as MEGA stores it (see MegaDestination.readStored). */
export interface StoredCopy {
  size: number;
  /** The 32-byte node key (file key ⊕ (nonce‖MAC), nonce, meta-MAC); null when undecryptable. */
  key: Buffer | null;
  ciphertext: Readable;
}

function isInRubbishBin(node: MutableFile, storage: Storage): boolean {
  for (let at: MutableFile | undefined = node.parent; at; at = at.parent)
    if (at === storage.trash) return true;
  return false;
}

/** GETs a download URL; resolves with the body once the answer is 200. */
function httpGet(url: string, signal: AbortSignal): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const req = client.get(target, { signal }, (res) => {
      if (res.statusCode === 200) {
        resolve(res);
        return;
      }
      res.resume();
      reject(
        new FerryError(
          isTransientHttpStatus(res.statusCode ?? 0) ? 'transient' : 'unexpected',
          'destination',
          `MEGA download returned a ${res.statusCode ?? 0} status code`,
        ),
      );
    });
    req.on('error', (err) =>
      reject(signal.aborted ? new CancelledError() : classifyMegaError(err, 'MEGA download failed')),
    );
  });
}

/** The key that seals upload sessions: derived from the account's master key (which never leaves it). */
function sessionSealKey(storage: Storage): Buffer {
  return Buffer.from(hkdfSync('sha256', storage.aes.key, Buffer.alloc(0), 'megaferry upload session v1', 32));
}

/**
 * An UploadSession sealed for the file's document: AES-256-GCM under a key derived from the MEGA
 * account's master key, so the file key is never stored in clear and only this account opens it.
 */
function sealSession(storage: Storage, session: UploadSession): Record<string, unknown> {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sessionSealKey(storage), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return {
    v: 1,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

/** The session in a checkpoint; one that does not open (another account, damaged) starts over. */
function unsealSession(storage: Storage, checkpoint: UploadCheckpoint): UploadSession {
  const { v, iv, tag, data } = checkpoint.state as Record<string, unknown>;
  let session: UploadSession;
  try {
    if (v !== 1 || typeof iv !== 'string' || typeof tag !== 'string' || typeof data !== 'string') {
      throw new Error('unknown format');
    }
    const decipher = createDecipheriv('aes-256-gcm', sessionSealKey(storage), Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const json = Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]);
    session = JSON.parse(json.toString('utf8')) as UploadSession;
  } catch (err) {
    throw new UploadUrlRejected(`the saved upload session does not open: ${oneLine(err)}`, { cause: err });
  }
  if (session.next_offset !== checkpoint.next_offset) {
    throw new UploadUrlRejected('the saved upload session does not match its checkpoint');
  }
  return session;
}

function splitPath(path: string): { folders: string[]; name: string } {
  const segments = path.split('/').filter((segment) => segment !== '');
  const name = segments.pop();
  if (!name) throw new FerryError('config', 'destination', `not a file path: "${path}"`);
  return { folders: segments, name };
}

function childFolder(parent: MutableFile, name: string): MutableFile | undefined {
  return parent.children?.find((child) => child.directory && child.name === name);
}

function nodeHandle(node: MutableFile): string {
  if (!node.nodeId)
    throw new FerryError('unexpected', 'destination', 'MEGA returned a node without a handle');
  return node.nodeId;
}

function toDestinationNode(node: MutableFile): DestinationNode {
  const attributes = node.attributes as unknown as Record<string, unknown> | undefined;
  const transferId = attributes?.[TRANSFER_ID_ATTRIBUTE];
  return {
    handle: nodeHandle(node),
    size: node.size ?? 0,
    transfer_id: typeof transferId === 'string' ? transferId : null,
  };
}

/** Moves a node in megajs's local tree (what an action packet would do with keepalive on). */
function reparent(node: MutableFile, target: MutableFile): void {
  const siblings = node.parent?.children;
  const index = siblings ? siblings.indexOf(node) : -1;
  if (siblings && index >= 0) siblings.splice(index, 1);
  node.parent = target;
  if (target.children && !target.children.includes(node)) target.children.push(node);
}

/** The MEGA API error number in a megajs error ("EOVERQUOTA (-17): …", "Server returned error -17 …"). */
function megaErrorCode(err: unknown): number | null {
  const message = err instanceof Error ? err.message : String(err);
  const match =
    /^E[A-Z]+ \((-\d+)\)/.exec(message) ?? /Server returned error (-\d+) while uploading/.exec(message);
  return match?.[1] ? Number(match[1]) : null;
}

function errorKind(err: unknown): ErrorKind {
  const code = megaErrorCode(err);
  if (code !== null) return megaCodeKind(code);
  if (isNetworkError(err)) return 'transient';
  const message = err instanceof Error ? err.message : String(err);
  const status = /returned a (\d{3}) status code/.exec(message);
  if (status?.[1]) {
    return isTransientHttpStatus(Number(status[1])) ? 'transient' : 'unexpected';
  }
  if (/Server returned error|Server Too Busy|Empty response/.test(message)) return 'transient';
  return 'unexpected';
}

/** Classifies a megajs failure (API error number, HTTP status, network) on the destination side. */
export function classifyMegaError(err: unknown, context: string): FerryError {
  if (err instanceof FerryError) return err;
  return new FerryError(errorKind(err), 'destination', `${context}: ${oneLine(err)}`, { cause: err });
}

function classifyLoginError(err: unknown, email: string): FerryError {
  const prefix = `MEGA login failed for ${email}`;
  const code = megaErrorCode(err);
  const message = err instanceof Error ? err.message : '';
  if (code === -9 || message === 'invalid credentials') {
    return new FerryError('auth', 'destination', `${prefix}: wrong email or password`, { cause: err });
  }
  if (code === -26) {
    return new FerryError('auth', 'destination', `${prefix}: a valid second-factor code is required`, {
      cause: err,
    });
  }
  if (code === -16) return new FerryError('auth', 'destination', `${prefix}: the account is blocked`);
  if (isNetworkError(err)) {
    return new FerryError('transient', 'destination', `${prefix}: MEGA is unreachable (${oneLine(err)})`, {
      cause: err,
    });
  }
  return classifyMegaError(err, prefix);
}

/** One line, no secrets: the error's message plus the network cause when there is one. */
function oneLine(err: unknown): string {
  let text = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error && cause.message && !text.includes(cause.message)) text += ` (${cause.message})`;
  return redactSecrets(text.replace(/\s+/g, ' ').trim()).slice(0, 300);
}
