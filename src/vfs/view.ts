// VfsView: the VFS bound to one caller identity. This is the inode-level file system every door (SDK, S3
// gateway, later WebHDFS) adapts its protocol onto: it never passes a Context around, names access masks and
// file types instead of writing numbers, and resolves paths the one way (vfs/resolve.ts).
import { fsErr, isFsError } from '../errors.js';
import {
  ROOT_INODE,
  MODE_R,
  MODE_W,
  MODE_X,
  SET_MODE,
  TYPE_DIRECTORY,
  userContext,
  type Attr,
  type Context,
  type Entry,
  type Format,
  type NodeResult,
  type SessionInfo,
  type StatFs,
  type RenameExpect,
  type CloneOptions,
  type CloneResult,
  type WalkResult,
} from '../meta/types.js';
import { Resolver, splitPath, type Resolved, type ResolvedParent } from './resolve.js';
import type { VFS } from './vfs.js';

export { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, type Attr, type Entry } from '../meta/types.js';
export { splitPath, type Resolved, type ResolvedParent } from './resolve.js';

/** Access masks for access(): what access(2) calls R_OK, W_OK and X_OK (search, for a directory). */
export const Access = {
  EXISTS: 0,
  READ: MODE_R,
  WRITE: MODE_W,
  EXECUTE: MODE_X,
  /** List a directory: read its names and look them up. */
  LIST: MODE_R | MODE_X,
  /** Add or remove names in a directory. */
  MODIFY: MODE_W | MODE_X,
} as const;

export function isDirectory(a: Pick<Attr, 'type'>): boolean {
  return a.type === TYPE_DIRECTORY;
}

export class VfsView {
  private readonly paths: Resolver;

  /**
   * `vfs` is the client shared by every view of it; doors use the methods, its owner settles and closes it.
   * `root`: the directory paths start from ("/" and absolute symlinks); the volume root unless a door serves a subdir.
   */
  constructor(readonly vfs: VFS, readonly ctx: Context, readonly root: number = ROOT_INODE) {
    this.paths = new Resolver(this, root);
  }

  /** The same client (caches, session, open files) acting as another user. */
  asUser(uid: number, gid: number, gids: number[] = [gid], umask = this.ctx.umask ?? 0o022): VfsView {
    return new VfsView(this.vfs, userContext(uid, gid, gids, umask), this.root);
  }

  /** The same user and limits creating with another umask (a request asking for owner-private objects). */
  withUmask(umask: number): VfsView {
    return new VfsView(this.vfs, { ...this.ctx, umask }, this.root);
  }

  /** The same user, whose deletions skip the trash (a door's own temporary files: nothing worth keeping). */
  scratch(): VfsView {
    return new VfsView(this.vfs, { ...this.ctx, skipTrash: true }, this.root);
  }

  /** The same user with paths starting at directory inode `root` (--subdir: ".." never climbs above it). */
  within(root: number): VfsView {
    return new VfsView(this.vfs, this.ctx, root);
  }

  /**
   * The same user at the volume root without a scoped key's limits, deleting past the trash: only for a door's
   * own hidden files (the gateway's temp files and multipart parts), never for a name a client gave.
   * Check `mayWrite()` before a write that ends in publish().
   */
  door(): VfsView {
    const { limit: _l, ...ctx } = this.ctx;
    return new VfsView(this.vfs, { ...ctx, skipTrash: true }, ROOT_INODE);
  }

  /** EACCES for a read-only key (a door refuses an upload before receiving its body). */
  mayWrite(): void {
    if (this.ctx.limit?.access === 'ro') throw fsErr('EACCES');
  }

  /**
   * Renames a door's finished temp file (made through door()) into place: what an append-only key may do,
   * as long as the name is new (RENAME_NOREPLACE is added for it, and an `expect`ed target is refused).
   */
  publish(parent: number, name: string, newParent: number, newName: string, flags = 0, expect?: RenameExpect): Promise<void> {
    const ctx = this.ctx.limit ? { ...this.ctx, limit: { ...this.ctx.limit, publishing: true } } : this.ctx;
    return this.vfs.rename(ctx, parent, name, newParent, newName, flags, expect);
  }

  get uid(): number {
    return this.ctx.uid;
  }

