// `ferry clone`: a copy of a file or a tree made of metadata only, as JuiceFS's clone. The copy's chunks
// list the source's slices and each listed piece takes one more reference (as copyFileRange's pieces do),
// so no block is read or written; slices never change once written, a later write to either side appends
// new slices to that side only, and a shared slice is freed only with its last reference.
//
// A file (or symlink, device, ...) is cloned in one transaction. A directory is cloned in batches of
// entries under a hidden name beside the destination (`.NAME.ferry-clone-INODE`), which one rename puts in
// place at the end: the destination appears complete or not at all; an interrupted clone leaves the hidden
// directory, which `rm -rf` removes. The source is read page by page, not at one instant (as cp -r reads).
import { FsError, fsErr } from '../../errors.js';
import { newAttr, spaceOf, stamp, touch } from '../attrs.js';
import type { Guard, Target } from '../policy/index.js';
import type { Tx } from '../tx.js';
import {
  FLAG_ACL,
  FLAG_DEFAULT_ACL,
  FLAG_XATTRS,
  MODE_R,
  MODE_X,
  RENAME_NOREPLACE,
  ROOT_INODE,
  TYPE_DIRECTORY,
  TYPE_FILE,
  TYPE_SYMLINK,
  type Attr,
  type CloneOptions,
  type CloneResult,
  type Context,
  type Entry,
} from '../types.js';
import { TRASH_NAME } from '../trash-names.js';
import { checkName } from './namespace.js';
import { RepairOps } from './repair.js';

/** Entries cloned per transaction: short transactions on every engine, few round trips. */
const BATCH = 100;
/** Flags a copy keeps: the markers of what its copied xattrs hold (chattr flags are not copied, as cp). */
const KEPT_FLAGS = FLAG_XATTRS | FLAG_ACL | FLAG_DEFAULT_ACL;

/** What one batch made: the copies' attributes, the multi-link files it copied first, its counts. */
interface Batch {
  made: Attr[];
  links: Array<[number, number]>;
  inodes: number;
  bytes: number;
}

interface Run {
  ctx: Context;
  opts: CloneOptions;
  /** Copies made so far of files with several links, so the tree's other names of them link to the copy. */
  links: Map<number, number>;
  inodes: number;
  bytes: number;
}

export class CloneOps extends RepairOps {
  async clone(ctx: Context, src: number, dstParent: number, dstName: string, opts: CloneOptions = {}): Promise<CloneResult> {
    checkName(dstName);
    if (dstParent === ROOT_INODE && dstName === TRASH_NAME) throw fsErr('EPERM', `${TRASH_NAME} is the volume's trash`);
    const sa = await this.getattr(ctx, src);
    const run: Run = { ctx, opts, links: new Map(), inodes: 0, bytes: 0 };
    if (sa.type !== TYPE_DIRECTORY) {
      const ino = await this.inodes.alloc();
      const r = this.tally(run, await this.change('clone', (tx) => this.cloneBatch(tx, run, dstParent, [{ src, name: dstName, ino }], true)));
      return { version: r.version, inode: ino, attr: r.made[0]!, inodes: run.inodes, bytes: run.bytes };
    }
    await this.notInside(ctx, src, dstParent);
    // Fail early on a taken name rather than after copying the whole tree.
    if (await this.lookup(ctx, dstParent, dstName).then(() => true, () => false)) throw fsErr('EEXIST');
    const root = await this.inodes.alloc();
    const hidden = `.${dstName.slice(0, 180)}.ferry-clone-${root}`;
    this.tally(run, await this.change('clone', (tx) => this.cloneBatch(tx, run, dstParent, [{ src, name: hidden, ino: root }], true)));
    try {
      const dirs: Array<[number, number]> = [[src, root]];
      for (let next; (next = dirs.shift()); ) {
        const [from, to] = next;
        for (let after: string | undefined; ; ) {
          const page: Entry[] = await this.eng.read((tx) => tx.listEntries(from, after, BATCH, false));
          if (!page.length) break;
          const items: Array<{ src: number; name: string; ino: number }> = [];
          for (const e of page) items.push({ src: e.inode, name: e.name, ino: await this.inodes.alloc() });
          this.tally(run, await this.change('clone', (tx) => this.cloneBatch(tx, run, to, items, false)));
          for (const [i, e] of page.entries()) if (e.attr.type === TYPE_DIRECTORY) dirs.push([e.inode, items[i]!.ino]);
          if (page.length < BATCH) break;
          after = page[page.length - 1]!.name;
        }
      }
      const done = await this.rename(ctx, dstParent, hidden, dstParent, dstName, RENAME_NOREPLACE);
      return { version: done.version, inode: root, attr: done.attr, inodes: run.inodes, bytes: run.bytes };
    } catch (e) {
      await this.removeTree(dstParent, hidden).catch(() => undefined);
      throw e;
    }
  }

