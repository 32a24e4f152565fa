/**
 * The MEGA S4 test peer: a second s3rver (test/peers/s3.ts) behind a small HTTP proxy on 127.0.0.1
 * that refuses what S4 refuses (MEGA's S4 specification, meganz/s4-specs), so a test fails where
 * S4 would:
 *
 * - SigV4 only, and checked here (s3rver accepts any SigV4 signature of a known key): a wrong
 *   secret is 403 SignatureDoesNotMatch, an unknown key 403 InvalidAccessKeyId, a V2 signature
 *   400 InvalidRequest; a payload hash that does not match the body 400 XAmzContentSHA256Mismatch.
 * - `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm` and a trailing checksum (`x-amz-trailer`)
 *   are not supported by S4: 400 InvalidRequest.
 * - `Content-MD5` is checked (400 BadDigest, 400 InvalidDigest when malformed) and, on UploadPart
 *   and PutObject, required. Requiring it is MegaFerry's policy, stricter than S4 (which takes a
 *   request without it): every byte we store is checked by the peer on arrival.
 * - UploadPart: a part number stored (or being stored) already is refused (400 InvalidPart); so is
 *   an empty part; parts 1..N-1 must share one size of at least 5 MiB and the highest part may not
 *   be larger (400 EntityTooSmall / InvalidPart, and the upload is aborted, as S4 does).
 * - CompleteMultipartUpload: parts 1..N in ascending order, every uploaded part listed with its
 *   ETag, sizes as above; it succeeds once: again (or while one is under way) 404 NoSuchUpload.
 * - AbortMultipartUpload of an unknown, aborted or completed upload: 404 NoSuchUpload.
 *
 * s3rver has no ListParts, AbortMultipartUpload or ListMultipartUploads: the proxy answers those
 * from its own record of what it forwarded and s3rver accepted, in S3's XML shapes. It speaks
 * path-style only (what MegaFerry sends).
 *
 * Test hooks: every request is logged (kind, key, upload id, part number, headers, bytes, status);
 * `loseAnswer` lets the peer act and then drops its answer (socket reset), `resetBefore` resets the
 * socket before the peer acts, `answerQuota` answers what S4 answers an account over its storage
 * quota (403 AccountProblem, as its CreateMultipartUpload spec says) without acting, `answerError`
 * any other S3 error (503 ServiceUnavailable, 400 BadDigest…) without acting.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startS3Peer, type S3Peer } from './s3';

const require = createRequire(import.meta.url);

/** s3rver's account registry: a key pair registered here is one s3rver accepts. */
const S3rverAccount = require('s3rver/lib/models/account') as {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
};

export const S4_REGION = 'eu-central-1';
const MiB = 1024 * 1024;
/** S4's (and S3's) smallest part but the last. */
export const S4_MIN_PART_SIZE = 5 * MiB;
const MAX_PART_NUMBER = 10_000;

export type S4RequestKind =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'ListObjects'
  | 'ListMultipartUploads'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'ListParts'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'Other';

/** A request as the peer understood it. */
export interface S4Request {
  kind: S4RequestKind;
  method: string;
  bucket: string | null;
  /** The object key, decoded. */
  key: string | null;
  uploadId: string | null;
  partNumber: number | null;
  /** The query string as sent (without `?`). */
  query: string;
  headers: IncomingHttpHeaders;
  /** Bytes of the request body. */
  bytes: number;
}

/** A request and what became of it. */
export interface S4RequestRecord extends S4Request {
  /** The HTTP status answered; `reset`: reset before acting; `lost`: acted on, answer dropped. */
  outcome: number | 'reset' | 'lost';
  /** The error code the peer answered, when it refused. */
  error: string | null;
  /** Requests of this kind being handled when this one had arrived whole, itself included. */
  concurrent: number;
}

export interface S4Part {
  number: number;
  size: number;
  /** Hex MD5 of the part, as S4 (and S3) give it as ETag. */
  md5: string;
  lastModified: Date;
}

export interface S4OpenUpload {
  bucket: string;
  key: string;
  uploadId: string;
  initiated: Date;
  parts: S4Part[];
}

