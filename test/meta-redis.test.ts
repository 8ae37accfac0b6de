// The meta conformance suite on Redis (127.0.0.1:6379, .ci/setup.d/22-redis.sh starts it): every volume gets
// its own key prefix, and its keys are deleted afterwards. Plus a stress with several clients and a count of
// the round trips each operation costs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, TYPE_FILE, rootContext, type Versioned } from '../src/meta/types.js';
import { freshMeta, metaConformance } from './suites/meta-suite.js';
import { checkChurn, checkInvariants, churn, expectCode } from './suites/meta-invariants.js';

const HOST = process.env.FERRY_TEST_REDIS ?? '127.0.0.1:6379';
const START = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`;
const run = randomBytes(4).toString('hex');
let n = 0;
const prefixes: string[] = [];
const newUrl = async () => {
  const p = `ferrytest-${run}-${++n}`;
  prefixes.push(p);
  return `redis://${HOST}/0?prefix=${p}`;
};
const ROOT = rootContext();

async function reachable(): Promise<string | undefined> {
  const [host, port] = HOST.split(':');
  const r = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let why: string | undefined;
  r.on('error', (e: Error) => (why ??= e.message));
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (e) {
    return why ?? (e as Error).message;
  } finally {
    r.disconnect();
  }
}

const down = await reachable();
if (down !== undefined) {
  // One failing test with one message, in CI and by hand alike.
  it('redis server', () => {
    assert.fail(`Redis is not reachable at ${HOST} (${down}); start it with: ${START} (or run .ci/setup.d/22-redis.sh)`);
  });
} else {
  after(async () => {
    const [host, port] = HOST.split(':');
    const r = new Redis({ host, port: Number(port) });
    for (const p of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `\\{${p}\\}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
    }
    await r.quit();
  });

  metaConformance('redis', newUrl);

  describe('redis engine', () => {
    it('three clients churning one directory keep the invariants', async () => {
      const url = await newUrl();
      const a = await freshMeta(url);
      const inodeBase = (await a.statfs(ROOT)).usedInodes - 1;
      const others: Meta[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const m = await openMeta(url);
          await m.newSession({ mountPoint: `/c${i}` });
          others.push(m);
        }
        const d = (await a.mkdir(ROOT, ROOT_INODE, 'hot', 0o777)).inode;
        const clients = [a, ...others];
        const results = await Promise.all(clients.map((m, i) => churn(m, d, `c${i}`, 150)));
        await checkChurn(a, d, results, 150);
        await checkInvariants(a, { inodeBase, probe: results.flatMap((r) => r.inodes) });
        // Counters replayed by mirrors carry the committed values, never placeholders.
        for (const rec of await a.readChangelog(0, 100000)) {
          for (const m of rec.mutations) if (m.t === 'counter') assert.ok(m.value >= 0, `counter ${m.name} = ${m.value} in record ${rec.version}`);
        }
      } finally {
        for (const m of [a, ...others]) await m.close();
      }
    });

    it('bad URLs and an unreachable server give one-line errors', async () => {
      await expectCode(openMeta('redis://127.0.0.1:6379/notanumber'), 'EINVAL');
      const m = await openMeta('redis://127.0.0.1:1/0?prefix=x');
      try {
        const err = await m.load().catch((e: Error) => e);
        assert.equal((err as { code?: string }).code, 'EIO');
        assert.match((err as Error).message, /cannot reach Redis at 127\.0\.0\.1:1/);
        assert.ok(!(err as Error).message.includes('\n'));
      } finally {
        await m.close();
      }
    });

    it('round trips per operation', async (t) => {
      const m = await freshMeta(await newUrl());
      const eng = (m as unknown as { eng: { commands: number } }).eng;
      const counts: Record<string, number> = {};
      const measure = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
        const before = eng.commands;
        const r = await fn();
        counts[op] = eng.commands - before;
        return r;
      };
      try {
        const d = (await m.mkdir(ROOT, ROOT_INODE, 'd', 0o755)).inode;
        await m.mknod(ROOT, d, 'warm', TYPE_FILE, 0o644); // fills the inode id pool
        const sid = await m.newSliceId();
        const f = await measure('create', () => m.mknod(ROOT, d, 'f', TYPE_FILE, 0o644));
        await measure('mkdir', () => m.mkdir(ROOT, d, 'sub', 0o755));
        await measure('lookup', () => m.lookup(ROOT, d, 'f'));
        await measure('getattr', () => m.getattr(ROOT, f.inode));
        await measure('readdir', () => m.readdir(ROOT, d, {}));
        await measure('readdir plus', () => m.readdir(ROOT, d, { plus: true }));
        await measure('write slice', () => m.writeSlice(ROOT, f.inode, 0, 0, { id: sid, size: 100, off: 0, len: 100 }));
        await measure('read chunk', () => m.readChunk(ROOT, f.inode, 0));
        await measure('setattr', () => m.setattr(ROOT, f.inode, 1, { mode: 0o600 }));
        await measure('rename', () => m.rename(ROOT, d, 'f', d, 'g'));
        await measure('unlink', () => m.unlink(ROOT, d, 'g'));
        await measure('rmdir', () => m.rmdir(ROOT, d, 'sub'));
        // A second client with a cold cache, on files the first one made.
        const m2 = await openMeta(m.url);
        try {
          const e2 = (m2 as unknown as { eng: { commands: number } }).eng;
          const cold = async (op: string, fn: () => Promise<unknown>) => {
            const before = e2.commands;
            await fn();
            counts[op] = e2.commands - before;
          };
          await m.mknod(ROOT, d, 'x', TYPE_FILE, 0o644);
          await m.mknod(ROOT, d, 'y', TYPE_FILE, 0o644);
          await m2.load();
          await cold('cold: lookup + unlink', async () => {
            await m2.lookup(ROOT, d, 'x');
            await m2.unlink(ROOT, d, 'x');
          });
          await cold('cold: unlink', () => m2.unlink(ROOT, d, 'y'));
          await cold('cold: create', () => m2.mknod(ROOT, d, 'z', TYPE_FILE, 0o644));
        } finally {
          await m2.close();
        }
        t.diagnostic(JSON.stringify(counts));
        // Reads are one call; a write is its reads plus one commit.
        for (const op of ['lookup', 'getattr', 'read chunk']) assert.equal(counts[op], 1, op);
        for (const [op, c] of Object.entries(counts)) assert.ok(c <= 8, `${op}: ${c} round trips`);
      } finally {
        await m.close();
      }
    });

    it('a stale client cache costs a retry, never a wrong result', async () => {
      const url = await newUrl();
      const a = await freshMeta(url);
      const b = await openMeta(url);
      try {
        await b.newSession({ mountPoint: '/b' });
        const d = (await a.mkdir(ROOT, ROOT_INODE, 'd', 0o777)).inode;
        const f = (await a.mknod(ROOT, d, 'f', TYPE_FILE, 0o644)).inode; // a caches f's entry and attributes
        await b.setattr(ROOT, f, 1 /* SET_MODE */, { mode: 0o600 });
        const r = await a.setattr(ROOT, f, 2 /* SET_UID */, { uid: 7 });
        assert.equal(r.attr.mode, 0o600, 'built on the current attributes, not the cached ones');
        assert.equal(r.attr.uid, 7);
        await b.rename(ROOT, d, 'f', d, 'g');
        await expectCode(a.unlink(ROOT, d, 'f'), 'ENOENT');
        await expectCode(a.mknod(ROOT, d, 'g', TYPE_FILE, 0o644), 'EEXIST');
        await b.unlink(ROOT, d, 'g');
        await a.mknod(ROOT, d, 'g', TYPE_FILE, 0o644);
        await checkInvariants(a, { inodeBase: 0 });
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('versions returned by concurrent writers are the committed ones', async () => {
      const m = await freshMeta(await newUrl());
      try {
        const rs: Versioned[] = await Promise.all(Array.from({ length: 50 }, (_, i) => m.mkdir(ROOT, ROOT_INODE, `d${i}`, 0o755)));
        const vs = rs.map((r) => r.version).sort((a, b) => a - b);
        assert.deepEqual(vs, Array.from({ length: 50 }, (_, i) => i + 1));
        const recs = await m.readChangelog(0, 100);
        assert.deepEqual(recs.map((r) => r.version), vs);
      } finally {
        await m.close();
      }
    });
  });
}
