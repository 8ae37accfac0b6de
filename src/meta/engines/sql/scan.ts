// Scans on SQL: keyset paging over a table's primary key. The cursor is the last key seen (JSON), so each
// page is an index range read whatever its position, and a row present for the whole walk is seen once.
import { decodeSlices } from '../../slices.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from '../../scan.js';
import type { FileType } from '../../types.js';
import type { Row, SqlConn } from './dialect.js';
import { ATTR_COLUMNS } from './schema.js';

type KeyCol = [name: string, kind: 'int' | 'name'];

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.from(String(v ?? ''));
}

export class SqlScans {
  constructor(private readonly c: SqlConn, private readonly t: (name: string) => string) {}

  /**
   * Rows after `cursor` in key order. A two-column key is read as "the rest of the current first key, then
   * the following first keys": two plain range reads that every dialect runs on the primary-key index
   * (a row-value comparison is not optimised alike everywhere).
   */
  private async page(table: string, select: string, keys: KeyCol[], cursor: string | undefined, limit: number): Promise<ScanPage<Row>> {
    const n = Math.max(1, Math.floor(limit));
    const from = `SELECT ${select} FROM ${this.t(table)}`;
    const order = keys.map((k) => k[0]).join(', ');
    const after = cursor === undefined ? undefined : (JSON.parse(cursor) as Array<number | string>);
    let rows: Row[];
    if (!after) rows = await this.c.all(`${from} ORDER BY ${order} LIMIT ${n}`, []);
    else if (keys.length === 1) rows = await this.c.all(`${from} WHERE ${keys[0]![0]} > ? ORDER BY ${order} LIMIT ${n}`, [after[0]]);
    else {
      const [[a], [b]] = keys as [KeyCol, KeyCol];
      rows = await this.c.all(`${from} WHERE ${a} = ? AND ${b} > ? ORDER BY ${b} LIMIT ${n}`, [after[0], after[1]]);
      if (rows.length < n) rows = rows.concat(await this.c.all(`${from} WHERE ${a} > ? ORDER BY ${order} LIMIT ${n - rows.length}`, [after[0]]));
    }
    const last = rows[rows.length - 1];
    const next = rows.length === n ? JSON.stringify(keys.map(([k, kind]) => (kind === 'int' ? Number(last![k]) : String(last![k])))) : undefined;
    return { rows, next };
  }

  async inodes(cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>> {
    const p = await this.page('node', '*', [['inode', 'int']], cursor, limit);
    return {
      rows: p.rows.map((r) => {
        const attr = {} as Record<string, number>;
        for (const c of ATTR_COLUMNS) attr[c] = Number(r[c]);
        return { ino: Number(r.inode), attr: attr as unknown as InodeRow['attr'] };
      }),
      next: p.next,
    };
  }

  async entries(cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>> {
    const p = await this.page('edge', 'parent, name, inode, type', [['parent', 'int'], ['name', 'name']], cursor, limit);
    return {
      rows: p.rows.map((r) => ({ parent: Number(r.parent), name: String(r.name), ino: Number(r.inode), type: Number(r.type) as FileType })),
      next: p.next,
    };
  }

  async chunks(cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>> {
    const p = await this.page('chunk', 'inode, indx, slices', [['inode', 'int'], ['indx', 'int']], cursor, limit);
    return { rows: p.rows.map((r) => ({ ino: Number(r.inode), indx: Number(r.indx), slices: decodeSlices(toBuffer(r.slices)) })), next: p.next };
  }

  async sliceRefs(cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>> {
    const p = await this.page('slice_ref', 'id, size, refs', [['id', 'int']], cursor, limit);
    return { rows: p.rows.map((r) => ({ id: Number(r.id), size: Number(r.size), refs: Number(r.refs) })), next: p.next };
  }

  async symlinks(cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>> {
    const p = await this.page('symlink', 'inode, target', [['inode', 'int']], cursor, limit);
    return { rows: p.rows.map((r) => ({ ino: Number(r.inode), target: String(r.target) })), next: p.next };
  }

  async xattrs(cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>> {
    const p = await this.page('xattr', 'inode, name, value', [['inode', 'int'], ['name', 'name']], cursor, limit);
    return { rows: p.rows.map((r) => ({ ino: Number(r.inode), name: String(r.name), value: toBuffer(r.value) })), next: p.next };
  }

  async parents(cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>> {
    const p = await this.page('link_parent', 'inode, parent, cnt', [['inode', 'int'], ['parent', 'int']], cursor, limit);
    return { rows: p.rows.map((r) => ({ ino: Number(r.inode), parent: Number(r.parent), count: Number(r.cnt) })), next: p.next };
  }
}
