// Helpers for building and stamping attributes.
import { TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Attr, type FileType } from './types.js';

export interface Stamp {
  sec: number;
  nsec: number;
}

export function stamp(d: Date | number = Date.now()): Stamp {
  const ms = typeof d === 'number' ? d : d.getTime();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.round((ms - sec * 1000) * 1e6) };
}

export function setMtime(a: Attr, t: Stamp): void {
  a.mtime = t.sec;
  a.mtimensec = t.nsec;
}

export function setCtime(a: Attr, t: Stamp): void {
  a.ctime = t.sec;
  a.ctimensec = t.nsec;
}

export function setAtime(a: Attr, t: Stamp): void {
  a.atime = t.sec;
  a.atimensec = t.nsec;
}

/** mtime and ctime, as every change of a directory's entries does. */
export function touch(a: Attr, t: Stamp): void {
  setMtime(a, t);
  setCtime(a, t);
}

export function newAttr(type: FileType, mode: number, uid: number, gid: number, parent: number, t: Stamp): Attr {
  return {
    type,
    mode,
    uid,
    gid,
    atime: t.sec,
    atimensec: t.nsec,
    mtime: t.sec,
    mtimensec: t.nsec,
    ctime: t.sec,
    ctimensec: t.nsec,
    nlink: type === TYPE_DIRECTORY ? 2 : 1,
    length: type === TYPE_DIRECTORY ? 4096 : 0,
    rdev: 0,
    parent,
    flags: 0,
  };
}

/** Space accounting rounds each inode up to 4 KiB, like a local file system's blocks. */
export function align4k(n: number): number {
  return n <= 0 ? 0 : Math.ceil(n / 4096) * 4096;
}

export function spaceOf(a: Attr): number {
  return a.type === TYPE_FILE || a.type === TYPE_DIRECTORY || a.type === TYPE_SYMLINK ? align4k(a.length) : 0;
}
