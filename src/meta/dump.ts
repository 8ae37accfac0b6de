// `ferry dump`: the records of a volume's metadata (dump-format.ts), produced as an async generator so the
// writer streams them. The whole volume is walked with the scans (each page its own short read, flat
// memory, any engine, also through a metadata server); a subtree (--path) is walked from its directory.
//
// Consistency: a dump of a volume in use is consistent per page, as JuiceFS's is: each row is as it was
// when its page was read, and rows changed meanwhile may be seen before or after the change. The header
// and end lines carry the volume version before and after the walk, so a dump taken while the volume
// changed says so. What other rows imply (slice reference counts, used space, inode count, the delete
// queue of files with no link left) is recounted by the loader, so a loaded volume is always coherent.
import { FsError } from '../errors.js';
import type { Meta } from './interface.js';
import { isTrashDir } from './trash-names.js';
import { CHUNK_SIZE, FLAG_XATTRS, ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, TYPE_SYMLINK, rootContext, type Attr, type Format } from './types.js';
import {
  DUMP_FORMAT,
  DUMP_VERSION,
  rebaseFormat,
  withoutSecrets,
  type DumpCounters,
  type DumpRecord,
  type DumpRow,
} from './dump-format.js';

export interface DumpOptions {
  /** Subtree to dump (default '/': the whole volume with its trash and pending deletions). */
  path?: string;
  /** Keep the secrets of the format record (object store secret key, gateway key secrets). */
  keepSecrets?: boolean;
  /** Rows per scan page. */
  batch?: number;
}

/** Pending deletions read per dump (queues a running volume drains within seconds). */
const QUEUE_LIMIT = 1_000_000;

/** A normalized absolute path: '/a/b' (no trailing slash, no empty parts). */
export function normalizePath(p: string): string {
  const parts = p.split('/').filter((x) => x && x !== '.');
  return '/' + parts.join('/');
}

async function counters(meta: Meta): Promise<DumpCounters> {
  const names = ['nextInode', 'nextSlice', 'nextSession', 'version', 'appliedVersion', 'usedSpace', 'totalInodes'] as const;
  const values = await Promise.all(names.map((n) => meta.getCounter(n)));
  return Object.fromEntries(names.map((n, i) => [n, values[i]!])) as unknown as DumpCounters;
}

/** Every record of a dump of `meta`, header first, end line last. */
export async function* dumpRecords(meta: Meta, opts: DumpOptions = {}): AsyncGenerator<DumpRecord> {
  const format = await meta.load();
  const path = normalizePath(opts.path ?? '/');
  // A subtree is found before anything is written, so a wrong --path writes nothing.
  const top = path === '/' ? undefined : await subtreeTop(meta, path);
  const startVersion = await meta.currentVersion();
  yield {
    kind: 'header',
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    createdAt: new Date().toISOString(),
    engine: meta.engine,
    volume: format.name,
    path,
    secrets: opts.keepSecrets === true,
    startVersion,
  };
  const setting = opts.keepSecrets ? format : withoutSecrets(format);
  yield { kind: 'setting', format: rebaseFormat(setting, path) };
  let rows = 0;
  const walk = top ? subtreeRows(meta, format, top) : volumeRows(meta, opts.batch);
  for await (const r of walk) {
    rows++;
    yield r;
  }
  // Read after the walk: the allocation counters are past every id the walk saw.
  const c = await counters(meta);
  yield { kind: 'counters', counters: c };
  yield { kind: 'end', rows, endVersion: c.version };
}

/** The whole volume, table by table (the trash is rows like any other: its root is an inode outside `/`). */
async function* volumeRows(meta: Meta, batch?: number): AsyncGenerator<DumpRow> {
  const o = { batch };
  for await (const r of meta.scanInodes(o)) yield { kind: 'inode', ino: r.ino, attr: r.attr };
  for await (const r of meta.scanEntries(o)) yield { kind: 'entry', parent: r.parent, name: r.name, ino: r.ino, type: r.type };
  for await (const r of meta.scanSymlinks(o)) yield { kind: 'symlink', ino: r.ino, target: r.target };
  for await (const r of meta.scanXattrs(o)) yield { kind: 'xattr', ino: r.ino, name: r.name, value: r.value.toString('base64') };
  for await (const r of meta.scanChunks(o)) yield { kind: 'chunk', ino: r.ino, indx: r.indx, slices: r.slices };
  for await (const r of meta.scanParents(o)) yield { kind: 'link', ino: r.ino, parent: r.parent, count: r.count };
  for (const f of await meta.pendingDeletedFiles(QUEUE_LIMIT)) yield { kind: 'delfile', ino: f.ino, length: f.length };
  for (const s of await meta.pendingDeletedSlices(QUEUE_LIMIT)) yield { kind: 'delslice', id: s.id, size: s.size };
}

