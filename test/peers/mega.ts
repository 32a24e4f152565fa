/**
 * The MEGA test peer: mega-mock (the local MEGA API server megajs's own tests use), in-process on
 * 127.0.0.1 and a random port, with the account it ships (`mock@test` / `mock`) and a temporary
 * data folder.
 *
 * A small proxy in front of mega-mock fills two gaps of it and forwards everything else untouched:
 * - mega-mock lacks the move command (`{ a: 'm', n, t }`) behind `node.moveTo(storage.trash)`;
 *   the proxy answers it from mega-mock's own state.
 * - mega-mock answers a chunk POST when the request ends, before its write to disk is done, and
 *   takes a new file's size from the disk when the node is made (`a: 'p'`); so a node could get
 *   a short size. The proxy holds such a `p` until the upload's temporary file has its full size.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { UrlWithParsedQuery } from 'node:url';
import { Storage, type MutableFile } from 'megajs';
import { ctrDecipher, MetaMacStream, splitNodeKey } from '../../src/main/engine/destinations/mega-crypto';
import { megaApiFetch } from '../../src/main/engine/destinations/mega-api';

const require = createRequire(import.meta.url);

/** A node as mega-mock stores it (`state.users.get(uh).files`). */
interface MockNode {
  h: string;
  p: string;
  t: number;
  s?: number;
}

/** The parts of mega-mock's state the peer touches (its `server.state`). */
export interface MegaMockState {
  users: Map<string, { files: MockNode[]; shares: unknown[] }>;
  loginData: Map<string, unknown>;
  uploadStates: Map<string, unknown>;
  shares: Map<string, unknown>;
}

export type UploadErrorSimulator = (
  url: UrlWithParsedQuery,
  req: IncomingMessage,
  res: ServerResponse,
) => Error | undefined;

interface MegaMockOptions {
  dataFolder: string;
  state: Partial<MegaMockState>;
  simulateUploadError?: UploadErrorSimulator;
}

type MegaMockServer = Server & { state: MegaMockState };
const createMegaMock = require('mega-mock') as (options: MegaMockOptions) => MegaMockServer;
const preloadedUsers = require('mega-mock/cli/preloaded-users.json') as Record<string, unknown>;

export interface MegaPeer {
  /** The gateway for megajs, with the trailing slash mega-mock needs. */
  gateway: string;
  email: string;
  password: string;
  state: MegaMockState;
  /** The `a` of every API command the peer received, in order (e.g. 'us' for each login). */
  commands: string[];
  /** Bytes of every chunk POST received so far, repeats included (what crossed the wire). */
  uploadedBytes(): number;
  /** Makes chunk POSTs fail while `fn` returns an Error (null: stop failing). */
  setUploadError(fn: UploadErrorSimulator | null): void;
  /** Holds each chunk POST this long before MEGA sees it (0: none): a slow link, for the tests. */
  setChunkDelay(ms: number): void;
  /**
   * Answers every API command `a` with this MEGA error number instead of acting on it (null:
   * acts again), e.g. `u` with −17: the account is over its storage quota.
   */
  setCommandAnswer(a: string, code: number | null): void;
  stop(): Promise<void>;
}