  /** The format record as loaded when the client opened. */
  get format(): Format {
    return this.vfs.format;
  }

  /** This client's session in the metadata (a door names what it leaves behind after it, e.g. temp files). */
  get sessionId(): number {
    return this.vfs.meta.sid;
  }

  /** Every client session of the volume, live or stale (to tell whether another client is still at work). */
  sessions(): Promise<SessionInfo[]> {
    return this.vfs.meta.listSessions();
  }

  // ---- paths ----

  /** The inode at path; the last component's symlink is followed when `follow`. */
  resolve(path: string, follow = true): Promise<Resolved> {
    return this.paths.resolve(path, follow);
  }

  /** The directory that holds the last component, and that component's name. */
  parentOf(path: string): Promise<ResolvedParent> {
    return this.paths.parentOf(path);
  }

  /** For open(O_CREAT): the parent, and the last component if it exists. */
  forCreate(path: string): Promise<ResolvedParent & { found?: Resolved }> {
    return this.paths.forCreate(path);
  }

  realpath(path: string): Promise<string> {
    return this.paths.realpath(path);
  }

  /**
   * mkdir -p: every missing directory of path made with mode (symlinks to directories are fine on the way).
   * Returns the directory and the first path it created (undefined when all existed); EEXIST or ENOTDIR
   * when a component is something else.
   */
  async mkdirs(path: string, mode: number): Promise<{ inode: number; first?: string }> {
    let first: string | undefined;
    let cur = (await this.resolve('/', true)).inode;
    const parts = splitPath(path);
    for (let i = 0; i < parts.length; i++) {
      try {
        const r = await this.lookup(cur, parts[i]!);
        if (!isDirectory(r.attr)) {
          const t = await this.resolve('/' + parts.slice(0, i + 1).join('/'), true);
          if (!isDirectory(t.attr)) throw fsErr(i === parts.length - 1 ? 'EEXIST' : 'ENOTDIR');
          cur = t.inode;
        } else cur = r.inode;
      } catch (e) {
        if (!isFsError(e, 'ENOENT')) throw e;
        try {
          cur = (await this.mkdir(cur, parts[i]!, mode)).inode;
          first ??= '/' + parts.slice(0, i + 1).join('/');
        } catch (e2) {
          if (!isFsError(e2, 'EEXIST')) throw e2;
          i--; // made concurrently: look it up again
        }
      }
    }
    return { inode: cur, first };
  }

  /** Removes everything below directory dir (not dir itself), depth first. */
  async removeTree(dir: number): Promise<void> {
    for (;;) {
      const list = await this.readdir(dir, false, undefined, 1024);
      if (list.length === 0) return;
      for (const e of list) {
        if (isDirectory(e.attr)) {
          await this.removeTree(e.inode);
          await this.rmdir(dir, e.name);
        } else await this.unlink(dir, e.name);
      }
    }
  }

  // ---- inodes ----

  lookup(parent: number, name: string): Promise<Resolved> {
    return this.vfs.lookup(this.ctx, parent, name);
  }

  walk(parent: number, names: string[]): Promise<WalkResult> {
    return this.vfs.walk(this.ctx, parent, names);
  }

  getattr(ino: number): Promise<Attr> {
    return this.vfs.getattr(this.ctx, ino);
  }

  setattr(ino: number, set: number, attr: Partial<Attr>): Promise<Attr> {
    return this.vfs.setattr(this.ctx, ino, set, attr);
  }

  chmod(ino: number, mode: number): Promise<Attr> {
    return this.setattr(ino, SET_MODE, { mode });
  }

  /** EACCES unless this user has every access in mask (see Access). */
  access(ino: number, mask: number): Promise<void> {
    return this.vfs.access(this.ctx, ino, mask);
  }

  truncate(ino: number, length: number): Promise<Attr> {
    return this.vfs.truncate(this.ctx, ino, length);
  }

  readdir(dir: number, plus: boolean, after?: string, limit?: number): Promise<Entry[]> {
    return this.vfs.readdir(this.ctx, dir, plus, after, limit);
  }

