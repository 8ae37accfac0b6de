// Tx primitives in SQL, written once for every dialect.
import { Assigned, type RecordedMutation } from '../../assigned.js';
import { decodeSlices, encodeSlice, encodeSlices } from '../../slices.js';
import type { FlockRow, PlockRow, Tx } from '../../tx.js';
import { ROOT_INODE, type Attr, type DeletedSlice, type Entry, type FileType, type Format, type SessionInfo, type Slice, type TtlIndexRow } from '../../types.js';
import type { Dialect, Row, SqlConn } from './dialect.js';
import { ATTR_COLUMNS } from './schema.js';
import { SqlScans } from './scan.js';

/** Deeper than any real tree: a loop seen half-way through a concurrent move ends the recursive query. */
const MAX_CHAIN = 4096;
import type { DumpRow } from '../../dump-format.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from '../../scan.js';

const NODE_COLS = ['inode', ...ATTR_COLUMNS];
/** Parameters per multi-row statement: under SQLite's, PostgreSQL's and MySQL's limits with room to spare. */
const MAX_PARAMS = 8000;

/** The one-row upsert `sql` (VALUES with `cols` placeholders) turned into one statement for `n` rows. */
function multiRow(sql: string, cols: number, n: number): string {
  const one = `(${Array(cols).fill('?').join(', ')})`;
  const at = sql.indexOf(`VALUES ${one}`);
  if (at < 0) throw new Error(`not a one-row insert: ${sql}`);
  return `${sql.slice(0, at)}VALUES ${Array(n).fill(one).join(', ')}${sql.slice(at + 7 + one.length)}`;
}

function toAttr(r: Row, prefix = ''): Attr {
  const a = {} as Record<string, number>;
  for (const c of ATTR_COLUMNS) a[c] = Number(r[prefix + c]);
  return a as unknown as Attr;
}

function typeOnly(type: FileType): Attr {
  return { type, mode: 0, uid: 0, gid: 0, atime: 0, atimensec: 0, mtime: 0, mtimensec: 0, ctime: 0, ctimensec: 0, nlink: 0, length: 0, rdev: 0, parent: 0, flags: 0 };
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.from(String(v ?? ''));
}

/** Builds the dialect's statements once per engine (and table prefix). */
export class SqlStatements {
  readonly t: (name: string) => string;
  readonly setAttr: string;
  readonly setEntry: string;
  readonly appendSlice: string;
  readonly addSliceRef: string;
  /** addSliceRef without the new value read back: the statement of the multi-row form. */
  readonly addSliceRefBlind: string;
  readonly incrCounter: string;
  /** incrCounter for several rows: RETURNING name and value where the dialect has it, else blind. */
  readonly incrCounters: string;
  /** setEntry only where the name is free (its affected rows tell whether it was added). */
  readonly addEntry: string;
  readonly setCounter: string;
  readonly setSymlink: string;
  readonly setXattr: string;
  readonly addParent: string;
  readonly setChunk: string;
  readonly setSetting: string;
  readonly addSession: string;
  readonly addSustained: string;
  readonly addDelFile: string;
  readonly addDelSlice: string;
  readonly setFlock: string;
  readonly setPlock: string;
  readonly addTtl: string;
  readonly touchTtl: string;

