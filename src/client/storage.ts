// How a client turns a volume's format and its ClientConfig into the stores its data goes through. Decorators
// (sharding, caches, block transforms) are stacked here and only here, so every door gets the same data path.
import { ChunkStore } from '../chunk/index.js';
import { FsError } from '../errors.js';
import type { Format } from '../meta/types.js';
// The value import registers the backends (file, mem, s3) before any URL is opened.
import { FallbackStore, MeteredStore, ThrottledStore, activeMetrics, openObjectStore, type TokenBucket, type ObjectOptions, type ObjectStore } from '../object/index.js';
import { cachingEnabled, openCachedStore, type CacheOptions } from '../cache/options.js';
import type { CachedObjectStore } from '../cache/store.js';
import { applyTransforms, openShardedStore } from '../object/transforms/index.js';
import type { ClientConfig } from './config.js';
import { markedStore } from './marker.js';
import type { ClientProbe } from './probe.js';
import { SourceStoreGuard } from './source-guard.js';

export type Log = (line: string) => void;

/** Object options from the format record (keys given to `ferry format`), overridden by the client's. */
function objectOptionsOf(format: Format, cfg: Partial<ClientConfig>): ObjectOptions {
  const { accessKey, secretKey } = format.storage;
  if (accessKey !== undefined && secretKey === '' && cfg.objects?.secretKey === undefined) {
    // Blanked by a dump without --keep-secrets (meta/dump-format.ts): say so instead of failing every request.
    throw new FsError('EACCES', {
      message: `the object store secret key of volume '${format.name}' is not set (loaded from a dump made without --keep-secrets): set it with 'ferry config META-URL --access-key KEY --secret-key SECRET'`,
    });
  }
  return { ...(accessKey !== undefined ? { accessKey, secretKey } : {}), ...(cfg.objects ?? {}) };
}

/** The cache layer's options from a client config. */
export function cacheOptionsOf(cfg: Partial<ClientConfig>, log?: Log): CacheOptions {
  const c = cfg.cache ?? {};
  const g = cfg.group;
  return {
    memoryCacheSize: c.memorySize,
    cacheDir: c.dir,
    cacheSize: c.size,
    freeSpaceRatio: c.freeSpaceRatio,
    writeback: c.writeback,
    writebackUploads: c.writebackUploads,
    writebackFsync: c.writebackFsync,
    log,
    cacheGroup: g?.name,
    groupAddress: g?.address,
    region: g?.region,
    zone: g?.zone,
    replicas: g?.replicas,
    noSharing: g?.noSharing,
    groupMetaUrl: cfg.metaUrl,
    groupTuning: g?.tuning,
    groupLabel: g?.label,
    groupTls: g?.tls,
  };
}

/**
 * Every object of the volume as stored (all shards; no cache, no transform). A mirror with its own store
 * reads that copy first and the source's store for blocks not copied yet; writes and deletes go to the
 * source's store (see object/fallback.ts).
 *
 * Every client gets its store here, so this is where the store marker is checked (see marker.ts): the
 * volume's prefix must not be claimed by another volume (checked at once, or before the first operation
 * that reaches a store that did not answer at open). A writable client of the volume itself claims an
 * unclaimed prefix holding objects; a mirror has its source's uuid in its format record, so the check
 * passes only on its source's store, and it never writes the marker there.
 */
export async function openRawVolumeObjects(format: Format, cfg: Partial<ClientConfig> = {}, limits?: StoreLimits, probe?: ClientProbe): Promise<ObjectStore> {
  const raw = await openUnlimitedVolumeObjects(format, cfg);
  // With --metrics (enabled by the process before it opens stores), requests that reach the store are counted.
  const m = cfg.metrics !== undefined ? activeMetrics() : undefined;
  const metered = m ? new MeteredStore(raw, m) : raw;
  // Timed below the throttle: a request's latency is the store's, not the time it waited for tokens.
  const store = probe ? probe.wrapStore(metered) : metered;
  return limits ? new ThrottledStore(store, limits.upload, limits.download) : store;
}

