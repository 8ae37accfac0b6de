// A mirror on a different engine than its source: PostgreSQL in the data's region, SQLite next to the GPUs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { createMirror, Replicator } from '../src/mirror/index.js';
import { newFormat } from '../src/meta/format.js';
import { Volume } from '../src/sdk/index.js';
import { dropPrefixed, requireServer, uniquePrefix, withOptions } from './helpers/servers.js';
import { describeTree, mirrorTree, workload } from './helpers/tree.js';
import { sleep } from './helpers/wait.js';

process.env.PGOPTIONS ??= '-c synchronous_commit=off';
const base = await requireServer('postgres');

if (base) {
  const prefix = uniquePrefix('fmir');
  const dir = mkdtempSync(join(tmpdir(), 'ferry-mirror-engines-'));
  const sourceUrl = withOptions(base, { prefix: `${prefix}_` });
  const mirrorUrl = `sqlite3://${dir}/mirror.db`;
  after(async () => {
    await dropPrefixed('postgres', base, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('mirror across engines (postgres -> sqlite3)', () => {
    it('replicates a workload exactly and serves a writable client its own writes', { timeout: 300_000 }, async () => {
      const m = await openMeta(sourceUrl);
      await m.init(newFormat({ name: 'xeng', storage: `file://${dir}/blocks`, blockSize: 1 << 20, trashDays: 0 }));
      await m.close();
      const src = await Volume.open(sourceUrl, { attrTimeout: 0, entryTimeout: 0 });
      await workload(src, 11, 60);
      await createMirror(sourceUrl, mirrorUrl);
      const [s, mm] = [await openMeta(sourceUrl), await openMeta(mirrorUrl)];
      const rep = new Replicator(mm, s, (await mm.load()).mirror!.of!.id);
      await rep.start();
      try {
        await workload(src, 12, 120);
        const w = await Volume.open(mirrorUrl, { attrTimeout: 0, entryTimeout: 0 });
        try {
          for (let i = 0; i < 20; i++) {
            await w.mkdir(`/w/d1/d2/d3/d4`, { recursive: true });
            await w.writeFile(`/w/d1/d2/d3/d4/newf${i}`, `x${i}`);
            assert.equal(await w.readFile(`/w/d1/d2/d3/d4/newf${i}`, 'utf8'), `x${i}`);
          }
        } finally {
          await w.close();
        }
        const target = await s.currentVersion();
        while (rep.applied < target) await sleep(20);
        assert.deepEqual(await mirrorTree(mirrorUrl), await describeTree(src));
      } finally {
        await rep.stop();
        await s.close();
        await mm.close();
        await src.close();
      }
    });
  });
}
