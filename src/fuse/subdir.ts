// `ferry mount --subdir DIR`: the kernel's root inode (1) stands for DIR's inode. The mapping is a swap of
// the two numbers: the kernel never learns DIR's own number, and kernel inode 1 always means DIR, so the
// volume's root (and anything reachable only through it) cannot be named through the mount at all.
import { posix } from 'node:path';
import { fsErr } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, rootContext } from '../meta/types.js';
import type { VFS } from '../vfs/vfs.js';

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

/** Normalizes a --subdir argument to "/a/b" ("/" for the whole volume); ".." cannot climb above "/". */
export function normalizeSubdir(dir: string): string {
  return posix.normalize(`/${dir}`).replace(/\/+$/, '') || '/';
}

/** The inode of DIR in the volume; one clear error when it is missing or not a directory (symlinks are not followed). */
export async function resolveSubdir(vfs: VFS, dir: string): Promise<number> {
  const path = normalizeSubdir(dir);
  let ino = ROOT_INODE;
  let walked = '';
  for (const name of path.split('/').filter(Boolean)) {
    walked += `/${name}`;
    let r;
    try {
      r = await vfs.lookup(rootContext(), ino, name);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw fsErr('ENOENT', `--subdir ${path}: ${walked} does not exist in the volume`);
      if (code === 'ENOTDIR') throw fsErr('ENOTDIR', `--subdir ${path}: ${walked.slice(0, walked.lastIndexOf('/')) || '/'} is not a directory`);
      throw e;
    }
    if (r.attr.type !== TYPE_DIRECTORY) throw fsErr('ENOTDIR', `--subdir ${path}: ${walked} is not a directory`);
    ino = r.inode;
  }
  return ino;
}
