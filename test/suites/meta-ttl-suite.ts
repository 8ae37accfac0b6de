// TTL expiry in the meta conformance suite (every engine): files under a directory with a TTL whose mtime
// is older than its days go to the trash when expiry runs, read from the TTL index (rows read = files
// expired when nothing is stale); newer files, files outside, files of a removed rule and rewritten files
// stay; stale rows (deleted, moved out) are dropped once; a rule on a path that is no directory is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Meta } from '../../src/meta/interface.js';
import { newFormat } from '../../src/meta/format.js';
import { FLAG_IMMUTABLE, ROOT_INODE, SET_FLAGS, SET_MTIME, rootContext } from '../../src/meta/types.js';
import { expectCode } from './meta-invariants.js';

const ROOT = rootContext();
const DAY_S = 86_400;

export function ttlConformance(fresh: (format: ReturnType<typeof newFormat>) => Promise<Meta>): void {
  describe('ttl expiry', () => {
    let m: Meta;
    let n = 0;
    /** A scratch directory per test: its name and inode. */
    const scratch = async () => {
      const name = `ttl${n++}`;
      return { name, ino: (await m.mkdir(ROOT, ROOT_INODE, name, 0o777)).inode };
    };
    const file = async (dir: number, name: string, ageDays = 0) => {
      const f = await m.create(ROOT, dir, name, 0o644, 0);
      await m.release(ROOT, f.inode);
      if (ageDays) await m.setattr(ROOT, f.inode, SET_MTIME, { mtime: Math.floor(Date.now() / 1000) - ageDays * DAY_S });
      return f.inode;
    };
    const inTrash = async (ino: number) => (await m.trashList()).some((i) => i.inode === ino);
    const present = async (dir: number, name: string) => m.lookup(ROOT, dir, name).then(() => true, () => false);

    before(async () => {
      m = await fresh(newFormat({ name: 'ttl', storage: 'mem://x', trashDays: 1 }));
    });
    after(async () => {
      await m?.close();
    });

    it('moves files older than the TTL to the trash, reading one index row per expired file', async () => {
      const d = await scratch();
      const sub = (await m.mkdir(ROOT, d.ino, 'sub', 0o755)).inode;
      const outside = await scratch();
      const rule = await m.ttlSet(`/${d.name}`, 30);
      assert.deepEqual({ ...rule, indexed: rule.indexed }, { inode: d.ino, path: `/${d.name}`, days: 30, indexed: 0 });
      const old1 = await file(d.ino, 'old1', 31);
      const old2 = await file(sub, 'old2', 40);
      const fresh1 = await file(d.ino, 'fresh', 29);
      const young = await file(d.ino, 'young');
      const far = await file(outside.ino, 'far', 100);
      const r = await m.ttlExpire();
      assert.deepEqual(r, { rules: 1, rowsRead: 2, expired: 2, stale: 0, refused: 0 });
      assert.ok(!(await present(d.ino, 'old1')) && !(await present(sub, 'old2')));
      assert.ok((await inTrash(old1)) && (await inTrash(old2)), 'expired files are in the trash');
      const item = (await m.trashList()).find((i) => i.inode === old2)!;
      assert.equal(item.path, `/${d.name}/sub/old2`, 'restorable to where it was');
      for (const [dir, name] of [[d.ino, 'fresh'], [d.ino, 'young'], [outside.ino, 'far']] as const) assert.ok(await present(dir, name), name);
      assert.ok(!(await inTrash(fresh1)) && !(await inTrash(young)) && !(await inTrash(far)));
      // Nothing is left due: a second run reads nothing.
      assert.deepEqual(await m.ttlExpire(), { rules: 1, rowsRead: 0, expired: 0, stale: 0, refused: 0 });
      // A day later the 29-day-old file is due, the new one is not.
      assert.deepEqual(await m.ttlExpire(Date.now() + 1.5 * DAY_S * 1000), { rules: 1, rowsRead: 1, expired: 1, stale: 0, refused: 0 });
      assert.ok(await inTrash(fresh1));
      await m.ttlDelete(`/${d.name}`);
    });

    it('a rewritten, renamed-away or deleted file is not expired, and expiry reads no row for it', async () => {
      const d = await scratch();
      const away = await scratch();
      await m.ttlSet(d.name, 7);
      const rewritten = await file(d.ino, 'rewritten', 10);
      await file(d.ino, 'moved', 10);
      await file(d.ino, 'deleted', 10);
      await file(d.ino, 'freed', 10);
      const touched = await file(d.ino, 'touched', 10);
      const id = await m.newSliceId();
      await m.writeSlice(ROOT, rewritten, 0, 0, { id, size: 5, off: 0, len: 5 });
      await m.setattr(ROOT, touched, SET_MTIME, { mtime: Math.floor(Date.now() / 1000) });
      await m.rename(ROOT, d.ino, 'moved', away.ino, 'moved');
      await m.unlink(ROOT, d.ino, 'deleted'); // into the trash
      await m.unlink({ ...ROOT, skipTrash: true }, d.ino, 'freed');
      const r = await m.ttlExpire();
      assert.equal(r.expired, 0);
      // The moved, deleted and freed files left the index in their transactions; the rewritten and touched
      // ones left the due range when written.
      assert.equal(r.rowsRead, 0);
      assert.equal(r.stale, 0);
      assert.ok(await present(d.ino, 'rewritten'));
      assert.ok(await present(d.ino, 'touched'));
      assert.ok(await present(away.ino, 'moved'));
      await m.ttlDelete(d.name);
    });

    it('a file moved into a TTL directory is expired by its mtime; one renamed in place keeps its new name', async () => {
      const d = await scratch();
      const elsewhere = await scratch();
      await m.ttlSet(d.name, 1);
      const moved = await file(elsewhere.ino, 'in', 5);
      await m.rename(ROOT, elsewhere.ino, 'in', d.ino, 'arrived');
      const renamed = await file(d.ino, 'before', 5);
      await m.rename(ROOT, d.ino, 'before', d.ino, 'after');
      const r = await m.ttlExpire();
      assert.deepEqual(r, { rules: 1, rowsRead: 2, expired: 2, stale: 0, refused: 0 });
      const items = await m.trashList();
      assert.equal(items.find((i) => i.inode === moved)?.path, `/${d.name}/arrived`);
      assert.equal(items.find((i) => i.inode === renamed)?.path, `/${d.name}/after`);
      await m.ttlDelete(d.name);
    });

    it('setting a TTL on a tree files what is already there; removing it leaves the tree alone', async () => {
      const d = await scratch();
      const sub = (await m.mkdir(ROOT, d.ino, 'deep', 0o755)).inode;
      const a = await file(d.ino, 'a', 50);
      const b = await file(sub, 'b', 50);
      const set = await m.ttlSet(`/${d.name}/`, 30);
      assert.equal(set.indexed, 2);
      assert.deepEqual((await m.ttlList()).map((x) => x.path), [`/${d.name}`]);
      await m.ttlDelete(`/${d.name}`);
      assert.deepEqual(await m.ttlList(), []);
      assert.deepEqual(await m.ttlExpire(), { rules: 0, rowsRead: 0, expired: 0, stale: 0, refused: 0 });
      await file(d.ino, 'c', 50);
      assert.equal((await m.ttlExpire(Date.now() + 365 * DAY_S * 1000)).rowsRead, 0);
      assert.ok((await present(d.ino, 'a')) && (await present(sub, 'b')) && (await present(d.ino, 'c')));
      // Set again: the rows were dropped with the rule, the walk files them again.
      assert.equal((await m.ttlSet(d.name, 30)).indexed, 3);
      const r = await m.ttlExpire();
      assert.equal(r.expired, 3);
      assert.equal(r.rowsRead, 3);
      assert.ok((await inTrash(a)) && (await inTrash(b)));
      await m.ttlDelete(d.name);
    });

    it('the nearest rule applies; removing it hands its files to the rule above', async () => {
      const d = await scratch();
      const keep = (await m.mkdir(ROOT, d.ino, 'keep', 0o755)).inode;
      await m.ttlSet(d.name, 10);
      await m.ttlSet(`${d.name}/keep`, 100);
      await file(keep, 'long', 50);
      await file(d.ino, 'short', 50);
      const r = await m.ttlExpire();
      assert.equal(r.expired, 1);
      assert.equal(r.rules, 2);
      assert.ok(await present(keep, 'long'), 'its own rule keeps it 100 days');
      assert.ok(!(await present(d.ino, 'short')));
      await m.ttlDelete(`${d.name}/keep`);
      const again = await m.ttlExpire();
      assert.equal(again.expired, 1, 'now under the outer 10-day rule');
      assert.ok(!(await present(keep, 'long')));
      await m.ttlDelete(d.name);
    });

    it('days can change; an immutable file is refused and counted, not retried as new rows', async () => {
      const d = await scratch();
      await m.ttlSet(d.name, 60);
      await file(d.ino, 'mid', 45);
      const frozen = await file(d.ino, 'frozen', 45);
      await m.setattr(ROOT, frozen, SET_FLAGS, { flags: FLAG_IMMUTABLE });
      assert.equal((await m.ttlExpire()).rowsRead, 0);
      assert.equal((await m.ttlSet(d.name, 30)).indexed, 0, 'a changed rule keeps its rows');
      assert.equal((await m.ttlList()).find((x) => x.inode === d.ino)?.days, 30);
      const r = await m.ttlExpire();
      assert.deepEqual(r, { rules: 1, rowsRead: 2, expired: 1, stale: 0, refused: 1 });
      assert.ok(await present(d.ino, 'frozen'));
      await m.setattr(ROOT, frozen, SET_FLAGS, { flags: 0 });
      await m.ttlDelete(d.name);
    });

    it('a file restored from the trash after it expired stays until it is written again', async () => {
      const d = await scratch();
      await m.ttlSet(d.name, 1);
      const f = await file(d.ino, 'back', 3);
      assert.equal((await m.ttlExpire()).expired, 1);
      const item = (await m.trashList()).find((i) => i.inode === f)!;
      await m.trashRestore(ROOT, item.id);
      assert.deepEqual(await m.ttlExpire(), { rules: 1, rowsRead: 0, expired: 0, stale: 0, refused: 0 });
      assert.ok(await present(d.ino, 'back'));
      await m.setattr(ROOT, f, SET_MTIME, { mtime: Math.floor(Date.now() / 1000) - 3 * DAY_S });
      assert.equal((await m.ttlExpire()).expired, 1, 'touched into the past: due again');
      await m.ttlDelete(d.name);
    });

    it('one client at a time runs the background expiry (a lease in the engine)', async () => {
      const d = await scratch();
      await m.ttlSet(d.name, 1);
      await file(d.ino, 'x', 3);
      const now = Date.now() + 10 * DAY_S * 1000; // past any lease an earlier run left
      const first = await m.ttlExpireDue(now);
      assert.equal(first?.expired, 1);
      assert.equal(await m.ttlExpireDue(now + 1000), undefined, 'the lease is held');
      await m.ttlDelete(d.name);
    });

    it('refuses a TTL on a path that is no directory, a bad number of days, and deleting a TTL never set', async () => {
      const d = await scratch();
      await file(d.ino, 'plain');
      await expectCode(m.ttlSet('/no/such/dir', 30), 'ENOENT');
      await assert.rejects(m.ttlSet('/no/such/dir', 30), /no directory \/no\/such\/dir in the volume/);
      await expectCode(m.ttlSet(`/${d.name}/plain`, 30), 'ENOTDIR');
      await expectCode(m.ttlSet(`/${d.name}/plain/x`, 30), 'ENOENT');
      await expectCode(m.ttlSet(d.name, 0), 'EINVAL');
      await expectCode(m.ttlSet(d.name, 1.5), 'EINVAL');
      await expectCode(m.ttlDelete(d.name), 'ENOENT');
      await expectCode(m.ttlSet('/.trash', 3), 'EINVAL');
      assert.deepEqual(await m.ttlList(), []);
    });
  });
}
