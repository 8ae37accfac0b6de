// CachedObjectStore: an ObjectStore decorator that keeps whole blocks in memory and on local disk and asks
// the cache group before the object store. Blocks are immutable (a key names one content forever), so a
// cached copy never needs invalidation. A ranged get of a block is served from the whole block, fetched
// once: a 4 KiB read pulls the block in and the next reads of that block are local (prefetch). Keys that
// are not blocks (anything outside `<volume>/chunks/`) go straight through. In write-back mode a block put is
// staged on local disk and uploaded in the background (see staging.ts); reads look at staged blocks right
// after memory.
import type { BlockCache, BlockCacheStats } from '../chunk/block-cache.js';
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part, PutOptions } from '../object/interface.js';
import { slice, type DiskCache } from './disk.js';
import type { CacheGroup } from './group.js';
import type { MemoryCache } from './memory.js';
import { SingleFlight } from '../chunk/single-flight.js';
import type { StagingArea } from './staging.js';
import { FsError } from '../errors.js';
import { PageSums, pagesOf, pagesSound } from './page-sums.js';

export type CacheStats = BlockCacheStats;

export interface CachedStoreOptions {
  /** Key prefix of the volume's blocks (`<volume>/chunks/`). */
  blockPrefix: string;
  memory?: MemoryCache;
  disk?: DiskCache;
  group?: CacheGroup;
  /** Put uploaded blocks into the caches too, so fresh writes read back locally. */
  writeback?: boolean;
  /** Write-back: block puts are staged here and uploaded in the background. */
  staging?: StagingArea;
  /** Staged bytes pending upload beyond which puts go to the object store directly (default: no limit). */
  stagingLimit?: number;
  /** Where the write-back summary goes on close (default: nowhere). */
  log?: (line: string) => void;
  /**
   * The volume's block checksum over a stored block: why it fails, or undefined when it is sound. With it a
   * group member serves checked ranges (checkedRange) to readers of a checksummed volume.
   */
  blockCheck?: (stored: Buffer) => string | undefined;
}

export class CachedObjectStore implements ObjectStore, BlockCache {
  readonly memory?: MemoryCache;
  readonly disk?: DiskCache;
  readonly staging?: StagingArea;
  group?: CacheGroup;
  readonly stats: CacheStats = { memoryHits: 0, stagingHits: 0, diskHits: 0, groupHits: 0, storeGets: 0, storeBytes: 0, memoryHitBytes: 0, stagingHitBytes: 0, diskHitBytes: 0, groupHitBytes: 0 };
  private readonly flights = new SingleFlight<Buffer>();
  private readonly diskReads = new SingleFlight<Buffer | null>();
  /** Page sums of blocks checked whole against the block checksum (checkedRange). */
  private readonly pageSums = new PageSums();
  /** Cached copies a checked range found rotten (dropped and read again from the object store). */
  readonly rangeStats = { checked: 0, corrupt: 0 };
  createMultipartUpload?: (key: string) => Promise<MultipartUpload>;
  uploadPart?: (key: string, uploadId: string, num: number, data: Buffer) => Promise<Part>;
  completeUpload?: (key: string, uploadId: string, parts: Part[]) => Promise<void>;
  abortUpload?: (key: string, uploadId: string) => Promise<void>;

  constructor(
    readonly inner: ObjectStore,
    readonly opts: CachedStoreOptions,
  ) {
    this.memory = opts.memory;
    this.disk = opts.disk;
    this.staging = opts.staging;
    this.group = opts.group;
    if (inner.createMultipartUpload) this.createMultipartUpload = inner.createMultipartUpload.bind(inner);
    if (inner.uploadPart) this.uploadPart = inner.uploadPart.bind(inner);
    if (inner.completeUpload) this.completeUpload = inner.completeUpload.bind(inner);
    if (inner.abortUpload) this.abortUpload = inner.abortUpload.bind(inner);
  }

