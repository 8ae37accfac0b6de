// The dump format (`ferry dump` / `ferry load`): JSON lines, one typed record per line, engine-neutral.
// Lines rather than one JSON document so both ends stream: the writer emits a row as the scans return it
// and the loader applies a batch of lines at a time, whatever the volume's size. The first line is the
// header, the second the format record, then the rows in any order, then the counters and the end line
// (whose absence marks a truncated dump). Documented in docs/operations.md.
import { FsError } from '../errors.js';
import type { Attr, FileType, Format, Slice } from './types.js';

export const DUMP_FORMAT = 'ferryfs-dump';
export const DUMP_VERSION = 1;

export interface DumpHeader {
  kind: 'header';
  format: typeof DUMP_FORMAT;
  version: number;
  createdAt: string;
  /** Engine and volume the dump was taken from. */
  engine: string;
  volume: string;
  /** The subtree dumped ('/' for the whole volume): its root is the loaded volume's root. */
  path: string;
  /** Whether the format record keeps its secrets (--keep-secrets). */
  secrets: boolean;
  /** The volume version when the walk started. */
  startVersion: number;
}

/** Counters the loaded volume continues from (usedSpace and totalInodes are recounted by the loader). */
export interface DumpCounters {
  nextInode: number;
  nextSlice: number;
  nextSession: number;
  version: number;
  appliedVersion: number;
  usedSpace: number;
  totalInodes: number;
}

export type DumpRow =
  | { kind: 'inode'; ino: number; attr: Attr }
  | { kind: 'entry'; parent: number; name: string; ino: number; type: FileType }
  | { kind: 'symlink'; ino: number; target: string }
  | { kind: 'xattr'; ino: number; name: string; value: string /* base64 */ }
  | { kind: 'chunk'; ino: number; indx: number; slices: Slice[] }
  /** A row of the hard-link table: ino has `count` links in `parent`. */
  | { kind: 'link'; ino: number; parent: number; count: number }
  /** A deleted file whose chunks are still to be freed. */
  | { kind: 'delfile'; ino: number; length: number }
  /** A slice whose objects are still to be deleted from the store. */
  | { kind: 'delslice'; id: number; size: number };

export type DumpRecord =
  | DumpHeader
  | { kind: 'setting'; format: Format }
  | DumpRow
  | { kind: 'counters'; counters: DumpCounters }
  | { kind: 'end'; rows: number; endVersion: number };

/** What the loader recounted from the loaded rows. */
export interface LoadTotals {
  inodes: number;
  usedSpace: number;
  /** Files with no link left (open when dumped: sessions are not dumped), freed by the loaded volume. */
  freed: number;
}

export const ROW_KINDS = new Set<string>(['inode', 'entry', 'symlink', 'xattr', 'chunk', 'link', 'delfile', 'delslice']);

/**
 * The format record without its secrets: the service secret is dropped, the object store's secret key and the gateway keys' secrets
 * become '' (a client and the gateway refuse a blank secret, so the loaded volume asks for them). The
 * encryption record stays: it holds the data key wrapped by the user's passphrase or key file, no secret,
 * and without it the volume's blocks could never be read again.
 */
export function withoutSecrets(f: Format): Format {
  const g = structuredClone(f);
  if (g.storage.secretKey !== undefined) g.storage.secretKey = '';
  if (g.gateway) for (const k of Object.values(g.gateway.keys)) k.secret = '';
  // The loaded volume gets a service secret of its own when a service first needs one.
  delete g.services;
  return g;
}

/** What a format record lacks after a dump without secrets, for the loader's message. */
export function blankSecrets(f: Format): { storage: boolean; gatewayKeys: string[] } {
  return {
    storage: f.storage.accessKey !== undefined && f.storage.secretKey === '',
    gatewayKeys: Object.entries(f.gateway?.keys ?? {})
      .filter(([, k]) => k.secret === '')
      .map(([id]) => id),
  };
}

/**
 * The format record of a subtree dump: path-keyed rules (quotas, TTL, read-only marks) under the subtree
 * are rebased on it, the others dropped, since the subtree becomes the loaded volume's root.
 */
export function rebaseFormat(f: Format, root: string): Format {
  if (root === '/') return f;
  const rebase = (p: string): string | undefined => (p === root ? '/' : p.startsWith(root + '/') ? p.slice(root.length) : undefined);
  const g = structuredClone(f);
  if (g.quotas) g.quotas = Object.fromEntries(Object.entries(g.quotas).flatMap(([p, q]) => (rebase(p) ? [[rebase(p)!, q]] : [])));
  if (g.ttl) g.ttl = g.ttl.flatMap((r) => (rebase(r.path) ? [{ ...r, path: rebase(r.path)! }] : []));
  if (g.readOnly) g.readOnly = g.readOnly.flatMap((r) => (rebase(r.path) ? [{ ...r, path: rebase(r.path)! }] : []));
  return g;
}

export function badDump(where: string, why: string): FsError {
  return new FsError('EINVAL', { message: `${where} is not a FerryFS dump: ${why}` });
}