export async function startMegaPeer(): Promise<MegaPeer> {
  const dataFolder = await mkdtemp(join(tmpdir(), 'megaferry-mega-'));
  const options: MegaMockOptions = { dataFolder, state: {} };
  const mock = createMegaMock(options);
  for (const [uh, data] of Object.entries(preloadedUsers)) mock.state.loginData.set(uh, data);
  const mockPort = await listen(mock);

  const proxyContext: ProxyContext = {
    mockPort,
    state: mock.state,
    dataFolder,
    commands: [],
    uploads: new Map(),
    uploadedBytes: 0,
    chunkDelayMs: 0,
    answers: new Map(),
  };
  const proxy = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/cs') {
      void handleCommands(req, res, url, proxyContext).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    } else {
      // Chunk POSTs go to /upload/<upload id>/<size>/<offset>: remember the size.
      const [kind, id, size, offset] = url.pathname.split('/').slice(1);
      if (kind === 'upload' && id && size) proxyContext.uploads.set(id, Number(size));
      if (kind === 'upload') proxyContext.uploadedBytes += Number(req.headers['content-length'] ?? 0);
      if (kind === 'upload' && id && offset && isRepeatedChunk(mock.state, id, Number(offset), req)) {
        // MEGA takes a chunk sent again (a resumed upload repeats the chunks after its last
        // checkpoint); mega-mock would record the range twice and never see the upload complete.
        // The bytes are the same (same key, nonce and offset), so the repeat is acknowledged here.
        req.resume();
        req.on('end', () => res.end(''));
        return;
      }
      const delay = kind === 'upload' ? proxyContext.chunkDelayMs : 0;
      if (delay > 0) setTimeout(() => forward(req, res, mockPort, null), delay);
      else forward(req, res, mockPort, null);
    }
  });
  const proxyPort = await listen(proxy);

  return {
    gateway: `http://127.0.0.1:${proxyPort}/`,
    email: 'mock@test',
    password: 'mock',
    state: mock.state,
    commands: proxyContext.commands,
    uploadedBytes: () => proxyContext.uploadedBytes,
    setUploadError(fn) {
      options.simulateUploadError = fn ?? undefined;
    },
    setChunkDelay(ms) {
      proxyContext.chunkDelayMs = ms;
    },
    setCommandAnswer(a, code) {
      if (code === null) proxyContext.answers.delete(a);
      else proxyContext.answers.set(a, code);
    },
    async stop() {
      await Promise.all([close(proxy), close(mock)]);
      await rm(dataFolder, { recursive: true, force: true });
    },
  };
}

/** True when mega-mock already holds every byte of this chunk for this upload. */
function isRepeatedChunk(state: MegaMockState, id: string, offset: number, req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  const ranges = state.uploadStates.get(id);
  if (!Array.isArray(ranges) || length === 0) return false;
  return (ranges as [number, number][]).some(([start, end]) => start <= offset && offset + length <= end);
}

interface ProxyContext {
  mockPort: number;
  chunkDelayMs: number;
  state: MegaMockState;
  dataFolder: string;
  /** The `a` of every command seen. */
  commands: string[];
  /** Upload id → announced size, from the chunk URLs. */
  uploads: Map<string, number>;
  /** Bytes of every chunk POST received, repeats included. */
  uploadedBytes: number;
  /** Commands answered with an error number instead of being acted on. */
  answers: Map<string, number>;
}

/**
 * POST /cs carries an array of commands. Move commands are applied here to mega-mock's state
 * (answer 0, as MEGA does); the others go to mega-mock in their order and the answers are merged
 * back in place. A request without a move is forwarded byte for byte.
 */
