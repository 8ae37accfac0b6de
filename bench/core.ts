// npm run bench:core — FerryFS on the embedded default (SQLite metadata + file:// object store in a temp dir)
// against node:fs/promises on a temp dir of the same disk, the same work in one run, printed as one table.
// A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/core.js [--size 1G] [--files 10000] [--dir /path/on/the/disk/to/measure]
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Volume } from '../src/sdk/index.js';
import { volumeView } from '../src/sdk/volume.js';
import { tempVolume, type TempVolume } from '../test/helpers/volume.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---- arguments ----

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:core: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/core.js [--size 1G] [--files 10000] [--dir DIR]\n');
  process.exit(msg ? 2 : 0);
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) usage(`bad size '${s}' (examples: 1G, 256M, 1048576)`);
  const mult = { '': 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Math.floor(Number(m[1]) * mult);
  if (n < MiB) usage('--size must be at least 1M');
  return n;
}

function parseArgs(argv: string[]): { size: number; files: number; dir: string } {
  const o = { size: GiB, files: 10_000, dir: tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => inline ?? argv[++i] ?? usage(`${k} needs a value`);
    if (k === '--size') o.size = parseSize(val());
    else if (k === '--files') {
      o.files = Number(val());
      if (!Number.isInteger(o.files) || o.files < 1) usage('--files must be a positive integer');
    } else if (k === '--dir') o.dir = val();
    else if (k === '-h' || k === '--help') usage();
    else usage(`unknown option '${a}'`);
  }
  return o;
}

// ---- measuring ----

