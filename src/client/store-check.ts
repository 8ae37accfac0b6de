// The object-store self-check run before a volume is formatted or pointed at another store: create the
// bucket or directory, write a small object through the stack the clients will use (shards, block
// transforms, the volume's credentials), read it back, delete it. Any failure is one line naming the store.
import { randomBytes } from 'node:crypto';
import { FsError } from '../errors.js';
import type { Format } from '../meta/types.js';
import type { ObjectStore } from '../object/interface.js';
import type { ClientConfig } from './config.js';
import { openChunkStore } from './storage.js';

/** Checks a store stack as given: create, write, read back, delete one object under `<volume>/`. */
export async function checkObjectStore(store: ObjectStore, volume: string): Promise<void> {
  const key = `${volume}/ferry-check-${randomBytes(6).toString('hex')}`;
  const data = Buffer.from(`ferry storage check ${new Date().toISOString()}\n`);
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      throw new FsError('EIO', { message: `object storage ${store.url} is not usable (${what} failed: ${(e as Error)?.message ?? String(e)})`, cause: e });
    }
  };
  await step('create', () => store.create());
  await step('writing a test object', () => store.put(key, data));
  await step('reading the test object back', async () => {
    if (!(await store.get(key)).equals(data)) throw new Error('the test object read back differs');
  });
  await step('deleting the test object', () => store.delete(key));
}

/** Checks the store of a (new or changed) format record through the very stack its clients will open, without caches. */
export async function checkVolumeStore(format: Format, cfg: Partial<ClientConfig> = {}): Promise<void> {
  const { cache: _cache, group: _group, ...plain } = cfg;
  const store = await openChunkStore(format, plain);
  try {
    await checkObjectStore(store.objects, format.name);
  } finally {
    await store.objects.close().catch(() => undefined);
  }
}
