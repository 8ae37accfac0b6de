// Removes the objects of slices waiting in the metadata's delete queue. A background job: never called
// inline from a user's operation.
import { FsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { forEachLimited } from './limiter.js';
import type { ChunkStore } from './store.js';

/**
 * Deletes the blocks of up to `limit` queued slices (bounded concurrency), then acknowledges the ones whose
 * blocks are gone. Returns how many were removed; slices whose deletion failed stay queued for the next run,
 * and the call then rejects with EIO (after acknowledging the others).
 */
export async function drainDeletedSlices(meta: Meta, store: ChunkStore, limit: number, concurrency = 8): Promise<number> {
  const pending = await meta.pendingDeletedSlices(limit);
  if (pending.length === 0) return 0;
  const done: number[] = [];
  let failures = 0;
  let firstError: unknown;
  await forEachLimited(pending, concurrency, async (s) => {
    try {
      await store.deleteSlice(s.id, s.size);
      done.push(s.id);
    } catch (e) {
      failures++;
      firstError ??= e;
    }
  });
  if (done.length > 0) await meta.ackDeletedSlices(done);
  if (failures > 0) {
    throw new FsError('EIO', {
      message: `${failures} of ${pending.length} deleted slices could not be removed: ${(firstError as Error)?.message ?? firstError}`,
      cause: firstError,
    });
  }
  return done.length;
}