  /** Block reads some cache tier served, and those the object store had to (a member reports them). */
  hitCounts(): { hits: number; misses: number } {
    const s = this.stats;
    return { hits: s.memoryHits + s.stagingHits + s.diskHits + s.groupHits, misses: s.storeGets };
  }

  get url(): string {
    return this.inner.url;
  }

  /** One line of cache and write-back counters (logs, SIGUSR1 of a mount). */
  summary(): string {
    const c = this.stats;
    let line = `cache: memory hits ${c.memoryHits}, disk hits ${c.diskHits}, group hits ${c.groupHits}, store gets ${c.storeGets} (${mib(c.storeBytes)})`;
    const w = this.staging?.stats;
    if (w) {
      line += `; write-back: ${w.pending} blocks (${mib(w.pendingBytes)}) pending, ${w.uploaded} (${mib(w.uploadedBytes)}) uploaded, ${w.cancelled} deleted before upload, ${w.recovered} recovered, ${w.corrupt} corrupt, ${w.retries} retries, ${c.stagingHits} reads from staging; ${w.staged} staged in ${(w.stageMs / Math.max(1, w.staged)).toFixed(2)} ms each`;
    }
    return line;
  }

  /** With somewhere to keep blocks, a ranged get fetches the whole block (see get). */
  get wholeObjectGets(): boolean {
    return Boolean(this.memory || this.disk || this.staging);
  }

  /**
   * A checked range can be asked of the group: this client keeps no blocks itself (with a cache of its
   * own it fetches whole blocks, checks them once and keeps them).
   */
  get verifiedRanges(): boolean {
    return Boolean(this.group && this.group.members().length > 0 && !this.wholeObjectGets);
  }

  /** A range of a block from its group owner, checked by the owner and on the way (see checkedRange). */
  async verifiedRange(key: string, off: number, len: number): Promise<Buffer | undefined> {
    if (!this.isBlock(key) || !this.verifiedRanges) return undefined;
    const part = await this.group!.fetch(key, off, len, true);
    if (part) {
      this.stats.groupHits++;
      this.stats.groupHitBytes += part.length;
    }
    return part;
  }

