// The repairs of `ferry fsck --repair`: narrow, each in its own transaction, each re-checking inside it that
// the defect is still there (a client may have fixed or changed it since fsck looked), so a repair never
// overwrites a client's change. Counters are corrected by a delta, not set, for the same reason.
import { fsErr } from '../../errors.js';
import { newAttr, setCtime, stamp, touch } from '../attrs.js';
import { ROOT_INODE, TYPE_DIRECTORY, type FsckFix } from '../types.js';
import { TrashOps } from './trash.js';

/** Where fsck puts inodes no entry names, as e2fsck does. */
export const LOST_FOUND = 'lost+found';

export class RepairOps extends TrashOps {
  /** Sessions holding `ino` open (an unlinked file they hold is no orphan). */
  async openHolders(ino: number): Promise<number[]> {
    return this.eng.read((tx) => tx.listSustainedBy(ino));
  }

  /** Applies one repair; false when the defect was gone by then (nothing written). */
  async fsckRepair(fix: FsckFix): Promise<boolean> {
    switch (fix.kind) {
      case 'counter':
        if (fix.name !== 'usedSpace' && fix.name !== 'totalInodes') throw fsErr('EINVAL', `unknown counter '${String(fix.name)}'`);
        if (!fix.delta) return false;
        await this.change('fsck', async (tx) => (await tx.incrCounter(fix.name, fix.delta), {}));
        return true;
      case 'nlink':
        return (
          await this.change('fsck', async (tx) => {
            const a = await tx.getAttr(fix.ino);
            if (!a || a.nlink !== fix.from || fix.to < 1) return { ok: false };
            a.nlink = fix.to;
            setCtime(a, stamp());
            await tx.setAttr(fix.ino, a);
            return { ok: true };
          })
        ).ok;
      case 'dangling':
        return (
          await this.change('fsck', async (tx) => {
            const e = await tx.getEntry(fix.parent, fix.name);
            if (!e || e.inode !== fix.ino || (await tx.getAttr(fix.ino))) return { ok: false };
            await tx.delEntry(fix.parent, fix.name);
            const pa = await tx.getAttr(fix.parent);
            if (pa) {
              if (e.type === TYPE_DIRECTORY && pa.nlink > 2) pa.nlink--;
              touch(pa, stamp());
              await tx.setAttr(fix.parent, pa);
            }
            return { ok: true };
          })
        ).ok;
      case 'orphan':
        return this.adoptOrphan(fix.ino);
      default:
        throw fsErr('EINVAL', `unknown repair '${(fix as { kind: string }).kind}'`);
    }
  }

  /** Links an orphan into /lost+found (made as root, mode 0700, when missing) as `#INO`, with one link. */
  private async adoptOrphan(ino: number): Promise<boolean> {
    // An inode number for /lost+found is taken outside the transaction (the pool may need one of its own).
    const spare = (await this.eng.read((tx) => tx.getEntry(ROOT_INODE, LOST_FOUND))) ? 0 : await this.inodes.alloc();
    const r = await this.change('fsck', async (tx) => {
      const a = await tx.getAttr(ino);
      if (!a || (await tx.listSustainedBy(ino)).length > 0) return { ok: false };
      const t = stamp();
      let lf = await tx.lookup(ROOT_INODE, LOST_FOUND);
      if (!lf) {
        if (!spare) return { ok: false }; // removed meanwhile: the next run makes it
        const ids = spare;
        const attr = newAttr(TYPE_DIRECTORY, 0o700, 0, 0, ROOT_INODE, t);
        await tx.setEntry(ROOT_INODE, LOST_FOUND, ids, TYPE_DIRECTORY);
        await tx.setAttr(ids, attr);
        const root = await tx.getAttr(ROOT_INODE);
        if (root) {
          root.nlink++;
          touch(root, t);
          await tx.setAttr(ROOT_INODE, root);
        }
        await tx.incrCounter('totalInodes', 1);
        await tx.incrCounter('usedSpace', 4096);
        lf = { inode: ids, attr };
      } else if (lf.attr.type !== TYPE_DIRECTORY) {
        throw fsErr('ENOTDIR', `/${LOST_FOUND} is not a directory`);
      }
      const name = `#${ino}`;
      if (await tx.getEntry(lf.inode, name)) return { ok: false };
      await tx.setEntry(lf.inode, name, ino, a.type);
      if (a.type === TYPE_DIRECTORY) lf.attr.nlink++;
      touch(lf.attr, t);
      await tx.setAttr(lf.inode, lf.attr);
      a.nlink = a.type === TYPE_DIRECTORY ? Math.max(2, a.nlink) : 1;
      a.parent = lf.inode;
      setCtime(a, t);
      await tx.setAttr(ino, a);
      return { ok: true };
    });
    return r.ok;
  }
}
