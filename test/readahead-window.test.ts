// The read-ahead window is sized by measured throughput: past a few blocks it doubles only while doubling
// makes the sequential read faster. Against a store whose bandwidth is the limit (a shared link), more GETs
// in flight only split that bandwidth and hold back the block the reader needs next, so the window stops
// where it stopped paying; against a store whose latency is the limit, it keeps growing. Real stack
// (Volume -> VFS -> FileReader -> ChunkStore -> crc32c -> probe:// over mem://, which adds latency or a link).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { rootContext } from '../src/meta/index.js';
import { O_RDONLY } from '../src/vfs/flags.js';
import { newProbe } from './helpers/cache.js';
import { tempVolume, vfsOf } from './helpers/volume.js';

const MiB = 1 << 20;
const BS = 1 * MiB;

/** Reads /f sequentially in 1 MiB reads on a fresh client; the reader's largest window, in blocks. */
async function sequentialWindow(probe: { latencyMs?: number; bandwidth?: number }, size: number, goBack = 0): Promise<{ blocks: number; twice: string[] }> {
  const id = `ra-${randomUUID()}`;
  const p = newProbe(id, `mem://${randomUUID()}`);
  const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${id}`, checksum: 'crc32c' }, volume: { backgroundJobs: false } });
  try {
    const data = randomBytes(size);
    await t.v.writeFile('/f', data);
    Object.assign(p, probe);
    const v = await t.open({ backgroundJobs: false, prefetch: 16 });
    const vfs = vfsOf(v);
    const ctx = rootContext();
    const l = await vfs.lookup(ctx, 1, 'f');
    const o = await vfs.open(ctx, l.inode, O_RDONLY);
    const reader = () => vfs.handle(o.fh).reader!;
    let most = 0;
    const read = async (from: number, to: number) => {
      for (let off = from; off < to; off += MiB) {
        const got = await vfs.read(ctx, o.fh, off, MiB);
        assert.ok(Buffer.from(got).equals(data.subarray(off, off + MiB)), `at ${off}`);
        most = Math.max(most, reader().readahead);
      }
    };
    const mid = size / 2;
    await read(0, mid);
    // As the kernel's read-ahead over FUSE does: back by `goBack`, up to where the stream was, on to the end.
    if (goBack) await read(mid - goBack, mid);
    await read(mid, size);
    await vfs.release(ctx, o.fh).catch(() => undefined);
    await v.close();
    return { blocks: most / BS, twice: [...p.perKey].filter(([, n]) => n > 1).map(([k]) => k) };
  } finally {
    await t.cleanup();
  }
}

describe('read-ahead window sized by measured throughput', () => {
  it('a bandwidth-bound store: the window stops growing where doubling stopped paying', async () => {
    // One 40 MiB/s link, no latency: 4 blocks in flight read as fast as 16.
    const { blocks, twice } = await sequentialWindow({ bandwidth: 40 * MiB }, 64 * MiB, 6 * MiB);
    // Before: every read that waited doubled the window, up to --prefetch 16 blocks.
    assert.ok(blocks <= 8, `the window grew to ${blocks} blocks`);
    // Blocks fetched under the wider window are kept as long as that window (the stream went back 6 MiB).
    assert.deepEqual(twice, [], 'no block fetched twice');
  });

  it('a latency-bound store: the window keeps growing while more gets in flight read faster', async () => {
    // 100 ms per get and no bandwidth limit: 8 blocks in flight read twice as fast as 4.
    const { blocks } = await sequentialWindow({ latencyMs: 100 }, 96 * MiB);
    assert.ok(blocks >= 8, `the window grew to ${blocks} blocks only`);
  });
});
