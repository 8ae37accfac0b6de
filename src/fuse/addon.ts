// Loads the native FUSE addon (src/fuse/native, built by `npm run build:fuse`). It is optional at install,
// so a missing addon is a clear, one-line error naming what to install.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fsErr } from '../errors.js';

/** An opaque request handle (an External around the C++ request); never a number. */
export type ReqHandle = object & { readonly __fuseReq: unique symbol };
/** An opaque session handle. */
export type SessionHandle = object & { readonly __fuseSession: unique symbol };

/** The caller of a request, as the kernel reports it. */
export interface RequestCaller {
  uid: number;
  gid: number;
  pid: number;
  gids: number[];
  /** The caller's umask, for mknod/mkdir/create when the kernel leaves it to us (ACL mounts); else it applied it. */
  umask?: number;
}

/**
 * Called with each request: its opcode and arguments as src/fuse/abi.json lays them out (REQUESTS in
 * abi.gen.ts decodes them). Op 0 (exit) has no request handle: the session ended.
 */
export type Dispatcher = (op: number, req: ReqHandle | null, caller: RequestCaller, ...args: unknown[]) => void;

export interface SessionOptions {
  /** Negotiate the kernel's writeback cache (FUSE_CAP_WRITEBACK_CACHE). */
  writeback?: boolean;
  /** POSIX ACLs: the kernel enforces them (FUSE_CAP_POSIX_ACL) and passes the umask (FUSE_CAP_DONT_MASK). */
  acl?: boolean;
  /** Largest write request, in bytes (default 1 MiB). */
  maxWrite?: number;
}

export interface FuseAddon {
  /** A FUSE session, not connected yet; `-o` options in args are used when it mounts. */
  session(args: string[], dispatch: Dispatcher, opts: SessionOptions): SessionHandle;
  /** Mounts the session at a directory (through fusermount3 unless root) and starts serving it. */
  mount(s: SessionHandle, mountpoint: string): void;
  /**
   * Serves a FUSE connection someone else mounted: an open /dev/fuse descriptor (inherited, or passed
   * over a socket). The session owns it from now on and closes it on destroy, without unmounting.
   */
  start(s: SessionHandle, fd: number): void;
  /** After the session ended and every request was answered: unmounts what mount() mounted, frees it. */
  destroy(s: SessionHandle): void;
  pending(s: SessionHandle): number;
  /** True once the caller of a lock request was interrupted by a signal. */
  interrupted(r: ReqHandle): boolean;
  fd(s: SessionHandle): number;
  replyErr(r: ReqHandle, errno: number): void;
  replyNone(r: ReqHandle): void;
  replyEntry(r: ReqHandle, ino: number, attr: Float64Array | undefined, attrTimeout: number, entryTimeout: number): void;
  replyCreate(r: ReqHandle, ino: number, attr: Float64Array, attrTimeout: number, entryTimeout: number, fh: number, bits: number): boolean;
  replyAttr(r: ReqHandle, attr: Float64Array, timeout: number): void;
  replyReadlink(r: ReqHandle, target: string): void;
  replyOpen(r: ReqHandle, fh: number, bits: number): boolean;
  replyWrite(r: ReqHandle, n: number): void;
  replyBuf(r: ReqHandle, b: Buffer | undefined): void;
  replyXattrSize(r: ReqHandle, n: number): void;
  replyStatfs(r: ReqHandle, v: Float64Array): void;
  replyLock(r: ReqHandle, type: number, start: number, len: number, pid: number): void;
  replyLseek(r: ReqHandle, off: number): void;
  replyDir(r: ReqHandle, size: number, plus: boolean, names: string[], nums: Float64Array, attrTimeout: number, entryTimeout: number): number;
  libfuseVersion: string;

  // ---- handing a live connection over (docs/upgrade.md) ----
  /** Mounts and returns the connection's descriptor without serving it (a supervisor keeps it). */
  mountFd(args: string[], mountpoint: string): number;
  /** A new descriptor on the same connection with its own queue of requests in progress (FUSE_DEV_IOC_CLONE). */
  cloneFd(fd: number): number;
  /** The kernel's INIT request and what was answered, once INIT was answered. */
  initRecord(s: SessionHandle): InitRecord | null;
  /** Serves a connection whose INIT another process answered, with that process's negotiated parameters. */
  resume(s: SessionHandle, fd: number, init: Buffer, conn: ConnParams): void;
  /** Stops reading requests; destroy() then closes the descriptor without unmounting. */
  handOver(s: SessionHandle): void;
  ctlConnect(path: string): number;
  ctlSend(fd: number, data: Buffer, fds?: number[]): void;
  ctlRecv(fd: number, timeoutMs: number): { data: Buffer; fds: number[] } | null;
  closeFd(fd: number): void;
}

/** The connection parameters negotiated at INIT (libfuse's fuse_conn_info). */
export interface ConnParams {
  want: number;
  maxWrite: number;
  maxRead: number;
  maxReadahead: number;
  maxBackground: number;
  congestionThreshold: number;
  timeGran: number;
  protoMajor: number;
  protoMinor: number;
}

export interface InitRecord {
  init: Buffer;
  conn: ConnParams;
}

export const ADDON_PATH = new URL('../../../src/fuse/native/build/Release/ferry_fuse.node', import.meta.url).pathname;

export const INSTALL_HINT =
  'install the Debian packages fuse3, libfuse3-dev and pkg-config (apt-get install -y fuse3 libfuse3-dev pkg-config), then run `npm run build:fuse`';

let cached: FuseAddon | undefined;

export function loadAddon(): FuseAddon {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) throw fsErr('ENOSYS', `the FUSE addon is not built (${ADDON_PATH} missing): ${INSTALL_HINT}`);
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as FuseAddon;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw fsErr('ENOSYS', `the FUSE addon does not load (${msg}): ${/libfuse3/.test(msg ?? '') ? 'install the Debian package fuse3' : INSTALL_HINT}`);
  }
  return cached;
}
