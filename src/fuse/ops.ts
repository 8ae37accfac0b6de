// Operation codes shared with src/fuse/native/ferry_fuse.cc (enum Op): keep both lists in the same order.
export const OP = {
  EXIT: 0,
  LOOKUP: 1,
  GETATTR: 2,
  SETATTR: 3,
  READLINK: 4,
  MKNOD: 5,
  MKDIR: 6,
  UNLINK: 7,
  RMDIR: 8,
  SYMLINK: 9,
  RENAME: 10,
  LINK: 11,
  OPEN: 12,
  READ: 13,
  WRITE: 14,
  FLUSH: 15,
  RELEASE: 16,
  FSYNC: 17,
  OPENDIR: 18,
  READDIR: 19,
  RELEASEDIR: 20,
  STATFS: 21,
  SETXATTR: 22,
  GETXATTR: 23,
  LISTXATTR: 24,
  REMOVEXATTR: 25,
  ACCESS: 26,
  CREATE: 27,
  GETLK: 28,
  SETLK: 29,
  FLOCK: 30,
  FALLOCATE: 31,
  COPY_FILE_RANGE: 32,
  LSEEK: 33,
  READDIRPLUS: 34,
  INTERRUPT: 35,
} as const;

export const OP_NAMES: string[] = Object.entries(OP)
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.toLowerCase());

// fuse_file_info bits for replyOpen/replyCreate (the addon also maps 1 direct_io, 4 nonseekable, 8 cache_readdir;
// nothing sets them yet).
export const OPEN_KEEP_CACHE = 2;
