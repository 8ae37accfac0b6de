// Scoped keys as tokens (issue 20 items 2 and 6): the SDK's `token` option and WebHDFS's ?token=/Bearer go
// through the same scope as the S3 gateway (vfs/scope.ts). A token limited to a subdir, read-only,
// read+append or buckets cannot read, list, write or delete outside that, '..' and symlinks pointing out
// included; expired tokens, wrong secrets and tokens used from outside --allow are refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addKey, removeKey } from '../src/gateway/keys.js';
import type { KeyScope } from '../src/meta/types.js';
import { Volume } from '../src/sdk/index.js';
import { metaOf, tempVolume, type TempVolume } from './helpers/volume.js';
import { startWebHdfs, type TestWebHdfs } from './helpers/webhdfs.js';

const SECRET = 'token-secret-0123456789';
const tok = (id: string) => `${id}:${SECRET}`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'ok';
}

async function setup(t: TempVolume): Promise<void> {
  const v = t.v;
  for (const d of ['/team-a/data', '/team-a/logs', '/team-b/secret']) await v.mkdir(d, { recursive: true });
  await v.writeFile('/team-a/data/hello.txt', 'hello');
  await v.writeFile('/team-b/secret/x', 'team-b secret');
  await v.symlink('/team-b/secret/x', '/team-a/data/abs-link');
  await v.symlink('../../team-b/secret/x', '/team-a/data/rel-link');
  await v.symlink('../../..', '/team-a/data/up');
  for (const p of ['/team-a', '/team-a/data', '/team-a/logs', '/team-a/data/hello.txt']) await v.chown(p, 1001, 1001);
  // Open to everyone: only the scope keeps the tokens out.
  for (const p of ['/team-b', '/team-b/secret']) await v.chmod(p, 0o777);
  await v.chmod('/team-b/secret/x', 0o666);
  const keys: Array<[string, KeyScope]> = [
    ['RW', { subdir: '/team-a' }],
    ['RO', { subdir: '/team-a', access: 'ro' }],
    ['APPEND', { subdir: '/team-a', access: 'append' }],
    ['LOGS', { subdir: '/team-a', buckets: ['logs'] }],
    ['OLD', { subdir: '/team-a', expires: '2020-01-01T00:00:00.000Z' }],
    // TEST-NET-2: no host of the test machine is there.
    ['FAR', { subdir: '/team-a', allow: ['198.51.100.0/24'] }],
    ['NEAR', { subdir: '/team-a', allow: ['127.0.0.0/8', '::1', '0.0.0.0/0'] }],
    ['GONE', { subdir: '/team-a' }],
  ];
  for (const [id, scope] of keys) await addKey(metaOf(v), id, { secret: SECRET, uid: 1001, gid: 1001, created: new Date().toISOString(), scope });
}

