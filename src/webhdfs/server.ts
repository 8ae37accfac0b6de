// The WebHDFS server: one client of the volume (openClient), a view of it per user, requests under
// /webhdfs/v1 routed by op (routes.ts), errors as Hadoop's RemoteException JSON. Lifecycle as the S3
// gateway's: listen (client/listen.ts), keep-alive, graceful close.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOn, openClient, Requests, type Client, type ClientConfig } from '../client/index.js';
import { FsError } from '../errors.js';
import { userContext, type Format } from '../meta/types.js';

const KEY_RELOAD_MS = 5000;
import { resolveSubdir } from '../vfs/subdir.js';
import { KeyScopes, keyOfToken } from '../vfs/scope.js';
import type { VfsView } from '../vfs/view.js';
import type { Call } from './call.js';
import { fromFsError, hdfsErr, HdfsError, sendError } from './errors.js';
import { Identities, type HdfsUser, type IdentityOptions } from './identity.js';
import { requestPath } from './paths.js';
import { routeOf } from './routes.js';

export interface WebHdfsOptions extends IdentityOptions {
  metaUrl: string;
  /** host:port, port 0 picks one (default 127.0.0.1:9870, the NameNode's HTTP port). */
  address?: string;
  /** Serve this directory of the volume as "/" (it must exist). */
  subdir?: string;
  /** Seconds of attribute/entry caching (default 0: what one client wrote, the next reads). */
  cacheTimeout?: number;
  /** The client settings (caches, write-back); metaUrl is the one above. */
  client?: Omit<ClientConfig, 'metaUrl'>;
  /** Access log lines (one per request) go here when set. */
  log?: (line: string) => void;
  /** Internal errors (default stderr). */
  errorLog?: (line: string) => void;
  /** Write-back summaries and warnings of the client (default stderr). */
  clientLog?: (line: string) => void;
}

export class WebHdfs {
  private server!: Server;
  private readonly views = new Map<string, VfsView>();
  private scopes?: KeyScopes;
  private keys?: Promise<Format>;
  private keysAt = 0;
  private loadedKeys: Record<string, unknown> = {};
  private readonly requests = new Requests();
  private closing?: Promise<void>;
  private handedOver = false;
  url = '';

  private constructor(private readonly client: Client, private readonly root: VfsView, readonly ids: Identities, private readonly opts: WebHdfsOptions) {}

  static async start(opts: WebHdfsOptions): Promise<WebHdfs> {
    if (!opts.metaUrl) throw new Error('a metadata URL is needed');
    const ids = new Identities(opts);
    const t = opts.cacheTimeout ?? 0;
    const client = await openClient(
      { sessionLabel: 'webhdfs', ...opts.client, metaUrl: opts.metaUrl, metaCache: { attrTimeout: t, entryTimeout: t } },
      { log: opts.clientLog },
    );
    try {
      let root = client.view(userContext(0, 0, [0]));
      if (opts.subdir) root = root.within(await resolveSubdir(client.vfs, opts.subdir));
      const w = new WebHdfs(client, root, ids, opts);
      await w.listen();
      return w;
    } catch (e) {
      await client.close().catch(() => undefined);
      throw e;
    }
  }

  private async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = createServer(handler);
    // Expect: 100-continue: only the data step of CREATE/APPEND asks for the body (the first step is redirected).
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (/[?&]data=true(&|$)/i.test(req.url ?? '')) res.writeContinue();
      handler(req, res);
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 35_000;
    this.server.requestTimeout = 0;
    this.server.setTimeout(5 * 60_000);
    this.url = await listenOn(this.server, this.opts.address ?? '127.0.0.1:9870');
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting and drains (client/listen.ts: requests in flight finish, up to graceMs), then closes the client. */
  close(graceMs = 10_000, handedOver = false): Promise<void> {
    // Handed over to an upgrade's new process, the address goes on serving: health checks reaching this one
    // on a kept-alive connection say ok, not "shutting down" (a load balancer would drop the backend).
    this.handedOver ||= handedOver;
    this.closing ??= (async () => {
      await this.requests.drain(this.server, graceMs);
      await this.client.close();
    })();
    return this.closing;
  }

