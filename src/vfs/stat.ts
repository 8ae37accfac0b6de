// The POSIX shapes of attributes that every door reports alike: st_mode's file type bits and statfs's block
// counts (the SDK's Stats/statfs and the FUSE replies are built from the same tables).
import { TYPE_BLOCKDEV, TYPE_CHARDEV, TYPE_DIRECTORY, TYPE_FIFO, TYPE_FILE, TYPE_SOCKET, TYPE_SYMLINK, type Attr, type FileType, type StatFs } from '../meta/types.js';

/** The file type bits of st_mode. */
export const S_IFMT = 0o170000;

/** st_mode's type bits of each file type. */
export const IFMT: Record<FileType, number> = {
  [TYPE_FILE]: 0o100000,
  [TYPE_DIRECTORY]: 0o040000,
  [TYPE_SYMLINK]: 0o120000,
  [TYPE_FIFO]: 0o010000,
  [TYPE_BLOCKDEV]: 0o060000,
  [TYPE_CHARDEV]: 0o020000,
  [TYPE_SOCKET]: 0o140000,
};

/** The file type of st_mode's type bits (mknod's mode). */
export const TYPE_OF_IFMT: Record<number, FileType> = Object.fromEntries(Object.entries(IFMT).map(([t, m]) => [m, Number(t) as FileType]));

/** st_mode: file type bits plus permission bits. */
export function modeOf(a: Pick<Attr, 'type' | 'mode'>): number {
  return IFMT[a.type] | (a.mode & 0o7777);
}

/** The block size statfs reports sizes in. */
export const STATFS_BSIZE = 4096;

/** statfs(2)'s counts of a volume: sizes in STATFS_BSIZE blocks, and inodes. */
export function statfsBlocks(s: StatFs): { bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number } {
  const bsize = STATFS_BSIZE;
  return {
    bsize,
    blocks: Math.floor(s.totalSpace / bsize),
    bfree: Math.floor(s.availSpace / bsize),
    bavail: Math.floor(s.availSpace / bsize),
    files: s.usedInodes + s.availInodes,
    ffree: s.availInodes,
  };
}
