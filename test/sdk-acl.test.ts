// POSIX ACLs through the SDK and the S3 gateway: both work through a VfsView bound to a user, so the
// metadata layer's ACL checks decide for them as for the mount. Volume.getacl/setacl are setfacl/getfacl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ACL_USER } from '../src/meta/acl.js';
import type { Volume } from '../src/sdk/index.js';
import { ALICE, BOB, ROOT_KEY, startGateway, type TestGateway } from './helpers/gateway.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const DAVE = 1004;

describe('sdk: POSIX ACLs', () => {
  let t: TempVolume;
  let root: Volume;
  before(async () => {
    t = await tempVolume({ format: { acl: true } });
    root = t.v;
    await root.mkdir('/shared', { mode: 0o755 });
    await root.chown('/shared', 1001, 1001);
  });
  after(() => t.cleanup());

  it('setacl/getacl are setfacl/getfacl: the mode follows, a named user gets in, anyone else is refused', async () => {
    const alice = root.asUser(1001, 1001);
    const bob = root.asUser(1002, 1002);
    const dave = root.asUser(DAVE, DAVE);
    await alice.writeFile('/shared/f', 'for bob', { mode: 0o600 });
    await assert.rejects(bob.readFile('/shared/f'), { code: 'EACCES' });
    assert.equal(await alice.getacl('/shared/f'), undefined, 'no ACL: the mode alone');
    await alice.setacl('/shared/f', 'u::rw-,u:1002:r--,g::---,m::r--,o::---');
    assert.equal((await root.stat('/shared/f')).mode & 0o777, 0o640);
    assert.equal(await bob.getacl('/shared/f'), 'u::rw-,u:1002:r--,g::---,m::r--,o::---');
    assert.equal(String(await bob.readFile('/shared/f')), 'for bob');
    await assert.rejects(bob.writeFile('/shared/f', 'no'), { code: 'EACCES' });
    await assert.rejects(dave.readFile('/shared/f'), { code: 'EACCES', syscall: 'open', path: '/shared/f' });
    await assert.rejects(bob.setacl('/shared/f', [{ tag: ACL_USER, perm: 7, id: 1002 }]), { code: 'EINVAL' });
    await assert.rejects(bob.setacl('/shared/f', 'u::rw-,u:1002:rw-,g::---,m::rw-,o::---'), { code: 'EPERM' });
    await assert.rejects(alice.setacl('/shared/f', 'u::rw-,x:1:r--'), { code: 'EINVAL' });
    // chmod moves the mask: bob's entry stays but grants nothing.
    await alice.chmod('/shared/f', 0o600);
    assert.equal(await alice.getacl('/shared/f'), 'u::rw-,u:1002:r--,g::---,m::---,o::---');
    await assert.rejects(bob.readFile('/shared/f'), { code: 'EACCES' });
    await alice.setacl('/shared/f', undefined);
    assert.equal(await alice.getacl('/shared/f'), undefined);
  });

  it('a default ACL is inherited by what the SDK creates', async () => {
    const alice = root.asUser(1001, 1001, [1001], 0o077);
    const bob = root.asUser(1002, 1002);
    await alice.mkdir('/shared/inbox', { mode: 0o700 });
    await alice.setacl('/shared/inbox', 'u::rwx,u:1002:rwx,g::---,m::rwx,o::---');
    await alice.setacl('/shared/inbox', 'u::rwx,u:1002:rw-,g::---,m::rwx,o::---', 'default');
    await alice.writeFile('/shared/inbox/note', 'hi');
    assert.equal(await alice.getacl('/shared/inbox/note'), 'u::rw-,u:1002:rw-,g::---,m::rw-,o::---');
    await bob.appendFile('/shared/inbox/note', ' bob');
    assert.equal(String(await bob.readFile('/shared/inbox/note')), 'hi bob');
  });

  it('a volume without --acl refuses ACLs with ENOTSUP', async () => {
    const plain = await tempVolume();
    try {
      await plain.v.writeFile('/f', 'x');
      await assert.rejects(plain.v.setacl('/f', 'u::rw-,u:1002:r--,g::---,m::r--,o::---'), { code: 'ENOTSUP' });
      await assert.rejects(plain.v.getacl('/f'), { code: 'ENOTSUP' });
    } finally {
      await plain.cleanup();
    }
  });
});

describe('gateway: POSIX ACLs decide for access keys', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway({}, { format: { acl: true } }, [ROOT_KEY, ALICE, BOB, { accessKey: 'DAVEKEY', secret: 'dave-secret-0123456789', uid: DAVE, gid: DAVE }]);
    await g.t.v.mkdir('/bucket', { mode: 0o700 });
    await g.t.v.chown('/bucket', ALICE.uid, ALICE.gid);
  });
  after(() => g.close());

  it("a named user of the bucket directory's ACL reads and writes; others are AccessDenied", async () => {
    const alice = g.t.v.asUser(ALICE.uid, ALICE.gid);
    await alice.setacl('/bucket', `u::rwx,u:${BOB.uid}:rwx,g::---,m::rwx,o::---`);
    await alice.setacl('/bucket', `u::rwx,u:${BOB.uid}:rw-,g::---,m::rwx,o::---`, 'default');
    const bob = g.client(BOB);
    await bob.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: 'by bob' }));
    const got = await bob.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'by bob');
    const dave = g.client({ accessKey: 'DAVEKEY', secret: 'dave-secret-0123456789', uid: DAVE, gid: DAVE });
    await assert.rejects(dave.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })), (e: Error) => e.name === 'AccessDenied');
    await assert.rejects(dave.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'd', Body: 'x' })), (e: Error) => e.name === 'AccessDenied');
  });
});
