// The read path of one open file: file offsets -> chunks -> visible maps -> ranged block reads, with
// read-ahead for sequential access. Slice lists are cached per chunk until invalidate(). Every fetch goes
// through the chunk store, which shares one get among all who want a block while it is on its way (this
// reader's read and its read-ahead, other open files, other readers).
import { FsError, isFsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { CHUNK_SIZE, type Context } from '../meta/types.js';
import { buildSliceMap, segmentsInRange, type Segment } from './slice-map.js';
import type { BufferPool } from './buffer-pool.js';
import { isMissingBlock, settleAll, type ChunkStore } from './store.js';

export interface FileReaderOptions {
  ctx: Context;
  /** Largest read-ahead window in bytes (default 32 MiB; 0 disables read-ahead). */
  maxReadahead?: number;
  /** Most bytes of whole blocks kept for sequential reads (default twice maxReadahead, at least 2 blocks). */
  prefetchMemory?: number;
  /**
   * Read-ahead memory shared by every open file of the client: a block is fetched ahead only while it fits
   * (the block a read needs now is fetched regardless). Unset: only this reader's own bound applies.
   */
  budget?: BufferPool;
}

interface CachedBlock {
  indx: number;
  /** File offset where the part of this block that was wanted ends: once a sequential read passes it, it goes. */
  fileEnd: number;
  size: number;
  data: Promise<Buffer>;
  /** Set once data has resolved: a read that finds its block not ready waited (the window was too small). */
  ready: boolean;
  /** Bytes taken from the shared budget (0 when fetched for a read, not ahead of it). */
  charged: number;
}

/** Up to this many blocks the window doubles on every wait; beyond, only when doubling made reads faster. */
const MEASURED_FROM = 4;
/** What a doubling of the window must gain in read rate to be kept. */
const GROWTH_GAIN = 1.15;

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
  /** A read since the last window update waited for a block still on its way. */
  private stalled = false;
  /** Bytes read sequentially since the window took its size, and the rate (bytes/ms) at the size before. */
  private rate: { bytes: number; since: number; previous?: number } = { bytes: 0, since: 0 };
  /** The window found not to pay beyond this size (a bandwidth-bound store), for the life of the reader. */
  private ceiling = Infinity;
  /** The widest the window has been: blocks passed less than that ago are kept (see dropPassed). */
  private widest = 0;
  private readonly budget?: BufferPool;

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
    this.budget = opts.budget;
  }

  /**
   * Doubles the window after a read waited. Past MEASURED_FROM blocks a doubling must pay: the window grows
   * again only after a window's worth was read at its size, and when that read ran no faster than at half the
   * size, the store's bandwidth (not its latency) is the limit: more GETs in flight only share it and hold
   * back the block the reader needs next (Ceph RGW on this VM: 4 blocks in flight read 75 MiB/s, 16 read
   * 48). The window then goes back to the smaller size and grows no further for this open file.
   */
  private grow(): void {
    const cap = Math.min(this.maxReadahead, this.ceiling);
    if (this.window >= cap) return;
    if (this.window < MEASURED_FROM * this.blockSize) return this.resetWindow(Math.min(cap, this.window * 2));
    const r = this.rate;
    if (r.bytes < this.window) return; // not measured at this size yet
    const now = performance.now();
    const rate = r.bytes / Math.max(1, now - r.since);
    if (r.previous !== undefined && rate < r.previous * GROWTH_GAIN) {
      this.ceiling = this.window / 2;
      return this.resetWindow(this.ceiling);
    }
    this.resetWindow(Math.min(cap, this.window * 2), rate);
  }

  private resetWindow(size: number, previous?: number): void {
    this.widest = Math.max(this.widest, size);
    this.window = size;
    this.rate = { bytes: 0, since: performance.now(), previous };
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
    // The window starts at one block and doubles whenever a read had to wait for a block still on its way:
    // it grows to what the store's latency and throughput need (the gets in flight it takes to stay ahead
    // of the reader), and no further, up to maxReadahead. Random access gets no read-ahead at all.
    if (!sequential) this.resetWindow(0);
    else if (this.window === 0) this.resetWindow(Math.min(this.maxReadahead, this.blockSize));
    else if (this.stalled) this.grow();
    this.stalled = false;
    if (sequential) this.rate.bytes += end - off;
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
    const data = await this.fetchBlock(indx, blockFileEnd(base, s, b, this.blockSize), s.id, s.size, b, false);
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
      for (const [key, b] of this.blocks) this.evict(key, b);
      return;
    }
    this.maps.delete(indx);
    for (const [key, b] of this.blocks) {
      if (b.indx === indx) this.evict(key, b);
    }
  }

  /** Lets go of every held block and its share of the read-ahead budget (the handle is closed). */
  close(): void {
    this.invalidate();
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
      if (held) {
        if (!held.ready) this.stalled = true;
        piece = held.data.then((d) => d.subarray(start - b * bs, stop - b * bs));
      }
      else if (sequential) {
        piece = this.fetchBlock(indx, blockFileEnd(base, s, b, bs), s.id, s.size, b, false).then((d) => d.subarray(start - b * bs, stop - b * bs));
      }
      else piece = this.store.readBlock(s.id, s.size, b, start - b * bs, stop - start);
      parts.push(piece.then((d) => void d.copy(out, start - s.off)));
    }
    await settleAll(parts);
    return out;
  }

  /**
   * A whole block, held for the sequential reader (evicting the oldest held blocks beyond the memory bound).
   * `ahead`: wanted by read-ahead, not by a read waiting now; such a fetch starts only within the budgets.
   */
  private fetchBlock(indx: number, fileEnd: number, id: number, size: number, b: number, ahead: boolean): Promise<Buffer> {
    const key = blockId(id, b);
    const held = this.blocks.get(key);
    if (held) {
      if (!ahead && !held.ready) this.stalled = true;
      return held.data;
    }
    if (!ahead) this.stalled = true;
    const length = Math.min(this.blockSize, size - b * this.blockSize);
    const data = this.store.fetchBlock(id, size, b);
    const entry: CachedBlock = { indx, fileEnd, size: length, data, ready: false, charged: 0 };
    this.blocks.set(key, entry);
    this.blockBytes += length;
    data.then(
      () => (entry.ready = true),
      () => this.evict(key, entry),
    );
    for (const [k, e] of this.blocks) {
      if (this.blockBytes <= this.prefetchMemory || k === key) break;
      this.evict(k, e);
    }
    return data;
  }

  /**
   * Lets go of held blocks a sequential reader has moved well past. Those it passed less than a window ago
   * stay (they go first when read-ahead needs room): the kernel's read-ahead over FUSE sometimes asks for
   * tens of MiB again that it had already been given, and each such block would be fetched a second time.
   */
  private dropPassed(offset: number): void {
    // The widest window, not the current one: the kernel's own read-ahead may come back for what was
    // fetched under a window that has since shrunk to what pays.
    const keepFrom = offset - this.widest;
    for (const [key, b] of this.blocks) if (b.fileEnd <= keepFrom) this.evict(key, b);
  }

  /** Evicts passed blocks (oldest first) until `n` more bytes fit this reader's bound; false if they cannot. */
  private roomFor(n: number): boolean {
    for (const [key, b] of this.blocks) {
      if (this.blockBytes + n <= this.prefetchMemory) break;
      if (b.fileEnd <= this.lastEnd) this.evict(key, b);
    }
    return this.blockBytes + n <= this.prefetchMemory;
  }

  /** Takes `n` bytes of the shared read-ahead budget, giving back this reader's passed blocks if need be. */
  private charge(n: number): boolean {
    if (!this.budget || this.budget.tryAcquire(n)) return true;
    for (const [key, b] of this.blocks) {
      if (b.fileEnd > this.lastEnd || !b.charged) continue;
      this.evict(key, b);
      if (this.budget.tryAcquire(n)) return true;
    }
    return false;
  }

  private evict(key: string, b: CachedBlock): void {
    if (this.blocks.get(key) !== b) return;
    this.blocks.delete(key);
    this.blockBytes -= b.size;
    if (b.charged) this.budget?.release(b.charged);
    b.charged = 0;
  }

  /** Starts fetching the blocks behind file range [from, to) that are not held yet, within the memory bounds. */
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
            const length = Math.min(this.blockSize, s.size - b * this.blockSize);
            if (!this.roomFor(length) || !this.charge(length)) return;
            this.fetchBlock(indx, blockFileEnd(base, s, b, this.blockSize), s.id, s.size, b, true).catch(() => undefined);
            const entry = this.blocks.get(blockId(s.id, b));
            if (entry) entry.charged = length;
            else this.budget?.release(length);
          }
        }
        pos = stop;
      }
    } catch {
      // read-ahead is best effort; the real read reports errors
    }
  }
}

/**
 * The file offset where block `b` of segment `s` (chunk at `base`) ends: a sequential reader past it has no
 * more use for the block. Taken from the block's end, not from where `s` was clipped to a read or a window
 * (a block first seen at the window's edge would otherwise be dropped half-read and fetched again).
 */
function blockFileEnd(base: number, s: Segment, b: number, blockSize: number): number {
  return base + s.pos + (Math.min((b + 1) * blockSize, s.size) - s.off);
}

function blockId(id: number, index: number): string {
  return `${id}_${index}`;
}