export interface S4StoredObject {
  bytes: Buffer;
  /** The x-amz-meta-* values, by name without the prefix. */
  metadata: Record<string, string>;
}

type Match = (req: S4Request) => boolean;

export interface S4Peer {
  /** `http://127.0.0.1:PORT`: the proxy, never s3rver itself. */
  endpoint: string;
  region: typeof S4_REGION;
  accessKeyId: string;
  secretAccessKey: string;
  /** The S4 settings as environment variables (MEGAFERRY_S4_*). */
  env: Record<string, string>;
  /** Every request so far, in order of arrival. */
  requests: S4RequestRecord[];
  /** Requests of one kind so far and their body bytes. */
  count(kind: S4RequestKind): { requests: number; bytes: number };
  /** Forgets the request log (not the uploads). */
  resetLog(): void;
  /** The next `times` matching requests are acted on, then their answer is dropped (socket reset). */
  loseAnswer(match: Match, times?: number): void;
  /** The next `times` matching requests meet a reset socket after they were sent; nothing is done. */
  resetBefore(match: Match, times?: number): void;
  /** The next `times` (default: all) matching requests are answered 403 AccountProblem (over quota). */
  answerQuota(match: Match, times?: number): void;
  /** The next `times` matching requests are answered `status` with S3 error `code`, without acting. */
  answerError(match: Match, status: number, code: string, times?: number): void;
  clearFaults(): void;
  createBucket(name: string): Promise<void>;
  /** An object's bytes and metadata as stored (read from s3rver directly); null when absent. */
  readObject(bucket: string, key: string): Promise<S4StoredObject | null>;
  /** The keys stored under a prefix. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** Multipart uploads open now (neither completed nor aborted). */
  openUploads(bucket?: string): S4OpenUpload[];
  stop(): Promise<void>;
}

interface UploadRecord {
  bucket: string;
  key: string;
  uploadId: string;
  initiated: Date;
  parts: Map<number, S4Part>;
  /** Part numbers being forwarded now. */
  inflight: Set<number>;
  completing: boolean;
}

interface Answer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

export interface S4PeerOptions {
  buckets?: string[];
  /**
   * The most parts (ListParts) and uploads (ListMultipartUploads) one page holds (default 1000, as
   * S4): a small page makes a client's pagination show with a few parts.
   */
  listPageSize?: number;
}

