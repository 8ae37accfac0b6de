// What one create and one unlink cost the SQL engines, in statements of their transaction (BEGIN and
// COMMIT not counted): every statement is a round trip on PostgreSQL and MySQL, and on SQLite most of a
// small file's metadata time. Counted with SqlEngine.statementCount on the embedded SQLite engine (the others
// run the same SqlTx code; PostgreSQL and MySQL also send the counter increments as one statement, which on
// SQLite would cost more CPU than it saves: see Dialect.batchCounters).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { newFormat } from '../src/meta/format.js';
import type { Meta } from '../src/meta/interface.js';
import { rootContext } from '../src/meta/types.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-meta-statements-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The engine under a BaseMeta: the counter is the SQL engine's own (no wrapper stands in for it). */
function statements(m: Meta): number {
  const eng = (m as unknown as { eng: { statementCount?: number } }).eng;
  assert.equal(typeof eng.statementCount, 'number', 'a SQL engine counts its statements');
  return eng.statementCount!;
}

async function counted<T>(m: Meta, fn: () => Promise<T>): Promise<number> {
  const before = statements(m);
  await fn();
  return statements(m) - before;
}

test('create and unlink of a small file: few statements per transaction', async (t) => {
  const m = await openMeta(`sqlite3://${join(dir, 'm.db')}`);
  try {
    await m.init(newFormat({ name: 'statements', storage: `file://${join(dir, 'blocks')}`, trashDays: 0 }));
    await m.load();
    await m.newSession({});
    const ctx = rootContext();
    // Warm up: the inode allocator takes its batch of numbers in a transaction of its own, once per batch.
    const warm = await m.create(ctx, 1, 'warm', 0o644, 0);
    await m.release(ctx, warm.inode);
    const creates: number[] = [];
    const unlinks: number[] = [];
    for (let i = 0; i < 20; i++) {
      let ino = 0;
      creates.push(await counted(m, async () => (ino = (await m.create(ctx, 1, `f${i}`, 0o644, 0)).inode)));
      await m.release(ctx, ino);
      unlinks.push(await counted(m, () => m.unlink(ctx, 1, `f${i}`)));
    }
    // Before: 9 for create (parent read, name check, entry, node, open record, parent, the inode counter,
    // the version, changelog) and 12 for unlink. Now the name is checked by inserting it, the node and its
    // parent are written together, the entry and its inode are read in one join, and an inode without
    // xattrs skips the xattr listing.
    t.diagnostic(`statements: create ${creates[0]}, unlink ${unlinks[0]}`);
    assert.ok(Math.max(...creates) <= 7, `create: ${creates.join(',')} statements`);
    assert.ok(Math.max(...unlinks) <= 10, `unlink: ${unlinks.join(',')} statements`);
    // And the work was done: counters, names, the changelog.
    const st = await m.statfs(ctx);
    assert.equal(st.usedInodes, 2); // the root and `warm`
    assert.deepEqual((await m.readdir(ctx, 1, { plus: false })).map((e) => e.name).filter((n) => n.startsWith('f')), []);
  } finally {
    await m.close();
  }
});

test('readdir is one statement: the directory and its page read together', async () => {
  const m = await openMeta(`sqlite3://${join(dir, 'r.db')}`);
  try {
    await m.init(newFormat({ name: 'readdir', storage: `file://${join(dir, 'blocks-r')}`, trashDays: 0 }));
    await m.load();
    const ctx = rootContext();
    const d = await m.mkdir(ctx, 1, 'd', 0o755);
    const e = await m.mkdir(ctx, 1, 'empty', 0o755);
    const f = await m.mknod(ctx, 1, 'file', 1, 0o644);
    for (const n of ['b', 'a', 'c']) await m.mknod(ctx, d.inode, n, 1, 0o600);
    for (const plus of [true, false]) {
      let page: Awaited<ReturnType<Meta['readdir']>> = [];
      assert.equal(await counted(m, async () => (page = await m.readdir(ctx, d.inode, { plus, limit: 2 }))), 1, `readdir plus=${plus}: one statement`);
      assert.deepEqual(page.map((x) => x.name), ['a', 'b']);
      assert.equal(page[0]!.attr.mode & 0o777, plus ? 0o600 : 0);
      const rest = await m.readdir(ctx, d.inode, { plus, after: 'b' });
      assert.deepEqual(rest.map((x) => x.name), ['c']);
      assert.equal(await counted(m, async () => assert.deepEqual(await m.readdir(ctx, e.inode, { plus }), [])), 1, 'an empty directory: one statement');
    }
    await assert.rejects(m.readdir(ctx, f.inode, {}), { code: 'ENOTDIR' });
    await assert.rejects(m.readdir(ctx, 987654, {}), { code: 'ENOENT' });
  } finally {
    await m.close();
  }
});

test("a setattr that changes nothing (tar's fchown to the file's owner) writes nothing", async () => {
  const m = await openMeta(`sqlite3://${join(dir, 'noop.db')}`);
  try {
    await m.init(newFormat({ name: 'noop', storage: `file://${join(dir, 'blocks-noop')}`, trashDays: 0 }));
    await m.load();
    await m.newSession({});
    const ctx = rootContext();
    const c = await m.create(ctx, 1, 'f', 0o600, 0);
    await m.release(ctx, c.inode);
    const { SET_GID, SET_MODE, SET_UID } = await import('../src/meta/types.js');
    const v0 = (await m.setattr(ctx, c.inode, SET_MODE, { mode: 0o600 })).version;
    // The same owner again: nothing changes, not even ctime, and no version (no changelog record) is used.
    const before = await m.getattr(ctx, c.inode);
    const n = await counted(m, () => m.setattr(ctx, c.inode, SET_UID | SET_GID, { uid: 0, gid: 0 }));
    const r = await m.setattr(ctx, c.inode, SET_MODE, { mode: 0o600 });
    assert.equal(r.version, v0, 'no version taken by the no-op changes');
    assert.deepEqual(await m.getattr(ctx, c.inode), before);
    // Before: the same writes as a real change (the node, the version counter, a changelog record).
    assert.ok(n <= 2, `no-op chown: ${n} statements (reads only)`);
    // A real change still writes and moves ctime.
    const chmod = await m.setattr(ctx, c.inode, SET_MODE, { mode: 0o644 });
    assert.ok(chmod.version > v0);
    assert.equal(chmod.attr.mode, 0o644);
  } finally {
    await m.close();
  }
});
