// The VFS: the one place where metadata and data become file operations. Inode-based, so the FUSE
// frontend calls it directly and the SDK resolves paths on top of it.
import { fsErr } from '../errors.js';
import { BufferPool, ChunkStore, FileReader, FileWriter, type FlushResult } from '../chunk/index.js';
import type { Meta } from '../meta/interface.js';
import {
  FLAG_XATTRS,
  MODE_X,
  SET_SIZE,
  TYPE_DIRECTORY,
  TYPE_FILE,
  type Attr,
  type Context,
  type Entry,
  type FileType,
  type Format,
  type LockRange,
  type NodeResult,
  type StatFs,
  rootContext,
  type RenameExpect,
  type CloneOptions,
  type CloneResult,
  type WalkResult,
} from '../meta/types.js';
import { checkAccess, clearSetIdOnWrite, needsAcl } from '../meta/access.js';
import { isAclName } from '../meta/acl.js';
import { align4k } from '../meta/attrs.js';
import { TtlCache, entryKey } from './cache.js';
import { O_ACCMODE, O_APPEND, O_DIRECTORY, O_RDWR, O_TRUNC, canRead, canWrite } from './flags.js';
import { limitChange, limitListing, limitLive, limitLookup, limitNewName, limitOpen, limitRemove, limitRename, limitSetattr, limitWrite } from './limit.js';
import { BackgroundJobs } from './jobs.js';
import { HANDLE_SEQS, decodeHandle, handleNumber } from './handle-id.js';
import { QuotaGauge } from './quota-gauge.js';
import { SpaceGauge } from './space.js';

export interface VfsOptions {
  /** Seconds attributes are cached (default 1). */
  attrTimeout?: number;
  /** Seconds directory entries are cached (default 1). */
  entryTimeout?: number;
  /** Bytes of write buffers shared by all open files (default 256 MiB). */
  bufferLimit?: number;
  /** Largest read-ahead window per open file (default 32 MiB); blocks fetched ahead by all open files share bufferLimit. */
  maxReadahead?: number;
  readOnly?: boolean;
  /** Run heartbeat, deletion and compaction jobs (default true). */
  backgroundJobs?: boolean;
}

/** State shared by every handle of one inode: one writer, so handles see each other's writes. */
interface OpenFile {
  ino: number;
  handles: number;
  /** Length as this client knows it, including buffered writes. */
  length: number;
  writer?: FileWriter;
  readers: Set<FileReader>;
  /** performance.now() of the last write, for committing idle writers. */
  lastWrite: number;
  /** A background commit's failure, reported by the next flush, fsync or close. */
  error?: unknown;
  /** mtime and length of the last attributes seen from the metadata, to notice others' changes. */
  mtime: number;
  mtimensec: number;
  committed: number;
  /** The file's length after this client's latest commit (reset by read() before it flushes): where own appends ended. */
  appendEnd: number;
  /** The length the metadata holds as far as this client's own operations tell (what a failed write falls back to). */
  metaLength: number;
  /** Volume growth admitted for this file's buffered writes and not committed yet (see SpaceGauge). */
  reserved: number;
  /** The admission (quota and capacity check) of the last write: the next one waits for it. */
  admitting: Promise<void>;
}

/** Buffered writes idle this long are committed, so other clients see them without a close. */
const IDLE_FLUSH_MS = 5000;

export interface Handle {
  fh: number;
  ino: number;
  flags: number;
  reader?: FileReader;
  /** Lock owner for flock/POSIX locks taken through this handle. */
  owner: string;
  /** Who opened it (FUSE's writeback cache sends writes without the writer's identity: the opener stands in). */
  ctx: Context;
  /** An append-only key's handle of an existing file: no write below this offset (vfs/limit.ts). */
  appendFrom?: number;
  /** The file type at open. */
  type: number;
}

/** A handle as another process of the same session passes it on (a FUSE mount handed over). */
export interface HandleRecord {
  fh: number;
  ino: number;
  flags: number;
  type: number;
  length: number;
  mtime: number;
  mtimensec: number;
}

/** How a door uses a handle beyond its open flags. */
export interface HandleOptions {
  /** The kernel's writeback cache owns the pages: reads are allowed and O_APPEND is the kernel's job. */
  kernelWriteback?: boolean;
  /** Set by the VFS for an append-only key's handle (see Handle.appendFrom). */
  appendFrom?: number;
}

