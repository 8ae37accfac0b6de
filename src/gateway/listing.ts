// Listing a bucket in S3 key order without loading its tree: directories are read page by page in name
// order and merged, because a directory `a` (keys `a/...`) sorts after names like `a-b` or `a.txt` that
// come after it in the directory. A start key (marker/continuation) seeks straight to its place: only the
// directories on its path are entered, each read from the right name on.
import { FsError } from '../errors.js';
import { compareKeys as cmpKey } from '../object/util.js';
import { TYPE_DIRECTORY, TYPE_FILE, type Attr, type Entry, type VfsView } from '../vfs/view.js';

export interface ListItem {
  key: string;
  /** 'object': a file, or a directory shown as a `dir/` marker object; 'prefix': a rolled-up common prefix. */
  kind: 'object' | 'prefix';
  ino: number;
  attr?: Attr;
  dir?: boolean;
}

export interface WalkOptions {
  /** Exclusive lower bound on keys (StartAfter, marker, continuation token). */
  after?: string;
  /** Names at the top directory must start with this (the part of the prefix after its last '/'). */
  namePrefix: string;
  /** Roll directories at the top level up into common prefixes (delimiter '/'). */
  rollup: boolean;
  /** Whether a directory is shown as a `dir/` object: empty, or explicitly made as one. */
  isMarker: (ino: number) => Promise<boolean>;
}

const PAGE = 1000;

export class Walker {
  constructor(private readonly view: VfsView) {}

  private async lookup(dir: number, name: string): Promise<Entry | undefined> {
    try {
      const r = await this.view.lookup(dir, name);
      return { inode: r.inode, name, attr: r.attr };
    } catch (e) {
      if (e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENAMETOOLONG' || e.code === 'EINVAL')) return undefined;
      throw e;
    }
  }

  /** Entries of dir in name order from `start` (inclusive), preceded by `extra` (smaller names). */
  private async *entries(dir: number, start: string | undefined, extra: Entry[]): AsyncGenerator<Entry> {
    yield* extra;
    let after: string | undefined;
    if (start !== undefined && start !== '') {
      const e = await this.lookup(dir, start);
      if (e) yield e;
      after = start;
    }
    for (;;) {
      const list = await this.view.readdir(dir, true, after, PAGE);
      yield* list;
      if (list.length < PAGE) return;
      after = list[list.length - 1]!.name;
    }
  }

  /** Items under directory `dir` whose keys start with K, in key order. */
  async *walk(dir: number, K: string, o: WalkOptions, top = true): AsyncGenerator<ListItem> {
    let after = o.after;
    if (after !== undefined && !after.startsWith(K)) {
      if (cmpKey(after, K) > 0) return; // every key here is <= after
      after = undefined;
    }
    const namePrefix = top ? o.namePrefix : '';
    let start: string | undefined = namePrefix || undefined;
    const extra: Entry[] = [];
    if (after !== undefined) {
      const rest = after.slice(K.length);
      const c = rest.includes('/') ? rest.slice(0, rest.indexOf('/')) : rest;
      if (cmpKey(c, namePrefix) >= 0) {
        start = c;
        // A directory whose name is a prefix of c followed by a byte below '/' sorts after c.
        for (let i = Math.max(1, namePrefix.length); i < c.length; i++) {
          if (c.charCodeAt(i) < 0x2f) {
            const e = await this.lookup(dir, c.slice(0, i));
            if (e && e.attr.type === TYPE_DIRECTORY) extra.push(e);
          }
        }
      }
    }
    // The directory itself as a `K` marker object (never the bucket, never at a seek position).
    if (K !== '' && namePrefix === '' && (after === undefined || cmpKey(K, after) > 0) && (await o.isMarker(dir))) {
      yield { key: K, kind: 'object', ino: dir, dir: true };
    }
    const pending: Entry[] = [];
    const emitDir = (e: Entry) => this.dirItems(e, K, after, o, top);
    for await (const e of this.entries(dir, start, extra)) {
      if (namePrefix && !e.name.startsWith(namePrefix)) {
        if (cmpKey(e.name, namePrefix) > 0) break;
        continue;
      }
      const isDir = e.attr.type === TYPE_DIRECTORY;
      const sortKey = isDir ? e.name + '/' : e.name;
      while (pending.length && cmpKey(pending[0]!.name + '/', sortKey) < 0) yield* emitDir(pending.shift()!);
      if (isDir) {
        let i = pending.length;
        while (i > 0 && cmpKey(pending[i - 1]!.name + '/', sortKey) > 0) i--;
        pending.splice(i, 0, e);
      } else if (e.attr.type === TYPE_FILE) {
        const key = K + e.name;
        if (after === undefined || cmpKey(key, after) > 0) yield { key, kind: 'object', ino: e.inode, attr: e.attr };
      }
      // Symlinks, devices and the like are not objects.
    }
    while (pending.length) yield* emitDir(pending.shift()!);
  }

  private async *dirItems(e: Entry, K: string, after: string | undefined, o: WalkOptions, top: boolean): AsyncGenerator<ListItem> {
    const dk = K + e.name + '/';
    let sub: string | undefined;
    if (after !== undefined) {
      if (after.startsWith(dk)) sub = after;
      else if (cmpKey(dk, after) < 0) return;
    }
    if (top && o.rollup) {
      if (sub === undefined) {
        yield { key: dk, kind: 'prefix', ino: e.inode };
        return;
      }
      // Resuming after this very prefix: all of it was returned already.
      if (sub === dk) return;
      const it = this.walk(e.inode, dk, { ...o, after: sub, rollup: false }, false);
      const first = await it.next();
      await it.return(undefined);
      if (!first.done) yield { key: dk, kind: 'prefix', ino: e.inode };
      return;
    }
    yield* this.walk(e.inode, dk, { ...o, after: sub }, false);
  }
}
