// npm run bench:data-management — issue 21's benchmark in one run and one table: the cost of the trash,
// directory quotas and TTL bookkeeping on create+unlink and on 4 KiB appends (alternating rounds, so the
// machine's drift falls on every column alike; goal: within 10%), `rm -rf` of N files with the trash off vs
// into the trash, the restore of all N the way `ferry trash restore --path DIR --recursive` does it, and
// the expiry of N files by a TTL (index rows read vs files expired: goal equal). SQLite and PostgreSQL.
// A benchmark, never a test. bench:trash, bench:quota and bench:ttl show each feature on its own.
//
//   node dist/bench/data-management.js [--files 20000] [--ops 2000] [--rounds 4] [--engines sqlite,postgres]
//   (the size: --files 100000)
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { restoreFromTrash } from '../src/meta/trash-restore.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { ROOT, ROOT_INODE, appends, arg, cost, createUnlink, engineUrls, fill, printTable, rate, rmrf, secs } from './data-ops.js';

const files = Number(arg('files', '20000'));
const ops = Number(arg('ops', '2000'));
const rounds = Number(arg('rounds', '4'));
const engines = arg('engines', 'sqlite,postgres').split(',');
const urls = engineUrls('bdm');
const DAY_MS = 86_400_000;

type Setup = 'plain' | 'trash' | 'quotas' | 'all';
interface Vol {
  m: Meta;
  dir: number;
  file: number;
}

/** A volume with /team/project/files and a file to append to, with the features of `setup` on. */
async function volume(engine: string, setup: Setup): Promise<Vol> {
  const trash = setup === 'trash' || setup === 'all';
  const m = await freshMeta(urls.url(engine), newFormat({ name: 'bench', storage: 'mem://x', trashDays: trash ? 1 : 0 }));
  const team = (await m.mkdir(ROOT, ROOT_INODE, 'team', 0o755)).inode;
  const project = (await m.mkdir(ROOT, team, 'project', 0o755)).inode;
  const dir = (await m.mkdir(ROOT, project, 'files', 0o755)).inode;
  if (setup === 'quotas' || setup === 'all') {
    await m.quotaSet(ROOT, '/team', { capacity: 2 ** 50, inodes: 1e12 });
    await m.quotaSet(ROOT, '/team/project', { capacity: 2 ** 50, inodes: 1e12 });
  }
  if (setup === 'all') await m.ttlSet('/team', 30);
  const file = (await m.mknod(ROOT, dir, 'appended', 1, 0o644)).inode;
  return { m, dir, file };
}

const setups: Setup[] = ['plain', 'trash', 'quotas', 'all'];
const results = new Map<string, Map<string, string>>(); // measure -> engine -> figure
const put = (measure: string, engine: string, v: string) => {
  if (!results.has(measure)) results.set(measure, new Map());
  results.get(measure)!.set(engine, v);
};

for (const engine of engines) {
  const vols = new Map<Setup, Vol>();
  for (const s of setups) vols.set(s, await volume(engine, s));
  try {
    const cu = new Map<Setup, number>(setups.map((s) => [s, 0]));
    const ap = { plain: 0, quotas: 0 };
    const per = Math.ceil(ops / rounds);
    const perAppend = Math.min(per, Math.floor(16384 / rounds)); // one 64 MiB chunk at most
    for (let r = 0; r < rounds; r++) {
      for (const s of setups) cu.set(s, cu.get(s)! + (await createUnlink(vols.get(s)!.m, vols.get(s)!.dir, per)));
      ap.plain += await appends(vols.get('plain')!.m, vols.get('plain')!.file, perAppend);
      ap.quotas += await appends(vols.get('quotas')!.m, vols.get('quotas')!.file, perAppend);
    }
    const n = per * rounds;
    put('create+unlink, all off (ops/s)', engine, rate(n, cu.get('plain')!));
    put('  trash on', engine, `${rate(n, cu.get('trash')!)} (${cost(cu.get('plain')!, cu.get('trash')!)})`);
    put('  2 nested quotas', engine, `${rate(n, cu.get('quotas')!)} (${cost(cu.get('plain')!, cu.get('quotas')!)})`);
    put('  trash + quotas + TTL', engine, `${rate(n, cu.get('all')!)} (${cost(cu.get('plain')!, cu.get('all')!)})`);
    put('4K appends, no quota (ops/s)', engine, rate(perAppend * rounds, ap.plain));
    put('  under 2 nested quotas', engine, `${rate(perAppend * rounds, ap.quotas)} (${cost(ap.plain, ap.quotas)})`);

    // rm -rf of N files: freed at once vs kept in the trash; then all N back.
    const plain = vols.get('plain')!.m;
    const kept = vols.get('trash')!.m;
    for (const m of [plain, kept]) await fill(m, (await m.mkdir(ROOT, ROOT_INODE, 'big', 0o755)).inode, files);
    put(`rm -rf ${files}, trash off`, engine, secs(files, await rmrf(plain, ROOT_INODE, 'big')));
    put(`rm -rf ${files}, into the trash`, engine, secs(files, await rmrf(kept, ROOT_INODE, 'big')));
    const t0 = performance.now();
    const all = await kept.trashList();
    const chosen = all.filter((i) => i.path === '/big' || i.path.startsWith('/big/'));
    const r = await restoreFromTrash(kept, ROOT, all, chosen);
    const restoreMs = performance.now() - t0;
    if (r.restored.length !== files + 1 || r.failed.length) throw new Error(`restored ${r.restored.length} entries, expected ${files + 1}: ${r.failed[0]?.message}`);
    put(`restore ${files} (--path --recursive)`, engine, secs(files, restoreMs));

    // N files due under a 30-day TTL expire "31 days later" into the trash, read from the index.
    const ttl = vols.get('all')!.m;
    const due = (await ttl.mkdir(ROOT, ROOT_INODE, 'due', 0o755)).inode;
    await ttl.ttlSet('/due', 30);
    await fill(ttl, due, files, 'old');
    const t1 = performance.now();
    const e = await ttl.ttlExpire(Date.now() + 31 * DAY_MS);
    const expireMs = performance.now() - t1;
    put(`TTL expiry of ${files}`, engine, secs(e.expired, expireMs));
    put('  index rows read / files expired', engine, `${e.rowsRead} / ${e.expired}`);
  } finally {
    for (const v of vols.values()) {
      await v.m.destroy().catch(() => undefined);
      await v.m.close();
    }
  }
}
urls.cleanup();
printTable([['', ...engines], ...[...results].map(([measure, byEngine]) => [measure, ...engines.map((e) => byEngine.get(e) ?? '')])]);
console.log(
  `\n(create+unlink: ${ops} files one after another in ${rounds} alternating rounds, files two quota'd directories deep; (x%): ops/s lost vs all off;` +
    ` appends: 4 KiB slices at the end of one file; rm -rf: readdir + unlink + rmdir; restore: trashList + restoreFromTrash, one transaction per entry; TTL: ttlExpire from the index, 100 per transaction)`,
);
