// POSIX ACLs in the meta conformance suite: the xattrs system.posix_acl_access/_default on a volume
// formatted with acl on (and refused without), the POSIX.1e access algorithm in every check, the mode
// <-> mask rules, inheritance of default ACLs, and their replay through the changelog.
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ACL_ACCESS, ACL_DEFAULT, aclText, decodeAcl, encodeAcl, parseAclText } from '../../src/meta/acl.js';
import { newFormat } from '../../src/meta/format.js';
import type { Meta } from '../../src/meta/interface.js';
import { openMeta } from '../../src/meta/index.js';
import {
  FLAG_ACL,
  MODE_R,
  MODE_W,
  MODE_X,
  ROOT_INODE,
  SET_GID,
  SET_MODE,
  SET_UID,
  TYPE_FILE,
  rootContext,
  userContext,
  type Format,
} from '../../src/meta/types.js';
import { checkInvariants, expectCode, readAllChangelog, snapshot } from './meta-invariants.js';

const { O_RDONLY, O_RDWR } = fsConstants;
const ROOT = rootContext();
/** alice owns the files; bob is named in ACLs; carol is in group 2000; dave is nobody in particular. */
const alice = userContext(1001, 1001);
const bob = userContext(1002, 1002);
const carol = userContext(1003, 1003, [1003, 2000]);
const dave = userContext(1004, 1004);

function aclFormat(acl: boolean): Format {
  return newFormat({ name: 'acltest', storage: 'mem://x', trashDays: 0, acl });
}

/** An ACL value from setfacl's short text. */
const acl = (t: string): Buffer => encodeAcl(parseAclText(t));
/** The short text of an ACL value. */
const text = (v: Buffer): string => aclText(decodeAcl(v));

function useAclVolume(newUrl: () => Promise<string>, on: boolean): { m: Meta; url: string; seq: number } {
  const v = { m: undefined as unknown as Meta, url: '', seq: 0 };
  before(async () => {
    v.url = await newUrl();
    v.m = await openMeta(v.url);
    await v.m.init(aclFormat(on));
    await v.m.newSession({ mountPoint: '/acl' });
  });
  after(() => v.m?.close());
  return v;
}

