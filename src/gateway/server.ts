// The S3 gateway's HTTP server: its lifecycle (listen, keep-alive, graceful shutdown), SigV4 authentication
// to a view of the namespace as the access key's uid/gid, health and metrics endpoints, the access log, and
// S3 errors for whatever an operation throws. Which operation serves a request is in routes.ts.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FsError } from '../errors.js';
import { listenOn, Requests, type ClientConfig } from '../client/index.js';
import type { VfsView } from '../vfs/view.js';
import type { Call, Identity, Services } from './call.js';
import { openGatewayClient, type GatewayClient } from './client.js';
import { fromFsError, s3err, S3Error } from './errors.js';
import { sendError } from './http.js';
import { keysOf, type GatewayKey, type KeyTable } from './keys.js';
import { KeyScopes, objectUmask } from '../vfs/scope.js';
import { checkHeaderSection, hardenServer, limitsOf, type GatewayLimits } from './limits.js';
import { runLifecycle, type LifecycleReport } from './lifecycle-job.js';
import { GatewayMetrics } from './metrics.js';
import { Multipart } from './multipart.js';
import { Objects, type ObjectInfo } from './objects.js';
import { isFormPostRequest } from './ops/post-object.js';
import { route } from './routes.js';
import { header, isSigned, pctDecode, verify, type SignedRequest } from './sigv4.js';

export interface GatewayOptions {
  /** The volume to serve. */
  metaUrl: string;
  /** host:port, port 0 picks one (default 127.0.0.1:9000). */
  address?: string;
  tls?: { cert: string; key: string };
  /** Serve unsigned requests as this uid/gid (off unless given). */
  anonymous?: { uid: number; gid: number };
  region?: string;
  /** Mode of buckets created over S3 (default 0700: owner-private, as S3; a key's own bucketMode wins). */
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
  /** Request head size and slow-client timeouts (limits.ts; unset ones are DEFAULT_LIMITS). */
  limits?: Partial<GatewayLimits>;
}

const KEY_RELOAD_MS = 5000;
/** How often completed multipart uploads kept for repeated Completes are looked at for removal. */
const UPLOAD_SWEEP_MS = 5 * 60 * 1000;
/** How often the buckets' lifecycle rules are carried out (they count in days: a few minutes late is on time). */
const LIFECYCLE_MS = 5 * 60 * 1000;
/** Browser requests (an OPTIONS preflight, a form POST) carry no signature; this identity may do nothing until the form says who. */
const NOBODY = 65534;

