// The data-management features (trash, directory quotas, read-only subtrees) through the WebHDFS door:
// they are enforced in the metadata layer, so a Hadoop client meets them as the SDK, FUSE and S3 do, in
// HDFS's own terms (RemoteException, QuotaUsage, trashInterval).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setReadOnly } from '../src/meta/readonly.js';
import { restoreFromTrash } from '../src/meta/trash-restore.js';
import { rootContext } from '../src/meta/types.js';
import { metaOf } from './helpers/volume.js';
import { until } from './helpers/wait.js';
import { startWebHdfs, type TestWebHdfs } from './helpers/webhdfs.js';

const ROOT = rootContext();
const MiB = 1 << 20;
let w: TestWebHdfs;

before(async () => {
  w = await startWebHdfs({}, { format: { trashDays: 1 }, blockSize: 1 * MiB });
});
after(() => w?.close());

function url(path: string, op: string, params: Record<string, string> = {}): string {
  return `${w.base}${path}?${new URLSearchParams({ op, 'user.name': 'root', ...params })}`;
}

async function json(r: Response): Promise<Record<string, any>> {
  return (await r.json()) as Record<string, any>;
}

async function create(path: string, data: Buffer | string, params: Record<string, string> = {}): Promise<Response> {
  const r1 = await fetch(url(path, 'CREATE', params), { method: 'PUT', redirect: 'manual' });
  if (r1.status !== 307) return r1;
  return fetch(r1.headers.get('location')!, { method: 'PUT', body: typeof data === 'string' ? data : new Uint8Array(data) });
}

async function remote(r: Response): Promise<{ status: number; exception: string; message: string }> {
  const body = await json(r);
  return { status: r.status, exception: body.RemoteException?.exception, message: body.RemoteException?.message };
}

describe('WebHDFS and the trash', () => {
  test('DELETE keeps what it removes in the trash, restorable with its directories; trashInterval says so', async () => {
    assert.equal((await create('/dm/run/part-0', 'zero')).status, 201);
    assert.equal((await create('/dm/run/part-1', 'one')).status, 201);
    const del = await fetch(url('/dm/run', 'DELETE', { recursive: 'true' }), { method: 'DELETE' });
    assert.deepEqual(await json(del), { boolean: true });
    assert.equal(await w.t.v.exists('/dm/run'), false);
    const meta = metaOf(w.t.v);
    const all = await meta.trashList();
    const mine = all.filter((i) => i.path.startsWith('/dm/run'));
    assert.deepEqual(mine.map((i) => i.path).sort(), ['/dm/run', '/dm/run/part-0', '/dm/run/part-1']);
    const file = mine.find((i) => i.path === '/dm/run/part-1')!;
    const r = await restoreFromTrash(meta, ROOT, all, [file]);
    assert.deepEqual(r.failed, []);
    assert.equal((await fetch(url('/dm/run/part-1', 'OPEN'))).status, 200);
    assert.equal(await (await fetch(url('/dm/run/part-1', 'OPEN'))).text(), 'one');
    const d = (await json(await fetch(url('/', 'GETSERVERDEFAULTS')))).FsServerDefaults;
    assert.equal(d.trashInterval, 1440, 'one trash day in minutes');
  });
});