  constructor(readonly d: Dialect, prefix: string) {
    const t = (this.t = (name: string) => prefix + name);
    const x = (c: string) => d.excluded(c);
    const replace = (cols: string[], keys: string[]) => cols.filter((c) => !keys.includes(c)).map((c) => `${c} = ${x(c)}`);
    this.setAttr = d.upsert(t('node'), NODE_COLS, ['inode'], replace(NODE_COLS, ['inode']));
    this.setEntry = d.upsert(t('edge'), ['parent', 'name', 'inode', 'type'], ['parent', 'name'], ['inode = ' + x('inode'), 'type = ' + x('type')]);
    this.appendSlice = d.upsert(
      t('chunk'),
      ['inode', 'indx', 'slices', 'cnt'],
      ['inode', 'indx'],
      [`slices = ${d.blobConcat(`${t('chunk')}.slices`, x('slices'))}`, `cnt = ${t('chunk')}.cnt + 1`],
      'cnt',
    );
    this.addSliceRef = d.upsert(t('slice_ref'), ['id', 'size', 'refs'], ['id'], [`refs = ${t('slice_ref')}.refs + ${x('refs')}`], 'refs');
    this.addSliceRefBlind = d.upsert(t('slice_ref'), ['id', 'size', 'refs'], ['id'], [`refs = ${t('slice_ref')}.refs + ${x('refs')}`]);
    this.incrCounter = d.upsert(t('counter'), ['name', 'value'], ['name'], [`value = ${t('counter')}.value + ${x('value')}`], 'value');
    this.incrCounters = d.upsert(t('counter'), ['name', 'value'], ['name'], [`value = ${t('counter')}.value + ${x('value')}`], d.returning ? 'name, value' : undefined);
    this.addEntry = d.upsert(t('edge'), ['parent', 'name', 'inode', 'type'], ['parent', 'name'], []);
    this.setCounter = d.upsert(t('counter'), ['name', 'value'], ['name'], [`value = ${x('value')}`]);
    this.setSymlink = d.upsert(t('symlink'), ['inode', 'target'], ['inode'], [`target = ${x('target')}`]);
    this.setXattr = d.upsert(t('xattr'), ['inode', 'name', 'value'], ['inode', 'name'], [`value = ${x('value')}`]);
    this.addParent = d.upsert(t('link_parent'), ['inode', 'parent', 'cnt'], ['inode', 'parent'], [`cnt = ${t('link_parent')}.cnt + ${x('cnt')}`], 'cnt');
    this.setChunk = d.upsert(t('chunk'), ['inode', 'indx', 'slices', 'cnt'], ['inode', 'indx'], [`slices = ${x('slices')}`, `cnt = ${x('cnt')}`]);
    this.setSetting = d.upsert(t('setting'), ['name', 'value'], ['name'], [`value = ${x('value')}`]);
    this.addSession = d.upsert(t('session'), ['sid', 'heartbeat', 'info'], ['sid'], [`heartbeat = ${x('heartbeat')}`, `info = ${x('info')}`]);
    this.addSustained = d.upsert(t('sustained'), ['sid', 'inode'], ['sid', 'inode'], []);
    this.addDelFile = d.upsert(t('delfile'), ['inode', 'length', 'added'], ['inode'], [`length = ${x('length')}`]);
    this.addDelSlice = d.upsert(t('delslice'), ['id', 'size', 'added'], ['id'], []);
    this.setFlock = d.upsert(t('flock'), ['inode', 'sid', 'owner', 'ltype'], ['inode', 'sid', 'owner'], [`ltype = ${x('ltype')}`]);
    this.setPlock = d.upsert(t('plock'), ['inode', 'sid', 'owner', 'records'], ['inode', 'sid', 'owner'], [`records = ${x('records')}`]);
    const ttlCols = ['rule', 'inode', 'mtime', 'parent', 'name'];
    this.addTtl = d.upsert(t('ttl'), ttlCols, ['rule', 'inode'], [`mtime = ${x('mtime')}`, `parent = ${x('parent')}`, `name = ${x('name')}`]);
    this.touchTtl = d.upsert(t('ttl'), ttlCols, ['rule', 'inode'], [`mtime = ${x('mtime')}`]);
  }
}

export class SqlTx implements Tx {
  private readonly t: (name: string) => string;
  private readonly scans: SqlScans;

  constructor(private readonly c: SqlConn, private readonly s: SqlStatements) {
    // Without it, BaseMeta's CounterBatch sends increments one by one (see Dialect.batchCounters).
    if (!s.d.batchCounters) (this as { incrCounters?: unknown }).incrCounters = undefined;
    this.t = s.t;
    this.scans = new SqlScans(c, s.t);
  }

