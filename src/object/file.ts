// file:///DIR: each key is a file under DIR. Writes go to a temp file in DIR/.tmp that is fsynced and renamed
// over the key, and the key's directory is fsynced after the rename: a crash leaves the old object or the new
// one, never a half-written one, and a put that returned survives a power loss (a put with deferSync: once
// sync() returned; see put). Temp files of a crashed writer
// are removed by the next client that opens the store (file-temp.ts).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FsError, toFsError } from '../errors.js';
import type { ListResult, MultipartUpload, ObjectInfo, ObjectStore, Part, PutOptions } from './interface.js';
import { SyncQueue } from './file-sync.js';
import { ReadHandleCache } from './file-handles.js';
import { DEFAULT_TEMP_SAFETY_MS, TEMP_NAME, listDeadTemps, removeDeadTemps, tempName, type DeadTemp } from './file-temp.js';
import { registerObjectStore } from './registry.js';
import {
  DEFAULT_LIST_LIMIT,
  MAX_PART_COUNT,
  MIN_PART_SIZE,
  checkLimit,
  checkPartNum,
  checkParts,
  compareKeys,
  etagOf,
  invalid,
  listAll,
  noSuchObject,
  noSuchUpload,
  span,
} from './util.js';

/** Pending multipart uploads live here, outside the key space (keys may not start with it). */
const UPLOADS = '.multipart';
/**
 * Temp files live here, outside the key space: one directory to read for leftovers when a client opens the
 * store, however many keys there are. (Older versions wrote them next to their key; listings skip those.)
 * DIR must be one file system, as renames from here into place cannot cross file systems.
 */
const TEMPS = '.tmp';
/** Upload ids and etags (md5) are both 32 hex digits; checking them keeps paths built from them inside DIR. */
const HEX32 = /^[0-9a-f]{32}$/;
const COPY_BUFFER = 1 << 20;
/**
 * Puts up to this size whose fsyncs are deferred (a small file's block at its close) are written with
 * synchronous calls: their four thread-pool round trips (open, write, close, rename) cost ~1-3 ms on a busy
 * 2-core host, where the calls themselves take ~0.1 ms; larger ones go through the pool, not to stall the
 * event loop. A put that must be durable on return keeps the pool (its fsyncs wait for the disk).
 */
export const SYNC_PUT_MAX = 64 << 10;
/** Ranged gets up to this length allocate their buffer without asking the file's size first. */
const RANGED_NO_STAT = 64 << 20;

/** Keys must map to exactly one path inside the root and not collide with our own files. */
function checkKey(key: string): void {
  const parts = key.split('/');
  if (parts[0] === UPLOADS || parts[0] === TEMPS) throw invalid(`object key '${key}': '${parts[0]}' is reserved`);
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\0') || TEMP_NAME.test(p)) {
      throw invalid(`object key '${key}' is not a clean relative path`);
    }
  }
}

function errCode(e: unknown): unknown {
  return (e as NodeJS.ErrnoException)?.code;
}

/** A missing file or a file where a directory was expected: either way the object is not there. */
function isMissing(e: unknown): boolean {
  return errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR';
}

/** Our own errors pass unchanged (they already say what is wrong); node:fs ones get the op and key. */
function fail(e: unknown, op: string, key: string): FsError {
  return e instanceof FsError ? e : toFsError(e).withContext(op, key);
}