describe('SDK token: the volume is the key\'s scope', () => {
  let t: TempVolume;
  const vols: Volume[] = [];
  const open = async (id: string, secret = SECRET) => {
    const v = await Volume.open(t.url, { token: `${id}:${secret}`, attrTimeout: 0, entryTimeout: 0 });
    vols.push(v);
    return v;
  };
  before(async () => {
    t = await tempVolume({ volume: { attrTimeout: 0, entryTimeout: 0 } });
    await setup(t);
  });
  after(async () => {
    for (const v of vols) await v.close().catch(() => undefined);
    await t?.cleanup();
  });

  it('a subdir token sees its directory as "/" and nothing outside it, by .. or by symlink', async () => {
    const v = await open('RW');
    assert.deepEqual((await v.readdir('/')).sort(), ['data', 'logs']);
    assert.equal((await v.readFile('/data/hello.txt')).toString(), 'hello');
    assert.equal(await code(v.readFile('/../team-b/secret/x')), 'ENOENT');
    assert.equal(await code(v.readFile('/data/../../../team-b/secret/x')), 'ENOENT');
    assert.equal(await code(v.readFile('/data/abs-link')), 'ENOENT');
    assert.equal(await code(v.readFile('/data/rel-link')), 'ENOENT');
    assert.deepEqual((await v.readdir('/data/up')).sort(), ['data', 'logs'], 'a symlink climbing out stops at the scope root');
    assert.equal(await v.realpath('/data/up'), '/');
    assert.equal(await code(v.writeFile('/../team-b/secret/x', 'overwritten')), 'ENOENT');
    assert.equal(await code(v.writeFile('/data/abs-link', 'overwritten')), 'ENOENT');
    assert.equal(await code(v.unlink('/data/../../team-b/secret/x')), 'ENOENT');
    await v.writeFile('/data/mine.txt', 'mine');
    assert.equal((await t.v.stat('/team-a/data/mine.txt')).uid, 1001, 'the token acts as its key\'s uid');
    assert.equal((await t.v.readFile('/team-b/secret/x')).toString(), 'team-b secret');
    assert.equal(await code(Promise.resolve().then(() => v.asUser(0, 0))), 'EPERM');
  });

  it('a read-only token reads and lists, and changes nothing', async () => {
    const v = await open('RO');
    assert.equal((await v.readFile('/data/hello.txt')).toString(), 'hello');
    assert.equal(await code(v.writeFile('/data/new', 'x')), 'EACCES');
    assert.equal(await code(v.writeFile('/data/hello.txt', 'x')), 'EACCES');
    assert.equal(await code(v.appendFile('/data/hello.txt', 'x')), 'EACCES');
    assert.equal(await code(v.unlink('/data/hello.txt')), 'EACCES');
    assert.equal(await code(v.mkdir('/data/d')), 'EACCES');
    assert.equal(await code(v.rename('/data/hello.txt', '/data/h2')), 'EACCES');
    assert.equal(await code(v.truncate('/data/hello.txt', 0)), 'EACCES');
    assert.equal(await code(v.chmod('/data/hello.txt', 0o777)), 'EACCES');
  });

  it('an append-only token creates and appends, and never truncates, overwrites, renames or deletes', async () => {
    const v = await open('APPEND');
    await v.writeFile('/data/out.log', 'one\n');
    await v.appendFile('/data/out.log', 'two\n');
    assert.equal((await v.readFile('/data/out.log')).toString(), 'one\ntwo\n');
    assert.equal(await code(v.writeFile('/data/out.log', 'gone')), 'EPERM');
    assert.equal(await code(v.truncate('/data/out.log', 1)), 'EPERM');
    assert.equal(await code(v.unlink('/data/out.log')), 'EPERM');
    assert.equal(await code(v.rename('/data/out.log', '/data/moved')), 'EPERM');
    assert.equal(await code(v.rmdir('/logs')), 'EPERM');
    const fh = await v.open('/data/out.log', 'r+');
    try {
      assert.equal(await code(fh.write(Buffer.from('XX'), 0, 2, 0)), 'EPERM', 'no write below the end');
      await fh.write(Buffer.from('three\n'), 0, 6, 8);
    } finally {
      await fh.close();
    }
    assert.equal((await t.v.readFile('/team-a/data/out.log')).toString(), 'one\ntwo\nthree\n');
    assert.equal(await code(v.writeFile('/data/hello.txt', 'x')), 'EPERM');
  });

  it('a bucket-limited token sees only its buckets', async () => {
    const v = await open('LOGS');
    assert.deepEqual(await v.readdir('/'), ['logs']);
    assert.equal(await code(v.readFile('/data/hello.txt')), 'ENOENT');
    assert.equal(await code(v.mkdir('/other')), 'EACCES');
    await v.writeFile('/logs/l1', 'log');
  });

  it('refuses an expired token, a wrong secret, and a token from outside its networks', async () => {
    assert.equal(await code(open('OLD')), 'EACCES');
    assert.match(String(await open('OLD').catch((e: Error) => e.message)), /expired at 2020-01-01/);
    assert.equal(await code(open('RW', 'wrong-secret-0000')), 'EACCES');
    assert.equal(await code(open('NOPE')), 'EACCES');
    assert.equal(await code(open('FAR')), 'EACCES');
    await open('NEAR');
  });

  it('a removed key stops working in a client that opened with it', async () => {
    const v = await open('GONE');
    await v.readFile('/data/hello.txt');
    await removeKey(metaOf(t.v), 'GONE');
    const deadline = Date.now() + 15_000;
    let c = 'ok';
    while (Date.now() < deadline && (c = await code(v.readdir('/'))) === 'ok') await new Promise((r) => setTimeout(r, 250));
    assert.equal(c, 'EACCES');
  });
});

