// Deleted while open, across clients (issue 17 item 4): one client unlinks a file another client has
// open; the holder keeps reading and writing it through its handle, and the file's blocks leave the store
// only after the holder closes it. Two SDK clients of one volume, then two real FUSE mounts (daemons).
import assert from 'node:assert/strict';
import { open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FileHandle as SdkHandle } from '../src/sdk/index.js';
import { formatVolume, fuseTestOptions, mountFerry } from './helpers/mount.js';
import { tempVolume } from './helpers/volume.js';

const KiB = 1024;
const BS = 256 * KiB;

/** A byte that depends only on the offset and is never 0, so a hole (zeros) or a wrong offset shows. */
function pattern(off: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = ((Math.imul((off + i) ^ ((off + i) >>> 13), 0x9e3779b1) >>> 24) % 255) + 1;
  return b;
}

/** Object files under a file:// store (temp files of unfinished puts excluded). */
async function countObjects(dir: string): Promise<number> {
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
      // Blocks only: not temp files, nor the volume's marker object (a client claims the prefix when it finds none).
      else if (!e.name.startsWith('.') && e.name !== 'ferry_uuid') n++;
    }
  };
  await walk(dir);
  return n;
}

async function sdkRead(fh: SdkHandle, off: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  let n = 0;
  while (n < len) {
    const r = await fh.read(b, n, len - n, off + n);
    if (r.bytesRead === 0) break;
    n += r.bytesRead;
  }
  return b.subarray(0, n);
}

function same(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  let d = 0;
  while (d < Math.min(got.length, want.length) && got[d] === want[d]) d++;
  assert.fail(`${what}: got ${got.length} bytes, want ${want.length}; first difference at +${d} (got ${got[d]}, want ${want[d]})`);
}

describe('deleted while open, across clients', () => {
  it('SDK: the holder reads and writes a file another client unlinked; its blocks go after the holder closes', { timeout: 120_000 }, async () => {
    const tv = await tempVolume({ blockSize: BS });
    try {
      const a = tv.v;
      const b = await tv.open();
      const blocks = tv.blocksDir!;
      await a.writeFile('/keep', pattern(0, 100 * KiB));
      const keep = await countObjects(blocks);
      const size = 700 * KiB + 13;
      await a.writeFile('/held', pattern(0, size));
      const fh = await b.open('/held', 'r+');
      await a.unlink('/held');
      await assert.rejects(a.stat('/held'), { code: 'ENOENT' });
      await a.settle();
      await b.settle();
      assert.ok((await countObjects(blocks)) > keep, 'blocks stay while the other client holds the file');
      same(await sdkRead(fh, 0, size), pattern(0, size), 'read through the holder after the unlink');
      await fh.write(pattern(size, 300 * KiB), 0, 300 * KiB, size);
      await fh.sync();
      const st = await fh.stat();
      assert.equal(st.size, size + 300 * KiB);
      assert.equal(st.nlink, 0);
      same(await sdkRead(fh, size - 10, 300 * KiB + 10), pattern(size - 10, 300 * KiB + 10), 'data written after the unlink');
      await a.settle();
      same(await sdkRead(fh, 0, 1000), pattern(0, 1000), 'read after the unlinking client collected');
      await fh.close();
      await b.settle();
      await a.settle();
      assert.equal(await countObjects(blocks), keep, 'only the kept file’s blocks remain');
      same((await a.readFile('/keep')) as Buffer, pattern(0, 100 * KiB), 'the other file is intact');
    } finally {
      await tv.cleanup();
    }
  });

  it('FUSE: two mounts; one unlinks a file the other reads and writes through its fd; blocks go after that fd closes', { timeout: 180_000, ...fuseTestOptions() }, async () => {
    const tv = await formatVolume({ blockSize: BS });
    const mounts = [];
    try {
      const blocks = join(tv.dir, 'blocks');
      const ma = await mountFerry(tv.url, join(tv.dir, 'a'));
      mounts.push(ma);
      const mb = await mountFerry(tv.url, join(tv.dir, 'b'));
      mounts.push(mb);
      await writeFile(join(ma.mp, 'keep'), pattern(0, 100 * KiB));
      const kept = await countObjects(blocks); // the kept file's block
      const size = 900 * KiB + 7;
      await writeFile(join(ma.mp, 'held'), pattern(0, size));
      const fd = await open(join(mb.mp, 'held'), 'r+');
      try {
        await unlink(join(ma.mp, 'held'));
        await assert.rejects(stat(join(ma.mp, 'held')), { code: 'ENOENT' });
        const got = Buffer.alloc(size);
        const r = await fd.read(got, 0, size, 0);
        assert.equal(r.bytesRead, size);
        same(got, pattern(0, size), 'read through the other mount after the unlink');
        await fd.write(pattern(size, 200 * KiB), 0, 200 * KiB, size);
        await fd.sync();
        assert.equal((await fd.stat()).size, size + 200 * KiB);
        const tail = Buffer.alloc(200 * KiB + 100);
        await fd.read(tail, 0, tail.length, size - 100);
        same(tail, pattern(size - 100, tail.length), 'data written after the unlink');
        await sleep(1500);
        assert.ok((await countObjects(blocks)) > 1, 'blocks stay while the file is held');
      } finally {
        await fd.close();
      }
      // The holder's daemon frees the file at its release; background deletion removes the blocks.
      let left = -1;
      for (let i = 0; i < 60; i++) {
        left = await countObjects(blocks);
        if (left <= kept) break;
        await sleep(500);
      }
      assert.equal(left, kept, 'only the kept file’s block remains');
      same(await readFile(join(mb.mp, 'keep')), pattern(0, 100 * KiB), 'the other file is intact');
    } finally {
      for (const m of mounts.reverse()) await m.unmount();
      await tv.cleanup();
    }
  });
});