/** Buckets charged with the bytes a client moves to and from the object store (QoS, see client/qos.ts). */
export interface StoreLimits {
  upload: TokenBucket;
  download: TokenBucket;
}

async function openUnlimitedVolumeObjects(format: Format, cfg: Partial<ClientConfig>): Promise<ObjectStore> {
  const sharded = await openShardedStore(format.storage, objectOptionsOf(format, cfg));
  const mirror = format.mirror?.of;
  let checked: ObjectStore;
  try {
    checked = await markedStore(sharded, format, { metaUrl: cfg.metaUrl, claim: !mirror && !cfg.readOnly ? 'used' : undefined });
  } catch (e) {
    await sharded.close().catch(() => undefined);
    throw e;
  }
  // A mirror writes new blocks into its source's store but never deletes there (see source-guard.ts).
  const home = mirror ? new SourceStoreGuard(checked) : checked;
  const own = mirror?.storage;
  if (!own) return home;
  try {
    return new FallbackStore(await openObjectStore(own, cfg.mirrorObjects ?? {}), home);
  } catch (e) {
    await home.close().catch(() => undefined);
    throw e;
  }
}

/** The two stores a mirror's data copier moves objects between, both as stored (no cache, no transform). */
export async function openMirrorCopyStores(format: Format, cfg: Partial<ClientConfig> = {}): Promise<{ from: ObjectStore; to: ObjectStore }> {
  const own = format.mirror?.of?.storage;
  if (!own) throw new FsError('EINVAL', { message: `volume '${format.name}' is not a mirror with its own object store` });
  const m = cfg.metrics !== undefined ? activeMetrics() : undefined;
  const metered = (s: ObjectStore) => (m ? new MeteredStore(s, m) : s);
  const from = metered(await openShardedStore(format.storage, objectOptionsOf(format, cfg)));
  try {
    return { from, to: metered(await openObjectStore(own, cfg.mirrorObjects ?? {})) };
  } catch (e) {
    await from.close().catch(() => undefined);
    throw e;
  }
}

/**
 * A cache stack of its own over the raw store, without transforms (cache group members and warm-up: blocks
 * are cached as stored, so no keys are needed).
 */
export async function openBlockCache(format: Format, cfg: Partial<ClientConfig>, log?: Log, limits?: StoreLimits, probe?: ClientProbe, deferStagingLock = false): Promise<CachedObjectStore> {
  const raw = await openRawVolumeObjects(format, cfg, limits, probe);
  try {
    return await openCachedStore(format, raw, { ...cacheOptionsOf(cfg, log), deferStagingLock });
  } catch (e) {
    await raw.close().catch(() => undefined);
    throw e;
  }
}

/** The volume's chunk store: raw store, caches the config asks for (below transforms), block transforms. */
/** deferStagingLock: write-back staging is taken only at claim() (a process succeeding another, cache/staging.ts). */
export async function openChunkStore(format: Format, cfg: Partial<ClientConfig> = {}, log?: Log, limits?: StoreLimits, probe?: ClientProbe, deferStagingLock = false): Promise<ChunkStore> {
  // Caches wrap the backend store directly, below block transforms: they hold blocks as stored (see cache/options.ts).
  // Block transforms (compress -> encrypt -> checksum on write) go on top, sharding below the caches.
  const cacheOpts = cacheOptionsOf(cfg, log);
  // Limits go below the cache: only what really crosses to the object store is charged, cache hits are free.
  const cache = cachingEnabled(cacheOpts) ? await openBlockCache(format, cfg, log, limits, probe, deferStagingLock) : undefined;
  const base = cache ?? (await openRawVolumeObjects(format, cfg, limits, probe));
  let objects: ObjectStore;
  try {
    objects = await applyTransforms(base, format.storage, cfg.encryption, format.name);
  } catch (e) {
    await base.close().catch(() => undefined);
    throw e;
  }
  return new ChunkStore(objects, { volume: format.name, blockSize: format.blockSize, missingBlockWaitMs: cfg.data?.missingBlockWaitMs, cache });
}
