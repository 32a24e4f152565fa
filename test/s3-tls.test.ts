/**
 * S3 over TLS, as every real S3 endpoint is: the GetObject body is read by MegaFerry's own HTTP/1.1
 * client (src/main/platform/http1.ts) from a TLS socket, which the other tests (plain HTTP peers)
 * never exercise.
 *
 * A TLS front (node:tls, the certificate in test/fixtures/tls, made for IP 127.0.0.1) passes each
 * connection to s3rver. The CLI runs as a real process told to trust that certificate with Node's
 * own NODE_EXTRA_CA_CERTS; every object of 0 B to 9 MiB + 3 B must arrive in MEGA byte-exact (read
 * back from mega-mock and compared by SHA-256) and every byte must have crossed the TLS front. The
 * client must also refuse a server whose certificate no one trusts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadAllSha256, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';
import { cli } from './peers/cli-process';
import { MiB, sha256, testBytes } from './peers/fixtures';
import { Http1Client } from '../src/main/platform/http1';
import type { BatchStatus } from '../src/shared/contract';

const FIXTURES = resolve(__dirname, 'fixtures', 'tls');
const CERT = join(FIXTURES, 'cert.pem');
const BUCKET = 'tls-bucket';
const SIZES = [0, 1, 300_000, 9 * MiB + 3];

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let front: tls.Server;
let frontUrl: string;
/** Bytes the TLS front passed from s3rver to its clients, decrypted. */
let bytesOut = 0;
let connections = 0;

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-tls-'));
  for (const size of SIZES) await s3.put(BUCKET, `tls/${size}.bin`, testBytes(size, size + 1));
  const s3Port = Number(new URL(s3.endpoint).port);
  const [key, cert] = await Promise.all([readFile(join(FIXTURES, 'key.pem')), readFile(CERT)]);
  front = tls.createServer({ key, cert }, (secure) => {
    connections++;
    const plain = net.connect({ host: '127.0.0.1', port: s3Port });
    plain.on('data', (d: Buffer) => (bytesOut += d.length));
    secure.pipe(plain).pipe(secure);
    const close = () => {
      secure.destroy();
      plain.destroy();
    };
    secure.on('error', close);
    plain.on('error', close);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => front?.close(r));
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('S3 over TLS', () => {
  it('moves every object byte-exact through a TLS endpoint the process trusts', async () => {
    const env = {
      ...ferryEnv({ s3, mega }, join(work, 'data')),
      AWS_ENDPOINT_URL_S3: frontUrl,
      NODE_EXTRA_CA_CERTS: CERT,
    };
    const r = await cli(
      ['transfer', '--bucket', BUCKET, '--prefix', 'tls/', '--target', '/Tls', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as BatchStatus;
    expect(status.files.map((f) => f.status)).toEqual(SIZES.map(() => 'done'));

    const got = await downloadAllSha256(
      mega,
      SIZES.map((size) => `/Tls/tls/${size}.bin`),
    );
    for (const size of SIZES) {
      expect(got.get(`/Tls/tls/${size}.bin`), `${size} B`).toEqual({
        sha256: sha256(testBytes(size, size + 1)),
        size,
      });
    }
    expect(connections).toBeGreaterThan(0);
    // Every object's bytes came through the TLS front (besides the listing and the heads).
    expect(bytesOut).toBeGreaterThan(SIZES.reduce((a, b) => a + b, 0));
  }, 180_000);

  it('refuses a server whose certificate is not trusted', async () => {
    const client = new Http1Client({ pieceBytes: 64 * 1024, silentMs: 10_000 });
    const port = (front.address() as AddressInfo).port;
    const head = Buffer.from(`GET /${BUCKET}/tls/1.bin HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
    try {
      await expect(client.stream({ secure: true, host: '127.0.0.1', port }, head)).rejects.toThrow(
        /self[- ]signed certificate/i,
      );
    } finally {
      client.destroy();
    }
  });
});
