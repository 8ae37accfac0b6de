// The S3 gateway's HTTP server: SigV4 authentication, routing of the S3 REST API (path-style) to object
// operations run as the access key's uid/gid, S3 XML replies and errors, health and metrics endpoints,
// keep-alive and graceful shutdown.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { FsError } from '../errors.js';
// Registers the object store backends (file://, mem://, s3://) for the volume this process opens.
import '../object/index.js';
import type { Volume } from '../sdk/volume.js';
import type { ClientConfig } from '../client/index.js';
import { Volume as VolumeClass } from '../sdk/volume.js';
import { BodyHasher, checksumAlgorithm, validContentMd5 } from './checksum.js';
import { decodeAwsChunked, streamingMode } from './chunked.js';
import { fromFsError, s3err, S3Error } from './errors.js';
import { parseRange, preconditions, readSmall, sendEmpty, sendError, sendXml, urlEncodeKey } from './http.js';
import { keysOf, type KeyTable } from './keys.js';
import { Walker, type ListItem } from './listing.js';
import { Metrics } from './metrics.js';
import { MAX_PARTS, Multipart } from './multipart.js';
import { EMPTY_MD5, Objects, metaFromHeaders, mtimeOf, type ObjectInfo } from './objects.js';
import { bucketNode, checkBucketName, keyPath, walkParts } from './paths.js';
import { header, isSigned, pctDecode, verify, type SignedRequest, type Verified } from './sigv4.js';
import { XML_LIMITS, child, childText, parseXml, type XmlLimits, type XmlNode } from './xml.js';
import { cmpKey } from './keyorder.js';

export interface GatewayOptions {
  /** Open this volume (owned: closed by close()) ... */
  metaUrl?: string;
  /** ... or serve an already open one (not closed by close()). Its identity should be root. */
  volume?: Volume;
  /** host:port, port 0 picks one (default 127.0.0.1:9000). */
  address?: string;
  tls?: { cert: string; key: string };
  /** Serve unsigned requests as this uid/gid (off unless given). */
  anonymous?: { uid: number; gid: number };
  region?: string;
  /** Mode of buckets created over S3 (default 0755: only the creating key writes). */
  bucketMode?: number;
  /** Seconds of attribute/entry caching for a volume opened here (default 0: S3's read-after-write). */
  cacheTimeout?: number;
  /** Access log lines (one per request) go here when set. */
  log?: (line: string) => void;
  /** Where internal errors are reported (default stderr). */
  errorLog?: (line: string) => void;
  /** Smallest multipart part but the last (default 5 MiB, as S3). */
  minPartSize?: number;
  /** The client settings of a volume opened here (caches, write-back: see docs/cache.md); metaUrl is the one above. */
  client?: Omit<ClientConfig, 'metaUrl'>;
  /** Write-back summaries and warnings of the client (default stderr). */
  clientLog?: (line: string) => void;
}

interface Identity {
  vol: Volume;
  accessKey?: string;
  uid: number;
  verified?: Verified;
}

interface Call {
  id: string;
  req: IncomingMessage;
  res: ServerResponse;
  bucket: string;
  key: string;
  rawKey: boolean;
  query: URLSearchParams;
  who: Identity;
  resource: string;
  op: string;
}

const MAX_PUT = 5 * 1024 ** 3;
const KEY_RELOAD_MS = 5000;

