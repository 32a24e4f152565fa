/**
 * The HTTP/1.1 client of the transfer's bytes (src/main/platform/http1.ts) as the chunk POSTs use
 * it (`collect`); its streamed side is tested through GetObject (test/s3-object-get.test.ts), and
 * both run in the fault tests (test/fault-retry.test.ts: resets, cut and lost answers, 503s).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Http1Client, type Http1Target } from '../src/main/platform/http1';
import { testBytes } from './peers/fixtures';

let server: http.Server;
let target: Http1Target;
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/early') {
      // Answers at once, without reading the body.
      res.writeHead(413, { 'content-length': 2 }).end('no');
      return;
    }
    let received = 0;
    req.on('data', (d: Buffer) => (received += d.length));
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write(`got ${received}`);
        res.end(' bytes');
      } else {
        res.end(String(received));
      }
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = { secure: false, host: '127.0.0.1', port: (server.address() as AddressInfo).port };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  connections = 0;
  server.closeAllConnections();
});

function post(path: string, length: number): Buffer {
  return Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`, 'latin1');
}

const client = () => new Http1Client({ pieceBytes: 64 * 1024, silentMs: 5_000 });

describe('HTTP/1.1 client: collected answers', () => {
  it('POSTs bodies on one kept-alive socket and gathers each answer', async () => {
    const c = client();
    try {
      for (const size of [0, 1, 1024 * 1024 + 3]) {
        const answer = await c.collect(target, post('/x', size), testBytes(size, size));
        expect(answer.statusCode).toBe(200);
        expect(answer.body.toString()).toBe(String(size));
      }
      expect(connections).toBe(1);
    } finally {
      c.destroy();
    }
  });

  it('decodes a chunked answer', async () => {
    const c = client();
    try {
      const answer = await c.collect(target, post('/chunked', 5), Buffer.from('hello'));
      expect(answer.headers['transfer-encoding']).toBe('chunked');
      expect(answer.body.toString()).toBe('got 5 bytes');
    } finally {
      c.destroy();
    }
  });

  it('does not keep a socket whose answer came before the whole body went', async () => {
    const c = client();
    try {
      const big = testBytes(16 * 1024 * 1024, 9);
      const early = await c.collect(target, post('/early', big.length), big);
      expect(early.statusCode).toBe(413);
      const next = await c.collect(target, post('/x', 3), Buffer.from('abc'));
      expect(next.body.toString()).toBe('3');
      expect(connections).toBe(2);
    } finally {
      c.destroy();
    }
  });

  it('a kept socket the server closed: a POST fails as node:http would, an idempotent one goes again', async () => {
    let accepted = 0;
    const raw = net.createServer((socket) => {
      accepted++;
      let requests = 0;
      socket.on('data', (data) => {
        if (!data.includes('\r\n\r\n')) return;
        requests++;
        if (requests > 1) socket.destroy();
        else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const at: Http1Target = { secure: false, host: '127.0.0.1', port: (raw.address() as AddressInfo).port };
    const c = client();
    try {
      expect((await c.collect(at, post('/a', 0), null)).body.toString()).toBe('ok');
      await expect(c.collect(at, post('/a', 0), null)).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect((await c.collect(at, post('/a', 0), null)).body.toString()).toBe('ok');
      expect((await c.collect(at, post('/a', 0), null, undefined, true)).body.toString()).toBe('ok');
      expect(accepted).toBe(3);
    } finally {
      c.destroy();
      await new Promise((r) => raw.close(r));
    }
  });

  it('fails with ETIMEDOUT when the server stays silent, and with an AbortError on abort', async () => {
    const silent = net.createServer((socket) => socket.resume()); // reads what comes, answers nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const at: Http1Target = {
      secure: false,
      host: '127.0.0.1',
      port: (silent.address() as AddressInfo).port,
    };
    const c = new Http1Client({ pieceBytes: 1024, silentMs: 200 });
    try {
      await expect(c.collect(at, post('/a', 0), null)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 50);
      await expect(c.collect(at, post('/a', 0), null, abort.signal)).rejects.toMatchObject({
        name: 'AbortError',
      });
    } finally {
      c.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
