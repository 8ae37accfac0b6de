// The write path of one inode: buffers writes as slices (one contiguous run each, never crossing a chunk),
// uploads full blocks in the background with bounded concurrency, and commits slices to the metadata in
// creation order per chunk. Memory comes from a BufferPool shared by every file of the client.
import { FsError, toFsError, type ErrnoCode } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import { AT_END, CHUNK_SIZE, type Context, type WriteResult } from '../meta/types.js';
import { BufferPool, DEFAULT_BUFFER_LIMIT } from './buffer-pool.js';
import type { ChunkStore } from './store.js';

export interface FileWriterOptions {
  /** Whose commits these are (permissions, quotas, the setuid/setgid rule); write() and append() may change it. */
  ctx: Context;
  /** The client's shared write budget. When absent the writer gets a private pool of `bufferLimit` bytes. */
  pool?: BufferPool;
  /** Bytes, default 256 MiB; only used without `pool`. */
  bufferLimit?: number;
  /** flush() reports chunks holding at least this many slices (default 100) as candidates for compaction. */
  fragmentThreshold?: number;
  /** Slices of one chunk accepting writes at once; older ones are sealed and uploaded (default 4). */
  maxOpenSlices?: number;
  /**
   * Called after each slice is committed, including the ones committed in the background (a slice reaching
   * its chunk's end, or sealed to free buffer memory): the VFS invalidates readers' chunk `indx` and its
   * cached attributes here.
   */
  onCommit?: (indx: number, result: WriteResult) => void;
}

export interface FlushResult {
  /** Volume version of the last slice committed by this writer (0 if it never committed one). */
  version: number;
  /** Chunks committed since the previous flush whose slice count reached the fragment threshold. */
  fragmented: Array<{ indx: number; count: number }>;
}

/**
 * The key in `chunks` of pending O_APPEND data: its slices have no position until their commit places them at
 * the end of the file as the metadata sees it then (writeSlice AT_END), so appends of several clients never
 * overwrite each other. Committed in order, one at a time, like a chunk's slices.
 */
const APPENDS = -1;

/** One slice being written: bytes [pos, pos+length) of its chunk, in blocks of the store's block size. */
class SliceWriter {
  id = 0;
  private idRequest?: Promise<number>;
  length = 0;
  /** Buffers of blocks not uploaded yet (or uploading); capacity may exceed the block's bytes. */
  readonly bufs: Array<Buffer | undefined> = [];
  readonly uploads: Array<Promise<void>> = [];
  /** Blocks below this index have been handed to upload. */
  nextUpload = 0;
  /** Sealed: takes no more writes; its last block is uploading and it waits for its turn to commit. */
  frozen = false;
  discarded = false;
  failed?: unknown;
  readonly committed: Promise<unknown>;
  settle!: (err?: unknown) => void;

  constructor(
    readonly indx: number,
    readonly pos: number,
  ) {
    this.committed = new Promise((resolve) => (this.settle = resolve));
  }

  get end(): number {
    return this.pos + this.length;
  }

  sliceId(meta: Meta): Promise<number> {
    this.idRequest ??= meta.newSliceId().then((id) => (this.id = id));
    return this.idRequest;
  }
}

interface ChunkWriter {
  indx: number;
  /** Pending slices, oldest first: committed strictly in this order. */
  slices: SliceWriter[];
  /** The slice the commit loop is working on. */
  committing?: SliceWriter;
}

export class FileWriter {
  private ctx: Context;
  private readonly pool: BufferPool;
  private readonly blockSize: number;
  private readonly fragmentThreshold: number;
  private readonly maxOpenSlices: number;
  private readonly onCommit?: (indx: number, result: WriteResult) => void;
  private readonly chunks = new Map<number, ChunkWriter>();
  /** Serialises write() and the start of flush() so they apply in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  private error?: unknown;
  private version = 0;
  private readonly counts = new Map<number, number>();
  private readonly reclaim = (): void => this.freezeAll();
  private reclaimerRegistered = false;

  constructor(
    readonly store: ChunkStore,
    readonly meta: Meta,
    readonly ino: number,
    opts: FileWriterOptions,
  ) {
    this.ctx = opts.ctx;
    this.pool = opts.pool ?? new BufferPool(opts.bufferLimit ?? DEFAULT_BUFFER_LIMIT);
    this.blockSize = store.blockSize;
    this.fragmentThreshold = opts.fragmentThreshold ?? 100;
    this.maxOpenSlices = opts.maxOpenSlices ?? 4;
    this.onCommit = opts.onCommit;
  }

  /** True while some written data is not committed yet. */
  get hasPending(): boolean {
    return this.chunks.size > 0;
  }

