// npm run bench:engines — every reachable metadata engine side by side in one run, printed as one table:
// per-operation latency (p50/p99) and throughput with 1 and with 16 concurrent callers, and the round trips
// each operation costs, counted in the driver, next to the minimum (1). A benchmark, never a test.
//
//   node dist/bench/engines.js [--ops 400] [--entries 10000] [--engines sqlite3,postgres,mysql,redis,redis-sentinel,redis-sentinel-wait1,etcd,etcd-3]
//
// Servers: the same as the tests (test/helpers/servers.ts; FERRY_TEST_POSTGRES / _MYSQL / _REDIS / _ETCD override);
// etcd-3 is a 3-member etcd cluster this benchmark starts on loopback (test/helpers/etcd-cluster.ts).
// Each engine gets a fresh volume (own table prefix / key prefix / temp file) that is destroyed afterwards.
// redis-sentinel: Redis through Sentinel (redis://MASTER,S1,S2,S3/0) on a master + replica + 3 sentinels the
// benchmark starts on free loopback ports (test/helpers/redis-sentinel.ts; needs redis-sentinel installed);
// redis-sentinel-wait1: the same with ?wait=1 (each commit waits until the replica has it).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newAttr, stamp } from '../src/meta/attrs.js';
import { metaSchemes, openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import type { Tx } from '../src/meta/tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, rootContext } from '../src/meta/types.js';
import { probeServer, serverUrl, uniquePrefix, withOptions, type ServerKind } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { SentinelCluster, sentinelUnavailable } from '../test/helpers/redis-sentinel.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';

const CTX = rootContext();
const LEVELS = [1, 16];

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:engines: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/engines.js [--ops 400] [--entries 10000] [--engines sqlite3,postgres,mysql,redis,redis-sentinel,redis-sentinel-wait1,etcd,etcd-3]\n');
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv: string[]): { ops: number; entries: number; engines: string[] } {
  const o = { ops: 400, entries: 10_000, engines: ['sqlite3', 'postgres', 'mysql', 'redis', 'redis-sentinel', 'redis-sentinel-wait1', 'etcd', 'etcd-3'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => inline ?? argv[++i] ?? usage(`${k} needs a value`);
    const int = (): number => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 16) usage(`${k} must be an integer >= 16`);
      return n;
    };
    if (k === '--ops') o.ops = int();
    else if (k === '--entries') o.entries = int();
    else if (k === '--engines') o.engines = val().split(',').filter(Boolean);
    else if (k === '-h' || k === '--help') usage();
    else usage(`unknown option '${a}'`);
  }
  return o;
}

// ---- counting round trips in the driver ----

type Counter = { count: () => number; unit: string };

/** Hooks the engine's driver so every statement / command sent is counted. */
function installCounter(m: Meta): Counter {
  const eng = (m as unknown as { eng: Record<string, any> }).eng;
  if (typeof eng.roundTrips === 'number') return { count: () => eng.roundTrips as number, unit: 'round trips' };
  // etcd: every request sent (a read, a batch of reads in one Txn, a commit).
  if (eng.name === 'etcd' && typeof eng.requests === 'number') return { count: () => eng.requests as number, unit: 'round trips' };
  if (eng.statements) {
    // An in-process SQL engine (SQLite): count the statements each transaction runs (BEGIN/COMMIT included).
    let n = 0;
    const wrap = (c: any) => ({
      all: (sql: string, p: unknown[]) => (n++, c.all(sql, p)),
      run: (sql: string, p: unknown[]) => (n++, c.run(sql, p)),
    });
    const w = eng.withWrite.bind(eng);
    const r = eng.withRead.bind(eng);
    eng.withWrite = (fn: (c: any) => Promise<unknown>) => ((n += 2), w((c: any) => fn(wrap(c))));
    eng.withRead = (fn: (c: any) => Promise<unknown>) => r((c: any) => fn(wrap(c)));
    return { count: () => n, unit: 'statements (in-process)' };
  }
  const client = eng.client;
  if (client && typeof client.sendCommand === 'function') {
    // ioredis: a command sent on its own is one round trip; a pipeline/MULTI writes all its commands at
    // once through one stream, counted once.
    let n = 0;
    const streams = new WeakSet<object>();
    const send = client.sendCommand.bind(client);
    client.sendCommand = (cmd: unknown, stream?: object, ...rest: unknown[]) => {
      if (!stream) n++;
      else if (!streams.has(stream)) {
        streams.add(stream);
        n++;
      }
      return send(cmd, stream, ...rest);
    };
    return { count: () => n, unit: 'round trips' };
  }
  return { count: () => NaN, unit: '?' };
}

// ---- measuring ----

interface Result {
  p50: number;
  p99: number;
  opsPerSec: number;
  perOp: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** Runs fn(0..n-1) with `conc` callers pulling indexes; latency per call, wall-clock throughput, count per call. */
async function measure(n: number, conc: number, counter: Counter, fn: (i: number) => Promise<unknown>): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  const c0 = counter.count();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        await fn(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), opsPerSec: (n * 1000) / wall, perOp: (counter.count() - c0) / n };
}

