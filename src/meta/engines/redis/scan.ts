// Scans on Redis. Per-inode keys have no index of their own, so a walk follows the keyspace with SCAN
// (MATCH on the key kind): keys present for the whole walk are returned at least once, in no order, and
// a key may come twice if Redis shrinks its table meanwhile. The cursor carries SCAN's cursor, the keys
// of the last SCAN step not yet read, and the position inside the current key (a directory's last name).
import { decodeSlices } from '../../slices.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from '../../scan.js';
import { afterBound, decodeAttr, parseMember } from './keys.js';
import type { RedisConn } from './tx.js';

interface WalkState {
  /** SCAN (or HSCAN) cursor of the next step. */
  c: string;
  /** Keys (or hash fields) of past steps not read yet; the first may be partly read. */
  q: string[];
  /** Position inside q[0]: the last name or field returned. */
  in?: string;
  done?: boolean;
}

/** SCAN steps one page may take when they match nothing (other volumes' keys), so a page stays short. */
const STEPS_PER_PAGE = 16;

const decode = (cursor: string | undefined): WalkState => (cursor === undefined ? { c: '0', q: [] } : (JSON.parse(cursor) as WalkState));
const encode = (st: WalkState): string | undefined => (st.done && !st.q.length ? undefined : JSON.stringify(st));
const stepCount = (limit: number) => Math.min(10_000, Math.max(256, Math.floor(limit)));

/** Fetches the next SCAN step into st.q; false once the page may take no more steps. */
async function step(c: RedisConn, st: WalkState, pattern: string, limit: number, steps: { n: number }): Promise<boolean> {
  if (st.done || steps.n++ >= STEPS_PER_PAGE) return false;
  const [next, keys] = (await c.call('SCAN', st.c, 'MATCH', pattern, 'COUNT', stepCount(limit))) as [Buffer, Buffer[]];
  st.c = next.toString();
  if (st.c === '0') st.done = true;
  st.q.push(...keys.map((k) => k.toString()));
  return true;
}

/** Keys holding one row each (a string value): read with MGET, a page of keys at a time. */
async function stringRows<R>(c: RedisConn, letter: string, cursor: string | undefined, limit: number, row: (rest: string, v: Buffer) => R): Promise<ScanPage<R>> {
  const st = decode(cursor);
  const head = c.keys.tag.length + letter.length;
  const rows: R[] = [];
  const steps = { n: 0 };
  while (rows.length < limit) {
    if (!st.q.length) {
      if (!(await step(c, st, c.keys.scanPattern(letter), limit, steps))) break;
      continue;
    }
    const keys = st.q.splice(0, limit - rows.length);
    const vals = (await c.call('MGET', ...keys)) as Array<Buffer | null>;
    keys.forEach((k, i) => {
      const v = vals[i];
      if (v) rows.push(row(k.slice(head), v));
    });
  }
  return { rows, next: encode(st) };
}

/** Keys holding several rows each (a hash): the fields of one key in order, resumable inside the key. */
async function hashRows<R>(
  c: RedisConn,
  letter: string,
  cursor: string | undefined,
  limit: number,
  order: (a: string, b: string) => number,
  row: (rest: string, field: string, v: Buffer) => R,
): Promise<ScanPage<R>> {
  const st = decode(cursor);
  const head = c.keys.tag.length + letter.length;
  const rows: R[] = [];
  const steps = { n: 0 };
  while (rows.length < limit) {
    if (!st.q.length) {
      if (!(await step(c, st, c.keys.scanPattern(letter), limit, steps))) break;
      continue;
    }
    const key = st.q[0]!;
    const flat = (await c.call('HGETALL', key)) as Buffer[];
    const fields: Array<[string, Buffer]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.push([flat[i]!.toString(), flat[i + 1]!]);
    const after = st.in;
    const left = fields.filter(([f]) => after === undefined || order(f, after) > 0).sort((a, b) => order(a[0], b[0]));
    const take = left.slice(0, limit - rows.length);
    for (const [f, v] of take) rows.push(row(key.slice(head), f, v));
    if (take.length < left.length) st.in = take[take.length - 1]![0];
    else {
      st.q.shift();
      delete st.in;
    }
  }
  return { rows, next: encode(st) };
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function scanInodes(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>> {
  return stringRows(c, 'i', cursor, limit, (rest, v) => ({ ino: Number(rest), attr: decodeAttr(v) }));
}

export function scanSymlinks(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>> {
  return stringRows(c, 's', cursor, limit, (rest, v) => ({ ino: Number(rest), target: v.toString() }));
}

export function scanChunks(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>> {
  return stringRows(c, 'k', cursor, limit, (rest, v) => {
    const [ino, indx] = rest.split('_').map(Number);
    return { ino: ino!, indx: indx!, slices: decodeSlices(v) };
  });
}

export function scanXattrs(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>> {
  return hashRows(c, 'x', cursor, limit, byBytes, (rest, name, value) => ({ ino: Number(rest), name, value }));
}

export function scanParents(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>> {
  return hashRows(
    c,
    'p',
    cursor,
    limit,
    (a, b) => Number(a) - Number(b),
    (rest, parent, v) => ({ ino: Number(rest), parent: Number(parent), count: Number(v.toString()) }),
  );
}

/** A directory's members in name order, resumable after the last name: ZRANGEBYLEX pages. */
export async function scanEntries(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>> {
  const st = decode(cursor);
  const head = c.keys.tag.length + 1;
  const rows: EntryRow[] = [];
  const steps = { n: 0 };
  while (rows.length < limit) {
    if (!st.q.length) {
      if (!(await step(c, st, c.keys.scanPattern('d'), limit, steps))) break;
      continue;
    }
    const key = st.q[0]!;
    const want = limit - rows.length;
    const members = (await c.call('ZRANGEBYLEX', key, afterBound(st.in), '+', 'LIMIT', 0, want)) as Buffer[];
    const parent = Number(key.slice(head));
    for (const m of members) {
      const e = parseMember(m);
      rows.push({ parent, name: e.name, ino: e.inode, type: e.type });
    }
    if (members.length === want) st.in = rows[rows.length - 1]!.name;
    else {
      st.q.shift();
      delete st.in;
    }
  }
  return { rows, next: encode(st) };
}

/** The reference-count hash with HSCAN; sizes from their own hash (HMGET per page). */
export async function scanSliceRefs(c: RedisConn, cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>> {
  const st = decode(cursor);
  const rows: SliceRefRow[] = [];
  let steps = 0;
  while (rows.length < limit) {
    if (!st.q.length) {
      if (st.done || steps++ >= STEPS_PER_PAGE) break;
      const [next, flat] = (await c.call('HSCAN', c.keys.sliceRefs, st.c, 'COUNT', stepCount(limit))) as [Buffer, Buffer[]];
      st.c = next.toString();
      if (st.c === '0') st.done = true;
      for (let i = 0; i + 1 < flat.length; i += 2) st.q.push(`${flat[i]!.toString()}:${flat[i + 1]!.toString()}`);
      continue;
    }
    const pairs = st.q.splice(0, limit - rows.length).map((p) => p.split(':').map(Number) as [number, number]);
    const sizes = (await c.call('HMGET', c.keys.sliceSizes, ...pairs.map(([id]) => id))) as Array<Buffer | null>;
    pairs.forEach(([id, refs], i) => rows.push({ id, size: Number(sizes[i]?.toString() ?? 0), refs }));
  }
  return { rows, next: encode(st) };
}