function hdr(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function pairHeaders(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

function quote(etag: string): string {
  return `"${etag}"`;
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

export class Gateway {
  private server!: Server;
  private keys: KeyTable = {};
  private keysLoaded = 0;
  private reloadTimer?: NodeJS.Timeout;
  private readonly views = new Map<string, Volume>();
  private readonly objects = new Objects();
  private readonly multipart = new Multipart(this.objects);
  readonly metrics = new Metrics();
  private inflight = 0;
  private closing?: Promise<void>;
  private idle?: () => void;
  url = '';

  private constructor(private readonly root: Volume, private readonly owned: boolean, private readonly opts: GatewayOptions) {
    if (opts.minPartSize !== undefined) this.objects.minPartSize = opts.minPartSize;
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    let vol = opts.volume;
    const owned = !vol;
    if (!vol) {
      if (!opts.metaUrl) throw new Error('a metadata URL or an open volume is needed');
      const t = opts.cacheTimeout ?? 0;
      const config: ClientConfig = { sessionLabel: 's3-gateway', ...opts.client, metaUrl: opts.metaUrl, metaCache: { attrTimeout: t, entryTimeout: t } };
      vol = await VolumeClass.open(config, { uid: 0, gid: 0, gids: [0], log: opts.clientLog });
    }
    const g = new Gateway(vol, owned, opts);
    try {
      await g.objects.prepare(vol);
      await g.reloadKeys();
      await g.listen();
    } catch (e) {
      if (owned) await vol.close().catch(() => undefined);
      throw e;
    }
    return g;
  }

  private async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    if (this.opts.tls) {
      const [cert, key] = await Promise.all([readFile(this.opts.tls.cert), readFile(this.opts.tls.key)]);
      this.server = createHttps({ cert, key }, handler);
    } else this.server = createHttp(handler);
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 35_000;
    // Big uploads take long; a stalled socket is what gets cut.
    this.server.requestTimeout = 0;
    this.server.setTimeout(5 * 60_000);
    const addr = this.opts.address ?? '127.0.0.1:9000';
    const i = addr.lastIndexOf(':');
    const host = i >= 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : '127.0.0.1';
    const port = Number(i >= 0 ? addr.slice(i + 1) : addr);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad address '${addr}' (expected HOST:PORT)`);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host || '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.url = `${this.opts.tls ? 'https' : 'http'}://${h}:${a.port}`;
    this.reloadTimer = setInterval(() => void this.reloadKeys().catch(() => undefined), KEY_RELOAD_MS);
    this.reloadTimer.unref();
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private async reloadKeys(): Promise<void> {
    this.keysLoaded = Date.now();
    this.keys = keysOf(await this.root.meta.load());
  }

  /** Stops accepting, lets requests in flight finish (up to graceMs), then closes the volume if it owns it. */
  close(graceMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      if (this.reloadTimer) clearInterval(this.reloadTimer);
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      this.server.closeIdleConnections();
      if (this.inflight > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, graceMs);
          this.idle = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      this.server.closeAllConnections();
      await closed;
      if (this.owned) await this.root.close();
    })();
    return this.closing;
  }

  private view(uid: number, gid: number, gids?: number[]): Volume {
    const k = `${uid}:${gid}:${(gids ?? []).join(',')}`;
    let v = this.views.get(k);
    if (!v) {
      v = this.root.asUser(uid, gid, gids?.length ? [gid, ...gids] : [gid]);
      this.views.set(k, v);
    }
    return v;
  }

  private async authenticate(req: IncomingMessage, rawPath: string, rawQuery: string, query: URLSearchParams): Promise<Identity> {
    const sreq: SignedRequest = { method: req.method ?? 'GET', rawPath, rawQuery, headers: pairHeaders(req.rawHeaders) };
    if (!isSigned(sreq, query)) {
      const a = this.opts.anonymous;
      if (!a) throw s3err('AccessDenied', 'Anonymous access is not enabled on this gateway; sign requests with an access key.');
      return { vol: this.view(a.uid, a.gid), uid: a.uid };
    }
    const ak = /Credential=([^/,\s]+)\//.exec(header(sreq, 'authorization') ?? '')?.[1] ?? query.get('X-Amz-Credential')?.split('/')[0];
    if (ak && !this.keys[ak] && Date.now() - this.keysLoaded > 1000) await this.reloadKeys();
    const v = verify(sreq, query, (k) => this.keys[k]?.secret);
    const key = this.keys[v.accessKey]!;
    return { vol: this.view(key.uid, key.gid, key.gids), accessKey: v.accessKey, uid: key.uid, verified: v };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = randomBytes(8).toString('hex').toUpperCase();
    const started = performance.now();
    res.setHeader('x-amz-request-id', id);
    res.setHeader('x-amz-id-2', id);
    res.setHeader('Server', 'FerryFS');
    this.inflight++;
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    let op = 'unknown';
    let resource = rawPath;
    try {
      if (rawPath === '/-/health' || rawPath === '/-/ready') {
        op = 'health';
        const body = this.closing ? 'shutting down\n' : 'ok\n';
        res.writeHead(this.closing ? 503 : 200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
        res.end(body);
        return;
      }
      if (rawPath === '/-/metrics') {
        op = 'metrics';
        const body = this.metrics.render(this.inflight);
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (this.closing) {
        res.setHeader('Connection', 'close');
        throw s3err('ServiceUnavailable');
      }
      if (!rawPath.startsWith('/')) throw s3err('InvalidRequest', 'Only path-style requests are supported.');
      const query = new URLSearchParams(rawQuery);
      const who = await this.authenticate(req, rawPath, rawQuery, query);
      const slash = rawPath.indexOf('/', 1);
      const bucket = pctDecode(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
      const key = slash < 0 ? '' : pctDecode(rawPath.slice(slash + 1));
      resource = bucket ? `/${bucket}${key ? '/' + key : ''}` : '/';
      const call: Call = { id, req, res, bucket, key, rawKey: slash >= 0, query, who, resource, op };
      await this.route(call);
      op = call.op;
    } catch (e) {
      let err: S3Error;
      if (e instanceof S3Error) err = e;
      else if (e instanceof FsError && ['EACCES', 'EPERM', 'EROFS', 'EDQUOT', 'ENOSPC', 'ENAMETOOLONG'].includes(e.code)) err = fromFsError(e);
      else if (req.destroyed || (e as { code?: string })?.code === 'ECONNRESET' || (e as Error)?.message === 'aborted') {
        // The client went away in the middle of its body: nothing to report, nobody to tell.
        err = s3err('IncompleteBody');
      }
      else {
        err = s3err('InternalError');
        const msg = process.env.FERRY_DEBUG ? ((e as Error)?.stack ?? String(e)) : String((e as Error)?.message ?? e);
        (this.opts.errorLog ?? ((l: string) => process.stderr.write(l + '\n')))(`ferry gateway: request ${id} ${req.method} ${resource}: ${msg}`);
      }
      sendError(req, res, err, resource, id);
    } finally {
      this.metrics.observe(op, res.statusCode, performance.now() - started);
      this.opts.log?.(`${new Date().toISOString()} ${id} ${req.method} ${url} ${res.statusCode} ${op} ${(performance.now() - started).toFixed(1)}ms`);
      if (--this.inflight === 0 && this.idle) this.idle();
    }
  }

  // ---- routing ----

  private async route(c: Call): Promise<void> {
    const m = c.req.method;
    const q = c.query;
    if (!c.bucket) {
      if (m === 'GET') return this.listBuckets(c);
      throw s3err('MethodNotAllowed');
    }
    if (!c.key) {
      if (m === 'PUT') {
        if (q.size > 0) throw s3err('NotImplemented', `Bucket sub-resource '${[...q.keys()][0]}' is not implemented.`);
        return this.createBucket(c);
      }
      if (m === 'DELETE') {
        if (q.size > 0) throw s3err('NotImplemented');
        c.op = 'DeleteBucket';
        await this.objects.deleteBucket(c.who.vol, c.bucket);
        return sendEmpty(c.res, 204);
      }
      if (m === 'HEAD') {
        c.op = 'HeadBucket';
        await this.objects.headBucket(c.who.vol, c.bucket);
        return sendEmpty(c.res, 200, { 'x-amz-bucket-region': this.region });
      }
      if (m === 'POST' && q.has('delete')) return this.deleteObjects(c);
      if (m === 'GET') {
        if (q.has('location')) {
          c.op = 'GetBucketLocation';
          await this.objects.headBucket(c.who.vol, c.bucket);
          const loc = this.region === 'us-east-1' ? '' : this.region;
          const text = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${loc}</LocationConstraint>`;
          c.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
          c.res.end(text);
          return;
        }
        if (q.has('uploads')) return this.listUploads(c);
        if (q.has('versioning')) {
          c.op = 'GetBucketVersioning';
          await this.objects.headBucket(c.who.vol, c.bucket);
          return sendXml(c.res, 200, 'VersioningConfiguration', {});
        }
        if (q.has('acl')) return this.getAcl(c, true);
        for (const sub of ['policy', 'cors', 'lifecycle', 'tagging', 'website', 'replication', 'encryption', 'object-lock', 'notification', 'logging', 'ownershipControls', 'publicAccessBlock', 'accelerate', 'requestPayment', 'versions', 'analytics', 'metrics', 'inventory', 'intelligent-tiering']) {
          if (q.has(sub)) throw s3err('NotImplemented', `Bucket sub-resource '${sub}' is not implemented.`);
        }
        return this.listObjects(c, q.get('list-type') === '2');
      }
      throw s3err('MethodNotAllowed');
    }
    const uploadId = q.get('uploadId');
    if (m === 'PUT') {
      if (uploadId !== null) return hdr(c.req, 'x-amz-copy-source') ? this.uploadPartCopy(c, uploadId) : this.uploadPart(c, uploadId);
      if (q.has('tagging') || q.has('acl') || q.has('retention') || q.has('legal-hold')) throw s3err('NotImplemented');
      return hdr(c.req, 'x-amz-copy-source') ? this.copyObject(c) : this.putObject(c);
    }
    if (m === 'GET' || m === 'HEAD') {
      if (uploadId !== null && m === 'GET') return this.listParts(c, uploadId);
      if (q.has('acl') && m === 'GET') return this.getAcl(c, false);
      if (q.has('tagging') && m === 'GET') {
        // Tags are not stored; an empty set lets clients that copy tags along (awscli) go on.
        c.op = 'GetObjectTagging';
        await this.objects.stat(c.who.vol, c.bucket, c.key);
        return sendXml(c.res, 200, 'Tagging', { TagSet: {} });
      }
      if (q.has('tagging') || q.has('attributes') || q.has('torrent')) throw s3err('NotImplemented');
      return this.getObject(c, m === 'HEAD');
    }
    if (m === 'DELETE') {
      if (uploadId !== null) {
        c.op = 'AbortMultipartUpload';
        await this.multipart.abort(c.who.vol, c.bucket, c.key, uploadId);
        return sendEmpty(c.res, 204);
      }
      c.op = 'DeleteObject';
      await this.objects.deleteObject(c.who.vol, c.bucket, c.key);
      return sendEmpty(c.res, 204);
    }
    if (m === 'POST') {
      if (q.has('uploads')) return this.createUpload(c);
      if (uploadId !== null) return this.completeUpload(c, uploadId);
      throw s3err('NotImplemented');
    }
    throw s3err('MethodNotAllowed');
  }

  private get region(): string {
    return this.opts.region ?? 'us-east-1';
  }

  private owner(c: Call): XmlNode {
    return { ID: String(c.who.uid), DisplayName: c.who.accessKey ?? `uid-${c.who.uid}` };
  }

  // ---- bodies ----

  /** The request body decoded (aws-chunked) and checked (payload hash, Content-MD5, checksums) as it streams. */
  private body(c: Call): { body: AsyncIterable<Buffer>; hasher: BodyHasher; expect: number | undefined; verify: () => string } {
    const v = c.who.verified;
    const ph = v?.payloadHash ?? hdr(c.req, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
    const mode = streamingMode(ph);
    const md5 = hdr(c.req, 'content-md5');
    if (md5 !== undefined && !validContentMd5(md5)) throw s3err('InvalidDigest');
    const trailers = new Map<string, string>();
    let expect: number | undefined;
    if (mode) {
      const d = hdr(c.req, 'x-amz-decoded-content-length');
      expect = d !== undefined ? Number(d) : undefined;
    } else {
      const l = hdr(c.req, 'content-length');
      expect = l !== undefined ? Number(l) : undefined;
    }
    if (expect !== undefined && (!Number.isSafeInteger(expect) || expect < 0)) throw s3err('InvalidArgument', 'Bad Content-Length.');
    if (expect === undefined && hdr(c.req, 'transfer-encoding') === undefined && c.req.method === 'PUT') throw s3err('MissingContentLength');
    if (expect !== undefined && expect > MAX_PUT) throw s3err('EntityTooLarge');
    const hasher = new BodyHasher(mode || !v ? undefined : ph, checksumAlgorithm(c.req.headers));
    const body = mode ? decodeAwsChunked(c.req, mode, v?.seed, trailers) : (c.req as AsyncIterable<Buffer>);
    const verifyFn = () => {
      const sums = new Map(trailers);
      for (const [k, val] of Object.entries(c.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof val === 'string') sums.set(k, val);
      return hasher.finish(md5, sums);
    };
    return { body, hasher, expect, verify: verifyFn };
  }

  private async smallBody(c: Call, limits: XmlLimits): Promise<string> {
    const b = this.body(c);
    if (b.expect !== undefined && b.expect > limits.maxBytes) throw s3err('MaxMessageLengthExceeded', 'Your request was too big.');
    const buf = await readSmall(b.body, limits.maxBytes);
    b.hasher.update(buf);
    b.verify();
    return buf.toString('utf8');
  }

  // ---- buckets ----

  private async listBuckets(c: Call): Promise<void> {
    c.op = 'ListBuckets';
    const list = await this.objects.listBuckets(c.who.vol);
    sendXml(c.res, 200, 'ListAllMyBucketsResult', {
      Owner: this.owner(c),
      Buckets: { Bucket: list.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
    });
  }

  private async createBucket(c: Call): Promise<void> {
    c.op = 'CreateBucket';
    const text = await this.smallBody(c, XML_LIMITS.CreateBucket);
    if (text.trim()) {
      try {
        parseXml(text, XML_LIMITS.CreateBucket);
      } catch {
        throw s3err('MalformedXML');
      }
    }
    await this.objects.createBucket(c.who.vol, c.bucket, this.opts.bucketMode ?? 0o755);
    sendEmpty(c.res, 200, { Location: `/${c.bucket}` });
  }

  private async getAcl(c: Call, bucket: boolean): Promise<void> {
    c.op = bucket ? 'GetBucketAcl' : 'GetObjectAcl';
    if (bucket) await this.objects.headBucket(c.who.vol, c.bucket);
    else await this.objects.stat(c.who.vol, c.bucket, c.key);
    sendXml(c.res, 200, 'AccessControlPolicy', {
      Owner: this.owner(c),
      AccessControlList: { Grant: { Grantee: this.owner(c), Permission: 'FULL_CONTROL' } },
    });
  }

  // ---- listing ----

  private async listObjects(c: Call, v2: boolean): Promise<void> {
    c.op = v2 ? 'ListObjectsV2' : 'ListObjects';
    const q = c.query;
    const vol = c.who.vol;
    const b = await this.objects.headBucket(vol, c.bucket);
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const mk = q.get('max-keys');
    const maxKeys = mk === null ? 1000 : Number(mk);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw s3err('InvalidArgument', 'max-keys must be a non-negative integer.');
    const limit = Math.min(maxKeys, 1000);
    const enc = q.get('encoding-type');
    if (enc !== null && enc !== 'url') throw s3err('InvalidArgument', 'Invalid Encoding Method specified in Request');
    const e = (s: string) => (enc === 'url' ? urlEncodeKey(s) : s);
    let after: string | undefined;
    const token = q.get('continuation-token');
    if (v2) {
      if (token !== null) {
        after = Buffer.from(token, 'base64url').toString('utf8');
        if (!token || b64url(after) !== token.replace(/=+$/, '')) throw s3err('InvalidArgument', 'The continuation token provided is incorrect.');
      } else after = q.get('start-after') || undefined;
    } else after = q.get('marker') || undefined;

    const items: ListItem[] = [];
    let truncated = false;
    if (limit > 0) {
      const it = this.iterate(vol, b.ino, prefix, delimiter, after);
      for await (const item of it) {
        if (items.length === limit) {
          truncated = true;
          break;
        }
        items.push(item);
      }
      await it.return(undefined);
    }
    const contents: XmlNode[] = [];
    const prefixes: XmlNode[] = [];
    for (const it of items) {
      if (it.kind === 'prefix') {
        prefixes.push({ Prefix: e(it.key) });
        continue;
      }
      let attr = it.attr;
      let etag = EMPTY_MD5;
      let size = 0;
      if (it.dir) attr ??= await vol.vfs.getattr(vol.ctx, it.ino);
      else {
        etag = await this.objects.etagOf(vol, it.ino, attr!);
        size = attr!.length;
      }
      const entry: XmlNode = { Key: e(it.key), LastModified: mtimeOf(attr!).toISOString(), ETag: quote(etag), Size: size, StorageClass: 'STANDARD' };
      if (!v2 || q.get('fetch-owner') === 'true') entry.Owner = { ID: String(attr!.uid), DisplayName: `uid-${attr!.uid}` };
      contents.push(entry);
    }
    const last = items.length ? items[items.length - 1]!.key : undefined;
    const body: XmlNode = { Name: c.bucket, Prefix: e(prefix) };
    if (v2) {
      Object.assign(body, {
        MaxKeys: maxKeys,
        KeyCount: items.length,
        ...(delimiter ? { Delimiter: e(delimiter) } : {}),
        IsTruncated: truncated,
        ...(token !== null ? { ContinuationToken: token } : {}),
        ...(truncated && last !== undefined ? { NextContinuationToken: b64url(last) } : {}),
        ...(q.get('start-after') ? { StartAfter: e(q.get('start-after')!) } : {}),
      });
    } else {
      Object.assign(body, {
        Marker: e(q.get('marker') ?? ''),
        ...(truncated && last !== undefined ? { NextMarker: e(last) } : {}),
        MaxKeys: maxKeys,
        ...(delimiter ? { Delimiter: e(delimiter) } : {}),
        IsTruncated: truncated,
      });
    }
    if (enc) body.EncodingType = enc;
    body.Contents = contents;
    body.CommonPrefixes = prefixes;
    sendXml(c.res, 200, 'ListBucketResult', body);
  }

  /** Objects and common prefixes of a bucket in key order, after `after`. */
  private async *iterate(vol: Volume, bucketIno: number, prefix: string, delimiter: string, after: string | undefined): AsyncGenerator<ListItem> {
    const cut = prefix.lastIndexOf('/');
    const dirPart = prefix.slice(0, cut + 1);
    const namePrefix = prefix.slice(cut + 1);
    const parts = dirPart.split('/').slice(0, -1);
    if (parts.some((p) => p === '' || p === '.' || p === '..')) return;
    const dir = await walkParts(vol, bucketIno, parts);
    if (!dir || dir.attr.type !== 2) return;
    if (after !== undefined && cmpKey(after, prefix) < 0) after = undefined;
    const rollup = delimiter === '/';
    const walker = new Walker(vol);
    const items = walker.walk(dir.ino, dirPart, { after, namePrefix, rollup, isMarker: (ino) => this.objects.isMarker(vol, ino) });
    if (!delimiter || rollup) {
      yield* items;
      return;
    }
    let lastPrefix: string | undefined;
    for await (const it of items) {
      const rest = it.key.slice(prefix.length);
      const i = rest.indexOf(delimiter);
      if (i < 0) {
        yield it;
        continue;
      }
      const cp = prefix + rest.slice(0, i + delimiter.length);
      if (cp === lastPrefix || cp === after) continue;
      lastPrefix = cp;
      yield { key: cp, kind: 'prefix', ino: it.ino };
    }
  }

  private async listUploads(c: Call): Promise<void> {
    c.op = 'ListMultipartUploads';
    await this.objects.headBucket(c.who.vol, c.bucket);
    const q = c.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const idMarker = q.get('upload-id-marker') ?? '';
    const max = Math.min(Number(q.get('max-uploads') ?? 1000) || 1000, 1000);
    const all = await this.multipart.listUploads(this.root, c.bucket);
    const uploads: XmlNode[] = [];
    const prefixes: string[] = [];
    let truncated = false;
    let nextKey = '';
    let nextId = '';
    for (const u of all) {
      if (!u.key.startsWith(prefix)) continue;
      if (keyMarker && (cmpKey(u.key, keyMarker) < 0 || (u.key === keyMarker && (!idMarker || u.id <= idMarker)))) continue;
      if (delimiter) {
        const i = u.key.indexOf(delimiter, prefix.length);
        if (i >= 0) {
          const cp = u.key.slice(0, i + delimiter.length);
          if (prefixes[prefixes.length - 1] !== cp) {
            if (uploads.length + prefixes.length === max) {
              truncated = true;
              break;
            }
            prefixes.push(cp);
          }
          continue;
        }
      }
      if (uploads.length + prefixes.length === max) {
        truncated = true;
        break;
      }
      uploads.push({ Key: u.key, UploadId: u.id, Initiator: this.owner(c), Owner: this.owner(c), StorageClass: 'STANDARD', Initiated: u.initiated });
      nextKey = u.key;
      nextId = u.id;
    }
    sendXml(c.res, 200, 'ListMultipartUploadsResult', {
      Bucket: c.bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: idMarker,
      NextKeyMarker: truncated ? nextKey : undefined,
      NextUploadIdMarker: truncated ? nextId : undefined,
      ...(delimiter ? { Delimiter: delimiter } : {}),
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: truncated,
      Upload: uploads,
      CommonPrefixes: prefixes.map((p) => ({ Prefix: p })),
    });
  }

  // ---- objects ----

  private async getObject(c: Call, head: boolean): Promise<void> {
    c.op = head ? 'HeadObject' : 'GetObject';
    const vol = c.who.vol;
    const info = await this.objects.stat(vol, c.bucket, c.key);
    const pre = preconditions(c.req.headers, info.etag, info.mtime);
    if (pre === 412) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
    const meta = info.marker ? { headers: {}, user: {} } : await this.objects.metaOf(vol, info.ino);
    const headers: Record<string, string | number> = {
      ETag: quote(info.etag),
      'Last-Modified': info.mtime.toUTCString(),
      'Accept-Ranges': 'bytes',
      'Content-Type': 'binary/octet-stream',
    };
    for (const [k, v] of Object.entries(meta.headers)) headers[k] = v;
    for (const [k, v] of Object.entries(meta.user)) headers[`x-amz-meta-${k}`] = v;
    if (info.etag.includes('-') && !info.etag.endsWith('-1')) headers['x-amz-mp-parts-count'] = info.etag.slice(info.etag.indexOf('-') + 1);
    for (const [qk, hk] of [
      ['response-content-type', 'Content-Type'],
      ['response-content-language', 'Content-Language'],
      ['response-expires', 'Expires'],
      ['response-cache-control', 'Cache-Control'],
      ['response-content-disposition', 'Content-Disposition'],
      ['response-content-encoding', 'Content-Encoding'],
    ] as const) {
      const v = c.query.get(qk);
      if (v !== null) headers[hk] = v;
    }
    if (pre === 304) {
      c.res.writeHead(304, { ETag: headers.ETag!, 'Last-Modified': headers['Last-Modified']! });
      c.res.end();
      return;
    }
    const range = info.marker ? undefined : parseRange(hdr(c.req, 'range'), info.size);
    const path = keyPath(c.bucket, c.key.split('/').filter(Boolean));
    if (head || info.size === 0) {
      if (!info.marker) {
        try {
          await vol.vfs.access(vol.ctx, info.ino, 4);
        } catch (e) {
          if (e instanceof FsError) throw fromFsError(e);
          throw e;
        }
      }
      if (range) {
        headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
        headers['Content-Length'] = range.end - range.start + 1;
      } else headers['Content-Length'] = info.size;
      c.res.writeHead(range ? 206 : 200, headers);
      c.res.end();
      return;
    }
    const fh = await this.objects.openRead(vol, info, path);
    const start = range?.start ?? 0;
    const end = range?.end ?? info.size - 1;
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
    headers['Content-Length'] = end - start + 1;
    const rs = fh.createReadStream({ start, end, highWaterMark: 1 << 20 });
    c.res.writeHead(range ? 206 : 200, headers);
    try {
      await pipeline(rs, c.res);
    } catch {
      // The client went away, or a read failed after the headers were sent: the connection is cut.
      c.res.destroy();
    }
  }

  private async putObject(c: Call): Promise<void> {
    c.op = 'PutObject';
    checkBucketName(c.bucket, false);
    const meta = metaFromHeaders(c.req.headers);
    const b = this.body(c);
    const etag = await this.objects.putObject(c.who.vol, c.bucket, c.key, b.body, b.hasher, b.expect, b.verify, meta);
    sendEmpty(c.res, 200, { ETag: quote(etag) });
  }

  private copySource(c: Call): { bucket: string; key: string } {
    let raw = hdr(c.req, 'x-amz-copy-source')!;
    const vi = raw.indexOf('?versionId=');
    if (vi >= 0) raw = raw.slice(0, vi);
    const d = pctDecode(raw).replace(/^\//, '');
    const s = d.indexOf('/');
    if (s <= 0 || s === d.length - 1) throw s3err('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
    return { bucket: d.slice(0, s), key: d.slice(s + 1) };
  }

  private copyConditions(c: Call): (info: { etag: string; mtime: Date }) => void {
    return (info) => {
      const pre = preconditions(c.req.headers, info.etag, info.mtime, 'x-amz-copy-source-');
      if (pre !== undefined) throw s3err('PreconditionFailed');
    };
  }

  private async copyObject(c: Call): Promise<void> {
    c.op = 'CopyObject';
    const src = this.copySource(c);
    const directive = (hdr(c.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw s3err('InvalidArgument', 'Unknown metadata directive.');
    await readSmall(c.req, 0).catch(() => {
      throw s3err('InvalidRequest', 'A copy request must not have a body.');
    });
    const r = await this.objects.copyObject(c.who.vol, src, { bucket: c.bucket, key: c.key }, directive === 'REPLACE' ? metaFromHeaders(c.req.headers) : undefined, this.copyConditions(c));
    sendXml(c.res, 200, 'CopyObjectResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag) });
  }

  // ---- multipart ----

  private async createUpload(c: Call): Promise<void> {
    c.op = 'CreateMultipartUpload';
    await readSmall(c.req, 1 << 16);
    const id = await this.multipart.create(c.who.vol, c.bucket, c.key, metaFromHeaders(c.req.headers));
    sendXml(c.res, 200, 'InitiateMultipartUploadResult', { Bucket: c.bucket, Key: c.key, UploadId: id });
  }

  private partNumber(c: Call): number {
    const n = Number(c.query.get('partNumber'));
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    return n;
  }

  private async uploadPart(c: Call, id: string): Promise<void> {
    c.op = 'UploadPart';
    const n = this.partNumber(c);
    const b = this.body(c);
    const etag = await this.multipart.uploadPart(c.who.vol, c.bucket, c.key, id, n, b.body, b.hasher, b.expect, b.verify);
    sendEmpty(c.res, 200, { ETag: quote(etag) });
  }

  private async uploadPartCopy(c: Call, id: string): Promise<void> {
    c.op = 'UploadPartCopy';
    const n = this.partNumber(c);
    const r = await this.multipart.uploadPartCopy(c.who.vol, c.bucket, c.key, id, n, this.copySource(c), hdr(c.req, 'x-amz-copy-source-range'), this.copyConditions(c));
    sendXml(c.res, 200, 'CopyPartResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag) });
  }

  private async listParts(c: Call, id: string): Promise<void> {
    c.op = 'ListParts';
    const marker = Number(c.query.get('part-number-marker') ?? 0) || 0;
    const max = Math.min(Number(c.query.get('max-parts') ?? 1000) || 1000, 1000);
    const r = await this.multipart.listParts(c.who.vol, c.bucket, c.key, id, marker, max);
    const last = r.parts[r.parts.length - 1];
    sendXml(c.res, 200, 'ListPartsResult', {
      Bucket: c.bucket,
      Key: c.key,
      UploadId: id,
      Initiator: this.owner(c),
      Owner: this.owner(c),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: last ? last.number : undefined,
      MaxParts: max,
      IsTruncated: r.truncated,
      Part: r.parts.map((p) => ({ PartNumber: p.number, LastModified: p.mtime.toISOString(), ETag: quote(p.etag), Size: p.size })),
    });
  }

  private async completeUpload(c: Call, id: string): Promise<void> {
    c.op = 'CompleteMultipartUpload';
    const text = await this.smallBody(c, XML_LIMITS.CompleteMultipartUpload);
    let parts: Array<{ number: number; etag: string }>;
    try {
      const doc = parseXml(text, XML_LIMITS.CompleteMultipartUpload);
      if (doc.name !== 'CompleteMultipartUpload') throw new Error('root');
      parts = doc.children
        .filter((p) => p.name === 'Part')
        .map((p) => ({ number: Number(childText(p, 'PartNumber')), etag: childText(p, 'ETag') ?? '' }));
      if (parts.some((p) => !Number.isInteger(p.number))) throw new Error('part number');
    } catch {
      throw s3err('MalformedXML');
    }
    const etag = await this.multipart.complete(c.who.vol, c.bucket, c.key, id, parts);
    sendXml(c.res, 200, 'CompleteMultipartUploadResult', { Location: `/${c.bucket}/${c.key}`, Bucket: c.bucket, Key: c.key, ETag: quote(etag) });
  }

  // ---- batch delete ----

  private async deleteObjects(c: Call): Promise<void> {
    c.op = 'DeleteObjects';
    await bucketNode(c.who.vol, c.bucket);
    const text = await this.smallBody(c, XML_LIMITS.DeleteObjects);
    let keys: string[];
    let quiet = false;
    try {
      const doc = parseXml(text, XML_LIMITS.DeleteObjects);
      if (doc.name !== 'Delete') throw new Error('root');
      quiet = childText(doc, 'Quiet')?.trim() === 'true';
      keys = doc.children.filter((o) => o.name === 'Object').map((o) => {
        const k = child(o, 'Key');
        if (!k) throw new Error('key');
        return k.text;
      });
    } catch {
      throw s3err('MalformedXML');
    }
    if (keys.length > 1000) throw s3err('MalformedXML', 'At most 1000 keys can be deleted at once.');
    const deleted: XmlNode[] = [];
    const errors: XmlNode[] = [];
    for (const k of keys) {
      try {
        await this.objects.deleteObject(c.who.vol, c.bucket, k);
        if (!quiet) deleted.push({ Key: k });
      } catch (e) {
        const err = e instanceof S3Error ? e : e instanceof FsError ? fromFsError(e) : s3err('InternalError');
        errors.push({ Key: k, Code: err.code, Message: err.message });
      }
    }
    sendXml(c.res, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
  }
}

export type { ObjectInfo };
