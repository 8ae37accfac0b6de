// FuseServer: answers the kernel's low-level FUSE requests with the VFS. The addon reads them on this thread
// (in batches, from the event loop) and dispatches them one by one; each is handled as its own promise and
// answered exactly once, in any order. Requests and replies are typed by src/fuse/abi.json: the generated
// table decodes a request's arguments and calls the method of the same name here, and what the method
// returns is sent as the op's reply kind (src/fuse/replies.ts).
// Nothing here may call into the mount itself synchronously (the process would deadlock for good).
import { FsError, toFsError } from '../errors.js';
import { F_RDLCK, F_UNLCK, F_WRLCK, MODE_R, ROOT_INODE, SET_ATIME, SET_ATIME_NOW, SET_CLEAR_SETID, SET_CTIME, SET_GID, SET_MODE, SET_MTIME, SET_MTIME_NOW, SET_SIZE, SET_UID, TYPE_DIRECTORY, TYPE_FILE, type Attr, type Context, type Entry, type StatFs } from '../meta/types.js';
import { isAclName } from '../meta/acl.js';
import { O_EXCL, canWrite } from '../vfs/flags.js';
import type { HandleOptions, HandleRecord, VFS } from '../vfs/vfs.js';
import { decodeHandle, handleNumber } from '../vfs/handle-id.js';
import * as abi from './abi.gen.js';
import { OP, OP_NAMES, REQUESTS } from './abi.gen.js';
import type { FerryMetrics } from '../object/metrics.js';
import type { Dispatcher, FuseAddon, ReqHandle } from './addon.js';
import {
  ACCESS_MASK,
  EIO,
  ENOSYS,
  FUSE_SETATTR_KNOWN,
  LOCK_EX,
  LOCK_NB,
  LOCK_TO_EOF,
  LOCK_UN,
  PERMISSION_BITS,
  S_IFMT,
  SEEK_DATA,
  SEEK_HOLE,
  TYPE_OF_IFMT,
} from './posix.js';
import { Replier, type CreateReply, type DirReply, type LockReply, type NodeReply, type OpenReply, type XattrReply } from './replies.js';
import { RootMap } from './subdir.js';

const DIR_PAGE = 4096;
/** Errors answered often and on purpose: thrown as shared instances, not built (with a stack) per request. */
const QUIET = { ENODATA: new FsError('ENODATA'), ENOTSUP: new FsError('ENOTSUP') };

export interface ServerOptions {
  attrTimeout: number;
  entryTimeout: number;
  dirEntryTimeout: number;
  log?: (line: string) => void;
  /** Every request acts as this (a --token-file mount: the key's uid/gid and limits), not as the calling process. */
  identity?: Pick<Context, 'uid' | 'gid' | 'gids' | 'limit'>;
  /** The volume directory served as the mount's root (--subdir); the volume root by default. */
  root?: RootMap;
  /** The kernel's writeback cache is on (-o writeback_cache). */
  kernelWriteback?: boolean;
  /** This process's metrics (--metrics): every request is timed by operation. */
  metrics?: FerryMetrics;
}

interface DirHandle {
  ino: number;
  entries: Entry[];
  done: boolean;
}

/** Where a request carries file handles (argument indexes, abi.json order): rebuilt first when unknown. */
const FILE_HANDLE_ARGS: Partial<Record<number, number[]>> = {
  [OP.SETATTR]: [10],
  [OP.READ]: [1],
  [OP.WRITE]: [1],
  [OP.FLUSH]: [1],
  [OP.RELEASE]: [1],
  [OP.FSYNC]: [1],
  [OP.GETLK]: [1],
  [OP.SETLK]: [1],
  [OP.FLOCK]: [1],
  [OP.FALLOCATE]: [1],
  [OP.COPY_FILE_RANGE]: [1, 4],
};