describe('WebHDFS and directory quotas', () => {
  test('a CREATE over the quota is DSQuotaExceededException and commits nothing beyond the limit; GETQUOTAUSAGE, GETCONTENTSUMMARY and GETSTATUS show the quota', async () => {
    await w.t.v.mkdir('/quota');
    const meta = metaOf(w.t.v);
    await meta.quotaSet(ROOT, '/quota', { capacity: 4 * MiB, inodes: 10 });
    // The server learns of a new quota with its format refresh (every 2 s), as every client does.
    await until(async () => (await json(await fetch(url('/quota', 'GETSTATUS')))).FsStatus.capacity === 4 * MiB, 'the server to see the quota', 20_000, 100);
    assert.equal((await create('/quota/small', Buffer.alloc(MiB, 1))).status, 201);
    const over = await remote(await create('/quota/big', Buffer.alloc(8 * MiB, 2)));
    assert.equal(over.status, 403);
    assert.equal(over.exception, 'DSQuotaExceededException');
    assert.match(over.message, /quota/i);
    const q = await meta.quotaGet(ROOT, '/quota');
    assert.ok(q.usedSpace <= 4 * MiB, `usage ${q.usedSpace} stays within the quota`);
    const big = await w.t.v.stat('/quota/big').catch(() => undefined);
    assert.ok(!big || big.size <= 3 * MiB, 'nothing past the limit was committed');
    const usage = (await json(await fetch(url('/quota', 'GETQUOTAUSAGE')))).QuotaUsage;
    assert.equal(usage.spaceQuota, 4 * MiB);
    assert.equal(usage.quota, 10);
    assert.equal(usage.spaceConsumed, q.usedSpace);
    assert.equal(usage.fileAndDirectoryCount, q.usedInodes);
    const cs = (await json(await fetch(url('/quota', 'GETCONTENTSUMMARY')))).ContentSummary;
    assert.deepEqual([cs.quota, cs.spaceQuota], [10, 4 * MiB]);
    const plain = (await json(await fetch(url('/dm', 'GETQUOTAUSAGE')))).QuotaUsage;
    assert.deepEqual([plain.quota, plain.spaceQuota], [-1, -1], 'no quota: -1 as HDFS says');
    const st = (await json(await fetch(url('/quota', 'GETSTATUS')))).FsStatus;
    assert.equal(st.capacity, 4 * MiB, 'the status of a quota\'d directory is the quota');
  });
});

describe('WebHDFS and read-only subtrees', () => {
  test('every change inside a read-only subtree is refused, naming it; reads still work', async () => {
    assert.equal((await create('/ro/keep.txt', 'kept')).status, 201);
    assert.equal((await create('/outside.txt', 'x')).status, 201);
    await setReadOnly(metaOf(w.t.v), '/ro');
    // The server picks the mark up with its format refresh (every 2 s).
    const refused = async (p: Promise<Response>) => {
      const r = await remote(await p);
      assert.equal(r.status, 403, JSON.stringify(r));
      assert.equal(r.exception, 'AccessControlException');
      assert.match(r.message, /Read-only file system.*\/ro/);
    };
    // MKDIRS of a directory that exists answers true (mkdir -p): a new name each try.
    let tries = 0;
    await until(async () => {
      const r = await fetch(url(`/ro/probe-${tries++}`, 'MKDIRS'), { method: 'PUT' });
      if (r.status === 200) await w.t.v.rmdir(`/ro/probe-${tries - 1}`).catch(() => undefined); // the mark may have landed between
      return r.status === 403;
    }, 'the server to see the read-only mark', 20_000, 100);
    await refused(fetch(url('/ro/sub', 'MKDIRS'), { method: 'PUT' }));
    await refused(create('/ro/new.txt', 'no'));
    await refused(create('/ro/keep.txt', 'overwrite', { overwrite: 'true' }));
    await refused(fetch(url('/ro/keep.txt', 'DELETE'), { method: 'DELETE' }));
    await refused(fetch(url('/ro/keep.txt', 'RENAME', { destination: '/moved.txt' }), { method: 'PUT' }));
    await refused(fetch(url('/outside.txt', 'RENAME', { destination: '/ro/in.txt' }), { method: 'PUT' }));
    await refused(fetch(url('/ro/keep.txt', 'SETPERMISSION', { permission: '600' }), { method: 'PUT' }));
    await refused(fetch(url('/ro/keep.txt', 'SETXATTR', { 'xattr.name': 'user.a', 'xattr.value': '"v"', flag: 'CREATE' }), { method: 'PUT' }));
    await refused(fetch(url('/ro/keep.txt', 'APPEND'), { method: 'POST', redirect: 'follow', body: 'more' }));
    assert.equal(await (await fetch(url('/ro/keep.txt', 'OPEN'))).text(), 'kept');
    assert.equal(await w.t.v.readFile('/ro/keep.txt', 'utf8'), 'kept');
  });
});
