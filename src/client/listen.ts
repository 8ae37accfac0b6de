// Where a serving door listens and how it stops: HOST:PORT (or a bare port) parsed once, the server bound (or
// handed over by the process it replaces, see below), its URL made; and the drain on close. Shared by the S3
// gateway, the WebHDFS server and the meta-server, so a busy port, a bad address and a shutdown or an upgrade
// read and behave the same in all three.
//
// Upgrade handover (`ferry gateway|webhdfs|meta-server --upgrade`, SIGUSR2; cli/upgrade.ts starts the new
// process): the old process spawns the new one with an IPC channel. When the new one is about to listen on an
// address, it asks the old one for the socket already listening there; the old one sends the listening
// net.Server over IPC (child_process's documented handle passing) and the new one listens on that handle. Both
// processes accept from the same kernel queue until the old one drains, so no connection is refused. The new
// process asks only when it is ready to serve (its volume open), so it never accepts a connection it cannot answer.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';

/** host and port of `HOST:PORT`, `[V6]:PORT` or `PORT`; an Error naming the address when it is none of them. */
export function parseAddress(addr: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i >= 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : defaultHost;
  const portText = i >= 0 ? addr.slice(i + 1) : addr;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad address '${addr}' (expected HOST:PORT)`);
  return { host: host || '0.0.0.0', port };
}

/** Set in a process started by an upgrade: the pid of the process it replaces (which answers listener requests). */
export const UPGRADE_FROM_ENV = 'FERRY_UPGRADE_FROM';

/** Set in a process started by an upgrade: how many upgrades it is from the process first started. */
export const UPGRADES_ENV = 'FERRY_UPGRADES';

/** How many upgrades this process is from the one first started (0: never upgraded); sessions record it. */
export function upgradesSoFar(): number {
  return Number(process.env[UPGRADES_ENV]) || 0;
}

/** The IPC messages of the handover: the new process asks by address, the old one answers (with the handle when it has one). */
export interface ListenerAsk {
  ferryListener: string;
}

/** Listening servers of this process by the address they were asked to listen on (as given: `127.0.0.1:0` too). */
const listening = new Map<string, NetServer>();

/** The old process's side: what to send for a new process's ask (undefined: not a listener request). */
export function listenerFor(msg: unknown): { addr: string; server?: NetServer } | undefined {
  if (!msg || typeof msg !== 'object' || typeof (msg as ListenerAsk).ferryListener !== 'string') return undefined;
  const addr = (msg as ListenerAsk).ferryListener;
  const s = listening.get(addr);
  return { addr, server: s?.listening ? s : undefined };
}

/** The new process's side: the listening socket the replaced process hands over for addr, if it has one. */
async function inherited(addr: string): Promise<NetServer | undefined> {
  if (!process.env[UPGRADE_FROM_ENV] || !process.connected) return undefined;
  return new Promise((resolve) => {
    const done = (s?: NetServer) => {
      clearTimeout(t);
      process.off('message', onMessage);
      resolve(s);
    };
    // An old process that does not answer (it is not a ferry door): bind afresh, which fails on a busy port.
    const t = setTimeout(() => done(), 10_000);
    const onMessage = (m: unknown, handle: unknown) => {
      if (m && typeof m === 'object' && (m as ListenerAsk).ferryListener === addr) done(handle instanceof NetServer ? handle : undefined);
    };
    process.on('message', onMessage);
    process.send!({ ferryListener: addr } satisfies ListenerAsk);
  });
}

/**
 * Binds server to addr (or takes over the socket of the process this one upgrades); returns its URL
 * (`http://127.0.0.1:9000`). A busy port rejects with node's EADDRINUSE error, which the CLI prints as one
 * line (cli/output.ts).
 */
export async function listenOn(server: Server, addr: string, scheme: string = 'http'): Promise<string> {
  const { host, port } = parseAddress(addr);
  await bindOrTakeOver(server, host, port, addr).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') throw new Error(`cannot listen on ${addr}: no such local address`);
    if (e.code === 'EACCES') throw new Error(`cannot listen on ${addr}: permission denied (ports below 1024 need root)`);
    throw e;
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${h}:${a.port}`;
}

/**
 * Listens on host:port, or on the socket the process this one upgrades hands over under key (the address as
 * the command line gave it, so `127.0.0.1:0` finds the port it picked). Also for --metrics ports (serveMetrics).
 */
export async function bindOrTakeOver(server: NetServer, host: string, port: number, key: string): Promise<void> {
  const handle = await inherited(key);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const bound = () => {
      server.off('error', reject);
      resolve();
    };
    // listen(handle): "anything with an underlying _handle member" (node's net docs); the received server's.
    if (handle) server.listen(handle, bound);
    else server.listen(port, host, bound);
  });
  listening.set(key, server);
  server.once('close', () => listening.get(key) === server && listening.delete(key));
}

/** How long connections kept alive stay open after a drain starts, so a busy client's next request moves it over. */
export const LINGER_MS = 1000;

/**
 * The requests a server is answering, and its drain. Each handler calls track(res) first. On drain the server
 * stops accepting (an upgrade's new process goes on accepting from the same socket) but keeps its connections:
 *  - every response not yet started says `Connection: close`, and so does every request arriving on a
 *    kept-alive connection during the linger: a client in a request loop gets its answer and reconnects (to the
 *    new process) instead of having its connection cut under a request it is sending;
 *  - after the linger, connections with no request in flight are closed (a client idle that long reconnects
 *    on its next request; the race of a request sent just then is what clients' retries on a reused idle
 *    connection are for: the AWS SDK retries ECONNRESET, ferry:// clients retry a reused socket's reset);
 *  - requests in flight get up to graceMs to finish, then the rest is cut.
 */
export class Requests {
  private readonly open = new Set<ServerResponse>();
  private draining?: Promise<void>;
  private idle?: () => void;

  get inFlight(): number {
    return this.open.size;
  }

  get isDraining(): boolean {
    return this.draining !== undefined;
  }

  /** Counts the request until its response closes (answered, or the connection gone). */
  track(_req: IncomingMessage, res: ServerResponse): void {
    if (this.draining) res.setHeader('Connection', 'close');
    this.open.add(res);
    res.once('close', () => {
      this.open.delete(res);
      if (this.open.size === 0) this.idle?.();
    });
  }

  drain(server: Server, graceMs = 10_000, lingerMs = LINGER_MS): Promise<void> {
    this.draining ??= (async () => {
      const deadline = Date.now() + graceMs;
      for (const res of this.open) if (!res.headersSent) res.setHeader('Connection', 'close');
      const closed = new Promise<void>((r) => server.once('close', () => r()));
      // net.Server's close: stops accepting and keeps the connections (http.Server's close, since node 19,
      // would also cut the idle kept-alive ones at once, racing their clients' next request).
      if (server.listening) NetServer.prototype.close.call(server);
      else queueMicrotask(() => server.emit('close'));
      const gone = closed.then(() => true);
      await Promise.race([gone, sleep(Math.min(lingerMs, graceMs))]);
      server.closeIdleConnections();
      if (this.open.size > 0) {
        await Promise.race([
          gone,
          new Promise<void>((r) => {
            const t = setTimeout(r, Math.max(0, deadline - Date.now()));
            this.idle = () => {
              clearTimeout(t);
              r();
            };
          }),
        ]);
      }
      // http.Server's close too: it stops the server's timer of header timeouts.
      server.close();
      server.closeAllConnections();
      await closed;
    })();
    return this.draining;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The listening sockets this process bound through bindOrTakeOver (a mount's --metrics port), by the key it
 * was asked for, with their descriptors: a FUSE mount handing over passes them to the next process
 * (SCM_RIGHTS, src/fuse/serve-child.ts), which listens on them without a moment of refused connections.
 */
export function listeningFds(): Array<{ key: string; fd: number }> {
  const out: Array<{ key: string; fd: number }> = [];
  for (const [key, s] of listening) {
    const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (s.listening && typeof fd === 'number' && fd >= 0) out.push({ key, fd });
  }
  return out;
}

/**
 * Binds for a process that succeeds another one serving the same thing (a FUSE mount's takeover or standby
 * process): `bind` records the server and returns at once, without listening (the other process still
 * listens there); `claim` listens, on the socket the other process passed (its descriptor, by key) or else
 * on the address itself once the other process let it go.
 */
export class DeferredBinds {
  private readonly pending: Array<{ server: NetServer; host: string; port: number; key: string }> = [];

  readonly bind = (server: NetServer, host: string, port: number, key: string): Promise<void> => {
    this.pending.push({ server, host, port, key });
    return Promise.resolve();
  };

  /** Listens on every recorded server; `fds` are inherited listening sockets by key. Throws the first failure. */
  async claim(fds: Map<string, number> = new Map(), waitMs = 10_000): Promise<void> {
    for (const p of this.pending.splice(0)) {
      const fd = fds.get(p.key);
      const deadline = Date.now() + waitMs;
      for (;;) {
        try {
          await new Promise<void>((resolve, reject) => {
            p.server.once('error', reject);
            const bound = () => {
              p.server.off('error', reject);
              resolve();
            };
            if (fd !== undefined) p.server.listen({ fd }, bound);
            else p.server.listen(p.port, p.host, bound);
          });
          break;
        } catch (e) {
          // The process handing over still listens there for a moment (it exits right after).
          if (fd !== undefined || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw e;
          await sleep(20);
        }
      }
      listening.set(p.key, p.server);
      p.server.once('close', () => listening.get(p.key) === p.server && listening.delete(p.key));
    }
  }
}
