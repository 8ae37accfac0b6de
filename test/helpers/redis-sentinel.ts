// A throwaway Redis master + replica + three sentinels on free loopback ports, in a temporary directory, for
// the failover test. Never touches the shared Redis on 6379. Needs redis-server and redis-sentinel
// (.ci/setup.d/24-redis-sentinel.sh installs the latter).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { until } from './wait.js';

export const MASTER_NAME = 'ferrymaster';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Why the failover test cannot run here, or undefined. */
export function sentinelUnavailable(): string | undefined {
  for (const bin of ['redis-server', 'redis-sentinel']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
      return `${bin} is not installed: run 'bash .ci/setup.d/24-redis-sentinel.sh' as root (Debian packages redis-server and redis-sentinel)`;
    }
  }
  return undefined;
}

async function ping(port: number): Promise<boolean> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

export class SentinelCluster {
  readonly dir: string;
  /** Redis data ports: [first master, first replica]. */
  readonly ports: number[] = [];
  readonly sentinelPorts: number[] = [];
  private readonly procs = new Map<number, ChildProcess>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(): Promise<SentinelCluster> {
    const c = new SentinelCluster(await mkdtemp(join(tmpdir(), 'ferry-sentinel-')));
    try {
      for (let i = 0; i < 2; i++) c.ports.push(await freePort());
      for (let i = 0; i < 3; i++) c.sentinelPorts.push(await freePort());
      await c.startRedis(c.ports[0]!);
      await c.startRedis(c.ports[1]!, c.ports[0]);
      for (const p of c.sentinelPorts) await c.startSentinel(p);
      await until(async () => (await c.replicasOf(c.ports[0]!)) >= 1, 'the replica to sync', 20_000, 50);
      await until(async () => (await c.sentinelsKnowing()) === 3, 'the sentinels to see each other and the replica', 20_000, 100);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** redis://MASTER,S1,S2,S3/0 with the given query. */
  url(query: string): string {
    return `redis://${MASTER_NAME},${this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/0${query}`;
  }

  private spawnLogged(port: number, args: string[]): void {
    const p = spawn(args[0]!, args.slice(1), { stdio: 'ignore', cwd: this.dir });
    this.procs.set(port, p);
  }

  /** Starts redis-server on port (a replica of `of` if given), without persistence, and waits for it. */
  async startRedis(port: number, of?: number): Promise<void> {
    const args = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir,
      '--dbfilename', `dump-${port}.rdb`, '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--logfile', join(this.dir, `redis-${port}.log`)];
    if (of) args.push('--replicaof', '127.0.0.1', String(of));
    this.spawnLogged(port, args);
    await until(() => ping(port), `redis-server on ${port}`, 10_000, 50);
  }

  private async startSentinel(port: number): Promise<void> {
    const conf = join(this.dir, `sentinel-${port}.conf`);
    await writeFile(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${this.dir}`, `logfile ${join(this.dir, `sentinel-${port}.log`)}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${this.ports[0]} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`, '',
    ].join('\n'));
    this.spawnLogged(port, ['redis-sentinel', conf]);
    await until(() => ping(port), `redis-sentinel on ${port}`, 10_000, 50);
  }

  private async cmd<T>(port: number, ...args: string[]): Promise<T> {
    const c = new Redis({ host: '127.0.0.1', port, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      return (await c.call(args[0]!, ...args.slice(1))) as T;
    } finally {
      c.disconnect();
    }
  }

  private async replicasOf(port: number): Promise<number> {
    const info = await this.cmd<string>(port, 'INFO', 'replication').catch(() => '');
    return Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
  }

  private async sentinelsKnowing(): Promise<number> {
    let n = 0;
    for (const p of this.sentinelPorts) {
      const r = await this.cmd<string[]>(p, 'SENTINEL', 'MASTER', MASTER_NAME).catch(() => []);
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < r.length; i += 2) f.set(r[i]!, r[i + 1]!);
      if (Number(f.get('num-other-sentinels')) === 2 && Number(f.get('num-slaves')) >= 1) n++;
    }
    return n;
  }

  /** The master's port as a majority of the sentinels report it. */
  async masterPort(): Promise<number | undefined> {
    const votes = new Map<number, number>();
    for (const p of this.sentinelPorts) {
      const r = await this.cmd<string[] | null>(p, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME).catch(() => null);
      if (r) votes.set(Number(r[1]), (votes.get(Number(r[1])) ?? 0) + 1);
    }
    for (const [port, n] of votes) if (n >= 2) return port;
    return undefined;
  }

  /** kill -9 of the redis-server on port; resolves once it is gone. */
  async kill9(port: number): Promise<void> {
    const p = this.procs.get(port);
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
    this.procs.delete(port);
  }

  /** Waits until the sentinels name a master other than `old`; returns its port. */
  async awaitFailover(old: number, ms = 30_000): Promise<number> {
    let now: number | undefined;
    await until(async () => (now = await this.masterPort()) !== undefined && now !== old, 'the sentinels to fail over', ms, 50);
    return now!;
  }

  /** Every process killed (SIGKILL: no persistence to save), the directory removed. */
  async stop(): Promise<void> {
    for (const port of [...this.procs.keys()]) await this.kill9(port);
    await rm(this.dir, { recursive: true, force: true });
  }
}
