// npm run bench:quota — the cost of directory quotas' bookkeeping: create+unlink ops/s with quotas off vs
// on (files two quota'd directories deep: /team, /team/project, each counting every change in the
// change's transaction), and 4 KiB appends (write commits, each charged), on SQLite and PostgreSQL, one
// table. Off and on run in alternating rounds so drift of the machine falls on both. A benchmark, never a test.
//
//   node dist/bench/quota.js [--ops 2000] [--rounds 4] [--engines sqlite,postgres]
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { ROOT, ROOT_INODE, appends as appendsIn, arg, cost, createUnlink as createUnlinkIn, engineUrls, printTable, rate } from './data-ops.js';

const ops = Number(arg('ops', '2000'));
const rounds = Number(arg('rounds', '4'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const urls = engineUrls('bq');

/** A volume with /team/project/files; with quotas on /team and /team/project. */
async function volume(engine: string, quotas: boolean): Promise<{ m: Meta; dir: number; file: number }> {
  const m = await freshMeta(urls.url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays: 0 }));
  const team = (await m.mkdir(ROOT, ROOT_INODE, 'team', 0o755)).inode;
  const project = (await m.mkdir(ROOT, team, 'project', 0o755)).inode;
  const dir = (await m.mkdir(ROOT, project, 'files', 0o755)).inode;
  if (quotas) {
    await m.quotaSet(ROOT, '/team', { capacity: 2 ** 50, inodes: 1e12 });
    await m.quotaSet(ROOT, '/team/project', { capacity: 2 ** 50, inodes: 1e12 });
  }
  const file = (await m.mknod(ROOT, dir, 'appended', 1, 0o644)).inode;
  return { m, dir, file };
}

const createUnlink = (v: { m: Meta; dir: number }, n: number) => createUnlinkIn(v.m, v.dir, n);
const appends = (v: { m: Meta; file: number }, n: number) => appendsIn(v.m, v.file, n);

const rows: string[][] = [['engine', 'create+unlink off', 'create+unlink on', 'cost', '4K appends off', '4K appends on', 'cost']];
for (const engine of engines) {
  const off = await volume(engine, false);
  const on = await volume(engine, true);
  try {
    const t = { cuOff: 0, cuOn: 0, apOff: 0, apOn: 0 };
    const per = Math.ceil(ops / rounds);
    for (let r = 0; r < rounds; r++) {
      t.cuOff += await createUnlink(off, per);
      t.cuOn += await createUnlink(on, per);
      // Appends stay inside one 64 MiB chunk: at most 16384 per file.
      t.apOff += await appends(off, Math.min(per, 16384 / rounds));
      t.apOn += await appends(on, Math.min(per, 16384 / rounds));
    }
    const [q] = await on.m.quotaCheck(ROOT, { path: '/team' });
    if (q!.walkedSpace !== q!.usedSpace || q!.walkedInodes !== q!.usedInodes) throw new Error(`quota drifted: ${JSON.stringify(q)}`);
    const n = per * rounds;
    const na = Math.min(per, 16384 / rounds) * rounds;
    rows.push([
      engine,
      `${rate(n, t.cuOff)} ops/s`,
      `${rate(n, t.cuOn)} ops/s`,
      cost(t.cuOff, t.cuOn),
      `${rate(na, t.apOff)} ops/s`,
      `${rate(na, t.apOn)} ops/s`,
      cost(t.apOff, t.apOn),
    ]);
  } finally {
    for (const v of [off, on]) {
      await v.m.destroy().catch(() => undefined);
      await v.m.close();
    }
  }
}
urls.cleanup();
printTable(rows);
console.log(`\n(create+unlink: ${ops} files one after another, in ${rounds} alternating rounds; cost: ops/s lost with quotas on; appends: 4 KiB slices at the end of one file, each a write commit)`);
