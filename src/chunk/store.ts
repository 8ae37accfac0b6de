// Slices <-> blocks in the object store: ranged, parallel, bounded reads of only the bytes needed;
// block uploads with bounded concurrency; deletion of every block of a slice.
import { FsError, isFsError } from '../errors.js';
import type { ObjectStore, PutOptions } from '../object/interface.js';
import type { BlockCache } from './block-cache.js';
import { blockKey, blockLength, sliceBlocks } from './keys.js';
import { Limiter, forEachLimited } from './limiter.js';
import { SingleFlight } from './single-flight.js';

export interface ChunkStoreOptions {
  /** Key prefix: the volume name. */
  volume: string;
  /** Bytes per block (the volume's format). */
  blockSize: number;
  /** Block uploads in flight at once (default 8). */
  uploadConcurrency?: number;
  /** Ranged gets in flight at once (default 16). */
  downloadConcurrency?: number;
  /**
   * How long a file read waits for a block the object store does not have (default 20 s) before EIO: a
   * client in write-back mode commits a slice before its blocks are uploaded, so others may see it first.
   * The wait is the file reader's (chunk/reader.ts), after it has reloaded the slice list, and only when
   * `uploadsMayBePending` says such a client may be at work.
   */
  missingBlockWaitMs?: number;
  /** The block cache under `objects`, when the client has one (warm-up, stats). */
  cache?: BlockCache;
}

export const DEFAULT_MISSING_BLOCK_WAIT_MS = 20_000;

export class ChunkStore {
  readonly volume: string;
  readonly blockSize: number;
  private readonly uploads: Limiter;
  private readonly downloads: Limiter;
  /**
   * Gets in flight, by block key (whole blocks) or key and range: every want of a block while it is being
   * fetched (the read itself, read-ahead, another open file, another reader) shares the one request.
   */
  private readonly wholeFlights = new SingleFlight<Buffer>();
  private readonly rangeFlights = new SingleFlight<Buffer>();
  /** Whole-block gets sent to the object store and ranged gets, for stats and tests. */
  readonly getStats = { wholeGets: 0, rangedGets: 0, shared: 0 };
  readonly missingBlockWaitMs: number;
  /** The client's block cache (memory, disk, group), if it has one. */
  readonly cache?: BlockCache;
  /**
   * Whether a missing block may still be on its way (some live client runs write-back); set by the client
   * assembly (client/pending-uploads.ts). Unset: assume it may, and wait.
   */
  uploadsMayBePending?: () => Promise<boolean>;

  constructor(
    readonly objects: ObjectStore,
    opts: ChunkStoreOptions,
  ) {
    if (!Number.isInteger(opts.blockSize) || opts.blockSize <= 0) throw new RangeError(`bad block size ${opts.blockSize}`);
    this.volume = opts.volume;
    this.blockSize = opts.blockSize;
    this.uploads = new Limiter(opts.uploadConcurrency ?? 8);
    this.downloads = new Limiter(opts.downloadConcurrency ?? 16);
    this.missingBlockWaitMs = opts.missingBlockWaitMs ?? DEFAULT_MISSING_BLOCK_WAIT_MS;
    this.cache = opts.cache;
  }

  /** The object key of block `index` of a slice of `size` bytes. */
  keyOf(id: number, size: number, index: number): string {
    return blockKey(this.volume, id, index, blockLength(size, this.blockSize, index));
  }

  /**
   * Bytes [off, off+len) of slice `id` (stored size `size`): one ranged get per block touched, in parallel.
   * A missing or short block is EIO naming its key (never zeros).
   */
  async readSlice(id: number, size: number, off: number, len: number): Promise<Buffer> {
    if (id <= 0) throw new RangeError(`readSlice of hole/invalid slice ${id}`);
    if (off < 0 || len < 0 || off + len > size) {
      throw new FsError('EIO', { message: `read [${off}, ${off + len}) outside slice ${id} of ${size} bytes` });
    }
    if (len === 0) return Buffer.alloc(0);
    const bs = this.blockSize;
    const first = Math.floor(off / bs);
    const last = Math.floor((off + len - 1) / bs);
    if (first === last) return this.readBlock(id, size, first, off - first * bs, len);
    const out = Buffer.allocUnsafe(len);
    const parts: Array<Promise<void>> = [];
    for (let b = first; b <= last; b++) {
      const start = Math.max(off, b * bs);
      const end = Math.min(off + len, (b + 1) * bs);
      parts.push(this.readBlock(id, size, b, start - b * bs, end - start).then((buf) => void buf.copy(out, start - off)));
    }
    await settleAll(parts);
    return out;
  }

