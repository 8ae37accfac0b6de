// Mirror latency benchmark (npm run bench:mirror): the reference example of JuiceFS's mirror file system.
// A client far from the source (round trip --source-rtt, 30 ms) and near a mirror (--mirror-rtt, 1 ms)
// creates /t/d1/d2/d3/d4/newf with cold caches. The latency is injected on the network path by delaying
// TCP proxies in front of metadata services (ferry meta-server) — never by sleeping inside FerryFS.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openMeta } from '../src/meta/index.js';
import { newFormat } from '../src/meta/format.js';
import { createMirror } from '../src/mirror/index.js';
import { Volume } from '../src/sdk/index.js';
import { volumeView } from '../src/sdk/volume.js';
import { DelayProxy } from './delay-proxy.js';
import { ClientProbe } from '../src/client/probe.js';

const { values } = parseArgs({
  options: {
    'source-rtt': { type: 'string', default: '30' },
    'mirror-rtt': { type: 'string', default: '1' },
    trials: { type: 'string', default: '20' },
    files: { type: 'string', default: '10000' },
    'load-seconds': { type: 'string', default: '5' },
    fresh: { type: 'string', default: '5' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/0' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const SRC_RTT = Number(values['source-rtt']);
const MIR_RTT = Number(values['mirror-rtt']);
const TRIALS = Number(values.trials);
const FILES = Number(values.files);
const LOAD_MS = Number(values['load-seconds']) * 1000;
const FRESH = Number(values.fresh);
const FRESH_CHILD = fileURLToPath(new URL('./mirror-fresh.js', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const children: ChildProcess[] = [];
const cold = { attrTimeout: 0, entryTimeout: 0, backgroundJobs: false };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts a `ferry` child and waits for the line that says it is serving. */
async function ferry(args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      if (ready.test(err)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`ferry ${args[0]} exited ${code}: ${err}`)));
  });
  return child;
}

/** A metadata service for `url`: `near` reaches it directly, `url` through a path of round trip `rtt`. */
async function metaService(url: string, rtt: number): Promise<{ url: string; near: string; proxy: DelayProxy }> {
  const port = await freePort();
  await ferry(['meta-server', url, '--listen', `127.0.0.1:${port}`], /serving/);
  const proxy = new DelayProxy({ host: '127.0.0.1', port }, rtt / 2);
  return { url: `ferry://127.0.0.1:${await proxy.listen()}`, near: `ferry://127.0.0.1:${port}`, proxy };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

function table(title: string, head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  console.log(`\n${title}\n${line(head)}\n|${w.map((n, i) => (i ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** A Redis mirror of the source behind a 1 ms path, or undefined when no Redis answers at --redis. */
async function redisMirror(sourceUrl: string, proxies: DelayProxy[]): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const base = new URL(values.redis!);
  base.searchParams.set('prefix', `bench-mirror-${process.pid}`);
  const direct = base.toString();
  try {
    await createMirror(sourceUrl, direct);
  } catch (e) {
    console.log(`(no Redis mirror row: ${(e as Error).message})`);
    return undefined;
  }
  await ferry(['mirror', 'run', direct], /replicating/);
  const proxy = new DelayProxy({ host: base.hostname, port: Number(base.port || 6379) }, MIR_RTT / 2);
  proxies.push(proxy);
  const near = new URL(direct);
  near.hostname = '127.0.0.1';
  near.port = String(await proxy.listen());
  return {
    url: near.toString(),
    drop: async () => {
      const m = await openMeta(direct);
      await m.destroy();
      await m.close();
    },
  };
}

async function creates(v: Volume, tag: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const t = performance.now();
    const fh = await v.open(`/t${i}/d1/d2/d3/d4/newf-${tag}`, 'wx');
    await fh.close();
    out.push(performance.now() - t);
  }
  return out;
}

/** A new process opens the volume and creates one file (bench/mirror-fresh.ts): its open and create times. */
async function freshProcess(url: string, path: string): Promise<{ open: number; create: number }> {
  const child = spawn(process.execPath, [FRESH_CHILD, url, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`fresh client of ${url} exited ${code}: ${err.trim()}`);
  return JSON.parse(out) as { open: number; create: number };
}

/** Walks the tree the way `find -ls` would: readdir with attributes, a stat for every entry. */
async function walkAndStat(v: Volume): Promise<number> {
  let n = 0;
  const walk = async (path: string, ino: number): Promise<void> => {
    for await (const e of volumeView(v).entries(ino, true)) {
      const p = `${path}/${e.name}`;
      await v.stat(p);
      n++;
      if (e.attr.type === 2) await walk(p, e.inode);
    }
  };
  await walk('', 1);
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-mirror-'));
  const mirUrl = `sqlite3://${dir}/mirror.db`;
  const proxies: DelayProxy[] = [];
  const format = newFormat({ name: 'bench', storage: `file://${dir}/blocks`, trashDays: 0 });
  // Clients of the meta-servers (here and in the processes started here) sign with the volume's service
  // secret; a mirror's record is a copy of its source's, secret included.
  process.env.FERRY_SERVICE_SECRET = format.services!.secret;
  // The source region's engine: PostgreSQL ("PostgreSQL in Beijing"), or SQLite when none answers.
  const pg = new URL(values.postgres!);
  pg.searchParams.set('prefix', `benchmirror${process.pid}`);
  let srcUrl = pg.toString();
  let engineDirect: string | undefined;
  try {
    const m = await openMeta(srcUrl);
    await m.init(format);
    await m.close();
    const proxy = new DelayProxy({ host: pg.hostname, port: Number(pg.port || 5432) }, SRC_RTT / 2);
    proxies.push(proxy);
    const far = new URL(srcUrl);
    far.hostname = '127.0.0.1';
    far.port = String(await proxy.listen());
    engineDirect = far.toString();
  } catch (e) {
    console.log(`(no PostgreSQL at ${values.postgres}: ${(e as Error).message}; the source is SQLite behind its meta-server only)`);
    srcUrl = `sqlite3://${dir}/source.db`;
    const m = await openMeta(srcUrl);
    await m.init(format);
    await m.close();
  }
  let redis: Awaited<ReturnType<typeof redisMirror>>;
  try {
    console.log(`FerryFS mirror benchmark — node ${process.version}; source ${new URL(srcUrl).protocol.replace(':', '')} round trip ${SRC_RTT} ms, mirror round trip ${MIR_RTT} ms (delaying TCP proxies)`);
    const local = await Volume.open(srcUrl, { backgroundJobs: false });
    for (let i = 0; i < TRIALS + 1; i++) await local.mkdir(`/t${i}/d1/d2/d3/d4`, { recursive: true });
    const perDir = 100;
    for (let d = 0; d < FILES / perDir; d++) {
      await local.mkdir(`/tree/d${d}`, { recursive: true });
      for (let f = 0; f < perDir; f++) await (await local.open(`/tree/d${d}/f${f}`, 'w')).close();
    }
    // The source region serves its engine to far clients through `ferry meta-server` (one round trip
    // per operation), reached through the 30 ms path.
    const source = await metaService(srcUrl, SRC_RTT);
    proxies.push(source.proxy);
    // The GPU region: mirrors of the far source, each engine 1 ms away, each with a replicator beside it.
    await createMirror(source.url, mirUrl);
    const mirror = await metaService(mirUrl, MIR_RTT);
    proxies.push(mirror.proxy);
    // The replicator writes through the SQLite mirror's service: one process owns the file, so the
    // replicator and writing clients never wait on each other's file locks.
    await ferry(['mirror', 'run', mirror.near], /replicating/);
    redis = await redisMirror(source.url, proxies);

    // Every client first creates one file (connections opened, pools filled), then the timed trials.
    const clients: Array<{ name: string; url: string }> = [
      ...(redis ? [{ name: `writable mirror: Redis mirror ${MIR_RTT} ms away`, url: redis.url }] : []),
      { name: `writable mirror: SQLite mirror behind ferry meta-server ${MIR_RTT} ms away`, url: mirror.url },
      ...(engineDirect ? [{ name: 'source mounted directly: PostgreSQL protocol over the far path', url: engineDirect }] : []),
      { name: 'source mounted directly: through ferry meta-server in the source region', url: source.url },
    ];
    const times: number[][] = [];
    for (const [i, c] of clients.entries()) {
      const v = await Volume.open(c.url, cold);
      await (await v.open(`/t${TRIALS}/d1/d2/d3/d4/warm-${i}`, 'wx')).close();
      times.push(await creates(v, `c${i}`));
      await v.close();
    }
    const best = times[clients.length - 1]!; // the fastest way to reach the source directly
    const engine = engineDirect ? times[clients.length - 2]! : undefined;
    const vs = (base: number[] | undefined, t: number[]) => (base ? `${(pct(base, 50) / pct(t, 50)).toFixed(2)}x` : '');
    table(
      `1. create /tN/d1/d2/d3/d4/newf with cold caches (${TRIALS} trials in one warm client each: open 'wx' + close)`,
      ['client', 'p50', 'p99', 'vs engine direct', 'vs meta-server direct'],
      [
        ...clients.map((c, i) => [c.name, ms(pct(times[i]!, 50)), ms(pct(times[i]!, 99)), vs(engine, times[i]!), vs(best, times[i]!)]),
        ['reference (JuiceFS article): mirror', '74 ms', '', '5.68x', ''],
        ['reference (JuiceFS article): direct', '420 ms', '', '1.00x', ''],
      ],
    );
    console.log(
      `   Round trips of this create: through a mirror a path walk and an apply on the mirror and the create on the source (2 x ${MIR_RTT} + ${SRC_RTT} ms),\n` +
        `   through the meta-server a path walk and the create (2 x ${SRC_RTT} ms): at zero overhead the ratio is ${((2 * SRC_RTT) / (2 * MIR_RTT + SRC_RTT)).toFixed(2)}x;\n` +
        `   an engine's own protocol needs several round trips per statement group. (Before path walks: 6 lookups + create, 7 x ${SRC_RTT} ms direct.)`,
    );

    // 1b. The same create as the first thing a new process does after opening the volume.
    const fresh: Array<{ open: number[]; create: number[] }> = [];
    for (const [i, c] of clients.entries()) {
      const r = { open: [] as number[], create: [] as number[] };
      for (let k = 0; k < FRESH; k++) {
        const t = await freshProcess(c.url, `/t${k % TRIALS}/d1/d2/d3/d4/fresh-c${i}-${k}`);
        r.open.push(t.open);
        r.create.push(t.create);
      }
      fresh.push(r);
    }
    // What the process paid in all: its open and its first create (per process, then the median).
    const both = fresh.map((r) => r.open.map((o, k) => o + r.create[k]!));
    const freshBest = fresh[clients.length - 1]!.create;
    const freshEngine = engineDirect ? fresh[clients.length - 2]!.create : undefined;
    const bothBest = both[clients.length - 1]!;
    const bothEngine = engineDirect ? both[clients.length - 2]! : undefined;
    table(
      `1b. the same create as the first call of a fresh process (${FRESH} processes each: Volume.open, then open 'wx' + close; node start-up not counted)`,
      ['client', 'open p50', 'first create p50', 'open + create p50', 'create vs engine / meta-server', 'open + create vs engine / meta-server'],
      clients.map((c, i) => [
        c.name,
        ms(pct(fresh[i]!.open, 50)),
        ms(pct(fresh[i]!.create, 50)),
        ms(pct(both[i]!, 50)),
        `${vs(freshEngine, fresh[i]!.create) || '-'} / ${vs(freshBest, fresh[i]!.create)}`,
        `${vs(bothEngine, both[i]!) || '-'} / ${vs(bothBest, both[i]!)}`,
      ]),
    );
    console.log(
      `   A mirror client's open costs no source round trip (its source session travels with its first call there);\n` +
        `   direct through the meta-server: the format and the session, 2 x ${SRC_RTT} ms. The create's own floor is as in table 1.`,
    );

    // 2. A read-heavy job: every client fresh, default 1 s caches.
    const rows: string[][] = [];
    for (const c of [clients[0]!, clients[clients.length - 1]!]) {
      const probe = new ClientProbe();
      const v = await Volume.open(c.url, { backgroundJobs: false, probe });
      probe.reset();
      const t = performance.now();
      const n = await walkAndStat(v);
      const took = performance.now() - t;
      const calls = Object.entries(probe.snapshot().meta).map(([k, st]) => `${k} ${st.count}`).join(', ');
      rows.push([c.name, `${n}`, calls, `${(took / 1000).toFixed(2)} s`, `${Math.round(n / (took / 1000))}/s`]);
      await v.close();
    }
    const speedup = Number(rows[1]![3]!.split(' ')[0]) / Number(rows[0]![3]!.split(' ')[0]);
    rows[0]!.push(`${speedup.toFixed(1)}x`);
    rows[1]!.push('1.0x');
    table(`2. walk and stat a tree of ${FILES} files (readdir with attributes, then stat)`, ['client', 'entries', 'metadata calls', 'time', 'stats', 'vs direct'], rows);

    // 3. Replication under a sustained write load in the source region.
    const mirrorMeta = await openMeta(mirror.near);
    const srcMeta = await openMeta(srcUrl);
    const startApplied = await mirrorMeta.getCounter('appliedVersion');
    const lags: number[] = [];
    let writing = true;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await (await local.open(`/load-${i}`, 'w')).close();
        written++;
      }
    })();
    const t0 = performance.now();
    while (performance.now() - t0 < LOAD_MS) {
      await new Promise((r) => setTimeout(r, 50));
      const applied = await mirrorMeta.getCounter('appliedVersion');
      const [next] = await srcMeta.readChangelog(applied, 1);
      lags.push(next ? Date.now() - next.ts : 0);
    }
    writing = false;
    await writer;
    const took = (performance.now() - t0) / 1000;
    const target = await srcMeta.currentVersion();
    while ((await mirrorMeta.getCounter('appliedVersion')) < target) await new Promise((r) => setTimeout(r, 20));
    const drained = (performance.now() - t0) / 1000;
    const applied = (await mirrorMeta.getCounter('appliedVersion')) - startApplied;
    table(
      `3. replication under a sustained write load (${(LOAD_MS / 1000).toFixed(0)} s of creates in the source region; replicator ${SRC_RTT} ms from the source)`,
      ['measure', 'value'],
      [
        ['files created at the source', `${written} (${Math.round(written / took)}/s)`],
        ['records applied to the SQLite mirror', `${applied} (${Math.round(applied / drained)}/s until caught up)`],
        ['replication lag p50 / p99', `${pct(lags, 50)} ms / ${pct(lags, 99)} ms`],
        ['caught up after the load stopped', `${((drained - took) * 1000).toFixed(0)} ms`],
      ],
    );
    await mirrorMeta.close();
    await srcMeta.close();
    await local.close();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    for (const p of proxies) await p.close();
    await redis?.drop().catch(() => undefined);
    if (engineDirect) {
      const m = await openMeta(srcUrl);
      await m.destroy().catch(() => undefined);
      await m.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
