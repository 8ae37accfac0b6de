// A warm random 4 KiB read through a cache group member (real HTTP on 127.0.0.1, a real disk cache): the
// client reuses one kept-alive connection, and the member reads and sends the 4 KiB range alone, not the
// block it belongs to (no whole-block read from its disk cache, no whole-block buffer per request).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cacheOf } from './helpers/cache.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const BS = 256 << 10;
const BLOCKS = 40;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('warm random 4 KiB reads through a member: one connection, 4 KiB read and sent per read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cgroup-range-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // Without a block checksum: a crc32c over the whole block can only be checked on the whole block, so a
  // checksummed volume's reader asks for whole blocks (see docs/cache.md).
  const t: TempVolume = await tempVolume({ blockSize: BS, storage: 'mem', format: { checksum: 'none' } });
  cleanups.push(() => t.cleanup());
  const data = randomBytes(BLOCKS * BS);
  await t.v.writeFile('/f.bin', data);
  const group = `g-${randomUUID()}`;
  // The member: a disk cache and no memory cache, so every hit is a read of its disk cache.
  const member = await t.open({ cacheDir: join(dir, 'member'), memoryCacheSize: 0, cacheGroup: group, backgroundJobs: false });
  // The reader: a forwarding client (no cache of its own, not a member): each read is a ranged request.
  const reader = await t.open({ memoryCacheSize: 0, cacheGroup: group, noSharing: true, backgroundJobs: false });
  const mc = cacheOf(member);
  await cacheOf(reader).group!.refresh();
  assert.equal(cacheOf(reader).group!.members().length, 1);
  // Warm the member: it reads the file once (its disk cache keeps every block).
  assert.deepEqual(await member.readFile('/f.bin'), data);
  await mc.idle();
  assert.equal(mc.disk!.count, BLOCKS);

  let connections = 0;
  const server = (mc.group as unknown as { server: Server }).server;
  server.on('connection', () => connections++);
  // What the reader asked for: 4 KiB ranges, or whole blocks (its read-ahead, when it sees a pattern).
  let ranged = 0;
  let whole = 0;
  server.on('request', (req) => void (/[?&]len=/.test(req.url ?? '') ? ranged++ : whole++));
  const before = { disk: mc.stats.diskHitBytes, sent: mc.group!.stats.servedBytes, store: mc.stats.storeGets };
  const fh = await reader.open('/f.bin', 'r');
  const buf = Buffer.alloc(4096);
  const reads = BLOCKS;
  // A random 4 KiB of each block, the blocks in random order: none is read twice, so the reader keeps no
  // block (it would fetch it whole on purpose) and nearly every read is one 4 KiB request.
  const order = Array.from({ length: BLOCKS }, (_, b) => b);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const offsets = order.map((b) => b * BS + Math.floor((Math.random() * BS) / 4096) * 4096);
  for (const off of offsets) {
    const { bytesRead } = await fh.read(buf, 0, 4096, off);
    assert.equal(bytesRead, 4096);
    assert.deepEqual(buf, data.subarray(off, off + 4096));
  }
  await fh.close();
  const read = mc.stats.diskHitBytes - before.disk;
  const sent = mc.group!.stats.servedBytes - before.sent;
  assert.equal(mc.stats.storeGets, before.store, 'the member served every read from its cache');
  assert.ok(ranged >= reads / 2, `${ranged} ranged requests, ${whole} whole`);
  // Kept-alive: a connection per request in flight at once (a read and a read-ahead), not per request.
  assert.ok(connections <= 2, `${connections} connections for ${ranged + whole} requests`);
  // Before: every ranged read took the whole block from the member's disk cache (256 KiB for 4 KiB).
  const need = ranged * 4096 + whole * BS;
  assert.ok(read <= need, `member read ${read} bytes of its disk cache for ${ranged} 4 KiB ranges and ${whole} blocks (${need})`);
  assert.ok(sent <= need, `member sent ${sent} bytes (${need})`);
});