  isBlock(key: string): boolean {
    return key.startsWith(this.opts.blockPrefix);
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  async get(key: string, off = 0, len = -1): Promise<Buffer> {
    if (!this.isBlock(key)) return this.inner.get(key, off, len);
    // With nowhere to keep a block, fetching all of it for a small range would only waste bandwidth.
    if (!this.memory && !this.disk && !this.staging) {
      // Concurrent reads of one range (a read and its read-ahead) still share one request.
      return this.flights.run(`${key}\0${off}:${len}`, async () => {
        const part = await this.group?.fetch(key, off, len);
        if (part) {
          this.stats.groupHits++;
          this.stats.groupHitBytes += part.length;
          return part;
        }
        return this.fromStore(key, off, len);
      });
    }
    const data = await this.block(key);
    const start = Math.min(off, data.length);
    const end = len < 0 ? data.length : Math.min(data.length, start + len);
    return start === 0 && end === data.length ? data : data.subarray(start, end);
  }

  /** The whole block: memory, disk, then (once for all concurrent callers) the group or the object store. */
  async block(key: string): Promise<Buffer> {
    const local = await this.cached(key);
    if (local) return local;
    return this.flights.run(key, async () => {
      // Filled while this caller was looking (the previous fetch ended in between).
      const again = await this.cached(key);
      if (again) return again;
      let data = await this.group?.fetch(key);
      if (data) {
        this.stats.groupHits++;
        this.stats.groupHitBytes += data.length;
      } else data = await this.fromStore(key);
      this.keep(key, data);
      return data;
    });
  }

  /**
   * The whole block for a cache group peer: from this member's caches or the object store (single-flight
   * with this client's own reads), never from another member, so requests cannot loop.
   */
  async localBlock(key: string): Promise<Buffer> {
    const local = await this.cached(key);
    if (local) return local;
    return this.flights.run(key, async () => {
      const again = await this.cached(key);
      if (again) return again;
      const data = await this.fromStore(key);
      this.keep(key, data);
      return data;
    });
  }

  /**
   * A range of a block for a cache group peer, read no further than needed: a view of a block in memory,
   * the range alone from the disk cache (DiskCache.getRange), else the whole block fetched and kept.
   */
  async localRange(key: string, off: number, len: number): Promise<Buffer> {
    const m = this.memory?.get(key);
    if (m) {
      this.stats.memoryHits++;
      this.stats.memoryHitBytes += m.length;
      return slice(m, off, len);
    }
    if (this.disk && !this.staging?.has(key)) {
      const d = await this.disk.getRange(key, off, len);
      if (d) {
        this.stats.diskHits++;
        this.stats.diskHitBytes += d.length;
        return d;
      }
    }
    return slice(await this.localBlock(key), off, len);
  }

  /**
   * A range of a block for a peer, on a volume with a block checksum: served only from a block this member
   * checked whole against that checksum (when it took the block in, or now), each page read back checked
   * against the sums taken then. A copy that fails is dropped and the block read again from the object store;
   * a block that fails there too is an EIO. Nothing unchecked is ever sent.
   */
  async checkedRange(key: string, off: number, len: number): Promise<Buffer> {
    const check = this.opts.blockCheck;
    if (!check) throw new FsError('EINVAL', { message: 'the volume has no block checksum' });
    this.rangeStats.checked++;
    const known = this.pageSums.get(key);
    if (known && this.has(key)) {
      const { start, end, from, to } = pagesOf(known.size, off, len);
      const m = this.memory?.get(key);
      const bytes = m ? m.subarray(from, to) : this.disk && !this.staging?.has(key) ? await this.disk.getRange(key, from, to - from) : undefined;
      if (bytes && bytes.length === to - from) {
        if (pagesSound(known, from, bytes)) {
          const hit = m ? 'memory' : 'disk';
          this.stats[`${hit}Hits`]++;
          this.stats[`${hit}HitBytes`] += end - start;
          return bytes.subarray(start - from, end - from);
        }
        this.rangeStats.corrupt++;
        await this.drop(key);
      }
    }
    let data = await this.localBlock(key);
    if (check(data) !== undefined) {
      // The cached copy is bad (or the store sent a bad one): once more from the object store.
      this.rangeStats.corrupt++;
      await this.drop(key);
      data = await this.localBlock(key);
      const fault = check(data);
      if (fault) {
        await this.drop(key);
        throw new FsError('EIO', { message: `block ${key} is corrupted: ${fault}`, path: key, syscall: 'get' });
      }
    }
    this.pageSums.add(key, data);
    return slice(data, off, len);
  }

  // ---- the chunk store's BlockCache contract: group-aware when this cache belongs to a group ----

  check(key: string): Promise<boolean> {
    return this.group ? this.group.cached(key) : Promise.resolve(this.has(key));
  }

  async fill(key: string): Promise<void> {
    if (this.group) await this.group.warm(key);
    else if (!this.has(key)) await this.block(key);
  }

  async evict(key: string): Promise<void> {
    if (this.group) await this.group.evict(key);
    else await this.drop(key);
  }

  /** True when this client holds the block (memory, staging or disk). */
  has(key: string): boolean {
    return (this.memory?.has(key) ?? false) || (this.staging?.has(key) ?? false) || (this.disk?.has(key) ?? false);
  }

  /** Drops a block from this client's caches (memory and disk; not the group's). */
  async drop(key: string): Promise<void> {
    this.pageSums.delete(key);
    this.memory?.delete(key);
    await this.disk?.delete(key);
  }

  private async cached(key: string): Promise<Buffer | undefined> {
    const m = this.memory?.get(key);
    if (m) {
      this.stats.memoryHits++;
      this.stats.memoryHitBytes += m.length;
      return m;
    }
    // A staged block exists nowhere else yet (a corrupt one throws EIO: there is nothing to refetch).
    const staged = await this.staging?.get(key);
    if (staged) {
      this.stats.stagingHits++;
      this.stats.stagingHitBytes += staged.length;
      this.memory?.put(key, staged);
      return staged;
    }
    if (!this.disk) return undefined;
    // Concurrent readers of one cached block (a burst of peers at a group member) share one disk read and
    // one checksum check: each doing its own would stall the event loop when many arrive at once.
    const d = await this.diskReads.run(key, async () => (await this.disk!.get(key)) ?? null);
    if (d) {
      this.stats.diskHits++;
      this.stats.diskHitBytes += d.length;
      this.sumsOnFill(key, d);
      this.memory?.put(key, d);
      return d;
    }
    return undefined;
  }

  /**
   * A member checks a block it takes in whole (from the store, or its disk cache after a restart) against
   * the block checksum while it holds all of it, so peers' ranges of it need no whole read later.
   */
  private sumsOnFill(key: string, data: Buffer): void {
    if (!this.opts.blockCheck || !this.group?.isMember || this.pageSums.has(key)) return;
    if (this.opts.blockCheck(data) === undefined) this.pageSums.add(key, data);
  }

  private async fromStore(key: string, off = 0, len = -1): Promise<Buffer> {
    this.stats.storeGets++;
    const data = await this.inner.get(key, off, len);
    this.stats.storeBytes += data.length;
    return data;
  }

  /** Into memory now, onto disk in the background (served from memory until the file is in place). */
  private keep(key: string, data: Buffer): void {
    this.sumsOnFill(key, data);
    this.memory?.put(key, data);
    this.disk?.put(key, data).catch(() => undefined);
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    const st = this.staging;
    if (st && this.isBlock(key) && st.stats.pendingBytes < (this.opts.stagingLimit ?? Infinity)) {
      // Into memory first: a delete that comes while the file is being written then drops both.
      this.memory?.put(key, data);
      try {
        await st.stage(key, data);
        return;
      } catch {
        // Staging failed (disk full...): the block goes to the object store now, as without write-back.
      }
    }
    await this.inner.put(key, data, opts);
    if (this.opts.writeback && this.isBlock(key)) this.keep(key, data);
  }

  /** The object store's deferred puts made durable (staged blocks: see docs/cache.md, fsync means "staged"). */
  sync(): Promise<void> {
    return this.inner.sync?.() ?? Promise.resolve();
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  async delete(key: string): Promise<void> {
    // A block deleted while staged is not uploaded (or, if its upload was under way, deleted after it).
    // The object store is still asked: an earlier process may have uploaded it before dying.
    if (this.staging && this.isBlock(key)) await this.staging.cancel(key);
    await this.inner.delete(key);
    if (this.isBlock(key)) await this.drop(key);
  }

  list(prefix: string, marker?: string, limit?: number): Promise<ListResult> {
    return this.inner.list(prefix, marker, limit);
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(prefix);
  }

  /** Waits for cache files being written (tests, warm-up). */
  async idle(): Promise<void> {
    await this.disk?.idle();
  }

  /**
   * The next process of this mount takes the staging directory over (docs/upgrade.md): uploads in flight
   * finish, the rest stays staged for it.
   */
  async handOverStaging(): Promise<void> {
    if (!this.staging) return;
    await this.staging.release();
    this.opts.log?.(`ferry: ${this.summary()}`);
  }

  async close(): Promise<void> {
    // Every staged block reaches the object store before the store closes.
    if (this.staging && !this.staging.isClosed) {
      await this.staging.close();
      this.opts.log?.(`ferry: ${this.summary()}`);
    }
    await this.group?.close().catch(() => undefined);
    await this.disk?.close().catch(() => undefined);
    await this.inner.close();
  }
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}
