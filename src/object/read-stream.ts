// An object as a stream read in ranged GETs, so a large object (a metadata backup) is read in flat memory.
import { Readable } from 'node:stream';
import type { ObjectStore } from './interface.js';

export function objectReadStream(store: ObjectStore, key: string, piece = 8 << 20): Readable {
  async function* pieces(): AsyncGenerator<Buffer> {
    const { size } = await store.head(key);
    for (let off = 0; off < size; off += piece) yield await store.get(key, off, Math.min(piece, size - off));
  }
  return Readable.from(pieces());
}
