// --subdir of the doors (a mount, the WebHDFS server): one directory of the volume served as the root.
import { posix } from 'node:path';
import { fsErr } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, rootContext } from '../meta/types.js';
import type { VFS } from './vfs.js';

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