export async function startS4Peer(opts: S4PeerOptions = {}): Promise<S4Peer> {
  const pageSize = opts.listPageSize ?? 1000;
  const s3: S3Peer = await startS3Peer(opts.buckets ?? []);
  const accessKeyId = `S4TEST${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  S3rverAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const secrets = new Map([[accessKeyId, secretAccessKey]]);
  const upstream = new URL(s3.endpoint);
  // A new connection to s3rver per request: a kept-alive one that s3rver closes as it goes idle
  // would meet a request now and then, and the reset would look like a fault of the peer.
  const agent = new http.Agent({ keepAlive: false });

  const uploads = new Map<string, UploadRecord>();
  const requests: S4RequestRecord[] = [];
  const faults: { type: 'lose' | 'reset' | 'refuse'; match: Match; remaining: number; refusal?: Refusal }[] =
    [];
  const sockets = new Set<Socket>();
  const active = new Map<S4RequestKind, number>();

  const takeFault = (req: S4Request): (typeof faults)[number] | null => {
    for (const fault of faults) {
      if (fault.remaining > 0 && fault.match(req)) {
        fault.remaining--;
        return fault;
      }
    }
    return null;
  };

  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readAll(req);
    } catch {
      return; // the client went away before sending it all: nothing to do
    }
    const parsed = parseRequest(req, body);
    const concurrent = (active.get(parsed.kind) ?? 0) + 1;
    active.set(parsed.kind, concurrent);
    const record: S4RequestRecord = { ...parsed, outcome: 0, error: null, concurrent };
    requests.push(record);
    try {
      await respond(req, res, parsed, record, body);
    } finally {
      active.set(parsed.kind, (active.get(parsed.kind) ?? 1) - 1);
    }
  }

  async function respond(
    req: IncomingMessage,
    res: ServerResponse,
    parsed: S4Request,
    record: S4RequestRecord,
    body: Buffer,
  ): Promise<void> {
    const fault = takeFault(parsed);
    if (fault?.type === 'reset') {
      record.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    let answer: Answer;
    if (fault?.refusal) {
      answer = errorAnswer(fault.refusal, parsed);
    } else {
      try {
        checkAuthorization(req, body, secrets);
        checkHeaders(parsed);
        answer = await act(parsed, req, body);
      } catch (err) {
        // A failure of the peer itself (s3rver unreachable…) is what S4 answers its own: 500.
        const refusal =
          err instanceof Refusal
            ? err
            : new Refusal(500, 'InternalError', `the test peer failed: ${(err as Error).message}`);
        answer = errorAnswer(refusal, parsed);
      }
    }
    record.outcome = answer.status;
    record.error = answer.status >= 300 ? errorCode(answer.body) : null;
    if (fault?.type === 'lose') {
      record.outcome = 'lost';
      req.socket.destroy();
      return;
    }
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    if (parsed.method !== 'HEAD' && answer.status !== 204 && answer.status !== 304) {
      headers['content-length'] = String(answer.body.length);
    }
    res.writeHead(answer.status, headers);
    res.end(parsed.method === 'HEAD' ? undefined : answer.body);
  }

  /** What S4 does with a request the checks let through. */
  async function act(r: S4Request, req: IncomingMessage, body: Buffer): Promise<Answer> {
    switch (r.kind) {
      case 'PutObject':
        requireContentMd5(r, body);
        return forward(req, body);
      case 'CreateMultipartUpload': {
        const answer = await forward(req, body);
        const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.body.toString('utf8'))?.[1];
        if (answer.status === 200 && uploadId && r.bucket && r.key) {
          uploads.set(uploadId, {
            bucket: r.bucket,
            key: r.key,
            uploadId,
            initiated: new Date(),
            parts: new Map(),
            inflight: new Set(),
            completing: false,
          });
        }
        return answer;
      }
      case 'UploadPart':
        return uploadPart(r, req, body);
      case 'CompleteMultipartUpload':
        return complete(r, req, body);
      case 'ListParts':
        return listParts(r);
      case 'AbortMultipartUpload': {
        const upload = openUpload(r);
        uploads.delete(upload.uploadId);
        return { status: 204, headers: amzHeaders(), body: Buffer.alloc(0) };
      }
      case 'ListMultipartUploads':
        return listUploads(r);
      case 'UploadPartCopy':
      case 'DeleteObjects':
        // Not used by MegaFerry; s3rver lacks them or would skip S4's part rules.
        throw new Refusal(501, 'NotImplemented', `${r.kind} is not implemented by this test peer`);
      default:
        return forward(req, body);
    }
  }

  function openUpload(r: S4Request): UploadRecord {
    const upload = r.uploadId ? uploads.get(r.uploadId) : undefined;
    if (!upload || upload.bucket !== r.bucket || upload.key !== r.key) {
      throw new Refusal(
        404,
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      );
    }
    return upload;
  }

  async function uploadPart(r: S4Request, req: IncomingMessage, body: Buffer): Promise<Answer> {
    const upload = openUpload(r);
    const n = r.partNumber;
    if (n === null || !Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) {
      throw new Refusal(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000');
    }
    if (upload.completing) throw new Refusal(404, 'NoSuchUpload', 'The upload is being completed.');
    const md5 = requireContentMd5(r, body);
    if (body.length === 0) throw new Refusal(400, 'InvalidPart', 'The part is empty.');
    if (upload.parts.has(n) || upload.inflight.has(n)) {
      throw new Refusal(
        400,
        'InvalidPart',
        `Part ${n} has already been uploaded; S4 does not allow re-uploading parts.`,
      );
    }
    const sizes = new Map([...upload.parts.values()].map((p) => [p.number, p.size]));
    sizes.set(n, body.length);
    const problem = partSizeProblem(sizes);
    if (problem) {
      uploads.delete(upload.uploadId); // "This error will cause the entire upload to be aborted."
      throw problem;
    }
    upload.inflight.add(n);
    try {
      const answer = await forward(req, body);
      if (answer.status === 200 && uploads.get(upload.uploadId) === upload) {
        upload.parts.set(n, { number: n, size: body.length, md5, lastModified: new Date() });
      }
      return answer;
    } finally {
      upload.inflight.delete(n);
    }
  }

  async function complete(r: S4Request, req: IncomingMessage, body: Buffer): Promise<Answer> {
    const upload = openUpload(r);
    if (upload.completing) {
      throw new Refusal(404, 'NoSuchUpload', 'Another completion of this upload is under way.');
    }
    const listed = [...body.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1] ?? '')?.[1] ?? NaN),
      etag: (/<ETag>([^<]*)<\/ETag>/.exec(m[1] ?? '')?.[1] ?? '').replace(/&quot;|"/g, ''),
    }));
    if (listed.length === 0) throw new Refusal(400, 'InvalidRequest', 'The request specifies no part.');
    if (listed.some((p) => !Number.isInteger(p.number) || p.etag === '')) {
      throw new Refusal(400, 'MalformedXML', 'A part lacks a valid PartNumber or ETag.');
    }
    for (let i = 1; i < listed.length; i++) {
      if ((listed[i]?.number ?? 0) <= (listed[i - 1]?.number ?? 0)) {
        throw new Refusal(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
      }
    }
    if (listed.some((p, i) => p.number !== i + 1)) {
      throw new Refusal(400, 'InvalidPart', 'The parts listed are not 1..N.');
    }
    if (listed.length !== upload.parts.size) {
      throw new Refusal(400, 'InvalidPart', 'The part list does not include all the uploaded parts.');
    }
    for (const p of listed) {
      const stored = upload.parts.get(p.number);
      if (!stored) throw new Refusal(400, 'InvalidPart', `Part ${p.number} has not been uploaded.`);
      if (stored.md5 !== p.etag)
        throw new Refusal(400, 'InvalidPart', `Part ${p.number}'s ETag does not match.`);
    }
    const problem = partSizeProblem(new Map([...upload.parts.values()].map((p) => [p.number, p.size])));
    if (problem) throw problem;
    upload.completing = true;
    try {
      const answer = await forward(req, body);
      if (answer.status === 200 && !answer.body.toString('utf8').includes('<Error>')) {
        uploads.delete(upload.uploadId); // succeeds once
      }
      return answer;
    } finally {
      upload.completing = false;
    }
  }

  function listParts(r: S4Request): Answer {
    const upload = openUpload(r);
    const query = new URLSearchParams(r.query);
    const maxParts = Math.max(0, Math.min(pageSize, Number(query.get('max-parts') ?? pageSize) || pageSize));
    const marker = Number(query.get('part-number-marker') ?? 0) || 0;
    const all = [...upload.parts.values()]
      .sort((a, b) => a.number - b.number)
      .filter((p) => p.number > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.key)}</Key>` +
      `<UploadId>${escapeXml(upload.uploadId)}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>` +
      `<NextPartNumberMarker>${page.at(-1)?.number ?? marker}</NextPartNumberMarker>` +
      `<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>` +
      page
        .map(
          (p) =>
            `<Part><PartNumber>${p.number}</PartNumber><LastModified>${p.lastModified.toISOString()}</LastModified>` +
            `<ETag>&quot;${p.md5}&quot;</ETag><Size>${p.size}</Size></Part>`,
        )
        .join('') +
      `<StorageClass>STANDARD</StorageClass></ListPartsResult>`;
    return xmlAnswer(xml);
  }

  function listUploads(r: S4Request): Answer {
    const query = new URLSearchParams(r.query);
    const prefix = query.get('prefix') ?? '';
    const maxUploads = Math.max(
      0,
      Math.min(pageSize, Number(query.get('max-uploads') ?? pageSize) || pageSize),
    );
    const keyMarker = query.get('key-marker') ?? '';
    const idMarker = query.get('upload-id-marker') ?? '';
    // S3's order: by key, then by upload id; a page starts after (key-marker, upload-id-marker).
    const open = [...uploads.values()]
      .filter((u) => u.bucket === r.bucket && u.key.startsWith(prefix))
      .filter((u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker))
      .sort((a, b) => (a.key === b.key ? (a.uploadId < b.uploadId ? -1 : 1) : a.key < b.key ? -1 : 1));
    const page = open.slice(0, maxUploads);
    const truncated = open.length > page.length;
    const last = page.at(-1);
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${escapeXml(r.bucket ?? '')}</Bucket><KeyMarker>${escapeXml(keyMarker)}</KeyMarker>` +
      `<UploadIdMarker>${escapeXml(idMarker)}</UploadIdMarker>` +
      `<NextKeyMarker>${escapeXml(truncated && last ? last.key : '')}</NextKeyMarker>` +
      `<NextUploadIdMarker>${escapeXml(truncated && last ? last.uploadId : '')}</NextUploadIdMarker>` +
      `<Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${maxUploads}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
      page
        .map(
          (u) =>
            `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${escapeXml(u.uploadId)}</UploadId>` +
            `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
        )
        .join('') +
      `</ListMultipartUploadsResult>`;
    return xmlAnswer(xml);
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          readAll(answer).then(
            (data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }),
            reject,
          );
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  const endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    region: S4_REGION,
    accessKeyId,
    secretAccessKey,
    env: {
      MEGAFERRY_S4_ENDPOINT: endpoint,
      MEGAFERRY_S4_REGION: S4_REGION,
      MEGAFERRY_S4_ACCESS_KEY_ID: accessKeyId,
      MEGAFERRY_S4_SECRET_ACCESS_KEY: secretAccessKey,
    },
    requests,
    count(kind) {
      const of = requests.filter((r) => r.kind === kind);
      return { requests: of.length, bytes: of.reduce((sum, r) => sum + r.bytes, 0) };
    },
    resetLog() {
      requests.length = 0;
    },
    loseAnswer(match, times = 1) {
      faults.push({ type: 'lose', match, remaining: times });
    },
    resetBefore(match, times = 1) {
      faults.push({ type: 'reset', match, remaining: times });
    },
    answerQuota(match, times = Number.POSITIVE_INFINITY) {
      const refusal = new Refusal(403, 'AccountProblem', 'The account has exceeded its storage quota.');
      faults.push({ type: 'refuse', match, remaining: times, refusal });
    },
    answerError(match, status, code, times = 1) {
      faults.push({ type: 'refuse', match, remaining: times, refusal: new Refusal(status, code, code) });
    },
    clearFaults() {
      faults.length = 0;
    },
    async createBucket(name) {
      await s3.client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async readObject(bucket, key) {
      try {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
        return { bytes, metadata: { ...(out.Metadata ?? {}) } };
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return null;
        throw err;
      }
    },
    async listKeys(bucket, prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    openUploads(bucket) {
      return [...uploads.values()]
        .filter((u) => bucket === undefined || u.bucket === bucket)
        .map((u) => ({
          bucket: u.bucket,
          key: u.key,
          uploadId: u.uploadId,
          initiated: u.initiated,
          parts: [...u.parts.values()].sort((a, b) => a.number - b.number),
        }));
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Understanding a request

function parseRequest(req: IncomingMessage, body: Buffer): S4Request {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  const params = new URLSearchParams(query);
  const segments = path.split('/').slice(1);
  const bucket = segments[0] ? safeDecode(segments[0]) : null;
  const keyPath = segments.slice(1).join('/');
  const key = keyPath ? safeDecode(keyPath) : null;
  const uploadId = params.get('uploadId');
  const part = params.get('partNumber');
  const copy = 'x-amz-copy-source' in req.headers;
  // The SDK names the operation in `x-id` (PutObject, UploadPart…): not a sub-resource.
  const plain = [...params.keys()].every((name) => name === 'x-id');
  let kind: S4RequestKind = 'Other';
  if (!bucket) kind = method === 'GET' ? 'ListBuckets' : 'Other';
  else if (!key) {
    if (method === 'HEAD') kind = 'HeadBucket';
    else if (method === 'PUT' && plain) kind = 'CreateBucket';
    else if (method === 'DELETE' && plain) kind = 'DeleteBucket';
    else if (method === 'GET' && params.has('uploads')) kind = 'ListMultipartUploads';
    else if (method === 'GET' && !params.has('location') && !params.has('policy')) kind = 'ListObjects';
    else if (method === 'POST' && params.has('delete')) kind = 'DeleteObjects';
  } else if (method === 'PUT') {
    if (uploadId !== null) kind = copy ? 'UploadPartCopy' : 'UploadPart';
    else if (plain) kind = copy ? 'CopyObject' : 'PutObject';
  } else if (method === 'POST') {
    if (params.has('uploads')) kind = 'CreateMultipartUpload';
    else if (uploadId !== null) kind = 'CompleteMultipartUpload';
  } else if (method === 'GET') kind = uploadId !== null ? 'ListParts' : 'GetObject';
  else if (method === 'HEAD') kind = 'HeadObject';
  else if (method === 'DELETE') kind = uploadId !== null ? 'AbortMultipartUpload' : 'DeleteObject';
  return {
    kind,
    method,
    bucket,
    key,
    uploadId,
    partNumber: part === null ? null : Number(part),
    headers: req.headers,
    bytes: body.length,
    query,
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// S4's rules

/** Headers S4 does not support: flexible checksums, sent or announced as a trailer. */
function checkHeaders(r: S4Request): void {
  for (const [name, value] of Object.entries(r.headers)) {
    const trailer = name === 'x-amz-trailer' && /x-amz-checksum-/i.test(String(value));
    if (name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm' || trailer) {
      throw new Refusal(400, 'InvalidRequest', `S4 does not support the header ${name}`);
    }
  }
  const payload = r.headers['x-amz-content-sha256'];
  if (typeof payload === 'string' && payload.endsWith('-TRAILER')) {
    throw new Refusal(400, 'InvalidRequest', `S4 does not support trailing checksums (${payload})`);
  }
}

/** Content-MD5, required on object writes (our policy, stricter than S4), and checked. */
function requireContentMd5(r: S4Request, body: Buffer): string {
  const given = r.headers['content-md5'];
  const md5 = createHash('md5').update(body).digest();
  if (typeof given !== 'string' || given === '') {
    throw new Refusal(
      400,
      'InvalidRequest',
      'Content-MD5 is required by this test peer on PutObject and UploadPart (MegaFerry policy; S4 takes requests without it)',
    );
  }
  const decoded = Buffer.from(given, 'base64');
  if (decoded.length !== 16 || decoded.toString('base64') !== given) {
    throw new Refusal(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
  }
  if (!decoded.equals(md5)) {
    throw new Refusal(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  return md5.toString('hex');
}

/**
 * S4's part sizes: every part but the highest-numbered one shares one size of at least 5 MiB, and
 * the highest is not larger (nor empty).
 */
function partSizeProblem(sizes: Map<number, number>): Refusal | null {
  const numbers = [...sizes.keys()].sort((a, b) => a - b);
  const highest = numbers.at(-1);
  if (highest === undefined) return null;
  const others = numbers.slice(0, -1).map((n) => sizes.get(n) as number);
  const common = others[0];
  if (common !== undefined) {
    if (others.some((s) => s < S4_MIN_PART_SIZE)) {
      return new Refusal(400, 'EntityTooSmall', 'A part other than the last is smaller than 5 MiB.');
    }
    if (others.some((s) => s !== common)) {
      return new Refusal(400, 'InvalidPart', 'Parts 1 to N-1 must all have the same size.');
    }
    if ((sizes.get(highest) as number) > common) {
      return new Refusal(400, 'InvalidPart', 'The last part may not be larger than the others.');
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// SigV4, checked as S4 checks it (s3rver accepts any V4 signature of a key it knows)

const SKEW_MS = 15 * 60 * 1000;

function checkAuthorization(req: IncomingMessage, body: Buffer, secrets: Map<string, string>): void {
  const authorization = req.headers.authorization;
  if (typeof authorization !== 'string') {
    const algorithm = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('X-Amz-Algorithm');
    if (algorithm === 'AWS4-HMAC-SHA256') return; // a presigned V4 URL: left to s3rver (not used by MegaFerry)
    if (algorithm !== null || (req.url ?? '').includes('Signature=')) {
      throw new Refusal(400, 'InvalidRequest', 'Only Signature Version 4 is supported.');
    }
    throw new Refusal(403, 'AccessDenied', 'Anonymous requests are not allowed.');
  }
  if (!authorization.startsWith('AWS4-HMAC-SHA256 ')) {
    throw new Refusal(
      400,
      'InvalidRequest',
      'The authorization header does not start with AWS4-HMAC-SHA256.',
    );
  }
  const fields = new Map(
    authorization
      .slice('AWS4-HMAC-SHA256 '.length)
      .split(',')
      .map((part) => {
        const at = part.indexOf('=');
        return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
      }),
  );
  const credential = (fields.get('Credential') ?? '').split('/');
  const signedHeaders = fields.get('SignedHeaders') ?? '';
  const signature = fields.get('Signature') ?? '';
  const [accessKeyId, date, region, service, terminator] = credential;
  if (!accessKeyId || !date || !region || !service || terminator !== 'aws4_request' || !signedHeaders) {
    throw new Refusal(403, 'IncompleteSignature', 'The authorization header is malformed.');
  }
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) {
    throw new Refusal(
      403,
      'InvalidAccessKeyId',
      'The Access Key Id you provided does not exist in our records.',
    );
  }
  const amzDate = header(req.headers, 'x-amz-date');
  const when = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (!Number.isFinite(when) || Math.abs(Date.now() - when) > SKEW_MS) {
    throw new Refusal(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the server time is too large.',
    );
  }
  const payloadHash = header(req.headers, 'x-amz-content-sha256');
  if (!payloadHash) throw new Refusal(400, 'MissingSecurityHeader', 'x-amz-content-sha256 is missing.');
  if (/^[0-9a-f]{64}$/.test(payloadHash) && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    throw new Refusal(
      400,
      'XAmzContentSHA256Mismatch',
      'The provided x-amz-content-sha256 does not match the body.',
    );
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const canonicalUri = q >= 0 ? url.slice(0, q) : url;
  const canonicalQuery = (q >= 0 ? url.slice(q + 1) : '')
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      const name = at >= 0 ? pair.slice(0, at) : pair;
      const value = at >= 0 ? pair.slice(at + 1) : '';
      return [rfc3986(safeDecode(name)), rfc3986(safeDecode(value))] as const;
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${header(req.headers, name).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    req.method ?? 'GET',
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key = hmac(`AWS4${secret}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  if (expected !== signature) {
    throw new Refusal(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Answers

function amzHeaders(): http.OutgoingHttpHeaders {
  return { 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase() };
}

function xmlAnswer(xml: string): Answer {
  return {
    status: 200,
    headers: { ...amzHeaders(), 'content-type': 'application/xml' },
    body: Buffer.from(xml),
  };
}

function errorAnswer(refusal: Refusal, r: S4Request): Answer {
  const resource = r.bucket ? `/${r.bucket}${r.key ? `/${r.key}` : ''}` : '/';
  const xml =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code>` +
    `<Message>${escapeXml(refusal.message)}</Message><Resource>${escapeXml(resource)}</Resource>` +
    `<RequestId>S4PEER</RequestId></Error>`;
  return {
    status: refusal.status,
    headers: { ...amzHeaders(), 'content-type': 'application/xml' },
    body: Buffer.from(xml),
  };
}

function errorCode(body: Buffer): string | null {
  return /<Code>([^<]+)<\/Code>/.exec(body.toString('utf8'))?.[1] ?? null;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