  /**
   * Bytes [off, off+len) of one block (the whole block when off=0 and len=its length). A range of a block
   * being fetched whole is cut from that fetch; when the store gets whole objects anyway (block transforms,
   * block caches) a range is cut from one shared whole get; else concurrent wants of one range share a get.
   */
  async readBlock(id: number, size: number, index: number, off = 0, len = blockLength(size, this.blockSize, index) - off): Promise<Buffer> {
    const full = blockLength(size, this.blockSize, index);
    const key = this.keyOf(id, size, index);
    if ((off === 0 && len === full) || this.objects.wholeObjectGets || this.wholeFlights.has(key)) {
      const whole = await this.fetchBlock(id, size, index);
      if (off + len > whole.length) throw new FsError('EIO', { message: `block ${key}: got ${whole.length} bytes, wanted [${off}, ${off + len})` });
      return off === 0 && len === whole.length ? whole : whole.subarray(off, off + len);
    }
    if (this.rangeFlights.has(`${key}\0${off}:${len}`)) this.getStats.shared++;
    return this.rangeFlights.run(`${key}\0${off}:${len}`, () => this.get(key, off, len, false));
  }

  /** The whole block, fetched once for everyone who wants it while it is on its way. */
  fetchBlock(id: number, size: number, index: number): Promise<Buffer> {
    const key = this.keyOf(id, size, index);
    if (this.wholeFlights.has(key)) this.getStats.shared++;
    return this.wholeFlights.run(key, () => this.get(key, 0, blockLength(size, this.blockSize, index), true));
  }

  /** True while block `index` of slice `id` is being fetched whole. */
  fetching(id: number, size: number, index: number): boolean {
    return this.wholeFlights.has(this.keyOf(id, size, index));
  }

  private async get(key: string, off: number, len: number, whole: boolean): Promise<Buffer> {
    const buf = await this.downloads.run(async () => {
      if (whole) this.getStats.wholeGets++;
      else this.getStats.rangedGets++;
      try {
        return await this.objects.get(key, off, whole ? -1 : len);
      } catch (e) {
        throw blockError('read', key, e);
      }
    });
    if (buf.length !== len) {
      throw new FsError('EIO', { message: `block ${key}: got ${buf.length} bytes at ${off}, wanted ${len}` });
    }
    return buf;
  }

  /** Stores block `index` of slice `id`; its key records data.length. Waits for an upload slot. */
  async uploadBlock(id: number, index: number, data: Buffer, opts?: PutOptions): Promise<void> {
    const key = blockKey(this.volume, id, index, data.length);
    await this.uploads.run(async () => {
      try {
        await this.objects.put(key, data, opts);
      } catch (e) {
        throw blockError('write', key, e);
      }
    });
  }

  /** Makes every block put so far durable (the ones put with deferSync: a file's, before its fsync returns). */
  async sync(): Promise<void> {
    try {
      await this.objects.sync?.();
    } catch (e) {
      throw new FsError('EIO', { message: `cannot make blocks durable: ${(e as Error)?.message ?? String(e)}`, cause: e });
    }
  }

  /** Removes every block of slice `id` (missing blocks are fine). */
  async deleteSlice(id: number, size: number, concurrency = 8): Promise<void> {
    if (id <= 0 || size <= 0) return;
    // Never a block deleted before the ones written earlier are durable: a file rewritten and closed then
    // keeps its old or its new data through a power loss, not neither.
    await this.sync();
    const blocks = sliceBlocks(this.volume, id, size, this.blockSize);
    await forEachLimited(blocks, concurrency, async (b) => {
      try {
        await this.objects.delete(b.key);
      } catch (e) {
        throw blockError('delete', b.key, e);
      }
    });
  }
}

/** True for the EIO of a block the object store does not have (see blockError). */
export function isMissingBlock(e: unknown): boolean {
  return isFsError(e, 'EIO') && isFsError(e.cause, 'ENOENT');
}

function blockError(op: string, key: string, e: unknown): FsError {
  const why = isFsError(e, 'ENOENT') ? 'missing' : (e as Error)?.message ?? String(e);
  return new FsError('EIO', { message: `cannot ${op} block ${key}: ${why}`, cause: e });
}

/** Like Promise.all, but waits for every promise before rejecting (no stray work writing into freed buffers). */
export async function settleAll(ps: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(ps);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
