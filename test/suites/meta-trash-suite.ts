// The trash in the meta conformance suite (every engine): deletions move the last name of a file or
// directory into /.trash (hidden from readdir of /, space still counted), list shows the original paths,
// restore puts entries back (refusing a taken name unless forced), purge frees them, and a purge and a
// restore of one entry never both succeed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Meta } from '../../src/meta/interface.js';
import { newFormat } from '../../src/meta/format.js';
import { TRASH_INODE, TRASH_NAME } from '../../src/meta/trash-names.js';
import { ROOT_INODE, SET_MODE, type Context, rootContext } from '../../src/meta/types.js';
import { expectCode, listAll } from './meta-invariants.js';
import { restoreFromTrash } from '../../src/meta/trash-restore.js';

const ROOT = rootContext();
const USER: Context = { uid: 1000, gid: 1000, gids: [1000], pid: 1, checkPermission: true };

async function write(m: Meta, ino: number, len: number): Promise<void> {
  const id = await m.newSliceId();
  await m.writeSlice(ROOT, ino, 0, 0, { id, size: len, off: 0, len });
}

export function trashConformance(fresh: (format: ReturnType<typeof newFormat>) => Promise<Meta>): void {
  describe('trash', () => {
    let m: Meta;
    let n = 0;
    /** A scratch directory per test. */
    const scratch = async () => (await m.mkdir(ROOT, ROOT_INODE, `t${n++}`, 0o777)).inode;

    before(async () => {
      m = await fresh(newFormat({ name: 'trash', storage: 'mem://x', trashDays: 1 }));
    });
    after(async () => {
      await m?.close();
    });

    it('unlink moves a file to the trash: space and inode stay counted, the data is not queued for deletion', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'data.bin', 0o644, 0);
      await m.release(ROOT, f.inode);
      await write(m, f.inode, 10_000);
      const used = (await m.statfs(ROOT)).usedSpace;
      const inodes = (await m.statfs(ROOT)).usedInodes;
      await m.unlink(ROOT, d, 'data.bin');
      await expectCode(m.lookup(ROOT, d, 'data.bin'), 'ENOENT');
      assert.equal((await m.statfs(ROOT)).usedSpace, used);
      assert.equal((await m.statfs(ROOT)).usedInodes, inodes);
      assert.equal(await m.processDeletedFiles(100), 0, 'nothing queued');
      const item = (await m.trashList()).find((i) => i.inode === f.inode);
      assert.ok(item, 'listed');
      assert.equal(item.name, 'data.bin');
      assert.match(item.path, /^\/t\d+\/data\.bin$/);
      assert.equal(item.length, 10_000);
      assert.match(item.id, /^\d{4}-\d\d-\d\d-\d\d\/\d+-\d+-data\.bin$/);
      assert.ok(Math.abs(item.deletedAt - Date.now()) < 60_000);
      const a = await m.getattr(ROOT, f.inode);
      assert.equal(a.length, 10_000, 'the inode and its data live on');
    });

    it('/.trash is not listed in / but can be looked up, owned by root with mode 0700', async () => {
      assert.ok(!(await listAll(m, ROOT_INODE)).some((e) => e.name === TRASH_NAME));
      const t = await m.lookup(ROOT, ROOT_INODE, TRASH_NAME);
      assert.equal(t.inode, TRASH_INODE);
      assert.equal(t.attr.mode & 0o7777, 0o700);
      assert.equal(t.attr.uid, 0);
      await expectCode(m.readdir(USER, TRASH_INODE), 'EACCES');
      const hours = await listAll(m, TRASH_INODE);
      assert.ok(hours.length >= 1);
      assert.match(hours[0]!.name, /^\d{4}-\d\d-\d\d-\d\d$/);
    });

    it('nothing is created, changed, renamed or removed inside the trash by ordinary operations', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'victim', 0o644, 0);
      await m.release(ROOT, f.inode);
      await m.unlink(ROOT, d, 'victim');
      const item = (await m.trashList()).find((i) => i.inode === f.inode)!;
      const hour = (await m.lookup(ROOT, TRASH_INODE, item.hour)).inode;
      const entry = item.id.split('/')[1]!;
      await expectCode(m.unlink(ROOT, hour, entry), 'EPERM');
      await expectCode(m.mkdir(ROOT, hour, 'x', 0o755), 'EPERM');
      await expectCode(m.mkdir(ROOT, TRASH_INODE, 'x', 0o755), 'EPERM');
      await expectCode(m.rename(ROOT, hour, entry, d, 'back'), 'EPERM');
      await expectCode(m.setattr(ROOT, f.inode, SET_MODE, { mode: 0o600 }), 'EPERM');
      await expectCode(m.link(ROOT, f.inode, d, 'again'), 'EPERM');
      await expectCode(m.mkdir(ROOT, ROOT_INODE, TRASH_NAME, 0o755), 'EPERM');
    });

    it('restore puts an entry back under its name; a taken name is refused unless forced', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'a', 0o644, 0);
      await m.release(ROOT, f.inode);
      await write(m, f.inode, 123);
      await m.unlink(ROOT, d, 'a');
      const item = (await m.trashList()).find((i) => i.inode === f.inode)!;
      const g = await m.create(ROOT, d, 'a', 0o644, 0);
      await m.release(ROOT, g.inode);
      await expectCode(m.trashRestore(ROOT, item.id), 'EEXIST');
      await m.trashRestore(ROOT, item.id, { force: true });
      const back = await m.lookup(ROOT, d, 'a');
      assert.equal(back.inode, f.inode);
      assert.equal(back.attr.length, 123);
      assert.equal(back.attr.parent, d);
      // What the forced restore replaced went to the trash in its turn.
      assert.ok((await m.trashList()).some((i) => i.inode === g.inode));
      assert.ok(!(await m.trashList()).some((i) => i.inode === f.inode));
      await expectCode(m.trashRestore(ROOT, item.id), 'ENOENT');
    });

    it('rmdir and a rename that replaces a file send them to the trash; a directory is restored before its files', async () => {
      const d = await scratch();
      const sub = await m.mkdir(ROOT, d, 'sub', 0o755);
      const f = await m.create(ROOT, sub.inode, 'inner', 0o644, 0);
      await m.release(ROOT, f.inode);
      await m.unlink(ROOT, sub.inode, 'inner');
      await m.rmdir(ROOT, d, 'sub');
      const x = await m.create(ROOT, d, 'x', 0o644, 0);
      await m.release(ROOT, x.inode);
      const y = await m.create(ROOT, d, 'y', 0o644, 0);
      await m.release(ROOT, y.inode);
      await m.rename(ROOT, d, 'x', d, 'y');
      const items = await m.trashList();
      const inner = items.find((i) => i.inode === f.inode)!;
      const dir = items.find((i) => i.inode === sub.inode)!;
      const replaced = items.find((i) => i.inode === y.inode)!;
      assert.match(inner.path, /^\/t\d+\/sub\/inner$/, 'the path goes through the deleted directory');
      assert.match(dir.path, /^\/t\d+\/sub$/);
      assert.match(replaced.path, /^\/t\d+\/y$/);
      await expectCode(m.trashRestore(ROOT, inner.id), 'ENOENT'); // its directory is in the trash
      await m.trashRestore(ROOT, dir.id);
      await m.trashRestore(ROOT, inner.id);
      const back = await m.lookup(ROOT, sub.inode, 'inner');
      assert.equal(back.inode, f.inode);
      assert.equal((await m.getattr(ROOT, d)).nlink, 3, 'the parent counts the restored directory');
    });

    it('restore into another directory; a directory in the trash or a file cannot receive it', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'moved', 0o644, 0);
      await m.release(ROOT, f.inode);
      await write(m, f.inode, 77);
      await m.unlink(ROOT, d, 'moved');
      const other = (await m.mkdir(ROOT, d, 'other', 0o755)).inode;
      const gone = (await m.mkdir(ROOT, d, 'gone', 0o755)).inode;
      await m.rmdir(ROOT, d, 'gone');
      const plain = await m.create(ROOT, d, 'plain', 0o644, 0);
      await m.release(ROOT, plain.inode);
      const item = (await m.trashList()).find((i) => i.inode === f.inode)!;
      await expectCode(m.trashRestore(ROOT, item.id, { into: gone }), 'ENOENT');
      await expectCode(m.trashRestore(ROOT, item.id, { into: plain.inode }), 'ENOTDIR');
      await m.trashRestore(ROOT, item.id, { into: other });
      const back = await m.lookup(ROOT, other, 'moved');
      assert.equal(back.inode, f.inode);
      assert.equal(back.attr.length, 77);
      assert.equal(back.attr.parent, other);
      await expectCode(m.lookup(ROOT, d, 'moved'), 'ENOENT');
    });

    it('restoring a file deleted with its directories rebuilds them from the trash; a directory that took the path again receives the entries', async () => {
      const d = await scratch();
      const a = (await m.mkdir(ROOT, d, 'a', 0o750)).inode;
      const b = (await m.mkdir(ROOT, a, 'b', 0o755)).inode;
      const f = await m.create(ROOT, b, 'f', 0o644, 0);
      await m.release(ROOT, f.inode);
      await write(m, f.inode, 5);
      const g = await m.create(ROOT, b, 'g', 0o644, 0);
      await m.release(ROOT, g.inode);
      for (const [p, n] of [[b, 'f'], [b, 'g']] as const) await m.unlink(ROOT, p, n);
      await m.rmdir(ROOT, a, 'b');
      await m.rmdir(ROOT, d, 'a');
      let all = await m.trashList();
      const fi = all.find((i) => i.inode === f.inode)!;
      const r = await restoreFromTrash(m, ROOT, all, [fi]);
      assert.deepEqual(r.failed, []);
      assert.deepEqual(r.rebuilt.map((i) => i.inode).sort(), [a, b].sort(), 'a and b came back from the trash');
      assert.equal((await m.lookup(ROOT, d, 'a')).attr.mode & 0o777, 0o750, 'the rebuilt directory is the original one');
      assert.equal((await m.lookup(ROOT, b, 'f')).attr.length, 5);
      await expectCode(m.lookup(ROOT, b, 'g'), 'ENOENT'); // not chosen
      // b deleted again, a new b made in its place: restoring g goes into the new one.
      await m.unlink(ROOT, b, 'f');
      await m.rmdir(ROOT, a, 'b');
      const nb = (await m.mkdir(ROOT, a, 'b', 0o755)).inode;
      all = await m.trashList();
      const gi = all.find((i) => i.inode === g.inode)!;
      const r2 = await restoreFromTrash(m, ROOT, all, [gi]);
      assert.deepEqual(r2.failed, []);
      assert.deepEqual(r2.merged.map((i) => i.inode), [b]);
      assert.equal((await m.lookup(ROOT, nb, 'g')).inode, g.inode);
    });

    it('an entry whose directory is gone for good is reported and goes where it is told', async () => {
      const d = await scratch();
      const lost = (await m.mkdir(ROOT, d, 'lost', 0o755)).inode;
      const f = await m.create(ROOT, lost, 'orphan', 0o644, 0);
      await m.release(ROOT, f.inode);
      await m.unlink(ROOT, lost, 'orphan');
      await m.rmdir({ ...ROOT, skipTrash: true }, d, 'lost'); // freed, not kept
      const all = await m.trashList();
      const item = all.find((i) => i.inode === f.inode)!;
      assert.match(item.path, /^\?\d+\/orphan$/);
      const r = await restoreFromTrash(m, ROOT, all, [item]);
      assert.equal(r.failed.length, 1);
      assert.match(r.failed[0]!.message, /gone for good.*--into/);
      const r2 = await restoreFromTrash(m, ROOT, all, [item], { into: d });
      assert.deepEqual(r2.failed, []);
      assert.equal((await m.lookup(ROOT, d, 'orphan')).inode, f.inode);
    });

    it('a hard-linked file loses a name without going to the trash; its last name does go', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'one', 0o644, 0);
      await m.release(ROOT, f.inode);
      await m.link(ROOT, f.inode, d, 'two');
      await m.unlink(ROOT, d, 'one');
      assert.ok(!(await m.trashList()).some((i) => i.inode === f.inode));
      await m.unlink(ROOT, d, 'two');
      assert.ok((await m.trashList()).some((i) => i.inode === f.inode && i.name === 'two'));
    });

    it('purge frees entries and their space; a restore after it finds nothing, a purge after a restore frees nothing', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'p', 0o644, 0);
      await m.release(ROOT, f.inode);
      await write(m, f.inode, 5000);
      const g = await m.create(ROOT, d, 'q', 0o644, 0);
      await m.release(ROOT, g.inode);
      await m.unlink(ROOT, d, 'p');
      await m.unlink(ROOT, d, 'q');
      const items = await m.trashList();
      const p = items.find((i) => i.inode === f.inode)!;
      const q = items.find((i) => i.inode === g.inode)!;
      await m.trashRestore(ROOT, q.id);
      const before = await m.statfs(ROOT);
      const r = await m.trashPurge();
      assert.ok(r.entries >= 1);
      await expectCode(m.getattr(ROOT, f.inode), 'ENOENT');
      await expectCode(m.trashRestore(ROOT, p.id), 'ENOENT');
      assert.ok((await m.processDeletedFiles(100)) >= 1, 'the purged file data is queued');
      const after = await m.statfs(ROOT);
      assert.ok(after.usedSpace < before.usedSpace);
      assert.ok(after.usedInodes < before.usedInodes);
      assert.equal((await m.lookup(ROOT, d, 'q')).inode, g.inode, 'the restored file stayed');
      assert.deepEqual(await m.trashList(), []);
      assert.deepEqual(await listAll(m, TRASH_INODE), [], 'empty hours are removed');
    });

    it('purge by age keeps the hours not yet expired; the expiry job takes a lease so one client purges at a time', async () => {
      const d = await scratch();
      const f = await m.create(ROOT, d, 'young', 0o644, 0);
      await m.release(ROOT, f.inode);
      await m.unlink(ROOT, d, 'young');
      assert.deepEqual(await m.trashPurge({ before: Date.now() - 3_600_000 }), { entries: 0, hours: 0 });
      assert.deepEqual(await m.trashPurgeExpired(), { entries: 0, hours: 0 });
      assert.equal(await m.trashPurgeExpired(), undefined, 'the lease is held');
      // A day and a bit later the entry expires (the lease has run out by then too).
      const later = Date.now() + 25 * 3_600_000;
      assert.deepEqual(await m.trashPurgeExpired(later), { entries: 1, hours: 1 });
    });

    it('with trash off, deletions free at once', async () => {
      await m.updateFormat({ trashDays: 0 });
      try {
        const d = await scratch();
        const f = await m.create(ROOT, d, 'gone', 0o644, 0);
        await m.release(ROOT, f.inode);
        await m.unlink(ROOT, d, 'gone');
        await expectCode(m.getattr(ROOT, f.inode), 'ENOENT');
        assert.ok(!(await m.trashList()).some((i) => i.inode === f.inode));
      } finally {
        await m.updateFormat({ trashDays: 1 });
      }
    });
  });
}
