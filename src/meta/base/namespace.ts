// Namespace operations written once for every engine: each is one transaction over Tx primitives.
import { FsError, errnoCode, fsErr } from '../../errors.js';
import { checkAccess, checkSticky, clearSetIdOnChown, clearSetIdOnWrite, inGroup, isOwnerOrRoot, needsAcl } from '../access.js';
import { ACL_ACCESS } from '../acl.js';
import { inheritedAcl, readAcl, storeInherited } from './acl.js';
import { align4k, newAttr, setAtime, setCtime, setMtime, spaceOf, stamp, touch, type Stamp } from '../attrs.js';
import type { Guard, Target } from '../policy/index.js';
import type { Tx } from '../tx.js';
import {
  FLAG_XATTRS,
  USER_FLAGS,
  MAX_NAME,
  MAX_SYMLINK,
  MODE_W,
  MODE_X,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  type RenameExpect,
  ROOT_INODE,
  SET_ATIME,
  SET_ATIME_NOW,
  SET_CLEAR_SETID,
  SET_CTIME,
  SET_FLAGS,
  SET_GID,
  SET_MODE,
  SET_MTIME,
  SET_MTIME_NOW,
  SET_SIZE,
  SET_UID,
  TYPE_DIRECTORY,
  TYPE_FILE,
  TYPE_SYMLINK,
  type Attr,
  type AttrResult,
  type Context,
  type Entry,
  type FileType,
  type NodeResult,
  type ReaddirOptions,
  type SessionInfo,
  type SessionOpenState,
  type StatFs,
  type Versioned,
  type WalkResult,
} from '../types.js';
import { isTrashDir, TRASH_INODE, TRASH_NAME } from '../trash-names.js';
import { MetaCore } from './core.js';
import { moveToTrash } from './trash-moves.js';

const PIB = 2 ** 50;

export function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new FsError('EINVAL', { message: `invalid name '${name}'` });
  }
  if (Buffer.byteLength(name) > MAX_NAME) throw fsErr('ENAMETOOLONG');
}

export class NamespaceOps extends MetaCore {
  /** Open handles of this client per inode (the engine records only that the session holds it). */
  protected readonly openCount = new Map<number, number>();

  /** What this session holds open, for a process taking the session over (a mount handed over). */
  openState(): SessionOpenState {
    return { held: [...this.heldHere], open: [...this.openCount] };
  }

  /**
   * Continues a session another process of this client opened (a FUSE mount handed over): its locks and
   * open-file records stay, and this process's in-memory view of them is the one it was handed.
   */
  async adoptSession(sid: number, info: Partial<SessionInfo>, open: SessionOpenState): Promise<void> {
    if (!this.fmt) await this.load();
    const cur = (await this.listSessions()).find((x) => x.sid === sid);
    if (!cur) throw fsErr('ENOENT', `session ${sid} is gone (cleaned as stale?)`);
    this.sid = sid;
    this.restoreOpenState(open);
    await this.setSessionInfo(info);
  }

  /** The open files of an adopted session as its previous process left them (at the handover itself). */
  restoreOpenState(open: SessionOpenState): void {
    this.heldHere.clear();
    this.openCount.clear();
    for (const ino of open.held) this.heldHere.add(ino);
    for (const [ino, n] of open.open) this.openCount.set(ino, n);
  }

  /** Removes the session of a process that died (not this one's): its locks and open-file records. False if gone already. */
  async dropDeadSession(sid: number): Promise<boolean> {
    if (sid === this.sid) throw fsErr('EINVAL', 'dropDeadSession: that is this client\'s own session');
    if (!(await this.listSessions()).some((x) => x.sid === sid)) return false;
    await this.dropSession(sid);
    return true;
  }

  protected async mustAttr(tx: Tx, ino: number): Promise<Attr> {
    const a = await tx.getAttr(ino);
    if (!a) throw fsErr('ENOENT');
    return a;
  }

