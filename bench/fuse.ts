// npm run bench:fuse — the same work through a FerryFS FUSE mount, on the local disk, on tmpfs, and through
// bindfs (a Debian FUSE file system a user could pick instead), printed as one table. Runs as root (mounts,
// drop_caches). A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/fuse.js [--size 4G] [--files 10000] [--random 2000] [--tree DIR]
//       [--only ferry,ferry-wb,ferry-acl,local,tmpfs,bindfs] [--rows write,read,par,rand,meta,tar]
//       [--baseline DIR]
// --baseline DIR: one more column, `ferry-base`, mounting with another build of FerryFS (DIR: a checkout
// with `dist/` built, e.g. `git archive <commit> | tar x -C DIR` plus node_modules and the FUSE addon),
// for a before/after table in one run on one machine state.
// (or FERRY_BENCH_SIZE / FERRY_BENCH_ONLY / FERRY_BENCH_ROWS).
//   node dist/bench/fuse.js --remote [--quick] [--size 1G]
// instead compares a cold sequential read from Ceph RGW through FerryFS, rclone mount and s3fs, with
// objbench's parallel GET throughput beside them, directly and with the store 20 ms away (bench/fuse-remote.ts).
// --quick reads 256 MiB instead of 1 GiB. `ferry-wb` mounts with --writeback and a disk
// cache on the local disk; its blocks may still be uploading when a row ends (that is what write-back buys),
// and the `umount` row shows how long the uploads that were left took. `ferry-acl` is a volume formatted
// with --acl, running only the metadata rows in a directory with a default ACL (every new file inherits
// an access ACL): its create/unlink beside the `ferry` column are the cost of ACLs on and off.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { abortConnection, mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { formatVolume, mountFerry } from '../test/helpers/mount.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from '../test/helpers/rgw.js';
import { remoteReadBench } from './fuse-remote.js';
import { dropBucket, makeBucket } from './rgw-bucket.js';
import { ThrottleProxy } from './throttle-proxy.js';

const MiB = 1 << 20;

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

const SIZE = size(arg('size', '4G'));
const FILES = Number(arg('files', '10000'));
const RANDOM = Number(arg('random', '2000'));
const BASELINE = arg('baseline', '');
const ONLY = arg('only', `${BASELINE ? 'ferry-base,' : ''}ferry,ferry-wb,ferry-acl,local,tmpfs,bindfs`).split(',');
/** Workloads to run: read, par and rand read the file `write` wrote, so they imply it. */
/**
 * --remote-ms N: FerryFS volumes store their blocks in Ceph RGW (S3) behind a proxy adding N ms to every
 * request (bench/throttle-proxy.ts), a stand-in for a remote object store, where write-back matters. RGW's
 * memstore holds ~4 GiB: use --size 1G or less.
 */
const REMOTE_MS = Number(arg('remote-ms', '0'));
const ROWS = new Set(arg('rows', 'write,read,par,rand,meta,tar').split(','));
if (['read', 'par', 'rand'].some((r) => ROWS.has(r))) ROWS.add('write');
/** The source tree extracted by the `tar x` row (default: the project's own node_modules). */
const TREE = arg('tree', new URL('../../node_modules', import.meta.url).pathname);

function sh(cmd: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((res, rej) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 256 << 20 }, (e, out, err) => (e ? rej(new Error(`${cmd} ${args.join(' ')}: ${err || e.message}`)) : res(String(out)))),
  );
}

async function dropCaches(): Promise<void> {
  await sh('sync', []);
  await fsp.writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}

interface Target {
  name: string;
  dir: string;
  teardown(): Promise<void>;
  /** Only these rows (default: all asked for). */
  rows?: Set<string>;
  /** The metadata rows run under a default ACL (a volume with --acl). */
  acl?: boolean;
}

