// npm run bench:dump — `ferry dump` and `ferry load` of a large volume: rows and inodes per second and the
// peak RSS of each (its own child process, process.resourceUsage().maxRSS), on SQLite and PostgreSQL.
// Memory must stay flat: the peak RSS may not grow with the volume. A benchmark, never a test.
//
//   node dist/bench/dump.js [--engines sqlite,postgres] [--inodes 1000000] [--plain]
//
// The volume is filled by bench/fill.ts; the dump (gzipped unless --plain) is loaded into a fresh volume of
// the same engine, which is then dropped.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpRecords } from '../src/meta/dump.js';
import { readDump, writeDump } from '../src/meta/dump-stream.js';
import { openMeta } from '../src/meta/index.js';
import { loadDump } from '../src/meta/load.js';
import { serverUrl, uniquePrefix, withOptions } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { fill } from './fill.js';

interface Opts {
  engines: string[];
  inodes: number;
  plain: boolean;
  phase?: 'dump' | 'load';
  url?: string;
  file?: string;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:dump: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/dump.js [--engines sqlite,postgres] [--inodes 1000000] [--plain]\n');
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { engines: ['sqlite', 'postgres'], inodes: 1_000_000, plain: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--engines') o.engines = val().split(',').map((e) => e.trim().replace(/^sqlite3$/, 'sqlite'));
    else if (a === '--inodes') {
      o.inodes = Number(val());
      if (!Number.isInteger(o.inodes) || o.inodes < 10) usage('--inodes must be an integer >= 10');
    } else if (a === '--plain') o.plain = true;
    else if (a === '--phase') o.phase = val() as Opts['phase'];
    else if (a === '--url') o.url = val();
    else if (a === '--file') o.file = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown option '${a}'`);
  }
  for (const e of o.engines) if (!['sqlite', 'postgres', 'mysql', 'redis'].includes(e)) usage(`unknown engine '${e}'`);
  return o;
}

interface Measured {
  rows: number;
  inodes: number;
  ms: number;
  rssMiB: number;
}

/** Child process: one dump or one load, as the CLI runs it; prints one JSON line. */
async function runPhase(o: Opts): Promise<void> {
  const m = await openMeta(o.url!);
  try {
    const t0 = performance.now();
    let rows = 0;
    let inodes = 0;
    if (o.phase === 'dump') {
      async function* counted() {
        for await (const r of dumpRecords(m)) {
          if (r.kind === 'inode') inodes++;
          if (r.kind === 'end') rows = r.rows;
          yield r;
        }
      }
      await writeDump(counted(), o.file!);
    } else {
      const r = await loadDump(m, readDump(o.file!));
      rows = r.rows;
      inodes = r.inodes;
    }
    const out: Measured = { rows, inodes, ms: performance.now() - t0, rssMiB: process.resourceUsage().maxRSS / 1024 };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await m.close();
  }
}

function child(phase: string, url: string, file: string): Measured {
  const args = [fileURLToPath(import.meta.url), '--phase', phase, '--url', url, '--file', file];
  const text = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(text.trim().split('\n').pop()!) as Measured;
}

async function benchEngine(o: Opts, engine: string, dir: string, log: (s: string) => void): Promise<string[]> {
  const url = (tag: string) =>
    engine === 'sqlite' ? `sqlite3://${join(dir, `${tag}.db`)}` : withOptions(serverUrl(engine as 'postgres'), { prefix: uniquePrefix(`bd${tag}`) });
  const [srcUrl, dstUrl] = [url('src'), url('dst')];
  const file = join(dir, `${engine}.json${o.plain ? '' : '.gz'}`);
  const src = await freshMeta(srcUrl);
  const dst = await openMeta(dstUrl);
  try {
    log(`bench:dump: filling ${o.inodes.toLocaleString()} inodes on ${engine} ...`);
    await fill(src, o.inodes, log);
    log(`bench:dump: dumping ...`);
    const d = child('dump', srcUrl, file);
    log(`bench:dump: loading ...`);
    const l = child('load', dstUrl, file);
    const size = statSync(file).size / 2 ** 20;
    const line = (what: string, r: Measured) =>
      `| ${engine} | ${what} | ${r.rows.toLocaleString()} | ${(r.ms / 1000).toFixed(1)} | ${Math.round((r.rows / r.ms) * 1000).toLocaleString()} | ` +
      `${Math.round((r.inodes / r.ms) * 1000).toLocaleString()} | ${r.rssMiB.toFixed(0)} |`;
    return [line(`dump (${size.toFixed(0)} MiB${o.plain ? '' : ' gz'})`, d), line('load', l)];
  } finally {
    await src.destroy().catch(() => undefined);
    await src.close();
    await dst.destroy().catch(() => undefined);
    await dst.close();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.phase) return runPhase(o);
  const log = (s: string) => process.stderr.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-dump-'));
  try {
    const rows: string[] = [];
    for (const e of o.engines) rows.push(...(await benchEngine(o, e, dir, log)));
    process.stdout.write(
      [
        `bench:dump — ${o.inodes.toLocaleString()} inodes (files of one chunk, symlinks, xattrs); each dump and load in a fresh process`,
        '',
        '| engine | run | rows | time (s) | rows/s | inodes/s | peak RSS (MiB) |',
        '|---|---|---:|---:|---:|---:|---:|',
        ...rows,
      ].join('\n') + '\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
