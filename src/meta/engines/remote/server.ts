// A metadata service: serves any engine's Meta over HTTP, one request per operation, so a far client pays
// one round trip per operation whatever the engine needs (as JuiceFS's metadata service does). Each client
// gets its own Meta (sessions and open files are per client) forked from one shared Meta: one connection
// pool and one set of id pools for all clients, so a new client opens no database connection.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FsError, toFsError } from '../../../errors.js';
import type { Meta } from '../../interface.js';
import { activeMetrics } from '../../../object/metrics.js';
import { openMeta } from '../../registry.js';
import { BaseMeta } from '../../base/index.js';
import { readBody, serviceSecretsOf, serviceServer, ServiceVerifier, type TlsFiles } from '../../service-auth.js';
import type { ServiceSecrets, SessionInfo } from '../../types.js';
import { decode, encode } from './codec.js';

export interface MetaServerOptions {
  /** Serve HTTPS (cert + key), and ask clients for certificates signed by `ca`. */
  tls?: TlsFiles;
  /**
   * Where the accepted service secrets come from: by default the volume's format record (re-read after a
   * rotation; a volume formatted without one gets one). A fixed value serves a database not formatted yet.
   */
  secrets?: () => Promise<ServiceSecrets | undefined>;
  /** No credential checked: only for bench/auth.ts, which measures what authentication costs (the CLI never sets it). */
  unauthenticated?: boolean;
  /**
   * Called first for every request (the CLI's drain bookkeeping, client/listen.ts's Requests: a layer above
   * this one, so it comes in from there).
   */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Methods a client may call: the Meta interface, nothing else of the object. */
const CALLABLE = new Set([
  'init', 'load', 'updateFormat', 'destroy', 'newSession', 'heartbeat', 'setSessionInfo', 'closeSession', 'listSessions', 'cleanStaleSessions',
  'statfs', 'access', 'lookup', 'getattr', 'setattr', 'mknod', 'mkdir', 'create', 'symlink', 'readlink', 'link', 'unlink',
  'rmdir', 'rename', 'readdir', 'resolve', 'walk', 'open', 'release', 'readChunk', 'newSliceId', 'writeSlice', 'truncate',
  'fallocate', 'copyFileRange', 'replaceSlices', 'listFragmentedChunks', 'getxattr', 'listxattr', 'setxattr', 'removexattr',
  'flock', 'getlk', 'setlk', 'getCounter', 'takeLease', 'currentVersion', 'readChangelog', 'trimChangelog', 'applyChangeRecord',
  'exportSnapshot', 'importSnapshot', 'scanPage', 'processDeletedFiles', 'pendingDeletedFiles', 'pendingDeletedSlices',
  'loadBegin', 'loadRows', 'loadEnd', 'ackDeletedSlices',
  'trashList', 'trashRestore', 'trashPurge', 'trashPurgeExpired', 'openHolders', 'fsckRepair', 'clone',
  'quotaSet', 'quotaGet', 'quotaList', 'quotaRoom', 'quotaDelete', 'quotaCheck',
  'ttlList', 'ttlSet', 'ttlDelete', 'ttlExpire', 'ttlExpireDue',
]);

const IDLE_MS = 10 * 60_000;

/** One metadata call on the wire; a request carries one, or several as `{ batch: [...] }`. */
interface Call {
  method: string;
  args: unknown[];
  keep?: boolean;
}

export class MetaServer {
  private readonly server: Server;
  private readonly clients = new Map<string, { meta: Promise<Meta>; used: number; session?: Promise<number> }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly verifier: ServiceVerifier;
  /** The server's own Meta: the format record's service secrets, and the engine its clients' Metas share. */
  private admin?: Promise<Meta>;
  readonly tls: boolean;
  private readonly open: boolean;
  /** Calls served, by method, HTTP requests (a batch is one) and connections accepted: what far clients cost in round trips (tests, bench). */
  readonly served = { calls: new Map<string, number>(), requests: 0, connections: 0 };