/** What a mount's serving process hands to the next one (docs/upgrade.md), besides the connection. */
export interface ServerState {
  handles: HandleRecord[];
  /** Directory handles: [fh, ino]. Their listings are loaded again by the next readdir. */
  dirs: Array<[number, number]>;
  /** Inodes with POSIX locks taken through this mount (their closes drop the closing process's locks). */
  locked: number[];
}

/**
 * A lock owner for the metadata: the kernel's owner id (per open file for flock, per process's file table
 * for POSIX locks). The metadata keys locks by session and owner, so no process id is part of it and a
 * process that takes over the session's FUSE connection keeps them.
 */
export function lockOwner(kernelOwner: bigint): string {
  return `fuse:${kernelOwner}`;
}

export class FuseServer implements abi.FuseHandlers {
  /** Requests handed to JS and not answered yet. */
  inflight = 0;
  private idle: Array<() => void> = [];
  private readonly dirs = new Map<number, DirHandle>();
  private nextDir = Math.floor(Math.random() * 1024);
  /** What each inode looked like at its last open: an unchanged file keeps the kernel's page cache. */
  private readonly seen = new Map<number, string>();
  /** Inodes this mount took POSIX locks on: only their flushes must drop the closing process's locks. */
  private readonly locked = new Set<number>();
  onExit?: () => void;
  /** The last read queued per file handle. */
  private readonly reading = new Map<number, Promise<void>>();
  /** The loop ended: lock waits give up so the session can be destroyed. */
  private exiting = false;
  /** Handed over: only blocking lock waits still run here (see handOver). */
  private handingOver = false;
  private lockWaiting = 0;
  private readonly settledWaiters: Array<() => void> = [];
  /** "inode\0name" of extended attributes known not to exist, until the attribute timeout. */
  private readonly noXattr = new Map<string, number>();
  /** Requests per operation code, when FERRY_FUSE_STATS is set (printed at unmount). */
  readonly counts: number[] | undefined = process.env.FERRY_FUSE_STATS ? [] : undefined;
  /** Milliseconds per operation code from dispatch to answer, with the counts. */
  readonly millis: number[] = [];
  readonly errors: Record<string, number> = {};
  private readonly map: RootMap;
  private readonly replier: Replier;
  /** Kernel inode numbers in a request become volume inodes (only inode 1 differs, under --subdir). */
  private readonly toVolume: (kernelIno: number) => number;

  private readonly handleOpts: HandleOptions;

  constructor(readonly vfs: VFS, private readonly addon: FuseAddon, private readonly opts: ServerOptions) {
    this.handleOpts = { kernelWriteback: opts.kernelWriteback ?? false };
    this.map = opts.root ?? new RootMap();
    const map = this.map;
    this.toVolume = map.isSubdir ? (i) => map.toVolume(i) : (i) => i;
    this.replier = new Replier(addon, this.map, opts);
  }

