// POSIX record locks of one owner are a sorted list of non-overlapping ranges; setting a range
// splits or merges the existing ones exactly like fcntl(F_SETLK) does.
import { F_UNLCK, F_WRLCK, type LockRange } from './types.js';

export function decodeRanges(b: Buffer | null | undefined): LockRange[] {
  return b && b.length ? (JSON.parse(b.toString('utf8')) as LockRange[]) : [];
}

export function encodeRanges(list: LockRange[]): Buffer | null {
  return list.length ? Buffer.from(JSON.stringify(list)) : null;
}

export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/** True when two locks of different owners cannot coexist. */
export function conflicts(a: LockRange, b: { type: number; start: number; end: number }): boolean {
  return overlaps(a, b) && (a.type === F_WRLCK || b.type === F_WRLCK);
}

/** Applies lock/unlock of [start, end] to one owner's ranges. */
export function updateRanges(list: LockRange[], type: number, start: number, end: number, pid: number): LockRange[] {
  const out: LockRange[] = [];
  for (const r of list) {
    if (!overlaps(r, { start, end })) {
      out.push(r);
      continue;
    }
    if (r.start < start) out.push({ ...r, end: start - 1 });
    if (r.end > end) out.push({ ...r, start: end + 1 });
  }
  if (type !== F_UNLCK) out.push({ type: type as LockRange['type'], start, end, pid });
  out.sort((a, b) => a.start - b.start);
  // Merge touching ranges of the same type.
  const merged: LockRange[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && last.type === r.type && last.end + 1 >= r.start) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}
