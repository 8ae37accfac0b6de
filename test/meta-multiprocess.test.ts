// Two node processes hammer one SQLite database with the churn workload at the same time;
// afterwards the namespace must hold exactly the expected names and keep every invariant.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import type { ChurnResult } from './suites/meta-invariants.js';
import { checkChurn, checkInvariants, readAllChangelog } from './suites/meta-invariants.js';
import { freshMeta } from './suites/meta-suite.js';
import { ROOT_INODE, rootContext, type ChangeRecord } from '../src/meta/types.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./fixtures/meta-worker.js', import.meta.url));
const COUNT = 1000;
const TAGS = ['p1', 'p2'];

async function worker(url: string, dirName: string, tag: string): Promise<ChurnResult> {
  const args = [WORKER, url, dirName, tag, String(COUNT), String(TAGS.length)];
  const { stdout } = await run(process.execPath, args, { timeout: 120_000 });
  return JSON.parse(stdout) as ChurnResult;
}

/** How often the changelog switches from one worker's records to the other's (to show they overlapped). */
function switches(records: ChangeRecord[]): number {
  const owner = (r: ChangeRecord) => TAGS.find((t) => r.mutations.some((x) => x.t === 'entry' && x.name.startsWith(`${t}-`)));
  const seq = records.map(owner).filter((t) => t !== undefined);
  return seq.filter((t, i) => i > 0 && t !== seq[i - 1]).length;
}

describe('meta: two processes on one sqlite3 database', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ferry-meta-mp-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('interleaved creates, renames and unlinks from two processes lose nothing', async (t) => {
    const url = `sqlite3://${join(tmp, 'meta.db')}`;
    const m = await freshMeta(url);
    try {
      const inodeBase = (await m.statfs(rootContext())).usedInodes - 1;
      await m.mkdir(rootContext(), ROOT_INODE, 'work', 0o777);
      const results = await Promise.all(TAGS.map((tag) => worker(url, 'work', tag)));
      const dir = (await m.lookup(rootContext(), ROOT_INODE, 'work')).inode;
      await checkChurn(m, dir, results, COUNT);
      await checkInvariants(m, { inodeBase, probe: results.flatMap((r) => r.inodes) });
      t.diagnostic(`changelog switched between the workers ${switches(await readAllChangelog(m))} times`);
    } finally {
      await m.close();
    }
  });
});
