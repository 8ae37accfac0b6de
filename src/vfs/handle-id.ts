// File handle numbers that say what they open: inode, access mode and O_APPEND, plus a sequence number that
// tells apart handles of one inode. A process that never saw the open (a FUSE mount recovered after its
// serving process crashed) rebuilds the handle from its number alone. They stay below 2^53 (a JS number):
// ino * 2^16 + kind * 2^10 + seq, inodes up to 2^37.
import { O_ACCMODE, O_APPEND } from '../meta/open-flags.js';

const SEQ = 1 << 10;
const KIND = 1 << 6;
const KIND_APPEND = 1 << 2;
/** Set in directory handles (FUSE opendir): a listing, nothing to reopen. */
export const KIND_DIR = 1 << 3;
const MAX_INO = 2 ** 37;

export interface HandleId {
  ino: number;
  /** O_RDONLY/O_WRONLY/O_RDWR and O_APPEND, as opened. */
  flags: number;
  dir: boolean;
}

/** The handle number for an open of ino with flags and sequence seq; undefined when ino does not fit. */
export function handleNumber(ino: number, flags: number, seq: number, dir = false): number | undefined {
  if (ino <= 0 || ino >= MAX_INO) return undefined;
  const kind = (flags & O_ACCMODE) | (flags & O_APPEND ? KIND_APPEND : 0) | (dir ? KIND_DIR : 0);
  return ino * SEQ * KIND + kind * SEQ + (seq % SEQ);
}

/** What a handle number opened; undefined for numbers not made by handleNumber. */
export function decodeHandle(fh: number): HandleId | undefined {
  if (!Number.isSafeInteger(fh) || fh < SEQ * KIND) return undefined;
  const ino = Math.floor(fh / (SEQ * KIND));
  const kind = Math.floor(fh / SEQ) % KIND;
  if ((kind & O_ACCMODE) === O_ACCMODE) return undefined;
  return { ino, flags: (kind & O_ACCMODE) | (kind & KIND_APPEND ? O_APPEND : 0), dir: (kind & KIND_DIR) !== 0 };
}

/** Sequence numbers to try for a new handle (one of them is free unless 1024 handles of the inode are open). */
export const HANDLE_SEQS = SEQ;