  /** Counts a committed batch (a transaction may run its function more than once: only the last run counts). */
  private tally<T extends Batch>(run: Run, b: T): T {
    for (const [src, ino] of b.links) run.links.set(src, ino);
    run.inodes += b.inodes;
    run.bytes += b.bytes;
    return b;
  }

  /** A directory cannot be cloned into itself (cp: "cannot copy a directory into itself"). */
  private async notInside(ctx: Context, src: number, dstParent: number): Promise<void> {
    for (let d = dstParent, depth = 0; depth < 4096; depth++) {
      if (d === src) throw new FsError('EINVAL', { message: 'cannot clone a directory into itself' });
      if (d === ROOT_INODE) return;
      d = (await this.getattr(ctx, d)).parent;
    }
  }

  /**
   * Clones `items` (source inode, name, inode of the copy) into directory `dir` in one transaction: the
   * copies' attributes, entries, symlink targets, xattrs and chunks, the slices' references, the counters.
   * `top`: `dir` is the caller's (checked writable, names checked free); otherwise a directory of the copy.
   */
  private async cloneBatch(tx: Tx, run: Run, dir: number, items: Array<{ src: number; name: string; ino: number }>, top: boolean): Promise<Batch> {
    const { ctx, opts } = run;
    const links = new Map(run.links);
    const out: Batch = { made: [], links: [], inodes: 0, bytes: 0 };
    const da = top ? await this.writableDir(tx, ctx, dir) : await this.mustAttr(tx, dir);
    const t = stamp();
    const plans: Array<{ src: number; name: string; ino: number; a: Attr; linkOf?: number }> = [];
    const targets: Target[] = [{ role: 'dir', ino: dir, attr: da }];
    for (const it of items) {
      const a = await tx.getAttr(it.src);
      if (!a) {
        if (top) throw fsErr('ENOENT');
        continue; // deleted while the tree was walked
      }
      await this.permit(tx, ctx, it.src, a, a.type === TYPE_DIRECTORY ? MODE_R | MODE_X : a.type === TYPE_FILE ? MODE_R : 0);
      const several = a.type !== TYPE_DIRECTORY && a.nlink > 1;
      const seen = several ? links.get(it.src) : undefined;
      if (seen !== undefined) {
        plans.push({ ...it, a, linkOf: seen });
        continue;
      }
      if (several && !top) {
        links.set(it.src, it.ino);
        out.links.push([it.src, it.ino]);
      }
      const c = copyAttr(a, ctx, opts, dir, t);
      plans.push({ ...it, a: c });
      targets.push({ role: 'read', ino: it.src, attr: a }, { role: 'new', ino: it.ino, attr: c, parent: dir });
    }
    const g: Guard = await this.guard(tx, 'clone', ctx, targets);
    if (top && (await tx.getEntry(dir, items[0]!.name))) throw fsErr('EEXIST');
    const made = out.made;
    for (const p of plans) {
      if (p.linkOf !== undefined) {
        made.push(await this.linkCopy(tx, p.linkOf, dir, p.name, p.a.type, t));
        continue;
      }
      const c = p.a;
      const space = spaceOf(c);
      await g.charge(targets.find((x) => x.role === 'new' && x.ino === p.ino)!, space, 1);
      await tx.setEntry(dir, p.name, p.ino, c.type);
      await tx.setAttr(p.ino, c);
      if (c.type === TYPE_SYMLINK) {
        const target = await tx.getSymlink(p.src);
        if (target !== undefined) await tx.setSymlink(p.ino, target);
      }
      if (p.a.flags & FLAG_XATTRS || c.flags & (FLAG_ACL | FLAG_DEFAULT_ACL)) {
        for (const name of await tx.listXattr(p.src)) {
          const v = await tx.getXattr(p.src, name);
          if (v !== undefined) await tx.setXattr(p.ino, name, v);
        }
      }
      if (c.type === TYPE_FILE) {
        for (const indx of await tx.listChunkIndexes(p.src, 0)) {
          const slices = await tx.getChunk(p.src, indx);
          if (!slices.length) continue;
          await tx.setChunk(p.ino, indx, slices);
          for (const s of slices) if (s.id) await tx.addSliceRef(s.id, s.size, 1);
        }
      }
      if (c.type === TYPE_DIRECTORY) da.nlink++;
      await tx.incrCounter('totalInodes', 1);
      if (space) await tx.incrCounter('usedSpace', space);
      out.inodes++;
      out.bytes += c.type === TYPE_FILE ? c.length : 0;
      made.push(c);
    }
    // The caller's directory changes as by a create; a directory of the copy keeps its (preserved) times.
    if (top) touch(da, t);
    await tx.setAttr(dir, da);
    return out;
  }

