// Write-back staging (JuiceFS's --writeback): a block the client writes is put in a staging directory of the
// disk cache and the write returns; a background uploader puts staged blocks into the object store (bounded
// concurrency, retrying with backoff) and then hands each file to the disk cache. A staged file is the only
// copy of its block until it is uploaded, so:
//   - it is written like a cache file (header with CRC32C, temp file + rename) and checked on every read and
//     before its upload; a bad one is never served or uploaded (EIO naming the key), it is kept aside as
//     `<name>.corrupt` and reported, since there is nothing to re-fetch it from;
//   - files are not fsynced by default (as JuiceFS): the process dying loses nothing (the page cache has
//     them, and the next start uploads them), a host crash before the upload can lose them;
//   - a new process over the same directory uploads what an earlier one left (kill -9), and close() waits
//     until everything is uploaded;
//   - deleting a block that is still staged cancels its upload, so it never reaches the object store.
// One process at a time stages in a directory (a lock file with its pid): two uploaders of the same files
// would race a delete.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsError } from '../errors.js';
import type { ObjectStore } from '../object/interface.js';
import { HEADER, keyOfFile, verify, writeCacheFile, writeCacheFileSync } from './disk.js';

export interface StagingOptions {
  /** The staging directory (`<cacheDir>/<volume uuid>/staging`). */
  dir: string;
  /** Where staged blocks are uploaded to. */
  store: ObjectStore;
  /** Uploads in flight at once (default 8). */
  concurrency?: number;
  /** fsync each staged file before the write returns (default false; see above). */
  fsync?: boolean;
  /** The block's bytes if they are still in memory: uploaded from there, the file is not read back. */
  peek?: (key: string) => Buffer | undefined;
  /** Takes over an uploaded block's file (moves it into the disk cache); without it the file is removed. */
  adopt?: (key: string, file: string, size: number) => Promise<void>;
  log?: (line: string) => void;
  /**
   * Open without taking the directory: a process that succeeds another one on the same mount (a FUSE handover
   * or a standby, docs/upgrade.md) stages at once but uploads only after claim(), once the other let go.
   */
  deferLock?: boolean;
}

export interface StagingStats {
  /** Blocks (and their bytes) staged and not uploaded yet. */
  pending: number;
  pendingBytes: number;
  uploaded: number;
  uploadedBytes: number;
  /** Blocks deleted while staged: never uploaded. */
  cancelled: number;
  /** Staged files that failed their checksum (lost blocks). */
  corrupt: number;
  /** Failed upload attempts (each is retried). */
  retries: number;
  /** Blocks found staged by an earlier process when this one started. */
  recovered: number;
  /** Blocks staged by this process and the milliseconds their writes took. */
  staged: number;
  stageMs: number;
}

interface Entry {
  key: string;
  /** Size of the staged file (header included). */
  size: number;
  uploading?: Promise<void>;
  cancelled?: boolean;
}

const LOCK = '.lock';
/**
 * Blocks up to this size are staged with synchronous calls: a staged write is on the path of every close(),
 * and its four thread-pool round trips (open, write, close, rename) took ~1 ms on a busy 2-core host where
 * the calls themselves take ~0.2 ms. Larger blocks go through the pool, not to stall the event loop.
 */
const SYNC_STAGE_MAX = 64 << 10;
const CORRUPT = '.corrupt';
const MAX_BACKOFF_MS = 30_000;
const PROGRESS_MS = 10_000;
/** While blocks wait for upload, a line this often to the log given (mounts, gateways). */
const BACKLOG_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref?.());

export class StagingArea {
  private readonly entries = new Map<string, Entry>();
  /** Keys waiting for an upload slot, oldest first. */
  private readonly queue: string[] = [];
  private active = 0;
  private drained: Array<() => void> = [];
  private closed = false;
  private backlogTimer?: NodeJS.Timeout;
  /** The directory is this process's (its lock taken, what was left there queued). */
  private claimed = false;
  private claiming?: Promise<void>;
  /** Handing the directory over: no upload starts, failed ones are not retried. */
  private releasing = false;
  /** Uploads sleeping before a retry: woken when the directory is handed over. */
  private readonly wakers = new Set<() => void>();
  /** Keys whose staged file is being written (asynchronously), and those deleted meanwhile. */
  private readonly writing = new Set<string>();
  private readonly deletedWhileWriting = new Set<string>();
  readonly stats: StagingStats = { pending: 0, pendingBytes: 0, uploaded: 0, uploadedBytes: 0, cancelled: 0, corrupt: 0, retries: 0, recovered: 0, staged: 0, stageMs: 0 };

  private constructor(readonly opts: StagingOptions) {}

  /** Opens the directory (taking its lock) and starts uploading whatever an earlier process left there. */
  static async open(opts: StagingOptions): Promise<StagingArea> {
    const s = new StagingArea(opts);
    await mkdir(opts.dir, { recursive: true });
    if (!opts.deferLock) await s.claimNow();
    if (opts.log) {
      s.backlogTimer = setInterval(() => {
        const st = s.stats;
        if (st.pending) opts.log!(`ferry: write-back: ${st.pending} blocks (${mib(st.pendingBytes)}) waiting for upload; ${st.uploaded} uploaded so far`);
      }, BACKLOG_MS);
      s.backlogTimer.unref();
    }
    return s;
  }