  /** Directory entries in pages, so a huge directory is never held in memory at once. */
  async *entries(dir: number, plus: boolean, page = 4096): AsyncGenerator<Entry> {
    for (let after: string | undefined; ; ) {
      const list = await this.readdir(dir, plus, after, page);
      yield* list;
      if (list.length < page) return;
      after = list[list.length - 1]!.name;
    }
  }

  mkdir(parent: number, name: string, mode: number): Promise<NodeResult> {
    return this.vfs.mkdir(this.ctx, parent, name, mode);
  }

  rmdir(parent: number, name: string): Promise<void> {
    return this.vfs.rmdir(this.ctx, parent, name);
  }

  unlink(parent: number, name: string): Promise<void> {
    return this.vfs.unlink(this.ctx, parent, name);
  }

  /** expect: the destination must still be this file, unchanged (else ESTALE): see RenameExpect. */
  rename(parent: number, name: string, newParent: number, newName: string, flags = 0, expect?: RenameExpect): Promise<void> {
    return this.vfs.rename(this.ctx, parent, name, newParent, newName, flags, expect);
  }

  /** A metadata-only copy of `src` (file or tree) as `name` in `parent` (see VFS.clone). */
  clone(src: number, parent: number, name: string, opts?: CloneOptions): Promise<CloneResult> {
    return this.vfs.clone(this.ctx, src, parent, name, opts);
  }

  link(ino: number, parent: number, name: string): Promise<Attr> {
    return this.vfs.link(this.ctx, ino, parent, name);
  }

  symlink(parent: number, name: string, target: string): Promise<NodeResult> {
    return this.vfs.symlink(this.ctx, parent, name, target);
  }

  readlink(ino: number): Promise<string> {
    return this.vfs.readlink(this.ctx, ino);
  }

  /** The volume's figures, or under a directory quota the quota's (at inode `ino`). */
  statfs(ino?: number): Promise<StatFs> {
    return this.vfs.statfs(this.ctx, ino);
  }

  // ---- extended attributes ----

  getxattr(ino: number, name: string): Promise<Buffer> {
    return this.vfs.getxattr(this.ctx, ino, name);
  }

  listxattr(ino: number): Promise<string[]> {
    return this.vfs.listxattr(this.ctx, ino);
  }

  setxattr(ino: number, name: string, value: Buffer | string, flags = 0): Promise<void> {
    return this.vfs.setxattr(this.ctx, ino, name, Buffer.from(value), flags);
  }

  removexattr(ino: number, name: string): Promise<void> {
    return this.vfs.removexattr(this.ctx, ino, name);
  }

  // ---- open files (fh: a handle number of this client) ----

  /** Creates name in parent and opens it (flags as open(2): O_EXCL and the access mode matter). */
  create(parent: number, name: string, mode: number, flags: number): Promise<NodeResult & { fh: number }> {
    return this.vfs.create(this.ctx, parent, name, mode, flags);
  }

  open(ino: number, flags: number): Promise<{ fh: number; attr: Attr }> {
    return this.vfs.open(this.ctx, ino, flags);
  }

  /** The open(2) flags a handle was opened with. */
  flags(fh: number): number {
    return this.vfs.handle(fh).flags;
  }

  read(fh: number, off: number, len: number): Promise<Buffer> {
    return this.vfs.read(this.ctx, fh, off, len);
  }

  write(fh: number, off: number, data: Buffer): Promise<number> {
    return this.vfs.write(this.ctx, fh, off, data);
  }

  /** Shares the source range's slices with the destination: no data is read or written. */
  copyFileRange(fhIn: number, offIn: number, fhOut: number, offOut: number, len: number): Promise<number> {
    return this.vfs.copyFileRange(this.ctx, fhIn, offIn, fhOut, offOut, len);
  }

  /** Commits what this client buffered for ino, so getattr sees its length. */
  flushInode(ino: number): Promise<void> {
    return this.vfs.flushInode(ino);
  }

  flush(fh: number): Promise<void> {
    return this.vfs.flush(this.ctx, fh);
  }

  fsync(fh: number): Promise<void> {
    return this.vfs.fsync(this.ctx, fh);
  }

  /** Closes the handle (flushing what it wrote). */
  release(fh: number): Promise<void> {
    return this.vfs.release(this.ctx, fh);
  }
}
