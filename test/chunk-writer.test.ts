// FileWriter behaviour on real components: slices and commits, ordering of overlapping slices, shared
// buffer backpressure, and failed uploads (a failure-injecting ObjectStore wrapper) committing nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from '../src/chunk/buffer-pool.js';
import { FileReader } from '../src/chunk/reader.js';
import { FileWriter } from '../src/chunk/writer.js';
import { isFsError } from '../src/errors.js';
import { CHUNK_SIZE } from '../src/meta/types.js';
import { openVolume } from './chunk-testkit.test.js';
import { prng } from './helpers/random.js';
import { until } from './helpers/wait.js';

const KiB = 1024;
const BS = 64 * KiB;

type Volume = Awaited<ReturnType<typeof openVolume>>;

async function readAll(v: Volume, ino = v.ino): Promise<Buffer> {
  const length = await v.length(ino);
  return new FileReader(v.store, v.meta, ino, { ctx: v.ctx, maxReadahead: 0 }).read(0, length, length);
}

describe('FileWriter', () => {
  it('buffers appends into one slice per flush and commits it with its size', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      assert.equal(w.hasPending, false);
      assert.equal(w.pendingLength, 0);
      await w.write(0, Buffer.from('hello '));
      await w.write(6, Buffer.from('world'));
      await w.write(11, Buffer.alloc(0));
      assert.equal(w.hasPending, true);
      assert.equal(w.pendingLength, 11);
      assert.equal(await v.length(), 0, 'nothing committed before flush');
      const res = await w.flush();
      assert.ok(res.version > 0);
      assert.equal(w.hasPending, false);
      const slices = await v.meta.readChunk(v.ctx, v.ino, 0);
      assert.equal(slices.length, 1);
      assert.deepEqual({ ...slices[0], id: 0 }, { pos: 0, id: 0, size: 11, off: 0, len: 11 });
      assert.equal((await readAll(v)).toString(), 'hello world');
      assert.deepEqual(await v.objects.keys(), [`t/chunks/0/0/${slices[0]!.id}_0_11`]);
      // flushing with nothing pending is cheap and harmless
      assert.equal((await w.flush()).version, res.version);
    } finally {
      await v.close();
    }
  });

  it('overwrites bytes of a block not yet uploaded in place, and starts a new slice elsewhere', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      await w.write(0, Buffer.alloc(100, 'a'));
      await w.write(10, Buffer.alloc(10, 'b')); // inside the unsent first block: same slice
      await w.write(5000, Buffer.alloc(10, 'c')); // not contiguous: new slice
      await w.flush();
      const slices = await v.meta.readChunk(v.ctx, v.ino, 0);
      assert.deepEqual(slices.map((s) => [s.pos, s.len]), [[0, 100], [5000, 10]]);
      const want = Buffer.alloc(5010);
      want.fill('a', 0, 100).fill('b', 10, 20).fill('c', 5000, 5010);
      assert.ok((await readAll(v)).equals(want));
    } finally {
      await v.close();
    }
  });

  it('never appends to an older slice where a newer one overlaps (the newer data must win)', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      await w.write(0, Buffer.alloc(100, 'a')); // A [0,100)
      await w.write(150, Buffer.alloc(50, 'b')); // B [150,200)
      await w.write(100, Buffer.alloc(80, 'c')); // contiguous with A but overlapping B: must go after B
      await w.write(50, Buffer.alloc(10, 'd')); // inside A's unsent block, but C overlaps? no: only A covers 50..60
      await w.flush();
      const want = Buffer.alloc(200);
      want.fill('a', 0, 100).fill('b', 150, 200).fill('c', 100, 180).fill('d', 50, 60);
      assert.ok((await readAll(v)).equals(want));
    } finally {
      await v.close();
    }
  });

  it('commits a slice reaching its chunk end in the background and tells onCommit', async () => {
    const v = await openVolume(1 << 20);
    try {
      const commits: Array<[number, number]> = [];
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx, onCommit: (indx, r) => commits.push([indx, r.attr.length]) });
      const data = prng(7).bytes(2 << 20);
      await w.write(CHUNK_SIZE - (1 << 20), data);
      await until(() => commits.length === 1);
      assert.deepEqual(commits, [[0, CHUNK_SIZE]]);
      assert.equal(w.pendingLength, CHUNK_SIZE + (1 << 20), 'the second chunk is still pending');
      await w.flush();
      assert.deepEqual(commits, [[0, CHUNK_SIZE], [1, CHUNK_SIZE + (1 << 20)]]);
    } finally {
      await v.close();
    }
  });

  it('splits a write at the chunk boundary into one slice per chunk', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      const data = prng(1).bytes(3000);
      await w.write(CHUNK_SIZE - 1000, data);
      assert.equal(w.pendingLength, CHUNK_SIZE + 2000);
      await w.flush();
      assert.deepEqual((await v.meta.readChunk(v.ctx, v.ino, 0)).map((s) => [s.pos, s.len]), [[CHUNK_SIZE - 1000, 1000]]);
      assert.deepEqual((await v.meta.readChunk(v.ctx, v.ino, 1)).map((s) => [s.pos, s.len]), [[0, 2000]]);
      const length = await v.length();
      const r = new FileReader(v.store, v.meta, v.ino, { ctx: v.ctx });
      assert.ok((await r.read(CHUNK_SIZE - 1000, 3000, length)).equals(data));
    } finally {
      await v.close();
    }
  });

  it('reports chunks whose slice count reached the threshold, with the version of the last commit', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx, fragmentThreshold: 5 });
      let last = 0;
      for (let i = 0; i < 6; i++) {
        await w.write(i * 10, Buffer.alloc(10, i));
        const res = await w.flush();
        assert.ok(res.version > last);
        last = res.version;
        assert.deepEqual(res.fragmented, i >= 4 ? [{ indx: 0, count: i + 1 }] : []);
      }
      assert.equal(await v.meta.currentVersion(), last);
    } finally {
      await v.close();
    }
  });

  it('shares one buffer budget between files: memory stays bounded and the data is right', async () => {
    const v = await openVolume(BS, { uploadConcurrency: 2 });
    try {
      v.objects.delayMs = 3;
      const pool = new BufferPool(4 * BS);
      const inos = [v.ino, await v.newFile('g'), await v.newFile('h')];
      const writers = inos.map((ino) => new FileWriter(v.store, v.meta, ino, { ctx: v.ctx, pool }));
      const datas = inos.map((_, i) => prng(10 + i).bytes(40 * BS + 123));
      let maxUsed = 0;
      await Promise.all(
        writers.map(async (w, i) => {
          for (let off = 0; off < datas[i]!.length; off += 10 * KiB) {
            await w.write(off, datas[i]!.subarray(off, off + 10 * KiB));
            maxUsed = Math.max(maxUsed, pool.used);
          }
          await w.flush();
        }),
      );
      assert.ok(maxUsed <= 4 * BS + BS, `max buffered ${maxUsed}`);
      assert.equal(pool.used, 0);
      for (let i = 0; i < inos.length; i++) assert.ok((await readAll(v, inos[i])).equals(datas[i]!));
    } finally {
      await v.close();
    }
  });

  it('a writer waiting for budget makes idle writers upload what they hold (no deadlock)', async () => {
    const v = await openVolume(BS);
    try {
      const pool = new BufferPool(BS);
      const idle = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx, pool });
      await idle.write(0, Buffer.alloc(BS / 2, 'i')); // a partial block: not uploaded on its own
      assert.equal(pool.used, BS / 2);
      const busy = new FileWriter(v.store, v.meta, await v.newFile('g'), { ctx: v.ctx, pool });
      await busy.write(0, Buffer.alloc(BS, 'b')); // cannot fit next to the idle one's half block
      await busy.flush();
      // the idle writer's data was sealed, uploaded and committed without a flush of its own
      await until(() => !idle.hasPending);
      assert.equal(await v.length(), BS / 2);
      assert.ok((await readAll(v)).equals(Buffer.alloc(BS / 2, 'i')));
      assert.equal(pool.used, 0);
    } finally {
      await v.close();
    }
  });

  it('a failed upload makes flush reject with EIO and commits nothing', async () => {
    const v = await openVolume(BS);
    try {
      const pool = new BufferPool(1 << 20);
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx, pool });
      v.objects.failPut = true;
      await w.write(0, prng(2).bytes(Math.floor(3.5 * BS))).catch(() => undefined);
      await assert.rejects(w.flush(), (e: unknown) => isFsError(e, 'EIO'));
      assert.deepEqual(await v.meta.readChunk(v.ctx, v.ino, 0), []);
      assert.equal(await v.length(), 0);
      assert.equal(w.hasPending, false);
      assert.equal(pool.used, 0, 'buffers released');
      assert.deepEqual(await v.objects.keys(), []);
      // the error was reported once; the writer works again
      v.objects.failPut = false;
      const data = prng(3).bytes(2 * BS + 7);
      await w.write(0, data);
      await w.flush();
      assert.ok((await readAll(v)).equals(data));
    } finally {
      await v.close();
    }
  });

  it('one failed block drops its slice and the later ones of its chunk; uploaded blocks are removed again', async () => {
    const v = await openVolume(BS, { uploadConcurrency: 1 });
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      await w.write(0, Buffer.alloc(10, 'x'));
      await w.flush();
      const committed = (await v.meta.readChunk(v.ctx, v.ino, 0))[0]!;
      v.objects.failPut = (key) => /_2_/.test(key); // the third block of any slice
      await w.write(0, prng(4).bytes(4 * BS)); // blocks 0, 1 upload fine, block 2 fails
      // a later slice of the same chunk: it must not be committed after the failed one
      await w.write(5 * BS, Buffer.alloc(10, 'y')).catch(() => undefined);
      await assert.rejects(w.flush(), (e: unknown) => isFsError(e, 'EIO'));
      assert.deepEqual(await v.meta.readChunk(v.ctx, v.ino, 0), [committed]);
      assert.equal(await v.length(), 10);
      await until(async () => (await v.objects.keys()).length === 1);
      assert.deepEqual(await v.objects.keys(), [`t/chunks/0/0/${committed.id}_0_10`]);
    } finally {
      await v.close();
    }
  });

  it('a failure in a background upload makes later writes reject with EIO until flush reports it', async () => {
    const v = await openVolume(BS);
    try {
      const w = new FileWriter(v.store, v.meta, v.ino, { ctx: v.ctx });
      v.objects.failPut = true;
      await w.write(0, Buffer.alloc(2 * BS, 1)); // full blocks go up in the background and fail
      await until(async () => {
        try {
          await w.write(2 * BS, Buffer.alloc(1));
          return false;
        } catch (e) {
          assert.ok(isFsError(e, 'EIO'));
          return true;
        }
      });
      await assert.rejects(w.flush(), (e: unknown) => isFsError(e, 'EIO'));
      v.objects.failPut = false;
      await w.write(0, Buffer.alloc(5, 2));
      await w.flush();
      assert.ok((await readAll(v)).equals(Buffer.alloc(5, 2)));
    } finally {
      await v.close();
    }
  });
});