  private async claimNow(): Promise<void> {
    await this.lock();
    this.claimed = true;
    await this.recover();
    this.pump();
  }

  /**
   * deferLock: takes the directory once the process holding it let go (released it or died), queues what it
   * left staged and starts uploading. Waits as long as that takes; resolves at once when claimed already.
   */
  claim(): Promise<void> {
    if (this.claimed) return Promise.resolve();
    return (this.claiming ??= (async () => {
      const started = Date.now();
      let said = 0;
      for (;;) {
        const holder = this.holder();
        if (holder === undefined || holder === process.pid || !alive(holder)) break;
        if (Date.now() - started > (said + 1) * PROGRESS_MS) {
          said++;
          this.log(`ferry: write-back: waiting for process ${holder} to hand over ${this.opts.dir} (${said * 10} s)`);
        }
        await sleep(10);
      }
      await this.claimNow();
    })());
  }

  /**
   * Hands the directory over to the next process of this mount: no further upload starts, uploads in flight
   * finish (a failing one is not retried), and the lock is released. Staged blocks stay staged: the next
   * process (StagingArea.claim) uploads them, each once.
   */
  async release(): Promise<void> {
    if (this.closed) return;
    this.releasing = true;
    for (const w of this.wakers) w();
    this.queue.length = 0;
    while (this.active > 0) await new Promise<void>((r) => this.drained.push(r));
    this.closed = true;
    clearInterval(this.backlogTimer);
    if (this.claimed && this.holder() === process.pid) await unlink(join(this.opts.dir, LOCK)).catch(() => undefined);
    this.log(`ferry: write-back: handed ${this.opts.dir} over with ${this.stats.pending} blocks staged; ${this.stats.uploaded} uploaded by this process`);
  }

  private holder(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.opts.dir, LOCK), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get dir(): string {
    return this.opts.dir;
  }

