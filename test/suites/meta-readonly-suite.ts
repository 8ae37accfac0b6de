// Read-only subtrees and volumes (`ferry readonly`) in the meta conformance suite (every engine): every
// modifying operation inside a marked directory is EROFS naming it, whoever asks (root too), including
// setattr, xattrs, renames into and out of it, links into and out of it, writes and copies; reads and
// copies out of it work; a second client sees a mark once it reloads the format; unset lifts it.
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { newFormat } from '../../src/meta/format.js';
import type { Meta } from '../../src/meta/interface.js';
import { openMeta } from '../../src/meta/index.js';
import { readOnlyRule } from '../../src/meta/policy/rules/read-only.js';
import { listReadOnly, setReadOnly, unsetReadOnly } from '../../src/meta/readonly.js';
import { ROOT_INODE, SET_MODE, SET_MTIME_NOW, SET_SIZE, TYPE_FILE, rootContext, userContext, type Context } from '../../src/meta/types.js';
import { codeOf } from './meta-invariants.js';

const ROOT = rootContext();
const alice = userContext(1001, 1001);

/** EROFS, with a message naming `path`. */
async function erofs(p: Promise<unknown>, path: string, what: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err as Error & { code?: string },
  );
  assert.ok(e, `${what}: refused`);
  assert.equal(e.code, 'EROFS', `${what}: ${e.message}`);
  assert.ok(e.message.includes(`${path} is read-only`), `${what}: the message names ${path}: ${e.message}`);
}

async function data(m: Meta, ctx: Context, ino: number, len: number) {
  const id = await m.newSliceId();
  return m.writeSlice(ctx, ino, 0, 0, { id, size: len, off: 0, len });
}

