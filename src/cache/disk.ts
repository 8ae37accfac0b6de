// The local disk cache: one file per block under `<dir>/<2 hex>/<key, URI-encoded>`, LRU-evicted to stay
// under a size limit and above a share of free space. Each file is a 16-byte header (magic, CRC32C of the
// data, data length) and the block; it is written to a temp file and renamed into place, so a reader sees a
// whole file or none. A file whose header, length or checksum does not match (disk trouble, a partial copy,
// someone editing it) is deleted and reported as a miss: the caller refetches, and bad bytes are never
// served. The index is rebuilt from the directory when the cache opens, so a restart reuses what is there.
import { crc32, crc32c } from '../object/transforms/native.js';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writevSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, statfs, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskCacheOptions {
  dir: string;
  /** Bytes the cache may use (files including headers). */
  capacity: number;
  /** Keep at least this share of the file system free (0..1): evict, and stop caching, below it. */
  freeSpaceRatio?: number;
}

export const HEADER = 16;
const MAGIC = 0x46524331; // 'FRC1'
const TMP = '.tmp.';
/** How often free space is looked at (statfs) while blocks are being written. */
const SPACE_CHECK_MS = 1000;

export interface DiskCacheStats {
  hits: number;
  misses: number;
  /** Files dropped because their checksum, length or header was wrong. */
  corrupt: number;
  evicted: number;
  written: number;
  /** Blocks not written because of the size limit or low free space. */
  skipped: number;
}

export class DiskCache {
  /** key -> file size; insertion order is recency order (first = least recently used). */
  private readonly index = new Map<string, number>();
  /** Blocks being written: served from memory until the rename. */
  private readonly writing = new Map<string, Buffer>();
  private readonly pending = new Set<Promise<void>>();
  /** Blocks this process wrote or checked whole: a range of one is then read alone (getRange). */
  private readonly checked = new Set<string>();
  private bytes = 0;
  private lastSpaceCheck = 0;
  private spaceDeficit = 0;
  readonly stats: DiskCacheStats = { hits: 0, misses: 0, corrupt: 0, evicted: 0, written: 0, skipped: 0 };

  private constructor(readonly opts: DiskCacheOptions) {}

  /** Opens (creating) the cache directory and rebuilds the index from the files in it. */
  static async open(opts: DiskCacheOptions): Promise<DiskCache> {
    const c = new DiskCache(opts);
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await c.scan();
    return c;
  }

  get dir(): string {
    return this.opts.dir;
  }

  get used(): number {
    return this.bytes;
  }

  get count(): number {
    return this.index.size;
  }

  /** Keys, least recently used first. */
  keys(): string[] {
    return [...this.index.keys()];
  }

  has(key: string): boolean {
    return this.index.has(key) || this.writing.has(key);
  }

  /** Where the block of `key` is kept. */
  pathOf(key: string): string {
    const shard = (crc32(key) & 0xff).toString(16).padStart(2, '0');
    return join(this.opts.dir, shard, encodeURIComponent(key));
  }

