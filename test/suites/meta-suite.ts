// The meta conformance suite: written once against the Meta interface, run against every engine.
// Each describe block gets a fresh volume; each test works in its own scratch directory.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../helpers/wait.js';
import { FsError } from '../../src/errors.js';
import { openMeta } from '../../src/meta/index.js';
import { newFormat } from '../../src/meta/format.js';
import type { Meta } from '../../src/meta/interface.js';
import {
  AT_END,
  CHUNK_SIZE,
  FALLOC_KEEP_SIZE,
  FALLOC_PUNCH_HOLE,
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  FLAG_IMMUTABLE,
  FLAG_XATTRS,
  MODE_R,
  MODE_W,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INODE,
  SET_ATIME,
  SET_CTIME,
  SET_FLAGS,
  SET_GID,
  SET_MODE,
  SET_MTIME,
  SET_MTIME_NOW,
  SET_SIZE,
  SET_UID,
  TYPE_CHARDEV,
  TYPE_DIRECTORY,
  TYPE_FIFO,
  TYPE_FILE,
  TYPE_SYMLINK,
  XATTR_CREATE,
  XATTR_REPLACE,
  rootContext,
  userContext,
  type Attr,
  type ChangeRecord,
  type Context,
  type Format,
  type Mutation,
  type Versioned,
} from '../../src/meta/types.js';
import {
  byteAt,
  checkChangelog,
  checkChurn,
  checkInvariants,
  churn,
  codeOf,
  dataEnd,
  expectCode,
  expectRejection,
  fileBytes,
  listAll,
  readAllChangelog,
  snapshot,
  visible,
} from './meta-invariants.js';
import { aclConformance } from './meta-acl-suite.js';
import { policyConformance } from './meta-policy-suite.js';
import { trashConformance } from './meta-trash-suite.js';
import { readOnlyConformance } from './meta-readonly-suite.js';
import { cloneConformance } from './meta-clone-suite.js';
import { quotaConformance } from './meta-quota-suite.js';
import { ttlConformance } from './meta-ttl-suite.js';
import { sessionInfoConformance } from './meta-session-info-suite.js';
import { setIdConformance } from './meta-setid-suite.js';
import { scanConformance } from './meta-scans.js';

const { O_RDONLY, O_RDWR, O_WRONLY } = fsConstants;
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
const ROOT = rootContext();
/** Users: alice is also in group 2000; bob and carol are plain users. */
const alice = userContext(1001, 1001, [1001, 2000]);
const bob = userContext(1002, 1002);
const carol = userContext(1003, 1003);

export function testFormat(): Format {
  return newFormat({ name: 'test', storage: 'mem://x', trashDays: 0 });
}

/** Opens and formats a volume at a fresh URL, with a session. */
export async function freshMeta(url: string, format: Format = testFormat()): Promise<Meta> {
  const m = await openMeta(url);
  await m.init(format);
  await m.newSession({ mountPoint: '/test' });
  return m;
}

/** A fresh volume for one describe block, with small helpers over its Meta. */
class Vol {
  m!: Meta;
  url!: string;
  format!: Format;
  /** statfs.usedInodes of the fresh volume minus one. */
  inodeBase = 0;
  private seq = 0;

  async open(newUrl: () => Promise<string>): Promise<void> {
    this.url = await newUrl();
    this.format = testFormat();
    this.m = await freshMeta(this.url, this.format);
    this.inodeBase = (await this.m.statfs(ROOT)).usedInodes - 1;
  }

  /** A new empty directory under the root, for one test. */
  async scratch(mode = 0o777): Promise<number> {
    return this.mkdir(ROOT_INODE, `t${++this.seq}`, mode);
  }

  async mkdir(parent: number, name: string, mode = 0o755, ctx: Context = ROOT): Promise<number> {
    return (await this.m.mkdir(ctx, parent, name, mode)).inode;
  }

  async mkfile(parent: number, name: string, mode = 0o644, ctx: Context = ROOT): Promise<number> {
    return (await this.m.mknod(ctx, parent, name, TYPE_FILE, mode)).inode;
  }

  attr(ino: number): Promise<Attr> {
    return this.m.getattr(ROOT, ino);
  }

  async ino(parent: number, name: string): Promise<number> {
    return (await this.m.lookup(ROOT, parent, name)).inode;
  }

  async names(dir: number): Promise<string[]> {
    return (await listAll(this.m, dir, false)).map((e) => e.name);
  }

  /** Commits a new slice of len bytes at chunk position pos; returns its id. */
  async write(ino: number, pos: number, len: number, indx = 0): Promise<number> {
    const id = await this.m.newSliceId();
    await this.m.writeSlice(ROOT, ino, indx, pos, { id, size: len, off: 0, len });
    return id;
  }

  async chmod(ino: number, mode: number): Promise<void> {
    await this.m.setattr(ROOT, ino, SET_MODE, { mode });
  }

  async chown(ino: number, uid: number, gid: number): Promise<void> {
    await this.m.setattr(ROOT, ino, SET_UID | SET_GID, { uid, gid });
  }

  async usedInodes(): Promise<number> {
    return (await this.m.statfs(ROOT)).usedInodes;
  }

  /** Moves deleted files' slices to the delete queue; returns the ids queued. */
  async drainDeleted(): Promise<number[]> {
    while ((await this.m.processDeletedFiles(100)) > 0);
    return (await this.m.pendingDeletedSlices(10000)).map((s) => s.id);
  }

  async invariants(openDeleted: number[] = [], probe: number[] = []): Promise<void> {
    await checkInvariants(this.m, { inodeBase: this.inodeBase, openDeleted, probe });
  }
}

function useVolume(newUrl: () => Promise<string>): Vol {
  const v = new Vol();
  before(() => v.open(newUrl));
  after(() => v.m?.close());
  return v;
}

/** A second client of the same volume (its own Meta and session), closed after the block. */
function useSecondClient(v: Vol): { m: Meta; sid: number } {
  const c = { m: undefined as unknown as Meta, sid: 0 };
  before(async () => {
    c.m = await openMeta(v.url);
    c.sid = await c.m.newSession({ mountPoint: '/second' });
  });
  after(() => c.m?.close());
  return c;
}

const sec = (a: Attr, f: 'atime' | 'mtime' | 'ctime') => a[f] + a[`${f}nsec`] / 1e9;

/** Commits a new slice of len bytes at the start of ino through client m; returns its id. */
async function newSliceIn(m: Meta, ino: number, len: number): Promise<number> {
  const id = await m.newSliceId();
  await m.writeSlice(ROOT, ino, 0, 0, { id, size: len, off: 0, len });
  return id;
}

