// npm run bench:cache — "model repository" (issue #9): one model-sized file in a volume on Ceph RGW (S3) made
// slow and remote by a proxy (bench/throttle-proxy.ts: a delay per request, one bandwidth cap for all
// responses), read completely by N concurrent reader processes (bench/cache-reader.ts), side by side:
// (a) every reader straight from the object store, (b) through a cache group of `ferry cache serve`
// members, cold, (c) the same after `ferry warmup`; object-store GETs and bytes are counted at the proxy.
// Then random 4 KiB read latency from the object store vs the group vs a local disk cache.
// A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/cache.js [--size 2G] [--readers 32] [--members 3] [--latency 20] [--bandwidth 128M] [--random 200] [--no-direct]
//
// --no-direct skips (a), the longest part, when working on the group.
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Volume } from '../src/sdk/index.js';
import { cacheServe, type Server } from '../test/helpers/cache.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from '../test/helpers/rgw.js';
import { ferry, killAll, runReaders } from './cache-procs.js';
import { dropBucket } from './rgw-bucket.js';
import type { ReaderJob, ReaderResult } from './cache-reader.js';
import { ThrottleProxy, type ProxyCounts } from './throttle-proxy.js';

const MiB = 1 << 20;
const GROUP = 'bench';
const PATH = '/model.bin';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:cache: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/cache.js [--size 2G] [--readers 32] [--members 3] [--latency 20] [--bandwidth 128M] [--random 200] [--no-direct]\n');
  process.exit(msg ? 2 : 0);
}

function size(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(s.trim());
  if (!m) usage(`bad size '${s}'`);
  return Math.floor(Number(m[1]) * { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']);
}

function args() {
  // 128 MiB/s (about a 1 Gbit/s link): a cap that binds. This machine's RGW and Node S3 clients move only
  // ~150-200 MiB/s in all, so a higher cap would leave (a) bound by CPU noise instead of by the link.
  const o = { size: 2048 * MiB, readers: 32, members: 3, latency: 20, bandwidth: 128 * MiB, random: 200, direct: true };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i] ?? usage(`${a[i - 1]} needs a value`);
    const count = (s: string) => (/^\d+$/.test(s) && Number(s) > 0 ? Number(s) : usage(`${a[i - 1]}: '${s}' is not a positive number`));
    if (a[i] === '--size') o.size = size(v());
    else if (a[i] === '--readers') o.readers = count(v());
    else if (a[i] === '--members') o.members = count(v());
    else if (a[i] === '--latency') o.latency = Number(v());
    else if (a[i] === '--bandwidth') o.bandwidth = size(v());
    else if (a[i] === '--random') o.random = count(v());
    else if (a[i] === '--no-direct') o.direct = false;
    else if (a[i] === '-h' || a[i] === '--help') usage();
    else usage(`unknown option '${a[i]}'`);
  }
  return o;
}

const started = performance.now();