  private view(u: HdfsUser): VfsView {
    const k = `${u.uid}:${u.gids.join(',')}`;
    let v = this.views.get(k);
    if (!v) this.views.set(k, (v = this.root.asUser(u.uid, u.gid, u.gids)));
    return v;
  }

  /** A request carrying an access key's token (?token=, ?delegation= or Authorization: Bearer) acts as the key, within its scope. */
  private async tokenUser(token: string, from: string | undefined): Promise<{ user: HdfsUser; view: VfsView }> {
    this.scopes ??= new KeyScopes(this.root);
    // The keys as of the last few seconds (added or removed keys count within 5 s, a new key at once).
    const fresh = Date.now() - this.keysAt;
    if (!this.keys || fresh > KEY_RELOAD_MS || (fresh > 1000 && !this.hasKey(token))) {
      this.keysAt = Date.now();
      this.keys = this.client.meta.load();
      this.keys.then((f) => (this.loadedKeys = f.gateway?.keys ?? {}), () => (this.keys = undefined));
    }
    const { id, key } = keyOfToken(await this.keys, token);
    const view = await this.scopes.view(id, key, from);
    const gids = view.ctx.gids;
    return { user: { name: this.ids.userName(key.uid), uid: key.uid, gid: key.gid, gids }, view };
  }

  private hasKey(token: string): boolean {
    return this.loadedKeys[token.slice(0, token.indexOf(':'))] !== undefined;
  }

  private reportError(line: string): void {
    (this.opts.errorLog ?? ((l: string) => process.stderr.write(l + '\n')))(`ferry webhdfs: ${line}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    this.requests.track(req, res);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    let path = rawPath;
    let op = '-';
    res.setHeader('Server', 'FerryFS');
    try {
      if (rawPath === '/-/health') {
        const down = this.closing && !this.handedOver;
        const body = down ? 'shutting down\n' : 'ok\n';
        res.writeHead(down ? 503 : 200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
        res.end(body);
        return;
      }
      // While draining, a request on a kept-alive connection is served and told Connection: close (Requests.track).
      const p = requestPath(rawPath);
      if (p === undefined) throw hdfsErr('FileNotFoundException', `${rawPath}: not a WebHDFS path (they start with /webhdfs/v1/)`);
      path = p;
      const query = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
      op = (query.get('op') ?? '').toUpperCase();
      if (!op) throw hdfsErr('IllegalArgumentException', 'Invalid value for webhdfs parameter "op": missing');
      const run = routeOf(req.method ?? 'GET', op);
      const token = query.get('token') ?? query.get('delegation') ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const { user, view } = token ? await this.tokenUser(token, req.socket.remoteAddress) : { user: this.ids.who(query), view: undefined };
      const call: Call = { req, res, op, path, query, user, view: view ?? this.view(user), ids: this.ids, origin: `http://${req.headers.host ?? new URL(this.url).host}` };
      await run(call);
    } catch (e) {
      let err: HdfsError;
      if (e instanceof HdfsError) err = e;
      else if (e instanceof FsError) err = fromFsError(e, path);
      else if (req.destroyed || (e as { code?: string })?.code === 'ECONNRESET' || (e as { code?: string })?.code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error)?.message === 'aborted') {
        // The client went away: nobody to answer.
        res.destroy();
        return;
      } else {
        err = hdfsErr('RuntimeException', 'Internal server error (see the server log)');
        this.reportError(`${req.method} ${url}: ${process.env.FERRY_DEBUG ? ((e as Error)?.stack ?? String(e)) : String((e as Error)?.message ?? e)}`);
      }
      if (res.headersSent) {
        // Half an answer went out (a read failed mid-stream): cutting the connection is the only way to say so.
        res.destroy();
        return;
      }
      // A body nobody read (a refused upload) is not drained: the connection closes instead.
      if (!req.readableEnded) res.setHeader('Connection', 'close');
      sendError(res, err);
    } finally {
      this.opts.log?.(`${new Date().toISOString()} ${req.method} ${url} ${res.statusCode} ${op} ${(performance.now() - started).toFixed(1)}ms`);
    }
  }
}

