// FuseServer: answers the kernel's low-level FUSE requests with the VFS. The addon reads them on this thread
// (in batches, from the event loop) and dispatches them one by one; each is handled as its own promise and
// answered exactly once, in any order.
// Nothing here may call into the mount itself synchronously (the process would deadlock for good).
import { FsError, toFsError } from '../errors.js';
import {
  F_UNLCK,
  F_WRLCK,
  F_RDLCK,
  MODE_R,
  SET_ATIME,
  SET_ATIME_NOW,
  SET_GID,
  SET_MODE,
  SET_CTIME,
  SET_MTIME,
  SET_MTIME_NOW,
  SET_SIZE,
  SET_UID,
  TYPE_BLOCKDEV,
  TYPE_CHARDEV,
  TYPE_DIRECTORY,
  TYPE_FIFO,
  TYPE_FILE,
  TYPE_SOCKET,
  TYPE_SYMLINK,
  ROOT_INODE,
  type Attr,
  type Context,
  type Entry,
  type FileType,
} from '../meta/types.js';
import { O_EXCL, canWrite } from '../vfs/flags.js';
import type { VFS } from '../vfs/vfs.js';
import type { Dispatcher, FuseAddon, ReqHandle } from './addon.js';
import { OP, OPEN_KEEP_CACHE, OP_NAMES } from './ops.js';
import { RootMap } from './subdir.js';

const S_IFMT = 0o170000;
const IFMT: Record<number, number> = {
  [TYPE_FILE]: 0o100000,
  [TYPE_DIRECTORY]: 0o040000,
  [TYPE_SYMLINK]: 0o120000,
  [TYPE_FIFO]: 0o010000,
  [TYPE_BLOCKDEV]: 0o060000,
  [TYPE_CHARDEV]: 0o020000,
  [TYPE_SOCKET]: 0o140000,
};
const TYPE_OF_IFMT: Record<number, FileType> = Object.fromEntries(Object.entries(IFMT).map(([t, m]) => [m, Number(t) as FileType]));
const MAX_END = Number.MAX_SAFE_INTEGER;
const SET_KNOWN = 0x1ff | (1 << 10);
const DIR_PAGE = 4096;
const ENODATA = 61;
const ENOTSUP = 95;

export interface ServerOptions {
  attrTimeout: number;
  entryTimeout: number;
  dirEntryTimeout: number;
  log?: (line: string) => void;
  /** The volume directory served as the mount's root (--subdir); the volume root by default. */
  root?: RootMap;
}

interface DirHandle {
  ino: number;
  entries: Entry[];
  done: boolean;
}

export function attrArray(ino: number, a: Attr): Float64Array {
  const v = new Float64Array(13);
  v[0] = ino;
  v[1] = IFMT[a.type]! | (a.mode & 0o7777);
  v[2] = a.nlink;
  v[3] = a.uid;
  v[4] = a.gid;
  v[5] = a.rdev;
  v[6] = a.length;
  v[7] = a.atime;
  v[8] = a.atimensec;
  v[9] = a.mtime;
  v[10] = a.mtimensec;
  v[11] = a.ctime;
  v[12] = a.ctimensec;
  return v;
}

export class FuseServer {
  /** Requests handed to JS and not answered yet. */
  inflight = 0;
  private idle: Array<() => void> = [];
  private readonly dirs = new Map<number, DirHandle>();
  private nextDir = 1;
  /** What each inode looked like at its last open: an unchanged file keeps the kernel's page cache. */
  private readonly seen = new Map<number, string>();
  /** Inodes this mount took POSIX locks on: only their flushes must drop the closing process's locks. */
  private readonly locked = new Set<number>();
  onExit?: () => void;
  /** The last read queued per file handle. */
  private readonly reading = new Map<number, Promise<void>>();
  /** The loop ended: lock waits give up so the session can be destroyed. */
  private exiting = false;
  /** "inode\0name" of extended attributes known not to exist, until the attribute timeout. */
  private readonly noXattr = new Map<string, number>();
  /** Requests per operation code, when FERRY_FUSE_STATS is set (printed at unmount). */
  readonly counts: number[] | undefined = process.env.FERRY_FUSE_STATS ? [] : undefined;
  /** Milliseconds per operation code from dispatch to answer, with the counts. */
  readonly millis: number[] = [];
  readonly errors: Record<string, number> = {};
  private readonly map: RootMap;

