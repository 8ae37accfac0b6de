// Write-back staging over an object store whose puts can be held back: a put returns before the store has
// the block, reads are served from staging, the upload lands later and the file moves into the disk cache,
// a block deleted before its upload never reaches the store, a new process uploads what a dead one left,
// a corrupt staged file is EIO (never served, never uploaded), and close() waits for every upload.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCachedStore } from '../src/cache/index.js';
import { isFsError } from '../src/errors.js';
import type { Format } from '../src/meta/types.js';
import { openObjectStore, type ListResult, type ObjectInfo, type ObjectStore } from '../src/object/index.js';
import { tempVolume } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-wb-'));
  dirs.push(d);
  return d;
}

/** A store whose puts wait while `held` (the object store "slow" or away), counting the puts that landed. */
class GatedStore implements ObjectStore {
  held = true;
  landed: string[] = [];
  private waiting: Array<() => void> = [];
  constructor(readonly inner: ObjectStore) {}
  get url() {
    return this.inner.url;
  }
  create() {
    return this.inner.create();
  }
  async put(key: string, data: Buffer): Promise<void> {
    while (this.held) await new Promise<void>((r) => this.waiting.push(r));
    await this.inner.put(key, data);
    this.landed.push(key);
  }
  release(): void {
    this.held = false;
    for (const r of this.waiting.splice(0)) r();
  }
  get(key: string, off?: number, len?: number) {
    return this.inner.get(key, off, len);
  }
  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.inner.list(prefix, marker, limit);
  }
  listAll(prefix: string) {
    return this.inner.listAll(prefix);
  }
  close() {
    return Promise.resolve();
  }
}

const format = { name: 'vol', uuid: randomUUID() } as Format;
const key = (n: number) => `vol/chunks/0/0/${n}_0_1000`;

async function setup(cacheDir?: string, uploads?: number) {
  const backend = await openObjectStore(`mem://${randomUUID()}`);
  await backend.create();
  const gate = new GatedStore(backend);
  const dir = cacheDir ?? (await tempDir());
  // No memory cache: reads must come from the staging files themselves.
  const store = await openCachedStore(format, gate, { cacheDir: dir, writeback: true, writebackUploads: uploads, memoryCacheSize: 0, log: () => undefined });
  return { backend, gate, dir, store, stagingDir: join(dir, format.uuid, 'staging') };
}

const has = (s: ObjectStore, k: string) =>
  s.head(k).then(
    () => true,
    () => false,
  );
// Block files only: not the lock, nor the empty temp files kept ready.
const stagedFiles = async (dir: string) => (await readdir(dir)).filter((n) => n !== '.lock' && !n.startsWith('.tmp.'));

