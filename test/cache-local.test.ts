// Client caches: the memory LRU, the disk cache (limits, LRU, atomic files, checksums, restart), and both
// through real volumes over a counting object store (probe://): small reads fetch a block once, a corrupted
// or truncated cache file is dropped and refetched (never served), a restart reuses the cache, writeback.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CachedObjectStore, DiskCache, MemoryCache } from '../src/cache/index.js';
import type { Volume } from '../src/sdk/index.js';
import { cacheOf, newProbe } from './helpers/cache.js';
import { tempVolume, type TempVolume, vfsOf } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const dirs: string[] = [];
const vols: TempVolume[] = [];
after(async () => {
  for (const v of vols) await v.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-cache-'));
  dirs.push(d);
  return d;
}


describe('memory cache', () => {
  it('keeps the most recently used blocks within its byte limit', () => {
    const m = new MemoryCache(3000);
    for (const k of ['a', 'b', 'c']) m.put(k, Buffer.alloc(1000, k));
    assert.ok(m.get('a')); // a is now the most recent
    m.put('d', Buffer.alloc(1000));
    assert.deepEqual(m.keys(), ['c', 'a', 'd']);
    assert.equal(m.used, 3000);
    m.put('big', Buffer.alloc(4000)); // larger than the cache: not kept, evicts nothing
    assert.equal(m.has('big'), false);
    assert.equal(m.count, 3);
    m.put('e', Buffer.alloc(2000));
    assert.deepEqual(m.keys(), ['d', 'e']);
    assert.ok(m.used <= 3000);
  });
});

describe('disk cache', () => {
  it('evicts least recently used files to stay within its size, and skips blocks larger than the cache', async () => {
    const dir = await tempDir();
    const c = await DiskCache.open({ dir, capacity: 3 * (1000 + 16) });
    for (const k of ['v/chunks/a', 'v/chunks/b', 'v/chunks/c']) await c.put(k, Buffer.alloc(1000, k.at(-1)));
    assert.equal(c.count, 3);
    assert.deepEqual(await c.get('v/chunks/a'), Buffer.alloc(1000, 'a'));
    await c.put('v/chunks/d', Buffer.alloc(1000, 'd'));
    assert.deepEqual(c.keys(), ['v/chunks/c', 'v/chunks/a', 'v/chunks/d']);
    assert.equal(await c.get('v/chunks/b'), undefined);
    assert.ok(c.used <= 3 * 1016);
    await c.put('v/chunks/huge', Buffer.alloc(5000));
    assert.equal(c.has('v/chunks/huge'), false);
    // Files on disk match the index: exactly three block files, no temp files left.
    const files = (await Promise.all((await readdir(dir)).map((s) => readdir(join(dir, s))))).flat();
    assert.equal(files.length, 3);
    assert.ok(files.every((f) => !f.startsWith('.tmp')));
    await c.close();
  });

  it('keeps the free-space share: caches nothing on a file system with less free space than asked', async () => {
    const dir = await tempDir();
    // No test machine has 99.9999% of its disk free.
    const c = await DiskCache.open({ dir, capacity: 1 << 20, freeSpaceRatio: 0.999999 });
    await c.put('v/chunks/a', Buffer.alloc(1000));
    assert.equal(c.has('v/chunks/a'), false);
    assert.equal(c.stats.skipped, 1);
    await c.close();
  });

  it('rebuilds its index from the directory at start (LRU order kept), dropping interrupted writes', async () => {
    const dir = await tempDir();
    const c = await DiskCache.open({ dir, capacity: 1 << 20 });
    const blocks = new Map<string, Buffer>();
    for (let i = 0; i < 5; i++) {
      const k = `vol/chunks/0/0/${i}_0_2000`;
      blocks.set(k, randomBytes(2000));
      await c.put(k, blocks.get(k)!);
      await sleep(15); // distinct mtimes
    }
    await c.close();
    // A write that a crash interrupted leaves a temp file behind.
    const shard = (await readdir(dir))[0]!;
    await writeFile(join(dir, shard, '.tmp.deadbeef'), 'partial');
    const again = await DiskCache.open({ dir, capacity: 1 << 20 });
    assert.equal(again.count, 5);
    assert.deepEqual(again.keys(), [...blocks.keys()]);
    for (const [k, v] of blocks) assert.deepEqual(await again.get(k), v);
    assert.deepEqual((await readdir(join(dir, shard))).filter((f) => f.startsWith('.tmp')), []);
    // A lower limit at the next start evicts the oldest down to it.
    await again.close();
    const small = await DiskCache.open({ dir, capacity: 2 * 2016 });
    assert.equal(small.count, 2);
    await small.close();
  });

  it('never serves a corrupted, truncated or foreign file: it is deleted and reported as a miss', async () => {
    const dir = await tempDir();
    const c = await DiskCache.open({ dir, capacity: 1 << 20 });
    const keys = ['v/chunks/x', 'v/chunks/y', 'v/chunks/z'];
    for (const k of keys) await c.put(k, randomBytes(3000));
    const flip = c.pathOf(keys[0]!);
    const buf = await readFile(flip);
    buf[1500] ^= 0xff;
    await writeFile(flip, buf);
    await truncate(c.pathOf(keys[1]!), 1000);
    await writeFile(c.pathOf(keys[2]!), 'not a cache file at all');
    for (const k of keys) assert.equal(await c.get(k), undefined);
    assert.equal(c.stats.corrupt, 3);
    assert.equal(c.count, 0);
    await c.close();
  });
});

describe('caches in a volume', () => {
  const BS = 256 << 10;

  async function setup() {
    const probeId = randomUUID();
    const probe = newProbe(probeId, `mem://${randomUUID()}`);
    const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${probeId}` } });
    vols.push(t);
    const data = randomBytes(4 * BS + 1234);
    await t.v.writeFile('/f.bin', data);
    return { probe, t, data };
  }

  it('fetches a whole block once for small reads, then serves ranges from it', async () => {
    const { probe, t, data } = await setup();
    const cacheDir = await tempDir();
    const v = await t.open({ cacheDir, backgroundJobs: false });
    const before = probe.gets;
    const fh = await v.open('/f.bin', 'r');
    for (const off of [10, 5000, 100_000, 3, BS - 4096]) {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, 4096, off);
      assert.equal(bytesRead, 4096);
      assert.deepEqual(buf, data.subarray(off, off + 4096));
    }
    await fh.close();
    // Read-ahead may have fetched later blocks too, but every block was fetched at most once, whole.
    assert.ok(probe.gets - before >= 1);
    assert.deepEqual([...probe.perKey.values()].filter((n) => n !== 1), []);
    const c = cacheOf(v);
    await c.idle();
    assert.ok(c.disk!.count >= 1); // read-ahead may still be filling others
    assert.deepEqual(await v.readFile('/f.bin'), data);
    assert.equal(probe.gets - before, 5, 'each block fetched once');
    assert.deepEqual([...probe.perKey.values()].filter((n) => n !== 1), []);
  });

  it('reuses the disk cache after a restart, and refetches corrupted files instead of serving them', async () => {
    const { probe, t, data } = await setup();
    const cacheDir = await tempDir();
    const v1 = await t.open({ cacheDir, backgroundJobs: false });
    assert.deepEqual(await v1.readFile('/f.bin'), data);
    const disk1 = cacheOf(v1).disk!;
    await v1.close();
    const keys = disk1.keys();
    assert.equal(keys.length, 5);

    const g0 = probe.gets;
    const v2 = await t.open({ cacheDir, backgroundJobs: false });
    assert.equal(cacheOf(v2).disk!.count, 5);
    assert.deepEqual(await v2.readFile('/f.bin'), data);
    assert.equal(probe.gets, g0, 'a restarted client reads from its disk cache');
    await v2.close();

    // Damage two cache files: a flipped bit and a truncation (a partial copy).
    const flipped = disk1.pathOf(keys[1]!);
    const buf = await readFile(flipped);
    buf[buf.length - 7] ^= 0x10;
    await writeFile(flipped, buf);
    await truncate(disk1.pathOf(keys[3]!), 100);
    const v3 = await t.open({ cacheDir, backgroundJobs: false });
    assert.deepEqual(await v3.readFile('/f.bin'), data);
    const c3 = cacheOf(v3);
    assert.equal(c3.disk!.stats.corrupt, 2);
    assert.equal(probe.gets - g0, 2, 'exactly the two bad blocks were fetched again');
    assert.equal(probe.perKey.get(keys[1]!), 2);
    assert.equal(probe.perKey.get(keys[3]!), 2);
    await c3.idle();
    assert.equal(c3.disk!.count, 5, 'and cached again');
  });

  it('with writeback, fresh writes read back from the cache with the object store unreachable', async () => {
    const { probe, t } = await setup();
    const cacheDir = await tempDir();
    const w = await t.open({ cacheDir, writeback: true, backgroundJobs: false });
    const fresh = randomBytes(3 * BS + 77);
    await w.writeFile('/fresh.bin', fresh);
    await w.close();
    probe.failing = true;
    try {
      const r = await t.open({ cacheDir, backgroundJobs: false });
      assert.deepEqual(await r.readFile('/fresh.bin'), fresh);
      await assert.rejects(r.readFile('/f.bin'), /EIO|unreachable/); // not cached: really needs the store
    } finally {
      probe.failing = false;
    }
  });

  it('caches blocks as stored: a compressed volume’s cache files hold the compressed bytes', async () => {
    const probeId = randomUUID();
    const probe = newProbe(probeId, `mem://${randomUUID()}`);
    const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${probeId}`, compression: 'lz4' } });
    vols.push(t);
    const text = Buffer.from('model weights, very compressible. '.repeat(30_000));
    await t.v.writeFile('/c.txt', text);
    const cacheDir = await tempDir();
    const v = await t.open({ cacheDir, backgroundJobs: false });
    assert.deepEqual(await v.readFile('/c.txt'), text);
    const c = cacheOf(v);
    await c.idle();
    assert.ok(c.disk!.count >= 1);
    assert.ok(c.disk!.used < text.length / 4, `cache holds ${c.disk!.used} bytes for ${text.length} of text`);
    await v.close();
    probe.failing = true;
    try {
      const again = await t.open({ cacheDir, backgroundJobs: false });
      assert.deepEqual(await again.readFile('/c.txt'), text, 'decoded from the cache, without the store');
    } finally {
      probe.failing = false;
    }
  });

  it('leaves the object store alone when no cache option is given', async () => {
    const { t } = await setup();
    assert.equal(vfsOf(t.v).store.objects instanceof CachedObjectStore, false);
    const m = await t.open({ memoryCacheSize: 1 << 20, backgroundJobs: false });
    assert.ok(cacheOf(m).memory);
    assert.equal(cacheOf(m).disk, undefined);
  });
});
