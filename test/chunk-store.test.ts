// ChunkStore against a real mem:// object store: keys, ranged parallel reads, bounded concurrency,
// missing blocks as EIO, slice deletion.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { blockKey } from '../src/chunk/keys.js';
import { ChunkStore } from '../src/chunk/store.js';
import { isFsError } from '../src/errors.js';
import { openObjectStore } from '../src/object/index.js';
import { InstrumentedStore } from './chunk-testkit.test.js';
import { prng } from './helpers/random.js';

const BS = 64 << 10;

async function setup(opts: { uploadConcurrency?: number; downloadConcurrency?: number } = {}) {
  const objects = new InstrumentedStore(await openObjectStore(`mem://${randomUUID()}`));
  await objects.create();
  const store = new ChunkStore(objects, { volume: 'vol', blockSize: BS, ...opts });
  return { objects, store };
}

async function putSlice(store: ChunkStore, id: number, data: Buffer): Promise<void> {
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i * BS < data.length; i++) jobs.push(store.uploadBlock(id, i, data.subarray(i * BS, (i + 1) * BS)));
  await Promise.all(jobs);
}

describe('ChunkStore', () => {
  it('stores blocks under the DESIGN key, the last one shorter', async () => {
    const { objects, store } = await setup();
    const data = prng(1).bytes(2 * BS + 100);
    await putSlice(store, 1234567, data);
    assert.deepEqual((await objects.keys()).sort(), [
      blockKey('vol', 1234567, 0, BS),
      blockKey('vol', 1234567, 1, BS),
      blockKey('vol', 1234567, 2, 100),
    ].sort());
    assert.equal(blockKey('vol', 1234567, 2, 100), 'vol/chunks/1/1234/1234567_2_100');
  });

  it('reads any range of a slice byte for byte', async () => {
    const { store } = await setup();
    const size = 3 * BS + 777;
    const data = prng(2).bytes(size);
    await putSlice(store, 42, data);
    const r = prng(3);
    const cases: Array<[number, number]> = [
      [0, size],
      [0, 1],
      [size - 1, 1],
      [BS - 1, 2],
      [BS, BS],
      [10, 3 * BS],
      [3 * BS, 777],
      [5, 0],
    ];
    for (let i = 0; i < 200; i++) {
      const off = r.int(size);
      cases.push([off, r.int(size - off + 1)]);
    }
    for (const [off, len] of cases) {
      const got = await store.readSlice(42, size, off, len);
      assert.equal(got.length, len);
      assert.ok(got.equals(data.subarray(off, off + len)), `range ${off}+${len}`);
    }
  });

  it('fetches only the blocks and bytes a read needs', async () => {
    const { objects, store } = await setup();
    const size = 4 * BS;
    await putSlice(store, 7, prng(4).bytes(size));
    objects.gets = 0;
    objects.getBytes = 0;
    await store.readSlice(7, size, BS + 10, 100);
    assert.equal(objects.gets, 1);
    assert.equal(objects.getBytes, 100);
    objects.gets = 0;
    objects.getBytes = 0;
    await store.readSlice(7, size, BS - 10, BS + 20); // touches blocks 0, 1 and 2
    assert.equal(objects.gets, 3);
    assert.equal(objects.getBytes, BS + 20);
  });

  it('bounds parallel downloads and uploads', async () => {
    const { objects, store } = await setup({ downloadConcurrency: 3, uploadConcurrency: 2 });
    const size = 12 * BS;
    const data = prng(5).bytes(size);
    objects.delayMs = 5;
    await putSlice(store, 9, data);
    assert.equal(objects.maxInFlight, 2);
    objects.maxInFlight = 0;
    const got = await store.readSlice(9, size, 0, size);
    assert.ok(got.equals(data));
    assert.equal(objects.maxInFlight, 3);
  });

  it('reports a missing block as EIO naming its key, never zeros', async () => {
    const { objects, store } = await setup();
    const size = 2 * BS;
    await putSlice(store, 11, prng(6).bytes(size));
    const key = blockKey('vol', 11, 1, BS);
    await objects.delete(key);
    await assert.rejects(store.readSlice(11, size, 0, size), (e: unknown) => {
      assert.ok(isFsError(e, 'EIO'));
      assert.match((e as Error).message, new RegExp(key));
      return true;
    });
    // the intact block still reads
    assert.equal((await store.readSlice(11, size, 0, BS)).length, BS);
  });

  it('refuses reads outside the slice', async () => {
    const { store } = await setup();
    await putSlice(store, 12, Buffer.alloc(100, 1));
    await assert.rejects(store.readSlice(12, 100, 50, 51), (e: unknown) => isFsError(e, 'EIO'));
  });

  it('deleteSlice removes every block and tolerates missing ones', async () => {
    const { objects, store } = await setup();
    await putSlice(store, 20, prng(7).bytes(3 * BS + 1));
    await putSlice(store, 21, prng(8).bytes(10));
    await objects.delete(blockKey('vol', 20, 1, BS));
    await store.deleteSlice(20, 3 * BS + 1);
    assert.deepEqual(await objects.keys(), [blockKey('vol', 21, 0, 10)]);
    await store.deleteSlice(20, 3 * BS + 1); // again: nothing left, no error
  });
});
