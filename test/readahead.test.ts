// Read-ahead and fetch sharing on the real stack (Volume.open -> openClient -> VFS -> FileReader -> ChunkStore
// -> crc32c transform -> object store): a cold sequential read fetches every block exactly once, concurrent
// wants of one block share one get, read-ahead stays within --prefetch and --buffer-size, random reads
// fetch nothing ahead. The object store is a file:// store under a scheme of this test that counts the gets
// of each block key; the FUSE case counts them over HTTP, at a proxy in front of Ceph RGW, while `cat` and
// `dd` read through a real mount.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ThrottleProxy } from '../bench/throttle-proxy.js';
import { rootContext } from '../src/meta/index.js';
import { openObjectStore, registerObjectStore } from '../src/object/index.js';
import type { ObjectStore } from '../src/object/interface.js';
import { O_RDONLY } from '../src/vfs/flags.js';
import type { VFS } from '../src/vfs/vfs.js';
import { dropBucket, makeBucket } from '../bench/rgw-bucket.js';
import { formatVolume, fuseTestOptions, mountFerry, run } from './helpers/mount.js';
import { prng } from './helpers/random.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';
import { tempVolume, vfsOf, type TempVolume } from './helpers/volume.js';
import { until } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BS = 1 * MiB;

/** What the stores opened under `countget://` saw: gets per block key, in flight, and a gate holding them. */
const seen = {
  gets: new Map<string, number>(),
  inFlight: 0,
  maxInFlight: 0,
  /** While set, block gets wait for it. */
  gate: undefined as Promise<void> | undefined,
  reset() {
    this.gets.clear();
    this.maxInFlight = this.inFlight;
  },
  total(): number {
    return [...this.gets.values()].reduce((a, b) => a + b, 0);
  },
};

// The only stand-in: a file:// store whose block gets are counted (every other component is the real one).
registerObjectStore('countget', async (url) => {
  const inner = await openObjectStore(`file://${url.pathname}`);
  const counting: ObjectStore = Object.create(inner);
  counting.get = async (key: string, off?: number, len?: number) => {
    if (!key.includes('/chunks/')) return inner.get(key, off, len);
    seen.gets.set(key, (seen.gets.get(key) ?? 0) + 1);
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    try {
      await seen.gate;
      return await inner.get(key, off, len);
    } finally {
      seen.inFlight--;
    }
  };
  return counting;
});

interface Opened {
  vfs: VFS;
  fh: number;
  length: number;
}

async function openFile(vfs: VFS, name: string): Promise<Opened> {
  const ctx = rootContext();
  const l = await vfs.lookup(ctx, 1, name);
  const o = await vfs.open(ctx, l.inode, O_RDONLY);
  return { vfs, fh: o.fh, length: l.attr.length };
}

/** Reads the whole file in `size` reads one after another, as the FUSE server hands a stream over. */
async function readAll(f: Opened, size: number, each?: () => void): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < f.length; off += size) {
    parts.push(Buffer.from(await f.vfs.read(rootContext(), f.fh, off, size)));
    each?.();
  }
  return Buffer.concat(parts);
}

function readerOf(f: Opened) {
  return f.vfs.handle(f.fh).reader!;
}

