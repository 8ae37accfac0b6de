// Runs the object conformance suite on every built-in backend, plus what is specific to each.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { objectSchemes, openObjectStore, type ObjectStore } from '../src/object/index.js';
import { objectConformance } from './suites/object-suite.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-object-'));
  dirs.push(dir);
  return dir;
}

objectConformance('file', async () => openObjectStore(`file://${await tempDir()}/store`));
objectConformance('mem', async () => openObjectStore(`mem://test-${randomUUID()}`));

async function keysOf(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.listAll(prefix)) keys.push(o.key);
  return keys;
}

describe('object store registry', () => {
  it('knows file and mem', () => {
    assert.ok(objectSchemes().includes('file') && objectSchemes().includes('mem'));
  });

  it('opens a bare path as a file store', async () => {
    const dir = await tempDir();
    const store = await openObjectStore(join(dir, 'bare'));
    assert.equal(store.url, `file://${dir}/bare`);
    await store.create();
    await store.put('k', Buffer.from('v'));
    assert.ok(existsSync(join(dir, 'bare', 'k')));
  });

  it('rejects unknown schemes and bad URLs with one clear line', async () => {
    for (const raw of ['nope://x', 'file://somehost/dir', 'http://[::1']) {
      await assert.rejects(openObjectStore(raw), (e: unknown) => {
        assert.ok(e instanceof FsError);
        assert.equal(e.code, 'EINVAL');
        assert.ok(e.message.includes(raw), e.message);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    }
    await assert.rejects(openObjectStore('nope://x'), /unknown object storage 'nope:\/\/x' \(known: .*file.*mem/);
  });

  it('shares the objects of one mem name between opens', async () => {
    const name = `mem://shared-${randomUUID()}`;
    const a = await openObjectStore(name);
    const b = await openObjectStore(name);
    await a.put('k', Buffer.from('v'));
    assert.deepEqual(await b.get('k'), Buffer.from('v'));
    const other = await openObjectStore(`mem://other-${randomUUID()}`);
    await assert.rejects(other.get('k'), { code: 'ENOENT' });
  });
});

describe('file object store', () => {
  let dir: string;
  let store: ObjectStore;
  before(async () => {
    dir = join(await tempDir(), 'store');
    store = await openObjectStore(`file://${dir}`);
    await store.create();
  });

  it('stores keys as paths under its directory, leaving no temp file', async () => {
    await store.put('a/b/c', Buffer.from('abc'));
    await store.put('a/b/d', Buffer.from('abd'));
    assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['c', 'd']);
    assert.deepEqual(await keysOf(store, 'a/'), ['a/b/c', 'a/b/d']);
  });

  it('ignores a temp file left by a crash', async () => {
    await store.put('crash/k', Buffer.from('whole'));
    await writeFile(join(dir, 'crash', `.k.tmp.4242.0123456789ab`), 'half');
    await mkdir(join(dir, 'crash', 'sub'));
    await writeFile(join(dir, 'crash', 'sub', `.z.tmp.1.abcdefabcdef`), 'half');
    assert.deepEqual(await keysOf(store, 'crash/'), ['crash/k']);
    assert.ok(!(await keysOf(store, '')).some((k) => k.includes('.tmp.')));
    assert.deepEqual(await store.get('crash/k'), Buffer.from('whole'));
    await store.put('crash/k', Buffer.from('again'));
    assert.deepEqual(await store.get('crash/k'), Buffer.from('again'));
  });

  it('rejects keys that are not clean relative paths', async () => {
    const bad = ['../escape', 'a/../../b', 'a/./b', '/abs', 'a//b', 'a/', '', '.multipart/x', 'a/.k.tmp.1.0123456789ab'];
    for (const key of bad) {
      await assert.rejects(store.put(key, Buffer.from('x')), { code: 'EINVAL' }, key);
      await assert.rejects(store.get(key), { code: 'EINVAL' }, key);
      await assert.rejects(store.head(key), { code: 'EINVAL' }, key);
      await assert.rejects(store.delete(key), { code: 'EINVAL' }, key);
    }
    assert.ok(!existsSync(join(dir, '..', 'escape')));
    assert.deepEqual(await store.list('../'), { objects: [], isTruncated: false });
    assert.deepEqual(await store.list('.multipart/'), { objects: [], isTruncated: false });
  });

  it('refuses a key that is a directory of other keys, and the other way round', async () => {
    // A file system cannot hold 'x' both as a file and as a directory; S3 could.
    await store.put('fd/x', Buffer.from('file'));
    await assert.rejects(store.put('fd/x/y', Buffer.from('under a file')), { code: 'ENOTDIR' });
    await store.put('fd/d/y', Buffer.from('in a dir'));
    await assert.rejects(store.put('fd/d', Buffer.from('over a dir')), { code: 'EISDIR' });
    await store.delete('fd/d');
    assert.deepEqual(await keysOf(store, 'fd/'), ['fd/d/y', 'fd/x']);
    assert.deepEqual(await readdir(join(dir, 'fd')), ['d', 'x']);
  });

  it('keeps pending multipart parts outside the listing and removes them on completion', async () => {
    const mp = await store.createMultipartUpload!('mpf/obj');
    const part = await store.uploadPart!('mpf/obj', mp.uploadId, 1, Buffer.from('only part'));
    assert.deepEqual(await keysOf(store, 'mpf/'), []);
    await store.completeUpload!('mpf/obj', mp.uploadId, [part]);
    assert.deepEqual(await readdir(join(dir, '.multipart')), []);
    assert.deepEqual(await store.get('mpf/obj'), Buffer.from('only part'));
  });
});