function pairHeaders(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export class Gateway {
  private server!: Server;
  private keys: KeyTable = {};
  private keysLoaded = 0;
  private reloadTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private lifecycleTimer?: NodeJS.Timeout;
  private lifecycleRun?: Promise<LifecycleReport>;
  private readonly views = new Map<string, VfsView>();
  private readonly scopes: KeyScopes;
  private readonly services: Services;
  metrics!: GatewayMetrics;
  private readonly requests = new Requests();
  private readonly limits: GatewayLimits;
  private closing?: Promise<void>;
  private handedOver = false;
  url = '';

  private constructor(private readonly client: GatewayClient, private readonly opts: GatewayOptions) {
    // What each key may touch (its subdir, access, buckets, networks, expiry): vfs/scope.ts, for every door.
    this.scopes = new KeyScopes(client.root, KEY_RELOAD_MS, (k) => objectUmask(k.objectMode));
    this.limits = limitsOf(opts.limits);
    const objects = new Objects();
    if (opts.minPartSize !== undefined) objects.minPartSize = opts.minPartSize;
    this.services = {
      objects,
      multipart: new Multipart(objects),
      root: client.root,
      region: opts.region ?? 'us-east-1',
      bucketMode: opts.bucketMode ?? 0o700,
      encrypted: false,
      keyOf: async (ak, from) => {
        if (!this.keys[ak] && Date.now() - this.keysLoaded > 1000) await this.reloadKeys();
        const k = this.keys[ak];
        return k && { who: await this.identity(ak, k, from), secret: k.secret };
      },
      keys: () => this.keys,
      anonymous: opts.anonymous && (() => ({ view: this.view(opts.anonymous!.uid, opts.anonymous!.gid), uid: opts.anonymous!.uid })),
    };
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    if (!opts.metaUrl) throw new Error('a metadata URL is needed');
    const client = await openGatewayClient({ metaUrl: opts.metaUrl, cacheTimeout: opts.cacheTimeout ?? 0, client: opts.client, log: opts.clientLog });
    const g = new Gateway(client, opts);
    try {
      g.metrics = await GatewayMetrics.open(() => g.requests.inFlight);
      await g.services.objects.prepare(client.root);
      await g.services.multipart.sweep(client.root);
      await g.reloadKeys();
      await g.listen();
    } catch (e) {
      g.metrics?.close();
      await client.close().catch(() => undefined);
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
    // Expect: node would answer 100 Continue before the request is authenticated, and a bare 417 to any other
    // expectation; the gateway answers both itself (see handle).
    this.server.on('checkContinue', handler);
    this.server.on('checkExpectation', handler);
    this.server.keepAliveTimeout = 30_000;
    // The head's size and time, a body that stalls, and S3 answers to what node's parser refuses.
    hardenServer(this.server, this.limits);
    // Big uploads take long; a stalled socket is what gets cut.
    this.server.requestTimeout = 0;
    this.server.setTimeout(5 * 60_000);
    this.url = await listenOn(this.server, this.opts.address ?? '127.0.0.1:9000', this.opts.tls ? 'https' : 'http');
    this.reloadTimer = setInterval(() => void this.reloadKeys().catch(() => undefined), KEY_RELOAD_MS);
    this.reloadTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweepUploads().catch(() => undefined), UPLOAD_SWEEP_MS);
    this.sweepTimer.unref();
    this.lifecycleTimer = setInterval(() => {
      void this.runLifecycle().then(
        (r) => r.errors.forEach((e) => this.reportError(`lifecycle: ${e}`)),
        (e: unknown) => this.reportError(`lifecycle: ${(e as Error)?.message ?? e}`),
      );
    }, LIFECYCLE_MS);
    this.lifecycleTimer.unref();
  }

  private reportError(line: string): void {
    (this.opts.errorLog ?? ((l: string) => process.stderr.write(l + '\n')))(`ferry gateway: ${line}`);
  }

  /**
   * Carries out the buckets' lifecycle rules as of `now` (a timer runs it every few minutes): deletes the
   * expired objects and aborts the uploads past their days. One run at a time in this gateway.
   */
  runLifecycle(now = Date.now()): Promise<LifecycleReport> {
    this.lifecycleRun ??= runLifecycle(this.client.root, this.services.objects, this.services.multipart, now).finally(() => (this.lifecycleRun = undefined));
    return this.lifecycleRun;
  }

  /** Removes completed multipart uploads kept past their time for repeated Completes (a timer runs it); returns their ids. */
  sweepUploads(now = Date.now()): Promise<string[]> {
    return this.services.multipart.sweep(this.client.root, now);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private async reloadKeys(): Promise<void> {
    this.keysLoaded = Date.now();
    const f = await this.client.loadFormat();
    this.keys = keysOf(f);
    // Fixed at format (a volume is never encrypted or decrypted afterwards): read along with the keys.
    this.services.encrypted = !!f.storage.encryption;
  }

  /** Where --metrics are served (HOST:PORT), when asked for (GET /-/metrics answers on the S3 port too). */
  get metricsAddress(): string | undefined {
    return this.client.metricsAddress;
  }

  /**
   * Stops accepting and drains (client/listen.ts: requests in flight finish, up to graceMs; kept-alive clients
   * are moved off), then closes the client. An upgrade's new process serves the same socket meanwhile.
   */
  close(graceMs = 10_000, handedOver = false): Promise<void> {
    // Handed over to an upgrade's new process, the address goes on serving: health checks reaching this one
    // on a kept-alive connection say ok, not "shutting down" (a load balancer would drop the backend).
    this.handedOver ||= handedOver;
    this.closing ??= (async () => {
      if (this.reloadTimer) clearInterval(this.reloadTimer);
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      if (this.lifecycleTimer) clearInterval(this.lifecycleTimer);
      await Promise.all([this.lifecycleRun?.catch(() => undefined), this.requests.drain(this.server, graceMs)]);
      this.metrics.close();
      await this.client.close();
    })();
    return this.closing;
  }

  /** The namespace as uid/gid see it (anonymous and browser requests): one view per identity, on the same client. */
  private view(uid: number, gid: number, gids?: number[]): VfsView {
    const k = `${uid}:${gid}:${(gids ?? []).join(',')}`;
    let v = this.views.get(k);
    if (!v) {
      // What is created over S3 is owner-private unless a key says otherwise (objectMode).
      v = this.client.root.asUser(uid, gid, gids?.length ? [gid, ...gids] : [gid], objectUmask(undefined));
      this.views.set(k, v);
    }
    return v;
  }

  /** A key's identity: its scoped view (or the refusal: expired, wrong network) from the one place, vfs/scope.ts. */
  private async identity(ak: string, key: GatewayKey, from: string | undefined): Promise<Identity> {
    let view: VfsView;
    try {
      view = await this.scopes.view(ak, key, from);
    } catch (e) {
      if (e instanceof FsError && e.code === 'EACCES') throw s3err('AccessDenied', e.message);
      if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) throw s3err('AccessDenied', `The access key's directory is missing: ${e.message}`);
      throw e;
    }
    return { view, accessKey: ak, uid: key.uid, ...(key.bucketMode !== undefined ? { bucketMode: key.bucketMode } : {}) };
  }

  private async authenticate(req: IncomingMessage, rawPath: string, rawQuery: string, query: URLSearchParams): Promise<Identity> {
    const sreq: SignedRequest = { method: req.method ?? 'GET', rawPath, rawQuery, headers: pairHeaders(req.rawHeaders) };
    if (!isSigned(sreq, query)) {
      const a = this.opts.anonymous;
      if (!a) throw s3err('AccessDenied', 'Anonymous access is not enabled on this gateway; sign requests with an access key.');
      return { view: this.view(a.uid, a.gid), uid: a.uid };
    }
    const ak = /Credential=([^/,\s]+)\//.exec(header(sreq, 'authorization') ?? '')?.[1] ?? query.get('X-Amz-Credential')?.split('/')[0];
    if (ak && !this.keys[ak] && Date.now() - this.keysLoaded > 1000) await this.reloadKeys();
    const v = verify(sreq, query, (k) => this.keys[k]?.secret);
    const key = this.keys[v.accessKey]!;
    return { ...(await this.identity(v.accessKey, key, req.socket.remoteAddress)), verified: v };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = randomBytes(8).toString('hex').toUpperCase();
    const started = performance.now();
    res.setHeader('x-amz-request-id', id);
    res.setHeader('x-amz-id-2', id);
    res.setHeader('Server', 'FerryFS');
    this.requests.track(req, res);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    let op = 'unknown';
    let resource = rawPath;
    let continued = false;
    try {
      if (rawPath === '/-/health' || rawPath === '/-/ready') {
        op = 'health';
        const down = this.closing && !this.handedOver;
        const body = down ? 'shutting down\n' : 'ok\n';
        res.writeHead(down ? 503 : 200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
        res.end(body);
        return;
      }
      if (rawPath === '/-/metrics') {
        op = 'metrics';
        const body = await this.metrics.render();
        res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      // A request on a kept-alive connection while draining is served (the volume is open until the drain
      // ends) and told Connection: close (Requests.track), so its client reconnects to whoever serves next.
      const expect = req.headers.expect;
      if (expect !== undefined && !/^\s*100-continue\s*$/i.test(expect)) throw s3err('ExpectationFailed', undefined, { Expect: expect });
      checkHeaderSection(req, this.limits);
      if (!rawPath.startsWith('/')) throw s3err('InvalidRequest', 'Only path-style requests are supported.');
      const query = new URLSearchParams(rawQuery);
      // A browser's preflight and form upload carry no signature: the CORS rules, or the form's signed policy, decide.
      const browser = req.method === 'OPTIONS' || isFormPostRequest(req.method, rawPath, req.headers['content-type']);
      const who = browser ? { view: this.view(NOBODY, NOBODY), uid: NOBODY } : await this.authenticate(req, rawPath, rawQuery, query);
      // Only an authenticated client is asked for its body.
      if (expect !== undefined) {
        res.writeContinue();
        continued = true;
      }
      const slash = rawPath.indexOf('/', 1);
      const bucket = pctDecode(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
      const key = slash < 0 ? '' : pctDecode(rawPath.slice(slash + 1));
      resource = bucket ? `/${bucket}${key ? '/' + key : ''}` : '/';
      const call: Call = { id, req, res, bucket, key, query, who, op };
      await route(this.services, call);
      op = call.op;
    } catch (e) {
      let err: S3Error;
      const logError = (msg: string) => (this.opts.errorLog ?? ((l: string) => process.stderr.write(l + '\n')))(`ferry gateway: request ${id} ${req.method} ${resource}: ${msg}`);
      if (e instanceof S3Error) {
        err = e;
        // A failure the operation described itself (e.g. a block lost from the object store): the operator hears of it too.
        if (e.code === 'InternalError') logError(e.message);
      } else if (e instanceof FsError && ['EACCES', 'EPERM', 'EROFS', 'EDQUOT', 'ENOSPC', 'ENAMETOOLONG'].includes(e.code)) err = fromFsError(e);
      else if (req.destroyed || (e as { code?: string })?.code === 'ECONNRESET' || (e as Error)?.message === 'aborted') {
        // The client went away in the middle of its body: nothing to report, nobody to tell.
        err = s3err('IncompleteBody');
      }
      else {
        err = s3err('InternalError');
        logError(process.env.FERRY_DEBUG ? ((e as Error)?.stack ?? String(e)) : String((e as Error)?.message ?? e));
      }
      // Said on answers about object data only (routes.ts), never on an error.
      if (!res.headersSent) res.removeHeader('x-amz-server-side-encryption');
      // A client waiting for 100 Continue sends no body: answer now and close instead of waiting for it.
      sendError(req, res, err, resource, id, req.headers.expect === undefined || continued);
    } finally {
      this.metrics.observe(op, res.statusCode, performance.now() - started);
      this.opts.log?.(`${new Date().toISOString()} ${id} ${req.method} ${url} ${res.statusCode} ${op} ${(performance.now() - started).toFixed(1)}ms`);
    }
  }
}

export type { ObjectInfo };