describe('read-ahead through the real stack (file:// store, crc32c blocks)', () => {
  let t: TempVolume;
  const files: Record<string, Buffer> = {};

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-ra-store-'));
    t = await tempVolume({ blockSize: BS, format: { storage: `countget://${dir}` }, volume: { backgroundJobs: false } });
    const r = prng(23);
    for (const name of ['a', 'b', 'c']) {
      files[name] = r.bytes(24 * MiB + 12345);
      await t.v.writeFile(`/${name}`, files[name]!);
    }
    const cleanup = t.cleanup;
    t.cleanup = async () => {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    };
  });
  after(async () => {
    await t?.cleanup();
  });

  it('a cold sequential read fetches every block exactly once', async () => {
    for (const size of [128 * KiB, 1 * MiB]) {
      const v = await t.open({ backgroundJobs: false }); // a fresh client: nothing of the file in memory
      const f = await openFile(vfsOf(v), 'a');
      seen.reset();
      const got = await readAll(f, size);
      assert.ok(got.equals(files.a!), `the data read back in ${size} B reads`);
      const blocks = Math.ceil(files.a!.length / BS);
      assert.equal(seen.gets.size, blocks, 'every block fetched');
      const twice = [...seen.gets].filter(([, n]) => n !== 1);
      assert.deepEqual(twice, [], `blocks fetched more than once with ${size} B reads`);
      assert.ok(readerOf(f).readahead >= 2 * BS, `the window grew (${readerOf(f).readahead})`);
      await v.close();
    }
  });

  it('a stream that goes back within its window (as the kernel does over FUSE) re-reads held blocks', async () => {
    const v = await t.open({ backgroundJobs: false, prefetch: 8 });
    const f = await openFile(vfsOf(v), 'a');
    seen.reset();
    const ctx = rootContext();
    const read = async (from: number, to: number) => {
      for (let off = from; off < to; off += 256 * KiB) {
        const got = await f.vfs.read(ctx, f.fh, off, 256 * KiB);
        assert.ok(got.equals(files.a!.subarray(off, off + 256 * KiB)), `at ${off}`);
      }
    };
    await read(0, 16 * MiB);
    const window = readerOf(f).readahead;
    assert.ok(window >= 4 * MiB, `window ${window}`);
    // Back by most of a window, read up to where the stream was, then on to the end.
    await read(16 * MiB - window + BS, 16 * MiB);
    await read(16 * MiB, 24 * MiB);
    await until(() => seen.inFlight === 0);
    assert.deepEqual([...seen.gets].filter(([, n]) => n !== 1), [], 'no block fetched twice');
    await v.close();
  });

  it('concurrent readers of one block share one fetch (two open files, a sequential and a random read)', async () => {
    const v = await t.open({ backgroundJobs: false });
    const vfs = vfsOf(v);
    const [f1, f2, f3] = [await openFile(vfs, 'b'), await openFile(vfs, 'b'), await openFile(vfs, 'b')];
    // f3 has read far away: its next read inside block 0 is a random one, a ranged read of the block.
    await vfs.read(rootContext(), f3.fh, 20 * MiB, 4 * KiB);
    seen.reset();
    let open!: () => void;
    seen.gate = new Promise((r) => (open = r));
    const shared = vfsOf(v).store.getStats.shared;
    try {
      const ctx = rootContext();
      const reads = [
        vfs.read(ctx, f1.fh, 0, 128 * KiB), // sequential from the start: whole block 0 and read-ahead
        vfs.read(ctx, f2.fh, 0, 64 * KiB), // another open file of the same block
        vfs.read(ctx, f3.fh, 700 * KiB, 4 * KiB), // a random read inside it
      ];
      // Both later wants join the first get while it is held: without sharing they would never count.
      await until(() => vfsOf(v).store.getStats.shared - shared >= 2);
      open();
      const [a, b, c] = await Promise.all(reads);
      assert.ok(a.equals(files.b!.subarray(0, 128 * KiB)));
      assert.ok(b.equals(files.b!.subarray(0, 64 * KiB)));
      assert.ok(c.equals(files.b!.subarray(700 * KiB, 704 * KiB)));
      const first = [...seen.gets].find(([k]) => k.includes('_0_'));
      assert.equal(first?.[1], 1, 'block 0 fetched once');
      assert.ok([...seen.gets.values()].every((n) => n === 1), JSON.stringify([...seen.gets]));
    } finally {
      seen.gate = undefined;
      open?.();
      await v.close();
    }
  });

  it('read-ahead stays within --prefetch blocks per reader and --buffer-size across open files', async () => {
    const prefetch = 4;
    const v = await t.open({ backgroundJobs: false, prefetch });
    const f = await openFile(vfsOf(v), 'c');
    seen.reset();
    const r = readerOf(f);
    let most = 0;
    const got = await readAll(f, 256 * KiB, () => (most = Math.max(most, r.cachedBytes)));
    assert.ok(got.equals(files.c!));
    assert.ok(r.readahead <= prefetch * BS, `window ${r.readahead}`);
    assert.ok(most <= 2 * prefetch * BS, `held ${most}`);
    // The window covers `prefetch` blocks; a read's own block and one partly in the window come on top.
    assert.ok(seen.maxInFlight <= prefetch + 2, `gets in flight ${seen.maxInFlight}`);
    assert.ok([...seen.gets.values()].every((n) => n === 1));
    await v.close();

    // Two files read at once by a client with 3 MiB for read-ahead: never more than that is fetched ahead.
    const budget = 3 * MiB;
    const w = await t.open({ backgroundJobs: false, prefetch: 16, bufferLimit: budget });
    const vfs = vfsOf(w);
    const [fa, fb] = [await openFile(vfs, 'a'), await openFile(vfs, 'b')];
    seen.reset();
    let used = 0;
    const check = () => (used = Math.max(used, vfs.readahead.used));
    const [da, db] = await Promise.all([readAll(fa, 128 * KiB, check), readAll(fb, 128 * KiB, check)]);
    assert.ok(da.equals(files.a!) && db.equals(files.b!));
    assert.ok(used > 0, 'read-ahead ran');
    assert.ok(used <= budget, `read-ahead held ${used} of ${budget}`);
    assert.ok(seen.maxInFlight <= budget / BS + 2, `gets in flight ${seen.maxInFlight}`);
    await w.close();
    assert.equal(vfs.readahead.used, 0, 'all read-ahead memory given back at close');
  });

  it('random reads fetch only the blocks they touch, nothing ahead', async () => {
    const v = await t.open({ backgroundJobs: false });
    const f = await openFile(vfsOf(v), 'a');
    seen.reset();
    // Far apart and never right after the previous one: no read looks sequential.
    const offsets = [5.5, 17.25, 2.5, 11.75, 20.125, 8.5, 14.5, 23.25].map((m) => Math.floor(m * MiB));
    for (const off of offsets) {
      const got = await f.vfs.read(rootContext(), f.fh, off, 4 * KiB);
      assert.ok(got.equals(files.a!.subarray(off, off + 4 * KiB)));
      assert.equal(readerOf(f).readahead, 0);
    }
    await until(() => seen.inFlight === 0);
    assert.equal(seen.total(), offsets.length, `one get per read: ${JSON.stringify([...seen.gets])}`);
    assert.equal(readerOf(f).cachedBytes, 0);
    assert.equal(vfsOf(v).readahead.used, 0);
    await v.close();
  });
});

