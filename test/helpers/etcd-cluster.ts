// A throw-away etcd cluster on loopback for the failover test and the engines benchmark: the installed etcd
// binary, ports taken fresh from the kernel, data in a temp directory removed by stopAll().
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}


export interface Member {
  name: string;
  client: number;
  peer: number;
  proc?: ChildProcess;
}

export class EtcdCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'ferry-etcd-cluster-'));
  readonly members: Member[] = [];

  async init(n: number): Promise<void> {
    for (let i = 0; i < n; i++) this.members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  }

  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.client}`);
  }

  start(m: Member): void {
    const peers = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(',');
    m.proc = spawn(
      'etcd',
      [
        '--name', m.name, '--data-dir', join(this.dir, m.name),
        '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-cluster', peers, '--initial-cluster-state', 'new', '--initial-cluster-token', `ferry-${process.pid}`,
        '--max-txn-ops', '16384', '--max-request-bytes', '33554432',
      ],
      { stdio: 'ignore' },
    );
  }

  kill(m: Member): void {
    m.proc?.kill('SIGKILL');
    m.proc = undefined;
  }

  /** Starts n members and waits for a leader. */
  async startAll(n: number): Promise<void> {
    await this.init(n);
    for (const m of this.members) this.start(m);
    await this.leader();
  }

  /** The member that is leader now, asked of the members that run. */
  async leader(): Promise<Member> {
    for (let i = 0; i < 100; i++) {
      for (const m of this.members.filter((x) => x.proc)) {
        const c = new Etcd3({ hosts: `http://127.0.0.1:${m.client}`, dialTimeout: 1000 });
        try {
          const s = await Promise.race([c.maintenance.status(), sleep(1000).then(() => undefined)]);
          if (s && s.leader !== '0' && s.leader === s.header.member_id) return m;
        } catch {
          // not up yet
        } finally {
          c.close();
        }
      }
      await sleep(200);
    }
    throw new Error('no etcd leader elected in 20 s');
  }

  stopAll(): void {
    for (const m of this.members) this.kill(m);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