  private async all(sql: string, ...params: unknown[]): Promise<Row[]> {
    return this.c.all(sql, params);
  }

  private async one(sql: string, ...params: unknown[]): Promise<Row | undefined> {
    return (await this.c.all(sql, params))[0];
  }

  private async run(sql: string, ...params: unknown[]): Promise<number> {
    return this.c.run(sql, params);
  }

  /** A write whose affected-row count is not needed: the driver may batch it with what follows. */
  private async blind(sql: string, ...params: unknown[]): Promise<void> {
    if (this.c.defer) await this.c.defer(sql, params);
    else await this.c.run(sql, params);
  }

  /**
   * An upsert whose RETURNING column the dialect may not support: then the insert id carries it (MySQL),
   * else it is read back. The column's inserted value is the last parameter.
   */
  private async upsertReturning(sql: string, params: unknown[], col: string, readBack: string, keys: unknown[]): Promise<number> {
    if (this.s.d.returning) return Number((await this.c.all(sql, params))[0][col]);
    if (this.s.d.returningId && this.c.insert) {
      // Affected rows: 1 inserted (the value is the inserted one), 2 updated, 0 updated to the same value.
      const r = await this.c.insert(sql, params);
      if (r.affected === 1) return Number(params[params.length - 1]);
      if (r.insertId !== undefined && Number.isSafeInteger(r.insertId)) return r.insertId;
    } else await this.c.run(sql, params);
    return Number((await this.one(readBack, ...keys))?.[col] ?? 0);
  }

  // ---- inodes and entries ----

  async getAttr(ino: number): Promise<Attr | undefined> {
    const r = await this.one(`SELECT * FROM ${this.t('node')} WHERE inode = ?`, ino);
    return r && toAttr(r);
  }

  async setAttr(ino: number, a: Attr): Promise<void> {
    await this.blind(this.s.setAttr, ino, ...ATTR_COLUMNS.map((c) => a[c]));
  }

  async setAttrs(rows: Array<[number, Attr]>): Promise<void> {
    // One row per inode (PostgreSQL refuses to update a row twice in one upsert): the last one wins.
    const by = new Map(rows.map(([ino, a]) => [ino, [ino, ...ATTR_COLUMNS.map((c) => a[c])]]));
    await this.many(this.s.setAttr, by.values());
  }

