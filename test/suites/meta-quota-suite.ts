// Directory quotas in the meta conformance suite (every engine): usage kept in the transaction of each
// change (creates, writes, truncates, links, unlinks, renames between quotas, trash restores), EDQUOT
// before anything is written, nested quotas, statfs under a quota, `/` as the volume-wide limit, and a
// check that recounts by a walk and repairs drift.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Meta } from '../../src/meta/interface.js';
import { newFormat } from '../../src/meta/format.js';
import { ROOT_INODE, SET_SIZE, TYPE_FILE, rootContext, type Format, type QuotaInfo } from '../../src/meta/types.js';
import { expectCode } from './meta-invariants.js';

const ROOT = rootContext();
const KIB = 1024;

async function write(m: Meta, ino: number, off: number, len: number): Promise<void> {
  const id = await m.newSliceId();
  await m.writeSlice(ROOT, ino, Math.floor(off / (64 << 20)), off % (64 << 20), { id, size: len, off: 0, len });
}

const used = (q: QuotaInfo) => [q.usedSpace, q.usedInodes];

export function quotaConformance(fresh: (format: Format) => Promise<Meta>): void {
  describe('directory quotas', () => {
    let m: Meta;
    let n = 0;
    /** A scratch directory per test: its inode and path. */
    const scratch = async () => {
      const name = `q${n++}`;
      return { ino: (await m.mkdir(ROOT, ROOT_INODE, name, 0o777)).inode, path: `/${name}` };
    };
    const file = async (dir: number, name: string, len = 0) => {
      const ino = (await m.mknod(ROOT, dir, name, TYPE_FILE, 0o644)).inode;
      if (len) await write(m, ino, 0, len);
      return ino;
    };
    const get = (path: string) => m.quotaGet(ROOT, path);

    before(async () => {
      m = await fresh(newFormat({ name: 'quota', storage: 'mem://x', trashDays: 0 }));
    });
    after(async () => {
      await m?.close();
    });

    it('a new quota starts from what the tree holds, and counts every change under it', async () => {
      const d = await scratch();
      const sub = (await m.mkdir(ROOT, d.ino, 'sub', 0o755)).inode;
      await file(sub, 'a', 10_000);
      await m.symlink(ROOT, d.ino, 'l', 'a-target');
      const q = await m.quotaSet(ROOT, d.path, { capacity: 1 << 20, inodes: 100 });
      assert.deepEqual(q, { path: d.path, inode: d.ino, capacity: 1 << 20, inodes: 100, usedSpace: 4096 + 12288 + 4096, usedInodes: 3 });
      const f = await file(d.ino, 'b', 5000);
      assert.deepEqual(used(await get(d.path)), [20480 + 8192, 4]);
      await m.truncate(ROOT, f, 20_000);
      assert.deepEqual(used(await get(d.path)), [20480 + 20480, 4]);
      await m.setattr(ROOT, f, SET_SIZE, { length: 100 });
      assert.deepEqual(used(await get(d.path)), [20480 + 4096, 4]);
      await m.fallocate(ROOT, f, 0, 0, 3 * 4096);
      await m.copyFileRange(ROOT, f, 0, await file(d.ino, 'c'), 0, 3 * 4096);
      assert.deepEqual(used(await get(d.path)), [20480 + 2 * 12288, 5]);
      await m.unlink(ROOT, d.ino, 'c');
      await m.unlink(ROOT, d.ino, 'b');
      await m.unlink(ROOT, sub, 'a');
      await m.rmdir(ROOT, d.ino, 'sub');
      await m.unlink(ROOT, d.ino, 'l');
      assert.deepEqual(used(await get(d.path)), [0, 0]);
      assert.ok((await m.quotaList()).some((x) => x.inode === d.ino && x.path === d.path));
      assert.deepEqual((await m.quotaCheck(ROOT, { path: d.path }))[0]!.walkedSpace, 0);
    });

    it('refuses creates past the inode limit and growth past the capacity with EDQUOT, writing nothing', async () => {
      const d = await scratch();
      await m.quotaSet(ROOT, d.path, { capacity: 64 * KIB, inodes: 3 });
      const f = await file(d.ino, 'f', 52 * KIB);
      await m.mkdir(ROOT, d.ino, 'dir', 0o755);
      await m.symlink(ROOT, d.ino, 's', 'x');
      await expectCode(m.mknod(ROOT, d.ino, 'x', TYPE_FILE, 0o644), 'EDQUOT');
      await expectCode(m.mkdir(ROOT, d.ino, 'x', 0o755), 'EDQUOT');
      await expectCode(m.create(ROOT, d.ino, 'x', 0o644, 0), 'EDQUOT');
      await m.quotaSet(ROOT, d.path, { inodes: 0 });
      // A write crossing the limit is refused whole: the file keeps its length, the usage is unchanged.
      const before = await get(d.path);
      await expectCode(write(m, f, 52 * KIB, 8 * KIB), 'EDQUOT');
      await expectCode(m.truncate(ROOT, f, 128 * KIB), 'EDQUOT');
      await expectCode(m.setattr(ROOT, f, SET_SIZE, { length: 128 * KIB }), 'EDQUOT');
      await expectCode(m.fallocate(ROOT, f, 0, 0, 128 * KIB), 'EDQUOT');
      const g = await file(d.ino, 'g');
      await expectCode(m.copyFileRange(ROOT, f, 0, g, 0, 52 * KIB), 'EDQUOT');
      assert.equal((await m.getattr(ROOT, f)).length, 52 * KIB);
      assert.equal((await m.getattr(ROOT, g)).length, 0);
      assert.deepEqual(used(await get(d.path)), [before.usedSpace, before.usedInodes + 1]);
      // Rewriting inside the file does not grow it, and freeing space makes room again.
      await write(m, f, 0, 4 * KIB);
      await m.truncate(ROOT, f, 0);
      await write(m, g, 0, 52 * KIB);
    });

    it('nested quotas each count what is under them; the tighter one refuses', async () => {
      const d = await scratch();
      const inner = (await m.mkdir(ROOT, d.ino, 'inner', 0o755)).inode;
      await m.quotaSet(ROOT, d.path, { capacity: 1 << 20 });
      await m.quotaSet(ROOT, `${d.path}/inner`, { capacity: 16 * KIB });
      const f = await file(inner, 'f', 16 * KIB);
      await expectCode(write(m, f, 16 * KIB, 1), 'EDQUOT');
      await file(d.ino, 'outside-inner', 100 * KIB);
      assert.deepEqual(used(await get(`${d.path}/inner`)), [16 * KIB, 1]);
      assert.deepEqual(used(await get(d.path)), [4096 + 16 * KIB + 100 * KIB, 3]);
      await expectCode(file(d.ino, 'big', 1 << 20), 'EDQUOT');
    });

    it('renames move usage between quotas, refuse a full destination, and keep it within one', async () => {
      const a = await scratch();
      const b = await scratch();
      await m.quotaSet(ROOT, a.path, { capacity: 1 << 20 });
      await m.quotaSet(ROOT, b.path, { capacity: 64 * KIB, inodes: 10 });
      await file(a.ino, 'f', 10 * KIB);
      const tree = (await m.mkdir(ROOT, a.ino, 'tree', 0o755)).inode;
      await file(tree, 'x', 4 * KIB);
      await file(tree, 'y', 4 * KIB);
      await m.rename(ROOT, a.ino, 'f', a.ino, 'g');
      assert.deepEqual(used(await get(a.path)), [12 * KIB + 4 * KIB + 8 * KIB, 4]);
      await m.rename(ROOT, a.ino, 'g', b.ino, 'g');
      await m.rename(ROOT, a.ino, 'tree', b.ino, 'tree');
      assert.deepEqual(used(await get(a.path)), [0, 0]);
      assert.deepEqual(used(await get(b.path)), [12 * KIB + 4 * KIB + 8 * KIB, 4]);
      // Too big for b: refused, nothing moves.
      await file(a.ino, 'big', 48 * KIB);
      await expectCode(m.rename(ROOT, a.ino, 'big', b.ino, 'big'), 'EDQUOT');
      assert.deepEqual(used(await get(a.path)), [48 * KIB, 1]);
      // Out of every quota, and a file replaced by a rename leaves its quota.
      await m.rename(ROOT, b.ino, 'g', ROOT_INODE, `${b.path.slice(1)}-g`);
      assert.deepEqual(used(await get(b.path)), [4 * KIB + 8 * KIB, 3]);
      await file(b.ino, 'old', 8 * KIB);
      await file(a.ino, 'new', 4 * KIB);
      await m.rename(ROOT, a.ino, 'new', b.ino, 'old');
      assert.deepEqual(used(await get(b.path)), [16 * KIB, 4]);
      // A quota'd directory moves with its own usage.
      const c = (await m.mkdir(ROOT, a.ino, 'c', 0o755)).inode;
      await m.quotaSet(ROOT, `${a.path}/c`, { inodes: 5 });
      await file(c, 'z', 4 * KIB);
      await m.rename(ROOT, a.ino, 'c', b.ino, 'c');
      assert.deepEqual(used(await get(b.path)), [16 * KIB + 8 * KIB, 6]);
      assert.equal((await m.quotaList()).find((q) => q.inode === c)!.path, `${b.path}/c`);
      // A new directory where it was is another one: the quota stays with the directory it was set on.
      await m.mkdir(ROOT, a.ino, 'c', 0o755);
      assert.equal((await m.quotaList()).find((q) => q.inode === c)!.path, `${b.path}/c`);
      const checks = await m.quotaCheck(ROOT, {});
      for (const q of checks) assert.deepEqual([q.walkedSpace, q.walkedInodes], [q.usedSpace, q.usedInodes], q.path);
    });

    it('each name of a hard-linked file counts where it is', async () => {
      const a = await scratch();
      const b = await scratch();
      await m.quotaSet(ROOT, a.path, { inodes: 10 });
      await m.quotaSet(ROOT, b.path, { capacity: 16 * KIB });
      const f = await file(a.ino, 'f', 8 * KIB);
      await m.link(ROOT, f, b.ino, 'f');
      await m.link(ROOT, f, a.ino, 'f2');
      assert.deepEqual(used(await get(a.path)), [16 * KIB, 2]);
      assert.deepEqual(used(await get(b.path)), [8 * KIB, 1]);
      await write(m, f, 8 * KIB, 4 * KIB);
      assert.deepEqual(used(await get(a.path)), [24 * KIB, 2]);
      assert.deepEqual(used(await get(b.path)), [12 * KIB, 1]);
      await expectCode(write(m, f, 12 * KIB, 8 * KIB), 'EDQUOT');
      await expectCode(m.link(ROOT, await file(a.ino, 'big', 8 * KIB), b.ino, 'big'), 'EDQUOT');
      await m.unlink(ROOT, a.ino, 'f2');
      assert.deepEqual(used(await get(a.path)), [12 * KIB + 8 * KIB, 2]);
      const checks = await m.quotaCheck(ROOT, {});
      for (const q of checks) assert.deepEqual([q.walkedSpace, q.walkedInodes], [q.usedSpace, q.usedInodes], q.path);
    });

    it('statfs at or under a quota reports the quota as size and its room as free space', async () => {
      const d = await scratch();
      const sub = (await m.mkdir(ROOT, d.ino, 'sub', 0o755)).inode;
      const f = await file(sub, 'f', 100 * KIB);
      const vol = await m.statfs(ROOT);
      await m.quotaSet(ROOT, d.path, { capacity: 1 << 20, inodes: 50 });
      for (const ino of [d.ino, sub, f]) {
        const st = await m.statfs(ROOT, ino);
        assert.equal(st.totalSpace, 1 << 20);
        assert.equal(st.usedSpace, 4096 + 100 * KIB);
        assert.equal(st.availSpace, (1 << 20) - 4096 - 100 * KIB);
        assert.equal(st.usedInodes, 2);
        assert.equal(st.availInodes, 48);
      }
      const rootSt = await m.statfs(ROOT, ROOT_INODE);
      assert.equal(rootSt.totalSpace, vol.totalSpace);
      // Only an inode limit: the space figures stay the volume's.
      await m.quotaSet(ROOT, d.path, { capacity: 0 });
      assert.equal((await m.statfs(ROOT, d.ino)).totalSpace, (await m.statfs(ROOT)).totalSpace);
      assert.equal((await m.statfs(ROOT, d.ino)).availInodes, 48);
    });

    it('/ is the volume-wide capacity and inode limit (ENOSPC)', async () => {
      const d = await scratch();
      const st = await m.statfs(ROOT);
      await m.quotaSet(ROOT, '/', { capacity: st.usedSpace + 8 * KIB, inodes: st.usedInodes + 2 });
      const q = await get('/');
      assert.deepEqual([q.inode, q.capacity, q.inodes, q.usedSpace, q.usedInodes], [ROOT_INODE, st.usedSpace + 8 * KIB, st.usedInodes + 2, st.usedSpace, st.usedInodes]);
      assert.equal((await m.quotaList())[0]!.path, '/');
      const f = await file(d.ino, 'f', 8 * KIB);
      await expectCode(write(m, f, 8 * KIB, 1), 'ENOSPC');
      await file(d.ino, 'g');
      await expectCode(file(d.ino, 'h'), 'ENOSPC');
      await m.quotaDelete(ROOT, '/');
      await file(d.ino, 'h', 8 * KIB);
      assert.ok(!(await m.quotaList()).some((x) => x.path === '/'));
      const [vol] = await m.quotaCheck(ROOT, { path: '/' });
      assert.deepEqual([vol!.walkedSpace, vol!.walkedInodes], [vol!.usedSpace, vol!.usedInodes]);
    });

    it('check finds drift and repair sets the usage to what a walk counts; delete drops the quota', async () => {
      const d = await scratch();
      await file(d.ino, 'a', 4 * KIB);
      await m.quotaSet(ROOT, d.path, { inodes: 100 });
      // A client that did not know of the quota (its format record edited behind it) changes the tree.
      const saved = (await m.load()).quotas!;
      await m.updateFormat({ quotas: {} });
      await file(d.ino, 'b', 8 * KIB);
      await m.updateFormat({ quotas: saved });
      const [c] = await m.quotaCheck(ROOT, { path: d.path });
      assert.deepEqual([c!.usedSpace, c!.usedInodes, c!.walkedSpace, c!.walkedInodes, c!.repaired], [4096, 1, 12 * KIB, 2, false]);
      const [r] = await m.quotaCheck(ROOT, { path: d.path, repair: true });
      assert.equal(r!.repaired, true);
      assert.deepEqual(used(await get(d.path)), [12 * KIB, 2]);
      await m.quotaDelete(ROOT, d.path);
      await expectCode(get(d.path), 'ENOENT');
      await file(d.ino, 'c', 4 * KIB);
      assert.ok(!(await m.quotaList()).some((x) => x.inode === d.ino));
    });

    it('a quota of a deleted directory is reported by check and dropped by repair', async () => {
      const d = await scratch();
      const sub = (await m.mkdir(ROOT, d.ino, 'gone', 0o755)).inode;
      await m.quotaSet(ROOT, `${d.path}/gone`, { inodes: 3 });
      await m.rmdir(ROOT, d.ino, 'gone');
      assert.match((await m.quotaList()).find((q) => q.inode === sub)!.path, /\(deleted\)$/);
      await m.quotaCheck(ROOT, { repair: true });
      assert.ok(!(await m.quotaList()).some((q) => q.inode === sub));
    });

    it('bad requests get one clear error each', async () => {
      const d = await scratch();
      await file(d.ino, 'f');
      await expectCode(m.quotaSet(ROOT, `${d.path}/f`, { inodes: 1 }), 'ENOTDIR');
      await expectCode(m.quotaSet(ROOT, `${d.path}/missing`, { inodes: 1 }), 'ENOENT');
      await expectCode(m.quotaSet(ROOT, 'relative', { inodes: 1 }), 'EINVAL');
      await expectCode(m.quotaSet(ROOT, d.path, {}), 'EINVAL');
      await expectCode(m.quotaSet(ROOT, d.path, { capacity: -1 }), 'EINVAL');
      await expectCode(m.quotaGet(ROOT, d.path), 'ENOENT');
      await expectCode(m.quotaDelete(ROOT, d.path), 'ENOENT');
      await expectCode(m.quotaSet(ROOT, '/.trash', { inodes: 1 }), 'EPERM', 'ENOENT');
    });
  });

  describe('directory quotas with the trash on', () => {
    let m: Meta;
    before(async () => {
      m = await fresh(newFormat({ name: 'quota-trash', storage: 'mem://x', trashDays: 1 }));
    });
    after(async () => {
      await m?.close();
    });

    it('a deleted file leaves its directory quota at once (the volume keeps counting it until purge); restore brings it back', async () => {
      const d = (await m.mkdir(ROOT, ROOT_INODE, 'team', 0o777)).inode;
      await m.quotaSet(ROOT, '/team', { capacity: 16 * KIB, inodes: 2 });
      const f = (await m.mknod(ROOT, d, 'f', TYPE_FILE, 0o644)).inode;
      await write(m, f, 0, 12 * KIB);
      const vol = await m.statfs(ROOT);
      await m.unlink(ROOT, d, 'f');
      assert.deepEqual(used(await m.quotaGet(ROOT, '/team')), [0, 0]);
      assert.equal((await m.statfs(ROOT)).usedSpace, vol.usedSpace);
      const item = (await m.trashList()).find((i) => i.inode === f)!;
      // The room it left is taken meanwhile: the restore does not fit.
      const g = (await m.mknod(ROOT, d, 'g', TYPE_FILE, 0o644)).inode;
      await write(m, g, 0, 8 * KIB);
      await expectCode(m.trashRestore(ROOT, item.id), 'EDQUOT');
      await m.unlink(ROOT, d, 'g');
      await m.trashRestore(ROOT, item.id);
      assert.deepEqual(used(await m.quotaGet(ROOT, '/team')), [12 * KIB, 1]);
      const [c] = await m.quotaCheck(ROOT, { path: '/team' });
      assert.deepEqual([c!.walkedSpace, c!.walkedInodes], [c!.usedSpace, c!.usedInodes]);
    });
  });
}
