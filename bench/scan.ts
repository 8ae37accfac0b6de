// npm run bench:scan — walks a large volume with the scan primitives and shows that memory stays flat:
// rows, time, rows/s and peak RSS (process.resourceUsage().maxRSS) before and after each walk, next to
// exportSnapshot (paged walk + changelog; its result holds the whole namespace) and the old exportSnapshot
// (one transaction walking the tree from the root) for contrast. A benchmark, never a test.
//
//   node dist/bench/scan.js [--engine sqlite|postgres|mysql|redis] [--inodes 1000000] [--batch 1000] [--old|--no-old]
//
// The volume is filled fast: on SQL engines by multi-row INSERTs, elsewhere through the Tx primitives, in
// large transactions (directories of 1,000
// entries; each file has one chunk of one slice; every 10th a slice reference, every 100th an xattr, every
// 100th entry a symlink). Each walk runs in its own child process so its peak RSS is its own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newAttr, stamp } from '../src/meta/attrs.js';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { SCAN_KINDS } from '../src/meta/scan.js';
import type { SqlConn } from '../src/meta/engines/sql/dialect.js';
import { ATTR_COLUMNS } from '../src/meta/engines/sql/schema.js';
import { encodeSlices } from '../src/meta/slices.js';
import type { Engine, Tx } from '../src/meta/tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Mutation, type Snapshot } from '../src/meta/types.js';
import { serverUrl, uniquePrefix, withOptions, type ServerKind } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';

const PER_DIR = 1000;
const FILL_TX = 2000;

