// The trash as an operator sees it: list what was deleted (with the path it had), restore entries to their
// names, purge hours. Restore and purge are each one transaction per entry (purge batches a few), so a
// purge and a restore of one entry serialise in the engine: whichever commits second finds the entry gone,
// and a restored file never lost its data.
import { fsErr } from '../../errors.js';
import { setCtime, stamp, touch } from '../attrs.js';
import { TRASH_INODE, hourStart, isTrashDir, parseTrashEntryName } from '../trash-names.js';
import type { Target } from '../policy/index.js';
import type { Tx } from '../tx.js';
import { MAX_NAME, ROOT_INODE, TYPE_DIRECTORY, type Context, type Versioned, type TrashItem, type TrashPurgeResult } from '../types.js';
import { DataOps } from './data.js';
import { TRASH_NAME_XATTR } from './trash-moves.js';

const HOUR_MS = 3_600_000;
const PURGE_BATCH = 100;
const LEASE_COUNTER = 'trashPurgeLease';
const LEASE_MS = 10 * 60_000;

const hourIno = (start: number) => TRASH_INODE + 1 + Math.floor(start / HOUR_MS);

export class TrashOps extends DataOps {
  async trashList(): Promise<TrashItem[]> {
    const hours = await this.eng.read((tx) => tx.listEntries(TRASH_INODE, undefined, Number.MAX_SAFE_INTEGER, false));
    const items: TrashItem[] = [];
    for (const h of hours) {
      const start = hourStart(h.name);
      if (start === undefined) continue;
      for (let after: string | undefined; ; ) {
        const page = await this.eng.read((tx) => tx.listEntries(h.inode, after, 1000, true));
        for (const e of page) {
          const n = parseTrashEntryName(e.name);
          // Only a name cut to fit the entry has its full form kept aside.
          const full = Buffer.byteLength(e.name) >= MAX_NAME - 3 ? await this.eng.read((tx) => tx.getXattr(e.inode, TRASH_NAME_XATTR)) : undefined;
          const a = e.attr!;
          items.push({
            id: `${h.name}/${e.name}`,
            hour: h.name,
            deletedAt: a.ctime * 1000 + Math.floor(a.ctimensec / 1e6),
            parent: n.parent,
            inode: e.inode,
            name: full ? full.toString() : n.name,
            type: a.type,
            length: a.length,
            path: '',
          });
        }
        if (page.length < 1000) break;
        after = page[page.length - 1]!.name;
      }
    }
    await this.pathsOf(items);
    return items;
  }

  /** Fills in each item's original path: its parent's path (live, or itself in the trash) and its name. */
  private async pathsOf(items: TrashItem[]): Promise<void> {
    const trashed = new Map(items.map((i) => [i.inode, i]));
    const dirPaths = new Map<number, string | undefined>([[ROOT_INODE, '']]);
    const namesIn = new Map<number, Map<number, string>>();
    const nameIn = async (parent: number, ino: number): Promise<string | undefined> => {
      let m = namesIn.get(parent);
      if (!m) {
        m = new Map();
        for (let after: string | undefined; ; ) {
          const page = await this.eng.read((tx) => tx.listEntries(parent, after, 1000, false));
          for (const e of page) if (e.attr.type === TYPE_DIRECTORY) m.set(e.inode, e.name);
          if (page.length < 1000) break;
          after = page[page.length - 1]!.name;
        }
        namesIn.set(parent, m);
      }
      return m.get(ino);
    };
    const dirPath = async (ino: number, depth = 0): Promise<string | undefined> => {
      if (dirPaths.has(ino)) return dirPaths.get(ino);
      let p: string | undefined;
      const t = trashed.get(ino);
      if (depth > 4096) p = undefined;
      else if (t) {
        const pp = await dirPath(t.parent, depth + 1);
        p = pp === undefined ? undefined : `${pp}/${t.name}`;
      } else {
        const a = await this.eng.read((tx) => tx.getAttr(ino));
        if (a && a.type === TYPE_DIRECTORY && a.parent && !isTrashDir(a.parent)) {
          const [pp, name] = [await dirPath(a.parent, depth + 1), await nameIn(a.parent, ino)];
          p = pp === undefined || name === undefined ? undefined : `${pp}/${name}`;
        }
      }
      dirPaths.set(ino, p);
      return p;
    };
    for (const i of items) {
      const pp = await dirPath(i.parent);
      i.path = pp === undefined ? `?${i.parent}/${i.name}` : `${pp}/${i.name}`;
    }
  }

