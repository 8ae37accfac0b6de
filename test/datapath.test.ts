// The data path through the SDK, on SQLite metadata and a file:// object store: a seeded randomized model test
// (the seed is printed on failure; FERRY_SEED=n reruns one), files larger than a chunk, sparse files,
// concurrent readers while a writer appends, deletion while open, and background compaction.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { MARKER_NAME } from '../src/client/marker.js';
import { CHUNK_SIZE, rootContext as rootCtx } from '../src/meta/types.js';
import type { FileHandle, Volume } from '../src/sdk/index.js';
import { tempVolume, type TempVolume, metaOf, vfsOf } from './helpers/volume.js';
import { prng } from './helpers/random.js';
import { sleep } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BS = 64 * KiB;

const baseSeed = process.env.FERRY_SEED ? Number(process.env.FERRY_SEED) : Math.floor(Math.random() * 2 ** 31);

/** Seeds differ per test but all derive from the one printed seed. */
function seedFor(t: TestContext, salt: number): number {
  const s = (baseSeed + salt * 0x3c6ef372) >>> 0;
  t.diagnostic(`seed ${s} (FERRY_SEED=${baseSeed} reruns this file's seeds)`);
  return s;
}

/** A file as bytes in memory: bytes [base, base+buf.length) are modelled, everything below base is a hole. */
class Model {
  buf = Buffer.alloc(0);
  len = 0;
  constructor(readonly base = 0) {}

  get length(): number {
    return this.base + this.len;
  }

  private ensure(n: number): void {
    if (n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(n, this.buf.length * 2));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  write(off: number, data: Buffer): void {
    const at = off - this.base;
    assert.ok(at >= 0);
    this.ensure(at + data.length);
    if (at > this.len) this.buf.fill(0, this.len, at);
    data.copy(this.buf, at);
    this.len = Math.max(this.len, at + data.length);
  }

  truncate(n: number): void {
    const at = n - this.base;
    assert.ok(at >= 0);
    if (at < this.len) this.buf.fill(0, at, this.len);
    else {
      this.ensure(at);
      this.buf.fill(0, this.len, at);
    }
    this.len = at;
  }

  read(off: number, len: number): Buffer {
    const end = Math.min(off + len, this.length);
    if (end <= off) return Buffer.alloc(0);
    const out = Buffer.alloc(end - off);
    const from = Math.max(off, this.base);
    if (from < end) this.buf.copy(out, from - off, from - this.base, end - this.base);
    return out;
  }
}

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function sameBytes(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  const d = firstDiff(got, want);
  assert.fail(`${what}: got ${got.length} bytes, want ${want.length}; first difference at +${d} (got ${got[d]}, want ${want[d]}) [seed base ${baseSeed}]`);
}

async function readAt(fh: FileHandle, off: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  let n = 0;
  while (n < len) {
    const r = await fh.read(b, n, len - n, off + n);
    if (r.bytesRead === 0) break;
    n += r.bytesRead;
  }
  return b.subarray(0, n);
}

/** Object files under a file:// store (temp files of unfinished puts and the store marker excluded). */
async function countObjects(dir: string | undefined): Promise<number> {
  assert.ok(dir, 'a file:// store');
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    let list;
    try {
      list = await readdir(d, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const e of list) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (!e.name.startsWith('.') && e.name !== MARKER_NAME) n++;
    }
  };
  await walk(dir);
  return n;
}

/** A byte that depends only on the offset and is never 0, so a hole or a wrong offset shows. */
function byteAt(i: number): number {
  return ((Math.imul(i ^ (i >>> 13), 0x9e3779b1) >>> 24) % 255) + 1;
}

function expected(off: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = byteAt(off + i);
  return b;
}

/**
 * Random writes, overwrites, truncates, syncs, reads and reopens on one file, compared with the model after
 * every read and at the end. Writes land in [base, base+span).
 */
