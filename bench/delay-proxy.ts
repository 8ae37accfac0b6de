// A TCP proxy that delays every byte by a fixed one-way latency in each direction: the network path
// between a client and a far metadata engine, for benchmarks (this kernel has no tc netem).
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class DelayProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** oneWayMs: added to each direction, so a round trip costs twice that. */
  constructor(private readonly target: { host: string; port: number }, private readonly oneWayMs: number) {
    this.server = createServer((client) => {
      client.setNoDelay(true);
      const upstream = connect(this.target.port, this.target.host);
      upstream.setNoDelay(true);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      this.pipe(client, upstream);
      this.pipe(upstream, client);
    });
  }

  /** Forwards with the delay. Every item waits the same time, so the queue stays in order of due time. */
  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk) => this.later(() => to.writable && to.write(chunk)));
    from.on('end', () => this.later(() => to.end()));
    from.on('close', () => this.later(() => to.destroy()));
  }

  private readonly queue: Array<{ due: number; fn: () => void }> = [];
  private pumping = false;

  /** Timers round up to whole milliseconds: the last stretch is waited with setImmediate for sub-ms precision. */
  private later(fn: () => void): void {
    this.queue.push({ due: performance.now() + this.oneWayMs, fn });
    if (!this.pumping) {
      this.pumping = true;
      this.pump();
    }
  }

  private pump = (): void => {
    const now = performance.now();
    while (this.queue.length && this.queue[0]!.due <= now) this.queue.shift()!.fn();
    if (!this.queue.length) {
      this.pumping = false;
      return;
    }
    const wait = this.queue[0]!.due - now;
    if (wait > 2) setTimeout(this.pump, Math.floor(wait - 1));
    else setImmediate(this.pump);
  };

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
