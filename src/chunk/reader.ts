// The read path of one open file: file offsets -> chunks -> visible maps -> ranged block reads, with
// read-ahead for sequential access. Slice lists are cached per chunk until invalidate().
import { FsError, isFsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { CHUNK_SIZE, type Context } from '../meta/types.js';
import { buildSliceMap, segmentsInRange, type Segment } from './slice-map.js';
import { isMissingBlock, settleAll, type ChunkStore } from './store.js';

export interface FileReaderOptions {
  ctx: Context;
  /** Largest read-ahead window in bytes (default 32 MiB; 0 disables read-ahead). */
  maxReadahead?: number;
  /** Most bytes of whole blocks kept for sequential reads (default twice maxReadahead, at least 2 blocks). */
  prefetchMemory?: number;
}

interface CachedBlock {
  indx: number;
  /** File offset where the part of this block that was wanted ends: once a sequential read passes it, it goes. */
  fileEnd: number;
  size: number;
  data: Promise<Buffer>;
}

export class FileReader {
  private readonly ctx: Context;
  private readonly blockSize: number;
  private readonly maxReadahead: number;
  private readonly prefetchMemory: number;
  private readonly maps = new Map<number, Promise<Segment[]>>();
  /** Whole blocks fetched for sequential reading, oldest first (evicted in that order). */
  private readonly blocks = new Map<string, CachedBlock>();
  private blockBytes = 0;
  /** Where the previous read ended, to spot sequential access. */
  private lastEnd = 0;
  private window = 0;
  private generation = 0;

  constructor(
    readonly store: ChunkStore,
    readonly meta: Meta,
    readonly ino: number,
    opts: FileReaderOptions,
  ) {
    this.ctx = opts.ctx;
    this.blockSize = store.blockSize;
    this.maxReadahead = opts.maxReadahead ?? 32 << 20;
    this.prefetchMemory = opts.prefetchMemory ?? Math.max(2 * this.maxReadahead, 2 * this.blockSize);
  }

  /** Current read-ahead window in bytes (0 while access looks random). */
  get readahead(): number {
    return this.window;
  }

  /** Bytes of blocks held for sequential reads. */
  get cachedBytes(): number {
    return this.blockBytes;
  }

  /** Up to `len` bytes at `off`, never past `fileLength`; holes read as zeros. */
  async read(off: number, len: number, fileLength: number): Promise<Buffer> {
    if (!Number.isSafeInteger(off) || off < 0 || len < 0) throw new FsError('EINVAL', { message: `bad read at ${off} of ${len}` });
    const end = Math.min(off + len, fileLength);
    if (end <= off) return Buffer.alloc(0);
    // Sequential: starts at (or a little around) where the previous read ended, so concurrent reads of a
    // stream arriving slightly out of order still count.
    const sequential =
      this.maxReadahead > 0 && off + this.blockSize >= this.lastEnd && off <= this.lastEnd + Math.max(this.window, this.blockSize);
    this.window = sequential ? Math.min(this.maxReadahead, this.window === 0 ? this.blockSize : this.window * 2) : 0;
    this.lastEnd = sequential ? Math.max(this.lastEnd, end) : end;

    const view = sequential ? await this.oneBlockView(off, end).catch(() => undefined) : undefined;
    if (view) {
      this.dropPassed(end);
      if (end < fileLength) void this.prefetch(end, Math.min(end + this.window, fileLength));
      return view;
    }

    const out = Buffer.alloc(end - off);
    const reads: Array<Promise<void>> = [];
    for (let pos = off; pos < end; ) {
      const indx = Math.floor(pos / CHUNK_SIZE);
      const base = indx * CHUNK_SIZE;
      const stop = Math.min(end, base + CHUNK_SIZE);
      const from = pos - base;
      const to = stop - base;
      reads.push(this.readPiece(indx, from, to, off, out, sequential));
      pos = stop;
    }
    await settleAll(reads);
    if (sequential) {
      this.dropPassed(end);
      if (end < fileLength) void this.prefetch(end, Math.min(end + this.window, fileLength));
    }
    return out;
  }

  /**
   * A sequential read lying inside one block of one slice (1 MiB kernel reads of 4 MiB blocks, mostly) is a
   * view of the held block: no zeroed buffer, no copies, no garbage (copies and their garbage collection were
   * a quarter of the mount's CPU time for large reads). Undefined when the range needs the general path;
   * that path also retries after errors.
   */
  private async oneBlockView(off: number, end: number): Promise<Buffer | undefined> {
    const indx = Math.floor(off / CHUNK_SIZE);
    const base = indx * CHUNK_SIZE;
    if (end > base + CHUNK_SIZE) return undefined;
    const segs = segmentsInRange(await this.chunkMap(indx), off - base, end - base);
    const s = segs[0];
    if (segs.length !== 1 || !s || s.id === 0) return undefined;
    const b = Math.floor(s.off / this.blockSize);
    if (Math.floor((s.off + s.len - 1) / this.blockSize) !== b) return undefined;
    const fileEnd = base + s.pos + s.len;
    const data = await this.fetchBlock(indx, fileEnd, s.id, s.size, b);
    const start = s.off - b * this.blockSize;
    return data.subarray(start, start + s.len);
  }

  /** Bytes [from, to) of chunk indx into out (which starts at file offset off). */
  private async readPiece(indx: number, from: number, to: number, off: number, out: Buffer, sequential: boolean): Promise<void> {
    const base = indx * CHUNK_SIZE;
    let waitedMs = 0;
    for (let attempt = 0, pause = 100; ; attempt++) {
      try {
        const map = await this.chunkMap(indx);
        const parts: Array<Promise<void>> = [];
        for (const s of segmentsInRange(map, from, to)) {
          if (s.id === 0) continue;
          const at = base + s.pos - off;
          parts.push(this.readSegment(indx, base, s, sequential).then((b) => void b.copy(out, at)));
        }
        await settleAll(parts);
        return;
      } catch (e) {
        // A slice list cached before a compaction or truncate (here or in another client) can name
        // blocks deleted since: reload it and read again before calling the data lost.
        if (!isFsError(e, 'EIO')) throw e;
        if (attempt >= 2) {
          // Still named by a fresh slice list but not in the object store: a write-back client may have
          // committed it before uploading its blocks. Wait for the upload, for a bounded time, when such a
          // client is alive; when none is, nobody can still upload it: the block is lost, say so at once.
          const mayCome = isMissingBlock(e) && (waitedMs > 0 || (await this.uploadsMayBePending()));
          if (!mayCome || waitedMs >= this.store.missingBlockWaitMs) {
            if (waitedMs > 0) throw new FsError('EIO', { message: `${e.description} (waited ${(waitedMs / 1000).toFixed(0)} s for its upload)`, cause: e.cause });
            throw e;
          }
          const ms = Math.min(pause, this.store.missingBlockWaitMs - waitedMs);
          await new Promise((r) => setTimeout(r, ms));
          waitedMs += ms;
          pause = Math.min(2 * pause, 2000);
        }
        this.invalidate(indx);
        out.fill(0, base + from - off, base + to - off);
      }
    }
  }

  private async uploadsMayBePending(): Promise<boolean> {
    const ask = this.store.uploadsMayBePending;
    return ask ? ask() : true;
  }

  /** Forgets cached slice lists and prefetched blocks of chunk `indx`, or of every chunk (after writes, truncates). */
  invalidate(indx?: number): void {
    this.generation++;
    if (indx === undefined) {
      this.maps.clear();
      this.blocks.clear();
      this.blockBytes = 0;
      return;
    }
    this.maps.delete(indx);
    for (const [key, b] of this.blocks) {
      if (b.indx === indx) this.evict(key, b);
    }
  }

  private chunkMap(indx: number): Promise<Segment[]> {
    let p = this.maps.get(indx);
    if (!p) {
      const loading = this.meta.readChunk(this.ctx, this.ino, indx).then(buildSliceMap);
      p = loading;
      this.maps.set(indx, p);
      loading.catch(() => {
        if (this.maps.get(indx) === loading) this.maps.delete(indx);
      });
    }
    return p;
  }

  /** One segment's bytes: from held blocks where present; whole blocks (kept) when sequential; else ranged. */
  private async readSegment(indx: number, base: number, s: Segment, sequential: boolean): Promise<Buffer> {
    const bs = this.blockSize;
    const first = Math.floor(s.off / bs);
    const last = Math.floor((s.off + s.len - 1) / bs);
    let anyHeld = false;
    for (let b = first; b <= last && !anyHeld; b++) anyHeld = this.blocks.has(blockId(s.id, b));
    if (!sequential && !anyHeld) return this.store.readSlice(s.id, s.size, s.off, s.len);
    const out = Buffer.allocUnsafe(s.len);
    const parts: Array<Promise<void>> = [];
    for (let b = first; b <= last; b++) {
      const start = Math.max(s.off, b * bs);
      const stop = Math.min(s.off + s.len, (b + 1) * bs);
      const held = this.blocks.get(blockId(s.id, b));
      let piece: Promise<Buffer>;
      if (held) piece = held.data.then((d) => d.subarray(start - b * bs, stop - b * bs));
      else if (sequential) {
        const fileEnd = base + s.pos + (stop - s.off);
        piece = this.fetchBlock(indx, fileEnd, s.id, s.size, b).then((d) => d.subarray(start - b * bs, stop - b * bs));
      }
      else piece = this.store.readBlock(s.id, s.size, b, start - b * bs, stop - start);
      parts.push(piece.then((d) => void d.copy(out, start - s.off)));
    }
    await settleAll(parts);
    return out;
  }

  /** Fetches a whole block and holds it (evicting the oldest held blocks beyond the memory bound). */
  private fetchBlock(indx: number, fileEnd: number, id: number, size: number, b: number): Promise<Buffer> {
    const key = blockId(id, b);
    const held = this.blocks.get(key);
    if (held) return held.data;
    const length = Math.min(this.blockSize, size - b * this.blockSize);
    const data = this.store.readBlock(id, size, b);
    const entry: CachedBlock = { indx, fileEnd, size: length, data };
    this.blocks.set(key, entry);
    this.blockBytes += length;
    data.catch(() => {
      if (this.blocks.get(key) === entry) this.evict(key, entry);
    });
    for (const [k, e] of this.blocks) {
      if (this.blockBytes <= this.prefetchMemory || k === key) break;
      this.evict(k, e);
    }
    return data;
  }

  /** Lets go of held blocks a sequential reader has moved past. */
  private dropPassed(offset: number): void {
    for (const [key, b] of this.blocks) if (b.fileEnd <= offset) this.evict(key, b);
  }

  private evict(key: string, b: CachedBlock): void {
    if (this.blocks.get(key) !== b) return;
    this.blocks.delete(key);
    this.blockBytes -= b.size;
  }

  /** Starts fetching the blocks behind file range [from, to) that are not held yet, within the memory bound. */
  private async prefetch(from: number, to: number): Promise<void> {
    const gen = this.generation;
    try {
      for (let pos = from; pos < to; ) {
        const indx = Math.floor(pos / CHUNK_SIZE);
        const base = indx * CHUNK_SIZE;
        const stop = Math.min(to, base + CHUNK_SIZE);
        const map = await this.chunkMap(indx);
        if (gen !== this.generation) return;
        for (const s of segmentsInRange(map, pos - base, stop - base)) {
          if (s.id === 0) continue;
          const first = Math.floor(s.off / this.blockSize);
          const last = Math.floor((s.off + s.len - 1) / this.blockSize);
          for (let b = first; b <= last; b++) {
            if (this.blocks.has(blockId(s.id, b))) continue;
            if (this.blockBytes + this.blockSize > this.prefetchMemory) return;
            const fileEnd = base + s.pos + (Math.min(s.off + s.len, (b + 1) * this.blockSize) - s.off);
            this.fetchBlock(indx, fileEnd, s.id, s.size, b).catch(() => undefined);
          }
        }
        pos = stop;
      }
    } catch {
      // read-ahead is best effort; the real read reports errors
    }
  }
}

function blockId(id: number, index: number): string {
  return `${id}_${index}`;
}