describe('read-ahead over a FUSE mount on Ceph RGW (GETs counted at a proxy)', fuseTestOptions(), () => {
  let proxy: ThrottleProxy;
  let vol: Awaited<ReturnType<typeof formatVolume>>;
  let bucket = '';
  const SIZE = 32 * MiB + 4321;

  before(async () => {
    await requireRgw();
    proxy = new ThrottleProxy({ target: RGW_ENDPOINT, delayMs: 0 });
    const endpoint = await proxy.listen();
    bucket = rgwBucket('readahead');
    await makeBucket(bucket);
    vol = await formatVolume({ blockSize: BS, storage: `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&path-style=true`, accessKey: RGW_ACCESS_KEY, secretKey: RGW_SECRET_KEY });
    const m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
    try {
      const r = await run('sh', ['-c', `head -c ${SIZE} /dev/urandom > '${join(m.mp, 'big')}' && sync`]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await m.unmount();
    }
  });
  after(async () => {
    await vol?.cleanup();
    if (bucket) await dropBucket(bucket).catch(() => undefined);
    await proxy?.close();
  });

  for (const [name, cmd] of [
    ['cat', (f: string) => `cat '${f}' > /dev/null`],
    ['dd bs=1M', (f: string) => `dd if='${f}' of=/dev/null bs=1M status=none`],
  ] as const) {
    it(`${name} of a file in a fresh mount GETs every block exactly once`, async () => {
      const m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
      try {
        proxy.reset();
        const r = await run('sh', ['-c', cmd(join(m.mp, 'big'))], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, r.stderr);
      } finally {
        await m.unmount();
      }
      const blocks = [...proxy.counts.getsByPath].filter(([p]) => p.includes('/chunks/'));
      assert.equal(blocks.length, Math.ceil(SIZE / BS), 'every block fetched');
      assert.deepEqual(blocks.filter(([, n]) => n !== 1), [], 'blocks fetched more than once');
    });
  }
});
