// npm run bench:trash — the cost of keeping deletions: create+unlink ops/s with the trash off vs on, `rm -rf`
// of a directory of N files into the trash vs freeing them, and restoring all N (what `ferry trash restore
// --path DIR --recursive` does: one list, one transaction per entry), on SQLite and PostgreSQL, one table.
// A benchmark, never a test.
//
//   node dist/bench/trash.js [--files 100000] [--ops 3000] [--engines sqlite,postgres]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';
import { serverUrl, uniquePrefix, withOptions } from '../test/helpers/servers.js';
import { freshMeta } from '../test/suites/meta-suite.js';

const ROOT = rootContext();

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const files = Number(arg('files', '100000'));
const ops = Number(arg('ops', '3000'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const tmp = mkdtempSync(join(tmpdir(), 'bench-trash-'));

function url(engine: string): string {
  if (engine === 'sqlite') return `sqlite3://${join(tmp, `${Math.random().toString(36).slice(2)}.db`)}`;
  return withOptions(serverUrl(engine as 'postgres'), { prefix: uniquePrefix('bt') });
}

async function volume(engine: string, trashDays: number): Promise<Meta> {
  return freshMeta(url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays }));
}

const rate = (n: number, ms: number) => ((n * 1000) / ms).toFixed(0);

async function createUnlink(m: Meta): Promise<number> {
  const d = (await m.mkdir(ROOT, ROOT_INODE, 'cu', 0o755)).inode;
  const t = performance.now();
  for (let i = 0; i < ops; i++) {
    const f = await m.create(ROOT, d, `f${i}`, 0o644, 0);
    await m.release(ROOT, f.inode);
    await m.unlink(ROOT, d, `f${i}`);
  }
  return performance.now() - t;
}

async function fill(m: Meta): Promise<number> {
  const d = (await m.mkdir(ROOT, ROOT_INODE, 'big', 0o755)).inode;
  // Creation is not measured; a few in flight make it quicker.
  for (let i = 0; i < files; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, files - i) }, async (_, k) => {
        const f = await m.mknod(ROOT, d, `file-${i + k}`, 1, 0o644);
        return f;
      }),
    );
  }
  return d;
}

async function rmrf(m: Meta, d: number): Promise<number> {
  const t = performance.now();
  for (;;) {
    const page = await m.readdir(ROOT, d, { limit: 1000 });
    if (!page.length) break;
    for (const e of page) await m.unlink(ROOT, d, e.name);
  }
  await m.rmdir(ROOT, ROOT_INODE, 'big');
  return performance.now() - t;
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
    const cuOff = await createUnlink(off);
    const cuOn = await createUnlink(on);
    const rmOff = await rmrf(off, await fill(off));
    const rmOn = await rmrf(on, await fill(on));
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
rmSync(tmp, { recursive: true, force: true });
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(`\n(create+unlink: ${ops} files one after another; rm -rf: readdir + unlink of ${files} files and the rmdir; restore: trashList + one trashRestore per entry)`);