  /** Another name, in the copy, of a file the copy has already: the copy's file gets the link. */
  private async linkCopy(tx: Tx, ino: number, dir: number, name: string, type: Attr['type'], t: ReturnType<typeof stamp>): Promise<Attr> {
    const a = await this.mustAttr(tx, ino);
    if (a.parent !== 0) await tx.addParent(ino, a.parent, 1);
    await tx.addParent(ino, dir, 1);
    a.parent = 0;
    a.nlink++;
    a.ctime = t.sec;
    a.ctimensec = t.nsec;
    await tx.setEntry(dir, name, ino, type);
    await tx.setAttr(ino, a);
    return a;
  }

  /** Removes what an interrupted clone built (freed at once, never into the trash). */
  private async removeTree(parent: number, name: string): Promise<void> {
    const ctx: Context = { uid: 0, gid: 0, gids: [0], pid: process.pid, checkPermission: false, skipTrash: true };
    const e = await this.lookup(ctx, parent, name);
    if (e.attr.type === TYPE_DIRECTORY) {
      for (;;) {
        const page = await this.readdir(ctx, e.inode, { limit: BATCH });
        if (!page.length) break;
        for (const c of page) await this.removeTree(e.inode, c.name);
      }
      await this.rmdir(ctx, parent, name);
    } else {
      await this.unlink(ctx, parent, name);
    }
  }
}

/** The copy's attributes: everything of the source with --preserve, else the caller's, with the umask and now. */
function copyAttr(a: Attr, ctx: Context, opts: CloneOptions, parent: number, t: ReturnType<typeof stamp>): Attr {
  const c: Attr = { ...a, parent, nlink: a.type === TYPE_DIRECTORY ? 2 : 1, flags: a.flags & KEPT_FLAGS };
  if (opts.preserve) {
    c.ctime = t.sec;
    c.ctimensec = t.nsec;
    return c;
  }
  const fresh = newAttr(a.type, 0, ctx.uid, ctx.gid, parent, t);
  let mode = a.mode & ~(ctx.umask ?? 0);
  // As cp without -p: setuid and setgid do not pass to a file another user now owns.
  if (ctx.uid !== a.uid || ctx.gid !== a.gid) mode &= ~0o6000;
  return { ...c, uid: fresh.uid, gid: fresh.gid, mode: a.type === TYPE_SYMLINK ? a.mode : mode, atime: t.sec, atimensec: t.nsec, mtime: t.sec, mtimensec: t.nsec, ctime: t.sec, ctimensec: t.nsec };
}