async function handleCommands(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: ProxyContext,
): Promise<void> {
  const raw = await readAll(req);
  let commands: unknown;
  try {
    commands = JSON.parse(raw.toString('utf8'));
  } catch {
    commands = null;
  }
  if (!Array.isArray(commands)) {
    forward(req, res, ctx.mockPort, raw);
    return;
  }
  for (const command of commands) {
    ctx.commands.push(String((command as { a?: unknown } | null)?.a));
    await waitForUploadedBytes(command, ctx);
  }
  const answered = (command: unknown) => ctx.answers.get(String((command as { a?: unknown } | null)?.a));
  const local = (command: unknown) => isMove(command) || answered(command) !== undefined;
  if (!commands.some(local)) {
    forward(req, res, ctx.mockPort, raw);
    return;
  }
  const others = commands.filter((command) => !local(command));
  const forwarded = others.length > 0 ? await post(url, req, ctx.mockPort, JSON.stringify(others)) : [];
  const answers = Array.isArray(forwarded) ? [...(forwarded as unknown[])] : others.map(() => -1);
  const results = commands.map(
    (command) => answered(command) ?? (isMove(command) ? move(ctx.state, url, command) : answers.shift()),
  );
  const body = JSON.stringify(results);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** For `{ a: 'p', n: [{ h: <upload id>, t: 0 }] }`: waits (≤ 2 s) until mega-mock wrote every byte. */
async function waitForUploadedBytes(command: unknown, ctx: ProxyContext): Promise<void> {
  const { a, n } = (command ?? {}) as { a?: unknown; n?: unknown };
  if (a !== 'p' || !Array.isArray(n)) return;
  for (const node of n as { h?: unknown; t?: unknown }[]) {
    const size = typeof node.h === 'string' ? ctx.uploads.get(node.h) : undefined;
    if (size === undefined || node.t !== 0) continue;
    const temp = join(ctx.dataFolder, `temp_${node.h as string}`);
    for (let waited = 0; waited < 2000; waited += 5) {
      const written = await stat(temp).then(
        (s) => s.size,
        () => -1,
      );
      if (written >= size || written < 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

interface MoveCommand {
  a: 'm';
  n: string;
  t: string;
}

function isMove(command: unknown): command is MoveCommand {
  return typeof command === 'object' && command !== null && (command as { a?: unknown }).a === 'm';
}

/** `{ a: 'm', n, t }`: sets node n's parent to t. The user comes from the sid, as mega-mock does. */
function move(state: MegaMockState, url: URL, command: MoveCommand): number {
  const sid = url.searchParams.get('sid');
  if (!sid || !sid.includes('_megamock')) return -15; // ESID
  const uh = sid.replace(/_megamock.*$/, '');
  const node = state.users.get(uh)?.files.find((file) => file.h === command.n);
  if (!node) return -9; // ENOENT
  node.p = command.t;
  return 0;
}

/** Forwards a request unchanged (Host header included, so mega-mock's URLs point at the proxy). */
function forward(req: IncomingMessage, res: ServerResponse, port: number, body: Buffer | null): void {
  const upstream = http.request(
    { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  if (body) upstream.end(body);
  else req.pipe(upstream);
}

function post(url: URL, req: IncomingMessage, port: number, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, 'content-length': String(Buffer.byteLength(body)) };
    const upstream = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: url.pathname + url.search, headers },
      (answer) => {
        readAll(answer)
          .then((data) => resolve(JSON.parse(data.toString('utf8')) as unknown))
          .catch(reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * The API transport for the tests' own megajs sessions: MegaFerry's (node:http, each command tried
 * again after a reset). With fetch's pooled sockets a session idle for a few seconds on a loaded
 * machine could send a command on a socket mega-mock had just closed and fail with ECONNRESET.
 * Only for sessions that read the tree and send commands: megajs's own download reads fetch's web
 * stream body, which this transport's answers do not have.
 */
export function sessionFetch(): typeof fetch {
  return megaApiFetch({
    policy: { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
  }) as unknown as typeof fetch;
}

/** A fresh, separate megajs session on the peer (not the one under test). */
async function openSession(peer: MegaPeer): Promise<Storage> {
  return new Storage({
    email: peer.email,
    password: peer.password,
    gateway: peer.gateway,
    keepalive: false,
    fetch: sessionFetch(),
  }).ready;
}

function folderAt(storage: Storage, folders: string[]): MutableFile | undefined {
  let folder: MutableFile | undefined = storage.root;
  for (const name of folders) {
    folder = folder?.children?.find((child) => child.directory && child.name === name);
  }
  return folder;
}

function splitPath(path: string): { folders: string[]; name: string } {
  const segments = path.split('/').filter((segment) => segment !== '');
  return { folders: segments.slice(0, -1), name: segments[segments.length - 1] ?? '' };
}

/**
 * A GET on a connection of its own (no pooled socket the server may have closed meanwhile, which
 * fetch would reuse and fail with ECONNRESET on a loaded machine).
 */
function freshGet(url: string): Promise<IncomingMessage> {
  return new Promise((resolveGet, reject) => {
    http.get(url, { agent: false }, resolveGet).on('error', reject);
  });
}

/**
 * Downloads the file at `path` in a separate session and returns its SHA-256 and size, after
 * checking its MAC against MEGA's reference. Not with megajs's `download()`: megajs 1.3.10's MAC
 * check is wrong for the empty file and for sizes whose length rounded up to 16 ends on a chunk
 * boundary (it refuses correct files there). Instead the node key comes from the session's tree
 * (decrypted with the account's master key), the ciphertext from the URL the API's `g` command
 * gives, and it is decrypted here with AES-128-CTR; its meta-MAC is computed by mega-crypto's
 * MetaMacStream (checked against every known-answer vector in test/mega-crypto.test.ts) and must
 * equal the one in the node key. Fails when there is not exactly one file at that path.
 */
export async function downloadSha256(
  peer: MegaPeer,
  path: string,
): Promise<{ sha256: string; size: number }> {
  const storage = await openSession(peer);
  try {
    return await downloadIn(storage, path);
  } finally {
    await storage.close().catch(() => undefined);
  }
}

/**
 * downloadSha256 for many paths in one session (one login): each path's SHA-256 and size, or
 * the reason it could not be checked (not exactly one file there, a MAC mismatch…).
 */
export async function downloadAllSha256(
  peer: MegaPeer,
  paths: string[],
): Promise<Map<string, { sha256: string; size: number } | { error: string }>> {
  const storage = await openSession(peer);
  const out = new Map<string, { sha256: string; size: number } | { error: string }>();
  try {
    for (const path of paths) {
      out.set(
        path,
        await downloadIn(storage, path).catch((err: unknown) => ({
          error: err instanceof Error ? err.message : String(err),
        })),
      );
    }
    return out;
  } finally {
    await storage.close().catch(() => undefined);
  }
}

async function downloadIn(storage: Storage, path: string): Promise<{ sha256: string; size: number }> {
  const { folders, name } = splitPath(path);
  const nodes = (folderAt(storage, folders)?.children ?? []).filter(
    (child) => !child.directory && child.name === name,
  );
  if (nodes.length !== 1) throw new Error(`expected one file at ${path}, found ${nodes.length}`);
  const node = nodes[0] as MutableFile;
  if (!node.key || node.key.length !== 32) throw new Error(`the node at ${path} has no file key`);
  const { key, nonce, metaMac } = splitNodeKey(Buffer.from(node.key));
  const answer = (await storage.api.request({
    a: 'g',
    g: 1,
    n: node.nodeId,
  } as unknown as JSON)) as unknown as {
    g?: string;
  };
  if (typeof answer?.g !== 'string') throw new Error(`MEGA gave no download URL for ${path}`);
  const response = await freshGet(answer.g);
  if (response.statusCode !== 200) throw new Error(`download of ${path}: HTTP ${response.statusCode}`);
  const decipher = ctrDecipher(key, nonce);
  const mac = new MetaMacStream(key, nonce);
  const hash = createHash('sha256');
  const take = (plain: Buffer): void => {
    hash.update(plain);
    mac.update(plain);
  };
  for await (const piece of response) take(decipher.update(piece as Buffer));
  take(decipher.final());
  const got = mac.metaMac();
  if (!got.equals(metaMac)) {
    throw new Error(
      `MAC mismatch at ${path}: the node key holds ${metaMac.toString('hex')}, the bytes give ${got.toString('hex')}`,
    );
  }
  return { sha256: hash.digest('hex'), size: mac.size };
}

export interface ListedNode {
  name: string;
  size: number;
  handle: string;
  inTrash: boolean;
}

/**
 * The file nodes at `path` as a fresh session sees them: a folder path ("/A/B") lists the files
 * in it, a file path ("/A/B/c.bin") lists the files of that name. `{ trash: true }` lists the
 * Rubbish Bin instead (path then filters by name when it names a file).
 */
export async function listPath(
  peer: MegaPeer,
  path: string,
  opts: { trash?: boolean } = {},
): Promise<ListedNode[]> {
  const storage = await openSession(peer);
  try {
    const toListed = (node: MutableFile): ListedNode => ({
      name: node.name ?? '',
      size: node.size ?? 0,
      handle: node.nodeId ?? '',
      inTrash: node.parent === storage.trash,
    });
    const files = (folder: MutableFile | undefined): MutableFile[] =>
      (folder?.children ?? []).filter((child) => !child.directory);
    if (opts.trash) {
      const name = splitPath(path).name;
      return files(storage.trash)
        .filter((node) => !name || node.name === name)
        .map(toListed);
    }
    const segments = path.split('/').filter((segment) => segment !== '');
    const asFolder = folderAt(storage, segments);
    if (asFolder) return files(asFolder).map(toListed);
    const { folders, name } = splitPath(path);
    return files(folderAt(storage, folders))
      .filter((node) => node.name === name)
      .map(toListed);
  } finally {
    await storage.close().catch(() => undefined);
  }
}

/** The folders named `name` directly in the folder at `parentPath` ("/" for the drive root). */
export async function countFolders(peer: MegaPeer, parentPath: string, name: string): Promise<number> {
  const storage = await openSession(peer);
  try {
    const parent = folderAt(
      storage,
      parentPath.split('/').filter((segment) => segment !== ''),
    );
    return (parent?.children ?? []).filter((child) => child.directory && child.name === name).length;
  } finally {
    await storage.close().catch(() => undefined);
  }
}