  /**
   * Throws EACCES unless ctx may access inode `ino` (attributes `a`) with mask; reads its access ACL only
   * when the check depends on it (needsAcl), in `tx` or, outside a transaction, in a read of its own.
   */
  protected async permit(tx: Tx | undefined, ctx: Context, ino: number, a: Attr, mask: number): Promise<void> {
    if (!mask || !needsAcl(ctx, a)) return checkAccess(ctx, a, mask);
    const acl = tx ? await readAcl(tx, ino, ACL_ACCESS) : await this.eng.read((t) => readAcl(t, ino, ACL_ACCESS));
    checkAccess(ctx, a, mask, acl);
  }

  /** A directory the caller may add or remove entries in (rules such as chattr +i are the guard's). */
  protected async writableDir(tx: Tx, ctx: Context, ino: number): Promise<Attr> {
    const a = await this.mustAttr(tx, ino);
    if (a.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
    if (a.nlink === 0) throw fsErr('ENOENT');
    await this.permit(tx, ctx, ino, a, MODE_W | MODE_X);
    return a;
  }

  // ---- reads ----

  async statfs(_ctx: Context, _ino = ROOT_INODE): Promise<StatFs> {
    const f = this.format();
    const [used, inodes] = await this.eng.read(async (tx) => [await tx.getCounter('usedSpace'), await tx.getCounter('totalInodes')]);
    const total = f.capacity > 0 ? f.capacity : Math.max(PIB, align4k(used) * 2);
    const itotal = f.inodes > 0 ? f.inodes : Math.max(10_000_000, inodes * 2);
    return {
      totalSpace: total,
      availSpace: Math.max(0, total - used),
      usedSpace: used,
      usedInodes: inodes,
      availInodes: Math.max(0, itotal - inodes),
    };
  }

  async access(ctx: Context, ino: number, mask: number, attr?: Attr): Promise<void> {
    await this.permit(undefined, ctx, ino, attr ?? (await this.getattr(ctx, ino)), mask);
  }

  async getattr(_ctx: Context, ino: number): Promise<Attr> {
    const a = await this.eng.read((tx) => tx.getAttr(ino));
    if (!a) throw fsErr('ENOENT');
    return a;
  }

  async lookup(ctx: Context, parent: number, name: string, checkPerm = true): Promise<{ inode: number; attr: Attr }> {
    if (Buffer.byteLength(name) > MAX_NAME) throw fsErr('ENAMETOOLONG');
    return this.eng.read((tx) => this.lookupIn(tx, ctx, parent, name, checkPerm));
  }

  private async lookupIn(tx: Tx, ctx: Context, parent: number, name: string, checkPerm = true): Promise<{ inode: number; attr: Attr }> {
    if (Buffer.byteLength(name) > MAX_NAME) throw fsErr('ENAMETOOLONG');
    if (name === '.' || name === '..') {
      const pa = await this.mustAttr(tx, parent);
      if (pa.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      if (checkPerm) await this.permit(tx, ctx, parent, pa, MODE_X);
      const ino = name === '.' || parent === ROOT_INODE ? parent : pa.parent;
      return { inode: ino, attr: ino === parent ? pa : await this.mustAttr(tx, ino) };
    }
    if (checkPerm && ctx.checkPermission && ctx.uid !== 0) {
      const pa = await this.mustAttr(tx, parent);
      if (pa.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      await this.permit(tx, ctx, parent, pa, MODE_X);
    }
    const found = await tx.lookup(parent, name);
    if (found) return found;
    if (parent === ROOT_INODE && name === TRASH_NAME) {
      // The trash is no entry of the root (readdir never lists it), but /.trash names it.
      const attr = await tx.getAttr(TRASH_INODE);
      if (attr) return { inode: TRASH_INODE, attr };
    }
    // Tell a missing entry from a parent that is not a directory.
    const pa = await tx.getAttr(parent);
    if (pa && pa.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
    throw fsErr('ENOENT');
  }

  /** The lookups of a path in one read: a far client resolves /a/b/c/d in one round trip, not four. */
  async walk(ctx: Context, parent: number, names: string[]): Promise<WalkResult> {
    return this.eng.read(async (tx) => {
      const found: WalkResult['found'] = [];
      let cur = parent;
      for (const name of names) {
        let r: { inode: number; attr: Attr };
        try {
          r = await this.lookupIn(tx, ctx, cur, name);
        } catch (e) {
          if (!(e instanceof FsError)) throw e;
          return { found, error: { code: e.code, message: e.description } };
        }
        found.push(r);
        if (r.attr.type !== TYPE_DIRECTORY) break;
        cur = r.inode;
      }
      return { found };
    });
  }

  async resolve(ctx: Context, root: number, path: string): Promise<{ inode: number; attr: Attr }> {
    const names = path.split('/').filter((p) => p !== '' && p !== '.');
    if (!names.length) return { inode: root, attr: await this.getattr(ctx, root) };
    const w = await this.walk(ctx, root, names);
    if (w.error) throw new FsError(errnoCode(w.error.code), { message: w.error.message });
    if (w.found.length < names.length) throw fsErr('ENOTDIR');
    return w.found[w.found.length - 1]!;
  }

  async readlink(_ctx: Context, ino: number): Promise<string> {
    return this.eng.read(async (tx) => {
      const t = await tx.getSymlink(ino);
      if (t !== undefined) return t;
      const a = await this.mustAttr(tx, ino);
      throw fsErr(a.type === TYPE_SYMLINK ? 'EIO' : 'EINVAL');
    });
  }

  async readdir(ctx: Context, ino: number, opts: ReaddirOptions = {}): Promise<Entry[]> {
    return this.eng.read(async (tx) => {
      // The directory's attributes and the page are asked for together: engines that pipeline (Redis, etcd)
      // answer both in one round trip. Nothing of the page is returned before the checks pass.
      // SQL engines read both in one statement.
      const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
      const [a, page] = tx.listDir
        ? await tx.listDir(ino, opts.after, limit, opts.plus ?? false).then((r) => [r.dir, r.entries] as const)
        : await Promise.all([tx.getAttr(ino), tx.listEntries(ino, opts.after, limit, opts.plus ?? false)]);
      if (!a) throw fsErr('ENOENT');
      if (a.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      await this.permit(tx, ctx, ino, a, opts.plus ? 4 | MODE_X : 4);
      return page;
    });
  }

  // ---- creating ----

  async mknod(ctx: Context, parent: number, name: string, type: FileType, mode: number, rdev = 0): Promise<NodeResult> {
    return this.makeNode(ctx, parent, name, type, mode, rdev, undefined);
  }

  async mkdir(ctx: Context, parent: number, name: string, mode: number): Promise<NodeResult> {
    return this.makeNode(ctx, parent, name, TYPE_DIRECTORY, mode, 0, undefined);
  }

  async create(ctx: Context, parent: number, name: string, mode: number, _flags: number): Promise<NodeResult> {
    const r = await this.makeNode(ctx, parent, name, TYPE_FILE, mode, 0, undefined, true);
    this.openCount.set(r.inode, (this.openCount.get(r.inode) ?? 0) + 1);
    if (this.sid) this.heldHere.add(r.inode);
    return r;
  }

  async symlink(ctx: Context, parent: number, name: string, target: string): Promise<NodeResult> {
    if (target === '' || Buffer.byteLength(target) > MAX_SYMLINK) throw fsErr(target === '' ? 'ENOENT' : 'ENAMETOOLONG');
    return this.makeNode(ctx, parent, name, TYPE_SYMLINK, 0o777, 0, target);
  }

  private async makeNode(
    ctx: Context,
    parent: number,
    name: string,
    type: FileType,
    mode: number,
    rdev: number,
    target: string | undefined,
    opened = false,
  ): Promise<NodeResult> {
    checkName(name);
    if (parent === ROOT_INODE && name === TRASH_NAME) throw fsErr('EPERM', `${TRASH_NAME} is the volume's trash`);
    const ino = await this.inodes.alloc();
    const op = type === TYPE_DIRECTORY ? 'mkdir' : type === TYPE_SYMLINK ? 'symlink' : type === TYPE_FILE ? 'create' : 'mknod';
    return this.change(op, async (tx) => {
      const pa = await this.writableDir(tx, ctx, parent);
      const t = stamp();
      const umask = type === TYPE_SYMLINK ? 0 : (ctx.umask ?? 0);
      // A default ACL of the parent replaces the umask (POSIX.1e).
      const acl = await inheritedAcl(tx, parent, pa, type, mode & 0o7777);
      const attr = newAttr(type, acl ? acl.mode : mode & 0o7777 & ~umask, ctx.uid, ctx.gid, parent, t);
      attr.rdev = rdev;
      if (pa.mode & 0o2000) {
        // setgid directories hand their group (and, to subdirectories, the bit) down.
        attr.gid = pa.gid;
        if (type === TYPE_DIRECTORY) attr.mode |= 0o2000;
      } else if (attr.mode & 0o2000 && ctx.checkPermission && ctx.uid !== 0 && !inGroup(ctx, attr.gid)) {
        attr.mode &= ~0o2000;
      }
      if (target !== undefined) attr.length = Buffer.byteLength(target);
      const made: Target = { role: 'new', ino, attr, parent };
      const g = await this.guard(tx, op, ctx, [{ role: 'dir', ino: parent, attr: pa }, made]);
      // The name's check and its insert in one statement where the engine can (a failed charge rolls it back).
      if (tx.addEntry) {
        if (!(await tx.addEntry(parent, name, ino, type))) throw fsErr('EEXIST');
        await g.charge(made, spaceOf(attr), 1);
      } else {
        if (await tx.getEntry(parent, name)) throw fsErr('EEXIST');
        await g.charge(made, spaceOf(attr), 1);
        await tx.setEntry(parent, name, ino, type);
      }
      if (acl) await storeInherited(tx, ino, attr, acl);
      if (target !== undefined) await tx.setSymlink(ino, target);
      // create() opens the file: recorded with the node, so no other client's unlink can miss it.
      if (opened && this.sid) await tx.addSustained(this.sid, ino);
      touch(pa, t);
      if (type === TYPE_DIRECTORY) pa.nlink++;
      // The node and its parent written together where the engine can.
      if (tx.setAttrs) await tx.setAttrs([[ino, attr], [parent, pa]]);
      else {
        await tx.setAttr(ino, attr);
        await tx.setAttr(parent, pa);
      }
      await tx.incrCounter('totalInodes', 1);
      const space = spaceOf(attr);
      if (space) await tx.incrCounter('usedSpace', space);
      return { inode: ino, attr, parentAttr: pa };
    });
  }

  async link(ctx: Context, ino: number, parent: number, name: string): Promise<AttrResult> {
    checkName(name);
    return this.change('link', async (tx) => {
      const pa = await this.writableDir(tx, ctx, parent);
      const attr = await this.mustAttr(tx, ino);
      if (attr.type === TYPE_DIRECTORY) throw fsErr('EPERM');
      const linked: Target = { role: 'linked', ino, attr: { ...attr }, parent };
      const g = await this.guard(tx, 'link', ctx, [{ role: 'dir', ino: parent, attr: pa }, linked]);
      if (attr.nlink === 0) throw fsErr('ENOENT');
      if (await tx.getEntry(parent, name)) throw fsErr('EEXIST');
      await g.transfer(linked, undefined, parent);
      const t = stamp();
      // Files with several links keep their parents in the link table.
      if (attr.parent !== 0) await tx.addParent(ino, attr.parent, 1);
      await tx.addParent(ino, parent, 1);
      attr.parent = 0;
      attr.nlink++;
      setCtime(attr, t);
      await tx.setEntry(parent, name, ino, attr.type);
      await tx.setAttr(ino, attr);
      touch(pa, t);
      await tx.setAttr(parent, pa);
      return { attr };
    });
  }

  // ---- removing ----

  /** Whether a name removed from `parent` goes to the trash: trash is on and the name is not in it already. */
  protected trashOn(ctx: Context, parent: number): boolean {
    return (this.fmt?.trashDays ?? 0) > 0 && !ctx.skipTrash && !isTrashDir(parent);
  }

  /** A name removed from `parent`: its file or directory goes to the trash when it was the last name, else is dropped. */
  protected async removed(tx: Tx, ctx: Context, ino: number, attr: Attr, parent: number, name: string, t: Stamp): Promise<void> {
    if (this.trashOn(ctx, parent) && (attr.type === TYPE_DIRECTORY || attr.nlink <= 1)) {
      await moveToTrash(tx, ino, attr, attr.type, parent, name, t);
    } else if (attr.type === TYPE_DIRECTORY) {
      await this.freeInode(tx, ino, attr);
    } else {
      await this.dropLink(tx, ino, attr, parent, t);
    }
  }

  async unlink(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number; parentAttr?: Attr }> {
    if (name === '.' || name === '..') throw fsErr('EISDIR');
    return this.change('unlink', async (tx) => {
      const pa = await this.writableDir(tx, ctx, parent);
      // The entry and its inode's attributes in one read (an entry whose inode is gone: the entry alone).
      const l = await tx.lookup(parent, name);
      const e = l ? { inode: l.inode, type: l.attr.type } : await tx.getEntry(parent, name);
      if (!e) throw fsErr('ENOENT');
      if (e.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
      const attr = l?.attr;
      if (attr) checkSticky(ctx, pa, attr);
      const targets: Target[] = [{ role: 'dir', ino: parent, attr: pa }];
      const victim: Target | undefined = attr && { role: 'removed', ino: e.inode, attr: { ...attr }, parent };
      if (victim) targets.push(victim);
      const g = await this.guard(tx, 'unlink', ctx, targets);
      // The name leaves its directory's quotas now, even when the trash keeps the inode (as JuiceFS).
      if (victim) await g.transfer(victim, parent, undefined);
      const t = stamp();
      await tx.delEntry(parent, name);
      touch(pa, t);
      await tx.setAttr(parent, pa);
      if (attr) await this.removed(tx, ctx, e.inode, attr, parent, name, t);
      return { inode: e.inode, parentAttr: pa };
    });
  }

  async rmdir(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number }> {
    if (name === '.') throw fsErr('EINVAL');
    if (name === '..') throw fsErr('ENOTEMPTY');
    return this.change('rmdir', async (tx) => {
      const pa = await this.writableDir(tx, ctx, parent);
      const e = await tx.getEntry(parent, name);
      if (!e) throw fsErr('ENOENT');
      if (e.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
      const attr = await this.mustAttr(tx, e.inode);
      checkSticky(ctx, pa, attr);
      const victim: Target = { role: 'removed', ino: e.inode, attr: { ...attr }, parent };
      const g = await this.guard(tx, 'rmdir', ctx, [{ role: 'dir', ino: parent, attr: pa }, victim]);
      if (await tx.hasEntries(e.inode)) throw fsErr('ENOTEMPTY');
      await g.transfer(victim, parent, undefined);
      const t = stamp();
      await tx.delEntry(parent, name);
      touch(pa, t);
      pa.nlink--;
      await tx.setAttr(parent, pa);
      await this.removed(tx, ctx, e.inode, attr, parent, name, t);
      return { inode: e.inode };
    });
  }

  /** One name of `ino` in `parent` is gone: drop a link, and the inode with its last one unless a session holds it open. */
  protected async dropLink(tx: Tx, ino: number, attr: Attr, parent: number, t: Stamp): Promise<void> {
    attr.nlink--;
    setCtime(attr, t);
    if (attr.nlink > 0) {
      if (attr.parent === 0) {
        await tx.addParent(ino, parent, -1);
        if (attr.nlink === 1) {
          // Back to a single link: the parent lives in the attribute again.
          const [rest] = await tx.listParents(ino);
          if (rest) {
            attr.parent = rest.parent;
            await tx.addParent(ino, rest.parent, -rest.count);
          }
        }
      }
      await tx.setAttr(ino, attr);
      return;
    }
    if (attr.type === TYPE_FILE && (await tx.listSustainedBy(ino)).length > 0) {
      // Kept with nlink 0 for its holders; the last one's release (or its stale-session cleanup) frees it.
      attr.parent = 0;
      await tx.setAttr(ino, attr);
      return;
    }
    await this.freeInode(tx, ino, attr);
  }

  /** Removes an inode's attributes, symlink and xattrs; its file data goes to the delete queue. */
  protected async freeInode(tx: Tx, ino: number, attr: Attr): Promise<void> {
    await tx.delAttr(ino);
    if (attr.type === TYPE_SYMLINK) await tx.delSymlink(ino);
    // On volumes that flag inodes with xattrs, one without the flag has none to list.
    if (this.fmt?.xattrFlags !== true || attr.flags & FLAG_XATTRS) for (const name of await tx.listXattr(ino)) await tx.delXattr(ino, name);
    if (attr.parent === 0 && attr.type === TYPE_FILE) {
      for (const p of await tx.listParents(ino)) await tx.addParent(ino, p.parent, -p.count);
    }
    if (attr.type === TYPE_FILE) await tx.addDelFile(ino, attr.length);
    await tx.incrCounter('totalInodes', -1);
    const space = spaceOf(attr);
    if (space) await tx.incrCounter('usedSpace', -space);
  }

  // ---- rename ----

  async rename(ctx: Context, ps: number, ns: string, pd: number, nd: string, flags = 0, expect?: RenameExpect): Promise<NodeResult> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) || (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) || (expect && flags)) {
      throw fsErr('EINVAL');
    }
    if (ns === '.' || ns === '..') throw fsErr(ns === '.' ? 'EINVAL' : 'EBUSY');
    checkName(nd);
    return this.change('rename', async (tx) => {
      const src = await this.writableDir(tx, ctx, ps);
      const dst = ps === pd ? src : await this.writableDir(tx, ctx, pd);
      const se = await tx.getEntry(ps, ns);
      if (!se) throw fsErr('ENOENT');
      const sattr = await this.mustAttr(tx, se.inode);
      const de = await tx.getEntry(pd, nd);
      const exchange = (flags & RENAME_EXCHANGE) !== 0;
      if (exchange && !de) throw fsErr('ENOENT');
      if (flags & RENAME_NOREPLACE && de) throw fsErr('EEXIST');
      const dattr = de ? await this.mustAttr(tx, de.inode) : undefined;
      if (expect && !(de && dattr && de.inode === expect.inode && dattr.mtime === expect.mtime && dattr.mtimensec === expect.mtimensec && dattr.length === expect.length)) {
        throw fsErr('ESTALE');
      }
      if (ps === pd && ns === nd) return { inode: se.inode, attr: sattr };
      checkSticky(ctx, src, sattr);
      if (de && dattr && de.inode === se.inode) return { inode: se.inode, attr: sattr }; // two links of one file
      if (dattr) checkSticky(ctx, dst, dattr);
      const targets: Target[] = [{ role: 'dir', ino: ps, attr: src }];
      if (pd !== ps) targets.push({ role: 'dir', ino: pd, attr: dst });
      const moved: Target = { role: 'moved', ino: se.inode, attr: { ...sattr }, parent: ps };
      const other: Target | undefined = de && dattr && { role: exchange ? 'moved' : 'removed', ino: de.inode, attr: { ...dattr }, parent: pd };
      targets.push(moved);
      if (other) targets.push(other);
      const g = await this.guard(tx, 'rename', ctx, targets, flags);
      if (ps !== pd) {
        if (se.type === TYPE_DIRECTORY) await this.movableDir(tx, ctx, se.inode, sattr, pd);
        if (exchange && de!.type === TYPE_DIRECTORY) await this.movableDir(tx, ctx, de!.inode, dattr!, ps);
      }
      const t = stamp();
      if (de && !exchange) {
        if (se.type === TYPE_DIRECTORY) {
          if (de.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR');
          if (await tx.hasEntries(de.inode)) throw fsErr('ENOTEMPTY');
        } else if (de.type === TYPE_DIRECTORY) {
          throw fsErr('EISDIR');
        }
      }
      // Quotas: what is replaced leaves first, then what moves goes from one directory's chain to the other's.
      if (other && !exchange) await g.transfer(other, pd, undefined);
      if (ps !== pd) {
        await g.transfer(moved, ps, pd);
        if (other && exchange) await g.transfer(other, pd, ps);
      }
      await tx.delEntry(ps, ns);
      await tx.setEntry(pd, nd, se.inode, se.type);
      if (exchange) {
        await tx.setEntry(ps, ns, de!.inode, de!.type);
        await this.moveParent(tx, de!.inode, dattr!, pd, ps, src, dst, t);
      } else if (de && dattr) {
        if (de.type === TYPE_DIRECTORY) dst.nlink--;
        await this.removed(tx, ctx, de.inode, dattr, pd, nd, t);
      }
      await this.moveParent(tx, se.inode, sattr, ps, pd, dst, src, t);
      touch(src, t);
      touch(dst, t);
      await tx.setAttr(ps, src);
      if (pd !== ps) await tx.setAttr(pd, dst);
      return { inode: se.inode, attr: sattr };
    });
  }

  /** A directory may move to another parent only if that parent is not inside it, and its `..` is writable. */
  private async movableDir(tx: Tx, ctx: Context, ino: number, attr: Attr, newParent: number): Promise<void> {
    await this.permit(tx, ctx, ino, attr, MODE_W);
    for (let p = newParent; p !== ROOT_INODE; ) {
      if (p === ino) throw fsErr('EINVAL');
      const pa = await tx.getAttr(p);
      if (!pa) break;
      p = pa.parent;
    }
  }

  /** Moves ino's parent reference from `from` to `to`, adjusting directory link counts. */
  private async moveParent(tx: Tx, ino: number, attr: Attr, from: number, to: number, toAttr: Attr, fromAttr: Attr, t: Stamp): Promise<void> {
    setCtime(attr, t);
    if (from !== to) {
      if (attr.type === TYPE_DIRECTORY) {
        fromAttr.nlink--;
        toAttr.nlink++;
        attr.parent = to;
      } else if (attr.parent !== 0) {
        attr.parent = to;
      } else {
        await tx.addParent(ino, from, -1);
        await tx.addParent(ino, to, 1);
      }
    }
    await tx.setAttr(ino, attr);
  }

  // ---- attributes ----

  async setattr(ctx: Context, ino: number, set: number, req: Partial<Attr>): Promise<AttrResult> {
    return this.change('setattr', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      const before = { ...a };
      const t = stamp();
      const root = !ctx.checkPermission || ctx.uid === 0;
      const changed: Target = { role: 'changed', ino, attr: { ...a } };
      const g = await this.guard(tx, 'setattr', ctx, [changed], set);
      if (set & (SET_UID | SET_GID)) {
        const uid = set & SET_UID && req.uid !== undefined && req.uid !== -1 ? req.uid : a.uid;
        const gid = set & SET_GID && req.gid !== undefined && req.gid !== -1 ? req.gid : a.gid;
        const uidGiven = (set & SET_UID) !== 0 && req.uid !== undefined && req.uid !== -1;
        const gidGiven = (set & SET_GID) !== 0 && req.gid !== undefined && req.gid !== -1;
        if (!root) {
          // As chown_ok/chgrp_ok in the kernel: only the owner, keeping the uid, into one of its groups.
          if (uidGiven && (ctx.uid !== a.uid || uid !== a.uid)) throw fsErr('EPERM');
          if (gidGiven && (ctx.uid !== a.uid || (gid !== a.gid && !inGroup(ctx, gid)))) throw fsErr('EPERM');
        }
        if (uidGiven || gidGiven) clearSetIdOnChown(ctx, a);
        a.uid = uid;
        a.gid = gid;
      }
      if (set & SET_MODE && req.mode !== undefined) {
        if (!isOwnerOrRoot(ctx, a)) throw fsErr('EPERM');
        // As Linux's setattr_copy: only setgid outside the caller's groups is dropped; the sticky bit on a
        // file stays (stripping it is a SunOS/BSD rule).
        let mode = req.mode & 0o7777;
        if (!root && mode & 0o2000 && !inGroup(ctx, a.gid)) mode &= ~0o2000;
        a.mode = mode;
      }
      if (set & SET_CLEAR_SETID && !(set & SET_MODE) && (await this.permit(tx, ctx, ino, a, MODE_W).then(() => true, () => false))) {
        clearSetIdOnWrite(ctx, a);
      }
      if (set & (SET_ATIME | SET_MTIME | SET_ATIME_NOW | SET_MTIME_NOW)) {
        const onlyNow = !(set & (SET_ATIME | SET_MTIME));
        if (!isOwnerOrRoot(ctx, a)) {
          if (!onlyNow) throw fsErr('EPERM');
          await this.permit(tx, ctx, ino, a, MODE_W);
        }
        if (set & SET_ATIME_NOW) setAtime(a, t);
        else if (set & SET_ATIME && req.atime !== undefined) {
          a.atime = req.atime;
          a.atimensec = req.atimensec ?? 0;
        }
        if (set & SET_MTIME_NOW) setMtime(a, t);
        else if (set & SET_MTIME && req.mtime !== undefined) {
          a.mtime = req.mtime;
          a.mtimensec = req.mtimensec ?? 0;
        }
      }
      if (set & SET_FLAGS && req.flags !== undefined) {
        if (!root) throw fsErr('EPERM');
        a.flags = (req.flags & USER_FLAGS) | (a.flags & ~USER_FLAGS);
      }
      if (set & SET_SIZE && req.length !== undefined) {
        if (a.type === TYPE_DIRECTORY) throw fsErr('EISDIR');
        if (a.type !== TYPE_FILE) throw fsErr('EINVAL');
        await this.permit(tx, ctx, ino, a, MODE_W);
        // A chmod in the same request says what the mode becomes (Linux refuses both at once).
        if (!(set & SET_MODE)) clearSetIdOnWrite(ctx, a);
        await this.truncateIn(tx, g, changed, a, req.length, t);
      }
      // A chown or chmod that changes nothing (tar's fchown to the owner the file has) writes nothing: no
      // ctime update, no record, a transaction without writes, as JuiceFS's mergeAttr does. Times are always
      // written: a touch to the same time still counts as a write (the TTL index follows it).
      if (!(set & ~(SET_UID | SET_GID | SET_MODE)) && sameAttr(before, a)) return { attr: a };
      if (set & SET_CTIME && req.ctime !== undefined) {
        a.ctime = req.ctime;
        a.ctimensec = req.ctimensec ?? 0;
      } else {
        setCtime(a, t);
      }
      await tx.setAttr(ino, a);
      return { attr: a };
    });
  }

  /** Changes a file's length inside a transaction, charging growth to `at`; the data layer implements it. */
  protected async truncateIn(_tx: Tx, _g: Guard, _at: Target, _a: Attr, _length: number, _t: Stamp): Promise<void> {
    throw fsErr('ENOSYS');
  }
}

/** Every field of two attribute records equal (they are flat records of numbers). */
function sameAttr(x: Attr, y: Attr): boolean {
  for (const k of Object.keys(y) as Array<keyof Attr>) if (x[k] !== y[k]) return false;
  return Object.keys(x).length === Object.keys(y).length;
}