  readonly dispatch: Dispatcher = (op, req, raw, ...args) => {
    const spec = REQUESTS[op];
    if (!spec) {
      if (op === OP.EXIT) {
        this.exiting = true;
        this.onExit?.();
      } else if (req) this.addon.replyErr(req, ENOSYS);
      return;
    }
    const id = this.opts.identity;
    const ctx: Context = {
      uid: id ? id.uid : raw.uid,
      gid: id ? id.gid : raw.gid,
      gids: id ? id.gids : raw.gids.length ? raw.gids : [raw.gid],
      pid: raw.pid,
      // The kernel applied the caller's umask already, unless it passes it (ACL mounts: a default ACL replaces it).
      umask: raw.umask ?? 0,
      checkPermission: true,
      ...(id?.limit ? { limit: id.limit } : {}),
    };
    // A handle this process never saw (opened before a crash): rebuilt from its number before the request runs.
    let ready: Promise<void> | undefined;
    const at = FILE_HANDLE_ARGS[op];
    if (at) {
      for (const i of at) {
        const fh = args[i] as number;
        if (fh >= 0 && !this.vfs.hasHandle(fh) && decodeHandle(fh)?.dir === false) {
          ready = (ready ?? Promise.resolve()).then(() => this.vfs.resume(ctx, fh, this.handleOpts));
        }
      }
    }
    this.inflight++;
    const metrics = this.opts.metrics;
    const t0 = this.counts || metrics ? performance.now() : 0;
    let failed = false;
    if (this.counts) this.counts[op] = (this.counts[op] ?? 0) + 1;
    // Promise.resolve().then: even a synchronous throw becomes an answered error, never a dead daemon.
    (ready ?? Promise.resolve())
      .then(() => spec.run(this, req!, ctx, args, this.toVolume))
      .then((reply) => (this.replier.send[spec.reply] as (r: ReqHandle, v: unknown) => void)(req!, reply))
      .catch((e) => {
        failed = true;
        this.fail(op, req!, e);
      })
      .finally(() => {
        if (this.counts) this.millis[op] = (this.millis[op] ?? 0) + performance.now() - t0;
        metrics?.fuse.observe(OP_NAMES[op]!, (performance.now() - t0) / 1000, failed);
        if (--this.inflight === 0) for (const f of this.idle.splice(0)) f();
        this.checkSettled();
      });
  };

  stats(): string {
    if (!this.counts) return '';
    const ops = this.counts.map((c, i) => (c ? `${OP_NAMES[i]}=${c}/${Math.round(this.millis[i] ?? 0)}ms` : '')).filter(Boolean).join(' ');
    const errs = Object.entries(this.errors).map(([k, v]) => `${k}=${v}`).join(' ');
    return `requests (count/time answering): ${ops}; errors: ${errs || 'none'}`;
  }

  /**
   * Handing the mount over: requests still running finish, nothing new arrives (the addon stopped reading).
   * A blocking lock wait goes on here until it is granted (settled() does not wait for it): the kernel takes
   * its answer only on the descriptor that read it, and an EINTR would reach the application (as errno 512,
   * ERESTARTSYS, since the kernel takes FUSE lock calls as restartable).
   */
  handOver(): void {
    this.handingOver = true;
    this.checkSettled();
  }

  /** Lock waits in progress (blocking F_SETLKW / flock calls polling for their lock). */
  get lockWaits(): number {
    return this.lockWaiting;
  }

  /** Resolves when every request but the blocking lock waits is answered. */
  settled(): Promise<void> {
    return this.inflight - this.lockWaiting === 0 ? Promise.resolve() : new Promise((r) => this.settledWaiters.push(r));
  }

  private checkSettled(): void {
    if (this.inflight - this.lockWaiting === 0) for (const f of this.settledWaiters.splice(0)) f();
  }

  /** The handles to pass on, after drained() and the VFS's flushAll(). */
  exportState(): ServerState {
    return { handles: this.vfs.exportHandles(), dirs: [...this.dirs].map(([fh, d]) => [fh, d.ino]), locked: [...this.locked] };
  }

  /** Takes over the handles of the previous process (its session adopted, see Meta.adoptSession). */
  adoptState(ctx: Context, st: ServerState): void {
    this.vfs.adoptHandles(ctx, st.handles);
    for (const [fh, ino] of st.dirs) if (!this.dirs.has(fh)) this.dirs.set(fh, { ino, entries: [], done: false });
    for (const ino of st.locked) this.locked.add(ino);
  }

