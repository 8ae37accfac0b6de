// Scans: every inode, entry, chunk, slice reference, symlink, extended attribute and hard-link row of a
// volume, walked page by page. Each page is its own short read that resumes from a cursor (for ordered
// engines the last key seen), so a walk of millions of files holds one page in memory and never one long
// transaction. A walk is not a snapshot: rows changed meanwhile may be seen before or after the change.
import { fsErr } from '../errors.js';
import type { Tx } from './tx.js';
import type { Attr, FileType, Slice } from './types.js';

export interface InodeRow {
  ino: number;
  attr: Attr;
}

export interface EntryRow {
  parent: number;
  name: string;
  ino: number;
  type: FileType;
}

export interface ChunkRow {
  ino: number;
  indx: number;
  slices: Slice[];
}

/** size is 0 where the engine does not know it (Redis volumes written before slice sizes were kept). */
export interface SliceRefRow {
  id: number;
  size: number;
  refs: number;
}

export interface SymlinkRow {
  ino: number;
  target: string;
}

export interface XattrRow {
  ino: number;
  name: string;
  value: Buffer;
}

/** A row of the hard-link table: ino has `count` links in directory `parent`. */
export interface ParentRow {
  ino: number;
  parent: number;
  count: number;
}

export interface ScanRows {
  inodes: InodeRow;
  entries: EntryRow;
  chunks: ChunkRow;
  sliceRefs: SliceRefRow;
  symlinks: SymlinkRow;
  xattrs: XattrRow;
  parents: ParentRow;
}

export type ScanKind = keyof ScanRows;
export const SCAN_KINDS: readonly ScanKind[] = ['inodes', 'entries', 'chunks', 'sliceRefs', 'symlinks', 'xattrs', 'parents'];

/**
 * One page of a scan: at most `limit` rows and the cursor to resume from, undefined once the walk is
 * complete. A page may be empty while `next` is set (a Redis SCAN step that matched nothing).
 * Every row present for the whole walk is returned at least once. SQL engines return rows in key order,
 * each once; Redis walks its keyspace with SCAN, in no order, and may return a row twice.
 */
export interface ScanPage<R> {
  rows: R[];
  next?: string;
}

export interface ScanOptions {
  /** Rows per page (per read); default 1000. */
  batch?: number;
  /** A cursor from an earlier page (ScanPage.next) to resume from. */
  from?: string;
}

/** The Tx primitive of each kind. */
const TX_SCANS = {
  inodes: 'scanInodes',
  entries: 'scanEntries',
  chunks: 'scanChunks',
  sliceRefs: 'scanSliceRefs',
  symlinks: 'scanSymlinks',
  xattrs: 'scanXattrs',
  parents: 'scanParents',
} as const satisfies Record<ScanKind, keyof Tx>;

/** One page of a scan of `kind` inside tx (kind may come from the wire: it is checked). */
export function txPage<K extends ScanKind>(tx: Tx, kind: K, cursor: string | undefined, limit: number): Promise<ScanPage<ScanRows[K]>> {
  const method = Object.hasOwn(TX_SCANS, kind) ? TX_SCANS[kind] : undefined;
  if (!method) throw fsErr('EINVAL', `unknown scan '${String(kind)}'`);
  // JSON carries a missing cursor as null.
  const from = cursor ?? undefined;
  if (from !== undefined && typeof from !== 'string') throw fsErr('EINVAL', 'a scan cursor is a string');
  const n = Math.floor(Number(limit));
  if (!(n >= 1)) throw fsErr('EINVAL', `scan page size ${limit}`);
  return (tx[method] as (c: string | undefined, l: number) => Promise<ScanPage<ScanRows[K]>>).call(tx, from, n);
}

export type PageReader = <K extends ScanKind>(kind: K, cursor: string | undefined, limit: number) => Promise<ScanPage<ScanRows[K]>>;

/** The rows of a scan, one page (one read) at a time. */
export async function* scanRows<K extends ScanKind>(read: PageReader, kind: K, opts: ScanOptions = {}): AsyncGenerator<ScanRows[K]> {
  const batch = Math.max(1, Math.floor(opts.batch ?? 1000));
  let cursor = opts.from;
  for (;;) {
    const page = await read(kind, cursor, batch);
    yield* page.rows;
    if (page.next === undefined) return;
    cursor = page.next;
  }
}

/** The Meta methods of scans, for Meta implementations that only forward pages (remote, mirror). */
export function scanMethods(read: PageReader) {
  return {
    scanInodes: (o?: ScanOptions) => scanRows(read, 'inodes', o),
    scanEntries: (o?: ScanOptions) => scanRows(read, 'entries', o),
    scanChunks: (o?: ScanOptions) => scanRows(read, 'chunks', o),
    scanSliceRefs: (o?: ScanOptions) => scanRows(read, 'sliceRefs', o),
    scanSymlinks: (o?: ScanOptions) => scanRows(read, 'symlinks', o),
    scanXattrs: (o?: ScanOptions) => scanRows(read, 'xattrs', o),
    scanParents: (o?: ScanOptions) => scanRows(read, 'parents', o),
  };
}
