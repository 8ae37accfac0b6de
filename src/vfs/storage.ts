// How a client turns a volume's format into the store its data goes through. Decorators (block
// transforms, caches) are stacked here, so every door (SDK, FUSE, gateway) gets the same data path.
import { ChunkStore } from '../chunk/index.js';
import { FsError } from '../errors.js';
import type { Format } from '../meta/types.js';
// The value import registers the backends (file, mem, s3) before any URL is opened.
import { FallbackStore, openObjectStore, type ObjectOptions, type ObjectStore } from '../object/index.js';
import { stackCaches, type CacheOptions } from '../cache/options.js';
import { applyTransforms, openShardedStore, type UserSecret } from '../object/transforms/index.js';

/** Cache options (cacheDir, cacheSize, cacheGroup, ...): see src/cache/options.ts and docs/cache.md. */
export interface StorageOptions extends CacheOptions {
  /** Passed to the object store (credentials, endpoint...). */
  objectOptions?: ObjectOptions;
  /** Options of a mirror's own object store (else its URL's query parameters and the environment). */
  mirrorObjectOptions?: ObjectOptions;
  /** Unlocks an encrypted volume (else FERRY_ENCRYPT_KEY_FILE / FERRY_ENCRYPT_PASSPHRASE / the format's hint). */
  encryption?: UserSecret;
  /** How long a read waits for a block missing from the object store before EIO (default 20 s; see chunk/store.ts). */
  missingBlockWaitMs?: number;
}

/** Object options from the format record (keys given to `ferry format`), overridden by the client's. */
function objectOptionsOf(format: Format, opts: StorageOptions): ObjectOptions {
  const { accessKey, secretKey } = format.storage;
  return { ...(accessKey !== undefined ? { accessKey, secretKey } : {}), ...(opts.objectOptions ?? {}) };
}

/**
 * Every object of the volume as stored (all shards; no cache, no transform). A mirror with its own store
 * reads that copy first and the source's store for blocks not copied yet; writes and deletes go to the
 * source's store (see object/fallback.ts).
 */
export async function openRawVolumeObjects(format: Format, opts: StorageOptions = {}): Promise<ObjectStore> {
  const home = await openShardedStore(format.storage, objectOptionsOf(format, opts));
  const own = format.mirror?.of?.storage;
  if (!own) return home;
  try {
    return new FallbackStore(await openObjectStore(own, opts.mirrorObjectOptions ?? {}), home);
  } catch (e) {
    await home.close().catch(() => undefined);
    throw e;
  }
}

/** The two stores a mirror's data copier moves objects between, both as stored (no cache, no transform). */
export async function openMirrorCopyStores(format: Format, opts: StorageOptions = {}): Promise<{ from: ObjectStore; to: ObjectStore }> {
  const own = format.mirror?.of?.storage;
  if (!own) throw new FsError('EINVAL', { message: `volume '${format.name}' is not a mirror with its own object store` });
  const from = await openShardedStore(format.storage, objectOptionsOf(format, opts));
  try {
    return { from, to: await openObjectStore(own, opts.mirrorObjectOptions ?? {}) };
  } catch (e) {
    await from.close().catch(() => undefined);
    throw e;
  }
}

/** The volume's object store with the decorators its format and the client options ask for. */
export async function openVolumeObjects(format: Format, opts: StorageOptions = {}): Promise<ObjectStore> {
  // Caches wrap the backend store directly, below block transforms: they hold blocks as stored (see cache/options.ts).
  // Block transforms (compress -> encrypt -> checksum on write) go on top, sharding below the caches.
  const cached = await stackCaches(format, await openRawVolumeObjects(format, opts), opts);
  try {
    return await applyTransforms(cached, format.storage, opts.encryption, format.name);
  } catch (e) {
    await cached.close().catch(() => undefined);
    throw e;
  }
}

export async function openChunkStore(format: Format, opts: StorageOptions = {}): Promise<ChunkStore> {
  const objects = await openVolumeObjects(format, opts);
  return new ChunkStore(objects, { volume: format.name, blockSize: format.blockSize, missingBlockWaitMs: opts.missingBlockWaitMs });
}