  /** Resolves when no request is waiting for its answer. */
  drained(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  private fail(op: number, req: ReqHandle, e: unknown): void {
    const err = e instanceof FsError ? e : toFsError(e);
    if (this.counts) this.errors[`${OP_NAMES[op]}:${err.code}`] = (this.errors[`${OP_NAMES[op]}:${err.code}`] ?? 0) + 1;
    // An FsError's message says what failed (a corrupted block names its key): one line; a bug gets its stack.
    if (err.code === 'EIO' || !(e instanceof FsError)) this.opts.log?.(`${OP_NAMES[op]}: ${e instanceof FsError ? err.message : ((e as Error)?.stack ?? String(e))}`);
    try {
      this.addon.replyErr(req, err.sysErrno || EIO);
    } catch {
      // already answered before the error: nothing more to say to the kernel
    }
  }

  private keepCache(ino: number, attr: Attr): boolean {
    const sig = `${attr.mtime}.${attr.mtimensec}:${attr.length}`;
    const keep = this.seen.get(ino) === sig;
    this.seen.set(ino, sig);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value as number);
    return keep;
  }

  // ---- one method per request (abi.json) ----

  async lookup(ctx: Context, r: abi.LookupRequest): Promise<NodeReply> {
    const root = this.map.root;
    // Under --subdir, ".." of the mount's root is the root itself, and the volume root is never answered
    // (it would alias the mount's root; only a directory moved out of the subdir leads there).
    if (r.parent === root && r.name === '..') return { inode: root, attr: await this.vfs.getattr(ctx, root) };
    const e = await this.vfs.lookup(ctx, r.parent, r.name);
    if (this.map.isSubdir && e.inode === ROOT_INODE) throw new FsError('EACCES');
    return e;
  }

  async getattr(ctx: Context, r: abi.GetattrRequest): Promise<NodeReply> {
    return { inode: r.ino, attr: await this.vfs.getattr(ctx, r.ino) };
  }

  async setattr(ctx: Context, r: abi.SetattrRequest): Promise<NodeReply> {
    const { ino, fh } = r;
    const vfs = this.vfs;
    let set = r.toSet & FUSE_SETATTR_KNOWN;
    // The kernel sends ATIME|ATIME_NOW for "now"; the VFS reads ATIME as "explicit time" (owner only).
    if (set & SET_ATIME_NOW) set &= ~SET_ATIME;
    if (set & SET_MTIME_NOW) set &= ~SET_MTIME;
    const attr: Partial<Attr> = {
      mode: r.mode,
      uid: r.uid,
      gid: r.gid,
      length: r.size,
      atime: r.atime,
      atimensec: r.atimensec,
      mtime: r.mtime,
      mtimensec: r.mtimensec,
    };
    if (ctx.uid !== 0 && (set & SET_MODE || set === 0)) set = await this.setIdKill(ctx, ino, set, r.mode);
    let c = ctx;
    // ftruncate() on a descriptor open for writing needs no write permission on the file now.
    if (fh >= 0 && set & SET_SIZE && !(set & (SET_MODE | SET_UID | SET_GID))) {
      try {
        if (canWrite(vfs.handle(fh).flags)) c = { ...ctx, checkPermission: false };
      } catch {
        // not one of ours (directory handle): check as usual
      }
    }
    // mtime+ctime with a file handle: the kernel's writeback cache flushing its times before a FLUSH
    // (a user's futimens carries no handle). One metadata transaction less per written file.
    if (fh >= 0 && set === (SET_MTIME | SET_CTIME)) {
      const done = await vfs.writebackTimes(ctx, ino, { mtime: r.mtime, mtimensec: r.mtimensec });
      if (done) return { inode: ino, attr: done };
      // The kernel's own flush of the times of a file written through this handle: by a writer who need
      // not own the file (the kernel checked the write; explicit times would otherwise need ownership).
      try {
        if (canWrite(vfs.handle(fh).flags)) c = { ...ctx, checkPermission: false };
      } catch {
        // not one of ours: check as usual
      }
    }
    return { inode: ino, attr: await vfs.setattr(c, ino, set, attr) };
  }

