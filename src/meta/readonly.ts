// Read-only subtrees (`ferry readonly set|unset|list`): marks kept in the format record's `readOnly`
// section, as directory inodes (so renaming a parent keeps the mark on its directory) with the path they were
// named by. The policy rule (policy/rules/read-only.ts) enforces them; running clients pick a change up
// with their periodic format reload (vfs/jobs.ts).
import { FsError } from '../errors.js';
import type { Meta } from './interface.js';
import { ROOT_INODE, TYPE_DIRECTORY, rootContext, type ReadOnlyMark } from './types.js';

const ROOT = rootContext();

/** `/a/b/` and `a//b` alike as `/a/b`. */
function normal(path: string): string {
  return '/' + path.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

/** The directory at `path`; ENOTDIR naming it when it is something else. */
async function directoryAt(meta: Meta, path: string): Promise<number> {
  const { inode, attr } = await meta.resolve(ROOT, ROOT_INODE, path).catch((e: unknown) => {
    if (e instanceof FsError && e.code === 'ENOENT') throw new FsError('ENOENT', { message: `no such directory: ${path}` });
    throw e;
  });
  if (attr.type !== TYPE_DIRECTORY) {
    throw new FsError('ENOTDIR', { message: `${path} is not a directory: read-only marks are on directories (chattr +i makes one file immutable)` });
  }
  return inode;
}

/**
 * Marks the directory at `path` (`/`: the whole volume) read-only; marking it again changes nothing. owner:
 * a component's mark (ReadOnlyMark.owner), which callers with that Context.readOnlyOwner pass.
 */
export async function setReadOnly(meta: Meta, path = '/', owner?: string): Promise<ReadOnlyMark> {
  const p = normal(path);
  const ino = await directoryAt(meta, p);
  const mark: ReadOnlyMark = { ino, path: p, ...(owner ? { owner } : {}) };
  await meta.updateFormat((f) => {
    const list = f.readOnly ?? [];
    return list.some((m) => m.ino === ino) ? {} : { readOnly: [...list, mark] };
  });
  return mark;
}

/** Removes the mark of the directory at `path` (or of a mark shown with that path whose directory is gone). */
export async function unsetReadOnly(meta: Meta, path = '/'): Promise<ReadOnlyMark> {
  const p = normal(path);
  const ino = await directoryAt(meta, p).catch(() => undefined);
  let removed: ReadOnlyMark | undefined;
  await meta.updateFormat((f) => {
    const list = f.readOnly ?? [];
    removed = list.find((m) => m.ino === ino) ?? list.find((m) => m.path === p);
    return removed ? { readOnly: list.filter((m) => m !== removed) } : {};
  });
  if (!removed) throw new FsError('ENOENT', { message: `${p} is not marked read-only (ferry readonly list shows the marks)` });
  return removed;
}

/** The marks, each with the path its directory has now (`current`; undefined when it is gone). */
export async function listReadOnly(meta: Meta): Promise<Array<ReadOnlyMark & { current?: string }>> {
  const f = await meta.load();
  const out: Array<ReadOnlyMark & { current?: string }> = [];
  for (const m of f.readOnly ?? []) out.push({ ...m, current: await pathOf(meta, m.ino) });
  return out;
}

/** The path of directory `ino`, walked up through its parents and found in each one's entries. */
async function pathOf(meta: Meta, ino: number): Promise<string | undefined> {
  const names: string[] = [];
  for (let d = ino, depth = 0; d !== ROOT_INODE; depth++) {
    const a = await meta.getattr(ROOT, d).catch(() => undefined);
    if (!a || a.nlink === 0 || depth > 4096) return undefined;
    let name: string | undefined;
    for (let after: string | undefined; name === undefined; ) {
      const page = await meta.readdir(ROOT, a.parent, { after, limit: 1000 });
      name = page.find((e) => e.inode === d)?.name;
      if (page.length < 1000) break;
      after = page[page.length - 1]!.name;
    }
    if (name === undefined) return undefined;
    names.unshift(name);
    d = a.parent;
  }
  return '/' + names.join('/');
}
