// ferry://HOST:PORT (ferrys://, or ?tls=1, for TLS) — a Meta whose every operation is one HTTP request to a metadata service (MetaServer)
// over a kept-alive connection (operations issued together by concurrent callers share one request). Open-file bookkeeping is sent without waiting for it (the next
// call that could free an inode waits for it first), so opening or closing a file this client has
// open more than once costs no round trip; a first open waits for the server to record it (another
// client's unlink must see it), a last close for the server to release it (it may free the file).
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { FsError, errnoCode } from '../../../errors.js';
import type { Meta } from '../../interface.js';
import { registerMeta } from '../../registry.js';
import { TYPE_DIRECTORY, type Attr, type Context, type Format, type WalkResult } from '../../types.js';
import { scanMethods, type PageReader } from '../../scan.js';
import { SECRET_ENV, SECRET_FILE_ENV, secretFromFileOrEnv, serviceAgent, signRequest, tlsFromEnv, type ServiceCredential } from '../../service-auth.js';
import { decode, encode } from './codec.js';

/** Calls that may drop the last link of an inode: the server must have seen this client's opens first. */
const ORDERED = new Set(['open', 'release', 'unlink', 'rename', 'rmdir', 'closeSession', 'cleanStaleSessions', 'processDeletedFiles', 'trashPurge', 'trashPurgeExpired', 'ttlExpire', 'ttlExpireDue']);

class RemoteClient {
  readonly id = randomUUID();
  private readonly agent: Agent;
  /**
   * Closes' bookkeeping (release, queued opens) travels on connections of its own: a close released in the
   * background never holds the kept-alive connection the next call needs (a new one costs a round trip, or
   * several with TLS).
   */
  private readonly bookkeeping: Agent;
  private readonly request: typeof httpRequest;
  /** Bookkeeping in flight (open/release counts): calls that could free an inode wait for it. */
  private pending: Promise<unknown> = Promise.resolve();
  sid = 0;
  /**
   * A session registered by this client's first call (deferSession): until a reply names its id, every call
   * travels as 'withSession', which the service registers before serving it (once per client).
   */
  deferred?: unknown;
  /** A deferred session went out with a call: closing it is a call too (else there is nothing to close). */
  deferredSent = false;
  keepRecords = false;
  /** The server predates a call this client would rather use (walk): the client falls back. */
  oldServer = false;
  /** Requests of this client on `agent` awaiting their answer. */
  private inFlight = 0;
  /** Calls that go out together at the end of this turn (see send). */
  private waiting: Array<{ method: string; args: unknown[]; keep: boolean; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  /** The server predates batches: one request per call. */
  private noBatch = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly url: string,
    private readonly credential: ServiceCredential,
    tls: { on: boolean; ca?: string; cert?: string; key?: string },
  ) {
    this.agent = serviceAgent(tls.on, tls, { maxSockets: 32 });
    this.bookkeeping = serviceAgent(tls.on, tls, { maxSockets: 8 });
    this.request = (tls.on ? httpsRequest : httpRequest) as typeof httpRequest;
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    const send = () => this.send(method, args, method === 'release' ? this.bookkeeping : this.agent);
    return ORDERED.has(method) ? this.pending.then(send, send) : send();
  }

  /** Fire-and-forget bookkeeping: errors surface on the next change. */
  queue(method: string, args: unknown[]): void {
    const p = this.pending.then(() => this.send(method, args, this.bookkeeping));
    this.pending = p.catch((e) => process.stderr.write(`ferry: ${method} on ${this.url} failed: ${(e as Error).message}\n`));
  }

  private async send(method: string, args: unknown[], agent: Agent): Promise<unknown> {
    const info = this.deferred;
    if (info !== undefined && !this.sid && method !== 'close' && method !== 'newSession') return this.sendWithSession(info, method, args, agent);
    return this.sendPlain(method, args, agent);
  }

  /** The call and the session's registration in one round trip; a service older than that registers first. */
  private async sendWithSession(info: unknown, method: string, args: unknown[], agent: Agent): Promise<unknown> {
    this.deferredSent = true;
    if (!this.oldServer) {
      try {
        const r = (await this.sendPlain('withSession', [info, method, args], agent)) as { sid: number; value: unknown };
        this.sid ||= r.sid;
        this.deferred = undefined;
        return r.value;
      } catch (e) {
        // Refused before anything was run (an unknown method): register, then send the call as it is.
        if (!(e instanceof FsError && e.code === 'ENOSYS' && /withSession/.test(e.description ?? ''))) throw e;
        this.oldServer = true;
      }
    }
    this.registering ??= (this.sendPlain('newSession', [info], agent) as Promise<number>).then(
      (sid) => {
        this.sid ||= sid;
        this.deferred = undefined;
      },
      (e) => {
        this.registering = undefined;
        throw e;
      },
    );
    await this.registering;
    return this.sendPlain(method, args, agent);
  }

