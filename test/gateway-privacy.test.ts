// The S3 privacy model (issue 20 item 5), two keys against real `ferry gateway` processes with the AWS SDK:
// buckets and objects created over S3 are owner-private (0700/0600); another key cannot list, HEAD, GET or
// copy them; ListBuckets shows the buckets a key can read; GetObjectAcl/GetBucketAcl say who can read; a
// shared bucket comes from --bucket-mode (or a key's own modes); POSIX files keep their modes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectAclCommand,
  PutObjectCommand,
  S3Client,
  type Grant,
} from '@aws-sdk/client-s3';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { ALICE, BOB, ROOT_KEY, bodyOf, s3code, type TestKey } from './helpers/gateway.js';
import { ferry, ok } from './helpers/cli.js';

const CAROL: TestKey = { accessKey: 'CAROLKEY', secret: 'carol-secret-0123456789', uid: 1003, gid: 1003 };
const AUTH = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

function grants(g: Grant[] | undefined): string[] {
  return (g ?? []).map((x) => `${x.Grantee?.ID ?? x.Grantee?.URI}:${x.Permission}`).sort();
}

describe('gateway: S3 privacy model (two keys, real ferry gateway)', () => {
  let g: ChildGateway;
  let shared: ChildGateway;
  const clients: S3Client[] = [];
  const s3 = (gw: ChildGateway, k: TestKey) => {
    const c = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: k.accessKey, secretAccessKey: k.secret }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  before(async () => {
    // The test's own client caches no attributes: it sees what the gateways did at once.
    g = await startChildGateway([], [ROOT_KEY, ALICE, BOB], { volume: { attrTimeout: 0, entryTimeout: 0 } });
    // A team key whose objects others may read (its own default modes, set by the admin).
    ok(ferry('/', ['gateway', 'keys', 'add', g.t.url, '--uid', '1003', '--gid', '1003', '--access-key', CAROL.accessKey, '--secret-key', CAROL.secret, '--object-mode', '644', '--bucket-mode', '755']));
    // A second gateway of the same volume whose buckets are shared (sticky, everyone writes).
    shared = await startChildGateway(['--bucket-mode', '1777'], [], {}, g.t);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await shared?.close();
    await g?.close();
  });

  it('buckets and objects are owner-private by default: another key cannot list, HEAD, GET or copy them', async () => {
    const a = s3(g, ALICE);
    const b = s3(g, BOB);
    await a.send(new CreateBucketCommand({ Bucket: 'alice-b' }));
    await a.send(new PutObjectCommand({ Bucket: 'alice-b', Key: 'private.txt', Body: 'mine', ACL: 'private' }));
    await a.send(new PutObjectCommand({ Bucket: 'alice-b', Key: 'plain.txt', Body: 'mine too' }));
    assert.equal((await g.t.v.stat('/alice-b')).mode & 0o7777, 0o700);
    assert.equal((await g.t.v.stat('/alice-b/private.txt')).mode & 0o7777, 0o600);
    assert.equal((await g.t.v.stat('/alice-b/plain.txt')).mode & 0o7777, 0o600);
    await b.send(new CreateBucketCommand({ Bucket: 'bob-b' }));
    for (const key of ['private.txt', 'plain.txt']) {
      assert.equal(await s3code(b.send(new GetObjectCommand({ Bucket: 'alice-b', Key: key }))), 'AccessDenied');
      assert.equal(await s3code(b.send(new HeadObjectCommand({ Bucket: 'alice-b', Key: key }))), '403');
      assert.equal(await s3code(b.send(new CopyObjectCommand({ Bucket: 'bob-b', Key: key, CopySource: `/alice-b/${key}` }))), 'AccessDenied');
    }
    assert.equal(await s3code(b.send(new ListObjectsV2Command({ Bucket: 'alice-b' }))), 'AccessDenied');
    assert.equal((await bodyOf(await a.send(new GetObjectCommand({ Bucket: 'alice-b', Key: 'private.txt' })))).toString(), 'mine');
  });

  it('ListBuckets shows the buckets a key can read, not every user\'s', async () => {
    const names = async (k: TestKey) => (await s3(g, k).send(new ListBucketsCommand({}))).Buckets!.map((x) => x.Name!).sort();
    assert.ok((await names(ALICE)).includes('alice-b'));
    assert.ok(!(await names(ALICE)).includes('bob-b'));
    assert.ok(!(await names(BOB)).includes('alice-b'));
    assert.ok((await names(BOB)).includes('bob-b'));
    const all = await names(ROOT_KEY);
    assert.ok(all.includes('alice-b') && all.includes('bob-b'));
  });

  it('GetObjectAcl and GetBucketAcl tell who can read', async () => {
    const a = s3(g, ALICE);
    assert.deepEqual(grants((await a.send(new GetObjectAclCommand({ Bucket: 'alice-b', Key: 'private.txt' }))).Grants), [`${ALICE.uid}:FULL_CONTROL`]);
    assert.deepEqual(grants((await a.send(new GetBucketAclCommand({ Bucket: 'alice-b' }))).Grants), [`${ALICE.uid}:FULL_CONTROL`]);
    // A file written through POSIX keeps its mode (0644): the ACL says every key may read it.
    await g.t.v.writeFile('/alice-b/posix.txt', 'posix', { mode: 0o644 });
    await g.t.v.chmod('/alice-b/posix.txt', 0o644);
    await g.t.v.chown('/alice-b/posix.txt', ALICE.uid, ALICE.gid);
    assert.deepEqual(grants((await a.send(new GetObjectAclCommand({ Bucket: 'alice-b', Key: 'posix.txt' }))).Grants), [`${ALICE.uid}:FULL_CONTROL`, `${AUTH}:READ`]);
    // Canned private means it: the object becomes owner-only, and its ACL says so.
    await a.send(new PutObjectAclCommand({ Bucket: 'alice-b', Key: 'posix.txt', ACL: 'private' }));
    assert.equal((await g.t.v.stat('/alice-b/posix.txt')).mode & 0o777, 0o600);
    assert.deepEqual(grants((await a.send(new GetObjectAclCommand({ Bucket: 'alice-b', Key: 'posix.txt' }))).Grants), [`${ALICE.uid}:FULL_CONTROL`]);
  });

  it('a key with --object-mode 644 writes objects every key can read, and its ACL says so', async () => {
    const c = s3(g, CAROL);
    await c.send(new CreateBucketCommand({ Bucket: 'carol-pub' }));
    await c.send(new PutObjectCommand({ Bucket: 'carol-pub', Key: 'dir/readme', Body: 'for all' }));
    assert.equal((await g.t.v.stat('/carol-pub')).mode & 0o7777, 0o755);
    assert.equal((await g.t.v.stat('/carol-pub/dir/readme')).mode & 0o7777, 0o644);
    assert.equal((await bodyOf(await s3(g, BOB).send(new GetObjectCommand({ Bucket: 'carol-pub', Key: 'dir/readme' })))).toString(), 'for all');
    assert.deepEqual(grants((await c.send(new GetObjectAclCommand({ Bucket: 'carol-pub', Key: 'dir/readme' }))).Grants), [`${CAROL.uid}:FULL_CONTROL`, `${AUTH}:READ`]);
    // ACL=private on the PUT still makes that object owner-only.
    await c.send(new PutObjectCommand({ Bucket: 'carol-pub', Key: 'mine', Body: 'x', ACL: 'private' }));
    assert.equal((await g.t.v.stat('/carol-pub/mine')).mode & 0o777, 0o600);
    assert.equal(await s3code(s3(g, BOB).send(new GetObjectCommand({ Bucket: 'carol-pub', Key: 'mine' }))), 'AccessDenied');
  });

  it('a shared bucket (--bucket-mode 1777): every key lists and adds, objects stay their owner\'s', async () => {
    const a = s3(shared, ALICE);
    const b = s3(shared, BOB);
    await a.send(new CreateBucketCommand({ Bucket: 'team-shared' }));
    assert.equal((await g.t.v.stat('/team-shared')).mode & 0o7777, 0o1777);
    await a.send(new PutObjectCommand({ Bucket: 'team-shared', Key: 'a.txt', Body: 'a' }));
    await b.send(new PutObjectCommand({ Bucket: 'team-shared', Key: 'b.txt', Body: 'b' }));
    assert.deepEqual((await b.send(new ListObjectsV2Command({ Bucket: 'team-shared' }))).Contents!.map((o) => o.Key), ['a.txt', 'b.txt']);
    assert.ok((await b.send(new ListBucketsCommand({}))).Buckets!.some((x) => x.Name === 'team-shared'));
    assert.equal(await s3code(b.send(new GetObjectCommand({ Bucket: 'team-shared', Key: 'a.txt' }))), 'AccessDenied');
    const acl = grants((await a.send(new GetBucketAclCommand({ Bucket: 'team-shared' }))).Grants);
    assert.deepEqual(acl, [`${ALICE.uid}:FULL_CONTROL`, `${AUTH}:FULL_CONTROL`]);
  });
});