async function modelRun(v: Volume, path: string, seed: number, opts: { base: number; span: number; ops: number }): Promise<{ model: Model; counts: Record<string, number>; maxLength: number }> {
  const r = prng(seed);
  const { base, span } = opts;
  const model = new Model(base);
  const counts: Record<string, number> = { write: 0, truncate: 0, sync: 0, read: 0, reopen: 0, stat: 0 };
  let maxLength = 0;
  let fh = await v.open(path, 'w+');
  const other = await v.open(path, 'r'); // a second handle: shares the writer's state in this client
  try {
    if (base > 0) await fh.truncate(base);
    const offset = (): number => Math.min(base + span - 1, offset0());
    const offset0 = (): number => {
      const k = r.int(10);
      if (k < 3) return model.length; // append
      if (k < 6) {
        // just around a block boundary (or the chunk boundary when it is in range)
        const edges = Math.max(1, Math.floor(Math.min(model.len + BS, span) / BS));
        const edge = base + BS * r.int(edges + 1);
        return Math.max(base, Math.min(base + span - 1, edge - 1 - r.int(200) + r.int(400)));
      }
      return base + r.int(Math.min(span - 1, model.len + 256 * KiB));
    };
    const length = (): number => {
      const k = r.int(20);
      if (k < 10) return 1 + r.int(4 * KiB);
      if (k < 17) return 1 + r.int(BS + 300);
      return 1 + r.int(9 * BS);
    };
    for (let op = 0; op < opts.ops; op++) {
      const k = r.int(100);
      const where = `op ${op} (seed ${seed})`;
      maxLength = Math.max(maxLength, model.length);
      if (k < 55) {
        let off = offset();
        const data = r.bytes(Math.min(length(), base + span - off));
        if (data.length === 0) continue;
        if (r.chance(0.1)) {
          // a burst of writes without waiting for each: they apply in call order
          const ps = [];
          for (let i = 0; i < 3; i++, off = offset()) {
            const d = r.bytes(Math.max(1, Math.min(length(), base + span - off)));
            model.write(off, d);
            ps.push(fh.write(d, 0, d.length, off));
          }
          await Promise.all(ps);
        } else {
          model.write(off, data);
          const res = await fh.write(data, 0, data.length, off);
          assert.equal(res.bytesWritten, data.length, where);
          if (r.chance(0.3)) data.fill(0xee); // the caller may reuse its buffer once write() resolved
        }
        counts.write++;
      } else if (k < 61) {
        // mostly small shrinks (the file keeps growing towards span), sometimes anywhere, sometimes a grow
        const k2 = r.int(10);
        const n =
          k2 < 5 ? model.length - r.int(Math.min(model.len, 2 * BS) + 1)
          : k2 < 6 ? base + r.int(model.len + 1)
          : Math.min(base + span, model.length + r.int(2 * BS));
        if (r.chance(0.5)) await fh.truncate(n);
        else await v.truncate(path, n);
        model.truncate(n);
        counts.truncate++;
      } else if (k < 69) {
        await fh.sync();
        counts.sync++;
      } else if (k < 94) {
        const off = r.chance(0.1) ? Math.max(0, base - r.int(1000)) : base + r.int(model.len + 1000);
        const len = r.chance(0.2) ? r.int(600 * KiB) : r.int(8 * KiB);
        const got = await readAt(r.chance(0.3) ? other : fh, off, len);
        sameBytes(got, model.read(off, len), `read ${off}+${len} at ${where}`);
        counts.read++;
      } else if (k < 97) {
        const st = await (r.chance(0.5) ? fh.stat() : v.stat(path));
        assert.equal(st.size, model.length, `size at ${where}`);
        counts.stat++;
      } else {
        await fh.close();
        fh = await v.open(path, 'r+');
        counts.reopen++;
      }
    }
  } finally {
    await fh.close();
    await other.close();
  }
  return { model, counts, maxLength: Math.max(maxLength, model.length) };
}

/** Whole file through a fresh client (no caches), compared with the model; holes below base skipped in big steps. */
async function checkWhole(tv: TempVolume, path: string, model: Model, what: string): Promise<void> {
  const c = await tv.open({ attrTimeout: 0, entryTimeout: 0 });
  try {
    assert.equal((await c.stat(path)).size, model.length, `${what}: size`);
    const fh = await c.open(path, 'r');
    try {
      const step = 1 * MiB + 13;
      for (let off = Math.max(0, model.base - 2 * step); off < model.length; off += step) {
        sameBytes(await readAt(fh, off, step), model.read(off, step), `${what}: ${off}+${step}`);
      }
      if (model.base > 0) sameBytes(await readAt(fh, 0, 4096), Buffer.alloc(4096), `${what}: head hole`);
    } finally {
      await fh.close();
    }
  } finally {
    await c.close();
  }
}