export function metaConformance(name: string, newUrl: () => Promise<string>): void {
  describe(`meta conformance: ${name}`, () => {
    describe('init and load', () => {
      const v = useVolume(newUrl);

      it('opens the registered engine', () => {
        assert.equal(v.m.engine, name);
        assert.equal(v.m.url.replace(/\/\/[^@/]*:[^@/]*@/, '//'), v.url.replace(/\/\/[^@/]*:[^@/]*@/, '//'));
        assert.ok(!/:[^@/:]+@/.test(v.m.url), 'no password in url');
      });

      it('load returns the stored format', async () => {
        // plus what init adds to a new volume's record
        assert.deepEqual(await v.m.load(), { ...v.format, xattrFlags: true });
      });

      it('init refuses an existing volume (EEXIST); force keeps the uuid', async () => {
        await expectCode(v.m.init(testFormat()), 'EEXIST');
        await v.m.init({ ...testFormat(), trashDays: 3 }, true);
        const f = await v.m.load();
        assert.equal(f.uuid, v.format.uuid);
        assert.equal(f.trashDays, 3);
        assert.equal((await v.attr(ROOT_INODE)).type, TYPE_DIRECTORY, 'reformat keeps the root');
      });

      it('updateFormat changes stored fields and keeps the uuid', async () => {
        const f = await v.m.updateFormat({ capacity: 1 << 30, uuid: randomUUID() });
        assert.equal(f.capacity, 1 << 30);
        assert.equal(f.uuid, v.format.uuid);
        assert.equal((await v.m.load()).capacity, 1 << 30);
      });

      it('load on an unformatted database gives ENOENT', async () => {
        const m = await openMeta(await newUrl());
        try {
          await expectCode(m.load(), 'ENOENT');
        } finally {
          await m.close();
        }
      });

      it('destroy removes the volume', async () => {
        const m = await freshMeta(await newUrl());
        try {
          await m.destroy();
          await expectCode(m.load(), 'ENOENT');
          const again = testFormat();
          await m.init(again);
          assert.equal((await m.load()).uuid, again.uuid, 'formats again after destroy');
          assert.deepEqual(await m.readdir(ROOT, ROOT_INODE), []);
        } finally {
          await m.close();
        }
      });

      it('errors are FsErrors with errno codes', async () => {
        const err = await v.m.getattr(ROOT, 999_999).catch((e: unknown) => e);
        assert.ok(err instanceof FsError, 'an FsError');
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.errno, -2);
      });

      it('a fresh volume holds only the root', async () => {
        assert.ok(v.inodeBase === 0 || v.inodeBase === -1, `usedInodes of a fresh volume is 0 or 1, got ${v.inodeBase + 1}`);
        assert.equal(await v.m.currentVersion(), 0);
      });
    });

    describe('namespace', () => {
      const v = useVolume(newUrl);

      it('the root is inode 1, a directory with nlink 2', async () => {
        const a = await v.attr(ROOT_INODE);
        assert.equal(a.type, TYPE_DIRECTORY);
        assert.equal(a.nlink, 2);
        assert.equal((await v.m.resolve(ROOT, ROOT_INODE, '')).inode, ROOT_INODE);
      });

      it('mknod, mkdir, create and symlink make nodes lookup and getattr see', async () => {
        const d = await v.scratch();
        const fifo = await v.m.mknod(ROOT, d, 'fifo', TYPE_FIFO, 0o600);
        const dev = await v.m.mknod(ROOT, d, 'dev', TYPE_CHARDEV, 0o600, 0x0501);
        const sub = await v.m.mkdir(ROOT, d, 'sub', 0o750);
        const file = await v.m.create(ROOT, d, 'file', 0o640, O_RDWR);
        const link = await v.m.symlink(ROOT, d, 'link', 'sub/../file');
        await v.m.release(ROOT, file.inode);
        const expect: Array<[string, { inode: number; attr: Attr }, number, number]> = [
          ['fifo', fifo, TYPE_FIFO, 0o600],
          ['dev', dev, TYPE_CHARDEV, 0o600],
          ['sub', sub, TYPE_DIRECTORY, 0o750],
          ['file', file, TYPE_FILE, 0o640],
        ];
        for (const [n, made, type, mode] of expect) {
          const found = await v.m.lookup(ROOT, d, n);
          assert.equal(found.inode, made.inode, n);
          assert.deepEqual(found.attr, await v.attr(made.inode), `${n}: lookup attr equals getattr`);
          assert.equal(found.attr.type, type, n);
          assert.equal(found.attr.mode, mode, n);
          assert.equal(found.attr.parent, d, `${n}: parent`);
          assert.deepEqual(made.attr, found.attr, `${n}: returned attr`);
        }
        assert.equal((await v.attr(dev.inode)).rdev, 0x0501);
        assert.equal((await v.attr(sub.inode)).nlink, 2);
        assert.equal((await v.attr(file.inode)).nlink, 1);
        assert.equal((await v.attr(file.inode)).length, 0);
        assert.equal(link.attr.type, TYPE_SYMLINK);
        assert.equal(link.attr.length, Buffer.byteLength('sub/../file'), 'a symlink is as long as its target');
        assert.equal(await v.m.readlink(ROOT, link.inode), 'sub/../file');
        await expectCode(v.m.readlink(ROOT, file.inode), 'EINVAL');
      });

      it('resolve walks a path and stops at a missing part', async () => {
        const d = await v.scratch();
        const a = await v.mkdir(d, 'a');
        const b = await v.mkdir(a, 'b');
        const f = await v.mkfile(b, 'f');
        const dn = (await listAll(v.m, ROOT_INODE, false)).find((e) => e.inode === d)!.name;
        assert.equal((await v.m.resolve(ROOT, ROOT_INODE, `${dn}/a/b/f`)).inode, f);
        assert.equal((await v.m.resolve(ROOT, d, 'a/b')).inode, b);
        await expectCode(v.m.resolve(ROOT, d, 'a/nope/f'), 'ENOENT');
        await expectCode(v.m.resolve(ROOT, d, 'a/b/f/x'), 'ENOTDIR');
      });

      it('creating an existing name gives EEXIST, whatever the type', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'x');
        await expectCode(v.m.mknod(ROOT, d, 'x', TYPE_FILE, 0o644), 'EEXIST');
        await expectCode(v.m.mkdir(ROOT, d, 'x', 0o755), 'EEXIST');
        await expectCode(v.m.create(ROOT, d, 'x', 0o644, O_RDWR), 'EEXIST');
        await expectCode(v.m.symlink(ROOT, d, 'x', 'y'), 'EEXIST');
      });

      it('a missing parent gives ENOENT, a file as parent ENOTDIR', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await expectCode(v.m.mkdir(ROOT, 999_999, 'x', 0o755), 'ENOENT');
        await expectCode(v.m.mknod(ROOT, 999_999, 'x', TYPE_FILE, 0o644), 'ENOENT');
        await expectCode(v.m.lookup(ROOT, d, 'missing'), 'ENOENT');
        await expectCode(v.m.getattr(ROOT, 999_999), 'ENOENT');
        await expectCode(v.m.mkdir(ROOT, f, 'x', 0o755), 'ENOTDIR');
        await expectCode(v.m.mknod(ROOT, f, 'x', TYPE_FILE, 0o644), 'ENOTDIR');
        await expectCode(v.m.lookup(ROOT, f, 'x'), 'ENOTDIR');
        await expectCode(v.m.readdir(ROOT, f), 'ENOTDIR');
      });

      it('names longer than 255 bytes give ENAMETOOLONG', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'a'.repeat(255));
        await v.mkfile(d, 'é'.repeat(127) + 'a'); // 255 bytes
        await expectCode(v.m.mknod(ROOT, d, 'a'.repeat(256), TYPE_FILE, 0o644), 'ENAMETOOLONG');
        await expectCode(v.m.mkdir(ROOT, d, 'é'.repeat(128), 0o755), 'ENAMETOOLONG'); // 128 chars, 256 bytes
        await expectCode(v.m.lookup(ROOT, d, 'b'.repeat(256)), 'ENAMETOOLONG');
      });

      it("'.', '..', '/' and NUL are not valid names (EINVAL)", async () => {
        const d = await v.scratch();
        for (const bad of ['.', '..', 'a/b', '/', 'a\0b', '']) {
          await expectCode(v.m.mknod(ROOT, d, bad, TYPE_FILE, 0o644), 'EINVAL');
          await expectCode(v.m.mkdir(ROOT, d, bad, 0o755), 'EINVAL');
        }
        const f = await v.mkfile(d, 'f');
        await expectCode(v.m.link(ROOT, f, d, 'x/y'), 'EINVAL');
        await expectCode(v.m.rename(ROOT, d, 'f', d, '..'), 'EINVAL');
        await expectCode(v.m.symlink(ROOT, d, 'a\0', 'f'), 'EINVAL');
      });

      it('failures are rejected promises, never synchronous throws', async () => {
        const d = await v.scratch();
        await expectRejection(() => v.m.rmdir(ROOT, d, '.'), 'EINVAL');
        await expectRejection(() => v.m.rmdir(ROOT, d, '..'), 'ENOTEMPTY', 'EINVAL');
        await expectRejection(() => v.m.symlink(ROOT, d, 's', ''), 'ENOENT', 'EINVAL');
        await expectRejection(() => v.m.symlink(ROOT, d, 's', 'x'.repeat(5000)), 'ENAMETOOLONG');
        await expectRejection(() => v.m.unlink(ROOT, d, '..'), 'EISDIR', 'EPERM', 'EINVAL');
        await expectRejection(() => v.m.rename(ROOT, d, '.', d, 'x'), 'EINVAL', 'EBUSY');
      });

      it('a directory has nlink 2 plus its subdirectories', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'f');
        assert.equal((await v.attr(d)).nlink, 2, 'files do not count');
        const a = await v.mkdir(d, 'a');
        await v.mkdir(d, 'b');
        await v.mkdir(a, 'c');
        assert.equal((await v.attr(d)).nlink, 4);
        assert.equal((await v.attr(a)).nlink, 3);
        await v.m.rmdir(ROOT, d, 'b');
        assert.equal((await v.attr(d)).nlink, 3);
      });

      it('creating or removing an entry updates the parent mtime and ctime', async () => {
        const d = await v.scratch();
        const old = { mtime: 1000, mtimensec: 0, ctime: 1000, ctimensec: 0 };
        const backdate = () => v.m.setattr(ROOT, d, SET_MTIME | SET_CTIME, old);
        const checkTouched = async (what: string) => {
          const a = await v.attr(d);
          assert.ok(a.mtime > 1000 && a.ctime > 1000, `${what} touches mtime and ctime (got ${a.mtime}, ${a.ctime})`);
        };
        await backdate();
        assert.equal((await v.attr(d)).mtime, 1000);
        await v.mkfile(d, 'f');
        await checkTouched('mknod');
        await backdate();
        await v.mkdir(d, 'sub');
        await checkTouched('mkdir');
        await backdate();
        await v.m.unlink(ROOT, d, 'f');
        await checkTouched('unlink');
        await backdate();
        await v.m.rmdir(ROOT, d, 'sub');
        await checkTouched('rmdir');
      });

      it('the mode of a new node respects the umask', async () => {
        const d = await v.scratch();
        const ctx = { ...userContext(0, 0), umask: 0o027 };
        assert.equal((await v.m.mkdir(ctx, d, 'dir', 0o777)).attr.mode, 0o750);
        assert.equal((await v.m.mknod(ctx, d, 'file', TYPE_FILE, 0o666)).attr.mode, 0o640);
        const c = await v.m.create(ctx, d, 'created', 0o666, O_RDWR);
        await v.m.release(ctx, c.inode);
        assert.equal(c.attr.mode, 0o640);
        assert.equal((await v.m.mkdir(ROOT, d, 'nomask', 0o777)).attr.mode, 0o777, 'no umask in the context: mode as given');
        assert.equal((await v.m.symlink(ctx, d, 'sym', 'x')).attr.mode, 0o777, 'symlinks ignore the umask');
      });

      it('new nodes belong to the caller', async () => {
        const d = await v.scratch(0o777);
        const a = (await v.m.mkdir(alice, d, 'mine', 0o777)).attr;
        assert.equal(a.uid, alice.uid);
        assert.equal(a.gid, alice.gid);
      });

      it("lookup of '.' and '..' gives the directory and its parent", async () => {
        const d = await v.scratch();
        const sub = await v.mkdir(d, 'sub');
        assert.equal((await v.m.lookup(ROOT, sub, '.')).inode, sub);
        assert.equal((await v.m.lookup(ROOT, sub, '..')).inode, d);
        assert.equal((await v.m.lookup(ROOT, ROOT_INODE, '..')).inode, ROOT_INODE);
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('setattr', () => {
      const v = useVolume(newUrl);

      it('sets mode, uid, gid, atime and mtime as the SET_ bits say', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const before = await v.attr(f);
        const r = await v.m.setattr(ROOT, f, SET_MODE, { mode: 0o4711, uid: 7 });
        assert.equal(r.attr.mode, 0o4711);
        assert.equal(r.attr.uid, before.uid, 'uid not in the mask: unchanged');
        assert.deepEqual(await v.attr(f), r.attr, 'returned attr equals getattr');
        const o = await v.m.setattr(ROOT, f, SET_UID | SET_GID, { uid: 7, gid: 8 });
        assert.equal(o.attr.uid, 7);
        assert.equal(o.attr.gid, 8);
        const t = await v.m.setattr(ROOT, f, SET_ATIME | SET_MTIME, { atime: 1234, atimensec: 5, mtime: 5678, mtimensec: 9 });
        assert.deepEqual([t.attr.atime, t.attr.atimensec, t.attr.mtime, t.attr.mtimensec], [1234, 5, 5678, 9]);
        assert.ok(sec(t.attr, 'ctime') >= sec(before, 'ctime'), 'ctime moves forward');
        const now = await v.m.setattr(ROOT, f, SET_MTIME_NOW, {});
        assert.ok(Math.abs(now.attr.mtime - Date.now() / 1000) < 600, 'SET_MTIME_NOW sets the current time');
        assert.equal(now.attr.atime, 1234, 'atime untouched');
      });

      it('SET_SIZE truncates or extends the length', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.write(f, 0, 10_000);
        assert.equal((await v.m.setattr(ROOT, f, SET_SIZE, { length: 100 })).attr.length, 100);
        assert.equal((await v.attr(f)).length, 100);
        assert.ok(dataEnd(await v.m.readChunk(ROOT, f, 0)) <= 100);
        assert.equal((await v.m.setattr(ROOT, f, SET_SIZE, { length: 1 << 20 })).attr.length, 1 << 20);
      });

      it('a non-root owner may not give a file away (EPERM) but may chgrp to a group it is in', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.chown(f, alice.uid, alice.gid);
        await expectCode(v.m.setattr(alice, f, SET_UID, { uid: bob.uid }), 'EPERM');
        assert.equal((await v.m.setattr(alice, f, SET_UID, { uid: alice.uid })).attr.uid, alice.uid, 'chown to oneself is fine');
        assert.equal((await v.m.setattr(alice, f, SET_GID, { gid: 2000 })).attr.gid, 2000);
        await expectCode(v.m.setattr(alice, f, SET_GID, { gid: 3000 }), 'EPERM');
        await expectCode(v.m.setattr(bob, f, SET_GID, { gid: bob.gid }), 'EPERM');
        await expectCode(v.m.setattr(bob, f, SET_MODE, { mode: 0o777 }), 'EPERM');
        await expectCode(v.m.setattr(bob, f, SET_MTIME, { mtime: 1, mtimensec: 0 }), 'EPERM');
        assert.equal((await v.m.setattr(userContext(0, 0), f, SET_UID, { uid: bob.uid })).attr.uid, bob.uid, 'root may');
      });

      it('chmod by a non-root owner keeps the sticky bit on a file, as Linux does', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.chown(f, alice.uid, 3000);
        const r = await v.m.setattr(alice, f, SET_MODE, { mode: 0o1755 });
        assert.equal(r.attr.mode & 0o7777, 0o1755, `mode ${r.attr.mode.toString(8)}`);
        assert.equal((await v.attr(f)).mode & 0o7777, 0o1755);
        const g = await v.m.setattr(alice, f, SET_MODE, { mode: 0o3755 });
        assert.equal(g.attr.mode & 0o7777, 0o1755, 'setgid for a group she is not in is still dropped');
      });

      it('chown by a non-root user clears setuid and setgid', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.chown(f, alice.uid, alice.gid);
        await v.chmod(f, 0o6755);
        const r = await v.m.setattr(alice, f, SET_GID, { gid: 2000 });
        assert.equal(r.attr.mode & 0o6000, 0, `mode ${r.attr.mode.toString(8)}`);
        assert.equal(r.attr.mode & 0o777, 0o755);
      });
    });

    describe('permissions', () => {
      const v = useVolume(newUrl);

      it('a user cannot create or remove in a directory without w or x (EACCES); root can', async () => {
        const d = await v.scratch();
        const noW = await v.mkdir(d, 'noW', 0o555);
        const noX = await v.mkdir(d, 'noX', 0o666);
        await v.mkfile(noW, 'f');
        for (const dir of [noW, noX]) {
          await expectCode(v.m.mknod(alice, dir, 'x', TYPE_FILE, 0o644), 'EACCES');
          await expectCode(v.m.mkdir(alice, dir, 'x', 0o755), 'EACCES');
          await expectCode(v.m.create(alice, dir, 'x', 0o644, O_RDWR), 'EACCES');
          await expectCode(v.m.symlink(alice, dir, 'x', 't'), 'EACCES');
        }
        await expectCode(v.m.unlink(alice, noW, 'f'), 'EACCES');
        const su = userContext(0, 0);
        await v.m.mknod(su, noW, 'byroot', TYPE_FILE, 0o644);
        await v.m.unlink(su, noW, 'byroot');
      });

      it('the owner bits apply to the owner, group bits to members', async () => {
        const d = await v.scratch();
        const own = await v.mkdir(d, 'own', 0o077);
        await v.chown(own, alice.uid, 5);
        await expectCode(v.m.mknod(alice, own, 'x', TYPE_FILE, 0o644), 'EACCES');
        const grp = await v.mkdir(d, 'grp', 0o070);
        await v.chown(grp, 5, 2000);
        await v.m.mknod(alice, grp, 'x', TYPE_FILE, 0o644);
        await expectCode(v.m.mknod(bob, grp, 'y', TYPE_FILE, 0o644), 'EACCES');
      });

      it('walk looks a path up in one call: stops after a non-directory, reports the first failing name', async () => {
        const d = await v.scratch();
        const a = await v.mkdir(d, 'a');
        const b = await v.mkdir(a, 'b');
        const f = await v.mkfile(b, 'f');
        const s = (await v.m.symlink(ROOT, b, 's', '/elsewhere')).inode;
        const all = await v.m.walk(ROOT, d, ['a', 'b', 'f']);
        assert.deepEqual(all.found.map((r) => r.inode), [a, b, f]);
        assert.equal(all.error, undefined);
        assert.deepEqual(all.found[2]!.attr, await v.attr(f), 'attributes as getattr gives them');
        const missing = await v.m.walk(ROOT, d, ['a', 'b', 'nope', 'x']);
        assert.deepEqual(missing.found.map((r) => r.inode), [a, b]);
        assert.equal(missing.error?.code, 'ENOENT');
        const past = await v.m.walk(ROOT, d, ['a', 'b', 'f', 'x']);
        assert.deepEqual(past.found.map((r) => r.inode), [a, b, f], 'stops after a file');
        assert.equal(past.error, undefined);
        const link = await v.m.walk(ROOT, d, ['a', 'b', 's', 'x']);
        assert.deepEqual(link.found.map((r) => r.inode), [a, b, s], 'stops after a symlink: the caller follows it');
        assert.equal((await v.m.walk(ROOT, d, ['a', '..', 'a'])).found.map((r) => r.inode).join(), [a, d, a].join(), "'..' as lookup gives it");
        assert.equal((await v.m.walk(ROOT, d, ['a', 'c'.repeat(256)])).error?.code, 'ENAMETOOLONG');
        const noX = await v.mkdir(d, 'noX', 0o666);
        await v.mkfile(noX, 'g');
        const denied = await v.m.walk(alice, d, ['noX', 'g']);
        assert.deepEqual(denied.found.map((r) => r.inode), [noX]);
        assert.equal(denied.error?.code, 'EACCES');
        assert.deepEqual(await v.m.walk(ROOT, d, []), { found: [] });
        assert.equal((await v.m.resolve(ROOT, d, 'a/b/f')).inode, f);
        await expectCode(v.m.resolve(ROOT, d, 'a/b/f/x'), 'ENOTDIR');
        await expectCode(v.m.resolve(ROOT, d, 'a/nope/f'), 'ENOENT');
      });

      it('lookup needs x on the directory; readdir needs r', async () => {
        const d = await v.scratch();
        const noX = await v.mkdir(d, 'noX', 0o666);
        const noR = await v.mkdir(d, 'noR', 0o333);
        await v.mkfile(noX, 'f');
        await v.mkfile(noR, 'f');
        await expectCode(v.m.lookup(alice, noX, 'f', true), 'EACCES');
        await v.m.lookup(alice, noR, 'f', true);
        await expectCode(v.m.readdir(alice, noR), 'EACCES');
        assert.equal((await v.m.lookup(userContext(0, 0), noX, 'f', true)).attr.type, TYPE_FILE, 'root bypasses');
      });

      it('access and open check the mode bits', async () => {
        const d = await v.scratch();
        const secret = await v.mkfile(d, 'secret', 0o600);
        const pub = await v.mkfile(d, 'pub', 0o644);
        await expectCode(v.m.access(alice, secret, MODE_R), 'EACCES');
        await v.m.access(alice, pub, MODE_R);
        await expectCode(v.m.access(alice, pub, MODE_W), 'EACCES');
        await expectCode(v.m.open(alice, secret, O_RDONLY), 'EACCES');
        await expectCode(v.m.open(alice, pub, O_WRONLY), 'EACCES');
        await v.m.open(alice, pub, O_RDONLY);
        await v.m.release(alice, pub);
        await v.m.access(userContext(0, 0), secret, MODE_R | MODE_W);
      });

      it('sticky directory: only the owner of the file or of the directory may unlink or rename', async () => {
        const d = await v.scratch();
        const tmp = await v.mkdir(d, 'tmp', 0o1777);
        await v.chown(tmp, carol.uid, carol.gid);
        await v.m.mknod(alice, tmp, 'a1', TYPE_FILE, 0o666);
        await v.m.mknod(alice, tmp, 'a2', TYPE_FILE, 0o666);
        await v.m.mknod(alice, tmp, 'a3', TYPE_FILE, 0o666);
        await v.m.mknod(bob, tmp, 'b1', TYPE_FILE, 0o666);
        await expectCode(v.m.unlink(bob, tmp, 'a1'), 'EPERM', 'EACCES');
        await expectCode(v.m.rename(bob, tmp, 'a1', tmp, 'mine'), 'EPERM', 'EACCES');
        await expectCode(v.m.rename(bob, tmp, 'b1', tmp, 'a1'), 'EPERM', 'EACCES');
        await v.m.rename(alice, tmp, 'a1', tmp, 'a1-renamed');
        await v.m.unlink(alice, tmp, 'a1-renamed');
        await v.m.unlink(carol, tmp, 'a2');
        await v.m.rename(carol, tmp, 'a3', tmp, 'a3-by-dir-owner');
        await v.m.unlink(bob, tmp, 'b1');
        assert.deepEqual(await v.names(tmp), ['a3-by-dir-owner']);
      });

      it('moving a directory to another parent needs write permission on it', async () => {
        const d = await v.scratch(0o777);
        await v.m.mkdir(bob, d, 'bobs', 0o755);
        const p2 = await v.mkdir(d, 'p2', 0o777);
        await expectCode(v.m.rename(alice, d, 'bobs', p2, 'bobs'), 'EACCES');
        await v.m.rename(alice, d, 'bobs', d, 'renamed');
        await v.m.rename(bob, d, 'renamed', p2, 'bobs');
      });

      it('setgid directory: new nodes take its group, subdirectories keep the bit', async () => {
        const d = await v.scratch();
        const sg = await v.mkdir(d, 'sg', 0o777);
        await v.chown(sg, 0, 500);
        await v.chmod(sg, 0o2777);
        const f = await v.m.mknod(alice, sg, 'f', TYPE_FILE, 0o644);
        assert.equal(f.attr.gid, 500);
        const sub = await v.m.mkdir(alice, sg, 'sub', 0o755);
        assert.equal(sub.attr.gid, 500);
        assert.equal(sub.attr.mode & 0o2000, 0o2000, `mode ${sub.attr.mode.toString(8)}`);
        const plain = await v.m.mkdir(alice, d, 'plain', 0o755);
        assert.equal(plain.attr.gid, alice.gid, 'outside: the caller group');
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('hard links', () => {
      const v = useVolume(newUrl);

      it('link adds names for one inode in one and in several directories', async () => {
        const d1 = await v.scratch();
        const d2 = await v.scratch();
        const f = await v.mkfile(d1, 'a');
        const r = await v.m.link(ROOT, f, d1, 'b');
        assert.equal(r.attr.nlink, 2);
        await v.m.link(ROOT, f, d1, 'c');
        await v.m.link(ROOT, f, d2, 'x');
        await v.m.link(ROOT, f, d2, 'y');
        assert.equal((await v.attr(f)).nlink, 5);
        for (const [dir, n] of [[d1, 'a'], [d1, 'b'], [d1, 'c'], [d2, 'x'], [d2, 'y']] as const) {
          assert.equal(await v.ino(dir, n), f, n);
        }
        await v.m.unlink(ROOT, d1, 'a');
        await v.m.unlink(ROOT, d2, 'x');
        assert.equal((await v.attr(f)).nlink, 3);
        assert.equal(await v.ino(d2, 'y'), f);
        await v.m.unlink(ROOT, d1, 'b');
        await v.m.unlink(ROOT, d1, 'c');
        assert.equal((await v.attr(f)).nlink, 1);
        await v.m.unlink(ROOT, d2, 'y');
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
      });

      it('renaming one of several links keeps track of where the others are', async () => {
        const d1 = await v.scratch();
        const d2 = await v.scratch();
        const d3 = await v.scratch();
        const f = await v.mkfile(d1, 'a');
        await v.m.link(ROOT, f, d1, 'b');
        await v.m.link(ROOT, f, d2, 'c');
        await v.m.rename(ROOT, d1, 'a', d3, 'a');
        await v.m.unlink(ROOT, d1, 'b');
        await v.invariants();
        await v.m.unlink(ROOT, d2, 'c');
        const a = await v.attr(f);
        assert.equal(a.nlink, 1);
        assert.ok(a.parent === 0 || a.parent === d3, `parent ${a.parent}`);
        await v.invariants();
        const g = await v.mkfile(d2, 'g');
        await v.m.link(ROOT, g, d1, 'g');
        await v.m.rename(ROOT, d3, 'a', d1, 'g');
        assert.equal((await v.attr(g)).nlink, 1, 'a multi-link target loses one link');
        assert.equal(await v.ino(d2, 'g'), g);
        await v.invariants();
      });

      it('link refuses directories (EPERM), existing names (EEXIST), missing inodes (ENOENT)', async () => {
        const d = await v.scratch();
        const sub = await v.mkdir(d, 'sub');
        const f = await v.mkfile(d, 'f');
        await expectCode(v.m.link(ROOT, sub, d, 'sub2'), 'EPERM');
        await expectCode(v.m.link(ROOT, f, d, 'sub'), 'EEXIST');
        await expectCode(v.m.link(ROOT, 999_999, d, 'g'), 'ENOENT');
        await expectCode(v.m.link(ROOT, f, f, 'g'), 'ENOTDIR');
      });

      it('a link updates the ctime of the inode and the parent mtime', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.m.setattr(ROOT, d, SET_MTIME, { mtime: 1000, mtimensec: 0 });
        await v.m.setattr(ROOT, f, SET_CTIME, { ctime: 1000, ctimensec: 0 });
        const r = await v.m.link(ROOT, f, d, 'g');
        assert.ok((await v.attr(d)).mtime > 1000, 'parent mtime');
        assert.ok(r.attr.ctime > 1000, 'inode ctime');
        assert.deepEqual(r.attr, await v.attr(f));
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('unlink and rmdir', () => {
      const v = useVolume(newUrl);

      it('rmdir: ENOTEMPTY, ENOTDIR for a file, ENOENT; unlink: EISDIR for a directory, ENOENT', async () => {
        const d = await v.scratch();
        const full = await v.mkdir(d, 'full');
        await v.mkfile(full, 'x');
        await v.mkfile(d, 'f');
        await expectCode(v.m.rmdir(ROOT, d, 'full'), 'ENOTEMPTY');
        await expectCode(v.m.rmdir(ROOT, d, 'f'), 'ENOTDIR');
        await expectCode(v.m.rmdir(ROOT, d, 'nope'), 'ENOENT');
        await expectCode(v.m.unlink(ROOT, d, 'full'), 'EISDIR', 'EPERM');
        await expectCode(v.m.unlink(ROOT, d, 'nope'), 'ENOENT');
        assert.deepEqual(await v.names(d), ['f', 'full']);
      });

      it('unlink and rmdir return the inode and free it', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const s = await v.mkdir(d, 's');
        assert.equal((await v.m.unlink(ROOT, d, 'f')).inode, f);
        assert.equal((await v.m.rmdir(ROOT, d, 's')).inode, s);
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        await expectCode(v.m.getattr(ROOT, s), 'ENOENT');
        assert.deepEqual(await v.names(d), []);
        assert.equal((await v.attr(d)).nlink, 2);
      });

      it('statfs counts inodes and space up and down', async () => {
        const d = await v.scratch();
        const start = await v.m.statfs(ROOT);
        const f = await v.mkfile(d, 'f');
        await v.mkdir(d, 's');
        await v.mkfile(d, 'g');
        await v.m.symlink(ROOT, d, 'sym', 'x'.repeat(5000 - 1000));
        assert.equal(await v.usedInodes(), start.usedInodes + 4);
        await v.write(f, 0, 100_000);
        const grown = await v.m.statfs(ROOT);
        assert.ok(grown.usedSpace >= start.usedSpace + 100_000, `usedSpace grew by ${grown.usedSpace - start.usedSpace}`);
        await v.m.unlink(ROOT, d, 'f');
        await v.m.rmdir(ROOT, d, 's');
        await v.m.unlink(ROOT, d, 'g');
        await v.m.unlink(ROOT, d, 'sym');
        await v.drainDeleted();
        const end = await v.m.statfs(ROOT);
        assert.equal(end.usedInodes, start.usedInodes);
        assert.equal(end.usedSpace, start.usedSpace);
      });

      it("an unlinked file's slices reach the delete queue; ack clears them", async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const ids = [await v.write(f, 0, 1000), await v.write(f, 0, 4096, 1)];
        await v.m.unlink(ROOT, d, 'f');
        const pending = await v.drainDeleted();
        for (const id of ids) assert.ok(pending.includes(id), `slice ${id} pending`);
        await v.m.ackDeletedSlices(ids);
        const left = await v.drainDeleted();
        for (const id of ids) assert.ok(!left.includes(id), `slice ${id} acked`);
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('rename', () => {
      const v = useVolume(newUrl);

      it('moves a file within and across directories', async () => {
        const d1 = await v.scratch();
        const d2 = await v.scratch();
        const f = await v.mkfile(d1, 'a');
        const r = await v.m.rename(ROOT, d1, 'a', d1, 'b');
        assert.equal(r.inode, f);
        assert.deepEqual(await v.names(d1), ['b']);
        await v.m.rename(ROOT, d1, 'b', d2, 'c');
        assert.deepEqual(await v.names(d1), []);
        assert.equal(await v.ino(d2, 'c'), f);
        assert.equal((await v.attr(f)).parent, d2);
        await expectCode(v.m.rename(ROOT, d1, 'missing', d2, 'x'), 'ENOENT');
      });

      it('a file over a file replaces it and frees the old target', async () => {
        const d = await v.scratch();
        const src = await v.mkfile(d, 'src');
        const dst = await v.mkfile(d, 'dst');
        const id = await v.write(dst, 0, 5000);
        const used = await v.usedInodes();
        await v.m.rename(ROOT, d, 'src', d, 'dst');
        assert.deepEqual(await v.names(d), ['dst']);
        assert.equal(await v.ino(d, 'dst'), src);
        await expectCode(v.m.getattr(ROOT, dst), 'ENOENT');
        assert.equal(await v.usedInodes(), used - 1);
        assert.ok((await v.drainDeleted()).includes(id), 'old target slices queued');
      });

      it('a file over a hard-linked file only drops one link', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'src');
        const dst = await v.mkfile(d, 'dst');
        await v.m.link(ROOT, dst, d, 'dst2');
        await v.m.rename(ROOT, d, 'src', d, 'dst');
        assert.equal((await v.attr(dst)).nlink, 1);
        assert.equal(await v.ino(d, 'dst2'), dst);
      });

      it('renaming one hard link over another of the same inode changes nothing', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'a');
        await v.m.link(ROOT, f, d, 'b');
        await v.m.rename(ROOT, d, 'a', d, 'b');
        assert.deepEqual(await v.names(d), ['a', 'b']);
        assert.equal((await v.attr(f)).nlink, 2);
      });

      it('same name is a no-op', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'a');
        const r = await v.m.rename(ROOT, d, 'a', d, 'a');
        assert.equal(r.inode, f);
        assert.equal(await v.ino(d, 'a'), f);
      });

      it('a directory over an empty directory; over a non-empty one ENOTEMPTY', async () => {
        const d = await v.scratch();
        const a = await v.mkdir(d, 'a');
        await v.mkfile(a, 'inside');
        const empty = await v.mkdir(d, 'empty');
        const full = await v.mkdir(d, 'full');
        await v.mkfile(full, 'x');
        await expectCode(v.m.rename(ROOT, d, 'a', d, 'full'), 'ENOTEMPTY', 'EEXIST');
        assert.equal((await v.attr(d)).nlink, 5);
        await v.m.rename(ROOT, d, 'a', d, 'empty');
        assert.equal(await v.ino(d, 'empty'), a);
        await expectCode(v.m.getattr(ROOT, empty), 'ENOENT');
        assert.equal((await v.attr(d)).nlink, 4, 'one subdirectory fewer');
        assert.deepEqual(await v.names(a), ['inside']);
      });

      it('file over directory EISDIR; directory over file ENOTDIR', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'f');
        await v.mkdir(d, 'dir');
        await expectCode(v.m.rename(ROOT, d, 'f', d, 'dir'), 'EISDIR');
        await expectCode(v.m.rename(ROOT, d, 'dir', d, 'f'), 'ENOTDIR');
        assert.deepEqual(await v.names(d), ['dir', 'f']);
      });

      it('a directory into its own subtree is EINVAL', async () => {
        const d = await v.scratch();
        const a = await v.mkdir(d, 'a');
        const b = await v.mkdir(a, 'b');
        await expectCode(v.m.rename(ROOT, d, 'a', a, 'x'), 'EINVAL');
        await expectCode(v.m.rename(ROOT, d, 'a', b, 'x'), 'EINVAL');
        await expectCode(v.m.rename(ROOT, d, 'a', b, 'x', RENAME_EXCHANGE), 'EINVAL', 'ENOENT');
      });

      it('moving a directory across parents fixes nlinks and its parent', async () => {
        const d1 = await v.scratch();
        const d2 = await v.scratch();
        const a = await v.mkdir(d1, 'a');
        await v.m.rename(ROOT, d1, 'a', d2, 'a');
        assert.equal((await v.attr(d1)).nlink, 2);
        assert.equal((await v.attr(d2)).nlink, 3);
        assert.equal((await v.attr(a)).parent, d2);
        assert.equal((await v.m.lookup(ROOT, a, '..')).inode, d2);
      });

      it('RENAME_NOREPLACE refuses an existing target (EEXIST)', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'a');
        await v.mkfile(d, 'b');
        await expectCode(v.m.rename(ROOT, d, 'a', d, 'b', RENAME_NOREPLACE), 'EEXIST');
        await v.m.rename(ROOT, d, 'a', d, 'c', RENAME_NOREPLACE);
        assert.deepEqual(await v.names(d), ['b', 'c']);
      });

      it('rename with expect replaces only the file it names, as it was (ESTALE otherwise, nothing changed)', async () => {
        const d = await v.scratch();
        const old = await v.mkfile(d, 'key');
        await v.write(old, 0, 100);
        const seen = await v.attr(old);
        const expect = { inode: old, mtime: seen.mtime, mtimensec: seen.mtimensec, length: seen.length };
        await v.mkfile(d, 'new1');
        await v.mkfile(d, 'new2');
        await expectCode(v.m.rename(ROOT, d, 'new1', d, 'key', 0, { ...expect, inode: old + 1000 }), 'ESTALE');
        await expectCode(v.m.rename(ROOT, d, 'new1', d, 'key', 0, { ...expect, length: 99 }), 'ESTALE');
        await expectCode(v.m.rename(ROOT, d, 'new1', d, 'none', 0, expect), 'ESTALE');
        await expectCode(v.m.rename(ROOT, d, 'new1', d, 'key', RENAME_NOREPLACE, expect), 'EINVAL');
        assert.equal(await v.ino(d, 'key'), old, 'a failed condition replaced nothing');
        await v.write(old, 100, 1); // the file changed since it was read
        await expectCode(v.m.rename(ROOT, d, 'new1', d, 'key', 0, expect), 'ESTALE');
        const now = await v.attr(old);
        const n1 = await v.ino(d, 'new1');
        await v.m.rename(ROOT, d, 'new1', d, 'key', 0, { inode: old, mtime: now.mtime, mtimensec: now.mtimensec, length: now.length });
        assert.equal(await v.ino(d, 'key'), n1);
        assert.deepEqual(await v.names(d), ['key', 'new2']);
        await v.invariants();
      });

      it('RENAME_EXCHANGE swaps a file and a directory in different parents', async () => {
        const p1 = await v.scratch();
        const p2 = await v.scratch();
        const f = await v.mkfile(p1, 'f');
        const dir = await v.mkdir(p2, 'dir');
        await v.mkfile(dir, 'child');
        await v.m.rename(ROOT, p1, 'f', p2, 'dir', RENAME_EXCHANGE);
        assert.equal(await v.ino(p1, 'f'), dir);
        assert.equal(await v.ino(p2, 'dir'), f);
        assert.equal((await v.attr(p1)).nlink, 3);
        assert.equal((await v.attr(p2)).nlink, 2);
        assert.equal((await v.attr(dir)).parent, p1);
        assert.equal((await v.attr(f)).parent, p2);
        assert.deepEqual(await v.names(dir), ['child']);
      });

      it('RENAME_EXCHANGE swaps two directories across parents and two files in one', async () => {
        const p1 = await v.scratch();
        const p2 = await v.scratch();
        const x = await v.mkdir(p1, 'x');
        const y = await v.mkdir(p2, 'y');
        await v.mkdir(x, 'inner');
        await v.m.rename(ROOT, p1, 'x', p2, 'y', RENAME_EXCHANGE);
        assert.equal(await v.ino(p1, 'x'), y);
        assert.equal(await v.ino(p2, 'y'), x);
        assert.equal((await v.attr(p1)).nlink, 3);
        assert.equal((await v.attr(p2)).nlink, 3);
        assert.equal((await v.attr(x)).parent, p2);
        assert.equal((await v.attr(y)).parent, p1);
        assert.equal((await v.attr(x)).nlink, 3);
        const a = await v.mkfile(p1, 'a');
        const b = await v.mkfile(p1, 'b');
        await v.m.rename(ROOT, p1, 'a', p1, 'b', RENAME_EXCHANGE);
        assert.equal(await v.ino(p1, 'a'), b);
        assert.equal(await v.ino(p1, 'b'), a);
      });

      it('RENAME_EXCHANGE with a missing target is ENOENT', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'a');
        await expectCode(v.m.rename(ROOT, d, 'a', d, 'nope', RENAME_EXCHANGE), 'ENOENT');
        await expectCode(v.m.rename(ROOT, d, 'nope', d, 'a', RENAME_EXCHANGE), 'ENOENT');
        assert.deepEqual(await v.names(d), ['a']);
      });

      it('moving a directory of 2,000 entries changes one entry and logs a small record', async () => {
        const d1 = await v.scratch();
        const d2 = await v.scratch();
        const big = await v.mkdir(d1, 'big');
        for (let i = 0; i < 2000; i++) await v.mkfile(big, `f${i}`);
        const r = await v.m.rename(ROOT, d1, 'big', d2, 'moved');
        assert.equal(r.inode, big);
        assert.equal(await v.ino(d2, 'moved'), big);
        assert.equal((await v.m.resolve(ROOT, d2, 'moved/f1999')).attr.type, TYPE_FILE);
        assert.equal((await listAll(v.m, big, false)).length, 2000);
        const [rec] = await v.m.readChangelog(r.version - 1, 1);
        assert.equal(rec!.version, r.version);
        const size = JSON.stringify(rec!.mutations).length;
        assert.ok(size < 2048, `rename record is ${size} bytes`);
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('readdir', () => {
      const v = useVolume(newUrl);
      const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

      it('orders names bytewise', async () => {
        const d = await v.scratch();
        const names = ['b', 'B', 'a', 'é', 'Z', '_x', '0', 'aa', 'a-', 'zz', '\u00ff', '\u{1F600}'];
        for (const n of names) await v.mkfile(d, n);
        assert.deepEqual(await v.names(d), [...names].sort(bytewise));
      });

      it('pages with after and limit', async () => {
        const d = await v.scratch();
        for (let i = 0; i < 50; i++) await v.mkfile(d, `n${i}`);
        const all = (await v.m.readdir(ROOT, d)).map((e) => e.name);
        assert.equal(all.length, 50);
        const paged = (await listAll(v.m, d, false, ROOT, 7)).map((e) => e.name);
        assert.deepEqual(paged, all);
        assert.deepEqual(
          (await v.m.readdir(ROOT, d, { after: 'n3', limit: 3 })).map((e) => e.name),
          all.filter((n) => bytewise(n, 'n3') > 0).slice(0, 3),
        );
        assert.deepEqual(await v.m.readdir(ROOT, d, { after: 'zzz' }), []);
      });

      it('plus gives the full attributes, equal to getattr', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.write(f, 0, 777);
        await v.mkdir(d, 'sub');
        await v.m.symlink(ROOT, d, 'sym', 'f');
        for (const e of await v.m.readdir(ROOT, d, { plus: true })) {
          assert.deepEqual(e.attr, await v.attr(e.inode), e.name);
        }
        const types = (await v.m.readdir(ROOT, d)).map((e) => e.attr.type);
        assert.deepEqual(types, [TYPE_FILE, TYPE_DIRECTORY, TYPE_SYMLINK], 'types without plus');
      });

      it('lists 10,000 entries of one directory fully', async () => {
        const d = await v.scratch();
        const names: string[] = [];
        for (let i = 0; i < 10_000; i++) names.push(`entry-${i}`);
        for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((n) => v.mkfile(d, n)));
        const listed = await v.m.readdir(ROOT, d, { plus: true });
        assert.deepEqual(listed.map((e) => e.name), names.sort(bytewise));
        assert.ok(listed.every((e) => e.attr.type === TYPE_FILE && e.attr.nlink === 1));
        assert.equal((await listAll(v.m, d, false, ROOT, 999)).length, 10_000);
      });
    });

    describe('data bookkeeping', () => {
      const v = useVolume(newUrl);

      it('newSliceId increases', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push(await v.m.newSliceId());
        for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${ids}`);
        assert.ok(ids[0]! > 0);
      });

      it('writeSlice appends slices, oldest first, and extends the length', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const a = await v.m.newSliceId();
        const r1 = await v.m.writeSlice(ROOT, f, 0, 0, { id: a, size: 1000, off: 0, len: 1000 });
        assert.equal(r1.attr.length, 1000);
        assert.equal(r1.sliceCount, 1);
        const b = await v.m.newSliceId();
        const r2 = await v.m.writeSlice(ROOT, f, 0, 500, { id: b, size: 2000, off: 100, len: 1000 });
        assert.equal(r2.attr.length, 1500);
        assert.equal(r2.sliceCount, 2);
        assert.deepEqual(await v.m.readChunk(ROOT, f, 0), [
          { pos: 0, id: a, size: 1000, off: 0, len: 1000 },
          { pos: 500, id: b, size: 2000, off: 100, len: 1000 },
        ]);
        await v.write(f, 0, 10);
        assert.equal((await v.attr(f)).length, 1500, 'a write inside does not shrink');
        const c = await v.write(f, 4096, 100, 2);
        assert.equal((await v.attr(f)).length, 2 * CHUNK_SIZE + 4096 + 100);
        assert.deepEqual(await v.m.readChunk(ROOT, f, 1), []);
        assert.deepEqual(await v.m.readChunk(ROOT, f, 2), [{ pos: 4096, id: c, size: 100, off: 0, len: 100 }]);
      });

      it('truncate cuts the visible data; extending again shows a hole', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.write(f, 0, 3000);
        await v.write(f, 0, 1000, 1);
        assert.equal((await v.m.truncate(ROOT, f, 700)).attr.length, 700);
        assert.ok(dataEnd(await v.m.readChunk(ROOT, f, 0)) <= 700, 'chunk 0 cut at 700');
        assert.equal(dataEnd(await v.m.readChunk(ROOT, f, 1)), 0, 'chunk 1 gone');
        assert.equal((await v.m.truncate(ROOT, f, CHUNK_SIZE + 5000)).attr.length, CHUNK_SIZE + 5000);
        assert.ok(dataEnd(await v.m.readChunk(ROOT, f, 0)) <= 700, 'the extension reads as zeros');
        assert.equal(dataEnd(await v.m.readChunk(ROOT, f, 1)), 0, 'chunk 1 reads as zeros');
        assert.equal((await v.m.truncate(ROOT, f, 0)).attr.length, 0);
        assert.equal(dataEnd(await v.m.readChunk(ROOT, f, 0)), 0);
      });

      it('fallocate extends the length, KEEP_SIZE does not; PUNCH_HOLE makes a hole', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const id = await v.write(f, 0, 1000);
        assert.equal((await v.m.fallocate(ROOT, f, 0, 0, 5000)).attr.length, 5000);
        assert.equal((await v.m.fallocate(ROOT, f, FALLOC_KEEP_SIZE, 0, 10_000)).attr.length, 5000);
        assert.equal((await v.m.fallocate(ROOT, f, 0, 6000, 100)).attr.length, 6100);
        const segs = visible(await v.m.readChunk(ROOT, f, 0));
        assert.equal(byteAt(segs, 999), `${id}@999`, 'data kept');
        await v.m.fallocate(ROOT, f, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, 100, 200);
        const punched = visible(await v.m.readChunk(ROOT, f, 0));
        assert.equal(byteAt(punched, 99), `${id}@99`);
        assert.equal(byteAt(punched, 100), 'hole');
        assert.equal(byteAt(punched, 299), 'hole');
        assert.equal(byteAt(punched, 300), `${id}@300`);
        assert.equal((await v.attr(f)).length, 6100);
      });

      it('copyFileRange shares the slices of the source range', async () => {
        const d = await v.scratch();
        const src = await v.mkfile(d, 'src');
        const dst = await v.mkfile(d, 'dst');
        await v.write(src, 0, 3000);
        await v.write(src, 1000, 500);
        const r = await v.m.copyFileRange(ROOT, src, 500, dst, 100, 2000);
        assert.equal(r.copied, 2000);
        assert.equal(r.attr.length, 2100);
        assert.equal((await v.attr(dst)).length, 2100);
        const from = visible(await v.m.readChunk(ROOT, src, 0));
        const to = visible(await v.m.readChunk(ROOT, dst, 0));
        assert.equal(byteAt(to, 99), 'hole');
        for (let p = 100; p < 2100; p += 50) assert.equal(byteAt(to, p), byteAt(from, p - 100 + 500), `byte ${p}`);
        assert.equal(byteAt(to, 2099), byteAt(from, 2499));
        const tail = await v.m.copyFileRange(ROOT, src, 2500, dst, 0, 10_000);
        assert.equal(tail.copied, 500, 'stops at the end of the source');
      });

      it('copyFileRange across chunk boundaries maps every byte', async () => {
        const d = await v.scratch();
        const src = await v.mkfile(d, 'src');
        const dst = await v.mkfile(d, 'dst');
        await v.write(src, CHUNK_SIZE - 1000, 1000, 0);
        await v.write(src, 0, 1000, 1);
        const offIn = CHUNK_SIZE - 500;
        const offOut = 2 * CHUNK_SIZE - 200;
        const r = await v.m.copyFileRange(ROOT, src, offIn, dst, offOut, 1000);
        assert.equal(r.copied, 1000);
        assert.equal(r.attr.length, offOut + 1000);
        const ks = [0, 1, 199, 200, 201, 499, 500, 501, 799, 800, 999, ...Array.from({ length: 40 }, (_, i) => i * 25)];
        const from = await fileBytes(v.m, src, ks.map((k) => offIn + k));
        assert.ok(from.every((b) => b !== 'hole'), 'source range is all data');
        assert.deepEqual(await fileBytes(v.m, dst, ks.map((k) => offOut + k)), from);
        assert.deepEqual(await fileBytes(v.m, dst, [0, offOut - 1]), ['hole', 'hole']);
      });

      it('truncate: EISDIR on a directory; it gives space back', async () => {
        const d = await v.scratch();
        await expectCode(v.m.truncate(ROOT, d, 0), 'EISDIR', 'EPERM');
        const f = await v.mkfile(d, 'f');
        const before = (await v.m.statfs(ROOT)).usedSpace;
        await v.write(f, 0, 1 << 20);
        assert.ok((await v.m.statfs(ROOT)).usedSpace >= before + (1 << 20));
        await v.m.truncate(ROOT, f, 0);
        assert.equal((await v.m.statfs(ROOT)).usedSpace, before);
      });

      it('compaction replaces a chunk prefix only while it is unchanged', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const ids = [await v.write(f, 0, 1000), await v.write(f, 500, 1000), await v.write(f, 1500, 500)];
        await v.write(f, 100, 10);
        await v.write(f, 1900, 10);
        const fragmented = await v.m.listFragmentedChunks(5, 1000);
        assert.deepEqual(fragmented.find((c) => c.ino === f), { ino: f, indx: 0, count: 5 });
        const old = (await v.m.readChunk(ROOT, f, 0)).slice(0, 3);
        const merged = { pos: 0, id: await v.m.newSliceId(), size: 2000, off: 0, len: 2000 };
        assert.equal(await v.m.replaceSlices(f, 0, old, merged), true);
        const now = await v.m.readChunk(ROOT, f, 0);
        assert.equal(now.length, 3);
        assert.deepEqual(now[0], merged);
        assert.equal(await v.m.replaceSlices(f, 0, old, { ...merged, id: await v.m.newSliceId() }), false, 'stale prefix');
        const pending = await v.drainDeleted();
        for (const id of ids) assert.ok(pending.includes(id), `replaced slice ${id} queued`);
        assert.ok(!pending.includes(merged.id));
        assert.ok(!(await v.m.listFragmentedChunks(5, 1000)).some((c) => c.ino === f));
      });

      it('writeSlice AT_END lands at the length, split at a chunk boundary; its slice is freed once', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const a = await v.m.newSliceId();
        const r1 = await v.m.writeSlice(ROOT, f, 7, AT_END, { id: a, size: 1000, off: 0, len: 1000 });
        assert.equal(r1.attr.length, 1000, 'indx is ignored: the first append starts at 0');
        await v.m.truncate(ROOT, f, CHUNK_SIZE - 100);
        const b = await v.m.newSliceId();
        const r2 = await v.m.writeSlice(ROOT, f, 0, AT_END, { id: b, size: 300, off: 0, len: 300 });
        assert.equal(r2.attr.length, CHUNK_SIZE + 200);
        assert.equal(r2.sliceCount, 1, 'the count of the chunk it ends in');
        assert.deepEqual(await fileBytes(v.m, f, [999, 1000, CHUNK_SIZE - 101, CHUNK_SIZE - 100, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 199]), [
          `${a}@999`, 'hole', 'hole', `${b}@0`, `${b}@99`, `${b}@100`, `${b}@299`,
        ]);
        await expectCode(v.m.writeSlice(ROOT, f, 0, AT_END, { id: b, size: CHUNK_SIZE + 1, off: 0, len: CHUNK_SIZE + 1 }), 'EINVAL');
        await v.m.unlink(ROOT, d, 'f');
        const pending = await v.drainDeleted();
        assert.equal(pending.filter((id) => id === b).length, 1, 'both pieces released, the slice queued once');
        assert.ok(pending.includes(a));
      });

      it('shared slices are freed only when the last file using them goes', async () => {
        const d = await v.scratch();
        const src = await v.mkfile(d, 'src');
        const dst = await v.mkfile(d, 'dst');
        const id = await v.write(src, 0, 4000);
        await v.m.copyFileRange(ROOT, src, 0, dst, 0, 4000);
        await v.m.unlink(ROOT, d, 'src');
        assert.ok(!(await v.drainDeleted()).includes(id), 'still used by dst');
        assert.equal(byteAt(visible(await v.m.readChunk(ROOT, dst, 0)), 10), `${id}@10`);
        await v.m.unlink(ROOT, d, 'dst');
        assert.ok((await v.drainDeleted()).includes(id), 'freed with dst');
      });

      it('keeps the invariants', () => v.invariants());
    });

    describe('open files', () => {
      const v = useVolume(newUrl);
      const openDeleted: number[] = [];

      it('an unlinked open file lives until the last close, then its slices are freed', async () => {
        const d = await v.scratch();
        const { inode: f } = await v.m.create(ROOT, d, 'f', 0o644, O_RDWR);
        const id = await v.write(f, 0, 8192);
        await v.m.open(ROOT, f, O_RDONLY);
        const used = await v.usedInodes();
        await v.m.unlink(ROOT, d, 'f');
        assert.deepEqual(await v.names(d), []);
        const a = await v.attr(f);
        assert.equal(a.nlink, 0);
        assert.equal(a.length, 8192);
        assert.equal(dataEnd(await v.m.readChunk(ROOT, f, 0)), 8192, 'data still readable');
        assert.ok(!(await v.drainDeleted()).includes(id), 'not freed while open');
        assert.equal(await v.m.release(ROOT, f), false, 'not the last close: nothing freed');
        assert.equal((await v.attr(f)).nlink, 0, 'still open once');
        assert.equal(await v.m.release(ROOT, f), true, 'the last close says it freed the file');
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        assert.equal(await v.usedInodes(), used - 1);
        assert.ok((await v.drainDeleted()).includes(id), 'freed after the last close');
        await v.m.ackDeletedSlices([id]);
        assert.ok(!(await v.drainDeleted()).includes(id));
      });

      it('a target replaced by rename while open lives until close', async () => {
        const d = await v.scratch();
        const { inode: old } = await v.m.create(ROOT, d, 'old', 0o644, O_RDWR);
        await v.mkfile(d, 'new');
        await v.m.rename(ROOT, d, 'new', d, 'old');
        assert.equal((await v.attr(old)).nlink, 0);
        openDeleted.push(old);
        await v.invariants(openDeleted);
        await v.m.release(ROOT, old);
        openDeleted.pop();
        await expectCode(v.m.getattr(ROOT, old), 'ENOENT');
      });

      it('unlink racing the last release never leaves an orphan', async () => {
        const d = await v.scratch();
        const inodes: number[] = [];
        for (let i = 0; i < 40; i++) {
          const { inode } = await v.m.create(ROOT, d, `f${i}`, 0o644, O_RDWR);
          inodes.push(inode);
          const late = async () => {
            for (let k = 0; k < i % 8; k++) await new Promise((r) => setImmediate(r));
            await v.m.release(ROOT, inode);
          };
          await Promise.all([v.m.unlink(ROOT, d, `f${i}`), late()]);
        }
        await v.invariants(openDeleted, inodes);
      });

      it('closing a linked file keeps it', async () => {
        const d = await v.scratch();
        const { inode: f } = await v.m.create(ROOT, d, 'f', 0o644, O_RDWR);
        await v.m.release(ROOT, f);
        assert.equal((await v.attr(f)).nlink, 1);
      });

      it('keeps the invariants', () => v.invariants(openDeleted));
    });

    describe('xattrs', () => {
      const v = useVolume(newUrl);

      it('mark their inode (FLAG_XATTRS, kept by chattr) and change its ctime', async () => {
        assert.equal((await v.m.load()).xattrFlags, true, 'a new volume keeps the mark');
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const a0 = await v.attr(f);
        assert.equal(a0.flags & FLAG_XATTRS, 0);
        await sleep(20);
        await v.m.setxattr(ROOT, f, 'user.a', Buffer.from('1'));
        const a1 = await v.attr(f);
        assert.ok(a1.flags & FLAG_XATTRS);
        assert.ok(a1.ctime * 1e9 + a1.ctimensec > a0.ctime * 1e9 + a0.ctimensec, 'ctime moved');
        // chattr sets only the user's flags: +i then -i leaves the mark
        await v.m.setattr(ROOT, f, SET_FLAGS, { flags: FLAG_IMMUTABLE });
        assert.equal((await v.attr(f)).flags, FLAG_IMMUTABLE | FLAG_XATTRS);
        await v.m.setattr(ROOT, f, SET_FLAGS, { flags: 0 });
        assert.equal((await v.attr(f)).flags, FLAG_XATTRS);
        // removing the last one keeps it (it means "may have"), and moves ctime again
        await sleep(20);
        await v.m.removexattr(ROOT, f, 'user.a');
        const a2 = await v.attr(f);
        assert.ok(a2.flags & FLAG_XATTRS);
        assert.ok(a2.ctime * 1e9 + a2.ctimensec > a1.ctime * 1e9 + a1.ctimensec);
      });

      it('set, get, list and remove', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.m.setxattr(ROOT, f, 'user.a', Buffer.from('one'));
        await v.m.setxattr(ROOT, f, 'user.b', Buffer.from([0, 1, 2, 255]));
        await v.m.setxattr(ROOT, f, 'user.empty', Buffer.alloc(0));
        assert.deepEqual(await v.m.getxattr(ROOT, f, 'user.a'), Buffer.from('one'));
        assert.deepEqual(await v.m.getxattr(ROOT, f, 'user.b'), Buffer.from([0, 1, 2, 255]));
        assert.equal((await v.m.getxattr(ROOT, f, 'user.empty')).length, 0);
        assert.deepEqual((await v.m.listxattr(ROOT, f)).sort(), ['user.a', 'user.b', 'user.empty']);
        await v.m.setxattr(ROOT, f, 'user.a', Buffer.from('two'));
        assert.deepEqual(await v.m.getxattr(ROOT, f, 'user.a'), Buffer.from('two'));
        await v.m.removexattr(ROOT, f, 'user.a');
        await expectCode(v.m.getxattr(ROOT, f, 'user.a'), 'ENODATA');
        assert.deepEqual((await v.m.listxattr(ROOT, f)).sort(), ['user.b', 'user.empty']);
        assert.deepEqual(await v.m.listxattr(ROOT, d), []);
      });

      it('XATTR_CREATE on an existing name EEXIST; XATTR_REPLACE or remove of a missing one ENODATA', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.m.setxattr(ROOT, f, 'user.x', Buffer.from('1'), XATTR_CREATE);
        await expectCode(v.m.setxattr(ROOT, f, 'user.x', Buffer.from('2'), XATTR_CREATE), 'EEXIST');
        await expectCode(v.m.setxattr(ROOT, f, 'user.y', Buffer.from('2'), XATTR_REPLACE), 'ENODATA');
        await v.m.setxattr(ROOT, f, 'user.x', Buffer.from('3'), XATTR_REPLACE);
        assert.deepEqual(await v.m.getxattr(ROOT, f, 'user.x'), Buffer.from('3'));
        await expectCode(v.m.getxattr(ROOT, f, 'user.missing'), 'ENODATA');
        await expectCode(v.m.removexattr(ROOT, f, 'user.missing'), 'ENODATA');
        await expectCode(v.m.getxattr(ROOT, 999_999, 'user.x'), 'ENOENT');
      });

      it('names up to 255 bytes and values up to 64 KiB', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const long = 'user.' + 'x'.repeat(250);
        await v.m.setxattr(ROOT, f, long, Buffer.alloc(65536, 7));
        assert.equal((await v.m.getxattr(ROOT, f, long)).length, 65536);
        await expectCode(v.m.setxattr(ROOT, f, long + 'x', Buffer.from('1')), 'ERANGE', 'ENAMETOOLONG');
        await expectCode(v.m.setxattr(ROOT, f, 'user.big', Buffer.alloc(65537)), 'E2BIG', 'ERANGE');
      });

      it('xattrs go away with their inode', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.m.setxattr(ROOT, f, 'user.x', Buffer.from('1'));
        await v.m.unlink(ROOT, d, 'f');
        await expectCode(v.m.listxattr(ROOT, f), 'ENOENT');
      });
    });

    describe('locks', () => {
      const v = useVolume(newUrl);
      const second = useSecondClient(v);
      const pid = process.pid;
      const lockFile = async () => v.mkfile(await v.scratch(), 'lock');

      it('flock: shared with shared, not with exclusive (EAGAIN), until unlocked', async () => {
        const f = await lockFile();
        await v.m.flock(ROOT, f, 'a', F_RDLCK, false);
        await v.m.flock(ROOT, f, 'b', F_RDLCK, false);
        await expectCode(v.m.flock(ROOT, f, 'c', F_WRLCK, false), 'EAGAIN');
        await v.m.flock(ROOT, f, 'a', F_UNLCK, false);
        await expectCode(v.m.flock(ROOT, f, 'c', F_WRLCK, false), 'EAGAIN');
        await v.m.flock(ROOT, f, 'b', F_UNLCK, false);
        await v.m.flock(ROOT, f, 'c', F_WRLCK, false);
        await expectCode(v.m.flock(ROOT, f, 'a', F_RDLCK, false), 'EAGAIN');
        await v.m.flock(ROOT, f, 'c', F_WRLCK, false);
        await v.m.flock(ROOT, f, 'c', F_UNLCK, false);
      });

      it('flock: the owner may upgrade alone; a blocking flock waits for the unlock', async () => {
        const f = await lockFile();
        await v.m.flock(ROOT, f, 'a', F_RDLCK, false);
        await v.m.flock(ROOT, f, 'a', F_WRLCK, false);
        let granted = false;
        const waiter = v.m.flock(ROOT, f, 'b', F_RDLCK, true).then(() => (granted = true));
        await sleep(100);
        assert.equal(granted, false, 'blocked while the writer holds it');
        await v.m.flock(ROOT, f, 'a', F_UNLCK, false);
        await waiter;
        assert.equal(granted, true);
        await v.m.flock(ROOT, f, 'b', F_UNLCK, false);
      });

      it('flock conflicts across clients, even with the same owner string', async () => {
        const f = await lockFile();
        await second.m.flock(ROOT, f, 'same', F_WRLCK, false);
        await expectCode(v.m.flock(ROOT, f, 'same', F_RDLCK, false), 'EAGAIN');
        await second.m.flock(ROOT, f, 'same', F_UNLCK, false);
        await v.m.flock(ROOT, f, 'same', F_RDLCK, false);
        await v.m.flock(ROOT, f, 'same', F_UNLCK, false);
      });

      it('getlk reports the conflicting range; setlk without blocking gives EAGAIN', async () => {
        const f = await lockFile();
        await v.m.setlk(ROOT, f, 'o1', false, F_WRLCK, 0, 99, 11);
        assert.deepEqual(await v.m.getlk(ROOT, f, 'o2', { type: F_RDLCK, start: 50, end: 60, pid }), {
          type: F_WRLCK,
          start: 0,
          end: 99,
          pid: 11,
        });
        assert.equal(await v.m.getlk(ROOT, f, 'o1', { type: F_WRLCK, start: 0, end: 10, pid }), undefined, 'own locks never conflict');
        assert.equal(await v.m.getlk(ROOT, f, 'o2', { type: F_WRLCK, start: 100, end: 200, pid }), undefined);
        await expectCode(v.m.setlk(ROOT, f, 'o2', false, F_RDLCK, 50, 60, pid), 'EAGAIN');
        await v.m.setlk(ROOT, f, 'o2', false, F_WRLCK, 100, MAX_OFFSET, pid);
        await v.m.setlk(ROOT, f, 'o1', false, F_UNLCK, 0, MAX_OFFSET, 11);
        await v.m.setlk(ROOT, f, 'o2', false, F_UNLCK, 0, MAX_OFFSET, pid);
      });

      it('read locks share; a write lock conflicts with them', async () => {
        const f = await lockFile();
        await v.m.setlk(ROOT, f, 'o1', false, F_RDLCK, 0, 9, pid);
        await v.m.setlk(ROOT, f, 'o2', false, F_RDLCK, 5, 20, pid);
        await expectCode(v.m.setlk(ROOT, f, 'o3', false, F_WRLCK, 9, 9, pid), 'EAGAIN');
        await v.m.setlk(ROOT, f, 'o3', false, F_WRLCK, 21, 30, pid);
      });

      it('one owner splits and merges its ranges', async () => {
        const f = await lockFile();
        await v.m.setlk(ROOT, f, 'o1', false, F_WRLCK, 0, 99, pid);
        await v.m.setlk(ROOT, f, 'o1', false, F_UNLCK, 40, 59, pid);
        await v.m.setlk(ROOT, f, 'o2', false, F_WRLCK, 40, 59, pid);
        await expectCode(v.m.setlk(ROOT, f, 'o2', false, F_WRLCK, 0, 10, pid), 'EAGAIN');
        await expectCode(v.m.setlk(ROOT, f, 'o3', false, F_RDLCK, 60, 60, pid), 'EAGAIN');
        const probe = (start: number, end: number) => v.m.getlk(ROOT, f, 'o3', { type: F_RDLCK, start, end, pid });
        assert.deepEqual(await probe(70, 70), { type: F_WRLCK, start: 60, end: 99, pid });
        await v.m.setlk(ROOT, f, 'o1', false, F_WRLCK, 100, 199, pid);
        assert.deepEqual(await probe(150, 150), { type: F_WRLCK, start: 60, end: 199, pid }, 'adjacent ranges merge');
        await v.m.setlk(ROOT, f, 'o1', false, F_RDLCK, 0, 9, pid);
        assert.equal(await probe(0, 5), undefined, 'downgraded to a read lock');
        await v.m.setlk(ROOT, f, 'o2', false, F_UNLCK, 0, MAX_OFFSET, pid);
        await v.m.setlk(ROOT, f, 'o1', false, F_UNLCK, 0, MAX_OFFSET, pid);
        assert.equal(await probe(0, MAX_OFFSET), undefined, 'all released');
      });

      it('a blocking setlk is granted once the holder unlocks', async () => {
        const f = await lockFile();
        await v.m.setlk(ROOT, f, 'o1', false, F_WRLCK, 0, 99, pid);
        let granted = false;
        const waiter = second.m.setlk(ROOT, f, 'o2', true, F_WRLCK, 50, 50, pid).then(() => (granted = true));
        await sleep(100);
        assert.equal(granted, false, 'blocked while held');
        await v.m.setlk(ROOT, f, 'o1', false, F_UNLCK, 0, MAX_OFFSET, pid);
        await waiter;
        assert.equal(granted, true);
        assert.deepEqual(await v.m.getlk(ROOT, f, 'o1', { type: F_RDLCK, start: 0, end: MAX_OFFSET, pid }), {
          type: F_WRLCK,
          start: 50,
          end: 50,
          pid,
        });
      });
    });

    describe('sessions', () => {
      const v = useVolume(newUrl);
      const second = useSecondClient(v);

      it('lists each client session; heartbeat moves it forward', async () => {
        const sessions = await v.m.listSessions();
        assert.equal(new Set(sessions.map((s) => s.sid)).size, 2);
        const mine = sessions.find((s) => s.sid === second.sid);
        assert.ok(mine, 'second session listed');
        assert.equal(mine.mountPoint, '/second');
        assert.equal(mine.pid, process.pid);
        assert.ok(mine.heartbeat > 0);
        await sleep(20);
        await second.m.heartbeat();
        const later = (await v.m.listSessions()).find((s) => s.sid === second.sid)!;
        assert.ok(later.heartbeat > mine.heartbeat, 'heartbeat advanced');
      });

      it('cleaning a stale session releases its locks and frees its open-but-deleted files', async () => {
        const m2 = await openMeta(v.url);
        const sid = await m2.newSession({ mountPoint: '/stale' });
        const d = await v.scratch();
        const lock = await v.mkfile(d, 'lock');
        await m2.flock(ROOT, lock, 'x', F_WRLCK, false);
        await m2.setlk(ROOT, lock, 'x', false, F_WRLCK, 0, MAX_OFFSET, 1);
        const { inode: f } = await m2.create(ROOT, d, 'f', 0o644, O_RDWR);
        const id = await m2.newSliceId();
        await m2.writeSlice(ROOT, f, 0, 0, { id, size: 100, off: 0, len: 100 });
        await m2.unlink(ROOT, d, 'f');
        assert.equal((await v.attr(f)).nlink, 0);
        await expectCode(v.m.flock(ROOT, lock, 'y', F_RDLCK, false), 'EAGAIN');

        await sleep(300);
        await v.m.heartbeat();
        await second.m.heartbeat();
        const cleaned = await v.m.cleanStaleSessions(200);
        assert.deepEqual(cleaned, [sid]);
        assert.ok(!(await v.m.listSessions()).some((s) => s.sid === sid));
        await v.m.flock(ROOT, lock, 'y', F_WRLCK, false);
        await v.m.setlk(ROOT, lock, 'y', false, F_WRLCK, 0, MAX_OFFSET, 2);
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        assert.ok((await v.drainDeleted()).includes(id), 'its slices are queued');
        await v.invariants();
        await m2.close();
      });

      // A session's first open of a file is recorded in the engine (the sustained table), so the last
      // unlink by any client keeps the inode until every session holding it has released it.
      it('a file open in one client survives its unlink by another until that client releases it', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        const id = await v.write(f, 0, 100);
        await second.m.open(ROOT, f, O_RDONLY);
        await v.m.unlink(ROOT, d, 'f');
        assert.equal((await second.m.getattr(ROOT, f)).nlink, 0, 'kept for the client holding it open');
        assert.ok(!(await v.drainDeleted()).includes(id), 'slices kept');
        await second.m.release(ROOT, f);
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        assert.ok((await v.drainDeleted()).includes(id), 'freed after the release');
      });

      it('the holder keeps writing after another client unlinked the file; a new open of it is ENOENT', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await second.m.open(ROOT, f, O_RDWR);
        await v.m.unlink(ROOT, d, 'f');
        const id = await newSliceIn(second.m, f, 4096);
        assert.equal((await second.m.getattr(ROOT, f)).length, 4096, 'written through the handle after the unlink');
        await expectCode(v.m.open(ROOT, f, O_RDONLY), 'ENOENT');
        assert.ok(!(await v.drainDeleted()).includes(id), 'kept while held');
        await second.m.release(ROOT, f);
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        assert.ok((await v.drainDeleted()).includes(id), 'freed with the last release');
      });

      it('a file held by two other clients lives until both release it; rename over it keeps it too', async () => {
        const third = await openMeta(v.url);
        await third.newSession({ mountPoint: '/third' });
        try {
          const d = await v.scratch();
          const f = await v.mkfile(d, 'f');
          const id = await v.write(f, 0, 100);
          await second.m.open(ROOT, f, O_RDONLY);
          await third.open(ROOT, f, O_RDONLY);
          await third.open(ROOT, f, O_RDONLY);
          await v.mkfile(d, 'g');
          await v.m.rename(ROOT, d, 'g', d, 'f');
          assert.equal((await v.attr(f)).nlink, 0);
          await second.m.release(ROOT, f);
          await third.release(ROOT, f);
          assert.equal((await v.attr(f)).nlink, 0, 'one handle of the third client still open');
          assert.ok(!(await v.drainDeleted()).includes(id), 'slices kept');
          await v.invariants([f]);
          await third.release(ROOT, f);
          await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
          assert.ok((await v.drainDeleted()).includes(id), 'freed after the last holder released it');
          await v.invariants();
        } finally {
          await third.closeSession();
          await third.close();
        }
      });

      it('the stale cleanup of a holding session frees the file another client unlinked, unless a live session holds it', async () => {
        const d = await v.scratch();
        const dead = await openMeta(v.url);
        const deadSid = await dead.newSession({ mountPoint: '/dead' });
        const f = await v.mkfile(d, 'f');
        const g = await v.mkfile(d, 'g');
        const idF = await v.write(f, 0, 100);
        const idG = await v.write(g, 0, 100);
        await dead.open(ROOT, f, O_RDONLY);
        await dead.open(ROOT, g, O_RDONLY);
        await second.m.open(ROOT, g, O_RDONLY);
        await v.m.unlink(ROOT, d, 'f');
        await v.m.unlink(ROOT, d, 'g');
        await dead.close(); // gone without closing its session or files
        await sleep(300);
        await v.m.heartbeat();
        await second.m.heartbeat();
        assert.deepEqual(await v.m.cleanStaleSessions(200), [deadSid]);
        await expectCode(v.m.getattr(ROOT, f), 'ENOENT');
        assert.equal((await v.attr(g)).nlink, 0, 'still held by the second client');
        const queued = await v.drainDeleted();
        assert.ok(queued.includes(idF) && !queued.includes(idG));
        await second.m.release(ROOT, g);
        await expectCode(v.m.getattr(ROOT, g), 'ENOENT');
        assert.ok((await v.drainDeleted()).includes(idG));
        await v.invariants();
      });

      it('closeSession removes the session', async () => {
        const m3 = await openMeta(v.url);
        const sid = await m3.newSession({});
        await m3.closeSession();
        assert.ok(!(await v.m.listSessions()).some((s) => s.sid === sid));
        await m3.close();
      });
    });

    describe('versions and changelog', () => {
      const v = useVolume(newUrl);

      /** Runs one operation and checks it produced exactly one version and one record named op. */
      async function oneVersion(op: string, fn: () => Promise<Versioned>): Promise<ChangeRecord> {
        const before = await v.m.currentVersion();
        const r = await fn();
        const now = await v.m.currentVersion();
        assert.equal(now, before + 1, `${op}: version +1`);
        assert.equal(r.version, now, `${op}: returns its version`);
        const recs = await v.m.readChangelog(before);
        assert.equal(recs.length, 1, `${op}: one record`);
        assert.equal(recs[0]!.version, now);
        assert.equal(recs[0]!.op, op);
        assert.ok(recs[0]!.mutations.length > 0, `${op}: describes a change`);
        return recs[0]!;
      }

      // Record names are the logical operation: regular files are 'create'd by mknod and create alike.
      it('every namespace-changing operation adds one version and returns it', async () => {
        const d = await v.scratch();
        const s = { f: 0, g: 0 };
        const made = (key: 'f' | 'g') => (r: { inode: number; version: number }) => ((s[key] = r.inode), r);
        const steps: Array<[string, () => Promise<Versioned>]> = [
          ['mkdir', () => v.m.mkdir(ROOT, d, 'sub', 0o755)],
          ['create', () => v.m.mknod(ROOT, d, 'f', TYPE_FILE, 0o644).then(made('f'))],
          ['create', () => v.m.create(ROOT, d, 'g', 0o644, O_RDWR).then(made('g'))],
          ['symlink', () => v.m.symlink(ROOT, d, 'sym', 'f')],
          ['link', () => v.m.link(ROOT, s.f, d, 'f2')],
          ['setattr', () => v.m.setattr(ROOT, s.f, SET_MODE, { mode: 0o600 })],
          ['write', async () => v.m.writeSlice(ROOT, s.f, 0, 0, { id: await v.m.newSliceId(), size: 10, off: 0, len: 10 })],
          ['truncate', () => v.m.truncate(ROOT, s.f, 5)],
          ['fallocate', () => v.m.fallocate(ROOT, s.f, 0, 0, 100)],
          ['copy', () => v.m.copyFileRange(ROOT, s.f, 0, s.g, 0, 5)],
          ['setxattr', () => v.m.setxattr(ROOT, s.f, 'user.k', Buffer.from('v'))],
          ['removexattr', () => v.m.removexattr(ROOT, s.f, 'user.k')],
          ['rename', () => v.m.rename(ROOT, d, 'f2', d, 'f3')],
          ['unlink', () => v.m.unlink(ROOT, d, 'f3')],
          ['rmdir', () => v.m.rmdir(ROOT, d, 'sub')],
        ];
        for (const [op, fn] of steps) await oneVersion(op, fn);
        await oneVersion('mknod', () => v.m.mknod(ROOT, d, 'fifo', TYPE_FIFO, 0o644));
        await v.m.release(ROOT, s.g);
      });

      it('reads, failed writes, sessions and locks leave the version alone', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'f');
        await v.m.setxattr(ROOT, f, 'user.k', Buffer.from('v'));
        const before = await v.m.currentVersion();
        await v.m.lookup(ROOT, d, 'f');
        await v.m.getattr(ROOT, f);
        await v.m.readdir(ROOT, d, { plus: true });
        await v.m.resolve(ROOT, d, 'f');
        await v.m.readChunk(ROOT, f, 0);
        await v.m.getxattr(ROOT, f, 'user.k');
        await v.m.listxattr(ROOT, f);
        await v.m.statfs(ROOT);
        await v.m.access(ROOT, f, MODE_R);
        await v.m.heartbeat();
        await v.m.listSessions();
        await v.m.flock(ROOT, f, 'o', F_WRLCK, false);
        await v.m.flock(ROOT, f, 'o', F_UNLCK, false);
        await v.m.setlk(ROOT, f, 'o', false, F_WRLCK, 0, 10, 1);
        await v.m.getlk(ROOT, f, 'p', { type: F_RDLCK, start: 0, end: 10, pid: 1 });
        await v.m.setlk(ROOT, f, 'o', false, F_UNLCK, 0, 10, 1);
        await codeOf(v.m.mkdir(ROOT, d, 'f', 0o755));
        await codeOf(v.m.unlink(ROOT, d, 'nope'));
        await codeOf(v.m.rename(ROOT, d, 'nope', d, 'x'));
        assert.equal(await v.m.currentVersion(), before);
      });

      it('records describe the change: mkdir logs its entry and attributes', async () => {
        const d = await v.scratch();
        const r = await v.m.mkdir(ROOT, d, 'sub', 0o755);
        const [rec] = await v.m.readChangelog(r.version - 1, 1);
        const muts = rec!.mutations;
        assert.ok(
          muts.some((x) => x.t === 'entry' && x.parent === d && x.name === 'sub' && x.ino === r.inode && x.type === TYPE_DIRECTORY),
          'entry mutation',
        );
        const attrOf = (ino: number) => muts.find((x): x is Extract<Mutation, { t: 'attr' }> => x.t === 'attr' && x.ino === ino);
        assert.deepEqual(attrOf(r.inode)?.attr, r.attr, 'attr mutation of the new directory');
        assert.equal(attrOf(d)?.attr.nlink, 3, 'attr mutation of the parent');
        assert.ok(rec!.ts > 0);
        const un = await v.m.rmdir(ROOT, d, 'sub');
        const [rm] = await v.m.readChangelog(un.version - 1, 1);
        assert.equal(rm!.op, 'rmdir');
        assert.ok(rm!.mutations.some((x) => x.t === 'rmentry' && x.parent === d && x.name === 'sub'));
        assert.ok(rm!.mutations.some((x) => x.t === 'rmattr' && x.ino === r.inode));
      });

      it('readChangelog reads in order from a version, with a limit', async () => {
        const d = await v.scratch();
        const start = await v.m.currentVersion();
        for (let i = 0; i < 10; i++) await v.mkfile(d, `f${i}`);
        const recs = await v.m.readChangelog(start);
        assert.deepEqual(
          recs.map((r) => r.version),
          Array.from({ length: 10 }, (_, i) => start + 1 + i),
        );
        assert.ok(recs.every((r) => r.op === 'create'));
        assert.deepEqual(
          (await v.m.readChangelog(start + 3, 2)).map((r) => r.version),
          [start + 4, start + 5],
        );
        assert.deepEqual(await v.m.readChangelog(await v.m.currentVersion()), []);
        await checkChangelog(v.m);
      });

      it('trimChangelog drops records up to a version', async () => {
        const upTo = (await v.m.currentVersion()) - 3;
        const all = await readAllChangelog(v.m);
        const dropped = await v.m.trimChangelog(upTo);
        assert.equal(dropped, all.filter((r) => r.version <= upTo).length);
        const left = await readAllChangelog(v.m);
        assert.deepEqual(
          left.map((r) => r.version),
          [upTo + 1, upTo + 2, upTo + 3],
        );
        assert.equal(await v.m.trimChangelog(upTo), 0);
      });
    });

    describe('changelog replay', () => {
      const v = useVolume(newUrl);

      /** A namespace exercising every kind of mutation. */
      async function populate(): Promise<void> {
        const m = v.m;
        const a = await v.mkdir(ROOT_INODE, 'a');
        const b = await v.mkdir(a, 'b', 0o700);
        const f = await v.mkfile(a, 'f');
        await v.write(f, 0, 5000);
        await v.write(f, 1000, 100);
        await v.write(f, 0, 300, 1);
        const g = await v.mkfile(b, 'g');
        await m.copyFileRange(ROOT, f, 100, g, 0, 2000);
        await m.link(ROOT, f, b, 'f-link');
        await m.symlink(ROOT, a, 'sym', 'b/g');
        await m.setxattr(ROOT, g, 'user.tag', Buffer.from([1, 2, 3]));
        await m.setxattr(ROOT, g, 'user.gone', Buffer.from('x'));
        await m.removexattr(ROOT, g, 'user.gone');
        await m.setattr(ROOT, g, SET_MODE | SET_UID | SET_GID, { mode: 0o640, uid: 5, gid: 6 });
        await m.truncate(ROOT, f, 4000);
        await m.fallocate(ROOT, g, 0, 0, 9000);
        await v.mkfile(a, 'victim');
        await m.rename(ROOT, b, 'g', a, 'victim');
        await m.rename(ROOT, a, 'b', ROOT_INODE, 'b-moved');
        const c = await v.mkdir(ROOT_INODE, 'c');
        await v.mkfile(c, 'x');
        await m.rename(ROOT, c, 'x', ROOT_INODE, 'b-moved', RENAME_EXCHANGE);
        await v.mkdir(ROOT_INODE, 'empty');
        await m.rmdir(ROOT, ROOT_INODE, 'empty');
        await m.unlink(ROOT, a, 'f');
        const open = await m.create(ROOT, a, 'open', 0o644, O_RDWR);
        await v.write(open.inode, 0, 10);
        await m.unlink(ROOT, a, 'open');
        await m.release(ROOT, open.inode);
      }

      it('applying every record of a volume to a fresh one yields the same namespace', async () => {
        await populate();
        await v.invariants();
        const b = await openMeta(await newUrl());
        try {
          await b.init(await v.m.load());
          for (const rec of await readAllChangelog(v.m)) await b.applyChangeRecord(rec);
          assert.deepEqual(await snapshot(b), await snapshot(v.m));
          assert.equal(await b.currentVersion(), await v.m.currentVersion());
          await checkInvariants(b, { inodeBase: v.inodeBase });
          const last = (await readAllChangelog(v.m)).pop()!;
          await b.applyChangeRecord(last);
          assert.deepEqual(await snapshot(b), await snapshot(v.m), 'applying a record twice is harmless');
        } finally {
          await b.close();
        }
      });
    });

    describe('limits', () => {
      const v = useVolume(newUrl);

      it('capacity and inode limits give ENOSPC; statfs reports them', async () => {
        const d = await v.scratch();
        const st = await v.m.statfs(ROOT);
        const room = 64 * 1024;
        await v.m.updateFormat({ capacity: st.usedSpace + room, inodes: st.usedInodes + 3 });
        const limited = await v.m.statfs(ROOT);
        assert.equal(limited.totalSpace, st.usedSpace + room);
        assert.equal(limited.availSpace, room);
        assert.equal(limited.availInodes, 3);
        const f = await v.mkfile(d, 'f');
        await v.write(f, 0, room);
        await expectCode(v.write(f, room, 1), 'ENOSPC');
        await expectCode(v.m.truncate(ROOT, f, room + 1), 'ENOSPC');
        await expectCode(v.m.fallocate(ROOT, f, 0, 0, 2 * room), 'ENOSPC');
        await v.mkfile(d, 'g');
        await v.mkfile(d, 'h');
        await expectCode(v.mkfile(d, 'i'), 'ENOSPC');
        await expectCode(v.mkdir(d, 'i'), 'ENOSPC');
        await v.m.unlink(ROOT, d, 'h');
        await v.mkfile(d, 'i');
        await v.m.updateFormat({ capacity: 0, inodes: 0 });
        await v.mkfile(d, 'j');
        await v.write(f, room, 1 << 20);
      });
    });

    // Policy hooks (guard, quota chain, chattr rules): test/suites/meta-policy-suite.ts.
    policyConformance(async () => freshMeta(await newUrl()));
    trashConformance(async (format) => freshMeta(await newUrl(), format));
    // Read-only subtrees (ferry readonly) and clones (ferry clone): meta-readonly-suite.ts, meta-clone-suite.ts.
    readOnlyConformance(newUrl);
    cloneConformance(async (format) => freshMeta(await newUrl(), format));
    // Directory quotas and `/` as the volume-wide limit: test/suites/meta-quota-suite.ts.
    quotaConformance(async (format) => freshMeta(await newUrl(), format));
    // TTL expiry through the TTL index: test/suites/meta-ttl-suite.ts.
    ttlConformance(async (format) => freshMeta(await newUrl(), format));
    // setSessionInfo (a client's last background error): test/suites/meta-session-info-suite.ts.
    sessionInfoConformance(async () => freshMeta(await newUrl()));
    // setuid/setgid cleared by writes, truncates and chown: test/suites/meta-setid-suite.ts.
    setIdConformance(async () => freshMeta(await newUrl()));
    // POSIX ACLs (setfacl/getfacl xattrs, access checks, inheritance): test/suites/meta-acl-suite.ts.
    aclConformance(newUrl);

    describe('concurrency', () => {
      const v = useVolume(newUrl);
      const second = useSecondClient(v);

      it('two clients interleaving creates, renames and unlinks lose nothing', async () => {
        const d = await v.scratch();
        const results = await Promise.all([churn(v.m, d, 'one', 200), churn(second.m, d, 'two', 200)]);
        await checkChurn(v.m, d, results, 200);
        await v.invariants([], results.flatMap((r) => r.inodes));
      });

      it('concurrent mkdirs in one parent keep its nlink exact', async () => {
        const d = await v.scratch();
        const mk = (m: Meta, tag: string) => Promise.all(Array.from({ length: 100 }, (_, i) => m.mkdir(ROOT, d, `${tag}${i}`, 0o755)));
        await Promise.all([mk(v.m, 'x'), mk(second.m, 'y')]);
        assert.equal((await v.attr(d)).nlink, 202);
        await Promise.all([
          ...Array.from({ length: 100 }, (_, i) => v.m.rmdir(ROOT, d, `y${i}`)),
          ...Array.from({ length: 100 }, (_, i) => second.m.rmdir(ROOT, d, `x${i}`)),
        ]);
        assert.equal((await v.attr(d)).nlink, 2);
        assert.deepEqual(await v.names(d), []);
      });

      it('racing pairs: crossing directory moves, rmdir against create, unlink against link', async () => {
        const d = await v.scratch();
        const one = (codes: Array<string | undefined>, what: string) =>
          assert.equal(codes.filter((c) => c === undefined).length, 1, `${what}: exactly one succeeds (${codes})`);
        for (let i = 0; i < 20; i++) {
          const a = await v.mkdir(d, `a${i}`);
          const b = await v.mkdir(d, `b${i}`);
          const moves = await Promise.all([
            codeOf(v.m.rename(ROOT, d, `a${i}`, b, 'a')),
            codeOf(second.m.rename(ROOT, d, `b${i}`, a, 'b')),
          ]);
          one(moves, 'crossing moves');
          const e = await v.mkdir(d, `e${i}`);
          one(await Promise.all([codeOf(v.m.rmdir(ROOT, d, `e${i}`)), codeOf(second.m.mknod(ROOT, e, 'x', TYPE_FILE, 0o644))]), 'rmdir/create');
          const f = await v.mkfile(d, `f${i}`);
          await Promise.all([codeOf(v.m.unlink(ROOT, d, `f${i}`)), codeOf(second.m.link(ROOT, f, d, `g${i}`))]);
        }
        await v.invariants();
      });

      it('appends (writeSlice AT_END) of two clients, 500 each at once, keep every byte', async () => {
        const d = await v.scratch();
        const f = await v.mkfile(d, 'log');
        const append = async (m: Meta, n: number) => {
          const ids: number[] = [];
          for (let i = 0; i < n; i++) {
            const id = await m.newSliceId();
            ids.push(id);
            await m.writeSlice(ROOT, f, 0, AT_END, { id, size: 8, off: 0, len: 8 });
          }
          return ids;
        };
        const [one, two] = await Promise.all([append(v.m, 500), append(second.m, 500)]);
        assert.equal((await v.attr(f)).length, 8000);
        const segs = visible(await v.m.readChunk(ROOT, f, 0));
        const seen = new Map(segs.map((g) => [g.id, g]));
        for (const id of [...one!, ...two!]) {
          const g = seen.get(id);
          assert.ok(g && g.end - g.start === 8 && g.off === 0, `slice ${id} whole: ${JSON.stringify(g)}`);
        }
        assert.equal(segs.length, 1000, 'no slice overwrote another');
        assert.equal(segs.reduce((n, g) => n + (g.end - g.start), 0), 8000);
        await v.invariants();
      });

      it('concurrent renames of one name: exactly one wins', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'src');
        const codes = await Promise.all([
          codeOf(v.m.rename(ROOT, d, 'src', d, 'a', RENAME_NOREPLACE)),
          codeOf(second.m.rename(ROOT, d, 'src', d, 'b', RENAME_NOREPLACE)),
        ]);
        assert.deepEqual(codes.sort(), ['ENOENT', undefined].sort());
        assert.equal((await v.names(d)).length, 1);
      });

      it('concurrent renames over one name expecting the same file: exactly one wins', async () => {
        const d = await v.scratch();
        const old = await v.mkfile(d, 'key');
        await v.mkfile(d, 'a');
        await v.mkfile(d, 'b');
        const a = await v.attr(old);
        const expect = { inode: old, mtime: a.mtime, mtimensec: a.mtimensec, length: a.length };
        const codes = await Promise.all([
          codeOf(v.m.rename(ROOT, d, 'a', d, 'key', 0, expect)),
          codeOf(second.m.rename(ROOT, d, 'b', d, 'key', 0, expect)),
        ]);
        assert.deepEqual(codes.sort(), ['ESTALE', undefined].sort());
        assert.equal((await v.names(d)).length, 2);
      });

      it('concurrent RENAME_NOREPLACE of two files to one free name: exactly one wins', async () => {
        const d = await v.scratch();
        await v.mkfile(d, 'a');
        await v.mkfile(d, 'b');
        const codes = await Promise.all([
          codeOf(v.m.rename(ROOT, d, 'a', d, 'key', RENAME_NOREPLACE)),
          codeOf(second.m.rename(ROOT, d, 'b', d, 'key', RENAME_NOREPLACE)),
        ]);
        assert.deepEqual(codes.sort(), ['EEXIST', undefined].sort());
        assert.equal((await v.names(d)).length, 2);
      });

      it('keeps the invariants', () => v.invariants());
    });

    scanConformance(newUrl, freshMeta);
  });
}
