// What a request handler returns, per reply kind (abi.json names the kind of each op), and how each kind
// is sent to the kernel through the addon. Inode numbers here are the volume's: they are mapped to the
// kernel's (--subdir) on the way out.
import { TYPE_DIRECTORY, TYPE_FILE, type Attr, type Entry, type StatFs } from '../meta/types.js';
import { ATTR, DIRENT, DIRENTPLUS, OPEN_BITS, STATFS, type ReplyKind } from './abi.gen.js';
import type { FuseAddon, ReqHandle } from './addon.js';
import { IFMT_OF_TYPE, PERMISSION_BITS } from './posix.js';
import { statfsBlocks } from '../vfs/stat.js';
import type { RootMap } from './subdir.js';

export interface NodeReply {
  inode: number;
  attr: Attr;
}

export interface OpenReply {
  fh: number;
  /** The file is unchanged since its last open: the kernel keeps its page cache. */
  keepCache?: boolean;
  /** Called when the caller was interrupted before the reply: the kernel will never release `fh`. */
  abandoned?(): unknown;
}

export type CreateReply = NodeReply & OpenReply;

/** An attribute value or name list, or only its size when the caller asked with size 0. */
export type XattrReply = Buffer | { size: number };

export interface LockReply {
  type: number;
  start: number;
  /** 0: to the end of the file. */
  len: number;
  pid: number;
}

export interface DirReply {
  /** Entries from offset `first` of the listing ("." and ".." are offsets 0 and 1). */
  entries: Entry[];
  first: number;
  /** The kernel's buffer size. */
  size: number;
  plus: boolean;
  /** The entries carry full attributes (readdirplus answers them as lookups). */
  attrs: boolean;
}

export interface Replies {
  ok: void;
  entry: NodeReply;
  attr: NodeReply;
  readlink: string;
  open: OpenReply;
  create: CreateReply;
  data: Buffer;
  written: number;
  xattr: XattrReply;
  statfs: StatFs;
  lock: LockReply;
  offset: number;
  dir: DirReply;
}

export interface Timeouts {
  attrTimeout: number;
  entryTimeout: number;
  dirEntryTimeout: number;
}

const NAME_MAX = 255;

/** The attr layout of abi.json for a volume inode known to the kernel as `kernelIno`. */
export function attrArray(kernelIno: number, a: Attr, into = new Float64Array(ATTR.LEN), at = 0): Float64Array {
  into[at + ATTR.ino] = kernelIno;
  into[at + ATTR.mode] = IFMT_OF_TYPE[a.type] | (a.mode & PERMISSION_BITS);
  into[at + ATTR.nlink] = a.nlink;
  into[at + ATTR.uid] = a.uid;
  into[at + ATTR.gid] = a.gid;
  into[at + ATTR.rdev] = a.rdev;
  into[at + ATTR.size] = a.length;
  into[at + ATTR.atime] = a.atime;
  into[at + ATTR.atimensec] = a.atimensec;
  into[at + ATTR.mtime] = a.mtime;
  into[at + ATTR.mtimensec] = a.mtimensec;
  into[at + ATTR.ctime] = a.ctime;
  into[at + ATTR.ctimensec] = a.ctimensec;
  return into;
}

function openBits(r: OpenReply): number {
  return r.keepCache ? OPEN_BITS.keepCache : 0;
}

type Senders = { [K in ReplyKind]: (req: ReqHandle, v: Replies[K]) => void };

/** Sends replies of every kind; `send[kind]` is looked up per request. */
export class Replier {
  readonly send: Senders;

  constructor(addon: FuseAddon, map: RootMap, t: Timeouts) {
    const A = addon;
    const attrs = (r: NodeReply) => attrArray(map.toKernel(r.inode), r.attr);
    const entryTimeout = (a: Attr) => (a.type === TYPE_DIRECTORY ? t.dirEntryTimeout : t.entryTimeout);
    const opened = (done: boolean, r: OpenReply) => {
      if (!done) r.abandoned?.();
    };
    this.send = {
      ok: (req) => A.replyErr(req, 0),
      entry: (req, r) => A.replyEntry(req, map.toKernel(r.inode), attrs(r), t.attrTimeout, entryTimeout(r.attr)),
      attr: (req, r) => A.replyAttr(req, attrs(r), t.attrTimeout),
      readlink: (req, target) => A.replyReadlink(req, target),
      open: (req, r) => opened(A.replyOpen(req, r.fh, openBits(r)), r),
      create: (req, r) => opened(A.replyCreate(req, map.toKernel(r.inode), attrs(r), t.attrTimeout, t.entryTimeout, r.fh, openBits(r)), r),
      data: (req, b) => A.replyBuf(req, b),
      written: (req, n) => A.replyWrite(req, n),
      xattr: (req, x) => (Buffer.isBuffer(x) ? A.replyBuf(req, x) : A.replyXattrSize(req, x.size)),
      statfs: (req, st) => {
        // The same counts the SDK's statfs reports (vfs/stat.ts).
        const b = statfsBlocks(st);
        const v = new Float64Array(STATFS.LEN);
        v[STATFS.bsize] = b.bsize;
        v[STATFS.frsize] = b.bsize;
        v[STATFS.blocks] = b.blocks;
        v[STATFS.bfree] = b.bfree;
        v[STATFS.bavail] = b.bavail;
        v[STATFS.files] = b.files;
        v[STATFS.ffree] = b.ffree;
        v[STATFS.favail] = b.ffree;
        v[STATFS.namemax] = NAME_MAX;
        A.replyStatfs(req, v);
      },
      lock: (req, l) => A.replyLock(req, l.type, l.start, l.len, l.pid),
      offset: (req, off) => A.replyLseek(req, off),
      dir: (req, d) => {
        const stride = d.plus ? DIRENTPLUS.LEN : DIRENT.LEN;
        const nums = new Float64Array(d.entries.length * stride);
        const names: string[] = [];
        d.entries.forEach((e, i) => {
          const p = i * stride;
          const kino = map.toKernel(e.inode);
          const typeBits = IFMT_OF_TYPE[e.attr?.type ?? TYPE_FILE];
          names.push(e.name);
          if (!d.plus) {
            nums[p + DIRENT.ino] = kino;
            nums[p + DIRENT.next] = d.first + i + 1;
            nums[p + DIRENT.mode] = typeBits;
            return;
          }
          // "." and ".." and entries without attributes carry no lookup (entry inode 0): type only.
          const dot = d.first + i < 2;
          const full = !dot && d.attrs && e.attr && e.attr.nlink !== undefined;
          nums[p + DIRENTPLUS.entryIno] = full ? kino : 0;
          nums[p + DIRENTPLUS.next] = d.first + i + 1;
          if (full) attrArray(kino, e.attr, nums, p + DIRENTPLUS.attr);
          else {
            nums[p + DIRENTPLUS.attr + ATTR.ino] = kino;
            nums[p + DIRENTPLUS.attr + ATTR.mode] = typeBits;
          }
        });
        A.replyDir(req, d.size, d.plus, names, nums, t.attrTimeout, t.entryTimeout);
      },
    };
  }
}