  async delAttr(ino: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('node')} WHERE inode = ?`, ino);
  }

  async getEntry(parent: number, name: string): Promise<{ inode: number; type: FileType } | undefined> {
    const r = await this.one(`SELECT inode, type FROM ${this.t('edge')} WHERE parent = ? AND name = ?`, parent, name);
    return r && { inode: Number(r.inode), type: Number(r.type) as FileType };
  }

  async lookup(parent: number, name: string): Promise<{ inode: number; attr: Attr } | undefined> {
    const r = await this.one(
      `SELECT n.* FROM ${this.t('edge')} e JOIN ${this.t('node')} n ON n.inode = e.inode WHERE e.parent = ? AND e.name = ?`,
      parent,
      name,
    );
    return r && { inode: Number(r.inode), attr: toAttr(r) };
  }

  async setEntry(parent: number, name: string, ino: number, type: FileType): Promise<void> {
    await this.blind(this.s.setEntry, parent, name, ino, type);
  }

  async addEntry(parent: number, name: string, ino: number, type: FileType): Promise<boolean> {
    return (await this.run(this.s.addEntry, parent, name, ino, type)) > 0;
  }

  async delEntry(parent: number, name: string): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('edge')} WHERE parent = ? AND name = ?`, parent, name);
  }

  async listEntries(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<Entry[]> {
    const where = after === undefined ? 'e.parent = ?' : 'e.parent = ? AND e.name > ?';
    const params: unknown[] = after === undefined ? [parent] : [parent, after];
    const lim = Number.isFinite(limit) && limit < Number.MAX_SAFE_INTEGER ? ` LIMIT ${Math.max(0, Math.floor(limit))}` : '';
    if (!plus) {
      const rows = await this.c.all(`SELECT e.name, e.inode, e.type FROM ${this.t('edge')} e WHERE ${where} ORDER BY e.name${lim}`, params);
      return rows.map((r) => ({ name: String(r.name), inode: Number(r.inode), attr: typeOnly(Number(r.type) as FileType) }));
    }
    const rows = await this.c.all(
      `SELECT e.name AS ename, e.type AS etype, n.* FROM ${this.t('edge')} e LEFT JOIN ${this.t('node')} n ON n.inode = e.inode WHERE ${where} ORDER BY e.name${lim}`,
      params,
    );
    return rows.map((r) => ({
      name: String(r.ename),
      inode: Number(r.inode),
      attr: r.type === null || r.type === undefined ? typeOnly(Number(r.etype) as FileType) : toAttr(r),
    }));
  }

  /**
   * The directory's attributes and a page of its entries in one statement (a round trip on PostgreSQL and
   * MySQL, where listEntries and getAttr were two): the page joined to the directory's row.
   */
  async listDir(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<{ dir?: Attr; entries: Entry[] }> {
    const where = after === undefined ? 'e.parent = ?' : 'e.parent = ? AND e.name > ?';
    const params: unknown[] = after === undefined ? [parent] : [parent, after];
    const lim = Number.isFinite(limit) && limit < Number.MAX_SAFE_INTEGER ? ` LIMIT ${Math.max(0, Math.floor(limit))}` : '';
    const attrs = plus ? `, ${ATTR_COLUMNS.map((c) => `n.${c} AS n_${c}`).join(', ')}` : '';
    const join = plus ? ` LEFT JOIN ${this.t('node')} n ON n.inode = e.inode` : '';
    const page = `SELECT e.name AS ename, e.inode AS einode, e.type AS etype${attrs} FROM ${this.t('edge')} e${join} WHERE ${where} ORDER BY e.name${lim}`;
    const rows = await this.c.all(
      `SELECT ${ATTR_COLUMNS.map((c) => `d.${c} AS d_${c}`).join(', ')}, s.* FROM ${this.t('node')} d LEFT JOIN (${page}) s ON 1 = 1 WHERE d.inode = ? ORDER BY s.ename`,
      [...params, parent],
    );
    if (!rows.length) return { entries: [] };
    const entries: Entry[] = [];
    for (const r of rows) {
      if (r.ename === null || r.ename === undefined) continue;
      const known = plus && r.n_type !== null && r.n_type !== undefined;
      entries.push({ name: String(r.ename), inode: Number(r.einode), attr: known ? toAttr(r, 'n_') : typeOnly(Number(r.etype) as FileType) });
    }
    return { dir: toAttr(rows[0]!, 'd_'), entries };
  }

  async hasEntries(parent: number): Promise<boolean> {
    return (await this.one(`SELECT 1 AS x FROM ${this.t('edge')} WHERE parent = ? LIMIT 1`, parent)) !== undefined;
  }

  // ---- symlinks, xattrs, hard-link parents ----

  async getSymlink(ino: number): Promise<string | undefined> {
    const r = await this.one(`SELECT target FROM ${this.t('symlink')} WHERE inode = ?`, ino);
    return r && String(r.target);
  }

  async setSymlink(ino: number, target: string): Promise<void> {
    await this.blind(this.s.setSymlink, ino, target);
  }

  async delSymlink(ino: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('symlink')} WHERE inode = ?`, ino);
  }

  async getXattr(ino: number, name: string): Promise<Buffer | undefined> {
    const r = await this.one(`SELECT value FROM ${this.t('xattr')} WHERE inode = ? AND name = ?`, ino, name);
    return r && toBuffer(r.value);
  }

  async setXattr(ino: number, name: string, value: Buffer): Promise<void> {
    await this.blind(this.s.setXattr, ino, name, value);
  }

  async delXattr(ino: number, name: string): Promise<boolean> {
    return (await this.run(`DELETE FROM ${this.t('xattr')} WHERE inode = ? AND name = ?`, ino, name)) > 0;
  }

  async listXattr(ino: number): Promise<string[]> {
    return (await this.all(`SELECT name FROM ${this.t('xattr')} WHERE inode = ? ORDER BY name`, ino)).map((r) => String(r.name));
  }

  async addParent(ino: number, parent: number, delta: number): Promise<void> {
    const left = await this.upsertReturning(
      this.s.addParent,
      [ino, parent, delta],
      'cnt',
      `SELECT cnt FROM ${this.t('link_parent')} WHERE inode = ? AND parent = ?`,
      [ino, parent],
    );
    if (left <= 0) await this.blind(`DELETE FROM ${this.t('link_parent')} WHERE inode = ? AND parent = ?`, ino, parent);
  }

  async parentChain(dir: number): Promise<number[]> {
    // One statement instead of one per level: what a quota or TTL rule asks on every change under it.
    const rows = await this.all(
      `WITH RECURSIVE up(inode, parent, depth) AS (` +
        `SELECT inode, parent, 0 FROM ${this.t('node')} WHERE inode = ? ` +
        `UNION ALL SELECT n.inode, n.parent, up.depth + 1 FROM ${this.t('node')} n JOIN up ON n.inode = up.parent ` +
        `WHERE up.parent <> ? AND up.parent <> 0 AND up.depth < ?` +
        `) SELECT parent FROM up ORDER BY depth`,
      dir,
      ROOT_INODE,
      MAX_CHAIN,
    );
    return rows.map((r) => Number(r.parent)).filter((p) => p !== 0);
  }

  async listParents(ino: number): Promise<Array<{ parent: number; count: number }>> {
    const rows = await this.all(`SELECT parent, cnt FROM ${this.t('link_parent')} WHERE inode = ? ORDER BY parent`, ino);
    return rows.map((r) => ({ parent: Number(r.parent), count: Number(r.cnt) }));
  }

  // ---- chunks and slices ----

  async getChunk(ino: number, indx: number): Promise<Slice[]> {
    const r = await this.one(`SELECT slices FROM ${this.t('chunk')} WHERE inode = ? AND indx = ?`, ino, indx);
    return r ? decodeSlices(toBuffer(r.slices)) : [];
  }

  async appendSlice(ino: number, indx: number, slice: Slice): Promise<number> {
    return this.upsertReturning(
      this.s.appendSlice,
      [ino, indx, encodeSlice(slice), 1],
      'cnt',
      `SELECT cnt FROM ${this.t('chunk')} WHERE inode = ? AND indx = ?`,
      [ino, indx],
    );
  }

  async setChunk(ino: number, indx: number, slices: Slice[]): Promise<void> {
    if (slices.length === 0) await this.blind(`DELETE FROM ${this.t('chunk')} WHERE inode = ? AND indx = ?`, ino, indx);
    else await this.blind(this.s.setChunk, ino, indx, encodeSlices(slices), slices.length);
  }

  async listChunkIndexes(ino: number, from: number): Promise<number[]> {
    const rows = await this.all(`SELECT indx FROM ${this.t('chunk')} WHERE inode = ? AND indx >= ? ORDER BY indx`, ino, from);
    return rows.map((r) => Number(r.indx));
  }

  async listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>> {
    const rows = await this.all(
      `SELECT inode, indx, cnt FROM ${this.t('chunk')} WHERE cnt >= ? ORDER BY cnt DESC LIMIT ${Math.floor(limit)}`,
      minSlices,
    );
    return rows.map((r) => ({ ino: Number(r.inode), indx: Number(r.indx), count: Number(r.cnt) }));
  }

  async addSliceRef(id: number, size: number, delta: number): Promise<number> {
    const refs = await this.upsertReturning(
      this.s.addSliceRef,
      [id, size, delta],
      'refs',
      `SELECT refs FROM ${this.t('slice_ref')} WHERE id = ?`,
      [id],
    );
    if (refs <= 0) await this.blind(`DELETE FROM ${this.t('slice_ref')} WHERE id = ?`, id);
    return refs;
  }

  /** Rows of `sql` (a one-row upsert) in as few statements as the parameter limit allows, held like blind writes. */
  private async many(sql: string, rows: Iterable<unknown[]>): Promise<void> {
    const all = [...rows];
    if (!all.length) return;
    const per = Math.max(1, Math.floor(MAX_PARAMS / all[0]!.length));
    for (let i = 0; i < all.length; i += per) {
      const part = all.slice(i, i + per);
      await this.blind(multiRow(sql, part[0]!.length, part.length), ...part.flat());
    }
  }

  async addSliceRefs(refs: Array<{ id: number; size: number; delta: number }>): Promise<void> {
    // One row per id in a statement (PostgreSQL refuses to update a row twice in one upsert).
    const by = new Map<number, [number, number, number]>();
    for (const r of refs) {
      const had = by.get(r.id);
      if (had) had[2] += r.delta;
      else by.set(r.id, [r.id, r.size, r.delta]);
    }
    await this.many(this.s.addSliceRefBlind, by.values());
  }

  async loadRows(rows: DumpRow[]): Promise<DumpRow[]> {
    // Keyed as the tables are, so the last row of a key wins, as one-row upserts in order would.
    const node = new Map<number, unknown[]>();
    const edge = new Map<string, unknown[]>();
    const symlink = new Map<number, unknown[]>();
    const xattr = new Map<string, unknown[]>();
    const chunk = new Map<string, unknown[]>();
    const noChunk = new Map<string, [number, number]>();
    const delfile = new Map<number, unknown[]>();
    const delslice = new Map<number, unknown[]>();
    const rest: DumpRow[] = [];
    const now = Date.now();
    for (const r of rows) {
      switch (r.kind) {
        case 'inode':
          node.set(r.ino, [r.ino, ...ATTR_COLUMNS.map((c) => r.attr[c])]);
          break;
        case 'entry':
          edge.set(`${r.parent}/${r.name}`, [r.parent, r.name, r.ino, r.type]);
          break;
        case 'symlink':
          symlink.set(r.ino, [r.ino, r.target]);
          break;
        case 'xattr':
          xattr.set(`${r.ino}/${r.name}`, [r.ino, r.name, Buffer.from(r.value, 'base64')]);
          break;
        case 'chunk': {
          // An empty slice list removes the chunk: whichever of the two came last for the key is applied.
          const key = `${r.ino}/${r.indx}`;
          if (r.slices.length) {
            noChunk.delete(key);
            chunk.set(key, [r.ino, r.indx, encodeSlices(r.slices), r.slices.length]);
          } else {
            chunk.delete(key);
            noChunk.set(key, [r.ino, r.indx]);
          }
          break;
        }
        case 'delfile':
          delfile.set(r.ino, [r.ino, r.length, now]);
          break;
        case 'delslice':
          if (!delslice.has(r.id)) delslice.set(r.id, [r.id, r.size, now]); // as the one-row form: the first stays
          break;
        default:
          rest.push(r);
      }
    }
    await this.many(this.s.setAttr, node.values());
    await this.many(this.s.setEntry, edge.values());
    await this.many(this.s.setSymlink, symlink.values());
    await this.many(this.s.setXattr, xattr.values());
    await this.many(this.s.setChunk, chunk.values());
    for (const [ino, indx] of noChunk.values()) await this.setChunk(ino, indx, []);
    await this.many(this.s.addDelFile, delfile.values());
    await this.many(this.s.addDelSlice, delslice.values());
    return rest;
  }

  // ---- counters and setting ----

  async getCounter(name: string): Promise<number> {
    return Number((await this.one(`SELECT value FROM ${this.t('counter')} WHERE name = ?`, name))?.value ?? 0);
  }

  async incrCounter(name: string, delta: number): Promise<Assigned> {
    // Known inside the transaction: the token is resolved at once.
    return Assigned.of(await this.upsertReturning(this.s.incrCounter, [name, delta], 'value', `SELECT value FROM ${this.t('counter')} WHERE name = ?`, [name]));
  }

  async incrCounters(deltas: Array<[string, number]>): Promise<Assigned[]> {
    if (deltas.length === 1) return [await this.incrCounter(deltas[0]![0], deltas[0]![1])];
    const sql = multiRow(this.s.incrCounters, 2, deltas.length);
    const names = deltas.map(([n]) => n);
    let rows: Row[];
    if (this.s.d.returning) rows = await this.all(sql, ...deltas.flat());
    else {
      await this.run(sql, ...deltas.flat());
      rows = await this.all(`SELECT name, value FROM ${this.t('counter')} WHERE name IN (${names.map(() => '?').join(', ')})`, ...names);
    }
    const by = new Map(rows.map((r) => [String(r.name), Number(r.value)]));
    return names.map((n) => Assigned.of(by.get(n) ?? 0));
  }

  async setCounter(name: string, value: number): Promise<void> {
    await this.blind(this.s.setCounter, name, value);
  }

  async getSetting(): Promise<Format | undefined> {
    const r = await this.one(`SELECT value FROM ${this.t('setting')} WHERE name = ?`, 'format');
    return r && (JSON.parse(String(r.value)) as Format);
  }

  async setSetting(format: Format): Promise<void> {
    await this.blind(this.s.setSetting, 'format', JSON.stringify(format));
  }

  // ---- sessions, queues, locks ----

  async addSession(sid: number, info: SessionInfo): Promise<void> {
    await this.blind(this.s.addSession, sid, info.heartbeat, JSON.stringify(info));
  }

  async updateSession(sid: number, heartbeat: number): Promise<void> {
    await this.blind(`UPDATE ${this.t('session')} SET heartbeat = ? WHERE sid = ?`, heartbeat, sid);
  }

  async delSession(sid: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('session')} WHERE sid = ?`, sid);
    await this.blind(`DELETE FROM ${this.t('sustained')} WHERE sid = ?`, sid);
  }

  async listSessions(): Promise<SessionInfo[]> {
    const rows = await this.all(`SELECT sid, heartbeat, info FROM ${this.t('session')} ORDER BY sid`);
    return rows.map((r) => ({ ...(JSON.parse(String(r.info)) as SessionInfo), sid: Number(r.sid), heartbeat: Number(r.heartbeat) }));
  }

  async addSustained(sid: number, ino: number): Promise<void> {
    await this.blind(this.s.addSustained, sid, ino);
  }

  async delSustained(sid: number, ino: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('sustained')} WHERE sid = ? AND inode = ?`, sid, ino);
  }

  async listSustained(sid: number): Promise<number[]> {
    return (await this.all(`SELECT inode FROM ${this.t('sustained')} WHERE sid = ?`, sid)).map((r) => Number(r.inode));
  }

  async listSustainedBy(ino: number): Promise<number[]> {
    return (await this.all(`SELECT sid FROM ${this.t('sustained')} WHERE inode = ?`, ino)).map((r) => Number(r.sid));
  }

  async addDelFile(ino: number, length: number): Promise<void> {
    await this.blind(this.s.addDelFile, ino, length, Date.now());
  }

  async delDelFile(ino: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('delfile')} WHERE inode = ?`, ino);
  }

  async listDelFiles(limit: number): Promise<Array<{ ino: number; length: number }>> {
    const rows = await this.all(`SELECT inode, length FROM ${this.t('delfile')} ORDER BY added LIMIT ${Math.floor(limit)}`);
    return rows.map((r) => ({ ino: Number(r.inode), length: Number(r.length) }));
  }

  async addDelSlice(id: number, size: number): Promise<void> {
    await this.blind(this.s.addDelSlice, id, size, Date.now());
  }

  async listDelSlices(limit: number): Promise<DeletedSlice[]> {
    const rows = await this.all(`SELECT id, size FROM ${this.t('delslice')} ORDER BY added, id LIMIT ${Math.floor(limit)}`);
    return rows.map((r) => ({ id: Number(r.id), size: Number(r.size) }));
  }

  async delDelSlices(ids: number[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      await this.blind(`DELETE FROM ${this.t('delslice')} WHERE id IN (${part.map(() => '?').join(', ')})`, ...part);
    }
  }

  async getFlocks(ino: number): Promise<FlockRow[]> {
    const rows = await this.all(`SELECT sid, owner, ltype FROM ${this.t('flock')} WHERE inode = ?`, ino);
    return rows.map((r) => ({ sid: Number(r.sid), owner: String(r.owner), type: Number(r.ltype) }));
  }

  async setFlock(ino: number, sid: number, owner: string, type: number | null): Promise<void> {
    if (type === null) await this.blind(`DELETE FROM ${this.t('flock')} WHERE inode = ? AND sid = ? AND owner = ?`, ino, sid, owner);
    else await this.blind(this.s.setFlock, ino, sid, owner, type);
  }

  async getPlocks(ino: number): Promise<PlockRow[]> {
    const rows = await this.all(`SELECT sid, owner, records FROM ${this.t('plock')} WHERE inode = ?`, ino);
    return rows.map((r) => ({ sid: Number(r.sid), owner: String(r.owner), records: toBuffer(r.records) }));
  }

  async setPlock(ino: number, sid: number, owner: string, records: Buffer | null): Promise<void> {
    if (records === null) await this.blind(`DELETE FROM ${this.t('plock')} WHERE inode = ? AND sid = ? AND owner = ?`, ino, sid, owner);
    else await this.blind(this.s.setPlock, ino, sid, owner, records);
  }

  async delSessionLocks(sid: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('flock')} WHERE sid = ?`, sid);
    await this.blind(`DELETE FROM ${this.t('plock')} WHERE sid = ?`, sid);
  }

  async addTtlIndex(rule: number, ino: number, mtime: number, at?: { parent: number; name: string }): Promise<void> {
    await this.blind(at ? this.s.addTtl : this.s.touchTtl, rule, ino, mtime, at?.parent ?? 0, at?.name ?? '');
  }

  async delTtlIndex(rule: number, ino: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('ttl')} WHERE rule = ? AND inode = ?`, rule, ino);
  }

  async scanTtlIndex(rule: number, upTo: number, skip: number, limit: number): Promise<TtlIndexRow[]> {
    const rows = await this.all(
      `SELECT inode, mtime, parent, name FROM ${this.t('ttl')} WHERE rule = ? AND mtime <= ? ORDER BY mtime, inode LIMIT ${Math.floor(limit)} OFFSET ${Math.floor(skip)}`,
      rule,
      upTo,
    );
    return rows.map((r) => ({ ino: Number(r.inode), mtime: Number(r.mtime), parent: Number(r.parent), name: String(r.name) }));
  }

  async clearTtlIndex(rule: number): Promise<void> {
    await this.blind(`DELETE FROM ${this.t('ttl')} WHERE rule = ?`, rule);
  }

  async appendChangelog(version: Assigned, op: string, ts: number, mutations: readonly RecordedMutation[]): Promise<void> {
    const record = JSON.stringify(mutations);
    await this.blind(`INSERT INTO ${this.t('changelog')} (version, ts, op, record) VALUES (?, ?, ?, ?)`, version.value, ts, op, record);
  }

  // ---- scans (scan.ts) ----

  scanInodes(cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>> {
    return this.scans.inodes(cursor, limit);
  }

  scanEntries(cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>> {
    return this.scans.entries(cursor, limit);
  }

  scanChunks(cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>> {
    return this.scans.chunks(cursor, limit);
  }

  scanSliceRefs(cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>> {
    return this.scans.sliceRefs(cursor, limit);
  }

  scanSymlinks(cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>> {
    return this.scans.symlinks(cursor, limit);
  }

  scanXattrs(cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>> {
    return this.scans.xattrs(cursor, limit);
  }

  scanParents(cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>> {
    return this.scans.parents(cursor, limit);
  }
}