/** Where the run is: one updated line on a terminal, else timestamped lines (a log of a long run). */
function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
  else if (msg) process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${msg}\n`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Writes the model file (every 8 MiB piece differs) straight to RGW; returns its sha256. */
async function writeModel(metaUrl: string, bytes: number): Promise<string> {
  // The writer skips the proxy: the benchmark is about reads, and the proxy's counters start at zero anyway.
  const v = await Volume.open(metaUrl, { backgroundJobs: false, objectOptions: { endpoint: RGW_ENDPOINT } });
  try {
    const fh = await v.open(PATH, 'w');
    const piece = randomBytes(8 * MiB);
    const h = createHash('sha256');
    for (let off = 0; off < bytes; off += piece.length) {
      const n = Math.min(piece.length, bytes - off);
      piece.writeUInt32LE(off / piece.length, 0);
      await fh.write(piece, 0, n, off);
      h.update(piece.subarray(0, n));
    }
    await fh.close();
    return h.digest('hex');
  } finally {
    await v.close();
  }
}

interface Row {
  scenario: string;
  ms: number;
  /** Bytes the readers (or warm-up) delivered, for MB/s. */
  bytes: number;
  counts: ProxyCounts;
}

async function main(): Promise<void> {
  const o = args();
  await requireRgw();
  const root = await fsp.mkdtemp(join(tmpdir(), 'ferry-bench-cache-'));
  const proxy = new ThrottleProxy({ target: RGW_ENDPOINT, delayMs: o.latency, bandwidth: o.bandwidth });
  const endpoint = await proxy.listen();
  const bucket = rgwBucket('bench-cache');
  const metaUrl = `sqlite3://${join(root, 'meta.db')}`;
  const members: Server[] = [];
  let formatted = false;
  const interrupted = () => {
    killAll();
    for (const m of members) m.proc.kill('SIGKILL');
  };
  process.once('SIGINT', interrupted);
  try {
    const load0 = loadavg()[0]!.toFixed(1);
    progress('formatting');
    // Every client reads the storage URL, with the proxy as its S3 endpoint, from the volume's format record.
    await ferry(['format', '--storage', `s3://${bucket}`, '--storage-endpoint', endpoint, '--access-key', RGW_ACCESS_KEY, '--secret-key', RGW_SECRET_KEY, '--trash-days', '0', metaUrl, 'models']);
    formatted = true;
    progress(`writing the ${(o.size / MiB).toFixed(0)} MiB model file`);
    const w0 = performance.now();
    const digest = await writeModel(metaUrl, o.size);
    const writeSec = (performance.now() - w0) / 1000;

    const rows: Row[] = [];
    const notes: string[] = [];
    const seqJobs = (options: ReaderJob['options']): ReaderJob[] =>
      Array.from({ length: o.readers }, (_, i) => ({ metaUrl, path: PATH, options, digest: i === 0 }));
    const check = (scenario: string, results: ReaderResult[]) => {
      if (results[0]!.sha256 !== digest) throw new Error(`${scenario}: reader 0 read wrong data`);
      for (const r of results) if (r.bytes !== o.size) throw new Error(`${scenario}: a reader read ${r.bytes} of ${o.size} bytes`);
    };
    const readAll = async (scenario: string, options: ReaderJob['options']) => {
      progress(scenario);
      proxy.reset();
      const { ms, results } = await runReaders(seqJobs(options));
      const counts = proxy.reset();
      check(scenario, results);
      rows.push({ scenario, ms, bytes: o.size * o.readers, counts });
      progress(`${scenario}: ${(ms / 1000).toFixed(1)} s, ${counts.gets} GETs, ${(counts.getBytes / MiB).toFixed(0)} MiB`);
      // Who fetched from the store: readers that gave up on a member (and why), or the members.
      const readerGets = results.reduce((n, r) => n + (r.storeGets ?? 0), 0);
      const reasons: Record<string, number> = {};
      for (const r of results) for (const [k, n] of Object.entries(r.peerFailures ?? {})) reasons[k] = (reasons[k] ?? 0) + n;
      const why = Object.entries(reasons).map(([k, n]) => `${n}x ${k}`).join(', ');
      if (options.cacheGroup) notes.push(`${scenario.trim()}: readers' own GETs ${readerGets}${why ? ` (gave up on a member: ${why})` : ''}, members' ${counts.gets - readerGets}`);
    };

    // (a) every reader straight from the object store (no cache of any kind)
    if (o.direct) await readAll('(a) every reader straight from the object store', {});

    // (b) a cache group of dedicated members, cold; readers are forwarding clients (no disk cache, not members)
    for (let i = 0; i < o.members; i++) {
      members.push(await cacheServe(metaUrl, ['--cache-group', GROUP, '--listen', '127.0.0.1:0', '--cache-dir', join(root, `member${i}`)]));
    }
    const groupClient = { cacheGroup: GROUP, noSharing: true };
    await readAll(`(b) cache group of ${o.members} members, cold`, groupClient);

    // (c) empty the group (`warmup --evict`), warm it with the real CLI, read again
    progress('ferry warmup');
    await ferry(['warmup', metaUrl, PATH, '--cache-group', GROUP, '--evict']);
    proxy.reset();
    const t0 = performance.now();
    const warmOut = await ferry(['warmup', metaUrl, PATH, '--cache-group', GROUP, '--threads', '16']);
    rows.push({ scenario: `    ferry warmup --cache-group (into ${o.members} members)`, ms: performance.now() - t0, bytes: o.size, counts: proxy.reset() });
    await readAll(`(c) cache group of ${o.members} members, after warmup`, groupClient);

    // Random 4 KiB reads, one at a time, at the same 4 KiB-aligned offsets for each source.
    const offsets = Array.from({ length: o.random }, () => Math.floor(Math.random() * Math.floor(o.size / 4096)) * 4096);
    const latency = async (options: ReaderJob['options'], passes = 1) => {
      proxy.reset();
      const { results } = await runReaders([{ metaUrl, path: PATH, options, offsets, passes }]);
      return { passes: results[0]!.latencies!, gets: proxy.reset().gets };
    };
    progress('random 4 KiB reads');
    const lrows: Array<[string, number[], number]> = [];
    const store = await latency({});
    lrows.push(['object store (no cache: a 4 KiB ranged GET each)', store.passes[0]!, store.gets]);
    const group = await latency({ ...groupClient, memoryCacheSize: 0 });
    lrows.push([`cache group of ${o.members}, warm (forwarding client, no memory cache)`, group.passes[0]!, group.gets]);
    const local = await latency({ cacheDir: join(root, 'local'), memoryCacheSize: 0 }, 2);
    lrows.push(['local disk cache, cold (first read fetches the whole 4 MiB block)', local.passes[0]!, local.gets]);
    lrows.push(['local disk cache, warm (memory cache off)', local.passes[1]!, 0]);
    progress('');

    const mb = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
    console.log(
      `FerryFS cache benchmark — node ${process.version}, ${availableParallelism()} cpus, load average ${load0} at start, ` +
        `${loadavg()[0]!.toFixed(1)} at end (a shared machine: wall times are noisy)\n` +
        `A ${mb(o.size)} file (4 MiB blocks) written once in ${writeSec.toFixed(0)} s to Ceph RGW (S3), read through a proxy adding ` +
        `${o.latency} ms per request and one ${mb(o.bandwidth)}/s link shared by all responses, by ${o.readers} concurrent ` +
        `reader processes (SDK Volume.open each, 4 MiB sequential reads)\n`,
    );
    console.log('| scenario | wall time | MB/s (all readers) | object-store GETs | bytes fetched | × file size |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.scenario.trim()} | ${(r.ms / 1000).toFixed(1)} s | ${(r.bytes / 1e6 / (r.ms / 1000)).toFixed(0)} | ${r.counts.gets} | ` +
          `${mb(r.counts.getBytes)} | ${(r.counts.getBytes / o.size).toFixed(2)} |`,
      );
    }
    console.log(`\n| random 4 KiB read (${o.random} reads, one at a time) | p50 | p99 | object-store GETs |`);
    console.log('|---|---:|---:|---:|');
    for (const [n, ms, gets] of lrows) console.log(`| ${n} | ${pct(ms, 50).toFixed(2)} ms | ${pct(ms, 99).toFixed(2)} ms | ${gets} |`);
    console.log(
      `\nGETs and bytes are counted at the proxy (readers, members and warm-up together; the members' 'warmup --evict' ` +
        `before (c) is not counted). ferry warmup said: ${warmOut.trim()}`,
    );
    for (const n of notes) console.log(`- ${n}`);
  } finally {
    progress('cleaning up');
    for (const m of members) await m.stop().catch(() => undefined);
    killAll();
    await proxy.close();
    await dropBucket(bucket).catch((e) => formatted && process.stderr.write(`bench:cache: could not delete bucket ${bucket}: ${(e as Error).message}\n`));
    await fsp.rm(root, { recursive: true, force: true });
    progress('');
  }
}

main().catch((e) => {
  process.stderr.write(`bench:cache: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