  /** End offset of the furthest uncommitted byte (0 when nothing is pending): the file is at least this long. */
  get pendingLength(): number {
    let max = 0;
    for (const c of this.chunks.values()) {
      if (c.indx === APPENDS) continue;
      for (const s of c.slices) max = Math.max(max, c.indx * CHUNK_SIZE + s.end);
    }
    return max;
  }

  /** Bytes appended (append()) and not committed yet: the file is at least this much longer than committed. */
  get pendingAppend(): number {
    let n = 0;
    for (const s of this.chunks.get(APPENDS)?.slices ?? []) n += s.length;
    return n;
  }

  /**
   * Buffers `data` at file offset `off`. Resolves once the bytes are copied (the caller may reuse `data`);
   * waits first while the shared buffer is over its limit. Rejects after a failed upload or commit (as
   * flush() does) until flush() has reported it. `ctx`: who writes, when not the one the writer was made for.
   */
  write(off: number, data: Buffer, ctx?: Context): Promise<void> {
    const run = this.tail.then(() => this.doWrite(off, data, ctx));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Buffers `data` to be written at the end of the file as the metadata sees it when the data is committed
   * (O_APPEND). Positional writes buffered before it are committed first, and it is committed before later
   * positional writes, so the order of calls holds.
   */
  append(data: Buffer, ctx?: Context): Promise<void> {
    const run = this.tail.then(() => this.doAppend(data, ctx));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Uploads everything buffered and commits every pending slice (in creation order per chunk).
   * Rejects if an upload or commit failed since the last flush (EIO, or the metadata's refusal such as
   * ENOSPC); that data is not committed.
   */
  async flush(): Promise<FlushResult> {
    const started = this.tail.then(() => {
      const waits: Array<Promise<unknown>> = [];
      for (const c of this.chunks.values()) {
        for (const s of c.slices) this.freeze(s);
        const last = c.slices[c.slices.length - 1];
        if (last) waits.push(last.committed);
      }
      return waits;
    });
    this.tail = started.catch(() => undefined);
    const errors = await Promise.all(await started);
    const err = this.error ?? errors.find((e) => e !== undefined);
    this.error = undefined;
    if (err !== undefined) throw writeError(err);
    const fragmented: FlushResult['fragmented'] = [];
    for (const [indx, count] of this.counts) if (count >= this.fragmentThreshold) fragmented.push({ indx, count });
    this.counts.clear();
    return { version: this.version, fragmented };
  }

  private async doWrite(off: number, data: Buffer, ctx?: Context): Promise<void> {
    if (!Number.isSafeInteger(off) || off < 0) throw new FsError('EINVAL', { message: `bad write offset ${off}` });
    if (this.error !== undefined) throw writeError(this.error);
    // Pending slices commit as the latest writer: one who may not keep setuid/setgid clears them.
    if (ctx) this.ctx = ctx;
    if (this.chunks.has(APPENDS)) await this.commitPending((indx) => indx === APPENDS);
    let done = 0;
    while (done < data.length) {
      const pos = off + done;
      const indx = Math.floor(pos / CHUNK_SIZE);
      const cpos = pos - indx * CHUNK_SIZE;
      const n = Math.min(data.length - done, CHUNK_SIZE - cpos, this.blockSize);
      await this.pool.acquire(n);
      if (this.error !== undefined) {
        this.pool.release(n);
        throw writeError(this.error);
      }
      const grown = this.buffer(indx, cpos, data.subarray(done, done + n));
      this.pool.release(n - grown);
      done += n;
    }
  }

  private async doAppend(data: Buffer, ctx?: Context): Promise<void> {
    if (this.error !== undefined) throw writeError(this.error);
    if (ctx) this.ctx = ctx;
    if (this.chunks.size > (this.chunks.has(APPENDS) ? 1 : 0)) await this.commitPending((indx) => indx !== APPENDS);
    for (let done = 0; done < data.length; ) {
      const n = Math.min(data.length - done, this.blockSize);
      await this.pool.acquire(n);
      if (this.error !== undefined) {
        this.pool.release(n);
        throw writeError(this.error);
      }
      const grown = this.bufferAppend(data.subarray(done, done + n));
      this.pool.release(n - grown);
      done += n;
    }
  }

  /** Seals the pending slices of the chunks `which` selects and waits for their commits (a switch between kinds of write). */
  private async commitPending(which: (indx: number) => boolean): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const c of this.chunks.values()) {
      if (!which(c.indx)) continue;
      for (const s of c.slices) this.freeze(s);
      const last = c.slices[c.slices.length - 1];
      if (last) waits.push(last.committed);
    }
    const err = (await Promise.all(waits)).find((e) => e !== undefined);
    if (err !== undefined) throw writeError(err);
  }