/** Fills a directory with `entries` files quickly: a few big engine transactions, not one per file. */
async function fill(m: Meta, dir: number, entries: number): Promise<void> {
  const eng = (m as unknown as { eng: { txn<T>(fn: (tx: Tx) => Promise<T>): Promise<T> } }).eng;
  const batch = 500;
  for (let i = 0; i < entries; i += batch) {
    const k = Math.min(batch, entries - i);
    // Ids are known after their own commit (an engine may assign them only then).
    const last = (await eng.txn((tx) => tx.incrCounter('nextInode', k))).value;
    await eng.txn(async (tx) => {
      const t = stamp();
      for (let j = 0; j < k; j++) {
        const ino = last - k + 1 + j;
        await tx.setEntry(dir, `entry-${i + j}`, ino, TYPE_FILE);
        await tx.setAttr(ino, newAttr(TYPE_FILE, 0o644, 0, 0, dir, t));
      }
      await tx.incrCounter('totalInodes', k);
    });
  }
}

type OpName = 'lookup' | 'getattr' | 'create' | 'write-slice commit' | 'readdir 10k (plus)' | 'rename' | 'unlink';
const OPS: OpName[] = ['lookup', 'getattr', 'create', 'write-slice commit', 'readdir 10k (plus)', 'rename', 'unlink'];

async function benchEngine(m: Meta, ops: number, entries: number, log: (s: string) => void): Promise<{ unit: string; r: Map<string, Result> }> {
  const counter = installCounter(m);
  const out = new Map<string, Result>();
  const big = (await m.mkdir(CTX, ROOT_INODE, 'big', 0o755)).inode;
  await fill(m, big, entries);
  for (const conc of LEVELS) {
    const dir = (await m.mkdir(CTX, ROOT_INODE, `w${conc}`, 0o777)).inode;
    const inodes: number[] = [];
    const ids: number[] = [];
    // Slice ids come from a local batch: allocate them first so the write row times the commit only.
    for (let i = 0; i < ops; i++) ids.push(await m.newSliceId());
    const put = (op: OpName, r: Result) => out.set(`${op}|${conc}`, r);
    put('create', await measure(ops, conc, counter, async (i) => (inodes[i] = (await m.mknod(CTX, dir, `f${i}`, TYPE_FILE, 0o644)).inode)));
    put('lookup', await measure(ops, conc, counter, (i) => m.lookup(CTX, dir, `f${i}`)));
    put('getattr', await measure(ops, conc, counter, (i) => m.getattr(CTX, inodes[i]!)));
    put(
      'write-slice commit',
      await measure(ops, conc, counter, (i) => m.writeSlice(CTX, inodes[i]!, 0, 0, { id: ids[i]!, size: 4096, off: 0, len: 4096 })),
    );
    const reps = Math.max(conc, 4);
    put(
      'readdir 10k (plus)',
      await measure(reps, conc, counter, async () => {
        const list = await m.readdir(CTX, big, { plus: true });
        if (list.length !== entries) throw new Error(`readdir listed ${list.length} of ${entries}`);
      }),
    );
    put('rename', await measure(ops, conc, counter, (i) => m.rename(CTX, dir, `f${i}`, dir, `g${i}`)));
    put('unlink', await measure(ops, conc, counter, (i) => m.unlink(CTX, dir, `g${i}`)));
    log(`  ${conc} caller(s) done`);
  }
  return { unit: counter.unit, r: out };
}

// ---- engines ----

interface Target {
  name: string;
  url?: string;
  skip?: string;
  cleanup: () => Promise<void>;
}