interface Row {
  workload: string;
  unit: 'MB/s' | 'ops/s';
  ferry?: number;
  local?: number;
  note?: string;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const mbps = (bytes: number, sec: number) => bytes / 1e6 / sec;
const opsps = (n: number, sec: number) => n / sec;

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

/** A 1 MiB buffer of incompressible bytes, different per call so nothing dedups. */
function payload(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

// ---- the workloads, each for both sides ----

/** What a workload needs of a file system: node:fs/promises' shape, which the Volume has too. */
interface Side {
  fs: {
    open(p: string, flags: string | number, mode?: number): Promise<{ write(b: Buffer, o: number, l: number, p: number | null): Promise<unknown>; read(b: Buffer, o: number, l: number, p: number | null): Promise<{ bytesRead: number }>; sync(): Promise<void>; close(): Promise<void> }>;
    writeFile(p: string, d: Buffer | string): Promise<void>;
    readFile(p: string): Promise<Buffer | string>;
    stat(p: string): Promise<{ size: number }>;
    mkdir(p: string): Promise<unknown>;
    rename(a: string, b: string): Promise<void>;
    unlink(p: string): Promise<void>;
    rmdir(p: string): Promise<void>;
  };
  p(rel: string): string;
}

async function seqWrite(s: Side, path: string, size: number, bufs: Buffer[], fsync: boolean): Promise<number> {
  return timed(async () => {
    const fh = await s.fs.open(s.p(path), 'w');
    for (let off = 0, i = 0; off < size; off += MiB, i++) {
      const b = bufs[i % bufs.length];
      await fh.write(b, 0, Math.min(MiB, size - off), null);
    }
    if (fsync) await fh.sync();
    await fh.close();
  });
}

async function seqRead(s: Side, path: string, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(MiB);
  let total = 0;
  const sec = await timed(async () => {
    const fh = await s.fs.open(s.p(path), 'r');
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, MiB, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    await fh.close();
  });
  if (total !== size) throw new Error(`read ${total} bytes of ${size}`);
  return sec;
}

async function each(n: number, label: string, fn: (i: number) => Promise<unknown>): Promise<number> {
  return timed(async () => {
    for (let i = 0; i < n; i++) {
      await fn(i);
      if (i % 1000 === 0) progress(`${label} ${i}/${n}`);
    }
  });
}

const name = (i: number) => `f${String(i).padStart(6, '0')}`;

/** Rewrites files with O_DIRECT (dd), so their pages are not in the page cache: reading them is cold-ish. */
async function evict(files: string[]): Promise<boolean> {
  const run = promisify(execFile);
  try {
    for (const f of files) {
      await run('dd', [`if=${f}`, `of=${f}.direct`, 'bs=4M', 'oflag=direct', 'status=none']);
      await fsp.rename(`${f}.direct`, f);
    }
    return true;
  } catch {
    return false;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

// ---- main ----

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  await fsp.mkdir(o.dir, { recursive: true });
  const localDir = await fsp.mkdtemp(join(o.dir, 'ferry-bench-local-'));
  let tv: TempVolume | undefined;
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    tv = await tempVolume({ parent: o.dir });
    const v: Volume = tv.v;
    const ferry: Side = { fs: v as unknown as Side['fs'], p: (r) => '/' + r };
    const local: Side = { fs: fsp as unknown as Side['fs'], p: (r) => join(localDir, r) };

    const cpu = cpus()[0]?.model ?? 'unknown cpu';
    console.log(`FerryFS core benchmark — node ${process.version}, ${availableParallelism()} cpus (${cpu.trim()}), ${(totalmem() / GiB).toFixed(1)} GiB RAM, Linux ${release()}`);
    console.log(`FerryFS: ${tv.url} + file://${tv.blocksDir} (block size ${volumeView(tv.v).format.blockSize / MiB} MiB); local fs: ${localDir}`);
    console.log(`big file ${(o.size / MiB).toFixed(0)} MiB in 1 MiB calls; ${o.files} small files of 4 KiB; ${o.files} metadata entries\n`);

    // 1. sequential write and read of the big file
    const bufs = Array.from({ length: 8 }, (_, i) => payload(MiB, i + 1));
    progress('sequential write (FerryFS)');
    const fw = await seqWrite(ferry, 'big', o.size, bufs, false);
    progress('sequential write (local, fsync)');
    const lw = await seqWrite(local, 'big', o.size, bufs, true);
    progress('sequential write (local, no fsync)');
    const lwNoSync = await seqWrite(local, 'big-nosync', o.size, bufs, false);
    await fsp.unlink(join(localDir, 'big-nosync'));
    const sizeLabel = o.size >= GiB ? `${+(o.size / GiB).toFixed(2)} GiB` : `${Math.round(o.size / MiB)} MiB`;
    rows.push({ workload: `seq write ${sizeLabel}, 1 MiB calls (incl. close)`, unit: 'MB/s', ferry: mbps(o.size, fw), local: mbps(o.size, lw), note: 'a' });
    notes.push(
      `a: FerryFS's close returns once every block is in the object store (file:// fsyncs each block) and the slice is committed; ` +
        `the local figure includes an fsync before close for the same durability. Local without fsync: ${mbps(o.size, lwNoSync).toFixed(0)} MB/s (page cache only).`,
    );

    // a fresh client for reading, so nothing of the writer's state helps it
    const reader = await tv.open();
    const ferryR: Side = { fs: reader as unknown as Side['fs'], p: ferry.p };
    progress('sequential read (FerryFS, warm)');
    const fr = await seqRead(ferryR, 'big', o.size);
    progress('sequential read (local, warm)');
    const lr = await seqRead(local, 'big', o.size);
    rows.push({ workload: 'seq read, 1 MiB calls (page cache warm)', unit: 'MB/s', ferry: mbps(o.size, fr), local: mbps(o.size, lr), note: 'b' });
    progress('evicting from the page cache (dd oflag=direct)');
    const blockFiles = await listFiles(tv.blocksDir!);
    const evicted = (await evict([join(localDir, 'big')])) && (await evict(blockFiles));
    if (evicted) {
      const cold = await tv.open();
      progress('sequential read (FerryFS, cold)');
      const frc = await seqRead({ fs: cold as unknown as Side['fs'], p: ferry.p }, 'big', o.size);
      await cold.close();
      progress('sequential read (local, cold)');
      const lrc = await seqRead(local, 'big', o.size);
      rows.push({ workload: 'seq read, 1 MiB calls (cold-ish)', unit: 'MB/s', ferry: mbps(o.size, frc), local: mbps(o.size, lrc), note: 'b' });
      notes.push(
        "b: 'warm' reads data the run just wrote, so both sides read from the page cache (FerryFS's blocks are files too). " +
          "'cold-ish' first rewrites the local file and every FerryFS block with O_DIRECT (dd oflag=direct), so neither is in the page cache; " +
          'the disk and its own cache still serve them.',
      );
    } else {
      notes.push("b: both sides read from the page cache (FerryFS's blocks are files the run just wrote); dd with oflag=direct was not available for a cold row.");
    }
    await v.unlink('/big');
    await fsp.unlink(join(localDir, 'big'));

    // 2. small files: create+write+close, stat, read, delete — stat/read/delete from a fresh client
    const small = payload(4 * KiB, 99);
    const n = o.files;
    await v.mkdir('/small');
    await fsp.mkdir(join(localDir, 'small'));
    const smallRows: Array<[string, (s: Side, i: number) => Promise<unknown>]> = [
      ['small files 4 KiB: create+write+close', (s, i) => s.fs.writeFile(s.p(`small/${name(i)}`), small)],
      ['small files 4 KiB: stat', (s, i) => s.fs.stat(s.p(`small/${name(i)}`))],
      ['small files 4 KiB: read', (s, i) => s.fs.readFile(s.p(`small/${name(i)}`))],
      ['small files 4 KiB: delete', (s, i) => s.fs.unlink(s.p(`small/${name(i)}`))],
    ];
    let client: Side = ferry;
    for (const [label, op] of smallRows) {
      const f = await each(n, `${label} (FerryFS)`, (i) => op(client, i));
      const l = await each(n, `${label} (local)`, (i) => op(local, i));
      rows.push({ workload: label, unit: 'ops/s', ferry: opsps(n, f), local: opsps(n, l), note: label.endsWith('create+write+close') ? 'c' : undefined });
      if (client === ferry) client = { fs: (await tv.open()) as unknown as Side['fs'], p: ferry.p };
    }
    notes.push(
      'c: one call at a time (latency-bound, no concurrency). A FerryFS close commits the 4 KiB block to the store (fsync) and the slice to SQLite; ' +
        'the local fs neither fsyncs nor commits anything at close. Stat, read and delete use a second FerryFS client with cold caches.',
    );

    // 3. metadata only
    await v.mkdir('/meta');
    await fsp.mkdir(join(localDir, 'meta'));
    const metaRows: Array<[string, (s: Side, i: number) => Promise<unknown>]> = [
      ['metadata: mkdir', (s, i) => s.fs.mkdir(s.p(`meta/d${name(i)}`))],
      ['metadata: create (empty file)', async (s, i) => (await s.fs.open(s.p(`meta/${name(i)}`), 'w')).close()],
      ['metadata: stat', (s, i) => s.fs.stat(s.p(`meta/${name(i)}`))],
      ['metadata: rename', (s, i) => s.fs.rename(s.p(`meta/${name(i)}`), s.p(`meta/r${name(i)}`))],
      ['metadata: unlink', (s, i) => s.fs.unlink(s.p(`meta/r${name(i)}`))],
      ['metadata: rmdir', (s, i) => s.fs.rmdir(s.p(`meta/d${name(i)}`))],
    ];
    for (const [label, op] of metaRows) {
      const f = await each(n, `${label} (FerryFS)`, (i) => op(ferry, i));
      const l = await each(n, `${label} (local)`, (i) => op(local, i));
      rows.push({ workload: label, unit: 'ops/s', ferry: opsps(n, f), local: opsps(n, l) });
    }
    notes.push('Ratio = FerryFS / local (higher is better for FerryFS; 1.00x = as fast as the local file system).');
    progress('');

    printTable(rows);
    console.log('');
    for (const nte of notes) console.log(nte);
    console.log(`\ntotal time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await tv?.cleanup();
    await fsp.rm(localDir, { recursive: true, force: true });
  }
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '-';
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.workload + (r.note ? ` [${r.note}]` : ''),
    `${fmt(r.ferry)} ${r.unit}`,
    `${fmt(r.local)} ${r.unit}`,
    r.ferry !== undefined && r.local ? `${(r.ferry / r.local).toFixed(2)}x` : '-',
  ]);
  const head = ['workload', 'FerryFS', 'local fs', 'ratio'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c[0].padEnd(w[0])} | ${c[1].padStart(w[1])} | ${c[2].padStart(w[2])} | ${c[3].padStart(w[3])} |`;
  console.log(line(head));
  console.log(`|${'-'.repeat(w[0] + 2)}|${'-'.repeat(w[1] + 1)}:|${'-'.repeat(w[2] + 1)}:|${'-'.repeat(w[3] + 1)}:|`);
  for (const c of cells) console.log(line(c));
}

main().catch((e) => {
  process.stderr.write(`bench:core failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});

