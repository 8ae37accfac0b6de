// One error class for every layer, shaped like node:fs errors so SDK users can
// test `err.code === 'ENOENT'`, and carrying the Linux errno that FUSE replies with.
import { constants } from 'node:os';

const ERRNO = constants.errno as Record<string, number>;

/** Error codes FerryFS raises, each with the Linux errno number and a node:fs-style description. */
export const ERRNO_MESSAGES: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EIO: 'i/o error',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  EACCES: 'permission denied',
  EBUSY: 'resource busy or locked',
  EEXIST: 'file already exists',
  EXDEV: 'cross-device link not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EMLINK: 'too many links',
  ERANGE: 'result too large',
  EDEADLK: 'resource deadlock would occur',
  ENAMETOOLONG: 'name too long',
  ENOLCK: 'no locks available',
  ENOSYS: 'function not implemented',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many symbolic links encountered',
  ENODATA: 'no data available',
  ENOTSUP: 'operation not supported',
  EOPNOTSUPP: 'operation not supported on socket',
  ETIMEDOUT: 'connection timed out',
  ECONNREFUSED: 'connection refused',
  EDQUOT: 'disk quota exceeded',
  ESTALE: 'stale file handle',
  ECANCELED: 'operation canceled',
};

export type ErrnoCode = keyof typeof ERRNO_MESSAGES | string;

export class FsError extends Error {
  readonly code: string;
  /** Negative like node:fs errors (`-2` for ENOENT). */
  readonly errno: number;
  syscall?: string;
  path?: string;
  dest?: string;
  /** The description without code/syscall/path, kept so context can be added later. */
  readonly description: string;

  constructor(code: ErrnoCode, opts: { syscall?: string; path?: string; dest?: string; message?: string; cause?: unknown } = {}) {
    const desc = opts.message ?? ERRNO_MESSAGES[code] ?? 'error';
    let msg = `${code}: ${desc}`;
    if (opts.syscall) msg += `, ${opts.syscall}`;
    if (opts.path !== undefined) msg += ` '${opts.path}'`;
    if (opts.dest !== undefined) msg += ` -> '${opts.dest}'`;
    super(msg, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'FsError';
    this.description = desc;
    this.code = code;
    this.errno = -(ERRNO[code] ?? ERRNO.EIO);
    if (opts.syscall) this.syscall = opts.syscall;
    if (opts.path !== undefined) this.path = opts.path;
    if (opts.dest !== undefined) this.dest = opts.dest;
  }

  /** Positive errno for FUSE replies. */
  get sysErrno(): number {
    return -this.errno;
  }

  /** A copy with syscall/path filled in where the lower layer did not know them. */
  withContext(syscall: string, path?: string, dest?: string): FsError {
    if (this.syscall && this.path !== undefined) return this;
    const e = new FsError(this.code, {
      syscall: this.syscall ?? syscall,
      path: this.path ?? path,
      dest: this.dest ?? dest,
      message: this.description,
      cause: this.cause,
    });
    if (this.stack) e.stack = this.stack;
    return e;
  }
}

/** Shorthand used all over: `throw fsErr('ENOENT')`. */
export function fsErr(code: ErrnoCode, message?: string): FsError {
  return new FsError(code, message !== undefined ? { message } : {});
}

export function isFsError(e: unknown, code?: string): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}

/** Turns any error (node:fs, driver, our own) into an FsError, keeping the original as cause. */
export function toFsError(e: unknown, fallback: ErrnoCode = 'EIO'): FsError {
  if (e instanceof FsError) return e;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && code in ERRNO) {
    return new FsError(code, { cause: e, message: ERRNO_MESSAGES[code] ?? (e as Error).message });
  }
  return new FsError(fallback, { cause: e, message: (e as Error)?.message ?? String(e) });
}