interface Opts {
  engine: string;
  inodes: number;
  batch: number;
  old: boolean | undefined;
  phase?: string;
  url?: string;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:scan: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/scan.js [--engine sqlite|postgres|mysql|redis] [--inodes 1000000] [--batch 1000] [--old|--no-old]\n');
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { engine: 'sqlite', inodes: 1_000_000, batch: 1000, old: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => argv[++i] ?? usage(`${a} needs a value`);
    const int = (min: number): number => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < min) usage(`${a} must be an integer >= ${min}`);
      return n;
    };
    if (a === '--engine') o.engine = val().replace(/^sqlite3$/, 'sqlite');
    else if (a === '--inodes') o.inodes = int(10);
    else if (a === '--batch') o.batch = int(1);
    else if (a === '--old') o.old = true;
    else if (a === '--no-old') o.old = false;
    else if (a === '--phase') o.phase = val();
    else if (a === '--url') o.url = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown option '${a}'`);
  }
  if (!['sqlite', 'postgres', 'mysql', 'redis'].includes(o.engine)) usage(`unknown engine '${o.engine}'`);
  return o;
}

const engineOf = (m: Meta) => (m as unknown as { eng: Engine }).eng;
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;

/** Fills the volume with `inodes` inodes (root and directories included) in large transactions. */
/** Fills a fresh volume with `inodes` inodes as described at the top (bench/fsck.ts reuses it). */
export async function fill(m: Meta, inodes: number, log: (s: string) => void): Promise<void> {
  const eng = engineOf(m);
  const t = stamp();
  let made = 1; // the root
  let dirs = 0;
  const t0 = performance.now();
  while (made < inodes) {
    const files = Math.min(PER_DIR, inodes - made - 1);
    // Ids are assigned at commit (Redis): take them in a transaction of their own, then write the rows.
    const dirIno = (await eng.txn((tx) => tx.incrCounter('nextInode', 1))).value;
    await eng.txn(async (tx) => {
      await tx.setEntry(ROOT_INODE, `d${dirs}`, dirIno, TYPE_DIRECTORY);
      await tx.setAttr(dirIno, newAttr(TYPE_DIRECTORY, 0o755, 0, 0, ROOT_INODE, t));
    });
    dirs++;
    made++;
    for (let i = 0; i < files; i += FILL_TX) {
      const k = Math.min(FILL_TX, files - i);
      // Ids first (a small transaction), then the rows: multi-row INSERTs on SQL, Tx primitives elsewhere.
      const [a, b] = await eng.txn(async (tx) => [await tx.incrCounter('nextInode', k), await tx.incrCounter('nextSlice', k)]);
      const [lastIno, lastSlice] = [a!.value, b!.value];
      if (isSql(eng)) await sqlFillFiles(eng, dirIno, i, k, lastIno, lastSlice, t);
      else await eng.txn((tx) => fillFiles(tx, dirIno, i, k, lastIno, lastSlice, t));
    }
    made += Math.max(0, files);
    if (dirs % 100 === 0) log(`  filled ${made.toLocaleString()} inodes (${((made / (performance.now() - t0)) * 1000).toFixed(0)}/s)`);
  }
  await eng.txn(async (tx) => {
    const root = (await tx.getAttr(ROOT_INODE))!;
    root.nlink = 2 + dirs;
    await tx.setAttr(ROOT_INODE, root);
    await tx.setCounter('totalInodes', made);
  });
}

/** The rows of one file (or symlink) of the fill, engine-neutral. */
function fileRows(dir: number, n: number, ino: number, id: number, t: ReturnType<typeof stamp>) {
  if (n % 100 === 99) {
    return { entry: [dir, `s${n}`, ino, TYPE_SYMLINK], attr: { ...newAttr(TYPE_SYMLINK, 0o777, 0, 0, dir, t), length: 8 }, symlink: `f${n - 1}.dat` };
  }
  return {
    entry: [dir, `f${n}.dat`, ino, TYPE_FILE],
    attr: { ...newAttr(TYPE_FILE, 0o644, 0, 0, dir, t), length: 4096 },
    slice: { pos: 0, id, size: 4096, off: 0, len: 4096 },
    ref: n % 10 === 0,
    xattr: n % 100 === 0 ? Buffer.from(`v${n}`) : undefined,
  };
}

interface SqlBulk {
  readonly prefix: string;
  withWrite<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
}

function isSql(eng: Engine): eng is Engine & SqlBulk {
  return 'statements' in eng && 'prefix' in eng;
}

/** The SQL engines' bulk path: multi-row INSERTs (1,000 rows each) in one transaction. */
async function sqlFillFiles(eng: SqlBulk, dir: number, from: number, k: number, lastIno: number, lastSlice: number, t: ReturnType<typeof stamp>): Promise<void> {
  const tables: Record<string, { cols: string[]; rows: unknown[][] }> = {
    edge: { cols: ['parent', 'name', 'inode', 'type'], rows: [] },
    node: { cols: ['inode', ...ATTR_COLUMNS], rows: [] },
    chunk: { cols: ['inode', 'indx', 'slices', 'cnt'], rows: [] },
    slice_ref: { cols: ['id', 'size', 'refs'], rows: [] },
    symlink: { cols: ['inode', 'target'], rows: [] },
    xattr: { cols: ['inode', 'name', 'value'], rows: [] },
  };
  for (let j = 0; j < k; j++) {
    const ino = lastIno - k + 1 + j;
    const r = fileRows(dir, from + j, ino, lastSlice - k + 1 + j, t);
    tables.edge!.rows.push(r.entry);
    tables.node!.rows.push([ino, ...ATTR_COLUMNS.map((c) => r.attr[c])]);
    if (r.symlink !== undefined) tables.symlink!.rows.push([ino, r.symlink]);
    if (r.slice) tables.chunk!.rows.push([ino, 0, encodeSlices([r.slice]), 1]);
    if (r.ref) tables.slice_ref!.rows.push([r.slice!.id, 4096, 1]);
    if (r.xattr) tables.xattr!.rows.push([ino, 'user.tag', r.xattr]);
  }
  await eng.withWrite(async (c) => {
    for (const [name, { cols, rows }] of Object.entries(tables)) {
      for (let i = 0; i < rows.length; i += 1000) {
        const part = rows.slice(i, i + 1000);
        const values = part.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ');
        await c.run(`INSERT INTO ${eng.prefix}${name} (${cols.join(', ')}) VALUES ${values}`, part.flat());
      }
    }
  });
}

async function fillFiles(tx: Tx, dir: number, from: number, k: number, last: number, lastSlice: number, t: ReturnType<typeof stamp>): Promise<void> {
  for (let j = 0; j < k; j++) {
    const ino = last - k + 1 + j;
    const r = fileRows(dir, from + j, ino, lastSlice - k + 1 + j, t);
    await tx.setEntry(dir, r.entry[1] as string, ino, r.entry[3] as typeof TYPE_FILE);
    await tx.setAttr(ino, r.attr);
    if (r.symlink !== undefined) await tx.setSymlink(ino, r.symlink);
    if (r.slice) await tx.setChunk(ino, 0, [r.slice]);
    if (r.ref) await tx.addSliceRef(r.slice!.id, 4096, 1);
    if (r.xattr) await tx.setXattr(ino, 'user.tag', r.xattr);
  }
}

/** The exportSnapshot this change replaced: the whole tree in one transaction (kept here for contrast). */
async function oldExportSnapshot(eng: Engine): Promise<Snapshot> {
  return eng.txn(async (tx) => {
    const mutations: Mutation[] = [];
    const version = await tx.getCounter('version');
    const seen = new Set<number>();
    const todo: number[] = [ROOT_INODE];
    while (todo.length) {
      const ino = todo.pop()!;
      if (seen.has(ino)) continue;
      seen.add(ino);
      const attr = await tx.getAttr(ino);
      if (!attr) continue;
      mutations.push({ t: 'attr', ino, attr });
      if (attr.type === TYPE_SYMLINK) mutations.push({ t: 'symlink', ino, target: (await tx.getSymlink(ino)) ?? '' });
      for (const name of await tx.listXattr(ino)) {
        mutations.push({ t: 'xattr', ino, name, value: ((await tx.getXattr(ino, name)) ?? Buffer.alloc(0)).toString('base64') });
      }
      for (const indx of await tx.listChunkIndexes(ino, 0)) mutations.push({ t: 'chunk', ino, indx, slices: await tx.getChunk(ino, indx) });
      if (attr.type !== TYPE_DIRECTORY && attr.parent === 0) {
        for (const p of await tx.listParents(ino)) mutations.push({ t: 'parent', ino, parent: p.parent, delta: p.count });
      }
      if (attr.type !== TYPE_DIRECTORY) continue;
      for (let after: string | undefined; ; ) {
        const page = await tx.listEntries(ino, after, 10_000, false);
        for (const e of page) {
          mutations.push({ t: 'entry', parent: ino, name: e.name, ino: e.inode, type: e.attr.type });
          todo.push(e.inode);
        }
        if (page.length < 10_000) break;
        after = page[page.length - 1]!.name;
      }
    }
    for (const name of ['usedSpace', 'totalInodes']) mutations.push({ t: 'counter', name, value: await tx.getCounter(name) });
    return { version, mutations };
  });
}

interface Measured {
  walk: string;
  rows: number;
  ms: number;
  before: number;
  after: number;
}

/** Child process: one phase on an existing volume; prints one JSON line per walk. */
async function runPhase(o: Opts): Promise<void> {
  const m = await openMeta(o.url!);
  try {
    await m.load();
    const out: Measured[] = [];
    const timed = async (walk: string, fn: () => Promise<number>) => {
      const before = maxRssMiB();
      const t0 = performance.now();
      const rows = await fn();
      out.push({ walk, rows, ms: performance.now() - t0, before, after: maxRssMiB() });
    };
    if (o.phase === 'scans') {
      for (const kind of SCAN_KINDS) {
        await timed(`scan ${kind}`, async () => {
          let n = 0;
          let cursor: string | undefined;
          do {
            const page = await m.scanPage(kind, cursor, o.batch);
            n += page.rows.length;
            cursor = page.next;
          } while (cursor !== undefined);
          return n;
        });
      }
    } else if (o.phase === 'export') {
      await timed('exportSnapshot (paged)', async () => (await m.exportSnapshot({ batch: o.batch })).mutations.length);
    } else if (o.phase === 'export-old') {
      await timed('old exportSnapshot (1 tx)', async () => (await oldExportSnapshot(engineOf(m))).mutations.length);
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await m.close();
  }
}

function child(o: Opts, url: string, phase: string): Measured[] {
  const args = [fileURLToPath(import.meta.url), '--phase', phase, '--url', url, '--batch', String(o.batch)];
  const text = execFileSync(process.execPath, ['--max-old-space-size=8192', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(text.trim().split('\n').pop()!) as Measured[];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.phase) return runPhase(o);
  const log = (s: string) => process.stderr.write(s + '\n');
  let dir: string | undefined;
  let url: string;
  if (o.engine === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'ferry-bench-scan-'));
    url = `sqlite3://${join(dir, 'scan.db')}`;
  } else {
    url = withOptions(serverUrl(o.engine as ServerKind), { prefix: uniquePrefix('bscan') });
  }
  const m = await freshMeta(url);
  try {
    log(`bench:scan: filling ${o.inodes.toLocaleString()} inodes on ${o.engine} ...`);
    const t0 = performance.now();
    await fill(m, o.inodes, log);
    const fillS = (performance.now() - t0) / 1000;
    log(`bench:scan: filled in ${fillS.toFixed(1)} s; walking ...`);
    const rows = [...child(o, url, 'scans'), ...child(o, url, 'export')];
    const old = o.old ?? o.engine === 'sqlite';
    if (old) rows.push(...child(o, url, 'export-old'));
    const mib = (n: number) => n.toFixed(0);
    const lines = [
      `bench:scan — ${o.engine}, ${o.inodes.toLocaleString()} inodes (filled in ${fillS.toFixed(1)} s), ${o.batch} rows per page; each walk in a fresh process`,
      '',
      '| walk | rows | time (s) | rows/s | peak RSS before (MiB) | peak RSS after (MiB) |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.walk} | ${r.rows.toLocaleString()} | ${(r.ms / 1000).toFixed(1)} | ${Math.round((r.rows / r.ms) * 1000).toLocaleString()} | ${mib(r.before)} | ${mib(r.after)} |`),
    ];
    if (!old) lines.push('', `old exportSnapshot (1 tx) not run on ${o.engine} (several round trips per inode in one transaction; --old runs it)`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await m.destroy().catch(() => undefined);
    await m.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

// Run only as a program, not when another benchmark imports fill().
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
