// Restoring many trash entries the way a user asks for them (`ferry trash restore` with ids, --path -r or
// times): each entry goes back to the path it had. A directory it was deleted from that is in the trash too
// comes back first, and so on up (the missing parents are rebuilt); where a new directory took such a path
// meanwhile, the entries go into it (merged). With `into`, the chosen entries go into that directory
// instead, each with what was deleted under it. An entry whose directory is gone for good (deleted while
// the trash was off) can only go somewhere else: `into`. Each restore is still one transaction of its own
// (base/trash.ts), so a concurrent purge of an entry makes just that entry fail.
import { FsError } from '../errors.js';
import type { Meta } from './interface.js';
import { TYPE_DIRECTORY, type Context, type TrashItem } from './types.js';

export interface RestoreReport {
  /** Chosen entries put back. */
  restored: TrashItem[];
  /** Directories (chosen or not) whose path was taken by a directory again: their entries went into that one. */
  merged: TrashItem[];
  /** Directories not chosen but restored because a chosen entry was deleted from them. */
  rebuilt: TrashItem[];
  failed: { item: TrashItem; message: string }[];
}

export interface RestoreOptions {
  /** Replace a file that took an entry's name (it goes to the trash in its turn). */
  force?: boolean;
  /** The directory the chosen entries go into instead of their own (an inode). */
  into?: number;
}

/**
 * Restores `chosen` (items of `all`, the whole trash as `trashList` gives it), parents before children.
 * Never throws for one entry: failures are in the report.
 */
export async function restoreFromTrash(meta: Meta, ctx: Context, all: TrashItem[], chosen: TrashItem[], opts: RestoreOptions = {}): Promise<RestoreReport> {
  const report: RestoreReport = { restored: [], merged: [], rebuilt: [], failed: [] };
  const byIno = new Map(all.map((i) => [i.inode, i]));
  const chosenIds = new Set(chosen.map((i) => i.id));
  const homes = new Map<number, Promise<number>>(); // a trashed directory -> the live directory its entries go into

  /** The directory `item` goes into: undefined for the one it was deleted from (live). */
  const dirFor = (item: TrashItem): Promise<number | undefined> => {
    const p = byIno.get(item.parent);
    // Deleted from a directory that is in the trash too: that one comes back first (it is chosen, or it
    // rebuilds the entry's path), unless the chosen entries go elsewhere.
    if (p && p.type === TYPE_DIRECTORY && (chosenIds.has(p.id) || opts.into === undefined)) return home(p);
    return Promise.resolve(opts.into);
  };

  const home = (dir: TrashItem): Promise<number> => {
    let h = homes.get(dir.inode);
    if (!h) {
      h = (async () => {
        const into = await dirFor(dir).catch((e: Error) => {
          throw new FsError('ENOENT', { message: `its directory could not be restored: ${why(e)}` });
        });
        try {
          await meta.trashRestore(ctx, dir.id, { into }); // a directory never replaces anything: it merges
          (chosenIds.has(dir.id) ? report.restored : report.rebuilt).push(dir);
          return dir.inode;
        } catch (e) {
          if ((e as FsError).code !== 'EEXIST') throw explain(e as Error, dir);
          const there = await meta.lookup(ctx, into ?? dir.parent, dir.name);
          if (there.attr.type !== TYPE_DIRECTORY) throw new FsError('EEXIST', { message: `${dir.path} exists again and is not a directory` });
          report.merged.push(dir);
          return there.inode;
        }
      })();
      homes.set(dir.inode, h);
    }
    return h;
  };

  const explain = (e: Error, item: TrashItem): Error => {
    if ((e as FsError).code === 'ENOENT' && !byIno.has(item.parent) && opts.into === undefined && item.path.startsWith('?')) {
      return new FsError('ENOENT', { message: 'the directory it was deleted from is gone for good (deleted while the trash was off): restore it into another directory (ferry trash restore --into DIR)' });
    }
    return e;
  };

  const order = [...chosen].sort((a, b) => depth(a) - depth(b) || a.deletedAt - b.deletedAt);
  for (const item of order) {
    try {
      if (item.type === TYPE_DIRECTORY) {
        await home(item);
      } else {
        const into = await dirFor(item).catch((e: Error) => {
          throw new FsError('ENOENT', { message: `its directory could not be restored: ${why(e)}` });
        });
        await meta.trashRestore(ctx, item.id, { force: opts.force, into }).catch((e: Error) => {
          throw explain(e, item);
        });
        report.restored.push(item);
      }
    } catch (e) {
      report.failed.push({ item, message: why(e as Error) });
    }
  }
  return report;
}

const depth = (i: TrashItem) => i.path.split('/').length;
const why = (e: Error) => (e instanceof FsError ? `${e.code}: ${e.description}` : e.message);
