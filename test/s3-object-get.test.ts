/**
 * GetObject's answers read from the socket (src/main/engine/sources/s3-object-get.ts), against a
 * local HTTP server that answers as S3 would and in the ways S3 should not: bytes exact across
 * pieces, the connection kept for the next GET, a pooled connection the server closed replaced at
 * once, answers without a length handed to the SDK's handler, a cut answer and an abort failing
 * the body as node:http would. The S3 source's own tests (s3rver, and the fault proxy's cut and
 * reset answers in test/fault-retry.test.ts) run through it too.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ObjectGetHandler } from '../src/main/engine/sources/s3-object-get';
import { testBytes } from './peers/fixtures';

type Handler = ConstructorParameters<typeof ObjectGetHandler>[0];
type Request = Parameters<ObjectGetHandler['handle']>[0];

const BIG = testBytes(1024 * 1024 + 7, 3);

let server: http.Server;
let port: number;
let connections = 0;
const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/b/big') {
      res.setHeader('content-length', BIG.length);
      res.setHeader('x-amz-meta-a', ['1', '2']);
      res.end(BIG);
    } else if (path === '/b/empty') {
      res.setHeader('content-length', 0);
      res.end();
    } else if (path === '/b/chunked') {
      res.write('part one ');
      res.end('part two');
    } else if (path === '/b/missing') {
      const xml = '<Error><Code>NoSuchKey</Code></Error>';
      res.writeHead(404, { 'content-type': 'application/xml', 'content-length': xml.length });
      res.end(xml);
    } else if (path === '/b/cut') {
      res.writeHead(200, { 'content-length': BIG.length });
      res.write(BIG.subarray(0, 300 * 1024), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (path === '/b/slow') {
      res.writeHead(200, { 'content-length': BIG.length });
      res.write(BIG.subarray(0, 1000));
    } else {
      res.writeHead(400).end();
    }
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  seen.length = 0;
  connections = 0;
  server.closeAllConnections();
});

/** A request as the SDK hands it to its handler, signed. */
function getObject(path: string, at: number = port, query: Record<string, string> = { 'x-id': 'GetObject' }) {
  return {
    method: 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: at,
    path,
    query,
    headers: {
      host: `127.0.0.1:${at}`,
      'x-amz-date': '20261126T120000Z',
      authorization: 'AWS4-HMAC-SHA256 Credential=x/20261126/us-east-1/s3/aws4_request, Signature=00',
    },
  } as unknown as Request;
}

/** The SDK's own handler, as a stand-in that records what it is given. */
function innerHandler() {
  const calls: Request[] = [];
  const inner = {
    handle: (request: Request) => {
      calls.push(request);
      return Promise.resolve({
        response: { statusCode: 200, reason: 'OK', headers: {}, body: Readable.from([Buffer.from('inner')]) },
      });
    },
    destroy: () => undefined,
  };
  return { inner: inner as unknown as Handler, calls };
}

async function bodyOf(output: Awaited<ReturnType<ObjectGetHandler['handle']>>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of output.response.body as Readable) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('GetObject read from the socket', () => {
  it('reads an answer whole, signed as the SDK made it, and keeps the connection for the next', async () => {
    const { inner, calls } = innerHandler();
    const handler = new ObjectGetHandler(inner);
    try {
      for (let i = 0; i < 3; i++) {
        const out = await handler.handle(getObject('/b/big'));
        expect(out.response.statusCode).toBe(200);
        expect(out.response.headers['content-length']).toBe(String(BIG.length));
        expect(out.response.headers['x-amz-meta-a']).toBe('1, 2');
        expect((await bodyOf(out)).equals(BIG)).toBe(true);
      }
      const empty = await handler.handle(getObject('/b/empty'));
      expect((await bodyOf(empty)).length).toBe(0);
      expect(calls).toHaveLength(0);
      expect(connections).toBe(1);
      expect(seen[0]?.url).toBe('/b/big?x-id=GetObject');
      expect(seen[0]?.headers['x-amz-date']).toBe('20261126T120000Z');
      expect(seen[0]?.headers.authorization).toContain('Signature=00');
      expect(seen[0]?.headers.host).toBe(`127.0.0.1:${port}`);
    } finally {
      handler.destroy();
    }
  });

  it('hands every other request, and an answer without a length, to the SDK handler', async () => {
    const { inner, calls } = innerHandler();
    const handler = new ObjectGetHandler(inner);
    try {
      const list = await handler.handle(getObject('/b', port, { 'list-type': '2' }));
      expect((await bodyOf(list)).toString()).toBe('inner');
      const chunked = await handler.handle(getObject('/b/chunked'));
      expect((await bodyOf(chunked)).toString()).toBe('inner');
      expect(calls.map((c) => c.path)).toEqual(['/b', '/b/chunked']);
      // The chunked answer was asked for here first, then given up for the SDK's way.
      expect(seen.map((s) => s.url)).toEqual(['/b/chunked?x-id=GetObject']);
    } finally {
      handler.destroy();
    }
  });

  it('gives an error answer with its body, for the SDK to read', async () => {
    const handler = new ObjectGetHandler(innerHandler().inner);
    try {
      const out = await handler.handle(getObject('/b/missing'));
      expect(out.response.statusCode).toBe(404);
      expect((await bodyOf(out)).toString()).toContain('NoSuchKey');
    } finally {
      handler.destroy();
    }
  });

  it('fails the body of a cut answer with ECONNRESET, as node:http would', async () => {
    const handler = new ObjectGetHandler(innerHandler().inner);
    try {
      const out = await handler.handle(getObject('/b/cut'));
      await expect(bodyOf(out)).rejects.toMatchObject({ code: 'ECONNRESET' });
    } finally {
      handler.destroy();
    }
  });

  it('ends the body with an AbortError when the request is aborted', async () => {
    const handler = new ObjectGetHandler(innerHandler().inner);
    try {
      const abort = new AbortController();
      const out = await handler.handle(getObject('/b/slow'), { abortSignal: abort.signal } as never);
      const body = bodyOf(out);
      setTimeout(() => abort.abort(), 50);
      await expect(body).rejects.toMatchObject({ name: 'AbortError' });
      const before = new AbortController();
      before.abort();
      await expect(
        handler.handle(getObject('/b/big'), { abortSignal: before.signal } as never),
      ).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      handler.destroy();
    }
  });

  it('replaces at once a pooled connection the server closes without answering', async () => {
    // A server that answers the first request of each connection and closes at the second.
    let accepted = 0;
    const raw = net.createServer((socket) => {
      accepted++;
      let requests = 0;
      socket.on('data', (data) => {
        if (!data.includes('\r\n\r\n')) return;
        requests++;
        if (requests > 1) socket.destroy();
        else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const at = (raw.address() as AddressInfo).port;
    const handler = new ObjectGetHandler(innerHandler().inner);
    try {
      for (let i = 0; i < 3; i++) {
        expect((await bodyOf(await handler.handle(getObject('/b/k', at)))).toString()).toBe('hello');
      }
      expect(accepted).toBe(3);
    } finally {
      handler.destroy();
      await new Promise((r) => raw.close(r));
    }
  });

  it('fails with ECONNREFUSED where nothing listens', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const at = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const handler = new ObjectGetHandler(innerHandler().inner);
    try {
      await expect(handler.handle(getObject('/b/big', at))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      handler.destroy();
    }
  });
});