  /**
   * The kernel's request to clear setuid/setgid before a write or truncate, as `set` for the VFS. libfuse 3.14
   * cannot ask for FUSE_HANDLE_KILLPRIV, so the kernel does it itself: a chmod as the writer to the mode
   * minus those bits, or, when its own rule (older than Linux's) finds nothing to clear, an empty SETATTR.
   * The mount has default_permissions, so the kernel refused every other chmod by a non-owner: one that only
   * drops setuid/setgid is this request, and the metadata applies its rule (SET_CLEAR_SETID).
   */
  private async setIdKill(ctx: Context, ino: number, set: number, mode: number): Promise<number> {
    const cur = await this.vfs.getattr(ctx, ino);
    if (!(cur.mode & 0o6000)) return set;
    if (set === 0) return SET_CLEAR_SETID;
    const dropped = cur.mode & 0o6000 & ~mode;
    const onlyDrops = dropped !== 0 && (mode & PERMISSION_BITS) === (cur.mode & PERMISSION_BITS & ~dropped);
    return cur.uid !== ctx.uid && onlyDrops ? (set & ~SET_MODE) | SET_CLEAR_SETID : set;
  }

  readlink(ctx: Context, r: abi.ReadlinkRequest): Promise<string> {
    return this.vfs.readlink(ctx, r.ino);
  }

  mknod(ctx: Context, r: abi.MknodRequest): Promise<NodeReply> {
    const type = TYPE_OF_IFMT[r.mode & S_IFMT] ?? TYPE_FILE;
    return this.vfs.mknod(ctx, r.parent, r.name, type, r.mode & PERMISSION_BITS, r.rdev);
  }

  mkdir(ctx: Context, r: abi.MkdirRequest): Promise<NodeReply> {
    return this.vfs.mkdir(ctx, r.parent, r.name, r.mode & PERMISSION_BITS);
  }

  unlink(ctx: Context, r: abi.UnlinkRequest): Promise<void> {
    return this.vfs.unlink(ctx, r.parent, r.name);
  }

  rmdir(ctx: Context, r: abi.RmdirRequest): Promise<void> {
    return this.vfs.rmdir(ctx, r.parent, r.name);
  }

  symlink(ctx: Context, r: abi.SymlinkRequest): Promise<NodeReply> {
    return this.vfs.symlink(ctx, r.parent, r.name, r.target);
  }

  rename(ctx: Context, r: abi.RenameRequest): Promise<void> {
    return this.vfs.rename(ctx, r.parent, r.name, r.newParent, r.newName, r.flags);
  }

  async link(ctx: Context, r: abi.LinkRequest): Promise<NodeReply> {
    return { inode: r.ino, attr: await this.vfs.link(ctx, r.ino, r.newParent, r.newName) };
  }

  async open(ctx: Context, r: abi.OpenRequest): Promise<OpenReply> {
    const o = await this.vfs.open(ctx, r.ino, r.flags, this.handleOpts);
    return { fh: o.fh, keepCache: this.keepCache(r.ino, o.attr), abandoned: () => this.vfs.release(ctx, o.fh) };
  }

  async create(ctx: Context, r: abi.CreateRequest): Promise<CreateReply> {
    const vfs = this.vfs;
    let c: { inode: number; attr: Attr; fh: number };
    try {
      c = await vfs.create(ctx, r.parent, r.name, r.mode & PERMISSION_BITS, r.flags, this.handleOpts);
    } catch (e) {
      // Lost a race with another client creating the name: without O_EXCL, open what is there.
      if (!(e instanceof FsError && e.code === 'EEXIST') || r.flags & O_EXCL) throw e;
      const l = await vfs.lookup(ctx, r.parent, r.name);
      const o = await vfs.open(ctx, l.inode, r.flags, this.handleOpts);
      c = { inode: l.inode, attr: o.attr, fh: o.fh };
    }
    this.keepCache(c.inode, c.attr);
    return { ...c, abandoned: () => vfs.release(ctx, c.fh) };
  }

