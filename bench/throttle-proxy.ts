// An HTTP proxy that makes a local S3 server look slow and remote: every request waits a fixed delay before
// it is forwarded (the round trip to a far region), and all response bodies share one bandwidth cap (the
// link). It counts GET requests and their response bytes: the "object-store GETs and bytes fetched" of
// bench:cache are measured here, where a remote store would bill them.
//
// S3 SigV4 signs the Host header: clients use the proxy's address as their endpoint and sign for it, and the
// proxy forwards every header unchanged (Host included), so the server checks the signature the client made.
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ThrottleOptions {
  /** Where requests go, e.g. http://127.0.0.1:7480. */
  target: string;
  /** Added before each request is forwarded (default 20 ms). */
  delayMs?: number;
  /** Bytes per second of all response bodies together (0 = no cap). */
  bandwidth?: number;
}

export interface ProxyCounts {
  /** Requests of any method. */
  requests: number;
  gets: number;
  /** Response body bytes of GET requests. */
  getBytes: number;
  /** GET requests by URL path (no query): how often each object was fetched. */
  getsByPath: Map<string, number>;
}

/** Waits shorter than this are not worth a timer: the link runs that far ahead at most. */
const SLACK_MS = 2;

export class ThrottleProxy {
  counts: ProxyCounts = { requests: 0, gets: 0, getBytes: 0, getsByPath: new Map() };
  delayMs: number;
  bandwidth: number;
  private readonly target: URL;
  private readonly server: Server;
  private readonly upstream = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly sockets = new Set<Socket>();
  /** When the shared link has sent everything handed to it so far (performance.now() time). */
  private linkFree = 0;

  constructor(o: ThrottleOptions) {
    this.target = new URL(o.target);
    this.delayMs = o.delayMs ?? 20;
    this.bandwidth = o.bandwidth ?? 0;
    this.server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Zeroes the counters and returns what they held. */
  reset(): ProxyCounts {
    const c = this.counts;
    this.counts = { requests: 0, gets: 0, getBytes: 0, getsByPath: new Map() };
    return c;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.counts.requests++;
    const isGet = req.method === 'GET';
    if (isGet) {
      this.counts.gets++;
      const path = (req.url ?? '').split('?')[0]!;
      this.counts.getsByPath.set(path, (this.counts.getsByPath.get(path) ?? 0) + 1);
    }
    // The request body (a PUT) waits in the socket meanwhile: it is piped only once the request goes out.
    setTimeout(() => {
      const up = request(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers: req.rawHeaders,
          agent: this.upstream,
        },
        (ures) => this.respond(ures, res, isGet),
      );
      up.on('error', (e) => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${e.message}\n`);
        } else res.destroy(e);
      });
      req.pipe(up);
    }, this.delayMs);
    res.on('close', () => req.destroy());
  }

  private respond(ures: IncomingMessage, res: ServerResponse, isGet: boolean): void {
    res.writeHead(ures.statusCode ?? 502, ures.statusMessage, ures.rawHeaders);
    // Paused for the link (a timer) or for the client (backpressure): read on only when neither holds it.
    let linkWait = false;
    let drainWait = false;
    const resume = () => !linkWait && !drainWait && ures.resume();
    ures.on('data', (chunk: Buffer) => {
      if (isGet) this.counts.getBytes += chunk.length;
      if (!res.write(chunk)) {
        drainWait = true;
        ures.pause();
        res.once('drain', () => {
          drainWait = false;
          resume();
        });
      }
      const ahead = this.take(chunk.length);
      if (ahead > SLACK_MS) {
        linkWait = true;
        ures.pause();
        setTimeout(() => {
          linkWait = false;
          resume();
        }, ahead);
      }
    });
    ures.on('end', () => res.end());
    ures.on('error', (e) => res.destroy(e));
    res.on('close', () => ures.destroy());
  }

  /**
   * Puts n bytes on the shared link (a token bucket without burst: each chunk is sent after the bytes
   * before it) and returns how many ms the link is now ahead of real time; the sender waits that long.
   */
  private take(n: number): number {
    if (this.bandwidth <= 0) return 0;
    const now = performance.now();
    this.linkFree = Math.max(now, this.linkFree) + (n * 1000) / this.bandwidth;
    return this.linkFree - now;
  }

  /** Listens on 127.0.0.1 (a free port); returns the endpoint URL clients should use. */
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.upstream.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