/** Up to `len` bytes at `pos` (fewer at the end of the file). */
async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  let n = 0;
  while (n < len) {
    const { bytesRead } = await fh.read(buf, n, len - n, pos + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** Directories from `from` down to `to` (both included; `to` at or below `from`). */
function chain(from: string, to: string): string[] {
  const rel = relative(from, to);
  if (rel.startsWith('..')) return [];
  const out = [from];
  if (rel !== '') for (const p of rel.split(sep)) out.push(join(out[out.length - 1], p));
  return out;
}

/** fsync of a directory: makes the names created or renamed in it durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    // Some file systems (a few FUSE ones) cannot fsync a directory: nothing more can be done there.
    if (errCode(e) !== 'EINVAL' && errCode(e) !== 'ENOTSUP') throw e;
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let n = 0; n < data.length; ) n += (await fh.write(data, n)).bytesWritten;
}

export class FileStore implements ObjectStore {
  readonly url: string;
  private readonly readers = new ReadHandleCache();
  private readonly unsynced = new SyncQueue();

  constructor(private readonly root: string) {
    this.url = pathToFileURL(root).href;
  }

  private path(key: string): string {
    checkKey(key);
    return join(this.root, key);
  }

  async create(): Promise<void> {
    // A new store directory is its owner's alone (0700): blocks are the volume's data.
    await mkdir(join(this.root, TEMPS), { recursive: true, mode: 0o700 });
  }

  /**
   * Creates `path` with what `fill` writes, via a temp file and a rename. With `mkdirs`, parent directories
   * are made only when the rename finds them missing. With `sync`, the data and then the directory entry
   * (of every directory made for it too) reach the disk before this returns.
   */
  private async writeAtomic(
    path: string,
    fill: (fh: FileHandle) => Promise<void>,
    opts: { mkdirs: boolean; sync: boolean },
  ): Promise<string[]> {
    const temps = join(this.root, TEMPS);
    const tmp = join(temps, tempName(basename(path)));
    let fh: FileHandle;
    try {
      fh = await open(tmp, 'wx', 0o644);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
      await mkdir(temps, { recursive: true }); // a store made before temp files had their own directory
      fh = await open(tmp, 'wx', 0o644);
    }
    try {
      try {
        await fill(fh);
        if (opts.sync) await fh.sync();
      } finally {
        await fh.close();
      }
      let made: string | undefined;
      try {
        await rename(tmp, path);
      } catch (e) {
        if (!opts.mkdirs || errCode(e) !== 'ENOENT') throw e;
        made = await mkdir(dirname(path), { recursive: true });
        await rename(tmp, path);
      }
      this.readers.drop(path); // a descriptor kept for the replaced object must not serve the new one
      // Parents first: the entry of each directory made, then the new name itself.
      const dirs = made ? chain(dirname(made), dirname(dirname(path))) : [];
      if (opts.sync) {
        for (const d of dirs) await syncDir(d);
        await syncDir(dirname(path));
      }
      return dirs;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** writeAtomic without sync, with synchronous calls (small puts, see SYNC_PUT_MAX). */
  private writeSmallSync(path: string, data: Buffer): string[] {
    const temps = join(this.root, TEMPS);
    const tmp = join(temps, tempName(basename(path)));
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o644);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
      mkdirSync(temps, { recursive: true });
      fd = openSync(tmp, 'wx', 0o644);
    }
    try {
      try {
        for (let n = 0; n < data.length; ) n += writeSync(fd, data, n);
      } finally {
        closeSync(fd);
      }
      let made: string | undefined;
      try {
        renameSync(tmp, path);
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw e;
        made = mkdirSync(dirname(path), { recursive: true });
        renameSync(tmp, path);
      }
      this.readers.drop(path);
      return made ? chain(dirname(made), dirname(dirname(path))) : [];
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** Removes temp files left by crashed writers (see file-temp.ts); run by every open through the registry. */
  /** Temp files of dead writers (ferry gc lists them). */
  listDeadTemps(safetyMs = DEFAULT_TEMP_SAFETY_MS): Promise<DeadTemp[]> {
    return listDeadTemps(join(this.root, TEMPS), safetyMs);
  }

  removeDeadTemps(safetyMs = DEFAULT_TEMP_SAFETY_MS): Promise<string[]> {
    return removeDeadTemps(join(this.root, TEMPS), safetyMs);
  }

  /**
   * Atomic (temp file, rename). Durable when it returns, or with deferSync once sync() returns: then its
   * fsyncs run in the background (file-sync.ts), and the object is whole after a crash of the process
   * either way, as the page cache holds it; only a crash of the host can lose it before the sync.
   */
  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    const path = this.path(key);
    const defer = opts?.deferSync === true;
    try {
      const dirs =
        defer && data.length <= SYNC_PUT_MAX
          ? this.writeSmallSync(path, data)
          : await this.writeAtomic(path, (fh) => writeAll(fh, data), { mkdirs: true, sync: !defer });
      if (defer) this.unsynced.add(path, dirs);
    } catch (e) {
      throw fail(e, 'put', key);
    }
  }

  /** Makes every put so far durable (the deferred ones: see put). */
  sync(): Promise<void> {
    return this.unsynced.sync();
  }

  async get(key: string, off = 0, len = -1): Promise<Buffer> {
    const path = this.path(key);
    if (len >= 0 && len <= RANGED_NO_STAT) return this.getRange(key, path, off, len);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw isMissing(e) ? noSuchObject(key) : fail(e, 'get', key);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw noSuchObject(key);
      const [start, end] = span(st.size, off, len);
      return await readAt(fh, start, end - start);
    } catch (e) {
      throw fail(e, 'get', key);
    } finally {
      await fh.close();
    }
  }

  /**
   * A bounded ranged get (every block read): through a kept descriptor, and without an fstat (the read stops
   * at the end of the file; a directory fails it with EISDIR). One pread per random block read.
   */
  private async getRange(key: string, path: string, off: number, len: number): Promise<Buffer> {
    const [start] = span(Number.MAX_SAFE_INTEGER, off, len);
    try {
      return await this.readers.with(path, (fh) => readAt(fh, start, len));
    } catch (e) {
      if (isMissing(e) || errCode(e) === 'EISDIR') throw noSuchObject(key);
      throw fail(e, 'get', key);
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    const info = await this.stat(key, this.path(key));
    if (!info) throw noSuchObject(key);
    return info;
  }

  /** Undefined when there is no object at key (including when a directory sits there). */
  private async stat(key: string, path: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(path);
      return st.isFile() ? { key, size: st.size, mtime: st.mtimeMs } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw fail(e, 'head', key);
    }
  }

  async delete(key: string): Promise<void> {
    // Empty parent directories are kept: removing them would race with a concurrent put into them.
    try {
      const path = this.path(key);
      this.readers.drop(path);
      await unlink(path);
    } catch (e) {
      // EISDIR: only a directory is there, so there is no such object either.
      if (!isMissing(e) && errCode(e) !== 'EISDIR') throw fail(e, 'delete', key);
    }
  }

  async list(prefix: string, marker = '', limit = DEFAULT_LIST_LIMIT): Promise<ListResult> {
    checkLimit(limit);
    const objects: ObjectInfo[] = [];
    // Start in the deepest directory that holds every key with this prefix.
    const start = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    if (start !== '') {
      try {
        checkKey(start.slice(0, -1));
      } catch {
        return { objects, isTruncated: false }; // no valid key can have this prefix
      }
    }
    for await (const key of this.walk(start, prefix, marker)) {
      if (objects.length === limit) return { objects, isTruncated: true, nextMarker: objects[limit - 1].key };
      const info = await this.stat(key, join(this.root, key));
      if (info) objects.push(info); // else deleted since the directory was read
    }
    return { objects, isTruncated: false };
  }

  /**
   * Yields keys under directory `dir` (a key prefix ending in '/', or '' for the root) in byte order.
   * Sorting each directory's names with subdirectories as `name/` gives the order of full keys, because
   * every key below a subdirectory starts with `name/` and no file name contains '/'.
   */
  private async *walk(dir: string, prefix: string, marker: string): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, dir), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw fail(e, 'list', dir);
    }
    const names: string[] = [];
    for (const d of entries) {
      if (TEMP_NAME.test(d.name) || (dir === '' && (d.name === UPLOADS || d.name === TEMPS))) continue;
      if (d.isDirectory()) names.push(`${dir}${d.name}/`);
      else if (d.isFile()) names.push(dir + d.name);
    }
    names.sort(compareKeys);
    for (const name of names) {
      if (!name.endsWith('/')) {
        if (name.startsWith(prefix) && compareKeys(name, marker) > 0) yield name;
      } else if (
        (name.startsWith(prefix) || prefix.startsWith(name)) &&
        (marker.startsWith(name) || compareKeys(name, marker) > 0)
      ) {
        yield* this.walk(name, prefix, marker);
      }
    }
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAll(this, prefix);
  }

  /** Named by id and a hash of the key, so an upload is found only under the key it was created for. */
  private uploadDir(key: string, uploadId: string): string {
    if (!HEX32.test(uploadId)) throw noSuchUpload(uploadId);
    const keyHash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    return join(this.root, UPLOADS, `${uploadId}-${keyHash}`);
  }

  /** Named by number and etag, so completion uses exactly the parts the caller names. */
  private partPath(key: string, uploadId: string, part: Pick<Part, 'num' | 'etag'>): string {
    if (!HEX32.test(part.etag)) throw invalid(`part ${part.num} has a malformed etag '${part.etag}'`);
    return join(this.uploadDir(key, uploadId), `${part.num}-${part.etag}`);
  }

  async createMultipartUpload(key: string): Promise<MultipartUpload> {
    checkKey(key);
    const uploadId = randomBytes(16).toString('hex');
    try {
      await mkdir(this.uploadDir(key, uploadId), { recursive: true });
    } catch (e) {
      throw fail(e, 'createMultipartUpload', key);
    }
    return { uploadId, minPartSize: MIN_PART_SIZE, maxCount: MAX_PART_COUNT };
  }

  async uploadPart(key: string, uploadId: string, num: number, data: Buffer): Promise<Part> {
    checkKey(key);
    checkPartNum(num);
    const part = { num, size: data.length, etag: etagOf(data) };
    try {
      // Not fsynced: completion fsyncs the assembled object, and a crash abandons the upload anyway.
      await this.writeAtomic(this.partPath(key, uploadId, part), (fh) => writeAll(fh, data), { mkdirs: false, sync: false });
    } catch (e) {
      throw errCode(e) === 'ENOENT' ? noSuchUpload(uploadId) : fail(e, 'uploadPart', key);
    }
    return part;
  }

  async completeUpload(key: string, uploadId: string, parts: Part[]): Promise<void> {
    const path = this.path(key);
    checkParts(parts);
    try {
      await stat(this.uploadDir(key, uploadId));
    } catch (e) {
      throw isMissing(e) ? noSuchUpload(uploadId) : fail(e, 'completeUpload', key);
    }
    try {
      await this.writeAtomic(path, (out) => this.concat(out, key, uploadId, parts), { mkdirs: true, sync: true });
    } catch (e) {
      throw fail(e, 'completeUpload', key);
    }
    await this.abortUpload(key, uploadId);
  }

  /** Streams the parts into `out` through one buffer, so the object is never held in memory. */
  private async concat(out: FileHandle, key: string, uploadId: string, parts: Part[]): Promise<void> {
    const buf = Buffer.allocUnsafe(COPY_BUFFER);
    for (const part of parts) {
      let src: FileHandle;
      try {
        src = await open(this.partPath(key, uploadId, part), 'r');
      } catch (e) {
        throw isMissing(e) ? invalid(`part ${part.num} with etag ${part.etag} was not uploaded`) : e;
      }
      try {
        if ((await src.stat()).size !== part.size) throw invalid(`part ${part.num} does not have ${part.size} bytes`);
        for (let n; (n = (await src.read(buf, 0, buf.length, null)).bytesRead) > 0; ) {
          await writeAll(out, buf.subarray(0, n));
        }
      } finally {
        await src.close();
      }
    }
  }

  /** Like delete, aborting an unknown upload is not an error. */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await rm(this.uploadDir(key, uploadId), { recursive: true, force: true });
    } catch (e) {
      if (!isMissing(e)) throw fail(e, 'abortUpload', key);
    }
  }

  async close(): Promise<void> {
    try {
      await this.unsynced.sync();
    } finally {
      await this.readers.closeAll();
    }
  }
}

registerObjectStore('file', async (url, raw) => {
  let store: FileStore;
  try {
    store = new FileStore(resolve(fileURLToPath(url)));
  } catch {
    throw invalid(`invalid file storage URL '${raw}' (expected file:///ABSOLUTE/DIR)`);
  }
  // Every client start tidies after crashed writers; a store it may not write to is still readable.
  await store.removeDeadTemps().catch(() => undefined);
  return store;
});