  /** Copies appended bytes into the open append slice (a new one when it would pass a chunk's size). */
  private bufferAppend(data: Buffer): number {
    let c = this.chunks.get(APPENDS);
    if (!c) {
      c = { indx: APPENDS, slices: [] };
      this.chunks.set(APPENDS, c);
      this.registerReclaimer();
    }
    let s = c.slices[c.slices.length - 1];
    if (!s || s.frozen || s.length + data.length > CHUNK_SIZE) {
      if (s) this.freeze(s);
      s = new SliceWriter(APPENDS, 0);
      c.slices.push(s);
    }
    const before = s.length;
    this.copyIn(s, s.length, data);
    if (s.length >= CHUNK_SIZE) this.freeze(s);
    return s.length - before;
  }

  /** Copies `data` into a slice of chunk `indx` at position `cpos`; returns how many bytes the buffers grew. */
  private buffer(indx: number, cpos: number, data: Buffer): number {
    let c = this.chunks.get(indx);
    if (!c) {
      c = { indx, slices: [] };
      this.chunks.set(indx, c);
      this.registerReclaimer();
    }
    let s = this.writableSlice(c, cpos, data.length);
    if (!s) {
      s = new SliceWriter(indx, cpos);
      c.slices.push(s);
      this.sealOldSlices(c);
    }
    const before = s.length;
    this.copyIn(s, cpos - s.pos, data);
    if (s.end >= CHUNK_SIZE) this.freeze(s);
    return s.length - before;
  }

  /**
   * The newest slice that can take bytes at [pos, pos+len): not sealed, and pos lies between its last block
   * boundary (earlier blocks are uploading) and its end. A newer slice overlapping the range rules out
   * every older one, since the older would then be committed first and lose.
   */
  private writableSlice(c: ChunkWriter, pos: number, len: number): SliceWriter | undefined {
    for (let i = c.slices.length - 1; i >= 0; i--) {
      const s = c.slices[i]!;
      if (!s.frozen) {
        const uploaded = s.nextUpload * this.blockSize;
        if (pos >= s.pos + uploaded && pos <= s.end) return s;
      }
      if (pos < s.end && s.pos < pos + len) return undefined;
    }
    return undefined;
  }

  /** Keeps at most maxOpenSlices slices of a chunk open, sealing the oldest ones. */
  private sealOldSlices(c: ChunkWriter): void {
    let open = 0;
    for (let i = c.slices.length - 1; i >= 0; i--) {
      const s = c.slices[i]!;
      if (s.frozen) continue;
      if (++open > this.maxOpenSlices) this.freeze(s);
    }
  }

  private copyIn(s: SliceWriter, rel: number, data: Buffer): void {
    const bs = this.blockSize;
    let p = 0;
    while (p < data.length) {
      const at = rel + p;
      const k = Math.floor(at / bs);
      const boff = at - k * bs;
      const n = Math.min(data.length - p, bs - boff);
      let buf = s.bufs[k];
      if (!buf || buf.length < boff + n) {
        // Large writes (streaming) get the whole block at once: growing 1 -> 2 -> 4 MiB cost 3 MiB of copies
        // and garbage per block. Small files still start small.
        const big = boff + n >= bs / 4;
        const cap = big ? bs : Math.min(bs, Math.max(boff + n, (buf?.length ?? 0) * 2, 4096));
        const grown = Buffer.allocUnsafe(cap);
        if (buf) buf.copy(grown, 0, 0, Math.min(buf.length, s.length - k * bs));
        s.bufs[k] = buf = grown;
      }
      data.copy(buf, boff, p, p + n);
      p += n;
      if (at + n > s.length) s.length = at + n;
    }
    while ((s.nextUpload + 1) * bs <= s.length) this.startUpload(s, s.nextUpload++);
  }

  private startUpload(s: SliceWriter, k: number): void {
    const len = Math.min(this.blockSize, s.length - k * this.blockSize);
    const data = s.bufs[k]!.subarray(0, len);
    s.uploads[k] = (async () => {
      const id = await s.sliceId(this.meta);
      if (s.discarded) return;
      // Durable at the store's sync(), which fsync() waits for (a close does not: POSIX's close promises no
      // durability, and a file:// store skips an fsync per block).
      await this.store.uploadBlock(id, k, data, { deferSync: true });
    })().then(
      () => this.dropBlock(s, k),
      (e) => {
        this.dropBlock(s, k);
        s.failed ??= e;
        this.fail(e);
      },
    );
  }

  private dropBlock(s: SliceWriter, k: number): void {
    const buf = s.bufs[k];
    if (!buf) return;
    s.bufs[k] = undefined;
    this.pool.release(Math.min(this.blockSize, s.length - k * this.blockSize));
  }

  /** Seals a slice: uploads its last partial block and lets the commit loop take it in turn. */
  private freeze(s: SliceWriter): void {
    if (s.frozen || s.discarded) return;
    s.frozen = true;
    const blocks = Math.ceil(s.length / this.blockSize);
    while (s.nextUpload < blocks) this.startUpload(s, s.nextUpload++);
    const c = this.chunks.get(s.indx);
    if (c) void this.commitLoop(c);
  }

