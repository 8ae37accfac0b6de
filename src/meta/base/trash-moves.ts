// The transaction-level moves of the trash: a victim's last name goes into the hour's trash directory
// instead of freeing the inode (unlink, rmdir, the entry a rename or restore replaces), and back out again.
import { newAttr, setCtime, type Stamp } from '../attrs.js';
import type { Tx } from '../tx.js';
import { TRASH_INODE, trashEntryName, trashHour } from '../trash-names.js';
import { MAX_NAME, ROOT_INODE, TYPE_DIRECTORY, type Attr, type FileType } from '../types.js';

/** The original name, kept as an extended attribute of the victim only when it did not fit the entry name. */
export const TRASH_NAME_XATTR = 'trusted.ferry.trash.name';

/**
 * The hour directory for a deletion at t, created with the trash root on first use. Both are internal:
 * owned by root, mode 0700, counted in no usage.
 */
async function hourDir(tx: Tx, t: Stamp): Promise<{ ino: number; attr: Attr }> {
  const h = trashHour(t.sec * 1000);
  const found = await tx.getAttr(h.ino);
  if (found) return { ino: h.ino, attr: found };
  let root = await tx.getAttr(TRASH_INODE);
  if (!root) root = newAttr(TYPE_DIRECTORY, 0o700, 0, 0, ROOT_INODE, t);
  const attr = newAttr(TYPE_DIRECTORY, 0o700, 0, 0, TRASH_INODE, t);
  await tx.setAttr(h.ino, attr);
  await tx.setEntry(TRASH_INODE, h.name, h.ino, TYPE_DIRECTORY);
  root.nlink++;
  await tx.setAttr(TRASH_INODE, root);
  return { ino: h.ino, attr };
}

/** Moves inode `ino` (its last name `name` in `parent` already removed) into the trash; space stays counted. */
export async function moveToTrash(tx: Tx, ino: number, attr: Attr, type: FileType, parent: number, name: string, t: Stamp): Promise<void> {
  const hour = await hourDir(tx, t);
  let entry = trashEntryName(parent, ino, name);
  if (Buffer.byteLength(entry) > MAX_NAME) {
    entry = trashEntryName(parent, ino, Buffer.from(name).subarray(0, MAX_NAME - (entry.length - name.length)).toString().replace(/\uFFFD+$/, ''));
    await tx.setXattr(ino, TRASH_NAME_XATTR, Buffer.from(name));
  }
  await tx.setEntry(hour.ino, entry, ino, type);
  attr.parent = hour.ino;
  setCtime(attr, t);
  await tx.setAttr(ino, attr);
  if (type === TYPE_DIRECTORY) {
    hour.attr.nlink++;
    await tx.setAttr(hour.ino, hour.attr);
  }
}