async function targets(wanted: string[], pool: number): Promise<Target[]> {
  const out: Target[] = [];
  const schemes = metaSchemes();
  for (const name of wanted) {
    if (name === 'redis-sentinel' || name === 'redis-sentinel-wait1') {
      const missing = sentinelUnavailable();
      if (missing) {
        out.push({ name, skip: missing, cleanup: async () => undefined });
        continue;
      }
      const cluster = await SentinelCluster.start();
      const query = `?prefix=${uniquePrefix('fb').slice(0, -1)}${name.endsWith('wait1') ? '&wait=1' : ''}`;
      out.push({ name, url: cluster.url(query), cleanup: () => cluster.stop() });
      continue;
    }
    if (name === 'etcd-3') {
      const c = new EtcdCluster();
      try {
        await c.startAll(3);
      } catch (e) {
        c.stopAll();
        out.push({ name, skip: `cannot start a 3-member etcd cluster (${(e as Error).message})`, cleanup: async () => undefined });
        continue;
      }
      out.push({ name, url: `etcd://${c.endpoints.join(',')}/bench`, cleanup: async () => c.stopAll() });
      continue;
    }
    if (!schemes.includes(name)) {
      out.push({ name, skip: 'engine not registered', cleanup: async () => undefined });
      continue;
    }
    if (name === 'sqlite3') {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-engines-'));
      out.push({ name, url: `sqlite3://${join(dir, 'meta.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
      continue;
    }
    const kind = name as ServerKind;
    const base = serverUrl(kind);
    const reason = await probeServer(kind, base);
    if (reason) {
      out.push({ name, skip: `server not reachable at ${base.replace(/:[^@/:]*@/, '@')} (${reason})`, cleanup: async () => undefined });
      continue;
    }
    const prefix = uniquePrefix('fb');
    const url =
      kind === 'redis' ? withOptions(base, { prefix: prefix.slice(0, -1) }) : kind === 'etcd' ? `${base}/${prefix.slice(0, -1)}` : withOptions(base, { prefix, pool });
    out.push({ name, url, cleanup: async () => undefined });
  }
  return out;
}

// ---- table ----

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtOps = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const fmtRt = (n: number) => (Number.isNaN(n) ? '?' : Number.isInteger(n) ? String(n) : n.toFixed(2));

function table(results: Array<{ name: string; unit: string; r: Map<string, Result> }>): string {
  const head = ['operation', 'engine', '1: p50 ms', '1: p99 ms', '1: ops/s', '16: p50 ms', '16: p99 ms', '16: ops/s', 'round trips / op (min 1)'];
  const rows: string[][] = [];
  for (const op of OPS) {
    for (const { name, unit, r } of results) {
      const a = r.get(`${op}|1`);
      const b = r.get(`${op}|16`);
      if (!a || !b) continue;
      const rt = `${fmtRt(a.perOp)}${unit === 'round trips' ? '' : ` ${unit.replace(' (in-process)', '')}*`}` + (Math.abs(b.perOp - a.perOp) > 0.05 ? ` (16: ${fmtRt(b.perOp)})` : '');
      rows.push([op, name, fmtMs(a.p50), fmtMs(a.p99), fmtOps(a.opsPerSec), fmtMs(b.p50), fmtMs(b.p99), fmtOps(b.opsPerSec), rt]);
    }
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [line(head), `|${w.map((n, i) => (i < 2 ? ':' + '-'.repeat(n + 1) : '-'.repeat(n + 1) + ':')).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---- main ----

const opts = parseArgs(process.argv.slice(2));
const log = (s: string) => process.stderr.write(`${s}\n`);
console.log(`bench:engines — node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, linux ${release()}`);
console.log(`${opts.ops} operations per row and level, 1 caller and 16 concurrent callers on one client (SQL pool 16); readdir of ${opts.entries} entries.\n`);

const results: Array<{ name: string; unit: string; r: Map<string, Result> }> = [];
const notes: string[] = [];
const t0 = performance.now();
for (const t of await targets(opts.engines, 16)) {
  if (!t.url) {
    notes.push(`${t.name}: skipped — ${t.skip}`);
    continue;
  }
  log(`${t.name}: ${t.url.replace(/:[^@/:]*@/, '@')}`);
  let m: Meta | undefined;
  try {
    m = await freshMeta(t.url);
    results.push({ name: t.name, ...(await benchEngine(m, opts.ops, opts.entries, log)) });
    notes.push(`${t.name}: ${await settings(t.name, m)}`);
  } catch (e) {
    notes.push(`${t.name}: failed — ${(e as Error).message}`);
  } finally {
    if (m) {
      await m.destroy().catch(() => undefined);
      await m.close().catch(() => undefined);
    }
    await t.cleanup();
  }
}

/** What durability the server gives a commit, so the write rows can be read right. */
async function settings(name: string, m: Meta): Promise<string> {
  const eng = (m as unknown as { eng: Record<string, any> }).eng;
  try {
    if (name === 'postgres') {
      const rows = await eng.withRead((c: any) => c.all(`SELECT current_setting('synchronous_commit') AS s, current_setting('fsync') AS f`, []));
      return `synchronous_commit=${rows[0].s}, fsync=${rows[0].f}; retries after conflicts: ${eng.retries}`;
    }
    if (name === 'mysql') {
      const rows = await eng.withRead((c: any) => c.all(`SELECT VERSION() AS v, @@innodb_flush_log_at_trx_commit AS f`, []));
      return `${rows[0].v}, innodb_flush_log_at_trx_commit=${rows[0].f}; retries after conflicts: ${eng.retries}`;
    }
    if (name === 'sqlite3') return 'WAL, synchronous=NORMAL (no fsync per commit), in-process';
    if (name.startsWith('etcd')) return `${name === 'etcd' ? '1 member' : '3 members, one client talking to all'}, fsync per commit (etcd's default); transactions rerun after conflicts: ${eng.conflicts}`;
  } catch {
    /* informational only */
  }
  return 'defaults';
}

console.log(table(results));
console.log('');
console.log('* SQLite runs in the client process: its column counts SQL statements per operation (BEGIN and COMMIT included), not network round trips.');
console.log('Round trips are counted in the driver (every statement or command sent, BEGIN/COMMIT included; a Redis pipeline counts once);');
console.log('create and write include their share of id allocation (ids come in batches of 100 inodes / 1000 slices).');
console.log('16 callers: all write to one directory, so every write also updates the same parent row and the volume version row:');
console.log('SQL writers commit one at a time (the version counter is the hot row), so 16-caller write throughput shows its cost.');
for (const n of notes) console.log(`- ${n}`);
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