  private get log(): (line: string) => void {
    return this.opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  pathOf(key: string): string {
    return join(this.opts.dir, encodeURIComponent(key));
  }

  /** True while `key` is staged and not yet uploaded. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  private async lock(): Promise<void> {
    const file = join(this.opts.dir, LOCK);
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8').trim());
    } catch {
      // no lock yet
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new FsError('EBUSY', { message: `write-back staging ${this.opts.dir} is in use by process ${holder}; give each write-back client its own --cache-dir` });
    }
    await writeFile(file, `${process.pid}\n`);
  }

  private async recover(): Promise<void> {
    for (const name of await readdir(this.opts.dir)) {
      if (name === LOCK || name.endsWith(CORRUPT)) continue;
      const path = join(this.opts.dir, name);
      // A temp file is a staging write the process did not finish (its write() never returned): removed.
      const key = await keyOfFile(path, name);
      if (key === undefined || this.entries.has(key)) continue;
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      this.add(key, st.size);
      this.stats.recovered++;
    }
    if (this.stats.recovered) this.log(`ferry: write-back: ${this.stats.recovered} staged blocks (${mib(this.stats.pendingBytes)}) from an earlier run; uploading them`);
  }

  private add(key: string, size: number): void {
    this.entries.set(key, { key, size });
    this.queue.push(key);
    this.stats.pending++;
    this.stats.pendingBytes += size;
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.key) !== e) return;
    this.entries.delete(e.key);
    this.stats.pending--;
    this.stats.pendingBytes -= e.size;
  }

  /**
   * Stages a block; resolves once its file is in place (the upload follows in the background). Throws when
   * the file cannot be written (disk full...): the caller then uploads the block itself.
   */
  async stage(key: string, data: Buffer): Promise<void> {
    if (this.closed) throw new FsError('EIO', { message: `write-back staging ${this.opts.dir} is closed` });
    if (this.entries.has(key)) return; // a key names one content: staged already
    const t0 = performance.now();
    const path = this.pathOf(key);
    if (data.length <= SYNC_STAGE_MAX && !this.opts.fsync) writeCacheFileSync(path, data);
    else {
      this.writing.add(key);
      try {
        await writeCacheFile(path, data, undefined, { fsync: this.opts.fsync });
      } finally {
        this.writing.delete(key);
      }
      if (this.deletedWhileWriting.delete(key)) {
        this.stats.staged++;
        this.stats.cancelled++;
        await unlink(path).catch(() => undefined);
        return;
      }
    }
    this.stats.staged++;
    this.stats.stageMs += performance.now() - t0;
    this.add(key, HEADER + data.length);
    this.pump();
  }

  /** The staged block, or undefined when it is not staged. A corrupt staged file is EIO, never served. */
  async get(key: string): Promise<Buffer | undefined> {
    // Not claimed yet: the process handing over may have staged it (its file is there until uploaded).
    if (!this.entries.has(key) && this.claimed) return undefined;
    let file: Buffer;
    try {
      file = await readFile(this.pathOf(key));
    } catch {
      return undefined; // uploaded and moved into the disk cache meanwhile
    }
    const data = verify(file);
    if (!data) {
      if (!this.entries.has(key)) return undefined;
      throw await this.corrupt(key);
    }
    return data;
  }

  /** Reports a bad staged file and keeps it aside: the block is lost (it was never uploaded). */
  private async corrupt(key: string): Promise<FsError> {
    const e = this.entries.get(key);
    const path = this.pathOf(key);
    if (e) {
      this.remove(e);
      this.stats.corrupt++;
      await rename(path, path + CORRUPT).catch(() => undefined);
      this.log(`ferry: write-back: staged block ${key} is corrupt (kept as ${path}${CORRUPT}); it was not uploaded and is lost`);
      this.settle();
    }
    return new FsError('EIO', { message: `staged block ${key} is corrupt and was never uploaded (see ${path}${CORRUPT})` });
  }

  /**
   * Forgets a staged block that is being deleted: a queued upload is dropped, an upload in flight is waited
   * for (the caller then deletes the object). True when the block never reached the object store.
   */
  async cancel(key: string): Promise<boolean> {
    // The process handing over may be uploading it: known only once it let go.
    if (!this.claimed && !this.closed) await this.claim();
    if (this.writing.has(key)) {
      this.deletedWhileWriting.add(key);
      return true;
    }
    const e = this.entries.get(key);
    if (!e) return false;
    e.cancelled = true;
    if (e.uploading) {
      await e.uploading;
      return false;
    }
    this.remove(e);
    this.stats.cancelled++;
    await unlink(this.pathOf(key)).catch(() => undefined);
    this.settle();
    return true;
  }

  private pump(): void {
    if (!this.claimed || this.releasing) return;
    const limit = Math.max(1, this.opts.concurrency ?? 8);
    while (this.active < limit && this.queue.length) {
      const key = this.queue.shift()!;
      const e = this.entries.get(key);
      if (!e || e.cancelled || e.uploading) continue;
      this.active++;
      e.uploading = this.upload(e).finally(() => {
        this.active--;
        this.pump();
        this.settle();
      });
    }
  }

  private async upload(e: Entry): Promise<void> {
    const path = this.pathOf(e.key);
    for (let attempt = 0; ; attempt++) {
      let data = this.opts.peek?.(e.key);
      if (data?.length !== e.size - HEADER) {
        let file: Buffer;
        try {
          file = await readFile(path);
        } catch (err) {
          this.remove(e);
          this.log(`ferry: write-back: staged block ${e.key} vanished before its upload (${(err as Error).message})`);
          return;
        }
        data = verify(file);
        if (!data) {
          await this.corrupt(e.key);
          return;
        }
      }
      try {
        await this.opts.store.put(e.key, data);
        break;
      } catch (err) {
        // Handing over: the next process uploads it.
        if (this.releasing) return;
        this.stats.retries++;
        const wait = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(attempt, 9));
        if (attempt === 0 || attempt % 10 === 9) this.log(`ferry: write-back: uploading ${e.key} failed (${(err as Error).message}); retrying in ${wait} ms`);
        await new Promise<void>((r) => {
          const done = () => {
            clearTimeout(t);
            this.wakers.delete(done);
            r();
          };
          const t = setTimeout(done, wait);
          t.unref?.();
          this.wakers.add(done);
        });
        if (this.releasing) return;
        if (e.cancelled) {
          // Deleted while failing: no need to upload it any more.
          this.remove(e);
          this.stats.cancelled++;
          await unlink(path).catch(() => undefined);
          return;
        }
      }
    }
    this.stats.uploaded++;
    this.stats.uploadedBytes += e.size - HEADER;
    if (e.cancelled || !this.opts.adopt) await unlink(path).catch(() => undefined);
    else await this.opts.adopt(e.key, path, e.size).catch(() => unlink(path).catch(() => undefined));
    this.remove(e);
  }

  private settle(): void {
    if ((this.entries.size > 0 && !this.releasing) || this.active > 0) return;
    for (const r of this.drained.splice(0)) r();
  }

  /** Resolves once every staged block is uploaded (or cancelled/lost), logging progress while it takes. */
  async drain(): Promise<void> {
    if (this.entries.size === 0 && this.active === 0) return;
    const done = new Promise<void>((r) => this.drained.push(r));
    const started = Date.now();
    const t = setInterval(() => {
      this.log(`ferry: write-back: waiting for ${this.stats.pending} staged blocks (${mib(this.stats.pendingBytes)}) to be uploaded (${Math.round((Date.now() - started) / 1000)} s)`);
    }, PROGRESS_MS);
    try {
      await done;
    } finally {
      clearInterval(t);
    }
  }

  /** Waits for every upload and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.claimed) {
      // Never claimed and nothing staged here (a standby that never served): the directory is another's.
      if (this.entries.size === 0 && this.writing.size === 0) {
        this.closed = true;
        clearInterval(this.backlogTimer);
        return;
      }
      await this.claim();
    }
    await this.drain();
    this.closed = true;
    clearInterval(this.backlogTimer);
    await unlink(join(this.opts.dir, LOCK)).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}