describe('data path through the SDK', () => {
  let tv: TempVolume;
  before(async () => {
    tv = await tempVolume({ blockSize: BS });
  });
  after(async () => {
    await tv?.cleanup();
  });

  it('random writes, overwrites, truncates, syncs and reads match an in-memory model (64 KiB blocks, < 10 MiB)', { timeout: 300_000 }, async (t) => {
    const seed = seedFor(t, 1);
    const { model, counts, maxLength } = await modelRun(tv.v, '/model', seed, { base: 0, span: 10 * MiB, ops: 3000 });
    t.diagnostic(`ops ${JSON.stringify(counts)}, final size ${model.length}, largest ${maxLength}`);
    assert.ok(counts.write > 1000 && counts.read > 400, JSON.stringify(counts));
    await checkWhole(tv, '/model', model, `model (seed ${seed})`);
    // background compaction may have rewritten fragmented chunks meanwhile: content unchanged after it
    await vfsOf(tv.v).jobs.idle();
    await tv.v.settle();
    await checkWhole(tv, '/model', model, `model after settle (seed ${seed})`);
  });

  it('the same model test across the first 64 MiB chunk boundary (sparse below it)', { timeout: 300_000 }, async (t) => {
    const seed = seedFor(t, 2);
    const base = CHUNK_SIZE - 3 * MiB;
    const { model, counts, maxLength } = await modelRun(tv.v, '/model-chunk', seed, { base, span: 6 * MiB, ops: 1500 });
    t.diagnostic(`ops ${JSON.stringify(counts)}, final size ${model.length}, largest ${maxLength}`);
    assert.ok(maxLength > CHUNK_SIZE, `the file grew across the chunk boundary (largest ${maxLength})`);
    if (model.length > CHUNK_SIZE) {
      const c1 = await metaOf(tv.v).readChunk(rootCtx(), (await tv.v.stat('/model-chunk')).ino, 1);
      assert.ok(c1.length > 0, 'chunk 1 holds slices');
    }
    await checkWhole(tv, '/model-chunk', model, `model across chunks (seed ${seed})`);
  });

  it('a file larger than one 64 MiB chunk, written sequentially in 1 MiB calls, reads back identically', { timeout: 300_000 }, async () => {
    const big = await tempVolume(); // 4 MiB blocks
    try {
      const v = big.v;
      const total = CHUNK_SIZE + 8 * MiB + 12345;
      const piece = 1 * MiB;
      const fh = await v.open('/big', 'w');
      for (let off = 0; off < total; off += piece) await fh.write(expected(off, Math.min(piece, total - off)), 0, undefined, null);
      await fh.close();
      assert.equal((await v.stat('/big')).size, total);
      const ino = (await v.stat('/big')).ino;
      const c0 = await metaOf(v).readChunk(rootCtx(), ino, 0);
      const c1 = await metaOf(v).readChunk(rootCtx(), ino, 1);
      assert.ok(c0.length >= 1 && c1.length >= 1, `slices in both chunks (${c0.length}, ${c1.length})`);
      assert.equal(c1.reduce((m, s) => Math.max(m, s.pos + s.len), 0), total - CHUNK_SIZE, 'chunk 1 ends at the file end');
      // sequential read in odd-sized calls, through a fresh client
      const c = await big.open();
      const r = await c.open('/big', 'r');
      const step = 3 * MiB + 7;
      for (let off = 0; off < total; off += step) sameBytes(await readAt(r, off, step), expected(off, Math.min(step, total - off)), `big ${off}`);
      // a read straddling the chunk boundary, and the last bytes
      sameBytes(await readAt(r, CHUNK_SIZE - 100, 200), expected(CHUNK_SIZE - 100, 200), 'across the chunk boundary');
      sameBytes(await readAt(r, total - 10, 100), expected(total - 10, 10), 'tail');
      await r.close();
      // the store holds exactly the blocks of the file: ceil(slice / 4 MiB) per slice
      await v.settle();
      const blocks = [...c0, ...c1].reduce((n, s) => n + Math.ceil(s.size / (4 * MiB)), 0);
      assert.equal(await countObjects(big.blocksDir), blocks);
    } finally {
      await big.cleanup();
    }
  });

  it('a sparse file: 1 byte at 300 MiB has the right size, reads zeros in the holes, and stores one object', { timeout: 120_000 }, async () => {
    const sp = await tempVolume({ blockSize: BS });
    try {
      const v = sp.v;
      const at = 300 * MiB;
      const fh = await v.open('/sparse', 'w+');
      await fh.write(Buffer.from([0x5a]), 0, 1, at);
      await fh.close();
      const st = await v.stat('/sparse');
      assert.equal(st.size, at + 1);
      assert.equal(await countObjects(sp.blocksDir), 1, 'only the one written block is stored');
      const r = await v.open('/sparse', 'r');
      try {
        for (const off of [0, BS - 10, CHUNK_SIZE - 7, 2 * CHUNK_SIZE + 12345, at - BS - 20]) {
          sameBytes(await readAt(r, off, BS + 20), Buffer.alloc(BS + 20), `hole at ${off}`);
        }
        const tail = await readAt(r, at - 5000, 6000);
        assert.equal(tail.length, 5001, 'read stops at the end of file');
        sameBytes(tail.subarray(0, 5000), Buffer.alloc(5000), 'zeros before the byte');
        assert.equal(tail[5000], 0x5a);
        // the whole file, streamed: only zeros and the one byte
        let nonZero = 0;
        let bytes = 0;
        for await (const c of r.createReadStream({ highWaterMark: 8 * MiB })) {
          const b = c as Buffer;
          for (let i = b.indexOf(0x5a); i >= 0 && nonZero < 10; i = b.indexOf(0x5a, i + 1)) nonZero++;
          if (nonZero === 0 && !b.equals(Buffer.alloc(b.length))) nonZero += 100;
          bytes += b.length;
        }
        assert.equal(bytes, at + 1);
        assert.equal(nonZero, 1);
      } finally {
        await r.close();
      }
      // writing into the middle of the hole stores just that, and the rest stays zero
      await v.open('/sparse', 'r+').then(async (h) => {
        await h.write(Buffer.from('mid'), 0, 3, CHUNK_SIZE * 2);
        await h.close();
      });
      const h2 = await v.open('/sparse', 'r');
      assert.equal((await readAt(h2, CHUNK_SIZE * 2 - 2, 7)).toString('latin1'), '\0\0mid\0\0');
      await h2.close();
      assert.equal(await countObjects(sp.blocksDir), 2);
    } finally {
      await sp.cleanup();
    }
  });

  /**
   * One writer appends `total` bytes of expected() in random pieces with random fsyncs while readers read random
   * ranges; every byte a read returns must be the byte written there. `readers` run until the writer is done.
   */
  async function appendWhileReading(t: TestContext, seed: number, path: string, readers: Array<(done: () => boolean, written: () => number) => Promise<number>>) {
    const r = prng(seed);
    const total = 6 * MiB;
    const w = await tv.v.open(path, 'w');
    let written = 0;
    let done = false;
    const writer = async (): Promise<void> => {
      try {
        while (written < total) {
          const n = Math.min(total - written, 1 + r.int(r.chance(0.2) ? 400 * KiB : 24 * KiB));
          await w.write(expected(written, n), 0, n, written);
          written += n;
          if (r.chance(0.1)) await w.sync();
          if (r.chance(0.3)) await sleep(1);
        }
        await w.close();
      } finally {
        done = true;
      }
    };
    const results = await Promise.all([writer(), ...readers.map((f) => f(() => done, () => written))]);
    const reads = results.slice(1) as number[];
    t.diagnostic(`reads per reader: ${reads.join(', ')}`);
    assert.ok(reads.every((n) => n > 0), `every reader read while the writer wrote: ${reads.join(", ")}`);
    const c = await tv.open({ attrTimeout: 0, entryTimeout: 0 });
    const fh = await c.open(path, 'r');
    for (let off = 0; off < total; off += 1 * MiB) sameBytes(await readAt(fh, off, 1 * MiB), expected(off, 1 * MiB), `final ${off}`);
    await fh.close();
    await c.close();
  }

  /** A reader that reads random ranges (mostly near the end) through `open()`'s handle, reopening it when `reopen`. */
  function rangeReader(seed: number, id: string, open: () => Promise<FileHandle>, reopen: number) {
    return async (done: () => boolean, written: () => number): Promise<number> => {
      const rr = prng(seed);
      let fh = await open();
      let n = 0;
      try {
        while (!done()) {
          if (rr.chance(reopen)) {
            await fh.close();
            fh = await open();
          }
          const known = written();
          const off = rr.chance(0.5) ? Math.max(0, known - rr.int(300 * KiB)) : rr.int(known + 1);
          const len = 1 + rr.int(rr.chance(0.2) ? 2 * MiB : 64 * KiB);
          const got = await readAt(fh, off, len);
          sameBytes(got, expected(off, got.length), `reader ${id}: ${off}+${len} (seed ${seed})`);
          n++;
          await sleep(rr.int(2));
        }
      } finally {
        await fh.close();
      }
      return n;
    };
  }

  it('concurrent readers in other clients (close-to-open) while a writer appends see only written bytes', { timeout: 300_000 }, async (t) => {
    const seed = seedFor(t, 3);
    const path = '/appended-c2o';
    await tv.v.writeFile(path, '');
    const clients = [await tv.open({ attrTimeout: 0, entryTimeout: 0 }), await tv.open({ attrTimeout: 0, entryTimeout: 0 }), await tv.open()];
    try {
      await appendWhileReading(
        t,
        seed,
        path,
        clients.map((c, i) => rangeReader(seed + i + 1, `client${i}`, () => c.open(path, 'r'), 0.5)),
      );
    } finally {
      for (const c of clients) await c.close();
    }
  });

  it(
    "concurrent readers in the writer's own client while it appends see only written bytes",
    { timeout: 300_000 },
    async (t) => {
      const seed = seedFor(t, 6);
      const path = '/appended-same';
      await tv.v.writeFile(path, '');
      await appendWhileReading(t, seed, path, [
        rangeReader(seed + 1, 'same-a', () => tv.v.open(path, 'r'), 0),
        rangeReader(seed + 2, 'same-b', () => tv.v.open(path, 'r'), 0.2),
        rangeReader(seed + 3, 'same-c', () => tv.v.open(path, 'r'), 0),
      ]);
    },
  );

  it(
    'a reader in another client that polls the size (fstat) and reads the new tail sees the appended bytes',
    { timeout: 120_000 },
    async (t) => {
      const seed = seedFor(t, 4);
      const r = prng(seed);
      const other = await tv.open({ attrTimeout: 0, entryTimeout: 0 });
      const w = await tv.v.open('/tail', 'w');
      await w.write(expected(0, 1000), 0, 1000, 0);
      await w.sync();
      const fh = await other.open('/tail', 'r');
      try {
        let written = 1000;
        let seen = 0;
        for (let round = 0; round < 200; round++) {
          const n = 1 + r.int(100 * KiB);
          await w.write(expected(written, n), 0, n, written);
          written += n;
          await w.sync();
          const size = (await fh.stat()).size;
          assert.equal(size, written, `round ${round}: size after the writer's fsync`);
          const got = await readAt(fh, seen, size - seen);
          sameBytes(got, expected(seen, size - seen), `round ${round}: tail ${seen}..${size} (seed ${seed})`);
          seen = size;
        }
      } finally {
        await fh.close();
        await w.close();
        await other.close();
      }
    },
  );

  it('deletion while open: the handle keeps reading and writing; blocks go after the last close', { timeout: 120_000 }, async () => {
    const dv = await tempVolume({ blockSize: BS });
    try {
      const v = dv.v;
      await v.writeFile('/keep', expected(0, 300 * KiB));
      const keepObjects = await countObjects(dv.blocksDir);
      const fh = await v.open('/doomed', 'w+');
      const size = 1 * MiB + 777;
      await fh.write(expected(0, size), 0, size, 0);
      await fh.sync();
      assert.ok((await countObjects(dv.blocksDir)) > keepObjects, 'the file has blocks');
      await v.unlink('/doomed');
      await assert.rejects(v.stat('/doomed'), { code: 'ENOENT' });
      assert.ok(!(await v.readdir('/')).includes('doomed'));
      sameBytes(await readAt(fh, 0, size), expected(0, size), 'read after unlink');
      await fh.write(expected(size, 5000), 0, 5000, size);
      await fh.sync();
      const st = await fh.stat();
      assert.equal(st.size, size + 5000);
      assert.equal(st.nlink, 0);
      sameBytes(await readAt(fh, size - 100, 6000), expected(size - 100, 5100), 'read of data written after unlink');
      await v.settle();
      assert.ok((await countObjects(dv.blocksDir)) > keepObjects, 'blocks stay while the file is open');
      sameBytes(await readAt(fh, 0, 1000), expected(0, 1000), 'read after a collection pass');
      await fh.close();
      await v.settle();
      assert.equal(await countObjects(dv.blocksDir), keepObjects, 'only the kept file’s blocks remain');
      sameBytes((await v.readFile('/keep')) as Buffer, expected(0, 300 * KiB), 'the other file is intact');

    } finally {
      await dv.cleanup();
    }
  });

  it(
    'deletion while open in another client: the data stays until that client closes',
    { timeout: 120_000 },
    async () => {
      const dv = await tempVolume({ blockSize: BS });
      try {
        const v = dv.v;
        await v.writeFile('/keep', expected(0, 300 * KiB));
        const keepObjects = await countObjects(dv.blocksDir);
        // held open by another client: deleting it here does not free it until that client closes
        await v.writeFile('/held', expected(0, 500 * KiB));
        const other = await dv.open();
        const oh = await other.open('/held', 'r');
        await v.unlink('/held');
        await v.settle();
        assert.ok((await countObjects(dv.blocksDir)) > keepObjects, 'blocks stay while another client holds the file');
        sameBytes(await readAt(oh, 0, 500 * KiB), expected(0, 500 * KiB), 'the other client still reads it');
        await oh.close();
        await other.settle();
        await v.settle();
        assert.equal(await countObjects(dv.blocksDir), keepObjects, 'freed after the other client closed');
        await other.close();
      } finally {
        await dv.cleanup();
      }
    },
  );

  it('compaction: 300 small synced appends leave a fragmented chunk that background jobs merge', { timeout: 120_000 }, async (t) => {
    const seed = seedFor(t, 5);
    const r = prng(seed);
    const cv = await tempVolume({ blockSize: BS });
    try {
      const v = cv.v;
      const model = new Model();
      const fh = await v.open('/frag', 'a');
      let maxSeen = 0;
      const ino = (await fh.stat()).ino;
      for (let i = 0; i < 300; i++) {
        const d = r.bytes(1 + r.int(3000));
        model.write(model.length, d);
        await fh.write(d);
        await fh.sync();
        if (i % 10 === 9) maxSeen = Math.max(maxSeen, (await metaOf(v).readChunk(rootCtx(), ino, 0)).length);
      }
      await fh.close();
      const before = (await metaOf(v).readChunk(rootCtx(), ino, 0)).length;
      maxSeen = Math.max(maxSeen, before);
      t.diagnostic(`slices: most seen ${maxSeen}, at close ${before}`);
      assert.ok(maxSeen >= 50, `the appends fragmented the chunk (${maxSeen} slices)`);
      await vfsOf(v).jobs.idle();
      await v.settle();
      await vfsOf(v).jobs.idle();
      await v.settle();
      const slices = await metaOf(v).readChunk(rootCtx(), ino, 0);
      t.diagnostic(`slices after settle: ${slices.length}`);
      assert.ok(slices.length < maxSeen && slices.length <= 100, `compacted: ${maxSeen} -> ${slices.length} slices`);
      sameBytes((await v.readFile('/frag')) as Buffer, model.read(0, model.length), `content after compaction (seed ${seed})`);
      // the replaced slices' objects were deleted: the store holds only the live slices' blocks
      const live = new Map<number, number>();
      for (const s of slices) if (s.id !== 0) live.set(s.id, s.size);
      const blocks = [...live.values()].reduce((n, size) => n + Math.ceil(size / BS), 0);
      assert.equal(await countObjects(cv.blocksDir), blocks, 'objects of replaced slices were removed');
      // and a fresh client reads the same bytes
      const c = await cv.open();
      sameBytes((await c.readFile('/frag')) as Buffer, model.read(0, model.length), 'content from a fresh client');
    } finally {
      await cv.cleanup();
    }
  });
});
