// How a client turns a volume's format into the store its data goes through. Decorators (block
// transforms, caches) are stacked here, so every door (SDK, FUSE, gateway) gets the same data path.
import { ChunkStore } from '../chunk/index.js';
import type { Format } from '../meta/types.js';
import { openObjectStore, type ObjectOptions, type ObjectStore } from '../object/index.js';

export interface StorageOptions {
  /** Passed to the object store (credentials, endpoint...). */
  objectOptions?: ObjectOptions;
}

/** The volume's object store with the decorators its format and the client options ask for. */
export async function openVolumeObjects(format: Format, opts: StorageOptions = {}): Promise<ObjectStore> {
  return openObjectStore(format.storage, opts.objectOptions ?? {});
}

export async function openChunkStore(format: Format, opts: StorageOptions = {}): Promise<ChunkStore> {
  const objects = await openVolumeObjects(format, opts);
  return new ChunkStore(objects, { volume: format.name, blockSize: format.blockSize });
}