async function waitMounted(mp: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await mountAt(mp)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${mp} did not mount`);
}

async function fuseTeardown(mp: string, child?: ReturnType<typeof spawn>): Promise<void> {
  const info = await mountAt(mp);
  await unmountFuse(mp, { force: true }).catch(() => undefined);
  if (child && child.exitCode === null) {
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await new Promise((r) => child.once('exit', r));
    clearTimeout(t);
  }
  if (info && (await mountAt(mp))) await abortConnection(info.minor);
}

let remote: { proxy: ThrottleProxy; endpoint: string } | undefined;

/** A FerryFS volume on the local disk (file://), or on RGW behind the delaying proxy with --remote-ms. */
async function benchVolume(acl = false) {
  if (REMOTE_MS <= 0) return formatVolume({ checksum: process.env.FERRY_BENCH_CHECKSUM, acl });
  if (!remote) {
    await requireRgw();
    const proxy = new ThrottleProxy({ target: RGW_ENDPOINT, delayMs: REMOTE_MS, bandwidth: 0 });
    remote = { proxy, endpoint: await proxy.listen() };
  }
  const bucket = rgwBucket('bench-fuse');
  await makeBucket(bucket);
  const endpoint = encodeURIComponent(remote.endpoint);
  const vol = await formatVolume({ storage: `s3://${bucket}?endpoint=${endpoint}&path-style=true`, accessKey: RGW_ACCESS_KEY, secretKey: RGW_SECRET_KEY, acl });
  return { ...vol, cleanup: () => vol.cleanup().finally(() => dropBucket(bucket)) };
}

async function ferryTarget(args: string[] = [], name = 'FerryFS (FUSE)', acl = false, cli?: string): Promise<Target> {
  const vol = await benchVolume(acl);
  const m = await mountFerry(vol.url, join(vol.dir, 'mnt'), args.map((a) => a.replace('$VOL', vol.dir)), cli);
  if (process.env.FERRY_BENCH_LOG) process.stderr.write(`bench:fuse: ${name} daemon pid ${m.child.pid}\n`);
  return {
    name,
    dir: m.mp,
    ...(acl ? { acl, rows: new Set(['meta']) } : {}),
    teardown: async () => {
      await m.unmount();
      if (process.env.FERRY_BENCH_LOG) process.stderr.write(m.output());
      await vol.cleanup();
    },
  };
}

async function bindfsTarget(base: string): Promise<Target | undefined> {
  if (!existsSync('/usr/bin/bindfs')) return undefined;
  const src = join(base, 'bindfs-src');
  const mp = join(base, 'bindfs-mnt');
  await fsp.mkdir(src, { recursive: true });
  await fsp.mkdir(mp, { recursive: true });
  await sh('bindfs', ['--no-allow-other', src, mp]);
  await waitMounted(mp);
  return { name: 'bindfs (FUSE)', dir: mp, teardown: () => fuseTeardown(mp) };
}

