// The WebHDFS door through a real client: the `webhdfs` npm package, for every operation it has (stat,
// readdir, mkdir, writeFile/appendFile/readFile and their streams, rename, chmod, chown, symlink, unlink,
// exists), each checked against the volume through the SDK.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { call, startWebHdfs, type TestWebHdfs } from './helpers/webhdfs.js';

let w: TestWebHdfs;
before(async () => {
  w = await startWebHdfs();
});
after(() => w?.close());

describe('webhdfs npm client', () => {
  test('mkdir, writeFile, readFile, stat, readdir', async () => {
    const hdfs = w.client('root');
    await call(hdfs, 'mkdir', '/npm/a/b', '0755');
    await call(hdfs, 'writeFile', '/npm/a/b/hello.txt', Buffer.from('hello over webhdfs'));
    assert.equal((await call<Buffer>(hdfs, 'readFile', '/npm/a/b/hello.txt')).toString(), 'hello over webhdfs');
    const st = await call<Record<string, unknown>>(hdfs, 'stat', '/npm/a/b/hello.txt');
    assert.equal(st.type, 'FILE');
    assert.equal(st.length, 18);
    assert.equal(st.owner, 'root');
    assert.equal(st.permission, '755', 'the client sends permission=0755');
    const dir = await call<Record<string, unknown>>(hdfs, 'stat', '/npm/a');
    assert.equal(dir.type, 'DIRECTORY');
    const list = await call<Array<Record<string, unknown>>>(hdfs, 'readdir', '/npm/a/b');
    assert.deepEqual(list.map((e) => [e.pathSuffix, e.type]), [['hello.txt', 'FILE']]);
    // The same bytes through the SDK.
    assert.equal((await w.t.v.readFile('/npm/a/b/hello.txt')).toString(), 'hello over webhdfs');
    assert.equal((await w.t.v.stat('/npm/a/b')).mode & 0o7777, 0o755);
  });

  test('appendFile adds to the end; writeFile overwrites', async () => {
    const hdfs = w.client('root');
    await call(hdfs, 'writeFile', '/npm/log.txt', 'one\n');
    await call(hdfs, 'appendFile', '/npm/log.txt', 'two\n');
    await call(hdfs, 'appendFile', '/npm/log.txt', 'three\n');
    assert.equal((await call<Buffer>(hdfs, 'readFile', '/npm/log.txt')).toString(), 'one\ntwo\nthree\n');
    await call(hdfs, 'writeFile', '/npm/log.txt', 'fresh');
    assert.equal((await w.t.v.readFile('/npm/log.txt')).toString(), 'fresh');
  });

  test('createWriteStream and createReadStream move a few MiB', async () => {
    const hdfs = w.client('root');
    const data = Buffer.alloc(5 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
    await new Promise<void>((resolve, reject) => {
      const out = hdfs.createWriteStream('/npm/big.bin');
      out.on('error', reject);
      out.on('finish', () => resolve());
      Readable.from([data.subarray(0, 3 << 20), data.subarray(3 << 20)]).pipe(out);
    });
    assert.ok(Buffer.from(await w.t.v.readFile("/npm/big.bin")).equals(data));
    const got = await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = hdfs.createReadStream('/npm/big.bin');
      s.on('error', reject);
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('finish', () => resolve(Buffer.concat(parts)));
    });
    assert.ok(got.equals(data));
  });

  test('rename, exists, unlink (recursive), symlink', async () => {
    const hdfs = w.client('root');
    await call(hdfs, 'mkdir', '/npm/mv');
    await call(hdfs, 'writeFile', '/npm/mv/x', 'x');
    await call(hdfs, 'rename', '/npm/mv/x', '/npm/mv/y');
    assert.equal(await new Promise((r) => hdfs.exists('/npm/mv/x', r)), false);
    assert.equal(await new Promise((r) => hdfs.exists('/npm/mv/y', r)), true);
    await call(hdfs, 'symlink', '/npm/mv/link', '/npm/mv/y');
    assert.equal(await w.t.v.readlink('/npm/mv/link'), '/npm/mv/y');
    await assert.rejects(call(hdfs, 'unlink', '/npm/mv'), /is non empty/);
    await call(hdfs, 'unlink', '/npm/mv', true);
    assert.equal(await w.t.v.exists('/npm/mv'), false);
  });

  test('chmod and chown (names from the users and groups files)', async () => {
    const hdfs = w.client('root');
    await call(hdfs, 'writeFile', '/npm/owned', 'data');
    await call(hdfs, 'chmod', '/npm/owned', '640');
    await call(hdfs, 'chown', '/npm/owned', 'alice', 'staff');
    const st = await w.t.v.stat('/npm/owned');
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 1001);
    assert.equal(st.gid, 2000);
    const hs = await call<Record<string, unknown>>(hdfs, 'stat', '/npm/owned');
    assert.equal(hs.owner, 'alice');
    assert.equal(hs.group, 'staff');
    assert.equal(hs.permission, '640');
  });

  test('errors arrive as the RemoteException message', async () => {
    const hdfs = w.client('alice');
    await assert.rejects(call(hdfs, 'stat', '/npm/none'), /File does not exist: \/npm\/none/);
    await assert.rejects(call(hdfs, 'readFile', '/npm/none'), /File does not exist/);
    // alice cannot write into root's 0755 directory.
    await assert.rejects(call(hdfs, 'writeFile', '/npm/a/alice.txt', 'no'), /Permission denied/);
    await assert.rejects(call(hdfs, 'mkdir', '/npm/a/alicedir'), /Permission denied/);
    assert.equal(await w.t.v.exists('/npm/a/alice.txt'), false);
  });
});
