// s3://BUCKET[/PREFIX]: any S3-compatible service (AWS S3, MinIO, Ceph RGW, R2, OSS, COS) through the AWS SDK v3.
// Options (ObjectOptions, then URL query parameters, then environment variables):
//   endpoint    ?endpoint=http://host:port   FERRY_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
//   region      ?region=us-east-1             AWS_REGION, AWS_DEFAULT_REGION (default us-east-1)
//   pathStyle   ?path-style=true              FERRY_S3_PATH_STYLE (default: true when an endpoint is given)
//   accessKey / secretKey, or s3://KEY:SECRET@BUCKET, else the SDK's default chain (AWS_ACCESS_KEY_ID, ~/.aws, ...)
//   concurrency (default 64 requests in flight), timeout (ms per request, default 60 s), retries (default 5)
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { FsError } from '../errors.js';
import type { ListResult, MultipartUpload, ObjectInfo, ObjectOptions, ObjectStore, Part } from './interface.js';
import { DEFAULT_LIST_LIMIT, MAX_PART_COUNT, MIN_PART_SIZE, checkLimit, checkParts, invalid, listAll, noSuchObject, noSuchUpload, span } from './util.js';

export interface S3Options {
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  accessKey?: string;
  secretKey?: string;
  sessionToken?: string;
  concurrency?: number;
  timeout?: number;
  retries?: number;
}

/** Objects above this are put as multipart uploads of PART_SIZE parts (blocks are at most 16 MiB). */
const MULTIPART_THRESHOLD = 64 << 20;
const PART_SIZE = 16 << 20;
const DELETE_BATCH = 1000;

/** Counts requests in flight; callers beyond the limit wait in FIFO order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function truthy(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  return !/^(0|false|no|off)$/i.test(String(v));
}

function num(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw invalid(`s3 option ${name}: '${String(v)}' is not a number`);
  return n;
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

/** The Node network error code somewhere in an SDK error (the SDK wraps them, AggregateError nests them). */
function netCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const err = e as SdkError;
  const code = err.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  if (err.name === 'TimeoutError' || err.name === 'RequestTimeout') return 'ETIMEDOUT';
  for (const inner of [err.cause, ...(err.errors ?? [])]) {
    const c = netCode(inner, depth + 1);
    if (c) return c;
  }
  return undefined;
}

/**
 * How long an operation keeps retrying, after the SDK's own attempts, while an endpoint that answered before
 * is unreachable, hangs (the request times out or its connection is cut) or fails with 5xx: a gateway
 * restart or a network outage blocks writers instead of failing them. An endpoint never reached fails at once.
 */
export const OUTAGE_WINDOW_MS = 120_000;
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function transient(e: unknown): boolean {
  const code = netCode(e);
  if (code && TRANSIENT.has(code)) return true;
  const status = (e as SdkError)?.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || /socket hang up/i.test((e as Error)?.message ?? '');
}

export class S3Store implements ObjectStore {
  readonly url: string;
  /** Operations retried after the SDK gave up during an outage (see OUTAGE_WINDOW_MS). */
  outageRetries = 0;
  /** The same over every store of the process (tests and benchmarks print it). */
  static outageRetriesTotal = 0;
  /** Set by the first answer: later failures are outages to wait out. */
  private answered = false;
  private readonly client: S3Client;
  private readonly limiter: Limiter;
  private readonly endpointName: string;