  /**
   * Puts one trash entry (`HOUR/PARENT-INODE-NAME`) back under its name. Refused when the name exists
   * (EEXIST) unless `force`, which sends what is there to the trash; refused when the parent directory is
   * gone or itself in the trash (restore it first). `into` puts it in that directory instead of the one it
   * was deleted from (what a restore does when that one is gone or a new directory took its path).
   */
  async trashRestore(ctx: Context, id: string, opts: { force?: boolean; into?: number } = {}): Promise<Versioned & { inode: number }> {
    const slash = id.indexOf('/');
    const start = slash > 0 ? hourStart(id.slice(0, slash)) : undefined;
    if (start === undefined) throw fsErr('EINVAL', `'${id}' is not a trash entry (HOUR/PARENT-INODE-NAME)`);
    const entry = id.slice(slash + 1);
    const n = parseTrashEntryName(entry);
    const hIno = hourIno(start);
    const dir = opts.into ?? n.parent;
    return this.change('trash-restore', async (tx) => {
      const e = await tx.getEntry(hIno, entry);
      if (!e) throw fsErr('ENOENT', `${id} is not in the trash (purged or restored already)`);
      const attr = await this.mustAttr(tx, e.inode);
      const full = await tx.getXattr(e.inode, TRASH_NAME_XATTR);
      const name = full ? full.toString() : n.name;
      const pa = await tx.getAttr(dir);
      const which = opts.into === undefined ? `the directory ${id} was deleted from` : `the directory to restore ${id} into`;
      if (!pa || pa.type !== TYPE_DIRECTORY) throw fsErr(pa ? 'ENOTDIR' : 'ENOENT', `${which} is gone${opts.into === undefined ? ' (restore it into another directory)' : ''}`);
      if ((isTrashDir(pa.parent) && dir !== ROOT_INODE) || isTrashDir(dir)) throw fsErr('ENOENT', `${which} is in the trash: restore it first`);
      // Putting a name back changes its directory: refused where the directory's rules refuse an entry (read-only, immutable).
      await this.guard(tx, 'rename', ctx, [{ role: 'dir', ino: dir, attr: pa }]);
      const t = stamp();
      // Not checked (the trash rule refuses ordinary changes here), but accounted: the name enters the
      // directory quotas again (EDQUOT when one is full), what it replaces leaves them.
      const back: Target = { role: 'moved', ino: e.inode, attr: { ...attr } };
      const g = await this.unchecked(tx, 'restore', ctx, [back]);
      const there = await tx.getEntry(dir, name);
      if (there) {
        if (!opts.force) throw fsErr('EEXIST', `'${name}' exists ${opts.into === undefined ? `again where ${id} was deleted` : 'in the directory to restore into'} (--force replaces it)`);
        const ta = await this.mustAttr(tx, there.inode);
        if (there.type === TYPE_DIRECTORY && (await tx.hasEntries(there.inode))) throw fsErr('ENOTEMPTY', `'${name}' is a non-empty directory`);
        await g.transfer({ role: 'removed', ino: there.inode, attr: { ...ta }, parent: dir }, dir, undefined);
        await tx.delEntry(dir, name);
        if (there.type === TYPE_DIRECTORY) pa.nlink--;
        await this.removed(tx, ctx, there.inode, ta, dir, name, t);
      }
      await g.transfer(back, undefined, dir);
      await tx.delEntry(hIno, entry);
      if (full) await tx.delXattr(e.inode, TRASH_NAME_XATTR);
      await tx.setEntry(dir, name, e.inode, e.type);
      attr.parent = dir;
      setCtime(attr, t);
      await tx.setAttr(e.inode, attr);
      if (e.type === TYPE_DIRECTORY) {
        pa.nlink++;
        const ha = await tx.getAttr(hIno);
        if (ha) {
          ha.nlink--;
          await tx.setAttr(hIno, ha);
        }
      }
      touch(pa, t);
      await tx.setAttr(dir, pa);
      return { inode: e.inode };
    });
  }