  private freezeAll(): void {
    for (const c of this.chunks.values()) for (const s of c.slices) this.freeze(s);
  }

  /** Commits the chunk's sealed slices from the oldest, one at a time; stops at the first open one. */
  private async commitLoop(c: ChunkWriter): Promise<void> {
    if (c.committing) return;
    try {
      while (c.slices.length > 0 && c.slices[0]!.frozen) {
        const s = c.slices[0]!;
        c.committing = s;
        await Promise.all(s.uploads);
        let err = s.failed;
        if (err === undefined && !s.discarded) {
          try {
            const slice = { id: s.id, size: s.length, off: 0, len: s.length };
            const atEnd = c.indx === APPENDS;
            const r = await this.meta.writeSlice(this.ctx, this.ino, atEnd ? 0 : c.indx, atEnd ? AT_END : s.pos, slice);
            this.version = Math.max(this.version, r.version);
            // An append ends where the file now does; it may have been split over two chunks.
            const last = atEnd ? Math.floor((r.attr.length - 1) / CHUNK_SIZE) : c.indx;
            const first = atEnd ? Math.floor((r.attr.length - s.length) / CHUNK_SIZE) : c.indx;
            this.counts.set(last, r.sliceCount);
            for (let indx = first; indx <= last; indx++) {
              try {
                this.onCommit?.(indx, r);
              } catch {
                // a listener's failure is not the write's
              }
            }
          } catch (e) {
            err = e;
          }
        }
        c.slices.shift();
        c.committing = undefined;
        if (err !== undefined) {
          // A failed upload leaves blocks nobody references, and so does a commit the metadata refused
          // (ENOSPC over the capacity, EROFS, ...: its transaction wrote nothing). Any other failed commit
          // may still have reached the engine (an ambiguous network error), so those blocks are left
          // alone: a leak, never a hole.
          if (s.failed !== undefined || refused(err)) this.removeOrphan(s);
          this.fail(err);
        }
        s.settle(err);
      }
    } finally {
      c.committing = undefined;
      if (c.slices.length === 0 && this.chunks.get(c.indx) === c) this.chunks.delete(c.indx);
      if (this.chunks.size === 0) this.unregisterReclaimer();
    }
  }

  /**
   * After a failure nothing else pending is committed: every slice not already being committed is dropped
   * (buffers released, uploaded blocks removed in the background) and the error is kept for flush().
   */
  private fail(err: unknown): void {
    this.error ??= err;
    for (const c of [...this.chunks.values()]) {
      const keep = c.slices.filter((s) => s === c.committing);
      for (const s of c.slices) {
        if (s === c.committing) continue;
        s.discarded = true;
        for (let k = 0; k < s.bufs.length; k++) if (s.uploads[k] === undefined) this.dropBlock(s, k);
        this.removeOrphan(s);
        s.settle(err);
      }
      c.slices = keep;
      if (keep.length === 0) this.chunks.delete(c.indx);
    }
    if (this.chunks.size === 0) this.unregisterReclaimer();
  }

  /** Deletes whatever blocks of an uncommitted slice reached the store, once its uploads settle (background). */
  private removeOrphan(s: SliceWriter): void {
    void Promise.allSettled(s.uploads).then(async () => {
      if (s.id > 0 && s.length > 0) await this.store.deleteSlice(s.id, s.length).catch(() => undefined);
    });
  }

  private registerReclaimer(): void {
    if (this.reclaimerRegistered) return;
    this.reclaimerRegistered = true;
    this.pool.addReclaimer(this.reclaim);
  }

  private unregisterReclaimer(): void {
    if (!this.reclaimerRegistered) return;
    this.reclaimerRegistered = false;
    this.pool.removeReclaimer(this.reclaim);
  }
}

/** Errors with which the metadata refuses a commit outright: its transaction changed nothing. */
const REFUSALS: ReadonlySet<ErrnoCode> = new Set<ErrnoCode>(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EPERM', 'EACCES', 'ENOENT']);
/**
 * Refusals the application is told as such (a full volume is ENOSPC at close, as on a local disk); the
 * others (the file vanished under the writer) are an I/O error of the write.
 */
const TOLD_AS_IS: ReadonlySet<ErrnoCode> = new Set<ErrnoCode>(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EPERM', 'EACCES']);

function refused(e: unknown): boolean {
  return e instanceof FsError && REFUSALS.has(e.code);
}

function writeError(e: unknown): FsError {
  if (e instanceof FsError && TOLD_AS_IS.has(e.code)) return e;
  const fe = toFsError(e);
  return fe.code === 'EIO' ? fe : new FsError('EIO', { message: `write failed: ${fe.message}`, cause: e });
}
