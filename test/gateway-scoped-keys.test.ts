// Scoped access keys through S3 (issue 20 item 2): a real `ferry gateway` child process, keys added with the
// real `ferry gateway keys add`, the AWS SDK as the client. A key limited to a subdir, to read-only, to
// read+append, to buckets, to networks, or past its expiry cannot read, list, write or delete outside that,
// '..' and symlinks included; `keys list` shows the scopes and never a secret.
import assert from 'node:assert/strict';
import { until } from './helpers/wait.js';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { bodyOf, s3code } from './helpers/gateway.js';
import { ferry, ok } from './helpers/cli.js';

const SECRET = 'scoped-secret-0123456789';

describe('gateway: scoped keys (real ferry gateway, AWS SDK)', () => {
  let g: ChildGateway;
  const clients: S3Client[] = [];
  const s3 = (ak: string) => {
    const c = new S3Client({ endpoint: g.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ak, secretAccessKey: SECRET }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };
  const add = (ak: string, ...flags: string[]) => ok(ferry('/', ['gateway', 'keys', 'add', g.t.url, '--uid', '1001', '--gid', '1001', '--access-key', ak, '--secret-key', SECRET, ...flags]));

  before(async () => {
    g = await startChildGateway();
    const v = g.t.v;
    // /team-a is the scoped keys' world: bucket "data" (and "logs") in it; /team-b and /other are outside.
    for (const d of ['/team-a/data', '/team-a/logs', '/team-b/secret', '/other']) await v.mkdir(d, { recursive: true });
    await v.writeFile('/team-a/data/hello.txt', 'hello');
    await v.writeFile('/team-b/secret/x', 'team-b secret');
    await v.writeFile('/other/y', 'other');
    await v.symlink('/team-b/secret/x', '/team-a/data/abs-link');
    await v.symlink('../../team-b/secret/x', '/team-a/data/rel-link');
    for (const p of ['/team-a', '/team-a/data', '/team-a/logs', '/team-a/data/hello.txt']) await v.chown(p, 1001, 1001);
    // Everything readable and writable by everyone: only the scope stands between the keys and it.
    for (const p of ['/team-b', '/team-b/secret', '/other']) await v.chmod(p, 0o777);
    for (const p of ['/team-b/secret/x', '/other/y']) await v.chmod(p, 0o666);
    add('RWKEY', '--subdir', '/team-a');
    add('ROKEY', '--subdir', '/team-a', '--read-only');
    add('APPENDKEY', '--subdir', '/team-a', '--append-only');
    add('BUCKETKEY', '--subdir', '/team-a', '--buckets', 'logs');
    add('NETKEY', '--allow', '10.0.0.0/8,fd00::/8');
    add('LOCALKEY', '--allow', '127.0.0.0/8,::1');
    add('OLDKEY', '--expires', '2020-01-01T00:00:00Z');
    add('PLAINKEY');
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await g?.close();
  });

  it('a subdir key sees its directory as the root: its buckets only, nothing outside by any name', async () => {
    const c = s3('RWKEY');
    const names = (await c.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name).sort();
    assert.deepEqual(names, ['data', 'logs']);
    assert.equal((await bodyOf(await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'hello.txt' })))).toString(), 'hello');
    // Names of the volume root mean nothing to it (its root is /team-a).
    assert.equal(await s3code(c.send(new ListObjectsV2Command({ Bucket: 'team-b' }))), 'NoSuchBucket');
    assert.equal(await s3code(c.send(new GetObjectCommand({ Bucket: 'other', Key: 'y' }))), 'NoSuchBucket');
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'team-b', Key: 'secret/x', Body: 'overwritten' }))), 'NoSuchBucket');
    // Symlinks pointing out (absolute, relative with ..) are not objects: never followed out of the scope.
    assert.equal(await s3code(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'abs-link' }))), 'NoSuchKey');
    assert.equal(await s3code(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'rel-link' }))), 'NoSuchKey');
    // '..' in a key or a bucket never climbs.
    assert.equal(await s3code(c.send(new GetObjectCommand({ Bucket: 'data', Key: '../../team-b/secret/x' }))), 'XFerryInvalidObjectName');
    assert.equal(await s3code(c.send(new CopyObjectCommand({ Bucket: 'data', Key: 'stolen', CopySource: '/team-b/secret/x' }))), 'NoSuchBucket');
    // Writing and deleting in its own buckets works, and lands under /team-a.
    await c.send(new PutObjectCommand({ Bucket: 'data', Key: 'new.txt', Body: 'new' }));
    assert.equal((await g.t.v.readFile('/team-a/data/new.txt')).toString(), 'new');
    await c.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'new.txt' }));
    await c.send(new CreateBucketCommand({ Bucket: 'made-here' }));
    assert.ok((await g.t.v.stat('/team-a/made-here')).isDirectory());
    assert.equal((await g.t.v.readFile('/team-b/secret/x')).toString(), 'team-b secret');
  });

  it('a read-only key reads and lists, and cannot write, overwrite, copy into or delete', async () => {
    const c = s3('ROKEY');
    assert.equal((await bodyOf(await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'hello.txt' })))).toString(), 'hello');
    assert.ok((await c.send(new ListObjectsV2Command({ Bucket: 'data' }))).Contents?.some((o) => o.Key === 'hello.txt'));
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'ro.txt', Body: 'x' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'hello.txt', Body: 'x' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new CopyObjectCommand({ Bucket: 'data', Key: 'copy.txt', CopySource: '/data/hello.txt' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'hello.txt' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new CreateBucketCommand({ Bucket: 'ro-bucket' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: 'mp' }))), 'AccessDenied');
    assert.equal((await g.t.v.readFile('/team-a/data/hello.txt')).toString(), 'hello');
  });

  it('an append-only key adds new objects, and cannot overwrite or delete any (its own included)', async () => {
    const c = s3('APPENDKEY');
    await c.send(new PutObjectCommand({ Bucket: 'data', Key: 'out/part-0', Body: 'produced' }));
    assert.equal((await bodyOf(await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'out/part-0' })))).toString(), 'produced');
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'out/part-0', Body: 'clobbered' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'hello.txt', Body: 'clobbered' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new CopyObjectCommand({ Bucket: 'data', Key: 'hello.txt', CopySource: '/data/out/part-0' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'out/part-0' }))), 'AccessDenied');
    assert.equal(await s3code(c.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'hello.txt' }))), 'AccessDenied');
    // A multipart upload of a new key completes; onto an existing one it is refused.
    const mp = async (key: string) => {
      const id = (await c.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: key }))).UploadId!;
      const p = await c.send(new UploadPartCommand({ Bucket: 'data', Key: key, UploadId: id, PartNumber: 1, Body: 'multi' }));
      return c.send(new CompleteMultipartUploadCommand({ Bucket: 'data', Key: key, UploadId: id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    };
    await mp('out/part-1');
    assert.equal((await g.t.v.readFile('/team-a/data/out/part-1')).toString(), 'multi');
    assert.equal(await s3code(mp('out/part-1')), 'AccessDenied');
    // Nor a lifecycle rule that would expire (delete) objects later.
    const rule = { ID: 'x', Status: 'Enabled' as const, Filter: { Prefix: '' }, Expiration: { Days: 1 } };
    assert.equal(await s3code(c.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'data', LifecycleConfiguration: { Rules: [rule] } }))), 'AccessDenied');
    assert.equal((await g.t.v.readFile('/team-a/data/out/part-0')).toString(), 'produced');
    assert.equal((await g.t.v.readFile('/team-a/data/hello.txt')).toString(), 'hello');
  });

  it('a bucket-limited key sees and uses only its buckets', async () => {
    const c = s3('BUCKETKEY');
    assert.deepEqual((await c.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), ['logs']);
    await c.send(new PutObjectCommand({ Bucket: 'logs', Key: 'l1', Body: 'log' }));
    assert.equal(await s3code(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'hello.txt' }))), 'NoSuchBucket');
    assert.equal(await s3code(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'x', Body: 'x' }))), 'NoSuchBucket');
    assert.equal(await s3code(c.send(new CreateBucketCommand({ Bucket: 'another' }))), 'AccessDenied');
  });

  it('source networks: a key allowed only from 10/8 is refused from 127.0.0.1; one allowed from loopback works', async () => {
    assert.equal(await s3code(s3('NETKEY').send(new ListBucketsCommand({}))), 'AccessDenied');
    assert.equal(await s3code(s3('NETKEY').send(new HeadObjectCommand({ Bucket: 'other', Key: 'y' }))), '403');
    assert.ok((await s3('LOCALKEY').send(new ListBucketsCommand({}))).Buckets);
  });

  it('an expired key is refused; a key expiring while in use stops working', async () => {
    assert.equal(await s3code(s3('OLDKEY').send(new ListBucketsCommand({}))), 'AccessDenied');
    const expires = Date.now() + 12_000;
    add('SOONKEY', '--expires', '12s');
    const c = s3('SOONKEY');
    // The gateway learns of a new key with its next read of the keys: wait for it (a loaded machine is slow).
    await until(async () => (await c.send(new ListBucketsCommand({})).then((r) => !!r.Buckets, () => false)), 'the gateway to know the new key', 10_000, 200);
    await new Promise((r) => setTimeout(r, Math.max(0, expires - Date.now()) + 500));
    assert.equal(await s3code(c.send(new ListBucketsCommand({}))), 'AccessDenied');
  });

  it('keys list shows scopes and never a secret; bad scope flags are one clear line', () => {
    const out = ok(ferry('/', ['gateway', 'keys', 'list', g.t.url])).stdout;
    assert.ok(!out.includes(SECRET), out);
    assert.match(out, /ROKEY .*\/team-a ro/);
    assert.match(out, /APPENDKEY .*\/team-a append/);
    assert.match(out, /BUCKETKEY .*buckets=logs/);
    assert.match(out, /NETKEY .*allow=10\.0\.0\.0\/8,fd00::\/8/);
    assert.match(out, /OLDKEY .*2020-01-01T00:00:00\.000Z \(expired\)/);
    assert.match(out, /PLAINKEY .* all /);
    for (const [flags, re] of [
      [['--allow', '10.0.0.0/33'], /not an address or a CIDR/],
      [['--expires', 'someday'], /--expires: 'someday'/],
      [['--subdir', 'team-a'], /--subdir: 'team-a' must be an absolute path/],
      [['--read-only', '--append-only'], /exclude each other/],
    ] as const) {
      const r = ferry('/', ['gateway', 'keys', 'add', g.t.url, '--uid', '1', '--gid', '1', ...flags]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
    }
  });
});
