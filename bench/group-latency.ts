// npm run bench:group-latency — warm random 4 KiB reads on loopback, one at a time: through a cache group
// member (a forwarding client asks the member, which holds the file in its disk cache, memory cache off)
// beside a warm local disk cache, on a volume without and with the block checksum. No object store server
// needed (mem://, in one process: the member's HTTP server is real). A benchmark, never a test.
//
//   node dist/bench/group-latency.js [--reads 300] [--size 64M] [--baseline DIR]
// --baseline DIR: the same with another build (DIR/dist, e.g. the commit before), printed side by side.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const MiB = 1 << 20;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const READS = Number(arg('reads', '300'));
const SIZE = Number(arg('size', '64')) * MiB || 64 * MiB;
const BASELINE = arg('baseline', '');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

type Row = { name: string; p50: number; p99: number };

/** The scenarios with the build whose dist/ is at `dist` (this one or the baseline). */
async function run(dist: string): Promise<Row[]> {
  const { tempVolume } = (await import(pathToFileURL(join(dist, 'test/helpers/volume.js')).href)) as typeof import('../test/helpers/volume.js');
  const { cacheOf } = (await import(pathToFileURL(join(dist, 'test/helpers/cache.js')).href)) as typeof import('../test/helpers/cache.js');
  const rows: Row[] = [];
  const data = randomBytes(SIZE);
  // The same offsets for every scenario, 4 KiB aligned, in random order.
  const offsets = Array.from({ length: READS }, () => Math.floor(Math.random() * (SIZE / 4096)) * 4096);
  for (const checksum of ['none', 'crc32c']) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-glat-'));
    const t = await tempVolume({ storage: 'mem', format: { checksum } });
    try {
      await t.v.writeFile('/f.bin', data);
      const group = `g-${randomUUID()}`;
      const member = await t.open({ cacheDir: join(dir, 'member'), memoryCacheSize: 0, cacheGroup: group, backgroundJobs: false });
      await member.readFile('/f.bin');
      await cacheOf(member).idle();
      const reader = await t.open({ memoryCacheSize: 0, cacheGroup: group, noSharing: true, backgroundJobs: false });
      await cacheOf(reader).group!.refresh();
      const local = await t.open({ cacheDir: join(dir, 'local'), memoryCacheSize: 0, backgroundJobs: false });
      await local.readFile('/f.bin');
      await cacheOf(local).idle();
      for (const [name, v] of [
        [`cache group member, warm (checksum ${checksum})`, reader],
        [`local disk cache, warm (checksum ${checksum})`, local],
      ] as const) {
        // A fresh handle per read: no read-ahead state carried from one read to the next.
        const buf = Buffer.alloc(4096);
        const ms: number[] = [];
        for (const off of offsets) {
          const fh = await v.open('/f.bin', 'r');
          const t0 = performance.now();
          await fh.read(buf, 0, 4096, off);
          ms.push(performance.now() - t0);
          await fh.close();
        }
        rows.push({ name, p50: pct(ms, 50), p99: pct(ms, 99) });
      }
    } finally {
      await t.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const here = new URL('..', import.meta.url).pathname;
  const after = await run(here);
  const before = BASELINE ? await run(join(BASELINE, 'dist')) : undefined;
  const cols = before ? ['baseline p50', 'baseline p99', 'p50', 'p99'] : ['p50', 'p99'];
  console.log(`bench:group-latency — ${READS} random 4 KiB reads of a ${SIZE / MiB} MiB file (4 MiB blocks), one at a time, loopback; ${availableParallelism()} cpus, load average ${loadavg()[0]!.toFixed(1)}`);
  console.log(`| scenario | ${cols.join(' | ')} |`);
  console.log(`|---|${cols.map(() => '---:').join('|')}|`);
  const f = (x: number) => `${x.toFixed(2)} ms`;
  for (const [i, r] of after.entries()) {
    const b = before?.[i];
    console.log(`| ${r.name} | ${b ? `${f(b.p50)} | ${f(b.p99)} | ` : ''}${f(r.p50)} | ${f(r.p99)} |`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench:group-latency: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
