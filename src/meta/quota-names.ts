// Where a directory quota's usage lives: two counters per quota'd directory, changed with incrCounter in the
// transaction of every change under it (so no tree is walked on the write path). They are counters like the
// volume's usedSpace/totalInodes: replayed by mirrors (changelog.ts) and read blind by the Redis engine.

/** Bytes (4 KiB-aligned, as spaceOf counts them) of every name under directory `ino`. */
export const quotaSpaceCounter = (ino: number): string => `quotaSpace:${ino}`;
/** Names (files, directories, symlinks, ...) under directory `ino`. */
export const quotaInodesCounter = (ino: number): string => `quotaInodes:${ino}`;

/** Counters of usage: the volume's and each quota'd directory's. */
export function isUsageCounter(name: string): boolean {
  return name === 'usedSpace' || name === 'totalInodes' || name.startsWith('quotaSpace:') || name.startsWith('quotaInodes:');
}
