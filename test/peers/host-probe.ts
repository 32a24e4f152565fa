/**
 * Probes for the headless host as an outsider sees it: a request on a raw socket (so a path
 * reaches the host exactly as written; fetch would normalize it), and the state a hostile request
 * must leave alone (the API's documents and batches, the data folder's bytes, MEGA's nodes).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import type { FerryApi } from '../../src/shared/api';
import type { MegaPeer } from './mega';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request on a raw socket; status NaN when nothing came back within `timeoutMs`. */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const port = Number(new URL(url).port);
  const headers: Record<string, string> = { Host: `127.0.0.1:${port}`, Connection: 'close', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  const head =
    `${method} ${path} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  return new Promise((resolveAnswer, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head + (opts.body ?? '')));
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString('utf8');
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = top.split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) parsed[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      const body = rest.join('\r\n\r\n');
      resolveAnswer({
        status: Number(statusLine.split(' ')[1]),
        headers: parsed,
        body: parsed['transfer-encoding'] === 'chunked' ? unchunk(body) : body,
      });
    };
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => (chunks.length ? finish() : reject(err)));
    socket.setTimeout(opts.timeoutMs ?? 5000, () => {
      socket.destroy();
      finish();
    });
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/**
 * Every file of a folder with its size and SHA-256, sorted. The embedded store's database files
 * are left out: every process that runs writes its heartbeat there each second (the Workers
 * panel), so their bytes change while nothing else does; what the store holds is compared
 * document by document instead (ferryState).
 */
export async function folderState(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || /^megaferry\.sqlite(-wal|-shm|-journal)?$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = await readFile(path);
    out.push(`${path} ${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`);
  }
  return out.sort();
}

/**
 * What a refused request must not change: documents, batches, the data folder (but the store's
 * database files, compared by their documents), MEGA's nodes and uploads.
 */
export async function ferryState(api: FerryApi, dataDir: string, mega: MegaPeer): Promise<unknown> {
  const files = await api.listFiles({ limit: 1000 });
  const batches = await api.listBatches();
  let nodes = 0;
  for (const user of mega.state.users.values()) nodes += user.files.length;
  return {
    // Every field of every document, and every batch as its status says (with each file's state).
    files: files.files,
    batches: batches.map(({ summary: _elapsing, ...b }) => b),
    folder: await folderState(dataDir),
    nodes,
    uploads: mega.uploadedBytes(),
  };
}