export class VFS {
  readonly attrs: TtlCache<number, Attr>;
  readonly entries: TtlCache<string, number>;
  readonly jobs: BackgroundJobs;
  private readonly files = new Map<number, OpenFile>();
  private readonly handles = new Map<number, Handle>();
  /** Handle numbers of inodes too large to encode (handle-id.ts): counted from 1, not resumable. */
  private nextFh = 1;
  private nextSeq = Math.floor(Math.random() * HANDLE_SEQS);
  /** Handles being rebuilt from their numbers (resume), so concurrent requests wait for one rebuild. */
  private readonly resuming = new Map<number, Promise<void>>();
  private readonly pool: BufferPool;
  /** Read-ahead memory of all open files (blocks fetched ahead of their readers). */
  readonly readahead: BufferPool;
  /** The volume's used space as this client sees it: write() answers ENOSPC over the capacity. */
  private readonly space: SpaceGauge;
  /** The room directory quotas leave each file being written: write() answers EDQUOT past it. */
  private readonly quotas: QuotaGauge;

  constructor(readonly meta: Meta, readonly store: ChunkStore, readonly format: Format, readonly opts: VfsOptions = {}) {
    this.attrs = new TtlCache((opts.attrTimeout ?? 1) * 1000);
    this.entries = new TtlCache((opts.entryTimeout ?? 1) * 1000);
    this.pool = new BufferPool(opts.bufferLimit ?? 256 << 20);
    this.readahead = new BufferPool(opts.bufferLimit ?? 256 << 20);
    this.jobs = new BackgroundJobs(meta, store);
    this.space = new SpaceGauge(async () => (await meta.statfs(rootContext())).usedSpace, format.capacity);
    this.quotas = new QuotaGauge(meta, format);
    if (opts.backgroundJobs !== false) {
      this.jobs.start({ writable: !opts.readOnly });
      this.idleTimer = setInterval(() => this.flushIdle(), 1000);
      this.idleTimer.unref();
    }
  }

  private idleTimer?: NodeJS.Timeout;

  /** Handles open now (metrics, `ferry status`). */
  get openHandles(): number {
    return this.handles.size;
  }

  private flushIdle(): void {
    const now = performance.now();
    for (const of of this.files.values()) {
      if (of.writer?.hasPending && now - of.lastWrite > IDLE_FLUSH_MS) {
        // flushInode already undid the failed writes' length and reservation; the error waits for the application.
        this.flushInode(of.ino).catch((e) => (of.error ??= e));
      }
    }
  }

  private writable(): void {
    if (this.opts.readOnly) throw fsErr('EROFS');
  }

  private remember(ino: number, attr: Attr): Attr {
    const of = this.files.get(ino);
    let seen = attr;
    if (of && attr.type === TYPE_FILE) {
      // Another client changed the file: slice lists the readers cached may be stale.
      if (attr.mtime !== of.mtime || attr.mtimensec !== of.mtimensec || attr.length !== of.committed) {
        of.mtime = attr.mtime;
        of.mtimensec = attr.mtimensec;
        of.committed = attr.length;
        for (const r of of.readers) r.invalidate();
      }
      // Buffered writes make the file longer than the metadata says yet; appends by their size, as they
      // land at whatever the end is when they commit. The cache keeps the metadata's attributes, so that
      // adding the pending appends stays idempotent.
      const w = of.writer;
      of.length = w?.hasPending ? Math.max(attr.length + w.pendingAppend, w.pendingLength) : attr.length;
      if (of.length !== attr.length) seen = { ...attr, length: of.length };
    }
    this.attrs.set(ino, attr);
    return seen;
  }

  private forget(ino: number): void {
    this.attrs.delete(ino);
  }

  private dropEntry(parent: number, name: string): void {
    this.entries.delete(entryKey(parent, name));
    this.forget(parent);
  }

  // ---- namespace ----

