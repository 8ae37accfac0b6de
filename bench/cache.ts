// npm run bench:cache — "model repository": one model-sized file read completely by N concurrent readers
// from an object store made slow and remote (probe:// over file://: a per-request latency and one shared
// bandwidth cap), side by side without cache, with a local disk cache per reader, and with a cache group
// (cold, then after warm-up); then random 4 KiB read latency from the object store vs the caches.
// A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/cache.js [--size 256M] [--readers 8] [--members 3] [--latency 20] [--bandwidth 400M] [--random 200]
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CachedObjectStore } from '../src/cache/store.js';
import { planWarmup, runWarmup } from '../src/cache/warmup.js';
import { openCachedStore } from '../src/cache/options.js';
import { openObjectStore } from '../src/object/index.js';
import type { Volume, VolumeOptions } from '../src/sdk/index.js';
import { newProbe, type Probe } from '../test/helpers/cache.js';
import { tempVolume } from '../test/helpers/volume.js';

const MiB = 1 << 20;

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:cache: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/cache.js [--size 256M] [--readers 8] [--members 3] [--latency 20] [--bandwidth 400M] [--random 200]\n');
  process.exit(msg ? 2 : 0);
}

function size(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(s.trim());
  if (!m) usage(`bad size '${s}'`);
  return Math.floor(Number(m[1]) * { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']);
}

function args() {
  const o = { size: 256 * MiB, readers: 8, members: 3, latency: 20, bandwidth: 400 * MiB, random: 200 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i] ?? usage(`${a[i - 1]} needs a value`);
    if (a[i] === '--size') o.size = size(v());
    else if (a[i] === '--readers') o.readers = Number(v());
    else if (a[i] === '--members') o.members = Number(v());
    else if (a[i] === '--latency') o.latency = Number(v());
    else if (a[i] === '--bandwidth') o.bandwidth = size(v());
    else if (a[i] === '--random') o.random = Number(v());
    else if (a[i] === '-h' || a[i] === '--help') usage();
    else usage(`unknown option '${a[i]}'`);
  }
  return o;
}

/**
 * `--member`: a cache group member in a process of its own (like `ferry cache serve`, but over this
 * benchmark's probe store): prints its address, and its object-store counts when told to stop.
 */
async function member(argv: string[]): Promise<void> {
  const [probeId, inner, latency, bandwidth, metaUrl, cacheDir] = argv as [string, string, string, string, string, string];
  const probe = newProbe(probeId, inner, { latencyMs: Number(latency), bandwidth: Number(bandwidth) });
  const { openMeta } = await import('../src/meta/index.js');
  const meta = await openMeta(metaUrl);
  const format = await meta.load();
  await meta.close();
  const store = await openCachedStore(format, await openObjectStore(format.storage), {
    cacheDir,
    cacheGroup: 'bench',
    groupMetaUrl: metaUrl,
    groupLabel: 'bench member',
  });
  process.stdout.write(`member at ${store.group!.address}\n`);
  process.on('SIGUSR2', () => process.stdout.write(`stats ${JSON.stringify({ gets: probe.gets, bytes: probe.getBytes })}\n`));
  process.once('SIGTERM', () => {
    void store.close().finally(() => {
      process.stdout.write(`stats ${JSON.stringify({ gets: probe.gets, bytes: probe.getBytes })}\n`);
      process.exit(0);
    });
  });
}

interface MemberProc {
  proc: ChildProcess;
  /** Its object-store gets and bytes so far. */
  stats(): Promise<{ gets: number; bytes: number }>;
  stop(): Promise<void>;
}

async function startMember(args: string[]): Promise<MemberProc> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--member', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const look = () => out.includes('member at ') && resolve();
    proc.stdout!.on('data', look);
    proc.once('exit', (c) => reject(new Error(`member exited with ${c}: ${out}`)));
  });
  const last = () => {
    const all = [...out.matchAll(/stats (\{.*\})/g)];
    return all.length;
  };
  return {
    proc,
    async stats() {
      const n = last();
      proc.kill('SIGUSR2');
      while (last() === n) await new Promise((r) => setTimeout(r, 20));
      const all = [...out.matchAll(/stats (\{.*\})/g)];
      return JSON.parse(all.at(-1)![1]!) as { gets: number; bytes: number };
    },
    async stop() {
      const done = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

function cacheOf(v: Volume): CachedObjectStore {
  let s: unknown = v.vfs.store.objects;
  for (let i = 0; i < 8 && s; i++) {
    if (s instanceof CachedObjectStore) return s;
    s = (s as { inner?: unknown }).inner;
  }
  throw new Error('no cache in the store stack');
}

/** Reads the whole file in 4 MiB calls; the digest of reader 0 is checked. */
async function readAll(v: Volume, path: string, digest: boolean): Promise<string> {
  const fh = await v.open(path, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  const h = digest ? createHash('sha256') : undefined;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h?.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h?.digest('hex') ?? '';
}

interface Row {
  scenario: string;
  sec: number;
  gets: number;
  bytes: number;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const o = args();
  const root = await fsp.mkdtemp(join(tmpdir(), 'ferry-bench-cache-'));
  const probeId = randomUUID();
  const probe: Probe = newProbe(probeId, `file://${join(root, 'blocks')}`);
  const t = await tempVolume({ parent: root, format: { storage: `probe://${probeId}` }, volume: { backgroundJobs: false } });
  const open: Volume[] = [];
  const openVol = async (opts: VolumeOptions) => {
    const v = await t.open({ backgroundJobs: false, ...opts });
    open.push(v);
    return v;
  };
  const closeAll = async () => {
    for (const v of open.splice(0)) await v.close();
  };
  const dir = async (n: string) => {
    const d = join(root, n);
    await fsp.mkdir(d, { recursive: true });
    return d;
  };
  const members: MemberProc[] = [];
  try {
    console.log(
      `FerryFS cache benchmark — node ${process.version}, ${availableParallelism()} cpus; a ${(o.size / MiB).toFixed(0)} MiB file ` +
        `(block size ${t.v.format.blockSize / MiB} MiB) read by ${o.readers} concurrent in-process readers; object store: file:// ` +
        `behind ${o.latency} ms per request and one ${(o.bandwidth / MiB).toFixed(0)} MiB/s link shared by all gets\n`,
    );
    progress('writing the model file');
    const fh = await t.v.open('/model.bin', 'w');
    const piece = randomBytes(8 * MiB);
    const want = createHash('sha256');
    for (let off = 0; off < o.size; off += piece.length) {
      const n = Math.min(piece.length, o.size - off);
      piece.writeUInt32LE(off / piece.length, 0); // every piece differs
      await fh.write(piece, 0, n, off);
      want.update(piece.subarray(0, n));
    }
    await fh.close();
    const digest = want.digest('hex');
    probe.latencyMs = o.latency;
    probe.bandwidth = o.bandwidth;

    const rows: Row[] = [];
    const run = async (scenario: string, readers: Volume[]) => {
      progress(scenario);
      const g0 = probe.gets;
      const b0 = probe.getBytes;
      const t0 = performance.now();
      const sums = await Promise.all(readers.map((v, i) => readAll(v, '/model.bin', i === 0)));
      const sec = (performance.now() - t0) / 1000;
      if (sums[0] !== digest) throw new Error(`${scenario}: wrong data`);
      rows.push({ scenario, sec, gets: probe.gets - g0, bytes: probe.getBytes - b0 });
    };
    const readers = (opts: (i: number) => Promise<VolumeOptions>) => Promise.all(Array.from({ length: o.readers }, async (_, i) => openVol(await opts(i))));

    // (a) straight from the object store
    await run('(a) object store, no cache', await readers(async () => ({})));
    await closeAll();
    // (b) a local disk cache per reader: cold, then a second read
    const local = await readers(async (i) => ({ cacheDir: await dir(`local${i}`) }));
    await run('(b) local disk cache per reader, cold', local);
    await Promise.all(local.map((v) => cacheOf(v).idle()));
    await closeAll();
    await run('(b2) local disk cache per reader, restarted (warm)', await readers(async (i) => ({ cacheDir: await dir(`local${i}`) })));
    await closeAll();
    // (c) a cache group of dedicated member processes, readers forwarding to it (--no-sharing). The members
    // count their own object-store gets (each process has its own link of the same bandwidth).
    const groupOpts = { cacheGroup: 'bench', groupMetaUrl: t.url };
    const memberArgs = async (i: number) => [probeId, probe.inner, String(o.latency), String(o.bandwidth), t.url, await dir(`member${i}`)];
    const counted = async () => {
      let gets = 0;
      let bytes = 0;
      for (const m of members) {
        const st = await m.stats();
        gets += st.gets;
        bytes += st.bytes;
      }
      return { gets, bytes };
    };
    const groupRun = async (scenario: string) => {
      const before = await counted();
      await run(scenario, await readers(async () => ({ ...groupOpts, noSharing: true })));
      await closeAll();
      const after = await counted();
      rows.at(-1)!.gets += after.gets - before.gets;
      rows.at(-1)!.bytes += after.bytes - before.bytes;
    };
    for (let i = 0; i < o.members; i++) members.push(await startMember(await memberArgs(i)));
    await groupRun(`(c) cache group of ${o.members} member processes, cold`);
    // (d) evict the members' caches, warm them (as `ferry warmup --cache-group` does), read again
    const warmStore = await openCachedStore(t.v.format, await openObjectStore(t.v.format.storage), { ...groupOpts, noSharing: true, memoryCacheSize: 0 });
    const plan = await planWarmup(t.v, ['/model.bin']);
    await runWarmup(plan, warmStore, 'evict', 16);
    progress('warming the group');
    const c0 = await counted();
    const w0 = performance.now();
    await runWarmup(plan, warmStore, 'warm', 16);
    const warmSec = (performance.now() - w0) / 1000;
    const c1 = await counted();
    rows.push({ scenario: `    ferry warmup into the group`, sec: warmSec, gets: c1.gets - c0.gets, bytes: c1.bytes - c0.bytes });
    await groupRun(`(d) cache group of ${o.members}, after warm-up`);

    console.log('| scenario | wall time | MB/s (all readers) | object-store GETs | bytes fetched | × file size |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const total = r.scenario.startsWith('    ') ? o.size : o.size * o.readers;
      console.log(
        `| ${r.scenario.trim()} | ${r.sec.toFixed(2)} s | ${(total / 1e6 / r.sec).toFixed(0)} | ${r.gets} | ${(r.bytes / MiB).toFixed(0)} MiB | ${(r.bytes / o.size).toFixed(2)} |`,
      );
    }

    // Random 4 KiB reads, one at a time, at the same random offsets for each source.
    const offsets = Array.from({ length: o.random }, () => Math.floor(Math.random() * (o.size - 4096)));
    const lat = async (v: Volume) => {
      const h = await v.open('/model.bin', 'r');
      const b = Buffer.allocUnsafe(4096);
      const ms: number[] = [];
      for (const off of offsets) {
        const t0 = performance.now();
        await h.read(b, 0, 4096, off);
        ms.push(performance.now() - t0);
      }
      await h.close();
      return ms;
    };
    progress('random 4 KiB reads');
    const lrows: Array<[string, number[]]> = [];
    lrows.push(['object store (no cache)', await lat(await openVol({}))]);
    lrows.push(['local disk cache, warm (memory cache off)', await lat(await openVol({ cacheDir: await dir('local0'), memoryCacheSize: 0 }))]);
    lrows.push(['local disk + memory cache, warm', await lat(await openVol({ cacheDir: await dir('local1'), memoryCacheSize: 2 * o.size }))]);
    lrows.push([`cache group of ${o.members}, warm (forwarding reader)`, await lat(await openVol({ ...groupOpts, noSharing: true, memoryCacheSize: 0 }))]);
    progress('');
    console.log(`\n| random 4 KiB read (${o.random} reads, one at a time) | p50 | p99 |`);
    console.log('|---|---:|---:|');
    for (const [n, ms] of lrows) console.log(`| ${n} | ${pct(ms, 50).toFixed(2)} ms | ${pct(ms, 99).toFixed(2)} ms |`);
    console.log(
      '\nGETs and bytes are counted at the object store (all readers together). The local disk rows read block files ' +
        'through the page cache; each disk-cache hit reads and checksums the whole block file.',
    );
    await warmStore.close();
  } finally {
    for (const m of members) await m.stop().catch(() => undefined);
    await closeAll();
    await t.cleanup();
    await fsp.rm(root, { recursive: true, force: true });
  }
}

(process.argv[2] === '--member' ? member(process.argv.slice(3)) : main()).catch((e) => {
  process.stderr.write(`bench:cache: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
