// What a directory tree holds, counted the way directory quotas count it: every name under the directory
// (not the directory itself) is one inode and its 4 KiB-aligned size (spaceOf), a file with two names
// under it twice. Used to start a quota's usage (`quota set`), to check it (`quota check`) and to move a
// directory without a quota of its own between quotas (rename), never on the write path.
import { spaceOf } from './attrs.js';
import { isTrashDir } from './trash-names.js';
import type { Tx } from './tx.js';
import { TYPE_DIRECTORY } from './types.js';

export interface TreeUsage {
  space: number;
  inodes: number;
}

const PAGE = 1000;

/**
 * Walks the tree under `dir`, one page of entries per `read` (a transaction's reads, or a short read
 * each). Returns undefined as soon as more than `limit` names were seen.
 */
export async function treeUsage(read: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>, dir: number, limit = Number.POSITIVE_INFINITY): Promise<TreeUsage | undefined> {
  const out: TreeUsage = { space: 0, inodes: 0 };
  const dirs = [dir];
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
    for (let after: string | undefined; ; ) {
      const page = await read((tx) => tx.listEntries(d!, after, PAGE, true));
      for (const e of page) {
        if (isTrashDir(e.inode)) continue;
        out.inodes++;
        out.space += spaceOf(e.attr);
        if (e.attr.type === TYPE_DIRECTORY) dirs.push(e.inode);
      }
      if (out.inodes > limit) return undefined;
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.name;
    }
  }
  return out;
}