  async lookup(ctx: Context, parent: number, name: string): Promise<{ inode: number; attr: Attr }> {
    limitLookup(ctx, parent, name);
    const key = entryKey(parent, name);
    const ino = this.entries.get(key);
    const cached = ino === undefined ? undefined : this.attrs.get(ino);
    if (cached) {
      // Searching the parent needs x on it: checked here, from cached attributes, without a round trip.
      // A parent with an access ACL is checked by the metadata, which reads the ACL. Root and callers
      // without permission checks are not checked (as the metadata's own lookup does not).
      if (ctx.checkPermission && ctx.uid !== 0) {
        const pa = await this.getattr(ctx, parent);
        if (needsAcl(ctx, pa)) await this.meta.access(ctx, parent, MODE_X, pa);
        else checkAccess(ctx, pa, MODE_X);
      }
      return { inode: ino!, attr: this.remember(ino!, cached) };
    }
    const r = await this.meta.lookup(ctx, parent, name);
    if (name !== '.' && name !== '..') this.entries.set(key, r.inode);
    return { inode: r.inode, attr: this.remember(r.inode, r.attr) };
  }

  /**
   * Meta.walk through the caches: a cached first name is answered here (the resolver asks again from the
   * next one); otherwise one walk of the engine answers all of them, and they are cached.
   */
  async walk(ctx: Context, parent: number, names: string[]): Promise<WalkResult> {
    const first = names[0];
    if (first === undefined) return { found: [] };
    // A scoped key's limits, as lookup checks them (only the first name can be at the scope's root).
    limitLookup(ctx, parent, first);
    const ino = this.entries.get(entryKey(parent, first));
    if (first === '.' || first === '..' || (ino !== undefined && this.attrs.get(ino))) return { found: [await this.lookup(ctx, parent, first)] };
    const w = await this.meta.walk(ctx, parent, names);
    let p = parent;
    w.found = w.found.map((r, i) => {
      const name = names[i]!;
      if (name !== '.' && name !== '..') this.entries.set(entryKey(p, name), r.inode);
      p = r.inode;
      return { inode: r.inode, attr: this.remember(r.inode, r.attr) };
    });
    return w;
  }

  async getattr(ctx: Context, ino: number): Promise<Attr> {
    if (ctx.limit) limitLive(ctx);
    const cached = this.attrs.get(ino);
    if (cached) return this.remember(ino, cached);
    return this.remember(ino, await this.meta.getattr(ctx, ino));
  }

  /**
   * The mtime/ctime the kernel's writeback cache sends for an open file before it flushes it. While the file
   * has uncommitted writes, their commit (at the flush that follows) sets both again, to its own later time,
   * so a transaction now would be overwritten at once: the answer is the attributes with the kernel's
   * times, and undefined when there is nothing pending (then it is an ordinary setattr).
   */
  async writebackTimes(ctx: Context, ino: number, attr: Pick<Attr, 'mtime' | 'mtimensec'>): Promise<Attr | undefined> {
    if (!this.files.get(ino)?.writer?.hasPending) return undefined;
    const a = { ...(await this.getattr(ctx, ino)) };
    a.mtime = a.ctime = attr.mtime;
    a.mtimensec = a.ctimensec = attr.mtimensec;
    return a;
  }

  async setattr(ctx: Context, ino: number, set: number, attr: Partial<Attr>): Promise<Attr> {
    this.writable();
    if (ctx.limit) await limitSetattr(ctx, set, attr.length, async () => (await this.meta.getattr(ctx, ino)).length);
    if (set & SET_SIZE) await this.flushInode(ino);
    const r = await this.meta.setattr(ctx, ino, set, attr);
    if (set & SET_SIZE) {
      this.invalidateData(ino);
      this.committedLength(ino, r.attr.length);
    }
    return this.remember(ino, r.attr);
  }

  /** The parent's attributes after a change: cached when the metadata returned them (the kernel asks next). */
  private parentChanged(parent: number, attr: Attr | undefined): void {
    if (attr) this.attrs.set(parent, attr);
    else this.forget(parent);
  }

  private async made(parent: number, name: string, r: NodeResult): Promise<NodeResult> {
    this.parentChanged(parent, r.parentAttr);
    this.entries.set(entryKey(parent, name), r.inode);
    this.attrs.set(r.inode, r.attr);
    return r;
  }

  async mknod(ctx: Context, parent: number, name: string, type: FileType, mode: number, rdev = 0): Promise<NodeResult> {
    this.writable();
    limitNewName(ctx, parent, name);
    return this.made(parent, name, await this.meta.mknod(ctx, parent, name, type, mode, rdev));
  }

  async mkdir(ctx: Context, parent: number, name: string, mode: number): Promise<NodeResult> {
    this.writable();
    limitNewName(ctx, parent, name);
    return this.made(parent, name, await this.meta.mkdir(ctx, parent, name, mode));
  }