  private registering?: Promise<void>;

  /**
   * A call goes out at once when this client has none in flight (a lone caller waits for nothing). Calls made
   * while others are in flight wait for the end of this event-loop turn and go out together as one request:
   * concurrent callers then share one request's HTTP, TLS and signature (what the auth benchmark measures).
   */
  private sendPlain(method: string, args: unknown[], agent: Agent): Promise<unknown> {
    if (agent !== this.agent || this.noBatch || this.inFlight === 0) return this.sendOne(method, args, agent);
    return new Promise((resolve, reject) => {
      if (this.waiting.push({ method, args, keep: this.keepRecords, resolve, reject }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async sendOne(method: string, args: unknown[], agent: Agent): Promise<unknown> {
    this.inFlight++;
    try {
      return await this.postSigned(encode({ method, args, keep: this.keepRecords }), agent);
    } finally {
      this.inFlight--;
    }
  }

  private async flush(): Promise<void> {
    const calls = this.waiting;
    this.waiting = [];
    if (calls.length === 1) {
      const c = calls[0]!;
      return void this.sendOne(c.method, c.args, this.agent).then(c.resolve, c.reject);
    }
    this.inFlight++;
    try {
      const answers = (await this.postSigned(encode({ batch: calls.map(({ method, args, keep }) => ({ method, args, keep })) }), this.agent)) as Array<{ value?: unknown; error?: { code: string; message: string } }>;
      calls.forEach((c, i) => {
        const a = answers[i];
        if (!a) c.reject(new FsError('EIO', { message: `bad reply from metadata service ${this.url}: ${answers.length} answers for ${calls.length} calls` }));
        else if (a.error) c.reject(new FsError(errnoCode(a.error.code), { message: a.error.message }));
        else c.resolve(a.value);
      });
    } catch (e) {
      // A server older than batches answers ENOSYS for the request as a whole: one request per call, as before.
      if (e instanceof FsError && e.code === 'ENOSYS') {
        this.noBatch = true;
        for (const c of calls) void this.sendOne(c.method, c.args, this.agent).then(c.resolve, c.reject);
      } else for (const c of calls) c.reject(e);
    } finally {
      this.inFlight--;
    }
  }

  private async postSigned(body: string, agent: Agent): Promise<unknown> {
    try {
      return await this.post(body, agent);
    } catch (e) {
      // A rotated secret: the file (or the environment) may hold the new one now.
      if (e instanceof FsError && e.code === 'EACCES' && (e as { status?: number }).status === 403 && (await this.credential.refresh())) return this.post(body, agent);
      throw e;
    }
  }

  private async post(body: string, agent: Agent, retried = false): Promise<unknown> {
    const secret = await this.credential.secret();
    const auth = secret ? { authorization: signRequest(secret, 'POST', '/call', body) } : {};
    return new Promise((resolve, reject) => {
      const req = this.request(
        { host: this.host, port: this.port, method: 'POST', path: '/call', agent, headers: { ...auth, 'x-ferry-client': this.id, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            if (res.statusCode === 401 || res.statusCode === 403) {
              const how = secret ? '' : ` (give the volume's service secret with ?secret-file=PATH, $${SECRET_FILE_ENV} or $${SECRET_ENV})`;
              const err = new FsError('EACCES', { message: `metadata service ${this.url} refused the request (${res.statusCode}): ${text.trim().split('\n')[0]}${how}` });
              return reject(Object.assign(err, { status: res.statusCode }));
            }
            try {
              const r = decode(text) as { value?: unknown; batch?: unknown[]; error?: { code: string; message: string } };
              if (r.error) reject(new FsError(errnoCode(r.error.code), { message: r.error.message }));
              else resolve(r.batch ?? r.value);
            } catch (e) {
              reject(new FsError('EIO', { message: `bad reply from metadata service ${this.url}: ${(e as Error).message}` }));
            }
          });
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed as idle (a restart, an upgrade's drain) just as this request
        // went out on it: a server closes only connections with no request read, so sending it again on a new
        // connection is safe (node's documented reusedSocket check). Once: a second reset is an answer.
        if (req.reusedSocket && e.code === 'ECONNRESET' && !retried) resolve(this.post(body, agent, true));
        else reject(new FsError('EIO', { message: `metadata service ${this.url} unreachable: ${e.message}`, cause: e }));
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
    this.bookkeeping.destroy();
  }
}

function remoteMeta(url: URL, raw: string): Meta {
  const q = url.searchParams;
  const env = tlsFromEnv();
  const tls = {
    on: url.protocol === 'ferrys:' || q.get('tls') === '1' || q.get('tls') === 'true',
    ca: q.get('tls-ca') ?? env.ca,
    cert: q.get('tls-cert') ?? env.cert,
    key: q.get('tls-key') ?? env.key,
  };
  if (q.has('secret')) throw new FsError('EINVAL', { message: `a service secret does not go in the metadata URL (it would show in process lists): use ?secret-file=PATH or $${SECRET_FILE_ENV}` });
  const shown = raw.split('?')[0]!;
  const c = new RemoteClient(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 9567), shown, secretFromFileOrEnv(q.get('secret-file') ?? undefined), tls);
  // Scans walk here, one request per page: a generator cannot cross the wire, a page can.
  const pages = ((kind, cursor, limit) => c.call('scanPage', [kind, cursor, limit])) as PageReader;
  /** Open handles per inode: only a first open has to wait for the server. */
  const opens = new Map<number, number>();
  const local: Record<string, unknown> = {
    ...scanMethods(pages),
    url: raw,
    engine: 'remote',
    newSession: async (info: unknown) => {
      c.deferred = undefined;
      return (c.sid = (await c.call('newSession', [info])) as number);
    },
    deferSession: (info: unknown) => {
      c.deferred = info;
      c.sid = 0;
    },
    // A deferred session no call has carried yet was never registered: nothing to close.
    closeSession: async () => {
      if (c.deferred !== undefined && !c.deferredSent && !c.sid) return;
      await c.call('closeSession', []);
    },
    open: async (ctx: Context, ino: number, flags: number, attr?: Attr) => {
      const n = opens.get(ino) ?? 0;
      if (attr && n > 0) c.queue('open', [ctx, ino, flags, attr]);
      else attr = (await c.call('open', attr ? [ctx, ino, flags, attr] : [ctx, ino, flags])) as Attr;
      opens.set(ino, n + 1);
      return attr;
    },
    create: async (...args: unknown[]) => {
      const r = (await c.call('create', args)) as { inode: number };
      opens.set(r.inode, (opens.get(r.inode) ?? 0) + 1);
      return r;
    },
    release: async (ctx: Context, ino: number) => {
      const n = (opens.get(ino) ?? 0) - 1;
      if (n > 0) {
        opens.set(ino, n);
        c.queue('release', [ctx, ino]);
        return false;
      }
      // The last close may free a file another client unlinked: done when it returns (a server older than
      // release's answer sends none: maybe).
      opens.delete(ino);
      return ((await c.call('release', [ctx, ino])) as boolean | null) ?? true;
    },
    // A meta-server older than walk answers ENOSYS: then one lookup per name, as clients did before it.
    walk: async (ctx: Context, parent: number, names: string[]): Promise<WalkResult> => {
      if (!c.oldServer) {
        try {
          return (await c.call('walk', [ctx, parent, names])) as WalkResult;
        } catch (e) {
          if (!(e instanceof FsError && e.code === 'ENOSYS')) throw e;
          c.oldServer = true;
        }
      }
      const found: WalkResult['found'] = [];
      for (const name of names) {
        try {
          found.push((await c.call('lookup', [ctx, found.length ? found[found.length - 1]!.inode : parent, name])) as WalkResult['found'][number]);
        } catch (e) {
          if (!(e instanceof FsError)) throw e;
          return { found, error: { code: e.code, message: e.description } };
        }
        if (found[found.length - 1]!.attr.type !== TYPE_DIRECTORY) break;
      }
      return { found };
    },
    // A function cannot travel: compute the change from a fresh copy here. Not atomic against another
    // updater of the same field; its users (mirror registration and progress) rewrite their own entry.
    updateFormat: async (update: Partial<Format> | ((old: Format) => Partial<Format>)) =>
      c.call('updateFormat', [typeof update === 'function' ? update((await c.call('load', [])) as Format) : update]),
    close: async () => {
      await c.call('close', []).catch(() => undefined);
      c.close();
    },
  };
  return new Proxy({} as Meta, {
    get(_t, prop: string) {
      if (prop === 'sid') return c.sid;
      if (prop === 'keepRecords') return c.keepRecords;
      if (prop === 'then') return undefined;
      return local[prop] ?? ((...args: unknown[]) => c.call(prop, args));
    },
    set(_t, prop: string, value) {
      if (prop !== 'keepRecords') return false;
      c.keepRecords = Boolean(value);
      return true;
    },
  });
}

for (const scheme of ['ferry', 'ferrys']) registerMeta(scheme, async (url, raw) => remoteMeta(url, raw));
