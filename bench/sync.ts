// npm run bench:sync — `ferry sync` of many small files and of one big file from the local disk into a FerryFS
// volume (through the SDK, no mount), side by side with `rsync -a` and `cp -r` into a FUSE mount of a FerryFS
// volume and into the local disk; then a second run of each syncing tool with nothing changed. Runs as root
// (the mount). A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/sync.js [--quick] [--files 10000] [--size 1G]
// --quick: 1,000 files and a 128 MiB file. Installs rsync with apt-get when it is missing.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, formatVolume, mountFerry } from '../test/helpers/mount.js';

const MiB = 1 << 20;
const quick = process.argv.includes('--quick');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1]!;
  return process.env[`FERRY_BENCH_${name.toUpperCase()}`] ?? def;
}

function size(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * ({ '': 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2]!.toUpperCase()] ?? 1);
}

const FILES = Number(arg('files', quick ? '1000' : '10000'));
const BIG = size(arg('size', quick ? '128M' : '1G'));

function sh(cmd: string, args: string[], timeoutMs = 1_800_000): Promise<string> {
  return new Promise((res, rej) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 256 << 20 }, (e, out, err) => (e ? rej(new Error(`${cmd} ${args.join(' ')}: ${err || e.message}`)) : res(String(out)))),
  );
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await sh(cmd, args);
  return (performance.now() - t0) / 1000;
}

/** FILES files of 1-8 KiB in 100 directories, and one BIG file of random bytes. */
async function makeSources(base: string): Promise<{ small: string; big: string; smallBytes: number }> {
  const small = join(base, 'small');
  let smallBytes = 0;
  for (let d = 0; d < 100; d++) await fsp.mkdir(join(small, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const n = 1024 + ((i * 7919) % 7168);
    smallBytes += n;
    await fsp.writeFile(join(small, `d${i % 100}`, `f${i}.bin`), randomBytes(n));
  }
  const big = join(base, 'big');
  await fsp.mkdir(big);
  const fh = await fsp.open(join(big, 'big.bin'), 'w');
  const chunk = randomBytes(16 * MiB);
  for (let off = 0; off < BIG; off += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, BIG - off));
  await fh.close();
  return { small, big, smallBytes };
}

interface Cell {
  first: number;
  again?: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (the FUSE mount)');
  if (!existsSync('/usr/bin/rsync')) await sh('apt-get', ['install', '-y', '-qq', 'rsync']);
  const base = await fsp.mkdtemp(join(tmpdir(), 'ferry-bench-sync-'));
  const src = await makeSources(base);
  const vol = await formatVolume();
  const mount = await mountFerry(vol.url, join(vol.dir, 'mnt'));
  const local = join(base, 'local');
  await fsp.mkdir(local);
  const results = new Map<string, Map<string, Cell>>();
  const put = (row: string, col: string, c: Cell) => {
    if (!results.has(row)) results.set(row, new Map());
    results.get(row)!.set(col, c);
  };
  const cols = ['ferry sync -> FerryFS', 'rsync -a -> FerryFS mount', 'cp -r -> FerryFS mount', 'rsync -a -> local disk', 'cp -r -> local disk'];
  try {
    for (const [row, dir] of [['small', src.small], ['big', src.big]] as const) {
      const ferryRun = () => timed(process.execPath, [CLI, 'sync', dir, `${vol.url}:/ferry-${row}`]);
      put(row, cols[0]!, { first: await ferryRun(), again: await ferryRun() });
      const rsyncTo = async (to: string) => {
        const t = () => timed('rsync', ['-a', `${dir}/`, `${to}/`]);
        return { first: await t(), again: await t() };
      };
      put(row, cols[1]!, await rsyncTo(join(mount.mp, `rsync-${row}`)));
      put(row, cols[2]!, { first: await timed('cp', ['-r', dir, join(mount.mp, `cp-${row}`)]) });
      put(row, cols[3]!, await rsyncTo(join(local, `rsync-${row}`)));
      put(row, cols[4]!, { first: await timed('cp', ['-r', dir, join(local, `cp-${row}`)]) });
      await sh('sync', []);
    }
  } finally {
    await mount.unmount();
    await vol.cleanup();
    await fsp.rm(base, { recursive: true, force: true });
  }

  const rows: Array<[string, string, (c: Cell) => string]> = [
    [`${FILES} small files (${(src.smallBytes / MiB).toFixed(0)} MiB)`, 'files/s', (c) => (FILES / c.first).toFixed(0)],
    ['  same, seconds', 's', (c) => c.first.toFixed(2)],
    ['  second run, nothing changed', 's', (c) => (c.again === undefined ? '-' : c.again.toFixed(2))],
    [`one ${BIG / MiB} MiB file`, 'MiB/s', (c) => (BIG / MiB / c.first).toFixed(0)],
    ['  same, seconds', 's', (c) => c.first.toFixed(2)],
    ['  second run, nothing changed', 's', (c) => (c.again === undefined ? '-' : c.again.toFixed(2))],
  ];
  const rowKey = (i: number) => (i < 3 ? 'small' : 'big');
  const w0 = Math.max(...rows.map((r) => r[0].length)) + 2;
  const wc = Math.max(...cols.map((c) => c.length)) + 2;
  const lines: string[] = [];
  lines.push(`bench:sync — ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Linux ${release()}${quick ? ', --quick' : ''}`);
  lines.push('');
  lines.push('workload'.padEnd(w0) + 'unit'.padEnd(9) + cols.map((c) => c.padStart(wc)).join(''));
  lines.push('-'.repeat(w0 + 9 + wc * cols.length));
  rows.forEach(([label, unit, f], i) => {
    lines.push(label.padEnd(w0) + unit.padEnd(9) + cols.map((c) => f(results.get(rowKey(i))!.get(c)!).padStart(wc)).join(''));
  });
  lines.push('');
  lines.push('FerryFS: metadata in SQLite, blocks with file:// on the same local disk. ferry sync runs as its own process');
  lines.push('(start-up and client session included); rsync and cp write through a `ferry mount` of the same volume.');
  lines.push('The source is on the local disk, in the page cache. cp has no incremental mode: no second run.');
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench:sync: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
