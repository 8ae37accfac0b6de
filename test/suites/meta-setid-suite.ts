// setuid/setgid in the meta conformance suite: a write, truncate, fallocate or copy by a caller other than root
// clears them in the same transaction (setgid when group-execute is on or the caller is not in the file's
// group), chown clears them even by root, and SET_CLEAR_SETID (the FUSE kernel's kill request) clears them
// for anyone who may write. The rules are Linux's (setattr_should_drop_suidgid, chown_common, 6.2 and later).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Meta } from '../../src/meta/interface.js';
import {
  FALLOC_KEEP_SIZE,
  ROOT_INODE,
  SET_CLEAR_SETID,
  SET_GID,
  SET_MODE,
  SET_SIZE,
  SET_UID,
  TYPE_FILE,
  rootContext,
  userContext,
  type Context,
} from '../../src/meta/types.js';
import { expectCode } from './meta-invariants.js';

const ROOT = rootContext();
/** alice is in group 2000; bob and carol are plain users. */
const alice = userContext(1001, 1001, [1001, 2000]);
const bob = userContext(1002, 1002);
const carol = userContext(1003, 1003);

export function setIdConformance(fresh: () => Promise<Meta>): void {
  describe('setuid/setgid cleared as Linux does', () => {
    let m: Meta;
    let dir = 0;
    let seq = 0;
    before(async () => {
      m = await fresh();
      dir = (await m.mkdir(ROOT, ROOT_INODE, 'setid', 0o777)).inode;
    });
    after(() => m?.close());

    /** A root-owned file (group `gid`) with `mode` and `len` bytes of data. */
    async function file(mode: number, gid = 0, len = 0, uid = 0): Promise<number> {
      const ino = (await m.mknod(ROOT, dir, `f${++seq}`, TYPE_FILE, 0o644)).inode;
      if (len) await write(ROOT, ino, len);
      await m.setattr(ROOT, ino, SET_UID | SET_GID, { uid, gid });
      await m.setattr(ROOT, ino, SET_MODE, { mode });
      return ino;
    }

    async function write(ctx: Context, ino: number, len = 100) {
      const id = await m.newSliceId();
      return m.writeSlice(ctx, ino, 0, 0, { id, size: len, off: 0, len });
    }

    const mode = async (ino: number) => (await m.getattr(ROOT, ino)).mode & 0o7777;
    const oct = (n: number) => n.toString(8);

    it('a write by another user clears both in its own commit', async () => {
      const f = await file(0o6777);
      const r = await write(bob, f);
      assert.equal(oct(r.attr.mode & 0o7777), '777', 'the write result');
      assert.equal(oct(await mode(f)), '777');
      assert.equal(r.attr.length, 100, 'and the data landed');
    });

    it("root's write keeps them; the owner's own write clears them", async () => {
      const f = await file(0o6777);
      await write(ROOT, f);
      await write(userContext(0, 0), f);
      assert.equal(oct(await mode(f)), '6777');
      const own = await file(0o6777, alice.gid, 0, alice.uid);
      await write(alice, own);
      assert.equal(oct(await mode(own)), '777');
    });

    it('setgid without group-execute stays for a group member and goes for anyone else', async () => {
      const member = await file(0o2767, 2000);
      await write(alice, member);
      assert.equal(oct(await mode(member)), '2767');
      const other = await file(0o2767, 2000);
      await write(bob, other);
      assert.equal(oct(await mode(other)), '767');
      const gx = await file(0o2777, 2000);
      await write(alice, gx);
      assert.equal(oct(await mode(gx)), '777', 'with group-execute it goes for members too');
    });

    it('truncate and SET_SIZE by another user clear them', async () => {
      const t = await file(0o6777, 0, 1000);
      assert.equal(oct((await m.truncate(bob, t, 10)).attr.mode & 0o7777), '777');
      const s = await file(0o6777, 0, 1000);
      assert.equal(oct((await m.setattr(bob, s, SET_SIZE, { length: 0 })).attr.mode & 0o7777), '777');
      assert.equal((await m.getattr(ROOT, s)).length, 0);
      const r = await file(0o6777, 0, 1000);
      await m.truncate(ROOT, r, 0);
      assert.equal(oct(await mode(r)), '6777', "root's truncate keeps them");
    });

    it('fallocate and copy_file_range into the file by another user clear them', async () => {
      const f = await file(0o6777);
      await m.fallocate(bob, f, FALLOC_KEEP_SIZE, 0, 4096);
      assert.equal(oct(await mode(f)), '777');
      const src = await file(0o644, 0, 100);
      const dst = await file(0o6777);
      await m.copyFileRange(bob, src, 0, dst, 0, 100);
      assert.equal(oct(await mode(dst)), '777');
    });

    it('a write refused by policy or permission leaves them', async () => {
      const f = await file(0o6755);
      await expectCode(m.truncate(bob, f, 0), 'EACCES');
      assert.equal(oct(await mode(f)), '6755');
    });

    it('chown clears setuid and a group-executable setgid even by root, and keeps setgid without group-execute', async () => {
      const a = await file(0o6755);
      await m.setattr(ROOT, a, SET_UID, { uid: bob.uid });
      assert.equal(oct(await mode(a)), '755');
      const b = await file(0o2745);
      await m.setattr(ROOT, b, SET_UID | SET_GID, { uid: bob.uid, gid: 5 });
      assert.equal(oct(await mode(b)), '2745');
    });

    it("chgrp by an owner outside the file's group clears setgid even without group-execute", async () => {
      const f = await file(0o2745, 3000, 0, alice.uid);
      await m.setattr(alice, f, SET_GID, { gid: 2000 });
      assert.equal(oct(await mode(f)), '745');
      const g = await file(0o2745, 2000, 0, alice.uid);
      await m.setattr(alice, g, SET_GID, { gid: 1001 });
      assert.equal(oct(await mode(g)), '2745', 'she is in the old group: it stays');
    });

    it('SET_CLEAR_SETID clears them for anyone who may write, and for nobody else', async () => {
      const f = await file(0o6777);
      assert.equal(oct((await m.setattr(bob, f, SET_CLEAR_SETID, {})).attr.mode & 0o7777), '777');
      const ro = await file(0o6755);
      await m.setattr(carol, ro, SET_CLEAR_SETID, {});
      assert.equal(oct(await mode(ro)), '6755', 'carol may not write it');
      const member = await file(0o2767, 2000);
      await m.setattr(alice, member, SET_CLEAR_SETID, {});
      assert.equal(oct(await mode(member)), '2767', 'the write rule: a member keeps setgid without group-execute');
      await expectCode(m.setattr(bob, await file(0o6777), SET_MODE, { mode: 0o777 }), 'EPERM');
    });
  });
}
