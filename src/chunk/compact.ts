// Compaction: rewrites a fragmented chunk's visible bytes as one new slice and swaps it in for the slices
// it was read from. Runs as a background job; meta.replaceSlices queues the old slices for deletion.
import type { Meta } from '../meta/interface.js';
import { startsWithSlices } from '../meta/slices.js';
import type { Context, Slice } from '../meta/types.js';
import { blockCount } from './keys.js';
import { forEachLimited } from './limiter.js';
import { readVisible } from './read-range.js';
import { buildSliceMap, dataExtent, mapEnd } from './slice-map.js';
import { isMissingBlock, type ChunkStore } from './store.js';

export interface CompactResult {
  /** True when the merged slice replaced the old ones. */
  replaced: boolean;
  /** Slices the chunk had when compaction read it. */
  slices: number;
  merged?: Slice;
}

/**
 * Merges the slices of chunk `indx` of `ino` into one. Interior holes are stored as zeros; holes at either
 * end are dropped (nothing older lies below the merged slice, so they still read as zeros). If the chunk
 * changed meanwhile (replaceSlices returns false) the new slice's blocks are deleted again.
 */
export async function compactChunk(
  meta: Meta,
  store: ChunkStore,
  ctx: Context,
  ino: number,
  indx: number,
  opts: { concurrency?: number } = {},
): Promise<CompactResult> {
  const slices = await meta.readChunk(ctx, ino, indx);
  if (slices.length < 2) return { replaced: false, slices: slices.length };
  const map = buildSliceMap(slices);
  const extent = dataExtent(map);
  if (!extent) {
    const end = mapEnd(map);
    const merged: Slice = { pos: 0, id: 0, size: 0, off: 0, len: end };
    return { replaced: await meta.replaceSlices(ino, indx, slices, merged), slices: slices.length, merged };
  }
  const size = extent.end - extent.start;
  const id = await meta.newSliceId();
  const bs = store.blockSize;
  const indexes = Array.from({ length: blockCount(size, bs) }, (_, k) => k);
  try {
    await forEachLimited(indexes, opts.concurrency ?? 4, async (k) => {
      const from = extent.start + k * bs;
      const data = await readVisible(store, map, from, Math.min(from + bs, extent.end));
      await store.uploadBlock(id, k, data);
    });
  } catch (e) {
    await store.deleteSlice(id, size).catch(() => undefined);
    // Another client compacted or rewrote this chunk meanwhile and its old slices' blocks are gone: the
    // work is moot, not an error. A block missing from slices still in place is one (EIO goes on).
    if (isMissingBlock(e) && !startsWithSlices(await meta.readChunk(ctx, ino, indx), slices)) return { replaced: false, slices: slices.length };
    throw e;
  }
  const merged: Slice = { pos: extent.start, id, size, off: 0, len: size };
  // An error here is ambiguous (the swap may have committed), so the new blocks are kept: a leak, never a hole.
  const replaced = await meta.replaceSlices(ino, indx, slices, merged);
  if (!replaced) await store.deleteSlice(id, size);
  return { replaced, slices: slices.length, merged };
}

