// A TCP proxy the failure tests put between a client and a shared server (PostgreSQL, Redis, the Ceph RGW),
// so they can break connections without touching the server others use: cut every connection (RST), refuse
// new ones, black-hole them (accept and never answer), or lose the reply to one request (forward it, then
// cut the connection before the answer comes back — the "did my COMMIT apply?" case).
import { createServer, type Server, Socket } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export class TcpProxy {
  mode: ProxyMode = 'pass';
  /** Connections cut by cutAll() or by a lost reply. */
  cuts = 0;
  private readonly pairs = new Set<[Socket, Socket | undefined]>();
  private loseNext?: { match: (b: Buffer) => boolean; done: () => void };

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy;
      const server = createServer((client) => proxy.accept(client, targetHost, targetPort));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        proxy = new TcpProxy(server, (server.address() as { port: number }).port);
        resolve(proxy);
      });
    });
  }

  private accept(client: Socket, host: string, port: number): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') return void client.resetAndDestroy();
    const pair: [Socket, Socket | undefined] = [client, undefined];
    this.pairs.add(pair);
    client.on('close', () => {
      this.pairs.delete(pair);
      pair[1]?.destroy();
    });
    if (this.mode === 'blackhole') return; // held open, never answered, until cutAll()
    const upstream = new Socket();
    pair[1] = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    upstream.connect(port, host);
    upstream.on('data', (b) => client.write(b));
    client.on('data', (b) => {
      const lose = this.loseNext;
      if (lose?.match(b)) {
        // Forward the request, then cut before the reply: the server applies it, the client never hears.
        this.loseNext = undefined;
        upstream.removeAllListeners('data');
        upstream.write(b, () => {
          this.cuts++;
          client.resetAndDestroy();
          setTimeout(() => upstream.destroy(), 500);
          lose.done();
        });
        return;
      }
      upstream.write(b);
    });
  }

  /** The next client packet for which match() holds reaches the server; its connection is then cut. */
  loseReplyTo(match: (b: Buffer) => boolean): Promise<void> {
    return new Promise((resolve) => {
      this.loseNext = { match, done: resolve };
    });
  }

  /** Resets every open connection (both sides). */
  cutAll(): number {
    let n = 0;
    for (const [c, u] of this.pairs) {
      n++;
      c.resetAndDestroy();
      u?.destroy();
    }
    this.pairs.clear();
    this.cuts += n;
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((r) => this.server.close(r));
  }
}
