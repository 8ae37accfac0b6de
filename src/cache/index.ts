// Client caches: memory and local disk block caches, cache groups, warm-up.
export { MemoryCache } from './memory.js';
export { DiskCache, verify as verifyCacheFile, type DiskCacheOptions, type DiskCacheStats } from './disk.js';
export { HashRing, TOKENS_PER_MEMBER, hash32, type RingMember } from './ring.js';
export { StagingArea, type StagingOptions, type StagingStats } from './staging.js';
export { SingleFlight } from '../chunk/single-flight.js';
export { CachedObjectStore, type CacheStats, type CachedStoreOptions } from './store.js';
export { CacheGroup, splitAddress, type GroupOptions, type Member } from './group.js';
export { openCachedStore, cachingEnabled, DEFAULT_CACHE_SIZE, DEFAULT_MEMORY_CACHE, type CacheOptions } from './options.js';
