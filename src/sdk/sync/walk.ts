// A sorted walk of a directory tree, shared by the endpoints that have directories (local, FerryFS): each
// directory is read whole (one directory at a time per level, never the tree), its names sorted with a
// directory's name taken as `name/`, so a depth-first walk yields keys in the same byte order S3 lists them.
import { compareKeys } from '../../object/util.js';
import type { SyncEntry } from './endpoint.js';

/** Reads one directory (relative key, '' for the root, else ending in '/') as entries with full keys. */
export type ReadDir<D> = (dirKey: string, dir: D) => Promise<Array<{ entry: SyncEntry; dir?: D }>>;

export async function* sortedWalk<D>(root: D, readDir: ReadDir<D>, skipDir: (key: string) => boolean, dirKey = ''): AsyncGenerator<SyncEntry> {
  const children = await readDir(dirKey, root);
  children.sort((a, b) => compareKeys(a.entry.key, b.entry.key));
  for (const c of children) {
    if (c.entry.type === 'dir') {
      if (skipDir(c.entry.key)) continue;
      yield c.entry;
      yield* sortedWalk(c.dir as D, readDir, skipDir, c.entry.key);
    } else yield c.entry;
  }
}
