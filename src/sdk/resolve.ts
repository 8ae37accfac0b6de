// Path resolution for the SDK: walks components through the VFS's cached lookups and follows
// symlinks (absolute targets from the volume root) like the kernel does, up to 40 of them.
import { FsError, fsErr } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_SYMLINK, type Attr, type Context } from '../meta/types.js';
import type { VFS } from '../vfs/vfs.js';

const MAX_SYMLINKS = 40;

export interface Resolved {
  inode: number;
  attr: Attr;
}

export interface ResolvedParent {
  parent: number;
  name: string;
}

export function splitPath(path: string): string[] {
  if (typeof path !== 'string') throw new FsError('EINVAL', { message: 'path must be a string' });
  if (path.includes('\0')) throw new FsError('EINVAL', { message: 'path contains a NUL byte' });
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

export class Resolver {
  constructor(private readonly vfs: VFS, private readonly root = ROOT_INODE) {}

  /** The inode at path; the last component's symlink is followed when `follow`. */
  async resolve(ctx: Context, path: string, follow = true): Promise<Resolved> {
    const r = await this.walk(ctx, splitPath(path), follow, { n: 0 });
    return r;
  }

  /** The directory that holds the last component, and that component's name. */
  async parentOf(ctx: Context, path: string): Promise<ResolvedParent> {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new FsError('EBUSY', { message: 'the root directory has no parent' });
    if (name === '..') throw fsErr('EINVAL');
    const dir = await this.walk(ctx, parts, true, { n: 0 });
    if (dir.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
    return { parent: dir.inode, name };
  }

  /** For open(O_CREAT): one walk to the parent, then the last component looked up there (undefined if missing). */
  async forCreate(ctx: Context, path: string): Promise<ResolvedParent & { found?: Resolved }> {
    const p = await this.parentOf(ctx, path);
    try {
      return { ...p, found: await this.vfs.lookup(ctx, p.parent, p.name) };
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return p;
      throw e;
    }
  }

  private async walk(ctx: Context, parts: string[], follow: boolean, links: { n: number }, from = this.root): Promise<Resolved> {
    // The starting directory's attributes are fetched only when the path ends there: a lookup in it checks the rest.
    if (parts.length === 0) return { inode: from, attr: await this.vfs.getattr(ctx, from) };
    let cur: Resolved = { inode: from, attr: { type: TYPE_DIRECTORY } as Attr };
    for (let i = 0; i < parts.length; i++) {
      if (cur.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      const part = parts[i];
      const next = part === '..' && cur.inode === this.root ? cur : await this.vfs.lookup(ctx, cur.inode, part);
      const last = i === parts.length - 1;
      if (next.attr.type === TYPE_SYMLINK && (!last || follow)) {
        if (++links.n > MAX_SYMLINKS) throw fsErr('ELOOP');
        const target = await this.vfs.readlink(ctx, next.inode);
        const rest = [...splitPath(target), ...parts.slice(i + 1)];
        return this.walk(ctx, rest, follow, links, target.startsWith('/') ? this.root : cur.inode);
      }
      cur = next;
    }
    return cur;
  }

  /** The canonical path: every symlink expanded, "." and ".." removed; ELOOP after 40 links. */
  async realpath(ctx: Context, path: string): Promise<string> {
    let parts = splitPath(path);
    const names: string[] = [];
    const inodes: number[] = [this.root];
    for (let links = 0; parts.length; ) {
      const part = parts.shift()!;
      if (part === '..') {
        if (names.length) {
          names.pop();
          inodes.pop();
        }
        continue;
      }
      const r = await this.vfs.lookup(ctx, inodes[inodes.length - 1], part);
      if (r.attr.type === TYPE_SYMLINK) {
        if (++links > MAX_SYMLINKS) throw fsErr('ELOOP');
        const target = await this.vfs.readlink(ctx, r.inode);
        if (target.startsWith('/')) {
          names.length = 0;
          inodes.length = 1;
        }
        parts = [...splitPath(target), ...parts];
        continue;
      }
      if (parts.length && r.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      names.push(part);
      inodes.push(r.inode);
    }
    return '/' + names.join('/');
  }
}