  async symlink(ctx: Context, parent: number, name: string, target: string): Promise<NodeResult> {
    this.writable();
    limitNewName(ctx, parent, name);
    return this.made(parent, name, await this.meta.symlink(ctx, parent, name, target));
  }

  readlink(ctx: Context, ino: number): Promise<string> {
    return this.meta.readlink(ctx, ino);
  }

  async link(ctx: Context, ino: number, parent: number, name: string): Promise<Attr> {
    this.writable();
    limitNewName(ctx, parent, name);
    const r = await this.meta.link(ctx, ino, parent, name);
    this.forget(parent);
    this.entries.set(entryKey(parent, name), ino);
    return this.remember(ino, r.attr);
  }

  async unlink(ctx: Context, parent: number, name: string): Promise<void> {
    this.writable();
    limitRemove(ctx);
    const r = await this.meta.unlink(ctx, parent, name);
    this.dropEntry(parent, name);
    this.parentChanged(parent, r.parentAttr);
    this.forget(r.inode);
    this.jobs.kick();
  }

  async rmdir(ctx: Context, parent: number, name: string): Promise<void> {
    this.writable();
    limitRemove(ctx);
    const r = await this.meta.rmdir(ctx, parent, name);
    this.dropEntry(parent, name);
    this.forget(r.inode);
  }

  async rename(ctx: Context, ps: number, ns: string, pd: number, nd: string, flags = 0, expect?: RenameExpect): Promise<void> {
    this.writable();
    flags = limitRename(ctx, pd, nd, flags, expect !== undefined);
    const dst = this.entries.get(entryKey(pd, nd));
    const r = await this.meta.rename(ctx, ps, ns, pd, nd, flags, expect);
    this.dropEntry(ps, ns);
    this.dropEntry(pd, nd);
    this.forget(r.inode);
    if (dst !== undefined) this.forget(dst);
    this.jobs.kick();
  }

  async readdir(ctx: Context, ino: number, plus: boolean, after?: string, limit?: number): Promise<Entry[]> {
    if (ctx.limit) limitLive(ctx);
    const list = limitListing(ctx, ino, await this.meta.readdir(ctx, ino, { plus, after, limit }));
    if (plus) {
      for (const e of list) {
        this.entries.set(entryKey(ino, e.name), e.inode);
        e.attr = this.remember(e.inode, e.attr);
      }
    }
    return list;
  }

  statfs(ctx: Context, ino?: number): Promise<StatFs> {
    return this.meta.statfs(ctx, ino);
  }

  access(ctx: Context, ino: number, mask: number): Promise<void> {
    return this.meta.access(ctx, ino, mask);
  }

  // ---- open files ----

  private openFile(ino: number, attr: Attr): OpenFile {
    let of = this.files.get(ino);
    if (!of) {
      of = {
        ino,
        handles: 0,
        length: attr.length,
        readers: new Set(),
        lastWrite: 0,
        mtime: attr.mtime,
        mtimensec: attr.mtimensec,
        committed: attr.length,
        appendEnd: 0,
        metaLength: attr.length,
        reserved: 0,
        admitting: Promise.resolve(),
      };
      this.files.set(ino, of);
    }
    of.handles++;
    return of;
  }

  /** A free handle number saying what it opens (handle-id.ts), so a crashed mount's successor can rebuild it. */
  private freshFh(ino: number, flags: number): number {
    for (let i = 0; i < HANDLE_SEQS; i++) {
      const fh = handleNumber(ino, flags, this.nextSeq++ % HANDLE_SEQS);
      if (fh === undefined) break;
      if (!this.handles.has(fh) && !this.resuming.has(fh)) return fh;
    }
    return this.nextFh++;
  }

  private newHandle(ctx: Context, ino: number, flags: number, attr: Attr, opts: HandleOptions = {}, given?: number): Handle {
    // The kernel's writeback cache reads pages back around partial writes, also of write-only files, and
    // places O_APPEND writes itself (later flushing whole dirty ranges at their offsets).
    if (opts.kernelWriteback) flags = ((flags & ~O_ACCMODE) | O_RDWR) & ~O_APPEND;
    const of = this.openFile(ino, attr);
    const fh = given ?? this.freshFh(ino, flags);
    // Locks are keyed by session and owner in the metadata: no process id, so they outlive a process handover.
    const h: Handle = { fh, ino, flags, owner: `fh:${fh}`, ctx, appendFrom: opts.appendFrom, type: attr.type };
    if (canRead(flags) && attr.type === TYPE_FILE) {
      h.reader = new FileReader(this.store, this.meta, ino, { ctx, maxReadahead: this.opts.maxReadahead, budget: this.readahead });
      of.readers.add(h.reader);
    }
    this.handles.set(h.fh, h);
    return h;
  }

  handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw fsErr('EBADF');
    return h;
  }

  hasHandle(fh: number): boolean {
    return this.handles.has(fh);
  }

  /**
   * Rebuilds a handle another process of this mount opened and this one never saw (it crashed): the number
   * says the inode and open flags (handle-id.ts). The kernel checked the open then, so no permission check
   * now; EBADF for a number that says nothing, ENOENT/ESTALE when the file is gone.
   */
  resume(ctx: Context, fh: number, opts?: HandleOptions): Promise<void> {
    if (this.handles.has(fh)) return Promise.resolve();
    const id = decodeHandle(fh);
    if (!id || id.dir) return Promise.reject(fsErr('EBADF'));
    let p = this.resuming.get(fh);
    if (!p) {
      p = (async () => {
        const attr = await this.meta.open({ ...ctx, checkPermission: false }, id.ino, id.flags);
        if (this.handles.has(fh)) {
          await this.meta.release(ctx, id.ino);
          return;
        }
        this.newHandle(ctx, id.ino, id.flags, this.remember(id.ino, attr), opts, fh);
      })().finally(() => this.resuming.delete(fh));
      this.resuming.set(fh, p);
    }
    return p;
  }

  /** The open handles, for the process a mount is handed to (after flushAll: lengths are committed ones). */
  exportHandles(): HandleRecord[] {
    return [...this.handles.values()].map((h) => {
      const of = this.files.get(h.ino)!;
      return { fh: h.fh, ino: h.ino, flags: h.flags, type: h.type, length: of.length, mtime: of.mtime, mtimensec: of.mtimensec };
    });
  }

  /**
   * Takes over handles a previous process of this session opened (Meta.adoptSession restored their
   * open-file records): no metadata call, the flags are used as they were (no writeback adjustment again).
   */
  adoptHandles(ctx: Context, list: HandleRecord[]): void {
    for (const r of list) {
      if (this.handles.has(r.fh)) continue;
      const attr = { type: r.type, length: r.length, mtime: r.mtime, mtimensec: r.mtimensec } as Attr;
      this.newHandle(ctx, r.ino, r.flags, attr, {}, r.fh);
    }
  }

  /** Creates and opens a regular file (O_EXCL semantics: EEXIST if the name exists). */
  async create(ctx: Context, parent: number, name: string, mode: number, flags: number, opts?: HandleOptions): Promise<NodeResult & { fh: number }> {
    this.writable();
    limitNewName(ctx, parent, name);
    const r = await this.made(parent, name, await this.meta.create(ctx, parent, name, mode, flags));
    return { ...r, fh: this.newHandle(ctx, r.inode, flags, r.attr, opts).fh };
  }

  /** flags are checked against the caller's permissions; opts change only what the handle then allows. */
  async open(ctx: Context, ino: number, flags: number, opts?: HandleOptions): Promise<{ fh: number; attr: Attr }> {
    if (canWrite(flags) || flags & O_TRUNC) this.writable();
    let attr = await this.meta.open(ctx, ino, flags);
    let appendFrom: number | undefined;
    if (ctx.limit) {
      try {
        appendFrom = limitOpen(ctx, canWrite(flags), (flags & O_TRUNC) !== 0 && canWrite(flags), attr.length);
      } catch (e) {
        await this.meta.release(ctx, ino);
        throw e;
      }
    }
    if (flags & O_DIRECTORY && attr.type !== TYPE_DIRECTORY) {
      await this.meta.release(ctx, ino);
      throw fsErr('ENOTDIR');
    }
    try {
      // O_TRUNC of an empty file changes nothing, unless it clears setuid/setgid (as any truncate does).
      if (flags & O_TRUNC && canWrite(flags) && attr.type === TYPE_FILE && (attr.length > 0 || clearSetIdOnWrite(ctx, { ...attr }))) {
        await this.flushInode(ino);
        attr = (await this.meta.truncate(ctx, ino, 0)).attr;
        this.invalidateData(ino);
        this.committedLength(ino, attr.length);
      }
    } catch (e) {
      await this.meta.release(ctx, ino);
      throw e;
    }
    const h = this.newHandle(ctx, ino, flags, attr, appendFrom === undefined ? opts : { ...opts, appendFrom });
    return { fh: h.fh, attr: this.remember(ino, attr) };
  }

  /** The bytes may be a view of a cached block (no copy on the large-read path): callers must not modify them. */
  async read(ctx: Context, fh: number, off: number, len: number): Promise<Buffer> {
    const h = this.handle(fh);
    if (!h.reader) throw fsErr(canRead(h.flags) ? 'EISDIR' : 'EBADF');
    const of = this.files.get(h.ino)!;
    // The length before the flush: writes buffered while it runs are not committed by it.
    let length = of.length;
    if (of.writer?.hasPending) {
      of.appendEnd = 0;
      await this.flushInode(h.ino);
      // Own appends landed after whatever other clients appended meanwhile: up to where the last one ended.
      length = Math.max(length, of.appendEnd);
    }
    return h.reader.read(off, len, length);
  }

  async write(ctx: Context, fh: number, off: number, data: Buffer): Promise<number> {
    const h = this.handle(fh);
    if (!canWrite(h.flags)) throw fsErr('EBADF');
    this.writable();
    limitWrite(h.appendFrom, off, (h.flags & O_APPEND) !== 0);
    const of = this.files.get(h.ino)!;
    of.writer ??= new FileWriter(this.store, this.meta, h.ino, {
      ctx,
      pool: this.pool,
      // Slices also commit in the background (full chunk, buffer pressure): readers must see them.
      onCommit: (indx, r) => {
        this.forget(h.ino);
        this.committedGrowth(of, r.attr.length);
        of.appendEnd = Math.max(of.appendEnd, r.attr.length);
        for (const rd of of.readers) rd.invalidate(indx);
      },
    });
    const append = (h.flags & O_APPEND) !== 0;
    // A write growing the file must fit the volume's capacity and its directory quotas: refused here,
    // before any byte is buffered.
    // Admission may wait (a read of the counters), so writes of one file pass it one after another: they
    // must reach the writer in the order they were made (a later overlapping write lands on top).
    const admitted = of.admitting.then(() => this.admit(of, () => (append ? of.length + data.length : off + data.length)));
    of.admitting = admitted.catch(() => undefined);
    await admitted;
    try {
      if (append) {
        // Placed at the end of the file when committed (not at this client's idea of it): the cached
        // attributes keep the metadata's length and remember() adds the pending appends to it.
        await of.writer.append(data, ctx);
        of.length += data.length;
      } else {
        await of.writer.write(off, data, ctx);
        of.length = Math.max(of.length, off + data.length);
        const cached = this.attrs.get(h.ino);
        if (cached) this.attrs.set(h.ino, { ...cached, length: of.length });
      }
    } catch (e) {
      this.writeFailed(of);
      throw e;
    }
    of.lastWrite = performance.now();
    // A write clears setuid/setgid before it returns, as on Linux: this one is committed at once (its commit
    // clears them), not buffered. Rare, and the bits are gone after it.
    const a = this.attrs.get(h.ino);
    if (a && clearSetIdOnWrite(ctx, { ...a })) await this.flushInode(h.ino);
    return data.length;
  }

  /** Reserves the growth of a write ending at `end` under the directory quotas and the volume's capacity. */
  private async admit(of: OpenFile, end: () => number): Promise<void> {
    const grow = align4k(end()) - align4k(of.length);
    if (grow <= 0) return;
    await this.quotas.admit(of.ino, grow);
    if (!this.space.limited) return;
    await this.space.admit(grow).catch((e) => {
      this.quotas.release(of.ino);
      throw e;
    });
    of.reserved += grow;
  }

  /** A commit of this file's data set the metadata's length: the growth admitted for it is now counted there. */
  private committedGrowth(of: OpenFile, length: number): void {
    const grown = align4k(length) - align4k(of.metaLength);
    const admitted = Math.min(of.reserved, Math.max(0, grown));
    of.reserved -= admitted;
    this.space.commit(admitted, grown);
    this.quotas.commit(of.ino, grown);
    of.metaLength = length;
  }

  /** An operation through the metadata (truncate, fallocate, copy) set an open file's length. */
  private committedLength(ino: number, length: number): void {
    const of = this.files.get(ino);
    if (of) of.metaLength = length;
  }

  /**
   * The writer dropped this file's uncommitted data (a failed upload, or a commit the metadata refused): its
   * reservation goes back, and the file is again as long as the metadata has it, not as the lost writes made it.
   */
  private writeFailed(of: OpenFile): void {
    this.space.release(of.reserved);
    this.quotas.release(of.ino);
    of.reserved = 0;
    if (!of.writer?.hasPending) of.length = of.metaLength;
    this.invalidateData(of.ino);
  }

  /** Commits buffered writes of an inode; readers then see them. */
  async flushInode(ino: number): Promise<void> {
    const of = this.files.get(ino);
    if (of?.error) {
      const e = of.error;
      of.error = undefined;
      throw e;
    }
    if (!of?.writer?.hasPending) return;
    let res: FlushResult;
    try {
      res = await of.writer.flush();
    } catch (e) {
      this.writeFailed(of);
      throw e;
    }
    if (!of.writer.hasPending) {
      // What was admitted and not committed was overwritten in the buffers: it never grew the volume.
      this.space.release(of.reserved);
      this.quotas.release(ino);
      of.reserved = 0;
    }
    this.invalidateData(ino);
    for (const f of res.fragmented) {
      this.jobs.compactLater(ino, f.indx, () => {
        for (const r of this.files.get(ino)?.readers ?? []) r.invalidate(f.indx);
      });
    }
  }

  private invalidateData(ino: number): void {
    this.forget(ino);
    const of = this.files.get(ino);
    if (of) for (const r of of.readers) r.invalidate();
  }

  async flush(_ctx: Context, fh: number): Promise<void> {
    await this.flushInode(this.handle(fh).ino);
  }

  /** A flush, and the blocks it wrote (with every other block written before) made durable in the store. */
  async fsync(ctx: Context, fh: number): Promise<void> {
    await this.flush(ctx, fh);
    await this.store.sync();
  }

  /** Closes a handle: commits its writes, drops its locks, and lets a deleted file go after the last close. */
  async release(ctx: Context, fh: number): Promise<void> {
    const h = this.handle(fh);
    this.handles.delete(fh);
    const of = this.files.get(h.ino)!;
    let err: unknown;
    try {
      await this.flushInode(h.ino);
    } catch (e) {
      err = e;
    }
    if (h.reader) {
      of.readers.delete(h.reader);
      h.reader.close();
    }
    if (--of.handles === 0) {
      this.files.delete(h.ino);
      this.space.release(of.reserved);
      this.quotas.forget(h.ino);
    }
    // The open-file record is dropped in the background: a close costs no metadata round trip (the writes
    // above are committed). Until it lands the file counts as open here, so an unlink by anyone keeps it; the
    // release then frees it. Meta orders a reopen of this inode after its pending release. Only a release that
    // freed a file (false from none; a meta-server older than that answer says nothing) makes work for the collector.
    this.jobs.track(
      'release',
      this.meta.release(ctx, h.ino).then((freed) => {
        if (freed !== false) this.jobs.kick();
      }),
    );
    if (err) throw err;
  }

  async truncate(ctx: Context, ino: number, length: number): Promise<Attr> {
    return this.setattr(ctx, ino, SET_SIZE, { length });
  }

  async fallocate(ctx: Context, fh: number, mode: number, off: number, len: number): Promise<void> {
    const h = this.handle(fh);
    if (!canWrite(h.flags)) throw fsErr('EBADF');
    this.writable();
    limitChange(ctx);
    // Punching or zeroing a range rewrites bytes: only plain allocation past the protected part.
    if (h.appendFrom !== undefined && (mode !== 0 || off < h.appendFrom)) throw fsErr('EPERM');
    await this.flushInode(h.ino);
    const r = await this.meta.fallocate(ctx, h.ino, mode, off, len);
    this.invalidateData(h.ino);
    this.committedLength(h.ino, r.attr.length);
    this.remember(h.ino, r.attr);
  }

  /**
   * `ferry clone`: a copy of a file or tree sharing its slices (meta/base/clone.ts). This client's buffered
   * writes are committed first, so the copy holds what its applications wrote.
   */
  async clone(ctx: Context, src: number, parent: number, name: string, opts: CloneOptions = {}): Promise<CloneResult> {
    this.writable();
    limitNewName(ctx, parent, name);
    await this.flushAll();
    const r = await this.meta.clone(ctx, src, parent, name, opts);
    this.forget(parent);
    this.entries.set(entryKey(parent, name), r.inode);
    this.remember(r.inode, r.attr);
    return r;
  }

  /** Copies by sharing slices: no data moves. */
  async copyFileRange(ctx: Context, fhIn: number, offIn: number, fhOut: number, offOut: number, len: number): Promise<number> {
    const hin = this.handle(fhIn);
    const hout = this.handle(fhOut);
    if (!canRead(hin.flags) || !canWrite(hout.flags)) throw fsErr('EBADF');
    if (hout.flags & O_APPEND) throw fsErr('EBADF');
    this.writable();
    limitWrite(hout.appendFrom, offOut, false);
    await this.flushInode(hin.ino);
    await this.flushInode(hout.ino);
    const r = await this.meta.copyFileRange(ctx, hin.ino, offIn, hout.ino, offOut, len);
    this.invalidateData(hout.ino);
    this.committedLength(hout.ino, r.attr.length);
    this.remember(hout.ino, r.attr);
    return r.copied;
  }

  // ---- xattrs and locks ----

  /**
   * True when the attributes this client holds (within the attribute timeout) say the inode has no extended
   * attributes: on volumes that keep FLAG_XATTRS, getxattr/listxattr need not ask the metadata.
   */
  knownWithoutXattrs(ino: number): boolean {
    if (this.format.xattrFlags !== true) return false;
    const a = this.attrs.get(ino);
    return a !== undefined && !(a.flags & FLAG_XATTRS);
  }

  async getxattr(ctx: Context, ino: number, name: string): Promise<Buffer> {
    // ACL names on a volume without ACLs are the metadata's to refuse (ENOTSUP), whatever the inode holds.
    if (this.knownWithoutXattrs(ino) && (this.format.acl === true || !isAclName(name))) throw fsErr('ENODATA');
    return this.meta.getxattr(ctx, ino, name);
  }

  async listxattr(ctx: Context, ino: number): Promise<string[]> {
    if (this.knownWithoutXattrs(ino)) return [];
    return this.meta.listxattr(ctx, ino);
  }

  async setxattr(ctx: Context, ino: number, name: string, value: Buffer, flags = 0): Promise<void> {
    this.writable();
    limitChange(ctx);
    await this.meta.setxattr(ctx, ino, name, value, flags);
    // The inode's flags and ctime changed: the next getattr/getxattr asks the metadata.
    this.attrs.delete(ino);
  }

  async removexattr(ctx: Context, ino: number, name: string): Promise<void> {
    this.writable();
    limitChange(ctx);
    await this.meta.removexattr(ctx, ino, name);
    this.attrs.delete(ino);
  }

  /** owner: a flock owner other than the handle (FUSE passes the kernel's, one per open file). */
  flock(ctx: Context, fh: number, type: number, block: boolean, owner?: string): Promise<void> {
    const h = this.handle(fh);
    return this.meta.flock(ctx, h.ino, owner ?? h.owner, type, block);
  }

  /** owner: a POSIX lock owner other than the handle (FUSE passes the process's, shared by its fds). */
  getlk(ctx: Context, fh: number, lock: LockRange, owner?: string): Promise<LockRange | undefined> {
    const h = this.handle(fh);
    return this.meta.getlk(ctx, h.ino, owner ?? h.owner, lock);
  }

  setlk(ctx: Context, fh: number, block: boolean, type: number, start: number, end: number, pid: number, owner?: string): Promise<void> {
    const h = this.handle(fh);
    return this.meta.setlk(ctx, h.ino, owner ?? h.owner, block, type, start, end, pid);
  }

  /** Commits the buffered writes of every open file (a mount flushes before it unmounts). */
  async flushAll(): Promise<void> {
    let err: unknown;
    for (const ino of [...this.files.keys()]) await this.flushInode(ino).catch((e) => (err ??= e));
    if (err) throw err;
  }

  /** Stops the background jobs, leaving the handles open (another process of the session took them over). */
  async stop(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.jobs.stop();
  }

  /** Flushes and closes every open handle and stops the background jobs; the client closes the rest. */
  async shutdown(ctx: Context): Promise<void> {
    let err: unknown;
    for (const fh of [...this.handles.keys()]) {
      await this.release(ctx, fh).catch((e) => (err ??= e));
    }
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.jobs.stop();
    if (err) throw err;
  }
}
