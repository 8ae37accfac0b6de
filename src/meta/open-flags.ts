// open(2) flags as Linux defines them (FUSE passes these through unchanged): the one definition, used by the
// metadata layer's open checks and by every layer above it.
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOFOLLOW = 0o400000;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECTORY = 0o200000;

export function canRead(flags: number): boolean {
  return (flags & O_ACCMODE) !== O_WRONLY;
}

export function canWrite(flags: number): boolean {
  const acc = flags & O_ACCMODE;
  return acc === O_WRONLY || acc === O_RDWR;
}
