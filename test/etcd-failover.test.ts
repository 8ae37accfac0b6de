// A 3-member etcd cluster (the installed etcd binary, fresh loopback ports, temp data dirs) under a load of
// creates, writes and renames from two clients: kill -9 the leader, restart it, then kill -9 a follower and
// restart it. Every operation acknowledged to a client must be there afterwards, none applied twice (one
// changelog record naming each entry, one slice per file), both clients resume after each kill, and
// `ferry fsck` finds the tree clean. Prints the unavailability window per kill and the requests retried.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { newFormat } from '../src/meta/format.js';
import { openMeta } from '../src/meta/index.js';
import { rootContext } from '../src/meta/types.js';
import type { EtcdEngine } from '../src/meta/engines/etcd/engine.js';
import { Volume, volumeView } from '../src/sdk/volume.js';
import { ferry } from './helpers/cli.js';
import { EtcdCluster } from './helpers/etcd-cluster.js';
import { SERVERS } from './helpers/servers.js';

const ETCD = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
const ROOT = rootContext();

interface Op {
  kind: 'create' | 'rename';
  name: string;
  start: number;
  end?: number;
  ok?: boolean;
}

/** One client's load: write a file, then rename it; ops are logged with when they were acknowledged. */
async function load(v: Volume, tag: string, stop: { now: boolean }, log: Op[]): Promise<void> {
  for (let k = 0; !stop.now; k++) {
    const name = `${tag}-${k}`;
    for (const op of [{ kind: 'create', name }, { kind: 'rename', name }] as const) {
      const o: Op = { ...op, start: Date.now() };
      log.push(o);
      try {
        if (op.kind === 'create') await v.writeFile(`/load/${name}`, `${name}\n`.repeat(50));
        else await v.rename(`/load/${name}`, `/load/${name}.r`);
        o.ok = true;
      } catch {
        o.ok = false; // not acknowledged: it may or may not have applied
      }
      o.end = Date.now();
      if (!o.ok) break;
    }
  }
}

/** Waits until every client acknowledged an operation that started after `t`; their delays since t. */
async function resumed(logs: Op[][], t: number, limitMs: number): Promise<number[]> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const firsts = logs.map((l) => l.find((o) => o.ok && o.start >= t)?.end);
    if (firsts.every((x) => x !== undefined)) return firsts.map((x) => x! - t);
    if (Date.now() > deadline) throw new Error(`a client did not resume within ${limitMs} ms of the kill`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))]!;

if (ETCD.status !== 0) {
  it('etcd binary', () => {
    throw new Error(`the etcd binary is not installed (${ETCD.error?.message ?? ETCD.stderr}): ${SERVERS.etcd.start}`);
  });
} else {
  const cluster = new EtcdCluster();
  const work = mkdtempSync(join(tmpdir(), 'ferry-etcd-failover-'));
  after(() => {
    cluster.stopAll();
    rmSync(work, { recursive: true, force: true });
  });

  describe('etcd failover', () => {
    it('kill -9 the leader, then a follower, under load: nothing acknowledged lost, nothing applied twice, fsck clean', { timeout: 240_000 }, async (t) => {
      await cluster.startAll(3);
      const url = `etcd://${cluster.endpoints.join(',')}/failover?timeout=60`;
      const m = await openMeta(url);
      await m.init(newFormat({ name: 'failover', storage: `file://${work}/blocks`, blockSize: 1 << 20, trashDays: 0 }));
      await m.close();
      const clients = [await Volume.open(url), await Volume.open(url)];
      await clients[0]!.mkdir('/load');
      const logs: Op[][] = [[], []];
      const stop = { now: false };
      const running = clients.map((v, i) => load(v, `c${i}`, stop, logs[i]!));
      const windows: Record<string, number[]> = {};
      try {
        await sleep(1500);
        const leader = await cluster.leader();
        let t0 = Date.now();
        cluster.kill(leader);
        windows['leader'] = await resumed(logs, t0, 60_000);
        cluster.start(leader);
        await sleep(1500);
        const now = await cluster.leader();
        const follower = cluster.members.find((x) => x !== now && x.proc)!;
        t0 = Date.now();
        cluster.kill(follower);
        windows['follower'] = await resumed(logs, t0, 60_000);
        cluster.start(follower);
        await sleep(1500);
        await resumed(logs, Date.now(), 60_000);
      } finally {
        stop.now = true;
        await Promise.all(running);
      }
      const engines = clients.map((v) => (volumeView(v).vfs.meta as unknown as { eng: EtcdEngine }).eng);
      const retried = engines.reduce((a, e) => a + e.retried, 0);
      const conflicts = engines.reduce((a, e) => a + e.conflicts, 0);
      const recovered = engines.reduce((a, e) => a + e.recovered, 0);
      for (const v of clients) await v.close();
      const all = logs.flat();
      for (const [kill, ws] of Object.entries(windows)) t.diagnostic(`unavailable after killing the ${kill}: p50 ${pct(ws, 0.5)} ms, max ${Math.max(...ws)} ms (per client)`);
      t.diagnostic(`${all.filter((o) => o.ok).length} operations acknowledged, ${all.filter((o) => !o.ok).length} not; ${retried} requests retried, ${conflicts} transactions rerun, ${recovered} commits with a lost reply found applied`);

      // What is there: each acknowledged operation, each name once.
      const v = await Volume.open(url);
      try {
        const names = new Set((await v.readdir('/load')) as string[]);
        const acked = (kind: Op['kind'], name: string) => all.some((o) => o.kind === kind && o.name === name && o.ok);
        for (const o of all.filter((x) => x.ok)) {
          if (o.kind === 'create') assert.ok(names.has(o.name) !== names.has(`${o.name}.r`), `acknowledged create of ${o.name}: exactly one of its names`);
          else assert.ok(names.has(`${o.name}.r`) && !names.has(o.name), `acknowledged rename of ${o.name} lost`);
          if (o.kind === 'create') {
            const n = names.has(o.name) ? o.name : `${o.name}.r`;
            assert.equal(await v.readFile(`/load/${n}`, 'utf8'), `${o.name}\n`.repeat(50), `content of ${n}`);
          }
        }
        for (const n of names) assert.ok(all.some((o) => o.kind === 'create' && o.name === n.replace(/\.r$/, '')), `${n} was never asked for`);
        // Nothing applied twice: one changelog record made each name, and each file holds at most one slice.
        const meta = volumeView(v).vfs.meta;
        const made = new Map<string, number>();
        for (let from = 0; ; ) {
          const recs = await meta.readChangelog(from, 1000);
          if (!recs.length) break;
          for (const r of recs) for (const mu of r.mutations) if (mu.t === 'entry') made.set(mu.name, (made.get(mu.name) ?? 0) + 1);
          from = recs[recs.length - 1]!.version;
        }
        for (const n of names) assert.equal(made.get(n), 1, `${n} made by ${made.get(n)} records`);
        const dir = (await meta.lookup(ROOT, 1, 'load')).inode;
        for (const n of names) {
          const ino = (await meta.lookup(ROOT, dir, n)).inode;
          const slices = (await meta.readChunk(ROOT, ino, 0)).length;
          assert.ok(acked('create', n.replace(/\.r$/, '')) ? slices === 1 : slices <= 1, `${n}: ${slices} slices`);
        }
      } finally {
        await v.close();
      }
      const r = ferry(work, ['fsck', url]);
      assert.equal(r.code, 0, `fsck: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /no problems found/);
    });
  });
}
