// Warm-up: the blocks behind files or whole trees of a volume, pulled into the local disk cache or the
// cache group (or checked, or evicted). Keys come from the metadata (chunk slice lists -> visible segments
// -> block keys), so nothing is read that the files do not show. Already cached blocks are skipped, which
// makes a warm-up idempotent and an interrupted one resumable.
import { blockKey, blockLength, buildSliceMap, forEachLimited } from '../chunk/index.js';
import { CHUNK_SIZE, TYPE_DIRECTORY, TYPE_FILE } from '../meta/types.js';
import { volumeView, type Volume } from '../sdk/volume.js';
import type { CachedObjectStore } from './store.js';

export interface WarmBlock {
  key: string;
  /** Bytes of the block (as the file's data; stored bytes may differ with compression). */
  size: number;
  /** Index into WarmPlan.files. */
  file: number;
}

export interface WarmPlan {
  files: string[];
  blocks: WarmBlock[];
  bytes: number;
}

/** Every block behind the files under `paths` (directories recursively; symlinks and specials skipped). */
export async function planWarmup(vol: Volume, paths: string[]): Promise<WarmPlan> {
  const plan: WarmPlan = { files: [], blocks: [], bytes: 0 };
  const seen = new Set<string>();
  const view = volumeView(vol);
  const bs = view.format.blockSize;
  const addFile = async (path: string, ino: number, length: number) => {
    const file = plan.files.length;
    plan.files.push(path);
    for (let indx = 0; indx * CHUNK_SIZE < length; indx++) {
      const slices = await view.vfs.meta.readChunk(view.ctx, ino, indx);
      for (const s of buildSliceMap(slices)) {
        if (s.id === 0 || s.len <= 0) continue;
        const first = Math.floor(s.off / bs);
        const last = Math.floor((s.off + s.len - 1) / bs);
        for (let b = first; b <= last; b++) {
          const size = blockLength(s.size, bs, b);
          const key = blockKey(view.format.name, s.id, b, size);
          if (seen.has(key)) continue;
          seen.add(key);
          plan.blocks.push({ key, size, file });
          plan.bytes += size;
        }
      }
    }
  };
  const walk = async (path: string) => {
    const st = await vol.lstat(path);
    if (st.isFile()) return addFile(path, st.ino, st.size);
    if (!st.isDirectory()) return;
    for (const name of await vol.readdir(path)) await walk(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  for (const p of paths) await walk(p);
  return plan;
}

export type WarmMode = 'warm' | 'check' | 'evict';

export interface WarmProgress {
  files: number;
  filesDone: number;
  blocks: number;
  blocksDone: number;
  bytes: number;
  bytesDone: number;
  /** Blocks that were cached before (warm, check) or have been dropped (evict). */
  cachedBlocks: number;
  cachedBytes: number;
  /** Bytes fetched by this run (warm). */
  fetchedBytes: number;
  failed: number;
  errors: string[];
}

/**
 * Runs a plan against a cache stack opened for warm-up: its disk cache (local) or, when it has a group,
 * the group's owners. `threads` blocks at a time.
 */
export async function runWarmup(
  plan: WarmPlan,
  store: CachedObjectStore,
  mode: WarmMode,
  threads: number,
  onProgress?: (p: WarmProgress) => void,
): Promise<WarmProgress> {
  const p: WarmProgress = {
    files: plan.files.length,
    filesDone: 0,
    blocks: plan.blocks.length,
    blocksDone: 0,
    bytes: plan.bytes,
    bytesDone: 0,
    cachedBlocks: 0,
    cachedBytes: 0,
    fetchedBytes: 0,
    failed: 0,
    errors: [],
  };
  const left = new Array<number>(plan.files.length).fill(0);
  for (const b of plan.blocks) left[b.file]!++;
  p.filesDone = left.filter((n) => n === 0).length;
  const group = store.group;
  const cached = (key: string): Promise<boolean> => (group ? group.cached(key) : Promise.resolve(store.has(key)));
  await forEachLimited(plan.blocks, Math.max(1, threads), async (b) => {
    try {
      if (mode === 'check') {
        if (await cached(b.key)) {
          p.cachedBlocks++;
          p.cachedBytes += b.size;
        }
      } else if (mode === 'evict') {
        if (group) await group.evict(b.key);
        else await store.evict(b.key);
        p.cachedBlocks++;
        p.cachedBytes += b.size;
      } else if (await cached(b.key)) {
        p.cachedBlocks++;
        p.cachedBytes += b.size;
      } else {
        if (group) await group.warm(b.key);
        else await store.block(b.key);
        p.fetchedBytes += b.size;
      }
    } catch (e) {
      p.failed++;
      if (p.errors.length < 5) p.errors.push(`${plan.files[b.file]}: ${(e as Error)?.message ?? String(e)}`);
    }
    p.blocksDone++;
    p.bytesDone += b.size;
    if (--left[b.file]! === 0) p.filesDone++;
    onProgress?.(p);
  });
  await store.idle();
  return p;
}