  constructor(
    readonly bucket: string,
    /** '' or ending in '/': prepended to every key. */
    private readonly prefix: string,
    opts: S3Options,
  ) {
    this.url = `s3://${bucket}/${prefix}` + (opts.endpoint ? `?endpoint=${encodeURIComponent(opts.endpoint)}` : '');
    this.endpointName = opts.endpoint ?? `the AWS S3 endpoint of ${opts.region ?? 'us-east-1'}`;
    const concurrency = opts.concurrency ?? 64;
    this.limiter = new Limiter(concurrency);
    const agentOpts = { keepAlive: true, maxSockets: concurrency, keepAliveMsecs: 10_000 };
    const config: S3ClientConfig = {
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.pathStyle ?? opts.endpoint !== undefined,
      // The standard strategy backs off exponentially (with jitter) on throttling (503 SlowDown),
      // 5xx and transient network errors.
      maxAttempts: (opts.retries ?? 5) + 1,
      retryMode: 'standard',
      requestHandler: {
        httpAgent: new HttpAgent(agentOpts),
        httpsAgent: new HttpsAgent(agentOpts),
        connectionTimeout: 5_000,
        requestTimeout: opts.timeout ?? 60_000,
      },
      // Checksums beyond Content-MD5/SigV4 are not understood by every S3-compatible service.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    // FerryFS supports Node 20; the SDK's multi-line "upgrade Node" warning would break one-line CLI output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    if (opts.accessKey && opts.secretKey) {
      config.credentials = { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey, sessionToken: opts.sessionToken };
    }
    this.client = new S3Client(config);
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /** One clear FsError for an SDK failure; `key` is the user's key (without our prefix). */
  private fail(e: unknown, op: string, key?: string): FsError {
    if (e instanceof FsError) return e;
    const err = (e ?? {}) as SdkError;
    const name = err.name ?? err.Code ?? '';
    const status = err.$metadata?.httpStatusCode;
    const opts = { cause: e, syscall: op, path: key };
    switch (name) {
      case 'NoSuchKey':
        return new FsError('ENOENT', { ...opts, message: 'no such object' });
      case 'NoSuchBucket':
        return new FsError('ENOENT', { cause: e, message: `bucket ${this.bucket} does not exist at ${this.endpointName}` });
      case 'NoSuchUpload':
        return new FsError('ENOENT', { ...opts, message: 'no such multipart upload' });
      case 'AccessDenied':
      case 'AllAccessDisabled':
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'InvalidToken':
      case 'ExpiredToken':
      case 'CredentialsProviderError': {
        const why = name === 'InvalidAccessKeyId' ? 'the access key is not known' : name === 'SignatureDoesNotMatch' ? 'the secret key is wrong' : name === 'CredentialsProviderError' ? 'no credentials were found' : 'access denied';
        return new FsError('EACCES', { cause: e, message: `cannot access bucket ${this.bucket} at ${this.endpointName}: ${why} (${name})` });
      }
      case 'InvalidPart':
      case 'InvalidPartOrder':
      case 'EntityTooSmall':
      case 'InvalidArgument':
      case 'InvalidRequest':
      case 'MalformedXML':
        return new FsError('EINVAL', { ...opts, message: `${name}: ${oneLine(err.message)}` });
      case 'SlowDown':
      case 'ServiceUnavailable':
      case 'Throttling':
        return new FsError('EAGAIN', { ...opts, message: `${this.endpointName} is throttling requests (${name}), retries exhausted` });
    }
    const net = netCode(e);
    if (net === 'ECONNREFUSED') return new FsError('ECONNREFUSED', { cause: e, message: `cannot connect to S3 endpoint ${this.endpointName}: connection refused` });
    if (net === 'ENOTFOUND' || net === 'EAI_AGAIN') return new FsError('EIO', { cause: e, message: `cannot resolve the host of S3 endpoint ${this.endpointName}` });
    if (net === 'ETIMEDOUT') return new FsError('ETIMEDOUT', { cause: e, message: `S3 endpoint ${this.endpointName} did not answer in time` });
    if (net) return new FsError('EIO', { ...opts, message: `S3 endpoint ${this.endpointName}: ${net}` });
    if (status === 404) return new FsError('ENOENT', { ...opts, message: 'no such object' });
    if (status === 403) return new FsError('EACCES', { cause: e, message: `cannot access bucket ${this.bucket} at ${this.endpointName}: access denied` });
    return new FsError('EIO', { ...opts, message: `S3 ${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${oneLine(err.message)}` });
  }

  private async call<T>(op: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    return this.riding(() => this.limiter.run(fn), (e) => this.diagnose(e, op, key));
  }

  /** Runs fn, and again while an outage lasts (OUTAGE_WINDOW_MS); fail() turns the last error into an FsError. */
  private async riding<T>(fn: () => Promise<T>, fail: (e: unknown) => Promise<FsError> | FsError): Promise<T> {
    const since = Date.now();
    for (let i = 0; ; i++) {
      try {
        const r = await fn();
        this.answered = true;
        return r;
      } catch (e) {
        if (this.answered && !(e instanceof FsError) && transient(e) && Date.now() - since < OUTAGE_WINDOW_MS && !(await this.refusedUpload(e))) {
          this.outageRetries++;
          S3Store.outageRetriesTotal++;
          await sleep(Math.min(200 * 2 ** i, 2000));
          continue;
        }
        throw await fail(e);
      }
    }
  }

  /** A reset that is the service refusing the request (see diagnose), not an outage: the bucket answers 404/403. */
  private async refusedUpload(e: unknown): Promise<boolean> {
    const net = netCode(e);
    if (net !== 'EPIPE' && net !== 'ECONNRESET') return false;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return false;
    } catch (h) {
      const status = (h as SdkError).$metadata?.httpStatusCode;
      return status === 404 || status === 403;
    }
  }

