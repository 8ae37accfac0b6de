// npm run bench:scan — walks a large volume with the scan primitives and shows that memory stays flat:
// rows, time, rows/s and peak RSS (process.resourceUsage().maxRSS) before and after each walk, next to
// exportSnapshot (paged walk + changelog; its result holds the whole namespace) and the old exportSnapshot
// (one transaction walking the tree from the root) for contrast. A benchmark, never a test.
//
//   node dist/bench/scan.js [--engine sqlite|postgres|mysql|redis] [--inodes 1000000] [--batch 1000] [--old|--no-old]
//
// The volume is filled fast by bench/fill.ts. Each walk runs in its own child process so its peak RSS is its own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { SCAN_KINDS } from '../src/meta/scan.js';
import type { Engine } from '../src/meta/tx.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_SYMLINK, type Mutation, type Snapshot } from '../src/meta/types.js';
import { engineOf, fill } from './fill.js';
import { serverUrl, uniquePrefix, withOptions, type ServerKind } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';


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

const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;

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

await main();
