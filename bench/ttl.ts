// npm run bench:ttl — TTL expiry of N files: the files are created under a directory with a 30-day TTL (the
// TTL index is kept as they are created), beside M files under a nested 60-day TTL; expiry runs "31 days
// later" and moves the N files to the trash. Shown: seconds, index rows read vs files expired (goal: equal,
// the M files never read), and the cost of the index on create (ops/s in a TTL directory vs a plain one).
// On SQLite and PostgreSQL, one table. A benchmark, never a test.
//
//   node dist/bench/ttl.js [--files 100000] [--kept 10000] [--ops 3000] [--engines sqlite,postgres]
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { ROOT, ROOT_INODE, arg, engineUrls, fill, printTable, rate } from './data-ops.js';

const DAY_MS = 86_400_000;
const files = Number(arg('files', '100000'));
const kept = Number(arg('kept', '10000'));
const ops = Number(arg('ops', '3000'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const urls = engineUrls('bttl');

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
  const m = await freshMeta(urls.url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays: 1 }));
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
urls.cleanup();
printTable(rows);
console.log(
  `\n(create: ${ops} create+release one after another, best of two interleaved rounds, in a plain directory vs one under a TTL; expire: ttlExpire 31 days later, ` +
    `${files} files due under a 30-day TTL beside ${kept + 2 * ops} under a nested 60-day TTL, into the trash, 100 per transaction)`,
);
