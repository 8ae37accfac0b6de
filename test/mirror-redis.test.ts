// A writable mirror of a Redis source. Redis assigns the version (and the usage counters) at commit, so
// the operation's result and its changelog record only learn those values then: the writer must still
// get its own record with the committed values and replay it on the mirror at once, instead of waiting
// for the replicator (or, without one, the whole wait timeout) on every write.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, rootContext, TYPE_FILE, type Format, type Mutation } from '../src/meta/types.js';
import { createMirror, MirrorMeta, mirrorOf, Replicator } from '../src/mirror/index.js';
import { newFormat } from '../src/meta/format.js';
import { requireServer, uniquePrefix, withOptions } from './helpers/servers.js';

const ROOT = rootContext();
const base = await requireServer('redis');

function format(dir: string): Format {
  return newFormat({ name: 'rmir', storage: `file://${dir}/blocks`, blockSize: 1 << 20, trashDays: 0 });
}

/** A Meta whose calls are counted by method name: the mirror client's round trips to its mirror engine. */
function counted(m: Meta): { meta: Meta; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const meta = new Proxy(m, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return v.apply(target, args);
      };
    },
  });
  return { meta, calls };
}

const counterOf = (muts: Mutation[], name: string) => muts.find((m): m is Extract<Mutation, { t: 'counter' }> => m.t === 'counter' && m.name === name)?.value;

if (base) {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-mirror-redis-'));
  const urls: string[] = [];
  const redisUrl = () => {
    const u = withOptions(base, { prefix: uniquePrefix('fmr') });
    urls.push(u);
    return u;
  };
  after(async () => {
    for (const u of urls) {
      const m = await openMeta(u);
      await m.destroy().finally(() => m.close());
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('a Redis source', () => {
    it('hands up each record with the committed version and counter values', async () => {
      const m = await openMeta(redisUrl());
      try {
        await m.init(format(dir));
        m.keepRecords = true;
        const d = await m.mkdir(ROOT, ROOT_INODE, 'd', 0o755);
        const f = await m.mknod(ROOT, d.inode, 'f', TYPE_FILE, 0o644);
        // A name JSON must escape, in the same record as counter values filled in by the commit script.
        const odd = await m.mknod(ROOT, d.inode, 'q"\\u0000 \u00e9\n}', TYPE_FILE, 0o644);
        for (const r of [d, f, odd]) {
          assert.ok(r.record, 'the record is kept');
          assert.equal(r.record.version, r.version);
          assert.deepEqual((await m.readChangelog(r.version - 1, 1))[0], r.record, 'the record handed up is the one stored');
        }
        assert.equal(odd.version, await m.currentVersion());
        assert.equal(counterOf(odd.record!.mutations, 'totalInodes'), await m.getCounter('totalInodes'));
      } finally {
        await m.close();
      }
    });

    for (const kind of ['sqlite3', 'redis'] as const) {
      it(`a writable ${kind} mirror client replays its own records instead of waiting`, { timeout: 120_000 }, async () => {
        const sourceUrl = redisUrl();
        const mirrorUrl = kind === 'redis' ? redisUrl() : `sqlite3://${dir}/mirror-${randomUUID()}.db`;
        const init = await openMeta(sourceUrl);
        await init.init(format(dir));
        await init.close();
        await createMirror(sourceUrl, mirrorUrl);
        // The replicator runs as it would in production: the client must not need it for its own writes.
        const [repMirror, repSource] = [await openMeta(mirrorUrl), await openMeta(sourceUrl)];
        const rep = new Replicator(repMirror, repSource, mirrorOf(await repMirror.load())!.id);
        await rep.start();
        const local = await openMeta(mirrorUrl);
        const source = await openMeta(sourceUrl);
        const { meta, calls } = counted(local);
        const w = new MirrorMeta(meta, source, mirrorOf(await local.load())!, { waitTimeoutMs: 3000 });
        try {
          await w.load();
          await w.newSession({ mountPoint: '/w' });
          calls.clear();
          const done: number[] = [];
          let parent = ROOT_INODE;
          for (let i = 0; i < 3; i++) {
            const r = await w.mkdir(ROOT, parent, `d${i}`, 0o755);
            done.push(r.version);
            parent = r.inode;
            const c = await w.create(ROOT, parent, `f${i}`, 0o644, 0);
            done.push(c.version);
            await w.release(ROOT, c.inode);
          }
          // Every write replayed its own record: one call each, and no wait for the mirror (a wait reads
          // the applied counter, asks the replicator's session for its address, and polls).
          assert.equal(calls.get('applyChangeRecord'), done.length, JSON.stringify(Object.fromEntries(calls)));
          assert.equal(calls.get('getCounter') ?? 0, 0, 'no wait for the mirror');
          assert.equal(calls.get('listSessions') ?? 0, 0, 'no wait for the replicator');
          assert.deepEqual(done, done.map((_, i) => done[0]! + i), 'consecutive versions');
          assert.equal(done.at(-1), await source.currentVersion());
          assert.ok((await local.getCounter('appliedVersion')) >= done.at(-1)!);
          // Its own writes are read from the mirror, with the source's usage counters.
          assert.equal((await w.lookup(ROOT, parent, 'f2')).attr.type, TYPE_FILE);
          assert.equal(await local.getCounter('totalInodes'), await source.getCounter('totalInodes'));
          assert.equal(await local.getCounter('usedSpace'), await source.getCounter('usedSpace'));
        } finally {
          await w.closeSession().catch(() => undefined);
          await w.close();
          await rep.stop();
          await repMirror.close();
          await repSource.close();
        }
      });
    }
  });
}