  constructor(readonly vfs: VFS, private readonly addon: FuseAddon, private readonly opts: ServerOptions) {
    this.map = opts.root ?? new RootMap();
  }

  /** Kernel inode numbers in a request become volume inodes (only inode 1 differs, under --subdir). */
  private toVolume(op: number, a: unknown[]): void {
    const m = this.map;
    a[0] = m.toVolume(a[0] as number);
    if (op === OP.RENAME) a[2] = m.toVolume(a[2] as number);
    else if (op === OP.LINK) a[1] = m.toVolume(a[1] as number);
    else if (op === OP.COPY_FILE_RANGE) a[3] = m.toVolume(a[3] as number);
  }

  /** Attributes as the kernel sees them: st_ino in its numbering. */
  private attrs(ino: number, a: Attr): Float64Array {
    return attrArray(this.map.toKernel(ino), a);
  }

  readonly dispatch: Dispatcher = (op, req, raw, ...args) => {
    if (op === OP.EXIT) {
      this.exiting = true;
      this.onExit?.();
      return;
    }
    const ctx: Context = {
      uid: raw.uid,
      gid: raw.gid,
      gids: raw.gids.length ? raw.gids : [raw.gid],
      pid: raw.pid,
      umask: 0, // the kernel applied the caller's umask already
      checkPermission: true,
    };
    if (this.map.isSubdir) this.toVolume(op, args);
    this.inflight++;
    const t0 = this.counts ? performance.now() : 0;
    if (this.counts) this.counts[op] = (this.counts[op] ?? 0) + 1;
    // Promise.resolve().then: even a synchronous throw becomes an answered error, never a dead daemon.
    Promise.resolve()
      .then(() => this.handle(op, req, ctx, args))
      .catch((e) => this.fail(op, req, e))
      .finally(() => {
        if (this.counts) this.millis[op] = (this.millis[op] ?? 0) + performance.now() - t0;
        if (--this.inflight === 0) for (const f of this.idle.splice(0)) f();
      });
  };