  async read(ctx: Context, r: abi.ReadRequest): Promise<Buffer> {
    // One read at a time per handle, in arrival order: the kernel's async read-ahead sends several at
    // once, and the VFS reader detects sequential access (and prefetches itself) only if it sees them in order.
    const fh = r.fh;
    const prev = this.reading.get(fh) ?? Promise.resolve();
    const mine = prev.then(() => this.vfs.read(ctx, fh, r.offset, r.size));
    const tail = mine.then(
      () => undefined,
      () => undefined,
    );
    this.reading.set(fh, tail);
    try {
      return await mine;
    } finally {
      if (this.reading.get(fh) === tail) this.reading.delete(fh);
    }
  }

  write(ctx: Context, r: abi.WriteRequest): Promise<number> {
    // The kernel's writeback cache writes pages back as nobody (pid 0, no credentials): the write is the
    // opener's, which matters for whether it clears setuid/setgid.
    if (ctx.pid === 0) ctx = this.vfs.handle(r.fh).ctx;
    return this.vfs.write(ctx, r.fh, r.offset, r.data);
  }

  async flush(ctx: Context, r: abi.FlushRequest): Promise<void> {
    let err: unknown;
    await this.vfs.flush(ctx, r.fh).catch((e) => (err = e));
    // close() drops the process's POSIX locks on the file, whichever descriptor took them.
    if (this.locked.has(r.ino)) await this.vfs.setlk(ctx, r.fh, false, F_UNLCK, 0, LOCK_TO_EOF, ctx.pid, lockOwner(r.owner));
    if (err) throw err;
  }

  async release(ctx: Context, r: abi.ReleaseRequest): Promise<void> {
    if (r.flockRelease) await this.vfs.flock(ctx, r.fh, F_UNLCK, false, lockOwner(r.owner)).catch(() => undefined);
    try {
      await this.vfs.release(ctx, r.fh);
    } catch (e) {
      // The kernel ignores release errors; the data loss must at least be logged.
      this.opts.log?.(`release of inode ${r.ino}: ${(e as Error).message}`);
    }
  }

  fsync(ctx: Context, r: abi.FsyncRequest): Promise<void> {
    return this.vfs.fsync(ctx, r.fh);
  }

  async opendir(ctx: Context, r: abi.OpendirRequest): Promise<OpenReply> {
    const attr = await this.vfs.getattr(ctx, r.ino);
    if (attr.type !== TYPE_DIRECTORY) throw new FsError('ENOTDIR');
    await this.vfs.access(ctx, r.ino, MODE_R);
    // Numbered like file handles (handle-id.ts): unique across the processes that serve this mount in turn.
    let fh = handleNumber(r.ino, 0, this.nextDir++, true) ?? this.nextDir;
    while (this.dirs.has(fh)) fh = handleNumber(r.ino, 0, this.nextDir++, true) ?? this.nextDir++;
    this.dirs.set(fh, { ino: r.ino, entries: [], done: false });
    return { fh, abandoned: () => this.dirs.delete(fh) };
  }

  readdir(ctx: Context, r: abi.ReaddirRequest): Promise<DirReply> {
    return this.listDir(ctx, r, false);
  }

  readdirplus(ctx: Context, r: abi.ReaddirplusRequest): Promise<DirReply> {
    return this.listDir(ctx, r, true);
  }

  async releasedir(_ctx: Context, r: abi.ReleasedirRequest): Promise<void> {
    this.dirs.delete(r.fh);
  }

  statfs(ctx: Context, r: abi.StatfsRequest): Promise<StatFs> {
    return this.vfs.statfs(ctx, r.ino);
  }

  /** ACL xattrs without ACLs on the volume: refused at once, as a file system mounted noacl does. */
  private aclsOff(name: string): boolean {
    return isAclName(name) && this.vfs.format.acl !== true;
  }

  async setxattr(ctx: Context, r: abi.SetxattrRequest): Promise<void> {
    if (this.aclsOff(r.name)) throw QUIET.ENOTSUP;
    this.noXattr.delete(`${r.ino}\0${r.name}`);
    await this.vfs.setxattr(ctx, r.ino, r.name, r.value, r.flags);
  }

