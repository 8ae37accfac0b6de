// `ferry mount --subdir DIR`: the kernel's root inode (1) stands for DIR's inode. The mapping is a swap of
// the two numbers: the kernel never learns DIR's own number, and kernel inode 1 always means DIR, so the
// volume's root (and anything reachable only through it) cannot be named through the mount at all.
import { ROOT_INODE } from '../meta/types.js';

export class RootMap {
  /** root: the volume inode served as the mount's root. */
  constructor(readonly root: number = ROOT_INODE) {}

  get isSubdir(): boolean {
    return this.root !== ROOT_INODE;
  }

  /** The volume inode a kernel inode number stands for. */
  toVolume(kernelIno: number): number {
    return kernelIno === ROOT_INODE ? this.root : kernelIno;
  }

  /** The number the kernel knows a volume inode by (the volume root never reaches it under a subdir). */
  toKernel(volumeIno: number): number {
    return volumeIno === this.root ? ROOT_INODE : volumeIno;
  }
}

export { normalizeSubdir, resolveSubdir } from '../vfs/subdir.js';
