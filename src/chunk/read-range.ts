// Reading a range of a chunk through its visible map, without caching: holes are zeros, every data
// segment is one parallel ranged read.
import type { Segment } from './slice-map.js';
import { segmentsInRange } from './slice-map.js';
import { settleAll, type ChunkStore } from './store.js';

/** The visible bytes of chunk positions [from, to). */
export async function readVisible(store: ChunkStore, map: readonly Segment[], from: number, to: number): Promise<Buffer> {
  const out = Buffer.alloc(Math.max(0, to - from));
  const reads: Array<Promise<void>> = [];
  for (const s of segmentsInRange(map, from, to)) {
    if (s.id === 0) continue;
    reads.push(store.readSlice(s.id, s.size, s.off, s.len).then((b) => void b.copy(out, s.pos - from)));
  }
  await settleAll(reads);
  return out;
}