  async getxattr(ctx: Context, r: abi.GetxattrRequest): Promise<XattrReply> {
    // The kernel asks for security.capability before every write, and ls -l for ACLs and SELinux labels
    // of every file: a recent "no such attribute" is answered from memory, not by a metadata round trip.
    // On a volume without ACLs (no FUSE_POSIX_ACL) say so, as a file system mounted noacl does, without a
    // metadata round trip for each `ls -l` entry; with them, the kernel caches what we answer.
    // Both answered with a shared error: an FsError (with its stack trace) per write() was a real cost.
    if (this.aclsOff(r.name)) throw QUIET.ENOTSUP;
    const key = `${r.ino}\0${r.name}`;
    if (this.vfs.knownWithoutXattrs(r.ino) || (this.noXattr.get(key) ?? 0) > performance.now()) throw QUIET.ENODATA;
    try {
      return sized(await this.vfs.getxattr(ctx, r.ino, r.name), r.size);
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENODATA') this.rememberNoXattr(key);
      throw e;
    }
  }

  async listxattr(ctx: Context, r: abi.ListxattrRequest): Promise<XattrReply> {
    const names = await this.vfs.listxattr(ctx, r.ino);
    return sized(Buffer.from(names.map((x) => x + '\0').join('')), r.size);
  }

  async removexattr(ctx: Context, r: abi.RemovexattrRequest): Promise<void> {
    if (this.aclsOff(r.name)) throw QUIET.ENOTSUP;
    await this.vfs.removexattr(ctx, r.ino, r.name);
  }

  access(ctx: Context, r: abi.AccessRequest): Promise<void> {
    return this.vfs.access(ctx, r.ino, r.mask & ACCESS_MASK);
  }

  async getlk(ctx: Context, r: abi.GetlkRequest): Promise<LockReply> {
    const end = r.len === 0 ? LOCK_TO_EOF : r.start + r.len - 1;
    const type = r.type === F_WRLCK ? F_WRLCK : F_RDLCK;
    const held = await this.vfs.getlk(ctx, r.fh, { type, start: r.start, end, pid: r.pid }, lockOwner(r.owner));
    if (!held) return { type: F_UNLCK, start: r.start, len: r.len, pid: 0 };
    return { type: held.type, start: held.start, len: held.end >= LOCK_TO_EOF ? 0 : held.end - held.start + 1, pid: held.pid };
  }

  async setlk(ctx: Context, r: abi.SetlkRequest, req: ReqHandle): Promise<void> {
    const end = r.len === 0 ? LOCK_TO_EOF : r.start + r.len - 1;
    if (r.type !== F_UNLCK) this.locked.add(r.ino);
    const owner = lockOwner(r.owner);
    await this.lockWait(req, r.sleep, () => this.vfs.setlk(ctx, r.fh, false, r.type, r.start, end, r.pid || ctx.pid, owner), ctx.pid);
  }

  async flock(ctx: Context, r: abi.FlockRequest, req: ReqHandle): Promise<void> {
    const type = r.op & LOCK_UN ? F_UNLCK : r.op & LOCK_EX ? F_WRLCK : F_RDLCK;
    await this.lockWait(req, !(r.op & LOCK_NB), () => this.vfs.flock(ctx, r.fh, type, false, lockOwner(r.owner)), ctx.pid);
  }

  fallocate(ctx: Context, r: abi.FallocateRequest): Promise<void> {
    return this.vfs.fallocate(ctx, r.fh, r.mode, r.offset, r.length);
  }

  copyFileRange(ctx: Context, r: abi.CopyFileRangeRequest): Promise<number> {
    return this.vfs.copyFileRange(ctx, r.fh, r.offset, r.fhOut, r.offsetOut, r.length);
  }

