// npm run bench:ttl — TTL expiry of N files: the files are created under a directory with a 30-day TTL (the
// TTL index is kept as they are created), beside M files under a nested 60-day TTL; expiry runs "31 days
// later" and moves the N files to the trash. Shown: seconds, index rows read vs files expired (goal: equal,
// the M files never read), and the cost of the index on create (ops/s in a TTL directory vs a plain one).
// On SQLite and PostgreSQL, one table. A benchmark, never a test.
//
//   node dist/bench/ttl.js [--files 100000] [--kept 10000] [--ops 3000] [--engines sqlite,postgres]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, TYPE_FILE, rootContext } from '../src/meta/types.js';
import { serverUrl, uniquePrefix, withOptions } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';

const ROOT = rootContext();
const DAY_MS = 86_400_000;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const files = Number(arg('files', '100000'));
const kept = Number(arg('kept', '10000'));
const ops = Number(arg('ops', '3000'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const tmp = mkdtempSync(join(tmpdir(), 'bench-ttl-'));

function url(engine: string): string {
  if (engine === 'sqlite') return `sqlite3://${join(tmp, `${Math.random().toString(36).slice(2)}.db`)}`;
  return withOptions(serverUrl(engine as 'postgres'), { prefix: uniquePrefix('bttl') });
}

const rate = (n: number, ms: number) => ((n * 1000) / ms).toFixed(0);

/** Creates n files in dir, a few in flight (not measured). */
async function fill(m: Meta, dir: number, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, k) => m.mknod(ROOT, dir, `${prefix}-${i + k}`, TYPE_FILE, 0o644)));
  }
}

/** ops/s of create+release one after another in dir. */
async function createRate(m: Meta, dir: number, round: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < ops; i++) {
    const f = await m.create(ROOT, dir, `c${round}-${i}`, 0o644, 0);
    await m.release(ROOT, f.inode);
  }
  return performance.now() - t;
}

const rows: string[][] = [['engine', 'create plain', 'create under TTL', 'cost', `expire ${files}`, 'index rows read', 'files expired', `files under a longer TTL (${kept}) read`]];
for (const engine of engines) {
  const m = await freshMeta(url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays: 1 }));
  try {
    const plain = (await m.mkdir(ROOT, ROOT_INODE, 'plain', 0o755)).inode;
    const ttl = (await m.mkdir(ROOT, ROOT_INODE, 'ttl', 0o755)).inode;
    const keep = (await m.mkdir(ROOT, ttl, 'keep', 0o755)).inode;
    await m.ttlSet('/ttl', 30);
    await m.ttlSet('/ttl/keep', 60);
    // Interleaved, best of two each: the first round also warms the engine up.
    let [cPlain, cTtl] = [Infinity, Infinity];
    for (let round = 0; round < 2; round++) {
      cPlain = Math.min(cPlain, await createRate(m, plain, round));
      cTtl = Math.min(cTtl, await createRate(m, keep, round));
    }
    await fill(m, ttl, files, 'f');
    await fill(m, keep, kept, 'k');
    const t = performance.now();
    const r = await m.ttlExpire(Date.now() + 31 * DAY_MS);
    const ms = performance.now() - t;
    if (r.expired !== files) throw new Error(`expired ${r.expired} files, expected ${files}`);
    rows.push([
      engine,
      `${rate(ops, cPlain)} ops/s`,
      `${rate(ops, cTtl)} ops/s`,
      `${(((cTtl - cPlain) / cPlain) * 100).toFixed(1)}%`,
      `${(ms / 1000).toFixed(1)} s (${rate(r.expired, ms)}/s)`,
      String(r.rowsRead),
      String(r.expired),
      String(r.rowsRead - r.expired),
    ]);
  } finally {
    await m.destroy().catch(() => undefined);
    await m.close();
  }
}
rmSync(tmp, { recursive: true, force: true });
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(
  `\n(create: ${ops} create+release one after another, best of two interleaved rounds, in a plain directory vs one under a TTL; expire: ttlExpire 31 days later, ` +
    `${files} files due under a 30-day TTL beside ${kept + 2 * ops} under a nested 60-day TTL, into the trash, 100 per transaction)`,
);