export function readOnlyConformance(newUrl: () => Promise<string>): void {
  describe('read-only subtrees', () => {
    let url: string;
    let m: Meta;
    let n = 0;

    before(async () => {
      url = await newUrl();
      m = await openMeta(url);
      await m.init(newFormat({ name: 'ro', storage: 'mem://x', trashDays: 0 }));
      await m.newSession({ mountPoint: '/ro-test' });
    });
    after(async () => {
      await m?.close();
    });

    /** A tree: /tN/{ro/{sub/deep.txt, f.txt, link-src}, rw/{g.txt}}, with /tN/ro marked read-only. */
    async function tree() {
      const top = (await m.mkdir(ROOT, ROOT_INODE, `t${n++}`, 0o777)).inode;
      const ro = (await m.mkdir(ROOT, top, 'ro', 0o777)).inode;
      const rw = (await m.mkdir(ROOT, top, 'rw', 0o777)).inode;
      const sub = (await m.mkdir(ROOT, ro, 'sub', 0o777)).inode;
      const mk = async (dir: number, name: string) => {
        const f = await m.create(ROOT, dir, name, 0o666, 0);
        await m.release(ROOT, f.inode);
        await data(m, ROOT, f.inode, 5000);
        return f.inode;
      };
      const deep = await mk(sub, 'deep.txt');
      const f = await mk(ro, 'f.txt');
      const g = await mk(rw, 'g.txt');
      await m.setxattr(ROOT, f, 'user.k', Buffer.from('v'));
      const path = `/t${n - 1}/ro`;
      assert.deepEqual(await setReadOnly(m, path + '/'), { ino: ro, path });
      return { top, ro, rw, sub, deep, f, g, path };
    }

    it('a volume without marks has no read-only rule (nothing to walk)', () => {
      assert.equal(readOnlyRule(newFormat({ name: 'x', storage: 'mem://x' })), undefined);
      assert.ok(readOnlyRule({ ...newFormat({ name: 'x', storage: 'mem://x' }), readOnly: [{ ino: 5, path: '/a' }] }));
    });

    it('nothing inside changes: creates, removes, renames, links, setattr, xattrs, data (root and users alike)', async () => {
      const t = await tree();
      for (const ctx of [ROOT, alice]) {
        const who = ctx === ROOT ? 'root' : 'alice';
        await erofs(m.create(ctx, t.ro, 'new', 0o644, 0), t.path, `${who} create`);
        await erofs(m.mkdir(ctx, t.sub, 'new', 0o755), t.path, `${who} mkdir in a subdirectory`);
        await erofs(m.symlink(ctx, t.ro, 'ln', 'x'), t.path, `${who} symlink`);
        await erofs(m.mknod(ctx, t.sub, 'fifo', 1, 0o644), t.path, `${who} mknod`);
      }
      await erofs(m.unlink(ROOT, t.sub, 'deep.txt'), t.path, 'unlink');
      await erofs(m.rmdir(ROOT, t.ro, 'sub'), t.path, 'rmdir');
      await erofs(m.rename(ROOT, t.ro, 'f.txt', t.ro, 'f2.txt'), t.path, 'rename within');
      await erofs(m.rename(ROOT, t.ro, 'f.txt', t.rw, 'out.txt'), t.path, 'rename out of');
      await erofs(m.rename(ROOT, t.rw, 'g.txt', t.sub, 'in.txt'), t.path, 'rename into');
      await erofs(m.rename(ROOT, t.rw, 'g.txt', t.ro, 'f.txt'), t.path, 'rename replacing a file inside');
      await erofs(m.rename(ROOT, t.top, 'ro', t.rw, 'moved'), t.path, 'rename of the marked directory');
      await erofs(m.rmdir(ROOT, t.ro, 'sub'), t.path, 'rmdir inside');
      await erofs(m.link(ROOT, t.g, t.ro, 'hard'), t.path, 'link into');
      await erofs(m.link(ROOT, t.f, t.rw, 'hard'), t.path, 'link out of (the inode inside changes)');
      await erofs(m.setattr(ROOT, t.f, SET_MODE, { mode: 0o600 }), t.path, 'chmod');
      await erofs(m.setattr(ROOT, t.ro, SET_MODE, { mode: 0o700 }), t.path, 'chmod of the marked directory');
      await erofs(m.setattr(ROOT, t.deep, SET_MTIME_NOW, {}), t.path, 'touch');
      await erofs(m.setattr(ROOT, t.deep, SET_SIZE, { length: 0 }), t.path, 'truncate by setattr');
      await erofs(m.setxattr(ROOT, t.f, 'user.k', Buffer.from('w')), t.path, 'setxattr');
      await erofs(m.setxattr(ROOT, t.sub, 'user.k', Buffer.from('w')), t.path, 'setxattr on a directory');
      await erofs(m.removexattr(ROOT, t.f, 'user.k'), t.path, 'removexattr');
      await erofs(m.open(ROOT, t.f, fsConstants.O_WRONLY), t.path, 'open for writing');
      await erofs(data(m, ROOT, t.deep, 10), t.path, 'write');
      await erofs(m.truncate(ROOT, t.deep, 1), t.path, 'truncate');
      await erofs(m.fallocate(ROOT, t.deep, 0, 0, 9000), t.path, 'fallocate');
      await erofs(m.copyFileRange(ROOT, t.g, 0, t.f, 0, 100), t.path, 'copy into');
      await erofs(m.clone(ROOT, t.g, t.ro, 'cloned'), t.path, 'clone into');
      // Nothing changed, and reading and copying out still work.
      assert.equal((await m.getattr(ROOT, t.f)).mode & 0o777, 0o666);
      assert.equal((await m.getxattr(ROOT, t.f, 'user.k')).toString(), 'v');
      assert.equal((await m.lookup(ROOT, t.sub, 'deep.txt')).attr.length, 5000);
      await m.open(ROOT, t.f, fsConstants.O_RDONLY);
      await m.release(ROOT, t.f);
      assert.equal((await m.copyFileRange(ROOT, t.f, 0, t.g, 0, 100)).copied, 100);
      assert.equal((await m.clone(ROOT, t.ro, t.rw, 'copy')).inodes, 4, 'a clone out of it works');
      // Outside, everything works.
      await m.rename(ROOT, t.rw, 'g.txt', t.rw, 'g2.txt');
      await m.unlink(ROOT, t.rw, 'g2.txt');
    });

    it('a file with a name outside and one inside is read-only through both; its outside name may go', async () => {
      const t = await tree();
      await unsetReadOnly(m, t.path);
      await m.link(ROOT, t.g, t.ro, 'shared');
      await setReadOnly(m, t.path);
      await erofs(data(m, ROOT, t.g, 10), t.path, 'write through the outside name');
      await erofs(m.setattr(ROOT, t.g, SET_MODE, { mode: 0o600 }), t.path, 'chmod through the outside name');
      await m.unlink(ROOT, t.rw, 'g.txt');
      assert.equal((await m.lookup(ROOT, t.ro, 'shared')).attr.nlink, 1);
    });

    it('unset lifts the mark; set twice is one mark; unset of an unmarked path is ENOENT; files are refused', async () => {
      const t = await tree();
      await setReadOnly(m, t.path);
      assert.equal((await listReadOnly(m)).filter((x) => x.ino === t.ro).length, 1);
      assert.equal((await unsetReadOnly(m, t.path)).ino, t.ro);
      await m.unlink(ROOT, t.sub, 'deep.txt');
      await m.rename(ROOT, t.ro, 'f.txt', t.rw, 'f.txt');
      assert.equal(await codeOf(unsetReadOnly(m, t.path)), 'ENOENT');
      assert.equal(await codeOf(setReadOnly(m, `${t.path}/nope`)), 'ENOENT');
      assert.equal(await codeOf(setReadOnly(m, `/t${n - 1}/rw/f.txt`)), 'ENOTDIR');
    });

    it('a mark follows its directory when a parent is renamed; list shows the path it has now', async () => {
      const t = await tree();
      await m.rename(ROOT, ROOT_INODE, `t${n - 1}`, ROOT_INODE, `renamed${n - 1}`);
      await erofs(m.create(ROOT, t.ro, 'x', 0o644, 0), t.path, 'create after the rename');
      const mark = (await listReadOnly(m)).find((x) => x.ino === t.ro)!;
      assert.equal(mark.path, t.path);
      assert.equal(mark.current, `/renamed${n - 1}/ro`);
      await unsetReadOnly(m, `/renamed${n - 1}/ro`);
    });

    it('the whole volume: / marked refuses every change anywhere; another client sees marks once it reloads the format', async () => {
      const t = await tree();
      const other = await openMeta(url);
      try {
        await other.load();
        await other.newSession({ mountPoint: '/ro-other' });
        await other.mkdir(ROOT, t.rw, 'before', 0o755);
        await setReadOnly(m, '/');
        await erofs(m.mkdir(ROOT, ROOT_INODE, 'x', 0o755), '/', 'mkdir at the root');
        await erofs(m.setattr(ROOT, t.g, SET_MODE, { mode: 0o600 }), '/', 'chmod anywhere');
        await other.load();
        await erofs(other.mkdir(ROOT, t.rw, 'after', 0o755), '/', 'the other client, after its reload');
        await unsetReadOnly(m);
        await other.load();
        await other.mkdir(ROOT, t.rw, 'after', 0o755);
        assert.equal((await m.getattr(ROOT, t.g)).type, TYPE_FILE);
      } finally {
        await other.close();
      }
      await unsetReadOnly(m, t.path);
    });
  });
}
