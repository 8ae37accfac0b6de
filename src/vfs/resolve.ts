// Path resolution for every door: walks components through the VFS's cached lookups and follows
// symlinks (absolute targets from the volume root) like the kernel does, up to 40 of them.
import { FsError, fsErr } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_SYMLINK, type Attr } from '../meta/types.js';

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

/** The inode operations resolution needs, bound to the caller's identity (a VfsView). */
export interface Lookups {
  lookup(parent: number, name: string): Promise<Resolved>;
  getattr(ino: number): Promise<Attr>;
  readlink(ino: number): Promise<string>;
}

export class Resolver {
  constructor(private readonly fs: Lookups, private readonly root = ROOT_INODE) {}

  /** The inode at path; the last component's symlink is followed when `follow`. */
  async resolve(path: string, follow = true): Promise<Resolved> {
    return this.walk(splitPath(path), follow, { n: 0 });
  }

  /** The directory that holds the last component, and that component's name. */
  async parentOf(path: string): Promise<ResolvedParent> {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new FsError('EBUSY', { message: 'the root directory has no parent' });
    if (name === '..') throw fsErr('EINVAL');
    const dir = await this.walk(parts, true, { n: 0 });
    if (dir.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
    return { parent: dir.inode, name };
  }

  /** For open(O_CREAT): one walk to the parent, then the last component looked up there (undefined if missing). */
  async forCreate(path: string): Promise<ResolvedParent & { found?: Resolved }> {
    const p = await this.parentOf(path);
    try {
      return { ...p, found: await this.fs.lookup(p.parent, p.name) };
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return p;
      throw e;
    }
  }

  private async walk(parts: string[], follow: boolean, links: { n: number }, from = this.root): Promise<Resolved> {
    // The starting directory's attributes are fetched only when the path ends there: a lookup in it checks the rest.
    if (parts.length === 0) return { inode: from, attr: await this.fs.getattr(from) };
    let cur: Resolved = { inode: from, attr: { type: TYPE_DIRECTORY } as Attr };
    for (let i = 0; i < parts.length; i++) {
      if (cur.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      const part = parts[i]!;
      const next = part === '..' && cur.inode === this.root ? cur : await this.fs.lookup(cur.inode, part);
      const last = i === parts.length - 1;
      if (next.attr.type === TYPE_SYMLINK && (!last || follow)) {
        if (++links.n > MAX_SYMLINKS) throw fsErr('ELOOP');
        const target = await this.fs.readlink(next.inode);
        const rest = [...splitPath(target), ...parts.slice(i + 1)];
        return this.walk(rest, follow, links, target.startsWith('/') ? this.root : cur.inode);
      }
      cur = next;
    }
    return cur;
  }

  /** The canonical path: every symlink expanded, "." and ".." removed; ELOOP after 40 links. */
  async realpath(path: string): Promise<string> {
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
      const r = await this.fs.lookup(inodes[inodes.length - 1]!, part);
      if (r.attr.type === TYPE_SYMLINK) {
        if (++links > MAX_SYMLINKS) throw fsErr('ELOOP');
        const target = await this.fs.readlink(r.inode);
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
