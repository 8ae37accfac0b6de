// Clones (`ferry clone`) in the meta conformance suite (every engine): a file or a tree copied as metadata
// only — the copy lists the source's slices, each piece one more reference — with attributes (the caller's,
// or kept with preserve), xattrs, symlinks and the tree's hard links; later writes, truncates and deletes of
// either side never change the other; a shared slice is freed only with its last reference; refusals
// (taken name, a tree into itself, no read permission, no room) leave nothing behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newFormat } from '../../src/meta/format.js';
import type { Meta } from '../../src/meta/interface.js';
import { ROOT_INODE, SET_ATIME, SET_MTIME, TYPE_DIRECTORY, rootContext, userContext, type Format } from '../../src/meta/types.js';
import { checkInvariants, codeOf, fileBytes, listAll } from './meta-invariants.js';

const ROOT = rootContext();
const alice = userContext(1001, 1001);
const MiB = 1 << 20;

export function cloneConformance(fresh: (format: Format) => Promise<Meta>): void {
  describe('clone', () => {
    let m: Meta;
    let inodeBase = 0;
    let n = 0;
    const scratch = async () => (await m.mkdir(ROOT, ROOT_INODE, `c${n++}`, 0o777)).inode;

    before(async () => {
      m = await fresh(newFormat({ name: 'clone', storage: 'mem://x', trashDays: 0 }));
      inodeBase = (await m.statfs(ROOT)).usedInodes - 1;
    });
    after(async () => {
      await m?.close();
    });

    /** A file of `len` bytes (one slice per chunk) owned by alice; returns its inode and slice ids. */
    async function file(dir: number, name: string, len: number): Promise<{ ino: number; ids: number[] }> {
      const f = await m.create(alice, dir, name, 0o640, 0);
      await m.release(alice, f.inode);
      const ids: number[] = [];
      for (let off = 0; off < len; off += 64 * MiB) {
        const id = await m.newSliceId();
        const l = Math.min(64 * MiB, len - off);
        await m.writeSlice(alice, f.inode, off / (64 * MiB), 0, { id, size: l, off: 0, len: l });
        ids.push(id);
      }
      return { ino: f.inode, ids };
    }
    const refs = async (id: number) => {
      for await (const r of m.scanSliceRefs()) if (r.id === id) return r.refs;
      return 0;
    };
    const pendingIds = async () => (await m.pendingDeletedSlices(10_000)).map((s) => s.id);

    it('a file: the same slices with one more reference each, attributes, xattrs, space and inodes counted', async () => {
      const d = await scratch();
      const src = await file(d, 'a', 70 * MiB);
      await m.setxattr(alice, src.ino, 'user.tag', Buffer.from('x'));
      const before = await m.statfs(ROOT);
      const c = await m.clone(ROOT, src.ino, d, 'b');
      assert.equal(c.inodes, 1);
      assert.equal(c.bytes, 70 * MiB);
      for (const id of src.ids) assert.equal(await refs(id), 2, `slice ${id} shared`);
      const offsets = [0, 1, 64 * MiB - 1, 64 * MiB, 70 * MiB - 1];
      assert.deepEqual(await fileBytes(m, c.inode, offsets), await fileBytes(m, src.ino, offsets));
      const a = await m.getattr(ROOT, c.inode);
      assert.equal(a.length, 70 * MiB);
      assert.equal(a.uid, 0, 'owned by the caller without preserve');
      assert.equal(a.nlink, 1);
      assert.equal((await m.getxattr(ROOT, c.inode, 'user.tag')).toString(), 'x');
      const now = await m.statfs(ROOT);
      assert.equal(now.usedSpace - before.usedSpace, 70 * MiB, 'the copy is counted like a copy');
      assert.equal(now.usedInodes - before.usedInodes, 1);
      await checkInvariants(m, { inodeBase });
    });

    it('preserve keeps owner, mode and times; without it the caller owns the copy, the umask applies, times are now', async () => {
      const d = await scratch();
      const src = await file(d, 'a', 10);
      await m.setattr(ROOT, src.ino, SET_ATIME | SET_MTIME, { atime: 1000, mtime: 2000 });
      const sa = await m.getattr(ROOT, src.ino);
      const kept = await m.clone(ROOT, src.ino, d, 'kept', { preserve: true });
      assert.deepEqual([kept.attr.uid, kept.attr.gid, kept.attr.mode, kept.attr.mtime, kept.attr.atime], [sa.uid, sa.gid, sa.mode, 2000, 1000]);
      const mine = await m.clone({ ...alice, uid: 1002, gid: 1002, gids: [1002], umask: 0o027 }, src.ino, ROOT_INODE, `mine${n}`).catch((e) => e);
      assert.equal(mine.code, 'EACCES', 'another user may not read it');
      const own = await m.clone({ ...alice, umask: 0o077 }, src.ino, d, 'own');
      assert.equal(own.attr.uid, 1001);
      assert.equal(own.attr.mode & 0o777, 0o600);
      assert.ok(own.attr.mtime > 2000);
    });

    it('later writes, truncates and deletes of either side never change the other; the last reference frees a slice', async () => {
      const d = await scratch();
      const src = await file(d, 'a', 8192);
      const c = await m.clone(ROOT, src.ino, d, 'b');
      const orig = await fileBytes(m, src.ino, [0, 4096, 8191]);
      // Overwrite the copy's start, truncate the source.
      const id = await m.newSliceId();
      await m.writeSlice(ROOT, c.inode, 0, 0, { id, size: 100, off: 0, len: 100 });
      await m.truncate(ROOT, src.ino, 10);
      assert.deepEqual(await fileBytes(m, c.inode, [0, 99, 100, 8191]), [`${id}@0`, `${id}@99`, ...(orig.slice(0, 1).map(() => `${src.ids[0]}@100`)), orig[2]]);
      assert.equal((await m.getattr(ROOT, c.inode)).length, 8192);
      assert.deepEqual(await fileBytes(m, src.ino, [0, 9]), [orig[0], `${src.ids[0]}@9`]);
      assert.equal((await m.getattr(ROOT, src.ino)).length, 10);
      // The source goes: its slice stays for the copy.
      await m.unlink(ROOT, d, 'a');
      while ((await m.processDeletedFiles(100)) > 0);
      assert.ok(!(await pendingIds()).includes(src.ids[0]!), 'still referenced by the copy');
      assert.equal(await refs(src.ids[0]!), 1);
      await m.unlink(ROOT, d, 'b');
      while ((await m.processDeletedFiles(100)) > 0);
      assert.ok((await pendingIds()).includes(src.ids[0]!), 'freed with its last reference');
      assert.ok((await pendingIds()).includes(id));
    });

    it('a tree: directories, files, symlinks, xattrs and hard links inside it, placed at its name only at the end', async () => {
      const d = await scratch();
      const t = (await m.mkdir(alice, d, 'tree', 0o750)).inode;
      const sub = (await m.mkdir(alice, t, 'sub', 0o700)).inode;
      await m.mkdir(alice, sub, 'empty', 0o755);
      const a = await file(t, 'a', 5000);
      await file(sub, 'b', 3);
      await m.symlink(alice, sub, 'ln', '../a');
      await m.link(alice, a.ino, sub, 'a-again');
      await m.setxattr(alice, sub, 'user.dir', Buffer.from('d'));
      // Enough entries for several batches.
      for (let i = 0; i < 150; i++) await m.mknod(alice, t, `n${String(i).padStart(3, '0')}`, 1, 0o644);
      const c = await m.clone(alice, t, d, 'copy', { preserve: true });
      assert.equal(c.inodes, 1 + 1 + 1 + 1 + 1 + 1 + 150, 'one inode per source inode (the hard link is one)');
      assert.equal(c.bytes, 5003);
      const names = (await listAll(m, d)).map((e) => e.name).sort();
      assert.deepEqual(names, ['copy', 'tree'], 'no hidden directory left');
      const ca = await m.lookup(ROOT, c.inode, 'a');
      const cs = await m.lookup(ROOT, c.inode, 'sub');
      const again = await m.lookup(ROOT, cs.inode, 'a-again');
      assert.equal(again.inode, ca.inode, 'the hard link is a hard link of the copy');
      assert.notEqual(ca.inode, a.ino);
      assert.equal(ca.attr.nlink, 2);
      assert.equal(await m.readlink(ROOT, (await m.lookup(ROOT, cs.inode, 'ln')).inode), '../a');
      assert.equal((await m.getxattr(ROOT, cs.inode, 'user.dir')).toString(), 'd');
      assert.equal(cs.attr.mode & 0o7777, 0o700);
      assert.equal(cs.attr.uid, 1001);
      assert.equal((await m.lookup(ROOT, cs.inode, 'empty')).attr.type, TYPE_DIRECTORY);
      assert.equal((await listAll(m, c.inode)).length, 152);
      assert.equal(await refs(a.ids[0]!), 2);
      await checkInvariants(m, { inodeBase });
      // Writing into the copy's hard link leaves the source's file alone.
      const id = await m.newSliceId();
      await m.writeSlice(ROOT, again.inode, 0, 0, { id, size: 1, off: 0, len: 1 });
      assert.deepEqual(await fileBytes(m, a.ino, [0]), [`${a.ids[0]}@0`]);
      assert.deepEqual(await fileBytes(m, ca.inode, [0]), [`${id}@0`]);
    });

    it('refusals: a taken name, a tree into itself, a missing source, no room — leaving nothing behind', async () => {
      const d = await scratch();
      const t = (await m.mkdir(ROOT, d, 'tree', 0o777)).inode;
      const f = await file(t, 'f', 10);
      await m.mkdir(ROOT, d, 'taken', 0o755);
      assert.equal(await codeOf(m.clone(ROOT, t, d, 'taken')), 'EEXIST');
      assert.equal(await codeOf(m.clone(ROOT, f.ino, d, 'taken')), 'EEXIST');
      assert.equal(await codeOf(m.clone(ROOT, t, t, 'inner')), 'EINVAL');
      assert.equal(await codeOf(m.clone(ROOT, d, t, 'inner')), 'EINVAL');
      assert.equal(await codeOf(m.clone(ROOT, 9_999_999, d, 'x')), 'ENOENT');
      assert.equal(await codeOf(m.clone(ROOT, f.ino, d, 'a/b')), 'EINVAL');
      // No room for the tree's file: the half-made copy is removed.
      for (let i = 0; i < 3; i++) await m.mknod(ROOT, t, `x${i}`, 1, 0o644);
      const st = await m.statfs(ROOT);
      await m.updateFormat({ inodes: st.usedInodes + 3 });
      assert.equal(await codeOf(m.clone(ROOT, t, d, 'full')), 'ENOSPC');
      await m.updateFormat({ inodes: 0 });
      assert.deepEqual((await listAll(m, d)).map((e) => e.name).sort(), ['taken', 'tree']);
      assert.equal((await m.statfs(ROOT)).usedInodes, st.usedInodes);
      await checkInvariants(m, { inodeBase });
    });
  });
}
