// One namespace, three doors: a file written over WebHDFS is at once a file for the SDK and an object over
// S3 (a gateway on the same volume, its own client), and what S3 or the SDK writes reads back over WebHDFS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { ALICE, bodyOf, s3code, startGateway, type TestGateway } from './helpers/gateway.js';
import { call, startWebHdfs, type TestWebHdfs } from './helpers/webhdfs.js';

let g: TestGateway;
let w: TestWebHdfs;
before(async () => {
  g = await startGateway({}, { volume: { attrTimeout: 0, entryTimeout: 0 } });
  w = await startWebHdfs({}, {}, g.t);
});
after(async () => {
  await w?.close();
  await g?.close();
});

const open = async (path: string, user = 'root') => {
  const r = await fetch(`${w.base}${path}?op=OPEN&user.name=${user}`);
  assert.equal(r.status, 200, path);
  return Buffer.from(await r.arrayBuffer());
};

describe('WebHDFS, SDK and S3 on one volume', () => {
  test('WebHDFS -> SDK and S3', async () => {
    const s3 = g.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    // Buckets made over S3 are owner-private (0700); this one is a team's shared lake.
    await g.t.v.chmod('/lake', 0o755);
    const hdfs = w.client('root');
    const data = Buffer.alloc(3 << 20, 'spark');
    await call(hdfs, 'writeFile', '/lake/events/part-00000', data);
    assert.ok(Buffer.from(await g.t.v.readFile('/lake/events/part-00000')).equals(data));
    const obj = await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: 'events/part-00000' }));
    assert.ok((await bodyOf(obj)).equals(data));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'events/' }));
    assert.deepEqual(list.Contents?.map((o) => [o.Key, o.Size]), [['events/part-00000', data.length]]);
  });

  test('S3 and SDK -> WebHDFS', async () => {
    const s3 = g.client();
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'from-s3/a.csv', Body: 'id,name\n1,ferry\n' }));
    await g.t.v.writeFile('/lake/from-sdk.txt', 'written by the SDK');
    assert.equal((await open('/lake/from-s3/a.csv')).toString(), 'id,name\n1,ferry\n');
    assert.equal((await open('/lake/from-sdk.txt')).toString(), 'written by the SDK');
    const names = ((await (await fetch(`${w.base}/lake?op=LISTSTATUS&user.name=root`)).json()) as any).FileStatuses.FileStatus.map((s: { pathSuffix: string }) => s.pathSuffix);
    assert.deepEqual(names, ['events', 'from-s3', 'from-sdk.txt']);
    // A change over WebHDFS is what S3 sees next.
    await call(w.client('root'), 'appendFile', '/lake/from-s3/a.csv', '2,hdfs\n');
    assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: 'from-s3/a.csv' })))).toString(), 'id,name\n1,ferry\n2,hdfs\n');
  });

  test('the same uid is the same user through both: permissions agree', async () => {
    // alice (uid 1001 in the users file, and the ALICE access key) owns a 0755 directory made over WebHDFS.
    assert.equal((await fetch(`${w.base}/lake/alice?op=MKDIRS&user.name=root`, { method: 'PUT' })).status, 200);
    assert.equal((await fetch(`${w.base}/lake/alice?op=SETOWNER&owner=alice&user.name=root`, { method: 'PUT' })).status, 200);
    await g.client(ALICE).send(new PutObjectCommand({ Bucket: 'lake', Key: 'alice/mine.txt', Body: 'mine' }));
    // Objects put over S3 are owner-private (0600): alice reads hers through WebHDFS, bob is refused there too.
    assert.equal((await open('/lake/alice/mine.txt', 'alice')).toString(), 'mine');
    const bobRead = await fetch(`${w.base}/lake/alice/mine.txt?op=OPEN&user.name=bob`);
    assert.equal(bobRead.status, 403);
    assert.equal(((await bobRead.json()) as any).RemoteException.exception, 'AccessControlException');
    const r = await fetch(`${w.base}/lake/alice/bob.txt?op=CREATE&user.name=bob&data=true`, { method: 'PUT', body: 'no' });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as any).RemoteException.exception, 'AccessControlException');
    assert.equal(await s3code(g.client().send(new GetObjectCommand({ Bucket: 'lake', Key: 'alice/bob.txt' }))), 'NoSuchKey');
  });
});