/**
 * A subtree, walked depth first from its directory, which becomes inode 1. Files with links in several
 * directories (attr.parent 0) are written last, with the links found inside the subtree: memory grows
 * with those files and the depth of the walk, not with the subtree.
 */
async function subtreeTop(meta: Meta, path: string): Promise<{ inode: number; attr: Attr }> {
  let top: { inode: number; attr: Attr };
  try {
    top = await meta.resolve(rootContext(), ROOT_INODE, path.slice(1));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    throw new FsError(code, { message: `--path ${path}: no such directory in the volume` });
  }
  if (top.attr.type !== TYPE_DIRECTORY) throw new FsError('ENOTDIR', { message: `--path ${path} is not a directory` });
  return top;
}

async function* subtreeRows(meta: Meta, format: Format, top: { inode: number; attr: Attr }): AsyncGenerator<DumpRow> {
  const ctx = rootContext();
  const root = top.inode;
  const map = (ino: number) => (ino === root ? ROOT_INODE : ino);
  const linked = new Map<number, { attr: Attr; parents: Map<number, number> }>();
  yield* nodeRows(meta, format, root, { ...top.attr, parent: ROOT_INODE }, ROOT_INODE);
  const dirs = [root];
  while (dirs.length) {
    const dir = dirs.pop()!;
    let after: string | undefined;
    for (;;) {
      const page = await meta.readdir(ctx, dir, { after, limit: 1000, plus: true });
      if (!page.length) break;
      after = page[page.length - 1]!.name;
      for (const e of page) {
        if (isTrashDir(e.inode)) continue;
        yield { kind: 'entry', parent: map(dir), name: e.name, ino: e.inode, type: e.attr.type };
        if (e.attr.type === TYPE_DIRECTORY) dirs.push(e.inode);
        if (e.attr.type !== TYPE_DIRECTORY && e.attr.parent === 0) {
          const seen = linked.get(e.inode);
          if (seen) {
            seen.parents.set(map(dir), (seen.parents.get(map(dir)) ?? 0) + 1);
            continue;
          }
          linked.set(e.inode, { attr: e.attr, parents: new Map([[map(dir), 1]]) });
          yield* nodeRows(meta, format, e.inode, undefined, e.inode);
          continue;
        }
        yield* nodeRows(meta, format, e.inode, { ...e.attr, parent: map(e.attr.parent) }, e.inode);
      }
    }
  }
  for (const [ino, { attr, parents }] of linked) {
    let nlink = 0;
    for (const [parent, count] of parents) {
      nlink += count;
      yield { kind: 'link', ino, parent, count };
    }
    yield { kind: 'inode', ino, attr: { ...attr, nlink, parent: 0 } };
  }
}

/** One inode's rows under its number in the dump: attributes (unless undefined), symlink, xattrs, chunks. */
async function* nodeRows(meta: Meta, format: Format, ino: number, attr: Attr | undefined, as: number): AsyncGenerator<DumpRow> {
  const ctx = rootContext();
  const a = attr ?? (await meta.getattr(ctx, ino));
  if (attr) yield { kind: 'inode', ino: as, attr };
  if (a.type === TYPE_SYMLINK) yield { kind: 'symlink', ino: as, target: await meta.readlink(ctx, ino) };
  // Volumes that mark inodes with xattrs spare a read per inode that has none.
  if (!format.xattrFlags || a.flags & FLAG_XATTRS) {
    for (const name of await meta.listxattr(ctx, ino)) {
      yield { kind: 'xattr', ino: as, name, value: (await meta.getxattr(ctx, ino, name)).toString('base64') };
    }
  }
  if (a.type === TYPE_FILE) {
    for (let indx = 0; indx * CHUNK_SIZE < a.length; indx++) {
      const slices = await meta.readChunk(ctx, ino, indx);
      if (slices.length) yield { kind: 'chunk', ino: as, indx, slices };
    }
  }
}
