// Random small reads through a cache group member on a volume with the block checksum (crc32c, the
// default): the member checks each block whole against that checksum when it takes the block in, then
// serves ranges of it page-checked, with a crc32c of the range the reader checks; the reader no longer
// fetches 4 MiB to check 4 KiB. Corruption stays caught end to end: a member's cached block rotted on disk
// after it was checked is never sent (the member reads the block again from the store), and a block bad in
// the store as well is an EIO for the reader, never wrong bytes.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Volume } from '../src/sdk/index.js';
import type { CachedObjectStore } from '../src/cache/store.js';
import { HEADER as DISK_HEADER } from '../src/cache/disk.js';
import { cacheOf } from './helpers/cache.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const BS = 256 << 10;
const BLOCKS = 24;
/** The block checksum's header before the payload in a stored block. */
const FK_HEADER = 8;

describe('cache group: checked ranges on a checksummed volume', () => {
  let dir: string;
  let t: TempVolume;
  let member: Volume;
  let reader: Volume;
  let mc: CachedObjectStore;
  const data = randomBytes(BLOCKS * BS);
  let checkedAsks = 0;
  let wholeAsks = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-cgroup-checked-'));
    t = await tempVolume({ blockSize: BS, storage: 'mem', format: { checksum: 'crc32c' } });
    await t.v.writeFile('/f.bin', data);
    const group = `g-${randomUUID()}`;
    member = await t.open({ cacheDir: join(dir, 'member'), memoryCacheSize: 0, cacheGroup: group, backgroundJobs: false });
    reader = await t.open({ memoryCacheSize: 0, cacheGroup: group, noSharing: true, backgroundJobs: false });
    mc = cacheOf(member);
    await cacheOf(reader).group!.refresh();
    assert.equal(cacheOf(reader).group!.members().length, 1);
    assert.deepEqual(await member.readFile('/f.bin'), data);
    await mc.idle();
    assert.equal(mc.disk!.count, BLOCKS);
    const server = (mc.group as unknown as { server: Server }).server;
    server.on('request', (req) => void (/[?&]check=crc32c/.test(req.url ?? '') ? checkedAsks++ : /[?&]len=/.test(req.url ?? '') || wholeAsks++));
  });
  after(async () => {
    await t?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** The member's cache key of block `b` of /f.bin (keys sort by block index within the one slice). */
  const keyOf = (b: number) => mc.disk!.keys().find((k) => k.endsWith(`_${b}_${BS}`))!;

  it('a random 4 KiB read is one checked range: 4 KiB read and sent, no whole block', async () => {
    const before = { disk: mc.stats.diskHitBytes, sent: mc.group!.stats.servedBytes, store: mc.stats.storeGets, checked: checkedAsks, whole: wholeAsks };
    const fh = await reader.open('/f.bin', 'r');
    const buf = Buffer.alloc(4096);
    const order = Array.from({ length: BLOCKS }, (_, b) => b).sort(() => Math.random() - 0.5);
    for (const b of order) {
      const off = b * BS + Math.floor((Math.random() * BS) / 4096) * 4096;
      const { bytesRead } = await fh.read(buf, 0, 4096, off);
      assert.equal(bytesRead, 4096);
      assert.deepEqual(buf, data.subarray(off, off + 4096));
    }
    await fh.close();
    const checked = checkedAsks - before.checked;
    const whole = wholeAsks - before.whole;
    // Before: the reader of a checksummed volume asked every block whole (4 MiB for a 4 KiB read).
    assert.ok(checked >= BLOCKS / 2, `${checked} checked ranges, ${whole} whole blocks asked`);
    assert.equal(mc.stats.storeGets, before.store, 'the member served every read from its cache');
    const need = checked * (4096 + 16 << 10) * 2 + whole * BS;
    const read = mc.stats.diskHitBytes - before.disk;
    assert.ok(read <= need, `member read ${read} bytes of its disk cache for ${checked} ranges and ${whole} blocks`);
    assert.ok(mc.group!.stats.servedBytes - before.sent <= checked * 4096 + whole * (BS + FK_HEADER));
    assert.equal(mc.rangeStats.corrupt, 0);
  });

  it("a member's cached block rotted on disk after it was checked is never sent: read again from the store", async () => {
    const b = 5;
    const at = 64 << 10; // a page the reader asks for below
    const file = mc.disk!.pathOf(keyOf(b));
    await flipByte(file, DISK_HEADER + FK_HEADER + at + 100);
    const fh = await reader.open('/f.bin', 'r');
    const buf = Buffer.alloc(4096);
    const gets = mc.stats.storeGets;
    await fh.read(buf, 0, 4096, b * BS + at);
    await fh.close();
    assert.deepEqual(buf, data.subarray(b * BS + at, b * BS + at + 4096));
    assert.equal(mc.rangeStats.corrupt, 1, 'the member found the rotten page');
    assert.equal(mc.stats.storeGets, gets + 1, 'and read the block again from the object store');
  });

  it('a block bad in the member and in the store is EIO for the reader, never wrong bytes', async () => {
    const b = 9;
    const key = keyOf(b);
    const stored = await mc.inner.get(key);
    stored[FK_HEADER + 200] = stored[FK_HEADER + 200]! ^ 0xff;
    await mc.inner.put(key, stored);
    await flipByte(mc.disk!.pathOf(key), DISK_HEADER + FK_HEADER + 200);
    const fh = await reader.open('/f.bin', 'r');
    const buf = Buffer.alloc(4096);
    await assert.rejects(fh.read(buf, 0, 4096, b * BS), (e: NodeJS.ErrnoException) => e.code === 'EIO');
    await fh.close();
  });
});

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, at);
    one[0] = one[0]! ^ 0xff;
    await fh.write(one, 0, 1, at);
  } finally {
    await fh.close();
  }
}
