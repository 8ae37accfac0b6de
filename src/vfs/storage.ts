// How a client turns a volume's format into the store its data goes through. Decorators (block
// transforms, caches) are stacked here, so every door (SDK, FUSE, gateway) gets the same data path.
import { ChunkStore } from '../chunk/index.js';
import type { Format } from '../meta/types.js';
// The value import registers the backends (file, mem, s3) before any URL is opened.
import '../object/index.js';
import type { ObjectOptions, ObjectStore } from '../object/index.js';
import { stackCaches, type CacheOptions } from '../cache/options.js';
import { applyTransforms, openShardedStore, type BlockTransforms, type UserSecret } from '../object/transforms/index.js';

/** Cache options (cacheDir, cacheSize, cacheGroup, ...): see src/cache/options.ts and docs/cache.md. */
export interface StorageOptions extends CacheOptions {
  /** Passed to the object store (credentials, endpoint...). */
  objectOptions?: ObjectOptions;
  /** Unlocks an encrypted volume (else FERRY_ENCRYPT_KEY_FILE / FERRY_ENCRYPT_PASSPHRASE / the format's hint). */
  encryption?: UserSecret;
}

/** Object options from the format record (keys given to `ferry format`), overridden by the client's. */
function objectOptionsOf(format: Format, opts: StorageOptions): ObjectOptions {
  const fromFormat: ObjectOptions = {};
  if (typeof format.accessKey === 'string') fromFormat.accessKey = format.accessKey;
  if (typeof format.secretKey === 'string') fromFormat.secretKey = format.secretKey;
  return { ...fromFormat, ...(opts.objectOptions ?? {}) };
}

/** Every object of the volume as stored (all shards; no cache, no transform): for listing and deleting them. */
export function openRawVolumeObjects(format: Format, opts: StorageOptions = {}): Promise<ObjectStore> {
  return openShardedStore(format as BlockTransforms, objectOptionsOf(format, opts));
}

/** The volume's object store with the decorators its format and the client options ask for. */
export async function openVolumeObjects(format: Format, opts: StorageOptions = {}): Promise<ObjectStore> {
  // Caches wrap the backend store directly, below block transforms: they hold blocks as stored (see cache/options.ts).
  // Block transforms (compress -> encrypt -> checksum on write) go on top, sharding below the caches.
  const cached = await stackCaches(format, await openRawVolumeObjects(format, opts), opts);
  try {
    return await applyTransforms(cached, format as BlockTransforms, opts.encryption);
  } catch (e) {
    await cached.close().catch(() => undefined);
    throw e;
  }
}

export async function openChunkStore(format: Format, opts: StorageOptions = {}): Promise<ChunkStore> {
  const objects = await openVolumeObjects(format, opts);
  return new ChunkStore(objects, { volume: format.name, blockSize: format.blockSize });
}
