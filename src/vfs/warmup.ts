// Warm-up: the blocks behind files or whole trees of a volume, pulled into the local disk cache or the
// cache group (or checked, or evicted). Keys come from the metadata (chunk slice lists -> visible segments
// -> block keys), so nothing is read that the files do not show. Already cached blocks are skipped, which
// makes a warm-up idempotent and an interrupted one resumable.
import { blockKey, blockLength, buildSliceMap, forEachLimited, type BlockCache, type ChunkStore } from '../chunk/index.js';
import type { Meta } from '../meta/interface.js';
import { CHUNK_SIZE, ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, type Attr, type Context } from '../meta/types.js';

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

/**
 * Every block behind the files under `paths` (directories recursively; symlinks and specials skipped), from
 * the metadata alone: a directory is listed with attributes in pages, a file's chunks give its blocks.
 */
export async function planWarmup(meta: Meta, store: ChunkStore, ctx: Context, paths: string[]): Promise<WarmPlan> {
  const plan: WarmPlan = { files: [], blocks: [], bytes: 0 };
  const seen = new Set<string>();
  const bs = store.blockSize;
  const addFile = async (path: string, ino: number, length: number) => {
    const file = plan.files.length;
    plan.files.push(path);
    for (let indx = 0; indx * CHUNK_SIZE < length; indx++) {
      const slices = await meta.readChunk(ctx, ino, indx);
      for (const s of buildSliceMap(slices)) {
        if (s.id === 0 || s.len <= 0) continue;
        const first = Math.floor(s.off / bs);
        const last = Math.floor((s.off + s.len - 1) / bs);
        for (let b = first; b <= last; b++) {
          const size = blockLength(s.size, bs, b);
          const key = blockKey(store.volume, s.id, b, size);
          if (seen.has(key)) continue;
          seen.add(key);
          plan.blocks.push({ key, size, file });
          plan.bytes += size;
        }
      }
    }
  };
  const walk = async (path: string, ino: number, attr: Attr): Promise<void> => {
    if (attr.type === TYPE_FILE) return addFile(path, ino, attr.length);
    if (attr.type !== TYPE_DIRECTORY) return;
    for (let after: string | undefined; ; ) {
      const page = await meta.readdir(ctx, ino, { after, limit: 1000, plus: true });
      for (const e of page) await walk(path === '/' ? `/${e.name}` : `${path}/${e.name}`, e.inode, e.attr);
      if (page.length < 1000) break;
      after = page[page.length - 1]!.name;
    }
  };
  for (const p of paths) {
    const r = p === '/' ? { inode: ROOT_INODE, attr: await meta.getattr(ctx, ROOT_INODE) } : await meta.resolve(ctx, ROOT_INODE, p.replace(/^\/+/, ''));
    await walk(p, r.inode, r.attr);
  }
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

/** Runs a plan against a block cache (a local one, or a group's owners): `threads` blocks at a time. */
export async function runWarmup(
  plan: WarmPlan,
  cache: BlockCache,
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
  await forEachLimited(plan.blocks, Math.max(1, threads), async (b) => {
    try {
      if (mode === 'evict') {
        await cache.evict(b.key);
        p.cachedBlocks++;
        p.cachedBytes += b.size;
      } else if (await cache.check(b.key)) {
        p.cachedBlocks++;
        p.cachedBytes += b.size;
      } else if (mode === 'warm') {
        await cache.fill(b.key);
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
  await cache.idle();
  return p;
}
