// What the chunk store knows of its block cache: the contract a cache implements (cache/store.ts) so that
// warm-up, `ferry status`, a mount's SIGUSR1 and benchmarks reach the cache through the chunk store instead
// of searching the object-store stack for it. The cache itself decorates the object store below block
// transforms (it holds blocks as stored), so reads and writes need nothing from this interface.

export interface BlockCacheStats {
  memoryHits: number;
  /** Blocks read back from write-back staging (written here, not uploaded yet). */
  stagingHits: number;
  diskHits: number;
  /** Blocks (or ranges) served by another member of the cache group. */
  groupHits: number;
  /** Gets this client sent to the object store for blocks, and their bytes. */
  storeGets: number;
  storeBytes: number;
  /** Bytes of the hits of each tier (metrics). */
  memoryHitBytes: number;
  stagingHitBytes: number;
  diskHitBytes: number;
  groupHitBytes: number;
}

export interface BlockCache {
  /** True when the block is cached: here, or with its owners when the cache belongs to a group. */
  check(key: string): Promise<boolean>;
  /** Brings the block into the cache (the group's owners fetch it once) unless it is there. */
  fill(key: string): Promise<void>;
  /** Drops the block from the cache (the group's owners drop it). */
  evict(key: string): Promise<void>;
  /** Resolves once cache files being written have landed (warm-up, tests). */
  idle(): Promise<void>;
  readonly stats: BlockCacheStats;
  /** One line of cache and write-back counters for logs. */
  summary(): string;
}