  async lseek(ctx: Context, r: abi.LseekRequest): Promise<number> {
    // Holes read as zeros and are not tracked apart: all of a file is data, its end the only hole.
    const attr = await this.vfs.getattr(ctx, r.ino);
    if (r.whence !== SEEK_DATA && r.whence !== SEEK_HOLE) throw new FsError('EINVAL');
    if (r.offset < 0 || r.offset >= attr.length) throw new FsError('ENXIO');
    return r.whence === SEEK_DATA ? r.offset : attr.length;
  }

  // ---- helpers ----

  /**
   * A blocking lock as a loop of non-blocking attempts, so a signal to the waiting process (EINTR) or the
   * end of the mount stops the wait; no lock is ever granted after the caller gave up.
   */
  private async lockWait(req: ReqHandle, block: boolean, attempt: () => Promise<void>, pid: number): Promise<void> {
    let waiting = false;
    try {
      for (let wait = 1; ; wait = Math.min(wait * 2, 100)) {
        try {
          return await attempt();
        } catch (e) {
          if (!block || !(e instanceof FsError && e.code === 'EAGAIN')) throw e;
        }
        if (this.exiting || this.addon.interrupted(req)) throw new FsError('EINTR');
        // Handed over, the interrupts go to the next process: a waiter that died stops the wait here.
        if (this.handingOver && pid > 0 && !processAlive(pid)) throw new FsError('EINTR');
        if (!waiting) {
          waiting = true;
          this.lockWaiting++;
          this.checkSettled();
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      if (waiting) this.lockWaiting--;
    }
  }

  private rememberNoXattr(key: string): void {
    if (this.opts.attrTimeout <= 0) return;
    if (this.noXattr.size > 100_000) this.noXattr.clear();
    this.noXattr.set(key, performance.now() + this.opts.attrTimeout * 1000);
  }

  /** Offsets are indexes into the handle's listing, loaded page by page and restarted at offset 0. */
  private async listDir(ctx: Context, r: abi.ReaddirRequest, plus: boolean): Promise<DirReply> {
    const { ino, fh, size, offset: off } = r;
    let d = this.dirs.get(fh);
    // A handle this process never listed (opened before a handover or crash): listed again from the start.
    const fresh = !d || d.entries.length === 0;
    if (!d) {
      d = { ino, entries: [], done: false };
      this.dirs.set(fh, d);
    }
    if (off === 0 || fresh) {
      const attr = await this.vfs.getattr(ctx, ino);
      const self = { inode: ino, name: '.', attr } as Entry;
      const up = { inode: ino === this.map.root ? ino : attr.parent || ROOT_INODE, name: '..', attr } as Entry;
      d.entries = [self, up];
      d.done = false;
    }
    // Roughly what fits in the kernel's buffer: at least 24 bytes per entry, ~150 with attributes.
    const want = off + Math.ceil(size / (plus ? 120 : 24)) + 1;
    let attrs = plus;
    while (!d.done && d.entries.length < want) {
      const last = d.entries.length > 2 ? d.entries[d.entries.length - 1]!.name : undefined;
      let page: Entry[];
      try {
        page = await this.vfs.readdir(ctx, ino, attrs, last, DIR_PAGE);
      } catch (e) {
        // readdirplus needs search permission too; a readable but unsearchable directory lists names only.
        if (!(attrs && e instanceof FsError && e.code === 'EACCES')) throw e;
        attrs = false;
        page = await this.vfs.readdir(ctx, ino, false, last, DIR_PAGE);
      }
      d.entries.push(...page);
      if (page.length < DIR_PAGE) d.done = true;
    }
    return { entries: d.entries.slice(off, want), first: off, size, plus, attrs };
  }
}

/** An xattr value for a caller that asked with `size`: its size alone for 0, ERANGE when it does not fit. */
function sized(b: Buffer, size: number): XattrReply {
  if (size === 0) return { size: b.length };
  if (b.length > size) throw new FsError('ERANGE');
  return b;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
