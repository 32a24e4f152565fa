/**
 * GetObject's answer read from the socket straight into the buffers its body hands on.
 *
 * The AWS SDK sends every request through node:http, whose client reads each socket read into a
 * buffer of its own, copies each piece of a body again (the HTTP parser's copy), and hands it on in
 * pieces of at most 64 KiB: for a large object, two buffers of garbage per byte and a stream event
 * per 64 KiB. Measured here over 1 GiB: the S3 source 1.40 CPU-s, a plain node:http GET 1.31, the
 * same GET read from the socket into one buffer 0.41 (`npm run bench:parts`).
 *
 * This request handler wraps the SDK's own. GetObject (a GET whose query names it, `x-id`) is sent
 * by platform/http1.ts, signed by the SDK as any request (the handler gets it ready to send), over
 * a keep-alive socket of its own; the body (it must have a Content-Length, as S3's always does) is
 * read into fresh 128 KiB buffers, each handed on whole once full (whoever reads the body may keep
 * a piece). Every other request, and an answer without a length (chunked, or until the close),
 * goes the SDK's way; the GET is then sent again there, as it is idempotent.
 *
 * Failures look like node:http's (ECONNRESET for a reset or cut, ETIMEDOUT for a silent socket,
 * AbortError), so the SDK's retries and the source's reopening treat them as before.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Http1Client, type Http1Target } from '../../platform/http1';

/** The SDK's request handler, and what it takes and gives (as the S3 client's config types them). */
type SdkHandler = S3Client['config']['requestHandler'];
type SdkRequest = Parameters<SdkHandler['handle']>[0];
type SdkOptions = Parameters<SdkHandler['handle']>[1];
type SdkOutput = Awaited<ReturnType<SdkHandler['handle']>>;
/** What the SDK's node:http handler has besides `handle` (@smithy/node-http-handler). */
interface HandlerExtras {
  updateHttpClientConfig?(key: unknown, value: unknown): void;
  httpHandlerConfigs?(): object;
}

/**
 * The body goes on in buffers of this size. Measured on a whole 1 GiB transfer: 256 KiB cost less
 * CPU still but ~3 MB more peak RSS (more bytes waiting in the streams between S3 and MEGA).
 */
const PIECE_BYTES = 128 * 1024;
/** A socket silent this long while an answer is due fails the read (as a chunk POST's). */
const SILENT_MS = 120_000;

/** GetObject, as the SDK serializes it: `GET /{Key+}?x-id=GetObject`. */
function isGetObject(request: SdkRequest): boolean {
  const id = request.query?.['x-id'];
  return request.method === 'GET' && (id === 'GetObject' || (Array.isArray(id) && id.includes('GetObject')));
}

export class ObjectGetHandler {
  private readonly client = new Http1Client({ pieceBytes: PIECE_BYTES, silentMs: SILENT_MS });

  constructor(private readonly inner: SdkHandler) {}

  async handle(request: SdkRequest, options?: SdkOptions): Promise<SdkOutput> {
    const target = isGetObject(request) ? targetOf(request) : null;
    const head = target ? requestHead(request, target) : null;
    if (!target || !head) return this.inner.handle(request, options);
    const signal = (options as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
    const answer = await this.client.stream(target, head, signal);
    // An answer without a length: the SDK's own way, from the start (a GET may be sent again).
    if (answer === 'unsupported') return this.inner.handle(request, options);
    return { response: answer as { statusCode: number; headers: object; body: Readable } } as SdkOutput;
  }

  updateHttpClientConfig(key: unknown, value: unknown): void {
    (this.inner as HandlerExtras).updateHttpClientConfig?.(key, value);
  }

  httpHandlerConfigs(): object {
    return (this.inner as HandlerExtras).httpHandlerConfigs?.() ?? {};
  }

  destroy(): void {
    this.client.destroy();
    this.inner.destroy?.();
  }
}

function targetOf(request: SdkRequest): Http1Target | null {
  const secure = request.protocol === 'https:';
  if (!secure && request.protocol !== 'http:') return null;
  if (request.username != null || request.password != null || request.body != null) return null;
  let host = request.hostname ?? '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!host) return null;
  return { secure, host, port: request.port ?? (secure ? 443 : 80) };
}

/** The request's head as the SDK made and signed it; null when it holds what HTTP cannot carry. */
function requestHead(request: SdkRequest, target: Http1Target): Buffer | null {
  let path = request.path || '/';
  const query = request.query ? buildQueryString(request.query) : '';
  if (query) path += `?${query}`;
  const lines = [`GET ${path} HTTP/1.1`];
  let host = false;
  for (const [name, value] of Object.entries(request.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding') continue;
    if (lower === 'host') host = true;
    lines.push(`${name}: ${value}`);
  }
  if (!host) {
    const defaultPort = target.port === (target.secure ? 443 : 80);
    const name = target.host.includes(':') ? `[${target.host}]` : target.host;
    lines.push(`host: ${defaultPort ? name : `${name}:${target.port}`}`);
  }
  lines.push('connection: keep-alive', '', '');
  const text = lines.join('\r\n');
  // No line breaks inside a name or a value, and nothing outside Latin-1 (HTTP/1.1's bytes).
  if (/[^\t\x20-\xff\r\n]/.test(text) || text.split('\r\n').length !== lines.length) return null;
  return Buffer.from(text, 'latin1');
}

/** As the SDK builds a query (@smithy/core's buildQueryString): sorted, each part escaped. */
function buildQueryString(query: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const name = escapeUri(key);
    if (Array.isArray(value)) {
      for (const item of value) parts.push(`${name}=${escapeUri(item)}`);
    } else if (typeof value === 'string') {
      parts.push(`${name}=${escapeUri(value)}`);
    } else {
      parts.push(name);
    }
  }
  return parts.join('&');
}

function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
