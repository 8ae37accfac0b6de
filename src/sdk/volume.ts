// Volume: a FerryFS volume as a node:fs/promises-like API, for programs that use it without a mount.
import { createHash } from 'node:crypto';
import { FsError, fsErr, toFsError } from '../errors.js';
import {
  MODE_R,
  MODE_W,
  MODE_X,
  RENAME_NOREPLACE,
  SET_GID,
  SET_MODE,
  SET_UID,
  TYPE_DIRECTORY,
  TYPE_SYMLINK,
  userContext,
  type Context,
} from '../meta/types.js';
import { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, O_TRUNC } from '../vfs/flags.js';
import { accessView, configFromSdkOptions, openClient, processContext, type Client, type ClientConfig, type ClientProbe } from '../client/index.js';
import { statfsBlocks } from '../vfs/stat.js';
import { splitPath, VfsView, type Resolved } from '../vfs/view.js';
import { ACL_ACCESS, ACL_DEFAULT, aclText, decodeAcl, encodeAcl, parseAclText, type AclEntry } from '../meta/acl.js';
import { FileHandle } from './file-handle.js';
import { parseFlags } from './open-flags.js';
import { Dirent, Stats, type StatFs } from './stats.js';
import { toTimeAttrs, type TimeLike } from './times.js';

/**
 * Options of Volume.open: the SDK's names for ClientConfig settings (one table in client/options.ts maps them,
 * shared with the CLI flags and mount options), plus the caller's identity.
 */
export interface VolumeOptions {
  /** Caller identity for permission checks (default: this process's uid/gid). */
  uid?: number;
  gid?: number;
  gids?: number[];
  umask?: number;
  /** Shown in `ferry status` for this client's session. */
  mountPoint?: string;
  readOnly?: boolean;
  /** Seconds attributes / entries are cached (default 1). */
  attrTimeout?: number;
  entryTimeout?: number;
  /** A writable mirror's client waits at most this long (ms) for the mirror to catch up (default 5000). */
  waitTimeoutMs?: number;
  /** Write buffers shared by all open files (bytes, default 256 MiB) and the largest read-ahead window. */
  bufferLimit?: number;
  maxReadahead?: number;
  /** Blocks a sequential reader fetches ahead at most, in parallel (default 16; 0 = no read-ahead). */
  prefetch?: number;
  /** Run heartbeat, deletion and compaction jobs (default true). */
  backgroundJobs?: boolean;
  /** QoS (docs/data-management.md): MiB/s to and from the object store and metadata operations/s, 0 = unlimited. */
  uploadLimit?: number;
  downloadLimit?: number;
  opsLimit?: number;
  /** Serve Prometheus metrics of this process at http://HOST:PORT/metrics (README "Metrics"); port 0: a free one. */
  metrics?: string;
  /** Block caches, write-back and cache groups: see docs/cache.md. */
  memoryCacheSize?: number;
  cacheDir?: string;
  cacheSize?: number;
  freeSpaceRatio?: number;
  writeback?: boolean;
  writebackUploads?: number;
  writebackFsync?: boolean;
  cacheGroup?: string;
  groupAddress?: string;
  region?: string;
  zone?: string;
  replicas?: number;
  noSharing?: boolean;
  groupLabel?: string;
  groupTuning?: NonNullable<ClientConfig['group']>['tuning'];
  /** Object store options overriding the format's (credentials, endpoint...). */
  objectOptions?: Record<string, unknown>;
  mirrorObjectOptions?: Record<string, unknown>;
  /** Act as this access key (ACCESS-KEY:SECRET from `ferry gateway keys add`), within its scope; or read it from tokenFile. */
  token?: string;
  tokenFile?: string;
  /** Unlocks an encrypted volume. */
  encryption?: { keyFile?: string; passphrase?: string; source?: string };
  missingBlockWaitMs?: number;
  /** Progress and warning lines (default: stderr). */
  log?: (line: string) => void;
  /** Counts and times the metadata calls and object requests this volume makes (what `ferry bench` shows). */
  probe?: ClientProbe;
}

export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, COPYFILE_EXCL: 1 } as const;

type Data = string | Buffer | Uint8Array | AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array>;

let viewOf: (vol: Volume) => VfsView;

