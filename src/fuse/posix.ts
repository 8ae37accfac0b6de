// The POSIX and Linux numbers requests carry through FUSE unchanged, named once for the server.
import { constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import {
  SET_ATIME,
  SET_ATIME_NOW,
  SET_CTIME,
  SET_GID,
  SET_MODE,
  SET_MTIME,
  SET_MTIME_NOW,
  SET_SIZE,
  SET_UID,
} from '../meta/types.js';

/** Linux errno numbers the server answers with directly. */
export const EIO = constants.errno.EIO;
export const ENOSYS = constants.errno.ENOSYS;

/** st_mode's permission bits (with setuid, setgid, sticky); the file type bits are vfs/stat.ts's, shared with the SDK. */
export const PERMISSION_BITS = 0o7777;
export { IFMT as IFMT_OF_TYPE, S_IFMT, TYPE_OF_IFMT } from '../vfs/stat.js';

/** access(2) mask bits (R_OK | W_OK | X_OK). */
export const ACCESS_MASK = fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK;

/** flock(2) operations. */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** lseek(2) whence values FUSE forwards (SEEK_SET/CUR/END are handled by the kernel). */
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/**
 * FUSE_SET_ATTR_* bits the VFS understands (the same numbers as SET_* in meta/types.ts). The others
 * (FORCE, KILL_SUID/SGID, FILE, TIMES_SET, ...) are dropped: KILL_SUID's bit is the VFS's SET_FLAGS.
 */
export const FUSE_SETATTR_KNOWN =
  SET_MODE | SET_UID | SET_GID | SET_SIZE | SET_ATIME | SET_MTIME | SET_ATIME_NOW | SET_MTIME_NOW | SET_CTIME;

/** A lock range's end when the request's length is 0 ("to the end of the file"). */
export const LOCK_TO_EOF = Number.MAX_SAFE_INTEGER;
