// A mirror on a different engine than its source: PostgreSQL in the data's region, SQLite next to the GPUs;
// an etcd cluster as the source, and as the mirror.
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
import { Etcd3 } from 'etcd3';
import { sleep } from './helpers/wait.js';

process.env.PGOPTIONS ??= '-c synchronous_commit=off';

/** A workload on the source replicated to a mirror on another engine, exactly, and a writable client on the mirror. */
function mirrorAcross(title: string, dir: string, sourceUrl: string, mirrorUrl: string): void {
  describe(`mirror across engines (${title})`, () => {
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

const base = await requireServer('postgres');
if (base) {
  const prefix = uniquePrefix('fmir');
  const dir = mkdtempSync(join(tmpdir(), 'ferry-mirror-engines-'));
  after(async () => {
    await dropPrefixed('postgres', base, prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  mirrorAcross('postgres -> sqlite3', dir, withOptions(base, { prefix: `${prefix}_` }), `sqlite3://${dir}/mirror.db`);
}

const etcd = await requireServer('etcd');
if (etcd) {
  const run = uniquePrefix('fmir');
  const dirs = [mkdtempSync(join(tmpdir(), 'ferry-mirror-etcd-')), mkdtempSync(join(tmpdir(), 'ferry-mirror-etcd-'))];
  after(async () => {
    const c = new Etcd3({ hosts: `http://${etcd.replace(/^etcd:\/\//, '').replace(/\/.*$/, '')}` });
    try {
      await c.delete().prefix(`${run}/`);
    } finally {
      c.close();
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  mirrorAcross('etcd -> sqlite3', dirs[0]!, `${etcd}/${run}/source`, `sqlite3://${dirs[0]}/mirror.db`);
  mirrorAcross('sqlite3 -> etcd', dirs[1]!, `sqlite3://${dirs[1]}/source.db`, `${etcd}/${run}/mirror`);
}
