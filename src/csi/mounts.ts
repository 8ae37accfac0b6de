// The node service's mounts: the mount table and the mount/unmount system calls come from src/sys (shared
// with the FUSE door); here only what the node service does with them.
import { bindMount, run, unmount } from '../sys/mount.js';
import { isFuse, mountAt, type MountInfo } from '../sys/mountinfo.js';

export { bindMount, isFuse, mountAt, run, unmount };
export type MountEntry = MountInfo;

/** Unmounts every mount stacked at path: plainly, else lazily (a busy or dead mount is detached). */
export async function unmountAll(path: string): Promise<void> {
  for (let i = 0; i < 16 && (await mountAt(path)); i++) {
    const r = await unmount(path);
    if (!r.ok) await unmount(path, true);
  }
  if (await mountAt(path)) throw new Error(`could not unmount ${path}`);
}
