// Where the trash lives and how its entries are named. The trash is a directory tree outside the namespace:
// its root (TRASH_INODE) is no entry of `/` (so readdir of `/` never shows it; lookup of `/.trash` finds
// it), and each hour of deletions is one directory whose inode number is derived from the hour, so every
// client that deletes in that hour names the same directory and engines see concurrent creations of it
// as one row. Entry names keep the original parent inode, inode and name: same-named victims never
// collide, and the original path can be rebuilt from the parent.
import { fsErr } from '../errors.js';

/** Far above any inode the allocator hands out (2^50), below JavaScript's exact integers (2^53). */
export const TRASH_INODE = 2 ** 50;
export const TRASH_NAME = '.trash';
const HOUR_MS = 3_600_000;

/** Whether ino is the trash root or one of its hour directories. */
export const isTrashDir = (ino: number): boolean => ino >= TRASH_INODE;

/** The hour directory of a deletion at `ms`: its inode and its name (UTC, `2026-12-02-14`). */
export function trashHour(ms: number): { ino: number; name: string; start: number } {
  const hour = Math.floor(ms / HOUR_MS);
  const iso = new Date(hour * HOUR_MS).toISOString(); // 2026-12-02T14:00:00.000Z
  return { ino: TRASH_INODE + 1 + hour, name: `${iso.slice(0, 10)}-${iso.slice(11, 13)}`, start: hour * HOUR_MS };
}

/** The start (ms) of an hour directory's hour, from its name; undefined for a name that is not one. */
export function hourStart(name: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})$/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!);
  return Number.isNaN(ms) ? undefined : ms;
}

export function trashEntryName(parent: number, ino: number, name: string): string {
  return `${parent}-${ino}-${name}`;
}

export interface TrashEntryName {
  parent: number;
  ino: number;
  name: string;
}

/** Parses `parent-ino-name`; the name part may hold dashes. */
export function parseTrashEntryName(s: string): TrashEntryName {
  const m = /^(\d+)-(\d+)-(.+)$/s.exec(s);
  if (!m) throw fsErr('EINVAL', `'${s}' is not a trash entry (PARENT-INODE-NAME)`);
  return { parent: +m[1]!, ino: +m[2]!, name: m[3]! };
}