async function tmpfsTarget(base: string): Promise<Target> {
  const mp = join(base, 'tmpfs');
  await fsp.mkdir(mp, { recursive: true });
  await sh('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((SIZE * 1.5) / MiB) + 1024}m`, 'tmpfs', mp]);
  return { name: 'tmpfs', dir: mp, teardown: () => sh('umount', [mp]).then(() => undefined) };
}

async function localTarget(base: string): Promise<Target> {
  const d = join(base, 'local');
  await fsp.mkdir(d, { recursive: true });
  return { name: 'local disk', dir: d, teardown: async () => undefined };
}

// ---- workloads ----

type Result = Record<string, number>;

async function seqWrite(path: string): Promise<number> {
  const buf = randomBytes(MiB);
  const t = performance.now();
  const fh = await fsp.open(path, 'w');
  for (let off = 0; off < SIZE; off += MiB) await fh.write(buf, 0, MiB, off);
  await fh.sync();
  await fh.close();
  return SIZE / MiB / ((performance.now() - t) / 1000);
}

async function readRange(path: string, start: number, end: number): Promise<void> {
  const fh = await fsp.open(path, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  for (let off = start; off < end; off += MiB) await fh.read(buf, 0, MiB, off);
  await fh.close();
}

async function seqRead(path: string): Promise<number> {
  await dropCaches();
  const t = performance.now();
  await readRange(path, 0, SIZE);
  return SIZE / MiB / ((performance.now() - t) / 1000);
}

async function parallelRead(path: string): Promise<number> {
  await dropCaches();
  const t = performance.now();
  const q = SIZE / 4;
  await Promise.all([0, 1, 2, 3].map((i) => readRange(path, i * q, (i + 1) * q)));
  return SIZE / MiB / ((performance.now() - t) / 1000);
}

async function randomRead(path: string): Promise<number> {
  await dropCaches();
  const fh = await fsp.open(path, 'r');
  const buf = Buffer.allocUnsafe(4096);
  const blocks = SIZE / 4096;
  const t = performance.now();
  for (let i = 0; i < RANDOM; i++) await fh.read(buf, 0, 4096, Math.floor(Math.random() * blocks) * 4096);
  const s = (performance.now() - t) / 1000;
  await fh.close();
  return RANDOM / s;
}

async function metadata(dir: string, acl = false): Promise<{ create: number; stat: number; unlink: number; ls: number }> {
  const d = join(dir, 'meta');
  await fsp.mkdir(d);
  // Each file created here gets an access ACL from this default one (and the checks read it).
  if (acl) await sh('setfacl', ['-d', '-m', 'u:1002:rw', d]);
  const names = Array.from({ length: FILES }, (_, i) => join(d, `f${i}`));
  let t = performance.now();
  for (const n of names) await (await fsp.open(n, 'w')).close();
  const create = FILES / ((performance.now() - t) / 1000);
  await dropCaches();
  t = performance.now();
  for (const n of names) await fsp.stat(n);
  const stat = FILES / ((performance.now() - t) / 1000);
  await dropCaches();
  t = performance.now();
  await sh('sh', ['-c', `ls -l '${d}' > /dev/null`]);
  const ls = (performance.now() - t) / 1000;
  t = performance.now();
  for (const n of names) await fsp.unlink(n);
  const unlink = FILES / ((performance.now() - t) / 1000);
  await fsp.rmdir(d);
  return { create, stat, unlink, ls };
}

/** `tar x` of the tree's archive (made once, outside every target) into a fresh directory of the target. */
async function tarExtract(dir: string, archive: string): Promise<number> {
  const d = join(dir, 'tree');
  await fsp.mkdir(d);
  const t = performance.now();
  await sh('tar', ['-xf', archive, '-C', d]);
  await sh('sync', []);
  const s = (performance.now() - t) / 1000;
  await sh('rm', ['-rf', d]);
  return s;
}

async function runAll(t: Target, archive: string): Promise<Result> {
  process.stderr.write(`bench:fuse: ${t.name} ...\n`);
  const f = join(t.dir, 'big.bin');
  const r: Result = {};
  const rows = t.rows ? new Set([...ROWS].filter((x) => t.rows!.has(x))) : ROWS;
  if (rows.has('write')) {
    r.write = await seqWrite(f);
    if (rows.has('read')) r.read = await seqRead(f);
    if (rows.has('par')) r.par = await parallelRead(f);
    if (rows.has('rand')) r.rand = await randomRead(f);
    await fsp.unlink(f);
  }
  if (rows.has('meta')) Object.assign(r, await metadata(t.dir, t.acl));
  if (rows.has('tar')) r.tar = await tarExtract(t.dir, archive);
  return r;
}

const fix = (v: number | undefined, digits: number): string => (v === undefined ? '-' : v.toFixed(digits));

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (mounts and drop_caches)');
  const base = await fsp.mkdtemp(join(tmpdir(), 'ferry-bench-fuse-'));
  if (process.argv.includes('--remote')) {
    try {
      const quick = process.argv.includes('--quick');
      const bytes = quick ? 256 * MiB : size(arg('size', '1G'));
      const progress = (l: string) => process.stderr.write(`bench:fuse: ${l}\n`);
      process.stdout.write(await remoteReadBench({ base, size: bytes, delays: [0, 20], sh, dropCaches, progress }));
    } finally {
      if (!(await fsp.readFile('/proc/self/mountinfo', 'utf8')).includes(base)) await fsp.rm(base, { recursive: true, force: true });
    }
    return;
  }
  const results: Array<{ name: string; r: Result }> = [];
  const archive = join(base, 'tree.tar');
  await sh('tar', ['-cf', archive, '-C', TREE, '.']);
  const treeFiles = Number((await sh('sh', ['-c', `tar -tf '${archive}' | wc -l`])).trim());
  const treeMiB = (await fsp.stat(archive)).size / MiB;
  const makers: Array<[string, () => Promise<Target | undefined>]> = [
    ['ferry-base', async () => (BASELINE ? ferryTarget([], 'FerryFS baseline', false, join(BASELINE, 'dist/src/cli/main.js')) : undefined)],
    ['ferry', () => ferryTarget()],
    ['ferry-wb', () => ferryTarget(['--writeback', '--cache-dir', '$VOL/cache'], 'FerryFS --writeback')],
    ['ferry-acl', () => ferryTarget([], 'FerryFS --acl', true)],
    ['local', () => localTarget(base)],
    ['tmpfs', () => tmpfsTarget(base)],
    ['bindfs', () => bindfsTarget(base)],
  ];
  try {
    for (const [key, make] of makers) {
      if (!ONLY.includes(key)) continue;
      const t = await make();
      if (!t) {
        process.stderr.write(`bench:fuse: skipping ${key} (not installed)\n`);
        continue;
      }
      let r: Result = {};
      try {
        r = await runAll(t, archive);
      } finally {
        // For FerryFS --writeback this waits for the uploads still pending.
        const t0 = performance.now();
        await t.teardown();
        r.umount = (performance.now() - t0) / 1000;
      }
      results.push({ name: t.name, r });
    }
  } finally {
    if (!(await fsp.readFile('/proc/self/mountinfo', 'utf8')).includes(base)) await fsp.rm(base, { recursive: true, force: true });
    await remote?.proxy.close();
  }

  const rows: Array<[string, string, (r: Result) => string]> = [
    [`sequential write ${SIZE / MiB} MiB + fsync (1 MiB blocks)`, 'MiB/s', (r) => fix(r.write, 0)],
    ['sequential read, cold page cache', 'MiB/s', (r) => fix(r.read, 0)],
    ['4 parallel readers, cold', 'MiB/s', (r) => fix(r.par, 0)],
    [`random 4 KiB reads (${RANDOM}), cold`, 'IOPS', (r) => fix(r.rand, 0)],
    [`create ${FILES} empty files (--acl: with ACLs on)`, 'files/s', (r) => fix(r.create, 0)],
    [`stat ${FILES} files`, 'files/s', (r) => fix(r.stat, 0)],
    [`unlink ${FILES} files (--acl: with ACLs on)`, 'files/s', (r) => fix(r.unlink, 0)],
    [`ls -l of ${FILES} entries, cold`, 's', (r) => fix(r.ls, 2)],
    [`tar x of ${treeFiles} entries, ${treeMiB.toFixed(0)} MiB + sync`, 's', (r) => fix(r.tar, 2)],
    ['umount (FerryFS: pending uploads finish)', 's', (r) => fix(r.umount, 2)],
  ];
  const cols = results.map((x) => x.name);
  const w0 = Math.max(...rows.map((r) => r[0].length)) + 2;
  const wc = Math.max(14, ...cols.map((c) => c.length + 2));
  const lines: string[] = [];
  lines.push(`bench:fuse — ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Linux ${release()}, file size ${SIZE / MiB} MiB, ${FILES} files`);
  lines.push('');
  lines.push('workload'.padEnd(w0) + 'unit'.padEnd(9) + cols.map((c) => c.padStart(wc)).join(''));
  lines.push('-'.repeat(w0 + 9 + wc * cols.length));
  for (const [label, unit, f] of rows) lines.push(label.padEnd(w0) + unit.padEnd(9) + results.map((x) => f(x.r).padStart(wc)).join(''));
  lines.push('');
  lines.push(`Higher is better except for ls -l and tar x (seconds). tar x extracts an archive of ${TREE}.`);
  if (results.some((x) => x.name === 'FerryFS --acl')) {
    lines.push('FerryFS --acl: a volume with ACLs, metadata rows only, in a directory whose default ACL every new file inherits.');
  }
  lines.push(
    REMOTE_MS > 0
      ? `FerryFS stores blocks in Ceph RGW (S3, memstore) behind a proxy adding ${REMOTE_MS} ms to every request; metadata in SQLite.`
      : 'FerryFS stores blocks with file:// on the same local disk, metadata in SQLite.',
  );
  lines.push('"cold" = after sync + drop_caches (a no-op in some containers: then the local disk and tmpfs rows read from');
  lines.push('the page cache, and so does the file:// store under FerryFS).');
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench:fuse: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