  constructor(private readonly backend: string, opts: MetaServerOptions = {}) {
    this.open = opts.unauthenticated === true;
    this.verifier = new ServiceVerifier(opts.secrets ?? (async () => serviceSecretsOf(await (this.admin ??= openMeta(backend)))));
    this.tls = !!opts.tls?.cert;
    this.server = serviceServer((req, res) => {
      opts.onRequest?.(req, res);
      this.handle(req).then(
        (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
        (e) => {
          if (e instanceof Refused) {
            res.writeHead(e.status, { 'content-type': 'text/plain' }).end(`${e.message}\n`);
            return;
          }
          const err = toFsError(e);
          res.writeHead(200, { 'content-type': 'application/json' }).end(encode({ error: { code: err.code, message: err.description } }));
        },
      );
    }, opts.tls);
    this.server.on('connection', () => this.served.connections++);
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private async handle(req: IncomingMessage): Promise<string> {
    const raw = await readBody(req);
    // Before anything of the volume is read or any per-client state is made.
    const refused = this.open ? undefined : await this.verifier.verify(req.method ?? '', req.url ?? '', req.headers.authorization, raw);
    if (refused) throw new Refused(refused.status, refused.message);
    const id = String(req.headers['x-ferry-client'] ?? '');
    if (!id) throw new FsError('EINVAL', { message: 'x-ferry-client header required' });
    const body = decode(raw.toString('utf8')) as Call | { batch: Call[] };
    this.served.requests++;
    if (!('batch' in body)) return encode({ value: await this.call(id, body) });
    // Calls a client issued together: each runs as if it had come alone, and each has its own answer.
    if (!Array.isArray(body.batch)) throw new FsError('EINVAL', { message: 'batch must be an array of calls' });
    const answers = await Promise.all(
      body.batch.map((c) =>
        this.call(id, c).then(
          (value) => ({ value }),
          (e) => {
            const err = toFsError(e);
            return { error: { code: err.code, message: err.description } };
          },
        ),
      ),
    );
    return encode({ batch: answers });
  }

  private async call(id: string, outer: Call): Promise<unknown> {
    const { keep } = outer;
    if (outer.method === 'close') {
      this.drop(id);
      return null;
    }
    // withSession(info, method, args): a client's first calls carry its session, registered before the call
    // is served (once per client), so a far client's open costs no round trip for it (deferSession).
    const session = outer.method === 'withSession' ? (outer.args[0] as Partial<SessionInfo>) : undefined;
    const [method, args] = session ? [String(outer.args[1]), outer.args[2] as unknown[]] : [outer.method, outer.args];
    if (!CALLABLE.has(method) || (session && (method === 'newSession' || !Array.isArray(args)))) throw new FsError('ENOSYS', { message: `unknown metadata call '${outer.method}'` });
    this.served.calls.set(method, (this.served.calls.get(method) ?? 0) + 1);
    let c = this.clients.get(id);
    if (!c) this.clients.set(id, (c = { meta: this.clientMeta(), used: 0 }));
    c.used = Date.now();
    const meta = await c.meta;
    if (session) {
      const entry = c;
      entry.session ??= meta.newSession(session).catch((e) => {
        entry.session = undefined;
        throw e;
      });
      await entry.session;
    }
    meta.keepRecords = keep === true;
    const call = () => (meta as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...(args ?? []));
    // With --metrics, each call is timed by method (as a client's metered Meta does).
    const m = activeMetrics();
    const value = await (m ? m.meta.time(method, call) : call());
    if (method === 'closeSession') this.drop(id);
    return session ? { value, sid: meta.sid } : value;
  }

  /** A Meta of a new client: forked from the shared one (an engine without fork, a ferry:// chain, gets its own). */
  private async clientMeta(): Promise<Meta> {
    const root = await (this.admin ??= openMeta(this.backend));
    return root instanceof BaseMeta ? root.fork() : openMeta(this.backend);
  }

  private drop(id: string): void {
    const c = this.clients.get(id);
    this.clients.delete(id);
    void c?.meta.then((m) => m.close()).catch(() => undefined);
  }

  /** Clients with an engine connection open now (metrics). */
  get clientCount(): number {
    return this.clients.size;
  }

  private sweep(): void {
    for (const [id, c] of this.clients) if (Date.now() - c.used > IDLE_MS) this.drop(id);
  }

  /**
   * Listens on host:port, or through bind (the CLI's listenOn, which can take an upgraded process's socket over).
   */
  async listen(host: string, port: number, bind?: (server: Server) => Promise<unknown>): Promise<string> {
    if (!this.open) await this.verifier.prime();
    // A busy port is an error of listen(), not an 'error' event nobody handles (a crash with a trace).
    if (bind) await bind(this.server);
    else {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    }
    const a = this.server.address() as AddressInfo;
    return `${this.tls ? 'ferrys' : 'ferry'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Stops serving: through drain when given (the CLI's, letting requests in flight finish), else at once. */
  async close(drain?: (server: Server) => Promise<void>): Promise<void> {
    clearInterval(this.sweeper);
    if (drain) await drain(this.server);
    for (const id of [...this.clients.keys()]) this.drop(id);
    if (!drain) {
      this.server.closeAllConnections();
      await new Promise((r) => this.server.close(r));
    }
    await this.admin?.then((m) => m.close()).catch(() => undefined);
  }
}

/** A request without a valid credential: answered with its HTTP status, never as a metadata error. */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
