// Stats and Dirent shaped like node:fs's, built from FerryFS attributes.
import { TYPE_BLOCKDEV, TYPE_CHARDEV, TYPE_DIRECTORY, TYPE_FIFO, TYPE_FILE, TYPE_SOCKET, TYPE_SYMLINK, type Attr, type FileType } from '../meta/types.js';
import { modeOf } from '../vfs/stat.js';

class TypeTests {
  constructor(protected readonly ftype: FileType) {}
  isFile(): boolean {
    return this.ftype === TYPE_FILE;
  }
  isDirectory(): boolean {
    return this.ftype === TYPE_DIRECTORY;
  }
  isSymbolicLink(): boolean {
    return this.ftype === TYPE_SYMLINK;
  }
  isFIFO(): boolean {
    return this.ftype === TYPE_FIFO;
  }
  isBlockDevice(): boolean {
    return this.ftype === TYPE_BLOCKDEV;
  }
  isCharacterDevice(): boolean {
    return this.ftype === TYPE_CHARDEV;
  }
  isSocket(): boolean {
    return this.ftype === TYPE_SOCKET;
  }
}

const ms = (sec: number, nsec: number) => sec * 1000 + nsec / 1e6;

export class Stats extends TypeTests {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blksize = 4096;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;
  readonly birthtime: Date;
  /** Nanosecond timestamps, exact. */
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;

  constructor(ino: number, a: Attr, dev = 0) {
    super(a.type);
    this.dev = dev;
    this.ino = ino;
    this.mode = modeOf(a);
    this.nlink = a.nlink;
    this.uid = a.uid;
    this.gid = a.gid;
    this.rdev = a.rdev;
    this.size = a.length;
    this.blocks = Math.ceil(a.length / 512);
    this.atimeMs = ms(a.atime, a.atimensec);
    this.mtimeMs = ms(a.mtime, a.mtimensec);
    this.ctimeMs = ms(a.ctime, a.ctimensec);
    this.birthtimeMs = this.ctimeMs;
    this.atime = new Date(this.atimeMs);
    this.mtime = new Date(this.mtimeMs);
    this.ctime = new Date(this.ctimeMs);
    this.birthtime = new Date(this.birthtimeMs);
    this.atimeNs = BigInt(a.atime) * 1_000_000_000n + BigInt(a.atimensec);
    this.mtimeNs = BigInt(a.mtime) * 1_000_000_000n + BigInt(a.mtimensec);
    this.ctimeNs = BigInt(a.ctime) * 1_000_000_000n + BigInt(a.ctimensec);
  }
}

export class Dirent extends TypeTests {
  constructor(readonly name: string, type: FileType, readonly path: string) {
    super(type);
  }
  get parentPath(): string {
    return this.path;
  }
}

/** statfs() in node:fs's StatFs shape (block counts in 4 KiB blocks). */
export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}