  stats(): string {
    if (!this.counts) return '';
    const ops = this.counts.map((c, i) => (c ? `${OP_NAMES[i]}=${c}/${Math.round(this.millis[i] ?? 0)}ms` : '')).filter(Boolean).join(' ');
    const errs = Object.entries(this.errors).map(([k, v]) => `${k}=${v}`).join(' ');
    return `requests (count/time answering): ${ops}; errors: ${errs || 'none'}`;
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
      this.addon.replyErr(req, err.sysErrno || 5);
    } catch {
      // already answered before the error: nothing more to say to the kernel
    }
  }

  /** An expected error answered without building an Error; counted like fail() does. */
  private quickErr(op: number, req: ReqHandle, errno: number, code: string): void {
    if (this.counts) this.errors[`${OP_NAMES[op]}:${code}`] = (this.errors[`${OP_NAMES[op]}:${code}`] ?? 0) + 1;
    this.addon.replyErr(req, errno);
  }

  private entry(req: ReqHandle, ino: number, attr: Attr): void {
    const et = attr.type === TYPE_DIRECTORY ? this.opts.dirEntryTimeout : this.opts.entryTimeout;
    this.addon.replyEntry(req, this.map.toKernel(ino), this.attrs(ino, attr), this.opts.attrTimeout, et);
  }

  private openBits(ino: number, attr: Attr): number {
    const sig = `${attr.mtime}.${attr.mtimensec}:${attr.length}`;
    const keep = this.seen.get(ino) === sig;
    this.seen.set(ino, sig);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value as number);
    return keep ? OPEN_KEEP_CACHE : 0;
  }

  private owner(o: unknown): string {
    return `fuse:${String(o)}`;
  }

  private async handle(op: number, req: ReqHandle, ctx: Context, a: unknown[]): Promise<void> {
    const A = this.addon;
    const vfs = this.vfs;
    const n = (i: number) => a[i] as number;
    const s = (i: number) => a[i] as string;
    switch (op) {
      case OP.LOOKUP: {
        const root = this.map.root;
        // Under --subdir, ".." of the mount's root is the root itself, and the volume root is never answered
        // (it would alias the mount's root; only a directory moved out of the subdir leads there).
        if (n(0) === root && s(1) === '..') return this.entry(req, root, await vfs.getattr(ctx, root));
        const r = await vfs.lookup(ctx, n(0), s(1));
        if (this.map.isSubdir && r.inode === ROOT_INODE) throw new FsError('EACCES');
        return this.entry(req, r.inode, r.attr);
      }
      case OP.GETATTR: {
        const attr = await vfs.getattr(ctx, n(0));
        return A.replyAttr(req, this.attrs(n(0), attr), this.opts.attrTimeout);
      }
      case OP.SETATTR: {
        const ino = n(0);
        const v = a[2] as Float64Array;
        const fh = n(3);
        let set = n(1) & SET_KNOWN;
        // The kernel sends ATIME|ATIME_NOW for "now"; the VFS reads ATIME as "explicit time" (owner only).
        if (set & SET_ATIME_NOW) set &= ~SET_ATIME;
        if (set & SET_MTIME_NOW) set &= ~SET_MTIME;
        const attr: Partial<Attr> = {
          mode: v[0]!,
          uid: v[1]!,
          gid: v[2]!,
          length: v[3]!,
          atime: v[4]!,
          atimensec: v[5]!,
          mtime: v[6]!,
          mtimensec: v[7]!,
        };
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
          const r = await vfs.writebackTimes(ctx, ino, attr as Pick<Attr, 'mtime' | 'mtimensec'>);
          if (r) return A.replyAttr(req, this.attrs(ino, r), this.opts.attrTimeout);
        }
        const r = await vfs.setattr(c, ino, set, attr);
        return A.replyAttr(req, this.attrs(ino, r), this.opts.attrTimeout);
      }
      case OP.READLINK:
        return A.replyReadlink(req, await vfs.readlink(ctx, n(0)));
      case OP.MKNOD: {
        const mode = n(2);
        const type = TYPE_OF_IFMT[mode & S_IFMT] ?? TYPE_FILE;
        const r = await vfs.mknod(ctx, n(0), s(1), type, mode & 0o7777, n(3));
        return this.entry(req, r.inode, r.attr);
      }
      case OP.MKDIR: {
        const r = await vfs.mkdir(ctx, n(0), s(1), n(2) & 0o7777);
        return this.entry(req, r.inode, r.attr);
      }
      case OP.UNLINK:
        await vfs.unlink(ctx, n(0), s(1));
        return A.replyErr(req, 0);
      case OP.RMDIR:
        await vfs.rmdir(ctx, n(0), s(1));
        return A.replyErr(req, 0);
      case OP.SYMLINK: {
        const r = await vfs.symlink(ctx, n(0), s(1), s(2));
        return this.entry(req, r.inode, r.attr);
      }
      case OP.RENAME:
        await vfs.rename(ctx, n(0), s(1), n(2), s(3), n(4));
        return A.replyErr(req, 0);
      case OP.LINK: {
        const attr = await vfs.link(ctx, n(0), n(1), s(2));
        return this.entry(req, n(0), attr);
      }
      case OP.OPEN: {
        const ino = n(0);
        const r = await vfs.open(ctx, ino, n(1));
        if (!A.replyOpen(req, r.fh, this.openBits(ino, r.attr))) await vfs.release(ctx, r.fh);
        return;
      }
      case OP.CREATE: {
        const [parent, name, mode, flags] = [n(0), s(1), n(2), n(3)];
        let r: { inode: number; attr: Attr; fh: number };
        try {
          r = await vfs.create(ctx, parent, name, mode & 0o7777, flags);
        } catch (e) {
          // Lost a race with another client creating the name: without O_EXCL, open what is there.
          if (!(e instanceof FsError && e.code === 'EEXIST') || flags & O_EXCL) throw e;
          const l = await vfs.lookup(ctx, parent, name);
          const o = await vfs.open(ctx, l.inode, flags);
          r = { inode: l.inode, attr: o.attr, fh: o.fh };
        }
        this.openBits(r.inode, r.attr);
        const et = this.opts.entryTimeout;
        if (!A.replyCreate(req, this.map.toKernel(r.inode), this.attrs(r.inode, r.attr), this.opts.attrTimeout, et, r.fh, 0)) await vfs.release(ctx, r.fh);
        return;
      }
      case OP.READ: {
        // One read at a time per handle, in arrival order: the kernel's async read-ahead sends several at
        // once, and the VFS reader detects sequential access (and prefetches itself) only if it sees them in order.
        const fh = n(1);
        const prev = this.reading.get(fh) ?? Promise.resolve();
        const mine = prev.then(() => vfs.read(ctx, fh, n(3), n(2)));
        const tail = mine.then(
          () => undefined,
          () => undefined,
        );
        this.reading.set(fh, tail);
        try {
          return A.replyBuf(req, await mine);
        } finally {
          if (this.reading.get(fh) === tail) this.reading.delete(fh);
        }
      }
      case OP.WRITE:
        return A.replyWrite(req, await vfs.write(ctx, n(1), n(3), a[2] as Buffer));
      case OP.FLUSH: {
        const ino = n(0);
        let err: unknown;
        await vfs.flush(ctx, n(1)).catch((e) => (err = e));
        // close() drops the process's POSIX locks on the file, whichever descriptor took them.
        if (this.locked.has(ino)) await vfs.setlk(ctx, n(1), false, F_UNLCK, 0, MAX_END, ctx.pid, this.owner(a[2]));
        if (err) throw err;
        return A.replyErr(req, 0);
      }
      case OP.RELEASE: {
        const fh = n(1);
        if (n(4)) await vfs.flock(ctx, fh, F_UNLCK, false).catch(() => undefined);
        try {
          await vfs.release(ctx, fh);
        } catch (e) {
          // The kernel ignores release errors; the data loss must at least be logged.
          this.opts.log?.(`release of inode ${n(0)}: ${(e as Error).message}`);
        }
        return A.replyErr(req, 0);
      }
      case OP.FSYNC:
        await vfs.fsync(ctx, n(1));
        return A.replyErr(req, 0);
      case OP.OPENDIR: {
        const ino = n(0);
        const attr = await vfs.getattr(ctx, ino);
        if (attr.type !== TYPE_DIRECTORY) throw new FsError('ENOTDIR');
        await vfs.access(ctx, ino, MODE_R);
        const fh = this.nextDir++;
        this.dirs.set(fh, { ino, entries: [], done: false });
        A.replyOpen(req, fh, 0);
        return;
      }
      case OP.READDIR:
      case OP.READDIRPLUS:
        return this.readdir(req, ctx, n(0), n(1), n(2), n(3), op === OP.READDIRPLUS);
      case OP.RELEASEDIR:
        this.dirs.delete(n(1));
        return A.replyErr(req, 0);
      case OP.STATFS: {
        const st = await vfs.statfs(ctx, n(0));
        const bs = 4096;
        const v = new Float64Array(9);
        v[0] = bs;
        v[1] = bs;
        v[2] = Math.floor(st.totalSpace / bs);
        v[3] = Math.floor(st.availSpace / bs);
        v[4] = Math.floor(st.availSpace / bs);
        v[5] = st.usedInodes + st.availInodes;
        v[6] = st.availInodes;
        v[7] = st.availInodes;
        v[8] = 255;
        return A.replyStatfs(req, v);
      }
      case OP.SETXATTR:
        if (s(1).startsWith('system.posix_acl_')) throw new FsError('ENOTSUP');
        this.noXattr.delete(`${n(0)}\0${s(1)}`);
        await vfs.setxattr(ctx, n(0), s(1), a[2] as Buffer, n(3));
        return A.replyErr(req, 0);
      case OP.GETXATTR: {
        // The kernel asks for security.capability before every write, and ls -l for ACLs and SELinux labels
        // of every file: a recent "no such attribute" is answered from memory, not by a metadata round trip.
        // POSIX ACLs are not implemented (the mount does not negotiate FUSE_POSIX_ACL): say so, as a file
        // system without ACL support does, without a metadata round trip for each `ls -l` entry.
        // Both answered with a bare errno: an FsError (with its stack trace) per write() was a real cost.
        if (s(1).startsWith('system.posix_acl_')) return this.quickErr(op, req, ENOTSUP, 'ENOTSUP');
        const key = `${n(0)}\0${s(1)}`;
        if (vfs.knownWithoutXattrs(n(0)) || (this.noXattr.get(key) ?? 0) > performance.now()) return this.quickErr(op, req, ENODATA, 'ENODATA');
        try {
          return this.sized(req, await vfs.getxattr(ctx, n(0), s(1)), n(2));
        } catch (e) {
          if (e instanceof FsError && e.code === 'ENODATA') this.rememberNoXattr(key);
          throw e;
        }
      }
      case OP.LISTXATTR: {
        const names = await vfs.listxattr(ctx, n(0));
        return this.sized(req, Buffer.from(names.map((x) => x + '\0').join('')), n(1));
      }
      case OP.REMOVEXATTR:
        if (s(1).startsWith('system.posix_acl_')) throw new FsError('ENOTSUP');
        await vfs.removexattr(ctx, n(0), s(1));
        return A.replyErr(req, 0);
      case OP.ACCESS:
        await vfs.access(ctx, n(0), n(1) & 7);
        return A.replyErr(req, 0);
      case OP.GETLK: {
        const [type, start, len] = [n(3), n(4), n(5)];
        const end = len === 0 ? MAX_END : start + len - 1;
        const lt = (type === F_WRLCK ? F_WRLCK : F_RDLCK) as 0 | 1;
        const r = await vfs.getlk(ctx, n(1), { type: lt, start, end, pid: n(6) }, this.owner(a[2]));
        if (!r) return A.replyLock(req, F_UNLCK, start, len, 0);
        return A.replyLock(req, r.type, r.start, r.end >= MAX_END ? 0 : r.end - r.start + 1, r.pid);
      }
      case OP.SETLK: {
        const [ino, fh, type, start, len, pid, sleep] = [n(0), n(1), n(3), n(4), n(5), n(6), n(7)];
        const end = len === 0 ? MAX_END : start + len - 1;
        if (type !== F_UNLCK) this.locked.add(ino);
        const owner = this.owner(a[2]);
        await this.lockWait(req, sleep !== 0, () => vfs.setlk(ctx, fh, false, type, start, end, pid || ctx.pid, owner));
        return A.replyErr(req, 0);
      }
      case OP.FLOCK: {
        const o = n(3);
        const type = o & 8 ? F_UNLCK : o & 2 ? F_WRLCK : F_RDLCK;
        await this.lockWait(req, !(o & 4), () => vfs.flock(ctx, n(1), type, false));
        return A.replyErr(req, 0);
      }
      case OP.FALLOCATE:
        await vfs.fallocate(ctx, n(1), n(2), n(3), n(4));
        return A.replyErr(req, 0);
      case OP.COPY_FILE_RANGE: {
        const copied = await vfs.copyFileRange(ctx, n(1), n(2), n(4), n(5), n(6));
        return A.replyWrite(req, copied);
      }
      case OP.LSEEK: {
        // Holes read as zeros and are not tracked apart: all of a file is data, its end the only hole.
        const [ino, off, whence] = [n(0), n(2), n(3)];
        const attr = await vfs.getattr(ctx, ino);
        if (whence !== 3 && whence !== 4) throw new FsError('EINVAL');
        if (off < 0 || off >= attr.length) throw new FsError('ENXIO');
        return A.replyLseek(req, whence === 3 ? off : attr.length);
      }
      default:
        throw new FsError('ENOSYS');
    }
  }

  /**
   * A blocking lock as a loop of non-blocking attempts, so a signal to the waiting process (EINTR) or the
   * end of the mount stops the wait; no lock is ever granted after the caller gave up.
   */
  private async lockWait(req: ReqHandle, block: boolean, attempt: () => Promise<void>): Promise<void> {
    for (let wait = 1; ; wait = Math.min(wait * 2, 100)) {
      try {
        return await attempt();
      } catch (e) {
        if (!block || !(e instanceof FsError && e.code === 'EAGAIN')) throw e;
      }
      if (this.exiting || this.addon.interrupted(req)) throw new FsError('EINTR');
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private rememberNoXattr(key: string): void {
    if (this.opts.attrTimeout <= 0) return;
    if (this.noXattr.size > 100_000) this.noXattr.clear();
    this.noXattr.set(key, performance.now() + this.opts.attrTimeout * 1000);
  }

  private sized(req: ReqHandle, b: Buffer, size: number): void {
    if (size === 0) return this.addon.replyXattrSize(req, b.length);
    if (b.length > size) throw new FsError('ERANGE');
    return this.addon.replyBuf(req, b);
  }

  /** Offsets are indexes into the handle's listing, loaded page by page and restarted at offset 0. */
  private async readdir(req: ReqHandle, ctx: Context, ino: number, fh: number, size: number, off: number, plus: boolean): Promise<void> {
    let d = this.dirs.get(fh);
    if (!d) {
      d = { ino, entries: [], done: false };
      this.dirs.set(fh, d);
    }
    if (off === 0) {
      const attr = await this.vfs.getattr(ctx, ino);
      const self = { inode: ino, name: '.', attr } as Entry;
      const up = { inode: ino === this.map.root ? ino : attr.parent || ROOT_INODE, name: '..', attr } as Entry;
      d.entries = [self, up];
      d.done = false;
    }
    // Roughly what fits in the kernel's buffer: at least 24 bytes per entry, ~150 with attributes.
    const want = off + Math.ceil(size / (plus ? 120 : 24)) + 1;
    let withAttrs = plus;
    while (!d.done && d.entries.length < want) {
      const last = d.entries.length > 2 ? d.entries[d.entries.length - 1]!.name : undefined;
      let page: Entry[];
      try {
        page = await this.vfs.readdir(ctx, ino, withAttrs, last, DIR_PAGE);
      } catch (e) {
        // readdirplus needs search permission too; a readable but unsearchable directory lists names only.
        if (!(withAttrs && e instanceof FsError && e.code === 'EACCES')) throw e;
        withAttrs = false;
        page = await this.vfs.readdir(ctx, ino, false, last, DIR_PAGE);
      }
      d.entries.push(...page);
      if (page.length < DIR_PAGE) d.done = true;
    }
    const slice = d.entries.slice(off, want);
    const stride = plus ? 15 : 3;
    const nums = new Float64Array(slice.length * stride);
    const names: string[] = [];
    const k = (v: number) => this.map.toKernel(v);
    slice.forEach((e, i) => {
      const p = i * stride;
      names.push(e.name);
      const dot = off + i < 2;
      const full = plus && !dot && withAttrs && e.attr && e.attr.nlink !== undefined;
      if (plus) {
        nums[p] = full ? k(e.inode) : 0;
        nums[p + 1] = off + i + 1;
        if (full) nums.set(this.attrs(e.inode, e.attr), p + 2);
        else {
          nums[p + 2] = k(e.inode);
          nums[p + 3] = IFMT[e.attr?.type ?? TYPE_FILE]!;
        }
      } else {
        nums[p] = k(e.inode);
        nums[p + 1] = off + i + 1;
        nums[p + 2] = IFMT[e.attr?.type ?? TYPE_FILE]!;
      }
    });
    this.addon.replyDir(req, size, plus, names, nums, this.opts.attrTimeout, this.opts.entryTimeout);
  }
}
