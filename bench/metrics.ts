// npm run bench:metrics — the cost of --metrics: the same small-file work through a client without metrics
// and one with them (SDK, in one process, rounds alternating), then through two FUSE mounts (child
// processes, one with --metrics), printed side by side. A benchmark, never a test: it asserts nothing.
//
//   node dist/bench/metrics.js [--files 2000] [--rounds 3] [--no-fuse]
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Volume } from '../src/sdk/index.js';
import { formatVolume, fuseUnavailable, mountFerry } from '../test/helpers/mount.js';
import { tempVolume } from '../test/helpers/volume.js';

function args(): { files: number; rounds: number; fuse: boolean } {
  const o = { files: 2000, rounds: 3, fuse: true };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--files') o.files = Number(a[++i]);
    else if (a[i] === '--rounds') o.rounds = Number(a[++i]);
    else if (a[i] === '--no-fuse') o.fuse = false;
    else {
      process.stderr.write(`bench:metrics: unknown option '${a[i]}'\nusage: node dist/bench/metrics.js [--files N] [--rounds N] [--no-fuse]\n`);
      process.exit(2);
    }
  }
  if (!(o.files > 0 && o.rounds > 0)) process.exit(2);
  return o;
}

interface Ops {
  mkdir(p: string): Promise<unknown>;
  write(p: string, b: Buffer): Promise<unknown>;
  stat(p: string): Promise<unknown>;
  read(p: string): Promise<unknown>;
}

const PHASES = ['create 4 KiB', 'stat', 'read'] as const;
type Phase = (typeof PHASES)[number];
type Best = Record<'plain' | 'metered', Record<Phase, number>>;

/**
 * files/s of each phase, plain and metered interleaved in chunks of 50 files, the best chunk of each side
 * kept: on a busy machine a whole-phase time measures the neighbours, the best chunk the code.
 */
async function compare(rounds: number, files: number, plain: Ops, plainDir: string, metered: Ops, meteredDir: string): Promise<Best> {
  const best: Best = { plain: {} as Record<Phase, number>, metered: {} as Record<Phase, number> };
  const data = Buffer.alloc(4096, 1);
  const sides = [['plain', plain, plainDir], ['metered', metered, meteredDir]] as const;
  for (const [, ops, dir] of sides) await ops.mkdir(dir);
  const CHUNK = 50;
  for (let r = 0; r < rounds; r++) {
    for (const phase of PHASES) {
      for (let start = 0; start < files; start += CHUNK) {
        for (const [side, ops, dir] of sides) {
          const n = Math.min(CHUNK, files - start);
          const t = performance.now();
          for (let i = start; i < start + n; i++) {
            const p = `${dir}/r${r}-${i}`;
            if (phase === 'create 4 KiB') await ops.write(p, data);
            else if (phase === 'stat') await ops.stat(p);
            else await ops.read(p);
          }
          best[side][phase] = Math.max(best[side][phase] ?? 0, n / ((performance.now() - t) / 1000));
        }
      }
    }
  }
  return best;
}

function sdkOps(v: Volume): Ops {
  return { mkdir: (p) => v.mkdir(p), write: (p, b) => v.writeFile(p, b), stat: (p) => v.stat(p), read: (p) => v.readFile(p) };
}

const fsOps: Ops = { mkdir: (p) => mkdir(p), write: (p, b) => writeFile(p, b), stat: (p) => stat(p), read: (p) => readFile(p) };

function table(title: string, best: Best): string {
  const rows = PHASES.map((p) => {
    const a = best.plain[p];
    const b = best.metered[p];
    return `| ${p} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(((b - a) / a) * 100).toFixed(1)}% |`;
  });
  return [`${title}`, '', '| files/s (best chunk of 50) | without metrics | with --metrics | change |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** Best ns per call over chunks of calls (the best chunk filters out a busy machine's pauses). */
async function nsPerCall(fn: () => Promise<unknown>, chunks = 30, per = 5000): Promise<number> {
  let best = Infinity;
  for (let c = 0; c < chunks; c++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < per; i++) await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / per);
  }
  return best;
}

/** The added cost per operation, isolated from I/O: the Meta proxy, the store decorator, a FUSE observation. */
async function perCallCost(): Promise<string> {
  const { enableMetrics } = await import('../src/object/metrics.js');
  const { meteredMeta } = await import('../src/meta/metered.js');
  const { MeteredStore } = await import('../src/object/metered.js');
  const { openObjectStore } = await import('../src/object/index.js');
  const m = await enableMetrics();
  const fake = { async getattr(ino: number) { return ino; } } as unknown as import('../src/meta/interface.js').Meta;
  const proxied = meteredMeta(fake, m);
  const store = await openObjectStore(`mem://bench-metrics-${process.pid}`, {});
  await store.put('k', Buffer.alloc(4096));
  const metered = new MeteredStore(store, m);
  const rows: Array<[string, number, number]> = [
    ['metadata call (Meta proxy)', await nsPerCall(() => fake.getattr(1 as never, 1 as never) as Promise<unknown>), await nsPerCall(() => proxied.getattr(1 as never, 1 as never) as Promise<unknown>)],
    ['object get 4 KiB, mem:// (decorator)', await nsPerCall(() => store.get('k')), await nsPerCall(() => metered.get('k'))],
    ['FUSE request observation', 0, await nsPerCall(async () => m.fuse.observe('lookup', 0.0001))],
  ];
  await store.close();
  return [
    'Added cost per operation, without I/O (best of 30 chunks of 5,000 calls)',
    '',
    '| call | without metrics (ns) | with --metrics (ns) | added (µs) |',
    '|---|---|---|---|',
    ...rows.map(([k, a, b]) => `| ${k} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${((b - a) / 1000).toFixed(2)} |`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o = args();
  process.stdout.write((await perCallCost()) + '\n');
  const t = await tempVolume({ storage: 'mem' });
  try {
    const plain = t.v;
    const metered = await t.open({ metrics: '127.0.0.1:0' });
    const best = await compare(o.rounds, o.files, sdkOps(plain), '/plain', sdkOps(metered), '/metered');
    process.stdout.write(table(`SDK, SQLite + mem://, ${o.files} files, ${o.rounds} rounds`, best) + '\n');
  } finally {
    await t.cleanup();
  }
  const why = o.fuse ? fuseUnavailable() : 'skipped (--no-fuse)';
  if (why) {
    process.stdout.write(`FUSE: ${why}\n`);
    return;
  }
  const vol = await formatVolume();
  const a = await mountFerry(vol.url, join(vol.dir, 'plain'));
  const b = await mountFerry(vol.url, join(vol.dir, 'metered'), ['--metrics', '127.0.0.1:0']);
  try {
    const best = await compare(o.rounds, o.files, fsOps, join(a.mp, 'p'), fsOps, join(b.mp, 'm'));
    process.stdout.write(table(`FUSE mounts (child processes), SQLite + file://, ${o.files} files, ${o.rounds} rounds`, best) + '\n');
  } finally {
    await a.unmount();
    await b.unmount();
    await vol.cleanup();
  }
}

await main();