/**
 * Internal, not exported by the package: the inode-level view under a Volume (its client and identity),
 * for the CLI, the tests and the S3 gateway until they get their client from the client layer.
 */
export function volumeView(vol: Volume): VfsView {
  return viewOf(vol);
}

export class Volume {
  readonly #view: VfsView;
  readonly #client: Client;
  /** Ends the token's re-checks (a Volume opened with a token). */
  #stopAccess?: () => void;
  /** st_dev for Stats: stable per volume. */
  readonly dev: number;

  static {
    viewOf = (vol) => vol.#view;
  }

  private constructor(client: Client, ctx: Context, view?: VfsView) {
    this.#client = client;
    this.#view = view ?? client.view(ctx);
    this.dev = createHash('sha1').update(client.format.uuid).digest().readUInt32BE(0);
  }

  /**
   * Opens a formatted volume and starts a client session: by its metadata URL with SDK options, or from a
   * whole ClientConfig (as `ferry mount --config` reads; `opts` then only gives identity and the logger).
   */
  static async open(target: string | ClientConfig, opts: VolumeOptions = {}): Promise<Volume> {
    const config = typeof target === 'string' ? configFromSdkOptions(target, opts as Record<string, unknown>) : target;
    const client = await openClient(config, { log: opts.log, probe: opts.probe });
    const ctx = processContext(opts);
    try {
      // With a token the volume is the key's: its uid/gid, its subdir as "/", its limits (vfs/scope.ts).
      const a = await accessView(config, client.view(ctx));
      const vol = new Volume(client, ctx, a.view);
      vol.#stopAccess = a.stop;
      return vol;
    } catch (e) {
      await client.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * A view of this volume acting as another user: the same client (caches, session, open files), another
   * identity for permission checks. Used by servers such as the S3 gateway; close only the original.
   */
  asUser(uid: number, gid: number, gids: number[] = [gid], umask = this.#view.ctx.umask ?? 0o022): Volume {
    // A token's volume is the key's: another identity would leave its scope.
    if (this.#view.ctx.limit) throw new FsError('EPERM', { message: 'a volume opened with a token acts only as its key' });
    return new Volume(this.#client, userContext(uid, gid, gids, umask));
  }

  /** Runs op with errors carrying syscall and path like node:fs. */
  private async call<T>(syscall: string, path: string, op: () => Promise<T>, dest?: string): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw toFsError(e).withContext(syscall, path, dest);
    }
  }

  // ---- metadata ----

  stat(path: string): Promise<Stats> {
    return this.call('stat', path, async () => {
      const r = await this.#view.resolve(path, true);
      return new Stats(r.inode, r.attr, this.dev);
    });
  }

  lstat(path: string): Promise<Stats> {
    return this.call('lstat', path, async () => {
      const r = await this.#view.resolve(path, false);
      return new Stats(r.inode, r.attr, this.dev);
    });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return false;
      throw e;
    }
  }

  access(path: string, mode: number = constants.F_OK): Promise<void> {
    return this.call('access', path, async () => {
      const r = await this.#view.resolve(path, true);
      await this.#view.access(r.inode, mode & (MODE_R | MODE_W | MODE_X));
    });
  }

  readdir(path: string, opts?: { withFileTypes?: false } | BufferEncoding): Promise<string[]>;
  readdir(path: string, opts: { withFileTypes: true }): Promise<Dirent[]>;
  readdir(path: string, opts?: { withFileTypes?: boolean } | BufferEncoding): Promise<string[] | Dirent[]> {
    const withTypes = typeof opts === 'object' && opts.withFileTypes === true;
    return this.call('scandir', path, async () => {
      const dir = await this.#view.resolve(path, true);
      if (dir.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      const out: Array<string | Dirent> = [];
      for await (const e of this.#view.entries(dir.inode, false)) {
        out.push(withTypes ? new Dirent(e.name, e.attr.type, path) : e.name);
      }
      return out as string[] | Dirent[];
    });
  }

  mkdir(path: string, opts?: { recursive?: boolean; mode?: number } | number): Promise<string | undefined> {
    const o = typeof opts === 'number' ? { mode: opts } : (opts ?? {});
    const mode = o.mode ?? 0o777;
    return this.call('mkdir', path, async () => {
      if (!o.recursive) {
        const { parent, name } = await this.#view.parentOf(path);
        await this.#view.mkdir(parent, name, mode);
        return undefined;
      }
      return (await this.#view.mkdirs(path, mode)).first;
    });
  }

  rmdir(path: string): Promise<void> {
    return this.call('rmdir', path, async () => {
      const { parent, name } = await this.#view.parentOf(path);
      await this.#view.rmdir(parent, name);
    });
  }

  /** skipTrash: freed at once even when the volume keeps deletions in its trash. */
  unlink(path: string, opts: { skipTrash?: boolean } = {}): Promise<void> {
    return this.call('unlink', path, async () => {
      const view = opts.skipTrash ? this.#view.scratch() : this.#view;
      const { parent, name } = await view.parentOf(path);
      await view.unlink(parent, name);
    });
  }

  /** Removes a file, or a tree with recursive; force ignores a missing path; skipTrash as for unlink. */
  rm(path: string, opts: { recursive?: boolean; force?: boolean; skipTrash?: boolean } = {}): Promise<void> {
    const view = opts.skipTrash ? this.#view.scratch() : this.#view;
    return this.call('rm', path, async () => {
      let target;
      try {
        target = await view.resolve(path, false);
      } catch (e) {
        if (opts.force && e instanceof FsError && e.code === 'ENOENT') return;
        throw e;
      }
      const { parent, name } = await view.parentOf(path);
      if (target.attr.type !== TYPE_DIRECTORY) return view.unlink(parent, name);
      if (!opts.recursive) throw new FsError('EISDIR', { message: 'is a directory (use recursive)' });
      await view.removeTree(target.inode);
      await view.rmdir(parent, name);
    });
  }

  rename(oldPath: string, newPath: string, flags = 0): Promise<void> {
    return this.call(
      'rename',
      oldPath,
      async () => {
        const s = await this.#view.parentOf(oldPath);
        const d = await this.#view.parentOf(newPath);
        await this.#view.rename(s.parent, s.name, d.parent, d.name, flags);
      },
      newPath,
    );
  }

  link(existing: string, newPath: string): Promise<void> {
    return this.call(
      'link',
      existing,
      async () => {
        const src = await this.#view.resolve(existing, false);
        const d = await this.#view.parentOf(newPath);
        await this.#view.link(src.inode, d.parent, d.name);
      },
      newPath,
    );
  }

  /**
   * Copies a file or a whole tree as metadata only, as `ferry clone`: the copy shares the source's data,
   * later writes to either never change the other. `dest` must not exist. preserve keeps owner, mode, times.
   */
  clone(src: string, dest: string, opts: { preserve?: boolean } = {}): Promise<void> {
    return this.call(
      'clone',
      src,
      async () => {
        const s = await this.#view.resolve(src, false);
        const d = await this.#view.parentOf(dest);
        await this.#view.clone(s.inode, d.parent, d.name, { preserve: opts.preserve === true });
      },
      dest,
    );
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call(
      'symlink',
      target,
      async () => {
        const d = await this.#view.parentOf(path);
        await this.#view.symlink(d.parent, d.name, target);
      },
      path,
    );
  }

  readlink(path: string): Promise<string> {
    return this.call('readlink', path, async () => {
      const r = await this.#view.resolve(path, false);
      return this.#view.readlink(r.inode);
    });
  }

  realpath(path: string): Promise<string> {
    return this.call('realpath', path, () => this.#view.realpath(path));
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.call('chmod', path, async () => {
      const r = await this.#view.resolve(path, true);
      await this.#view.setattr(r.inode, SET_MODE, { mode });
    });
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.chownAt('chown', path, uid, gid, true);
  }

  lchown(path: string, uid: number, gid: number): Promise<void> {
    return this.chownAt('lchown', path, uid, gid, false);
  }

  private chownAt(syscall: string, path: string, uid: number, gid: number, follow: boolean): Promise<void> {
    return this.call(syscall, path, async () => {
      const r = await this.#view.resolve(path, follow);
      await this.#view.setattr(r.inode, SET_UID | SET_GID, { uid, gid });
    });
  }

  utimes(path: string, atime: TimeLike, mtime: TimeLike): Promise<void> {
    return this.call('utime', path, async () => {
      const r = await this.#view.resolve(path, true);
      const { set, attr } = toTimeAttrs(atime, mtime);
      await this.#view.setattr(r.inode, set, attr);
    });
  }

  truncate(path: string, len = 0): Promise<void> {
    return this.call('open', path, async () => {
      const r = await this.#view.resolve(path, true);
      await this.#view.truncate(r.inode, len);
    });
  }

  statfs(path = '/'): Promise<StatFs> {
    return this.call('statfs', path, async () => {
      // "FERR": the f_type statfs(2) reports for a FerryFS volume.
      // Under a directory quota, the quota's size and room (as df shows them on a mount).
      return { type: 0x46455252, ...statfsBlocks(await this.#view.statfs((await this.#view.resolve(path)).inode)) };
    });
  }

  getxattr(path: string, name: string): Promise<Buffer> {
    return this.call('getxattr', path, async () => this.#view.getxattr((await this.#view.resolve(path)).inode, name));
  }

  listxattr(path: string): Promise<string[]> {
    return this.call('listxattr', path, async () => this.#view.listxattr((await this.#view.resolve(path)).inode));
  }

  setxattr(path: string, name: string, value: Buffer | string, flags = 0): Promise<void> {
    return this.call('setxattr', path, async () =>
      this.#view.setxattr((await this.#view.resolve(path)).inode, name, Buffer.from(value), flags),
    );
  }

  removexattr(path: string, name: string): Promise<void> {
    return this.call('removexattr', path, async () => this.#view.removexattr((await this.#view.resolve(path)).inode, name));
  }

  /**
   * getfacl: the access ACL of a path (or its default ACL, `kind` 'default') in setfacl's short text with
   * numeric ids ('u::rw-,u:1002:r--,g::r--,m::r--,o::---'), undefined when it has none (the mode alone says
   * it). Needs a volume formatted with --acl (else ENOTSUP).
   */
  getacl(path: string, kind: 'access' | 'default' = 'access'): Promise<string | undefined> {
    return this.call('getxattr', path, async () => {
      try {
        return aclText(decodeAcl(await this.#view.getxattr((await this.#view.resolve(path)).inode, kind === 'access' ? ACL_ACCESS : ACL_DEFAULT)));
      } catch (e) {
        if (e instanceof FsError && e.code === 'ENODATA') return undefined;
        throw e;
      }
    });
  }

  /**
   * setfacl --set: replaces the access (or default) ACL of a path, given as entries or as setfacl's text with
   * numeric ids ('u::rw-,u:1002:r--,g::r--,m::r--,o::---'); undefined removes it (setfacl -b / -k). Only the
   * owner or root; an access ACL sets the mode's permission bits (the group bits are its mask).
   */
  setacl(path: string, acl: AclEntry[] | string | undefined, kind: 'access' | 'default' = 'access'): Promise<void> {
    const name = kind === 'access' ? ACL_ACCESS : ACL_DEFAULT;
    return this.call(acl === undefined ? 'removexattr' : 'setxattr', path, async () => {
      const ino = (await this.#view.resolve(path)).inode;
      if (acl === undefined) return this.#view.removexattr(ino, name);
      return this.#view.setxattr(ino, name, encodeAcl(typeof acl === 'string' ? parseAclText(acl) : acl));
    });
  }

  // ---- file contents ----

  /** Opens (and with O_CREAT creates) a file; flags as in node:fs ('r', 'w', 'a+', ...) or numbers. */
  open(path: string, flags: string | number = 'r', mode = 0o666): Promise<FileHandle> {
    const f = parseFlags(flags);
    return this.call('open', path, async () => {
      let r: Resolved | undefined;
      let at: { parent: number; name: string } | undefined;
      if (f & O_CREAT) {
        // One walk: the parent, then the name in it.
        const c = await this.#view.forCreate(path);
        at = c;
        r = c.found;
        if (r?.attr.type === TYPE_SYMLINK && !(f & O_NOFOLLOW)) {
          if (f & O_EXCL) throw fsErr('EEXIST');
          r = await this.#view.resolve(path, true).catch((e) => {
            if (e instanceof FsError && e.code === 'ENOENT') return undefined;
            throw e;
          });
          if (!r) {
            // A dangling symlink: create what it points to, as open(2) does.
            const target = await this.#view.readlink(c.found!.inode);
            const dir = splitPath(path).slice(0, -1).join('/');
            return this.open(target.startsWith('/') ? target : `/${dir}/${target}`, f, mode);
          }
        }
      } else {
        r = await this.#view.resolve(path, !(f & O_NOFOLLOW));
      }
      if (r) {
        if (f & O_CREAT && f & O_EXCL) throw fsErr('EEXIST');
        if (r.attr.type === TYPE_SYMLINK) throw fsErr('ELOOP');
        const { fh } = await this.#view.open(r.inode, f);
        return new FileHandle(this.#view, fh, r.inode, path, this.dev);
      }
      try {
        const c = await this.#view.create(at!.parent, at!.name, mode, f & ~O_TRUNC);
        return new FileHandle(this.#view, c.fh, c.inode, path, this.dev);
      } catch (e) {
        // Someone created it between our lookup and create: open theirs unless O_EXCL.
        if (f & O_EXCL || !(e instanceof FsError) || e.code !== 'EEXIST') throw e;
        return this.open(path, f & ~O_CREAT, mode);
      }
    });
  }

  async readFile(path: string, opts?: { encoding?: BufferEncoding; flag?: string } | BufferEncoding): Promise<Buffer | string> {
    const o = typeof opts === 'string' ? { encoding: opts } : (opts ?? {});
    const fh = await this.open(path, o.flag ?? 'r');
    try {
      return await fh.readFile(o.encoding);
    } finally {
      await fh.close();
    }
  }

  async writeFile(path: string, data: Data, opts?: { encoding?: BufferEncoding; mode?: number; flag?: string } | BufferEncoding): Promise<void> {
    const o = typeof opts === 'string' ? { encoding: opts } : (opts ?? {});
    const fh = await this.open(path, o.flag ?? 'w', o.mode ?? 0o666);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data, o.encoding);
      else for await (const part of data as AsyncIterable<Buffer | Uint8Array | string>) await fh.write(typeof part === 'string' ? Buffer.from(part, o.encoding) : part);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    await fh.close();
  }

  appendFile(path: string, data: Data, opts?: { encoding?: BufferEncoding; mode?: number } | BufferEncoding): Promise<void> {
    const o = typeof opts === 'string' ? { encoding: opts } : (opts ?? {});
    return this.writeFile(path, data, { ...o, flag: 'a' });
  }

  /** Copies by sharing the source's slices: no data is read or written. */
  async copyFile(src: string, dest: string, mode = 0): Promise<void> {
    try {
      await this.copyRange(src, dest, mode);
    } catch (e) {
      const err = toFsError(e);
      throw new FsError(err.code, { syscall: 'copyfile', path: src, dest, message: err.description, cause: err });
    }
  }

  private copyRange(src: string, dest: string, mode: number): Promise<void> {
    return this.call(
      'copyfile',
      src,
      async () => {
        const s = await this.open(src, O_RDONLY);
        try {
          const st = await s.stat();
          if (st.isDirectory()) throw fsErr('EISDIR');
          const d = await this.open(dest, O_WRONLY | O_CREAT | O_TRUNC | (mode & constants.COPYFILE_EXCL ? O_EXCL : 0), st.mode & 0o777);
          try {
            await this.#view.copyFileRange(s.fd, 0, d.fd, 0, st.size);
          } finally {
            await d.close();
          }
        } finally {
          await s.close();
        }
      },
      dest,
    );
  }

  /** Renames without replacing an existing target (RENAME_NOREPLACE). */
  renameNoReplace(oldPath: string, newPath: string): Promise<void> {
    return this.rename(oldPath, newPath, RENAME_NOREPLACE);
  }

  /** Waits for queued background work (freeing deleted data, compaction). */
  async settle(): Promise<void> {
    await this.#view.vfs.jobs.collect();
    await this.#view.vfs.jobs.idle();
  }

  /** Flushes open files, ends the session and closes the connections. */
  async close(): Promise<void> {
    this.#stopAccess?.();
    await this.#client.close();
  }
}