export function aclConformance(newUrl: () => Promise<string>): void {
  describe('POSIX ACLs', () => {
    describe('on a volume formatted without acl', () => {
      const v = useAclVolume(newUrl, false);

      it('refuses the ACL xattrs with ENOTSUP, as a file system mounted noacl', async () => {
        const f = (await v.m.mknod(ROOT, ROOT_INODE, 'f', TYPE_FILE, 0o644)).inode;
        await expectCode(v.m.setxattr(ROOT, f, ACL_ACCESS, acl('u::rw-,u:1002:rw-,g::r--,m::rw-,o::---')), 'ENOTSUP');
        await expectCode(v.m.getxattr(ROOT, f, ACL_ACCESS), 'ENOTSUP');
        await expectCode(v.m.removexattr(ROOT, f, ACL_DEFAULT), 'ENOTSUP');
        await v.m.setxattr(ROOT, f, 'user.k', Buffer.from('v'));
        assert.deepEqual(await v.m.listxattr(ROOT, f), ['user.k']);
      });
    });

    describe('on a volume formatted with acl', () => {
      const v = useAclVolume(newUrl, true);
      /** A directory under the root for one test, everyone may enter it. */
      const scratch = async () => (await v.m.mkdir(ROOT, ROOT_INODE, `t${++v.seq}`, 0o777)).inode;
      const fileOf = async (dir: number, owner = alice, mode = 0o644) => (await v.m.mknod(owner, dir, 'f', TYPE_FILE, mode)).inode;

      it('an access ACL grants a named user what the mode does not, and sets the mode from the mask', async () => {
        const f = await fileOf(await scratch());
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:1002:rw-,g::r--,m::rw-,o::---'));
        const a = await v.m.getattr(ROOT, f);
        assert.equal(a.mode & 0o7777, 0o660, 'group bits are the mask');
        assert.ok(a.flags & FLAG_ACL);
        await v.m.access(bob, f, MODE_R | MODE_W);
        await expectCode(v.m.access(dave, f, MODE_R), 'EACCES');
        const h = await v.m.open(bob, f, O_RDWR);
        assert.equal(h.uid, alice.uid);
        await v.m.release(bob, f);
        await expectCode(v.m.open(dave, f, O_RDONLY), 'EACCES');
        assert.equal(text(await v.m.getxattr(dave, f, ACL_ACCESS)), 'u::rw-,u:1002:rw-,g::r--,m::rw-,o::---');
        assert.deepEqual(await v.m.listxattr(ROOT, f), [ACL_ACCESS]);
      });

      it('the owning group and named groups are masked, and a matching group without the bits denies', async () => {
        const f = await fileOf(await scratch());
        await v.m.setattr(ROOT, f, SET_GID, { gid: 2000 });
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,g::r--,g:1004:rw-,m::rw-,o::rw-'));
        await v.m.access(carol, f, MODE_R);
        await expectCode(v.m.access(carol, f, MODE_W), 'EACCES'); // in the owning group (r--): never falls to other (rw-)
        await v.m.access(dave, f, MODE_R | MODE_W); // named group 1004 is dave's primary group
        await v.m.setattr(alice, f, SET_MODE, { mode: 0o646 }); // chmod g-w: the mask becomes r--
        await expectCode(v.m.access(dave, f, MODE_W), 'EACCES');
        assert.equal(text(await v.m.getxattr(ROOT, f, ACL_ACCESS)), 'u::rw-,g::r--,g:1004:rw-,m::r--,o::rw-', 'chmod changed the mask, not the entries');
        await v.m.setattr(alice, f, SET_MODE, { mode: 0o666 });
        await v.m.access(dave, f, MODE_W);
      });

      it('only the owner or root sets an ACL; anyone may read it', async () => {
        const f = await fileOf(await scratch());
        await expectCode(v.m.setxattr(bob, f, ACL_ACCESS, acl('u::rw-,u:1002:rwx,g::r--,m::rwx,o::---')), 'EPERM');
        await expectCode(v.m.removexattr(bob, f, ACL_ACCESS), 'EPERM');
        await v.m.setxattr(ROOT, f, ACL_ACCESS, acl('u::rw-,u:1002:rwx,g::r--,m::rwx,o::---'));
        assert.equal((await v.m.getattr(ROOT, f)).mode & 0o777, 0o670);
        await v.m.getxattr(bob, f, ACL_ACCESS);
      });

      it('a minimal ACL is the mode alone; removing an ACL keeps the mode', async () => {
        const f = await fileOf(await scratch());
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rwx,g::r-x,o::r--'));
        assert.equal((await v.m.getattr(ROOT, f)).mode & 0o777, 0o754);
        assert.deepEqual(await v.m.listxattr(ROOT, f), []);
        await expectCode(v.m.getxattr(ROOT, f, ACL_ACCESS), 'ENODATA');
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:1002:rw-,g::r--,m::r--,o::---'));
        await v.m.removexattr(alice, f, ACL_ACCESS);
        const a = await v.m.getattr(ROOT, f);
        assert.equal(a.mode & 0o777, 0o640);
        assert.equal(a.flags & FLAG_ACL, 0);
        await expectCode(v.m.access(bob, f, MODE_R), 'EACCES');
        await v.m.removexattr(alice, f, ACL_ACCESS); // removing what is not there is no error (as ext4)
      });

      it('refuses malformed ACLs with EINVAL, default ACLs on files with EACCES', async () => {
        const f = await fileOf(await scratch());
        await expectCode(v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:1002:rw-,g::r--,o::---')), 'EINVAL'); // no mask
        await expectCode(v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:7:rw-,u:7:r--,g::r--,m::rw-,o::---')), 'EINVAL');
        await expectCode(v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,o::---')), 'EINVAL');
        const bad = acl('u::rw-,g::r--,o::---');
        bad.writeUInt32LE(1, 0);
        await expectCode(v.m.setxattr(alice, f, ACL_ACCESS, bad), 'EINVAL');
        await expectCode(v.m.setxattr(alice, f, ACL_ACCESS, Buffer.from([2, 0, 0, 0, 1])), 'EINVAL');
        await expectCode(v.m.setxattr(alice, f, ACL_DEFAULT, acl('u::rwx,g::r-x,o::---')), 'EACCES');
        assert.equal((await v.m.getattr(ROOT, f)).mode & 0o777, 0o644, 'nothing changed');
      });

      it('setting an access ACL drops setgid when the owner is not in the owning group', async () => {
        const f = await fileOf(await scratch());
        await v.m.setattr(ROOT, f, SET_GID | SET_MODE, { gid: 3000, mode: 0o2775 });
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rwx,u:1002:rwx,g::r-x,m::rwx,o::r-x'));
        assert.equal((await v.m.getattr(ROOT, f)).mode & 0o7777, 0o775);
      });

      it('a directory ACL governs lookup, create and remove in it', async () => {
        const d = (await v.m.mkdir(ROOT, await scratch(), 'd', 0o700)).inode;
        await v.m.setxattr(ROOT, d, ACL_ACCESS, acl('u::rwx,u:1002:rwx,g::---,m::rwx,o::---'));
        const f = (await v.m.mknod(bob, d, 'by-bob', TYPE_FILE, 0o644)).inode;
        assert.equal((await v.m.lookup(bob, d, 'by-bob')).inode, f);
        await expectCode(v.m.lookup(dave, d, 'by-bob'), 'EACCES');
        await expectCode(v.m.mknod(dave, d, 'by-dave', TYPE_FILE, 0o644), 'EACCES');
        await expectCode(v.m.readdir(dave, d), 'EACCES');
        assert.deepEqual((await v.m.readdir(bob, d)).map((e) => e.name), ['by-bob']);
        await v.m.unlink(bob, d, 'by-bob');
      });

      it('new children inherit the default ACL: cut to the create mode, without the umask', async () => {
        const d = (await v.m.mkdir(alice, await scratch(), 'd', 0o755)).inode;
        await v.m.setxattr(alice, d, ACL_DEFAULT, acl('u::rwx,u:1002:rwx,g::r-x,m::rwx,o::---'));
        assert.equal(text(await v.m.getxattr(bob, d, ACL_DEFAULT)), 'u::rwx,u:1002:rwx,g::r-x,m::rwx,o::---');
        const strict = { ...alice, umask: 0o077 };
        const f = (await v.m.create(strict, d, 'f', 0o666, O_RDWR)).inode;
        await v.m.release(strict, f);
        assert.equal((await v.m.getattr(ROOT, f)).mode & 0o777, 0o660);
        assert.equal(text(await v.m.getxattr(ROOT, f, ACL_ACCESS)), 'u::rw-,u:1002:rwx,g::r-x,m::rw-,o::---');
        await v.m.access(bob, f, MODE_R | MODE_W);
        await expectCode(v.m.access(bob, f, MODE_X), 'EACCES');
        await expectCode(v.m.getxattr(ROOT, f, ACL_DEFAULT), 'ENODATA');
        const sub = (await v.m.mkdir(strict, d, 'sub', 0o777)).inode;
        assert.equal((await v.m.getattr(ROOT, sub)).mode & 0o777, 0o770);
        assert.equal(text(await v.m.getxattr(ROOT, sub, ACL_DEFAULT)), 'u::rwx,u:1002:rwx,g::r-x,m::rwx,o::---');
        const deeper = (await v.m.mknod(strict, sub, 'g', TYPE_FILE, 0o640)).inode;
        assert.equal(text(await v.m.getxattr(ROOT, deeper, ACL_ACCESS)), 'u::rw-,u:1002:rwx,g::r-x,m::r--,o::---');
        const link = (await v.m.symlink(alice, d, 'l', 'f')).inode;
        assert.deepEqual(await v.m.listxattr(ROOT, link), []);
        // Removing the default ACL: the umask applies again.
        await v.m.removexattr(alice, d, ACL_DEFAULT);
        const plain = (await v.m.mknod(strict, d, 'plain', TYPE_FILE, 0o666)).inode;
        assert.equal((await v.m.getattr(ROOT, plain)).mode & 0o777, 0o600);
        assert.deepEqual(await v.m.listxattr(ROOT, plain), []);
      });

      it("another client enforces an ACL at once (the checks read the engine's)", async () => {
        const f = await fileOf(await scratch(), alice, 0o600);
        const other = await openMeta(v.url);
        try {
          await other.load();
          await expectCode(other.access(bob, f, MODE_R), 'EACCES');
          await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:1002:r--,g::---,m::r--,o::---'));
          await other.access(bob, f, MODE_R);
          await v.m.setattr(alice, f, SET_MODE, { mode: 0o600 });
          await expectCode(other.access(bob, f, MODE_R), 'EACCES');
        } finally {
          await other.close();
        }
      });

      it('ACLs replay through the changelog and keep the invariants', async () => {
        const d = (await v.m.mkdir(alice, await scratch(), 'r', 0o755)).inode;
        await v.m.setxattr(alice, d, ACL_DEFAULT, acl('u::rwx,g:2000:rwx,g::r-x,m::rwx,o::---'));
        const f = (await v.m.mknod(alice, d, 'f', TYPE_FILE, 0o664)).inode;
        await v.m.setxattr(alice, f, ACL_ACCESS, acl('u::rw-,u:1002:r--,g::r--,g:2000:rw-,m::rw-,o::---'));
        await v.m.setattr(ROOT, f, SET_UID | SET_MODE, { uid: 1002, mode: 0o640 });
        const url = await newUrl();
        const b = await openMeta(url);
        try {
          await b.init(await v.m.load());
          for (const rec of await readAllChangelog(v.m)) await b.applyChangeRecord(rec);
          assert.deepEqual(await snapshot(b), await snapshot(v.m));
          await checkInvariants(b, { inodeBase: 0 });
          await b.access(carol, f, MODE_R);
          await expectCode(b.access(carol, f, MODE_W), 'EACCES');
        } finally {
          await b.close();
        }
      });
    });
  });
}
