/**
 * The MEGA destination: megajs's Storage, logged in once per instance, streaming uploads (never
 * buffering a whole file), folders created on demand and shared between concurrent uploads, and
 * every failure classified once into a FerryError on the destination side.
 */
import { Storage, type MutableFile } from 'megajs';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { CancelledError, FerryError, redactSecrets, type ErrorKind } from '../errors';
import type { Destination, DestinationNode, UploadCheckpoint, UploadRequest } from '../ports';
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
  /** Retries of one failing chunk POST, with exponential backoff from `baseDelayMs`. */
  chunkRetries?: { max: number; baseDelayMs: number };
  /** Chunk POSTs at once per file (default 4). */
  connections?: number;
}

const DEFAULT_CHUNK_RETRIES = { max: 4, baseDelayMs: 500 };

/** The node attribute holding the transfer_id a node was uploaded with. */
const TRANSFER_ID_ATTRIBUTE = 'mfid';

const DEFAULT_CONNECTIONS = 4;

/** The MEGA web app; `/fm/<folder handle>` opens a folder of the logged-in account. */
const MEGA_WEB_APP = 'https://mega.nz';

export class MegaDestination implements Destination {
  private readonly config: MegaConfig;
  private readonly retries: { max: number; baseDelayMs: number };
  private login: Promise<Storage> | null = null;
  /** Folder path ("A/B") → the folder, so one new folder is created once however many ask. */
  private readonly folders = new Map<string, Promise<MutableFile>>();

  constructor(config: MegaConfig) {
    this.config = config;
    this.retries = config.chunkRetries ?? DEFAULT_CHUNK_RETRIES;
  }

  async connect(): Promise<void> {
    await this.storage();
  }

  async find(path: string): Promise<DestinationNode[]> {
    const storage = await this.storage();
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
      const storage = new Storage({
        email,
        password,
        secondFactorCode,
        gateway,
        // mega-mock has no /sc (action packet) endpoint; this process makes every change itself.
        keepalive: false,
        autoload: true,
      });
      return await storage.ready;
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
        const existing = childFolder(parent, name);
        if (existing) return existing;
        try {
          return await parent.mkdir({ name });
        } catch (err) {
          throw classifyMegaError(err, `MEGA could not create the folder /${key}`);
        }
      })();
      this.folders.set(key, pending);
      pending.catch(() => {
        if (this.folders.get(key) === pending) this.folders.delete(key);
      });
    }
    return pending;
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
        retries: this.retries,
      });
    } catch (err) {
      if (err instanceof FerryError) throw err;
      throw classifyMegaError(err, `MEGA upload of ${req.path} failed`);
    }
    if (signal.aborted) throw new CancelledError();

    const attributes = packAttributes({ [TRANSFER_ID_ATTRIBUTE]: transferId, n: name });
    const request = {
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
    // The node is made even when the user cancels meanwhile; then it goes to the Rubbish Bin.
    const made = storage.api.request(request as unknown as JSON).then((response) => {
      const f = (response as unknown as { f?: unknown[] }).f?.[0];
      if (!f) throw new Error('MEGA made no node (Empty response)');
      const node = (storage as unknown as { _importFile(f: unknown): MutableFile })._importFile(f);
      (storage as unknown as NodeJS.EventEmitter).emit('add', node);
      return node;
    });
    let node: MutableFile;
    try {
      node = await abortable(made, signal);
    } catch (err) {
      if (err instanceof CancelledError) {
        void made
          .then((late) => late.moveTo(storage.trash).then(() => reparent(late, storage.trash)))
          .catch(() => undefined);
        throw err;
      }
      if (session) {
        // The token of a resumed, finished upload is no longer good: start over.
        throw new UploadUrlRejected(`MEGA refused to make the node of a resumed upload: ${oneLine(err)}`, {
          cause: err,
        });
      }
      throw classifyMegaError(err, `MEGA upload of ${req.path} failed`);
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
          res.statusCode !== undefined && res.statusCode >= 500 ? 'transient' : 'unexpected',
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

/** `promise`, or CancelledError as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
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

const QUOTA_CODES = new Set([-17, -24, -401]);
const AUTH_CODES = new Set([-11, -15, -16, -26]);
const TRANSIENT_CODES = new Set([-3, -4, -5, -6, -8, -18, -19]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The MEGA API error number in a megajs error ("EOVERQUOTA (-17): …", "Server returned error -17 …"). */
function megaErrorCode(err: unknown): number | null {
  const message = err instanceof Error ? err.message : String(err);
  const match =
    /^E[A-Z]+ \((-\d+)\)/.exec(message) ?? /Server returned error (-\d+) while uploading/.exec(message);
  return match?.[1] ? Number(match[1]) : null;
}

function isNetworkError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (current.message === 'fetch failed' || current.message === 'terminated') return true;
    current = current.cause;
  }
  return false;
}

function errorKind(err: unknown): ErrorKind {
  const code = megaErrorCode(err);
  if (code !== null) {
    if (QUOTA_CODES.has(code)) return 'quota';
    if (AUTH_CODES.has(code)) return 'auth';
    if (TRANSIENT_CODES.has(code)) return 'transient';
    return 'unexpected';
  }
  if (isNetworkError(err)) return 'transient';
  const message = err instanceof Error ? err.message : String(err);
  const status = /returned a (\d{3}) status code/.exec(message);
  if (status?.[1]) {
    const http = Number(status[1]);
    return http >= 500 || http === 408 || http === 429 ? 'transient' : 'unexpected';
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