  private async scan(): Promise<void> {
    const found: Array<{ key: string; size: number; mtime: number }> = [];
    for (const shard of await readdir(this.opts.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const sub = join(this.opts.dir, shard);
      let names: string[];
      try {
        names = await readdir(sub);
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(sub, name);
        const key = await keyOfFile(path, name);
        if (key === undefined) continue;
        try {
          const st = await stat(path);
          if (!st.isFile()) continue;
          if (st.size < HEADER) {
            await unlink(path).catch(() => undefined);
            continue;
          }
          found.push({ key, size: st.size, mtime: st.mtimeMs });
        } catch {
          // gone meanwhile
        }
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) {
      this.index.set(f.key, f.size);
      this.bytes += f.size;
    }
    // The limit may have been lowered since the last run.
    await this.evictFor(0);
  }

  /** The block, or undefined when it is not cached (or its file was bad and has been dropped). */
  async get(key: string): Promise<Buffer | undefined> {
    const w = this.writing.get(key);
    if (w) {
      this.stats.hits++;
      return w;
    }
    const size = this.index.get(key);
    if (size === undefined) {
      this.stats.misses++;
      return undefined;
    }
    const path = this.pathOf(key);
    let file: Buffer;
    try {
      file = await readFile(path);
    } catch {
      this.forget(key);
      this.stats.misses++;
      return undefined;
    }
    const data = verify(file);
    if (!data) {
      this.stats.corrupt++;
      this.stats.misses++;
      this.forget(key);
      await unlink(path).catch(() => undefined);
      return undefined;
    }
    this.index.delete(key);
    this.index.set(key, size);
    this.checked.add(key);
    this.stats.hits++;
    // The file's mtime is its recency across restarts.
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
    return data;
  }

  /**
   * Caches a block (a no-op when it is cached already). Resolves when the file is in place or was skipped;
   * callers on the read path need not wait: the block is served from memory until then.
   */
  put(key: string, data: Buffer): Promise<void> {
    if (this.index.has(key) || this.writing.has(key)) return Promise.resolve();
    this.writing.set(key, data);
    // The checksum is taken now: if the caller ever changed the buffer afterwards, the file would fail it.
    const p = this.write(key, data, crc32c(data) >>> 0).finally(() => {
      this.writing.delete(key);
      this.pending.delete(p);
    });
    this.pending.add(p);
    return p;
  }

  private async write(key: string, data: Buffer, crc: number): Promise<void> {
    const size = HEADER + data.length;
    if (size > this.opts.capacity) {
      this.stats.skipped++;
      return;
    }
    // Reserve the space first, so concurrent writes do not overshoot the limit together.
    this.bytes += size;
    if (!(await this.evictFor(size))) {
      this.bytes -= size;
      this.stats.skipped++;
      return;
    }
    try {
      await writeCacheFile(this.pathOf(key), data, crc);
    } catch {
      this.bytes -= size;
      this.stats.skipped++;
      return;
    }
    this.index.set(key, size);
    this.checked.add(key);
    this.stats.written++;
  }

  /**
   * Bytes [off, off+len) of a block (len < 0: to its end), or undefined when it is not cached. A block this
   * process wrote or already checked whole is read for the range only (a random 4 KiB read of a 4 MiB block
   * reads 4 KiB, not the block); the first read of a file found at start reads and checks all of it.
   */
  async getRange(key: string, off: number, len: number): Promise<Buffer | undefined> {
    const w = this.writing.get(key);
    if (w || !this.checked.has(key)) {
      const whole = w ?? (await this.get(key));
      if (w) this.stats.hits++;
      return whole && slice(whole, off, len);
    }
    const size = this.index.get(key);
    if (size === undefined) {
      this.stats.misses++;
      return undefined;
    }
    const dataLen = size - HEADER;
    const start = Math.min(off, dataLen);
    const end = len < 0 ? dataLen : Math.min(dataLen, start + len);
    const buf = Buffer.allocUnsafe(end - start);
    const path = this.pathOf(key);
    let n = 0;
    try {
      const fh = await open(path, 'r');
      try {
        while (n < buf.length) {
          const { bytesRead } = await fh.read(buf, n, buf.length - n, HEADER + start + n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
      } finally {
        await fh.close();
      }
    } catch {
      n = -1;
    }
    if (n !== buf.length) {
      // Gone or cut short since it was checked: a miss (and a short file is dropped).
      this.stats.misses++;
      this.forget(key);
      if (n >= 0) {
        this.stats.corrupt++;
        await unlink(path).catch(() => undefined);
      }
      return undefined;
    }
    this.index.delete(key);
    this.index.set(key, size);
    this.stats.hits++;
    return buf;
  }

  /**
   * Takes over a finished cache file written elsewhere on the same file system (a staged block after its
   * upload) by renaming it into place; the file is removed when the cache has no room for it.
   */
  async adopt(key: string, file: string, size: number): Promise<void> {
    if (this.index.has(key) || this.writing.has(key) || size > this.opts.capacity) {
      await unlink(file).catch(() => undefined);
      return;
    }
    this.bytes += size;
    const path = this.pathOf(key);
    try {
      if (!(await this.evictFor(size))) throw new Error('no room');
      await mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
      await rename(file, path);
    } catch {
      this.bytes -= size;
      this.stats.skipped++;
      await unlink(file).catch(() => undefined);
      return;
    }
    this.index.set(key, size);
    this.stats.written++;
  }

  /**
   * Evicts down to the size limit (space for writes in progress is already counted in `bytes`) and frees
   * what the free-space share asks for plus `incoming`; false when the disk is too full to cache now.
   */
  private async evictFor(incoming: number): Promise<boolean> {
    const victims: string[] = [];
    for (const [k, s] of this.index) {
      if (this.bytes <= this.opts.capacity) break;
      this.index.delete(k);
      this.bytes -= s;
      victims.push(k);
    }
    const ratio = this.opts.freeSpaceRatio ?? 0;
    if (ratio > 0 && Date.now() - this.lastSpaceCheck >= SPACE_CHECK_MS) {
      this.lastSpaceCheck = Date.now();
      try {
        const st = await statfs(this.opts.dir);
        const total = st.blocks * st.bsize;
        const free = st.bavail * st.bsize;
        this.spaceDeficit = Math.max(0, ratio * total - free);
      } catch {
        this.spaceDeficit = 0;
      }
    }
    if (this.spaceDeficit > 0) {
      let freed = 0;
      for (const [k, s] of this.index) {
        if (freed >= this.spaceDeficit + incoming) break;
        this.index.delete(k);
        this.bytes -= s;
        freed += s;
        victims.push(k);
      }
      this.spaceDeficit = Math.max(0, this.spaceDeficit - freed);
    }
    for (const k of victims) {
      this.stats.evicted++;
      await unlink(this.pathOf(k)).catch(() => undefined);
    }
    return this.spaceDeficit === 0;
  }

  private forget(key: string): void {
    this.checked.delete(key);
    const s = this.index.get(key);
    if (s === undefined) return;
    this.index.delete(key);
    this.bytes -= s;
  }

  /** Drops a block from the cache (warm-up --evict, deleted objects). */
  async delete(key: string): Promise<void> {
    if (!this.index.has(key)) return;
    this.forget(key);
    await unlink(this.pathOf(key)).catch(() => undefined);
  }

  /** Waits for the writes in progress. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    await this.idle();
  }
}

/** Bytes [off, off+len) of a block (len < 0: to its end), as a view (no copy). */
export function slice(data: Buffer, off: number, len: number): Buffer {
  const start = Math.min(off, data.length);
  const end = len < 0 ? data.length : Math.min(data.length, start + len);
  return start === 0 && end === data.length ? data : data.subarray(start, end);
}

/** A fresh temp file name in `dir` (removed by the scans at start if left behind). */
function tempPathIn(dir: string): string {
  return join(dir, `${TMP}${randomBytes(6).toString('hex')}`);
}

function headerOf(data: Buffer, crc: number): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(crc, 4);
  header.writeUInt32BE(data.length, 8);
  return header;
}

/** Writes a cache file (header and data) to a temp file beside `path` and renames it into place. */
export async function writeCacheFile(path: string, data: Buffer, crc = crc32c(data) >>> 0, opts: { fsync?: boolean } = {}): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  const tmp = tempPathIn(dir);
  try {
    // The directory nearly always exists: create it only when the open says it is missing (one call less).
    const fh = await open(tmp, 'w').catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await mkdir(dir, { recursive: true });
      return open(tmp, 'w');
    });
    try {
      await fh.writev([headerOf(data, crc), data]);
      if (opts.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** writeCacheFile with synchronous calls, for small files whose thread-pool round trips cost more than the work. */
export function writeCacheFileSync(path: string, data: Buffer, crc = crc32c(data) >>> 0): void {
  const dir = path.slice(0, path.lastIndexOf('/'));
  const tmp = tempPathIn(dir);
  try {
    let fd: number;
    try {
      fd = openSync(tmp, 'w');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(dir, { recursive: true });
      fd = openSync(tmp, 'w');
    }
    try {
      // A short write (disk full) would leave a file that fails its checksum: fail the staging instead.
      if (writevSync(fd, [headerOf(data, crc), data]) !== HEADER + data.length) throw Object.assign(new Error(`short write to ${tmp}`), { code: 'ENOSPC' });
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** True for the name of a temp file an interrupted writeCacheFile left behind. */
/**
 * The block key a cache or staging file is named after, or undefined for a file that is none: a temp file
 * (a write a crash interrupted: removed here) or a name that does not decode.
 */
export async function keyOfFile(path: string, name: string): Promise<string | undefined> {
  if (isTempName(name)) {
    await unlink(path).catch(() => undefined);
    return undefined;
  }
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

export function isTempName(name: string): boolean {
  return name.startsWith(TMP);
}

/** The data of a cache file when its header, length and checksum agree; undefined otherwise. */
export function verify(file: Buffer): Buffer | undefined {
  if (file.length < HEADER || file.readUInt32BE(0) !== MAGIC) return undefined;
  const len = file.readUInt32BE(8);
  if (file.length !== HEADER + len) return undefined;
  const data = file.subarray(HEADER);
  return (crc32c(data) >>> 0) === file.readUInt32BE(4) ? data : undefined;
}
