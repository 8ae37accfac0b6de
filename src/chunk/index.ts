// The chunk layer: between a file's byte offsets and immutable blocks in the object store.
export { blockKey, blockCount, blockLength, sliceBlocks, chunksPrefix, type BlockRef } from './keys.js';
export {
  buildSliceMap,
  segmentsInRange,
  clipSegment,
  dataExtent,
  mapEnd,
  materialize,
  segmentEnd,
  isHole,
  type Segment,
} from './slice-map.js';
export { ChunkStore, type ChunkStoreOptions } from './store.js';
export type { BlockCache, BlockCacheStats } from './block-cache.js';
export { BufferPool, DEFAULT_BUFFER_LIMIT } from './buffer-pool.js';
export { Limiter, forEachLimited } from './limiter.js';
export { FileWriter, type FileWriterOptions, type FlushResult } from './writer.js';
export { FileReader, type FileReaderOptions } from './reader.js';
export { readVisible } from './read-range.js';
export { compactChunk, type CompactResult } from './compact.js';
export { drainDeletedSlices } from './gc.js';