describe('WebHDFS token: ?token=, ?delegation= and Bearer act as the key, within its scope', () => {
  let w: TestWebHdfs;
  before(async () => {
    w = await startWebHdfs({ allowSimpleAuth: false });
    await setup(w.t);
  });
  after(() => w?.close());

  const req = (path: string, q: string, init: RequestInit = {}) => fetch(`${w.base}${path}?${q}`, { redirect: 'manual', ...init });
  const create = async (path: string, q: string, body: string) => {
    const first = await req(path, `op=CREATE&${q}`, { method: 'PUT' });
    if (first.status !== 307) return first;
    return fetch(first.headers.get('location')!, { method: 'PUT', body });
  };
  const exception = async (r: Response) => ((await r.json()) as { RemoteException?: { exception: string } }).RemoteException?.exception;

  it('reads and lists inside the subdir only; .. and symlinks do not leave it', async () => {
    const r = await req('/data/hello.txt', `op=OPEN&token=${tok('RW')}`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'hello');
    const list = (await (await req('/', `op=LISTSTATUS&token=${tok('RW')}`)).json()) as { FileStatuses: { FileStatus: Array<{ pathSuffix: string }> } };
    assert.deepEqual(list.FileStatuses.FileStatus.map((f) => f.pathSuffix).sort(), ['data', 'logs']);
    for (const p of ['/team-b/secret/x', '/../team-b/secret/x', '/data/abs-link', '/data/rel-link']) {
      const o = await req(p, `op=OPEN&token=${tok('RW')}`);
      assert.equal(o.status, 404, p);
    }
    const bearer = await req('/data/hello.txt', 'op=OPEN', { headers: { authorization: `Bearer ${tok('RW')}` } });
    assert.equal(await bearer.text(), 'hello');
    assert.equal((await req('/data/hello.txt', `op=OPEN&delegation=${tok('RW')}`)).status, 200);
  });

  it('read-only and append-only tokens: refused writes, deletes and overwrites', async () => {
    assert.equal((await create('/data/ro', `token=${tok('RO')}`, 'x')).status, 403);
    assert.equal((await req('/data/hello.txt', `op=DELETE&token=${tok('RO')}`, { method: 'DELETE' })).status, 403);
    assert.equal((await create('/data/produced', `token=${tok('APPEND')}`, 'p1')).status, 201);
    assert.equal((await create('/data/produced', `overwrite=true&token=${tok('APPEND')}`, 'p2')).status, 403);
    const first = await req('/data/produced', `op=APPEND&token=${tok('APPEND')}`, { method: 'POST' });
    assert.equal(first.status, 307);
    assert.equal((await fetch(first.headers.get('location')!, { method: 'POST', body: '+more' })).status, 200);
    assert.equal((await req('/data/produced', `op=DELETE&token=${tok('APPEND')}`, { method: 'DELETE' })).status, 403);
    assert.equal((await req('/data/produced', `op=RENAME&destination=/data/p2&token=${tok('APPEND')}`, { method: 'PUT' })).status, 403);
    assert.equal((await w.t.v.readFile('/team-a/data/produced')).toString(), 'p1+more');
  });

  it('refuses expired tokens, wrong secrets and addresses outside --allow', async () => {
    for (const q of [`token=${tok('OLD')}`, `token=RW:wrong-secret-000`, `token=${tok('FAR')}`]) {
      const r = await req('/data/hello.txt', `op=OPEN&${q}`);
      assert.equal(r.status, 403, q);
      assert.equal(await exception(r), 'AccessControlException');
    }
    assert.equal((await req('/data/hello.txt', `op=OPEN&token=${tok('NEAR')}`)).status, 200);
  });
});