describe('write-back staging', () => {
  it('put returns before the object store has the block; reads come from staging; the upload moves it into the disk cache', async () => {
    const { backend, gate, store, stagingDir } = await setup();
    const data = randomBytes(1000);
    await store.put(key(1), data);
    assert.equal(await has(backend, key(1)), false, 'not uploaded yet');
    assert.deepEqual(await stagedFiles(stagingDir), [encodeURIComponent(key(1))]);
    assert.deepEqual(await store.get(key(1)), data);
    assert.deepEqual(await store.get(key(1), 10, 20), data.subarray(10, 30));
    assert.equal(store.stats.stagingHits, 2);
    assert.equal(store.staging!.stats.pending, 1);

    gate.release();
    await store.staging!.drain();
    assert.deepEqual(await backend.get(key(1)), data, 'the exact bytes reached the store');
    assert.deepEqual(await stagedFiles(stagingDir), []);
    assert.ok(store.disk!.has(key(1)), 'kept in the disk cache');
    assert.deepEqual(await store.get(key(1)), data);
    assert.equal(store.stats.diskHits, 1);
    assert.equal(store.staging!.stats.uploaded, 1);
    assert.equal(store.staging!.stats.uploadedBytes, 1000);
    await store.close();
    assert.deepEqual(await readdir(stagingDir), [], 'close leaves no lock and no spare temp files');
  });

  it('a block deleted before its upload never reaches the object store', async () => {
    // One upload at a time: key 1 is being uploaded (held), keys 2 and 3 wait in the queue.
    const { backend, gate, store, stagingDir } = await setup(undefined, 1);
    for (const n of [1, 2, 3]) await store.put(key(n), randomBytes(1000));
    await store.delete(key(2));
    assert.deepEqual((await stagedFiles(stagingDir)).sort(), [encodeURIComponent(key(1)), encodeURIComponent(key(3))]);
    await assert.rejects(store.get(key(2)), (e) => isFsError(e, 'ENOENT'));
    // Deleting the block whose upload is under way waits for it, then deletes the object.
    const deleting = store.delete(key(1));
    setTimeout(() => gate.release(), 100);
    await deleting;
    assert.equal(await has(backend, key(1)), false);
    await store.close();
    assert.deepEqual(gate.landed, [key(1), key(3)]);
    assert.equal(await has(backend, key(2)), false);
    assert.ok(await has(backend, key(3)));
    assert.equal(store.staging!.stats.cancelled, 1);
  });

  it('a large block deleted while its staged file is still being written is not uploaded', async () => {
    const { backend, gate, store } = await setup();
    gate.release();
    const putting = store.put(key(9), randomBytes(256 << 10)); // above the size staged synchronously
    await store.delete(key(9));
    await putting;
    await store.close();
    assert.equal(await has(backend, key(9)), false);
    assert.deepEqual(gate.landed, []);
    assert.equal(store.staging!.stats.cancelled, 1);
  });

  it('a new store over the same cache dir uploads the blocks an earlier process left staged', async () => {
    const first = await setup();
    const blocks = [randomBytes(1000), randomBytes(1000), randomBytes(1000)];
    for (let i = 0; i < blocks.length; i++) await first.store.put(key(i), blocks[i]!);
    // The first process "dies": its uploads never happen. A new one opens the same cache dir over the store.
    const gate2 = new GatedStore(first.backend);
    gate2.release();
    const second = await openCachedStore(format, gate2, { cacheDir: first.dir, writeback: true, log: () => undefined });
    assert.equal(second.staging!.stats.recovered, 3);
    await second.close();
    for (let i = 0; i < blocks.length; i++) assert.deepEqual(await first.backend.get(key(i)), blocks[i]);
    assert.deepEqual(await stagedFiles(first.stagingDir), []);
    assert.equal(gate2.landed.length, 3);
  });

  it('a corrupt staged file is EIO naming the key: never served, never uploaded, kept aside', async () => {
    // One upload at a time, key 6 first: key 7 is still queued when its file goes bad.
    const { backend, gate, store, stagingDir } = await setup(undefined, 1);
    await store.put(key(6), randomBytes(1000));
    await store.put(key(7), randomBytes(1000));
    const path = join(stagingDir, encodeURIComponent(key(7)));
    const file = await readFile(path);
    file[100] ^= 0xff;
    await writeFile(path, file);
    await assert.rejects(store.get(key(7)), (e) => isFsError(e, 'EIO') && (e as Error).message.includes(key(7)));
    gate.release();
    await store.close();
    assert.equal(await has(backend, key(7)), false);
    assert.equal(store.staging!.stats.corrupt, 1);
    assert.deepEqual(await stagedFiles(stagingDir), [`${encodeURIComponent(key(7))}.corrupt`]);
  });

  it('a file corrupted before its upload is not uploaded either', async () => {
    const { backend, gate, store, stagingDir } = await setup(undefined, 1);
    await store.put(key(6), randomBytes(1000));
    await store.put(key(8), randomBytes(1000));
    const path = join(stagingDir, encodeURIComponent(key(8)));
    await writeFile(path, (await readFile(path)).subarray(0, 500)); // truncated
    gate.release();
    await store.close();
    assert.equal(await has(backend, key(8)), false);
    assert.equal(store.staging!.stats.corrupt, 1);
  });

  it('a block still in memory is uploaded from there: the bytes written, whatever happened to its file', async () => {
    const backend = await openObjectStore(`mem://${randomUUID()}`);
    const gate = new GatedStore(backend);
    const dir = await tempDir();
    const store = await openCachedStore(format, gate, { cacheDir: dir, writeback: true, writebackUploads: 1, log: () => undefined });
    await store.put(key(6), randomBytes(1000)); // in flight (held)
    const data = randomBytes(1000);
    await store.put(key(7), data);
    const path = join(dir, format.uuid, 'staging', encodeURIComponent(key(7)));
    await writeFile(path, (await readFile(path)).subarray(0, 500));
    gate.release();
    await store.close();
    assert.deepEqual(await backend.get(key(7)), data);
    assert.equal(store.staging!.stats.corrupt, 0);
  });

  it('close() waits until every staged block is uploaded', async () => {
    const { backend, gate, store } = await setup();
    for (let i = 0; i < 20; i++) await store.put(key(i), randomBytes(1000));
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await sleep(200);
    assert.equal(closed, false, 'still waiting for the uploads');
    gate.release();
    await closing;
    for (let i = 0; i < 20; i++) assert.ok(await has(backend, key(i)));
  });

  it('beyond cacheSize bytes waiting for upload, puts go to the object store directly again', async () => {
    const backend = await openObjectStore(`mem://${randomUUID()}`);
    const gate = new GatedStore(backend);
    const store = await openCachedStore(format, gate, { cacheDir: await tempDir(), cacheSize: 2000, writeback: true, writebackUploads: 1, log: () => undefined });
    await store.put(key(1), randomBytes(1000));
    await store.put(key(2), randomBytes(1000)); // 2 x 1016 bytes staged: the limit is reached
    let third = false;
    const putting = store.put(key(3), randomBytes(1000)).then(() => (third = true));
    await sleep(100);
    assert.equal(third, false, 'the third put waits for the object store');
    assert.equal(store.staging!.stats.pending, 2);
    gate.release();
    await putting;
    await store.close();
    assert.equal(store.staging!.stats.uploaded, 2);
    for (const n of [1, 2, 3]) assert.ok(await has(backend, key(n)));
  });

  it('another live process staging in the same directory is refused', async () => {
    const { dir, gate, store, stagingDir } = await setup();
    gate.release();
    await store.close();
    await writeFile(join(stagingDir, '.lock'), `${process.ppid}\n`); // a live process that is not this one
    await assert.rejects(
      openCachedStore(format, gate, { cacheDir: dir, writeback: true }),
      (e) => isFsError(e, 'EBUSY') && /in use by process/.test((e as Error).message),
    );
  });

  it('write-back without a cache dir is one clear error', async () => {
    const backend = await openObjectStore(`mem://${randomUUID()}`);
    await assert.rejects(openCachedStore(format, backend, { writeback: true }), /needs a disk cache \(--cache-dir DIR, cacheDir\)/);
  });

  it('through a volume: files written in write-back mode read back from another client without caches', async () => {
    const t = await tempVolume({ blockSize: 64 << 10 });
    try {
      const cacheDir = await tempDir();
      const w = await t.open({ cacheDir, writeback: true, backgroundJobs: false });
      const big = randomBytes(5 * (64 << 10) + 123);
      await w.writeFile('/big.bin', big);
      for (let i = 0; i < 20; i++) await w.writeFile(`/small-${i}`, `file ${i}\n`);
      await w.unlink('/small-3');
      await w.close(); // waits for the uploads
      const r = await t.open({ backgroundJobs: false });
      assert.deepEqual(await r.readFile('/big.bin'), big);
      for (let i = 0; i < 20; i++) if (i !== 3) assert.equal(await r.readFile(`/small-${i}`, 'utf8'), `file ${i}\n`);
      await r.close();
    } finally {
      await t.cleanup();
    }
  });
});