  /**
   * A service that refuses an upload (missing bucket, bad signature) may answer and close the connection
   * before the body is sent, so the client sees only EPIPE/ECONNRESET: ask the bucket what is wrong.
   */
  private async diagnose(e: unknown, op: string, key?: string): Promise<FsError> {
    const net = netCode(e);
    if (net === 'EPIPE' || net === 'ECONNRESET') {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      } catch (h) {
        const status = (h as SdkError).$metadata?.httpStatusCode;
        if (status === 404) return this.fail(Object.assign(new Error('no such bucket'), { name: 'NoSuchBucket' }), op, key);
        if (status === 403) return this.fail(h, op, key);
      }
    }
    return this.fail(e, op, key);
  }

  async create(): Promise<void> {
    try {
      await this.limiter.run(() => this.client.send(new CreateBucketCommand({ Bucket: this.bucket })));
    } catch (e) {
      const name = (e as SdkError).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
      throw this.fail(e, 'create');
    }
  }

  async put(key: string, data: Buffer): Promise<void> {
    if (data.length > MULTIPART_THRESHOLD) return this.putMultipart(key, data);
    // The SDK sends the caller's buffer; S3 keeps its own copy, so the caller may reuse it afterwards.
    await this.call('put', key, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.k(key), Body: data, ContentLength: data.length })));
  }

  private async putMultipart(key: string, data: Buffer): Promise<void> {
    const mp = await this.createMultipartUpload(key);
    try {
      const parts: Part[] = [];
      const pending: Promise<void>[] = [];
      for (let off = 0, num = 1; off < data.length; off += PART_SIZE, num++) {
        const n = num;
        const slice = data.subarray(off, off + PART_SIZE);
        pending.push(this.uploadPart(key, mp.uploadId, n, slice).then((p) => void (parts[n - 1] = p)));
      }
      await Promise.all(pending);
      await this.completeUpload(key, mp.uploadId, parts);
    } catch (e) {
      await this.abortUpload(key, mp.uploadId).catch(() => undefined);
      throw e;
    }
  }

  async get(key: string, off = 0, len = -1): Promise<Buffer> {
    span(Number.MAX_SAFE_INTEGER, off, len); // validates the range
    if (len === 0) {
      await this.head(key);
      return Buffer.alloc(0);
    }
    const range = off === 0 && len < 0 ? undefined : `bytes=${off}-${len < 0 ? '' : off + len - 1}`;
    const get = () =>
      this.limiter.run(async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.k(key), Range: range }));
        if (!res.Body) return Buffer.alloc(0);
        return await readBody(res.Body as AsyncIterable<Uint8Array>, res.ContentLength);
      });
    return this.riding(
      () =>
        get().catch((e) => {
          // A range starting at or past the end: the object exists, there are just no bytes there.
          if ((e as SdkError).name === 'InvalidRange' || (e as SdkError).$metadata?.httpStatusCode === 416) return Buffer.alloc(0);
          throw e;
        }),
      (e) => this.fail(e, 'get', key),
    );
  }

  async head(key: string): Promise<ObjectInfo> {
    const res = await this.call('head', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.k(key) })));
    return { key, size: res.ContentLength ?? 0, mtime: res.LastModified?.getTime() ?? 0 };
  }

  /** HEAD with the object's user metadata (x-amz-meta-*), as ferry sync keeps times and modes there. */
  async headWithMetadata(key: string): Promise<ObjectInfo & { metadata: Record<string, string> }> {
    const res = await this.call('head', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.k(key) })));
    return { key, size: res.ContentLength ?? 0, mtime: res.LastModified?.getTime() ?? 0, metadata: res.Metadata ?? {} };
  }

  /** A streamed GET (big objects never sit in memory whole), with size, time and user metadata. */
  async getStream(key: string): Promise<ObjectInfo & { body: Readable; metadata: Record<string, string> }> {
    const res = await this.call('get', key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.k(key) })));
    const { Readable: R } = await import('node:stream');
    const body = (res.Body as Readable | undefined) ?? R.from([]);
    return { key, size: res.ContentLength ?? 0, mtime: res.LastModified?.getTime() ?? 0, metadata: res.Metadata ?? {}, body };
  }

  /** A streamed PUT with user metadata: one request for small bodies, a multipart upload of PART_SIZE parts otherwise. */
  async putStream(key: string, body: Readable, metadata: Record<string, string> = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.k(key), Body: body, Metadata: metadata },
      partSize: PART_SIZE,
      queueSize: 4,
      leavePartsOnError: false,
    });
    await this.call('put', key, () => upload.done());
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a missing key too.
    await this.call('delete', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.k(key) })));
  }

  /** Multi-object delete, 1,000 keys per request; missing keys are not errors. */
  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const res = await this.call('delete', batch[0], () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.k(k) })), Quiet: true } })),
      );
      const bad = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (bad.length) throw new FsError('EIO', { syscall: 'delete', path: bad[0].Key?.slice(this.prefix.length), message: `${bad.length} of ${batch.length} deletes failed: ${bad[0].Code} ${bad[0].Message ?? ''}`.trim() });
    }
  }

  async list(prefix: string, marker = '', limit = DEFAULT_LIST_LIMIT): Promise<ListResult> {
    checkLimit(limit);
    const res = await this.call('list', prefix, () =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.k(prefix),
          StartAfter: marker && marker > '' ? this.k(marker) : undefined,
          MaxKeys: Math.min(limit, 1000),
        }),
      ),
    );
    const objects: ObjectInfo[] = (res.Contents ?? []).map((o) => ({
      key: (o.Key ?? '').slice(this.prefix.length),
      size: o.Size ?? 0,
      mtime: o.LastModified?.getTime() ?? 0,
    }));
    const isTruncated = res.IsTruncated === true && objects.length > 0;
    return isTruncated ? { objects, isTruncated, nextMarker: objects[objects.length - 1].key } : { objects, isTruncated };
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }

  async createMultipartUpload(key: string): Promise<MultipartUpload> {
    const res = await this.call('createMultipartUpload', key, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.k(key) })));
    if (!res.UploadId) throw new FsError('EIO', { syscall: 'createMultipartUpload', path: key, message: 'the service returned no upload id' });
    return { uploadId: res.UploadId, minPartSize: MIN_PART_SIZE, maxCount: MAX_PART_COUNT };
  }

  async uploadPart(key: string, uploadId: string, num: number, data: Buffer): Promise<Part> {
    const res = await this.call('uploadPart', key, () =>
      this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: this.k(key), UploadId: uploadId, PartNumber: num, Body: data, ContentLength: data.length })),
    );
    return { num, size: data.length, etag: (res.ETag ?? '').replace(/"/g, '') };
  }

  async completeUpload(key: string, uploadId: string, parts: Part[]): Promise<void> {
    checkParts(parts);
    for (const p of parts) if (!/^[0-9a-fA-F-]+$/.test(p.etag)) throw invalid(`part ${p.num} has a malformed etag '${p.etag}'`);
    // Checked against the service's own list first: services differ on a completion naming unknown parts
    // or another key (Ceph RGW answers 500 "completion already in progress" to later ones), and a failed
    // completion must leave the upload usable.
    const uploaded = await this.listParts(key, uploadId);
    for (const p of parts) {
      const have = uploaded.get(p.num);
      if (!have || have.etag !== p.etag.toLowerCase()) throw invalid(`part ${p.num} with etag ${p.etag} was not uploaded`);
      if (have.size !== p.size) throw invalid(`part ${p.num} does not have ${p.size} bytes`);
    }
    await this.call('completeUpload', key, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.k(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.num, ETag: `"${p.etag}"` })) },
        }),
      ),
    );
  }

  private async listParts(key: string, uploadId: string): Promise<Map<number, { etag: string; size: number }>> {
    const parts = new Map<number, { etag: string; size: number }>();
    let marker: string | undefined;
    for (;;) {
      const res = await this.call('completeUpload', key, () =>
        this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: this.k(key), UploadId: uploadId, PartNumberMarker: marker })),
      );
      for (const p of res.Parts ?? []) parts.set(p.PartNumber ?? 0, { etag: (p.ETag ?? '').replace(/"/g, '').toLowerCase(), size: p.Size ?? 0 });
      if (!res.IsTruncated || !res.NextPartNumberMarker) return parts;
      marker = res.NextPartNumberMarker;
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.limiter.run(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.k(key), UploadId: uploadId })));
    } catch (e) {
      const err = e as SdkError;
      if (err.name === 'NoSuchUpload' || err.$metadata?.httpStatusCode === 404) return;
      throw this.fail(e, 'abortUpload', key);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function oneLine(s: string | undefined): string {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

/** Options from (in order) the caller, the URL's query and user info, and the environment. */
export function s3Options(url: URL, options: ObjectOptions): S3Options {
  const q = url.searchParams;
  const env = process.env;
  const pick = (...vals: unknown[]) => vals.find((v) => v !== undefined && v !== null && v !== '') as string | undefined;
  const o: S3Options = {
    endpoint: pick(options.endpoint, q.get('endpoint'), env.FERRY_S3_ENDPOINT, env.AWS_ENDPOINT_URL_S3, env.AWS_ENDPOINT_URL),
    region: pick(options.region, q.get('region'), env.AWS_REGION, env.AWS_DEFAULT_REGION),
    pathStyle: truthy(pick(options.pathStyle, q.get('path-style'), q.get('pathStyle'), env.FERRY_S3_PATH_STYLE)),
    accessKey: pick(options.accessKey, url.username ? decodeURIComponent(url.username) : undefined, env.FERRY_ACCESS_KEY),
    secretKey: pick(options.secretKey, url.password ? decodeURIComponent(url.password) : undefined, env.FERRY_SECRET_KEY),
    sessionToken: pick(options.sessionToken),
    concurrency: num(pick(options.concurrency, q.get('concurrency')), 'concurrency'),
    timeout: num(pick(options.timeout, q.get('timeout')), 'timeout'),
    retries: num(pick(options.retries, q.get('retries')), 'retries'),
  };
  if (o.endpoint && !/^https?:\/\//i.test(o.endpoint)) o.endpoint = `https://${o.endpoint}`;
  if (o.concurrency === 0) o.concurrency = undefined;
  return o;
}

/** The s3:// factory; src/object/index.ts registers it lazily so the SDK loads only when S3 is used. */
export async function openS3(url: URL, raw: string, options: ObjectOptions): Promise<S3Store> {
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw invalid(`invalid S3 storage URL '${raw.replace(/\/\/[^@/]*@/, '//')}': expected s3://BUCKET[/PREFIX] with a 3-63 character lowercase bucket name`);
  }
  let prefix = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  return new S3Store(bucket, prefix, s3Options(url, options));
}

/**
 * A response body into one buffer, copied once: straight into a buffer of the announced length (the SDK's
 * transformToByteArray concatenates, and a Buffer.from of its result copied the block a second time).
 */
async function readBody(body: AsyncIterable<Uint8Array>, length: number | undefined): Promise<Buffer> {
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    return Buffer.concat(parts);
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const c of body) {
    if (at + c.byteLength > length) throw new Error(`response body longer than its Content-Length ${length}`);
    out.set(c, at);
    at += c.byteLength;
  }
  if (at !== length) throw new Error(`response body ended after ${at} of ${length} bytes`);
  return out;
}
