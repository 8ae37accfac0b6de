// Path resolution for every door: walks components through the VFS's cached lookups and follows
// symlinks (absolute targets from the volume root) like the kernel does, up to 40 of them. The names not
// cached are looked up together (Lookups.walk: one round trip to a far engine), not one by one.
import { FsError, errnoCode, fsErr } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_SYMLINK, type Attr, type WalkResult } from '../meta/types.js';

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
  /** The lookups of several names in a row (Meta.walk), the cached ones answered here. */
  walk?(parent: number, names: string[]): Promise<WalkResult>;
}

/** Lookups answered ahead by one walk, by "parent/name": a result, or the error that lookup gives. */
type Ahead = Map<string, Resolved | FsError>;

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
    return this.parentIn(parts, name, new Map());
  }

  private async parentIn(parts: string[], name: string, ahead: Ahead): Promise<ResolvedParent> {
    const dir = await this.walk(parts, true, { n: 0 }, this.root, ahead, [name]);
    if (dir.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
    return { parent: dir.inode, name };
  }

  /** For open(O_CREAT): one walk to the parent that also looks up the last component (found: undefined if missing). */
  async forCreate(path: string): Promise<ResolvedParent & { found?: Resolved }> {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new FsError('EBUSY', { message: 'the root directory has no parent' });
    if (name === '..') throw fsErr('EINVAL');
    const ahead: Ahead = new Map();
    const p = await this.parentIn(parts, name, ahead);
    try {
      return { ...p, found: await this.step(p.parent, [name], 0, [], ahead) };
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return p;
      throw e;
    }
  }

  /**
   * parts[i] looked up in `parent`: from `ahead` when a walk answered it, else by a walk of it and the names
   * after it (up to a '..', with `then`, names the caller looks up next) whose answers go into `ahead`.
   */
  private async step(parent: number, parts: string[], i: number, then: string[], ahead: Ahead): Promise<Resolved> {
    const part = parts[i]!;
    const key = `${parent}/${part}`;
    if (!ahead.has(key) && this.fs.walk && part !== '..') {
      const names: string[] = [];
      for (const n of [...parts.slice(i), ...then]) {
        if (n === '..') break;
        names.push(n);
      }
      const w = await this.fs.walk(parent, names);
      let p = parent;
      w.found.forEach((r, j) => {
        ahead.set(`${p}/${names[j]}`, r);
        p = r.inode;
      });
      if (w.error) ahead.set(`${p}/${names[w.found.length]}`, new FsError(errnoCode(w.error.code), { message: w.error.message }));
    }
    const got = ahead.get(key);
    if (got instanceof FsError) throw got;
    return got ?? this.fs.lookup(parent, part);
  }

  private async walk(parts: string[], follow: boolean, links: { n: number }, from = this.root, ahead: Ahead = new Map(), then: string[] = []): Promise<Resolved> {
    // The starting directory's attributes are fetched only when the path ends there: a lookup in it checks the rest.
    if (parts.length === 0) return { inode: from, attr: await this.fs.getattr(from) };
    let cur: Resolved = { inode: from, attr: { type: TYPE_DIRECTORY } as Attr };
    for (let i = 0; i < parts.length; i++) {
      if (cur.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      const part = parts[i]!;
      const next = part === '..' && cur.inode === this.root ? cur : await this.step(cur.inode, parts, i, then, ahead);
      const last = i === parts.length - 1;
      if (next.attr.type === TYPE_SYMLINK && (!last || follow)) {
        if (++links.n > MAX_SYMLINKS) throw fsErr('ELOOP');
        const target = await this.fs.readlink(next.inode);
        const rest = [...splitPath(target), ...parts.slice(i + 1)];
        return this.walk(rest, follow, links, target.startsWith('/') ? this.root : cur.inode, ahead, then);
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