  /** Frees every entry of the hours that ended before `before` (ms; all hours when undefined). */
  async trashPurge(opts: { before?: number } = {}): Promise<TrashPurgeResult> {
    const before = opts.before ?? Number.POSITIVE_INFINITY;
    const hours = await this.eng.read((tx) => tx.listEntries(TRASH_INODE, undefined, Number.MAX_SAFE_INTEGER, false));
    const out: TrashPurgeResult = { entries: 0, hours: 0 };
    for (const h of hours) {
      const start = hourStart(h.name);
      if (start === undefined || start + HOUR_MS > before) continue;
      for (;;) {
        const page = await this.eng.read((tx) => tx.listEntries(h.inode, undefined, PURGE_BATCH, false));
        if (!page.length) break;
        out.entries += await this.purgeEntries(h.inode, page.map((e) => e.name));
      }
      out.hours += await this.dropHourIfEmpty(h.name, h.inode);
    }
    return out;
  }

  /** Purges what expired (trash days), when this client holds the purge lease: one client at a time. */
  async trashPurgeExpired(now = Date.now()): Promise<TrashPurgeResult | undefined> {
    const days = this.fmt?.trashDays ?? (await this.load()).trashDays;
    const got = await this.eng.txn(async (tx) => {
      if ((await tx.getCounter(LEASE_COUNTER)) > now) return false;
      await tx.setCounter(LEASE_COUNTER, now + LEASE_MS);
      return true;
    });
    if (!got) return undefined;
    // With trash off, what is still in it goes now (as after `ferry config --trash-days 0`).
    return this.trashPurge({ before: days > 0 ? now - days * 86_400_000 : undefined });
  }

  private async purgeEntries(hour: number, names: string[]): Promise<number> {
    const r = await this.change('trash-purge', async (tx) => {
      let n = 0;
      const t = stamp();
      for (const name of names) {
        const e = await tx.getEntry(hour, name);
        if (!e) continue; // restored or purged meanwhile
        n++;
        await tx.delEntry(hour, name);
        const attr = await tx.getAttr(e.inode);
        if (!attr) continue;
        if (e.type === TYPE_DIRECTORY) {
          await this.emptyDirInTrash(tx, e.inode);
          const ha = await tx.getAttr(hour);
          if (ha) {
            ha.nlink--;
            await tx.setAttr(hour, ha);
          }
          await this.freeInode(tx, e.inode, attr);
        } else {
          await this.dropLink(tx, e.inode, attr, hour, t);
        }
      }
      return { n };
    });
    return r.n;
  }

  /** A directory in the trash is empty (rmdir needs it); anything found in it anyway is sent to the trash's hour. */
  private async emptyDirInTrash(tx: Tx, dir: number): Promise<void> {
    const rest = await tx.listEntries(dir, undefined, 1, false);
    if (rest.length) throw fsErr('ENOTEMPTY', `a directory in the trash is not empty (inode ${dir}); run ferry fsck`);
  }

  private async dropHourIfEmpty(name: string, ino: number): Promise<number> {
    const r = await this.change('trash-purge', async (tx) => {
      if (await tx.hasEntries(ino)) return { n: 0 };
      if (!(await tx.getEntry(TRASH_INODE, name))) return { n: 0 };
      await tx.delEntry(TRASH_INODE, name);
      await tx.delAttr(ino);
      const root = await tx.getAttr(TRASH_INODE);
      if (root) {
        root.nlink--;
        await tx.setAttr(TRASH_INODE, root);
      }
      return { n: 1 };
    });
    return r.n;
  }
}
