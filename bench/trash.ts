// npm run bench:trash — the cost of keeping deletions: create+unlink ops/s with the trash off vs on, `rm -rf`
// of a directory of N files into the trash vs freeing them, and restoring all N (what `ferry trash restore
// --path DIR --recursive` does: one list, one transaction per entry), on SQLite and PostgreSQL, one table.
// A benchmark, never a test.
//
//   node dist/bench/trash.js [--files 100000] [--ops 3000] [--engines sqlite,postgres]
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { ROOT, ROOT_INODE, arg, createUnlink, engineUrls, fill, printTable, rate, rmrf } from './data-ops.js';

const files = Number(arg('files', '100000'));
const ops = Number(arg('ops', '3000'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const urls = engineUrls('bt');

async function volume(engine: string, trashDays: number): Promise<Meta> {
  return freshMeta(urls.url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays }));
}

async function restoreAll(m: Meta): Promise<{ ms: number; n: number }> {
  const t = performance.now();
  const items = (await m.trashList()).filter((i) => i.path === '/big' || i.path.startsWith('/big/'));
  items.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  for (const i of items) await m.trashRestore(ROOT, i.id);
  return { ms: performance.now() - t, n: items.length };
}

const rows: string[][] = [['engine', 'create+unlink off', 'create+unlink on', 'cost', `rm -rf ${files} off`, `rm -rf ${files} on`, `restore ${files}`]];
for (const engine of engines) {
  const off = await volume(engine, 0);
  const on = await volume(engine, 1);
  try {
    const cuOff = await createUnlink(off, (await off.mkdir(ROOT, ROOT_INODE, 'cu', 0o755)).inode, ops);
    const cuOn = await createUnlink(on, (await on.mkdir(ROOT, ROOT_INODE, 'cu', 0o755)).inode, ops);
    for (const m of [off, on]) await fill(m, (await m.mkdir(ROOT, ROOT_INODE, 'big', 0o755)).inode, files);
    const rmOff = await rmrf(off, ROOT_INODE, 'big');
    const rmOn = await rmrf(on, ROOT_INODE, 'big');
    const rs = await restoreAll(on);
    if (rs.n !== files + 1) throw new Error(`restored ${rs.n} entries, expected ${files + 1}`);
    rows.push([
      engine,
      `${rate(ops, cuOff)} ops/s`,
      `${rate(ops, cuOn)} ops/s`,
      `${(((cuOn - cuOff) / cuOff) * 100).toFixed(1)}%`,
      `${(rmOff / 1000).toFixed(1)} s (${rate(files, rmOff)}/s)`,
      `${(rmOn / 1000).toFixed(1)} s (${rate(files, rmOn)}/s)`,
      `${(rs.ms / 1000).toFixed(1)} s (${rate(rs.n, rs.ms)}/s)`,
    ]);
  } finally {
    await off.destroy().catch(() => undefined);
    await on.destroy().catch(() => undefined);
    await off.close();
    await on.close();
  }
}
urls.cleanup();
printTable(rows);
console.log(`\n(create+unlink: ${ops} files one after another; rm -rf: readdir + unlink of ${files} files and the rmdir; restore: trashList + one trashRestore per entry)`);
