// One error class for every layer, shaped like node:fs errors so SDK users can
// test `err.code === 'ENOENT'`, and carrying the Linux errno that FUSE replies with.
import { constants } from 'node:os';

const ERRNO = constants.errno as Record<string, number>;

/** Error codes FerryFS raises or passes on, each with a node:fs-style description (the errno number is Linux's). */
export const ERRNO_MESSAGES = {
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
  EINTR: 'interrupted system call',
  ENXIO: 'no such device or address',
  EMFILE: 'too many open files',
  ENFILE: 'file table overflow',
  EPIPE: 'broken pipe',
  ECONNRESET: 'connection reset by peer',
  ENOMEM: 'not enough memory',
  EOVERFLOW: 'value too large for defined data type',
  ETXTBSY: 'text file is busy',
  ENODEV: 'no such device',
  E2BIG: 'argument list too long',
} as const satisfies Record<string, string>;

/** The errno codes an FsError carries. */
export type ErrnoCode = keyof typeof ERRNO_MESSAGES;

export function isErrnoCode(code: unknown): code is ErrnoCode {
  return typeof code === 'string' && Object.hasOwn(ERRNO_MESSAGES, code);
}

/** code when it is one FerryFS knows (from node:fs or a peer), else fallback. */
export function errnoCode(code: unknown, fallback: ErrnoCode = 'EIO'): ErrnoCode {
  return isErrnoCode(code) ? code : fallback;
}

/**
 * The one error of every layer. Build it with `new FsError(code, { message, syscall, path, cause })`;
 * `fsErr(code, message?)` is the same for the common case of a code and at most a message.
 */
export class FsError extends Error {
  readonly code: ErrnoCode;
  /** Negative like node:fs errors (`-2` for ENOENT). */
  readonly errno: number;
  syscall?: string;
  path?: string;
  dest?: string;
  /** The description without code/syscall/path, kept so context can be added later. */
  readonly description: string;

  constructor(code: ErrnoCode, opts: { syscall?: string; path?: string; dest?: string; message?: string; cause?: unknown } = {}) {
    const desc = opts.message ?? ERRNO_MESSAGES[code];
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

/** `new FsError(code, { message })`, shorter: `throw fsErr('ENOENT')`. */
export function fsErr(code: ErrnoCode, message?: string): FsError {
  return new FsError(code, message !== undefined ? { message } : {});
}

export function isFsError(e: unknown, code?: ErrnoCode): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}

/** Turns any error (node:fs, driver, our own) into an FsError, keeping the original as cause. */
export function toFsError(e: unknown, fallback: ErrnoCode = 'EIO'): FsError {
  if (e instanceof FsError) return e;
  const code = (e as { code?: unknown })?.code;
  if (isErrnoCode(code)) return new FsError(code, { cause: e, message: ERRNO_MESSAGES[code] });
  return new FsError(fallback, { cause: e, message: (e as Error)?.message ?? String(e) });
}
