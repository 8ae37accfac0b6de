// Tx primitives on Redis as an optimistic transaction. Reads go to Redis and are remembered as checks
// (the read and what it returned); writes are buffered as commit ops and kept in an overlay so later
// reads of the same transaction see them. The commit script (scripts.ts COMMIT) re-runs every check and,
// only if all still hold, applies the writes: one round trip, atomic, and serializable at that instant.
// In read mode (Engine.read) nothing is recorded and writes are refused.
import { fsErr } from '../../../errors.js';
import { Assigned, type RecordedMutation } from '../../assigned.js';
import { decodeSlices, encodeSlice, encodeSlices, SLICE_BYTES } from '../../slices.js';
import type { FlockRow, PlockRow, Tx } from '../../tx.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from '../../scan.js';
import type { Attr, DeletedSlice, Entry, FileType, Format, SessionInfo, Slice, TtlIndexRow } from '../../types.js';
import * as scans from './scan.js';
import { afterBound, BLIND_COUNTERS, decodeAttr, encodeAttr, entryMember, entryRange, type Keys, parseMember } from './keys.js';
import { payloadPieces } from './record.js';

export type Arg = string | Buffer | number;

/** What the transaction needs from its engine. */
export interface RedisConn {
  readonly keys: Keys;
  /** One command, replies with Buffers for bulk strings. */
  call(cmd: string, ...args: Arg[]): Promise<any>;
  /** [member, its attributes], or for a missing name [empty, the parent's attributes]. */
  lookupScript(dir: string, name: string, parentAttr: string): Promise<[Buffer, Buffer | null]>;
  /** Values this client read or committed lately, keyed like cacheKey(): a transaction's first attempt
   *  takes its reads from here without a round trip; the commit checks them like any read. */
  readonly cache: ValueCache;
  readdirScript(dir: string, min: Buffer, count: number, plus: boolean): Promise<Buffer[]>;
}

interface ChunkState {
  /** Complete current content (null: no chunk), when known. */
  content?: Buffer | null;
  /** Complete current length when only that is known, with the records appended since. */
  len?: number;
  tail: Buffer[];
}

interface CounterState {
  base?: number;
  set?: number;
  delta: number;
}

const EMPTY = Buffer.alloc(0);

/** A bounded map in least-recently-set order (values up to 4 KiB). null = known to be absent. */
export class ValueCache {
  private readonly m = new Map<string, Buffer | null>();
  constructor(private readonly max: number) {}
  has(k: string): boolean {
    return this.m.has(k);
  }
  get(k: string): Buffer | null | undefined {
    return this.m.get(k);
  }
  set(k: string, v: Buffer | null): void {
    this.m.delete(k);
    // Large values (long slice lists) are not worth the memory: a miss costs one round trip.
    if (v && v.length > 4096) return;
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
}

/** Cache key of a hash field or a directory entry (keys never hold \0). */
export const fieldKey = (key: string, field: string) => `${key}\0${field}`;
/** Cache key saying a hash or directory is (probably) empty. */
export const emptyKey = (key: string) => `\x01${key}`;

function typeOnly(type: FileType): Attr {
  return {
    type, mode: 0, uid: 0, gid: 0, atime: 0, atimensec: 0, mtime: 0, mtimensec: 0, ctime: 0, ctimensec: 0,
    nlink: 0, length: 0, rdev: 0, parent: 0, flags: 0,
  };
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class RedisTx implements Tx {
  readonly checks: Arg[][] = [];
  readonly writes: Arg[][] = [];
  /** Each counter increment's token -> its index among the 'incr' ops, whose results the commit returns in order. */
  private readonly assigned = new Map<Assigned, number>();

  private readonly strs = new Map<string, Buffer | null>();
  private readonly chunks = new Map<string, ChunkState>();
  /** Chunk indexes of an inode created or deleted in this transaction. */
  private readonly chunkLive = new Map<number, Map<number, boolean>>();
  private readonly hashes = new Map<string, Map<string, Buffer | null>>();
  private readonly dirs = new Map<number, Map<string, { inode: number; type: FileType } | null>>();
  private readonly counters = new Map<string, CounterState>();
  private readonly k: Keys;

  /** Reads served from the cache: dropped from it when the commit finds a conflict. */
  readonly cachedReads: string[] = [];
  /** Inodes whose attributes were set without being read first: most likely just created. */
  readonly newInodes = new Map<number, FileType>();

  /**
   * @param useCache take reads from the client cache (checked at commit like any read)
   * @param guessAbsent also take a name missing from the cache as absent: a create then costs only its
   *   commit; a wrong guess fails the commit (or the error's validation) and the retry reads Redis.
   */
  constructor(
    private readonly c: RedisConn,
    readonly writable: boolean,
    private readonly useCache = false,
    private readonly guessAbsent = false,
  ) {
    this.k = c.keys;
  }

  /** A cached value for a read of this transaction (first attempts only), or undefined. */
  private cached(ck: string): Buffer | null | undefined {
    if (!this.useCache || !this.writable || !this.c.cache.has(ck)) return undefined;
    this.cachedReads.push(ck);
    return this.c.cache.get(ck);
  }

  private check(...args: Arg[]): void {
    if (this.writable) this.checks.push(args);
  }

  private write(...args: Arg[]): void {
    if (!this.writable) throw fsErr('EROFS', 'write in a read-only transaction');
    this.writes.push(args);
  }

  // ---- strings and hashes with the overlay ----

  private async getStr(key: string): Promise<Buffer | null> {
    if (this.strs.has(key)) return this.strs.get(key)!;
    let v = this.cached(key);
    if (v === undefined) {
      v = (await this.c.call('GET', key)) as Buffer | null;
      this.c.cache.set(key, v);
    }
    this.check('get', key, ...(v ? [v] : []));
    this.strs.set(key, v);
    return v;
  }

  private putStr(key: string, v: Buffer | null): void {
    this.write(...(v ? ['set', key, v] : ['del', key]));
    this.strs.set(key, v);
  }

  private hashOverlay(key: string): Map<string, Buffer | null> {
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = new Map()));
    return h;
  }

  private async hget(key: string, field: string): Promise<Buffer | null> {
    const h = this.hashes.get(key);
    if (h?.has(field)) return h.get(field)!;
    let v = this.cached(fieldKey(key, field));
    if (v === undefined) {
      v = (await this.c.call('HGET', key, field)) as Buffer | null;
      this.c.cache.set(fieldKey(key, field), v);
    }
    this.check('hget', key, field, ...(v ? [v] : []));
    this.hashOverlay(key).set(field, v);
    return v;
  }

  private hset(key: string, field: string, v: Buffer | string | null): void {
    const b = v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v);
    this.write(...(b ? ['hset', key, field, b] : ['hdel', key, field]));
    this.hashOverlay(key).set(field, b);
  }

  /** The whole hash: server content with this transaction's writes over it. */
  private async hgetall(key: string): Promise<Map<string, Buffer>> {
    const flat: Buffer[] = await this.c.call('HGETALL', key);
    this.check('hall', key, ...flat);
    const out = new Map<string, Buffer>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!.toString(), flat[i + 1]!);
    for (const [f, v] of this.hashes.get(key) ?? []) {
      if (v === null) out.delete(f);
      else out.set(f, v);
    }
    return out;
  }

  private async hkeys(key: string): Promise<string[]> {
    const flat: Buffer[] = this.cached(emptyKey(key)) !== undefined ? [] : await this.c.call('HKEYS', key);
    this.check('hkeys', key, ...flat);
    const out = new Set(flat.map((b) => b.toString()));
    for (const [f, v] of this.hashes.get(key) ?? []) {
      if (v === null) out.delete(f);
      else out.add(f);
    }
    return [...out];
  }

  // ---- inodes and entries ----

  async getAttr(ino: number): Promise<Attr | undefined> {
    const v = await this.getStr(this.k.attr(ino));
    return v ? decodeAttr(v) : undefined;
  }

  async setAttr(ino: number, attr: Attr): Promise<void> {
    if (!this.strs.has(this.k.attr(ino))) this.newInodes.set(ino, attr.type);
    this.putStr(this.k.attr(ino), encodeAttr(attr));
  }

  async delAttr(ino: number): Promise<void> {
    this.putStr(this.k.attr(ino), null);
  }

  private dirOverlay(parent: number): Map<string, { inode: number; type: FileType } | null> {
    let d = this.dirs.get(parent);
    if (!d) this.dirs.set(parent, (d = new Map()));
    return d;
  }

  async getEntry(parent: number, name: string): Promise<{ inode: number; type: FileType } | undefined> {
    const d = this.dirs.get(parent);
    if (d?.has(name)) return d.get(name) ?? undefined;
    const key = this.k.dir(parent);
    let m = this.cached(fieldKey(key, name));
    if (m === undefined && this.guessAbsent && this.writable) {
      m = null;
      this.cachedReads.push(fieldKey(key, name));
    }
    if (m === undefined) {
      const [min, max] = entryRange(name);
      const r: Buffer[] = await this.c.call('ZRANGEBYLEX', key, min, max, 'LIMIT', 0, 1);
      m = r[0] ?? null;
      this.c.cache.set(fieldKey(key, name), m);
    }
    this.check('ent', key, name, ...(m ? [m] : []));
    const e = m ? parseMember(m) : undefined;
    this.dirOverlay(parent).set(name, e ? { inode: e.inode, type: e.type } : null);
    return e && { inode: e.inode, type: e.type };
  }

  async lookup(parent: number, name: string): Promise<{ inode: number; attr: Attr } | undefined> {
    const d = this.dirs.get(parent);
    if (d?.has(name)) {
      const e = d.get(name);
      const attr = e ? await this.getAttr(e.inode) : undefined;
      return e && attr ? { inode: e.inode, attr } : undefined;
    }
    const key = this.k.dir(parent);
    const cm = this.cached(fieldKey(key, name));
    if (cm !== undefined) {
      this.check('ent', key, name, ...(cm ? [cm] : []));
      const ce = cm ? parseMember(cm) : null;
      this.dirOverlay(parent).set(name, ce && { inode: ce.inode, type: ce.type });
      const attr = ce ? await this.getAttr(ce.inode) : undefined;
      return ce && attr ? { inode: ce.inode, attr } : undefined;
    }
    const pkey = this.k.attr(parent);
    const [member, got] = await this.c.lookupScript(key, name, pkey);
    const r = member.length ? ([member, got] as const) : undefined;
    this.c.cache.set(fieldKey(key, name), r ? r[0] : null);
    if (r) this.c.cache.set(this.k.attr(parseMember(r[0]).inode), r[1]);
    this.check('ent', key, name, ...(r ? [r[0]] : []));
    if (!r) {
      this.dirOverlay(parent).set(name, null);
      // A read-only caller asks for the parent next (ENOENT or ENOTDIR): it came with the answer. A
      // writing transaction reads it itself rather than add a check that a busy directory would fail.
      if (!this.writable && !this.strs.has(pkey)) this.strs.set(pkey, got);
      return undefined;
    }
    const e = parseMember(r[0]);
    this.dirOverlay(parent).set(name, { inode: e.inode, type: e.type });
    const akey = this.k.attr(e.inode);
    let a: Buffer | null;
    if (this.strs.has(akey)) a = this.strs.get(akey)!;
    else {
      a = r[1];
      this.check('get', akey, ...(a ? [a] : []));
      this.strs.set(akey, a);
    }
    return a ? { inode: e.inode, attr: decodeAttr(a) } : undefined;
  }

  async setEntry(parent: number, name: string, ino: number, type: FileType): Promise<void> {
    this.write('ent', this.k.dir(parent), name, entryMember(name, ino, type));
    this.dirOverlay(parent).set(name, { inode: ino, type });
  }

  async delEntry(parent: number, name: string): Promise<void> {
    this.write('unent', this.k.dir(parent), name);
    this.dirOverlay(parent).set(name, null);
  }

  async listEntries(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<Entry[]> {
    const key = this.k.dir(parent);
    const d = this.dirs.get(parent);
    const min = afterBound(after);
    // With changes of this directory in the overlay, read everything and merge; else one page.
    const count = !d?.size && Number.isFinite(limit) && limit < 2 ** 31 ? Math.max(0, Math.floor(limit)) : -1;
    const raw = count === 0 ? [] : await this.c.readdirScript(key, min, count, plus);
    const step = plus ? 2 : 1;
    const members: Buffer[] = [];
    for (let i = 0; i < raw.length; i += step) members.push(raw[i] as Buffer);
    this.check('zrbl', key, min, count, ...members);
    const byName = new Map<string, Entry>();
    for (let i = 0; i < raw.length; i += step) {
      const e = parseMember(raw[i] as Buffer);
      let attr = typeOnly(e.type);
      if (plus) {
        const akey = this.k.attr(e.inode);
        let a: Buffer | null;
        if (this.strs.has(akey)) a = this.strs.get(akey)!;
        else {
          a = (raw[i + 1] as Buffer | null) ?? null;
          this.check('get', akey, ...(a ? [a] : []));
        }
        if (a) attr = decodeAttr(a);
      }
      byName.set(e.name, { name: e.name, inode: e.inode, attr });
    }
    if (d?.size) {
      for (const [name, e] of d) {
        if (after !== undefined && byBytes(name, after) <= 0) continue;
        if (!e) byName.delete(name);
        else {
          const a = plus ? await this.getAttr(e.inode) : undefined;
          byName.set(name, { name, inode: e.inode, attr: a ?? typeOnly(e.type) });
        }
      }
    }
    const out = [...byName.values()].sort((a, b) => byBytes(a.name, b.name));
    return Number.isFinite(limit) ? out.slice(0, Math.max(0, limit)) : out;
  }

  async hasEntries(parent: number): Promise<boolean> {
    const d = this.dirs.get(parent);
    const gone = new Set<string>();
    for (const [name, e] of d ?? []) {
      if (e) return true;
      gone.add(name);
    }
    const key = this.k.dir(parent);
    if (gone.size === 0) {
      const n: number = this.cached(emptyKey(key)) !== undefined ? 0 : await this.c.call('EXISTS', key);
      this.check('exists', key, n);
      return n > 0;
    }
    // Some names are gone in this transaction: is there any other among the first |gone|+1 members?
    const r: Buffer[] = await this.c.call('ZRANGE', key, 0, gone.size);
    this.check('zrange', key, 0, gone.size, ...r);
    return r.some((m) => !gone.has(parseMember(m).name));
  }

  // ---- symlinks, xattrs, hard-link parents ----

  async getSymlink(ino: number): Promise<string | undefined> {
    const v = await this.getStr(this.k.symlink(ino));
    return v ? v.toString() : undefined;
  }

  async setSymlink(ino: number, target: string): Promise<void> {
    this.putStr(this.k.symlink(ino), Buffer.from(target));
  }

  async delSymlink(ino: number): Promise<void> {
    this.putStr(this.k.symlink(ino), null);
  }

  async getXattr(ino: number, name: string): Promise<Buffer | undefined> {
    return (await this.hget(this.k.xattr(ino), name)) ?? undefined;
  }

  async setXattr(ino: number, name: string, value: Buffer): Promise<void> {
    this.hset(this.k.xattr(ino), name, value);
  }

  async delXattr(ino: number, name: string): Promise<boolean> {
    const key = this.k.xattr(ino);
    const had = (await this.hget(key, name)) !== null;
    if (had) this.hset(key, name, null);
    return had;
  }

  async listXattr(ino: number): Promise<string[]> {
    return (await this.hkeys(this.k.xattr(ino))).sort(byBytes);
  }

  async addParent(ino: number, parent: number, delta: number): Promise<void> {
    const key = this.k.parents(ino);
    const left = Number((await this.hget(key, String(parent)))?.toString() ?? 0) + delta;
    this.hset(key, String(parent), left > 0 ? String(left) : null);
  }

  async listParents(ino: number): Promise<Array<{ parent: number; count: number }>> {
    const h = await this.hgetall(this.k.parents(ino));
    return [...h].map(([p, c]) => ({ parent: Number(p), count: Number(c.toString()) })).sort((a, b) => a.parent - b.parent);
  }

  // ---- chunks and slices ----

  private markChunk(ino: number, indx: number, live: boolean): void {
    let m = this.chunkLive.get(ino);
    if (!m) this.chunkLive.set(ino, (m = new Map()));
    m.set(indx, live);
  }

  async getChunk(ino: number, indx: number): Promise<Slice[]> {
    const key = this.k.chunk(ino, indx);
    const st = this.chunks.get(key);
    if (st?.content !== undefined) return decodeSlices(st.content);
    let v = this.cached(key);
    if (v === undefined) {
      v = (await this.c.call('GET', key)) as Buffer | null;
      this.c.cache.set(key, v);
    }
    this.check('get', key, ...(v ? [v] : []));
    const content = st?.tail.length ? Buffer.concat([v ?? EMPTY, ...st.tail]) : v;
    this.chunks.set(key, { content, tail: [] });
    return decodeSlices(content);
  }

  async appendSlice(ino: number, indx: number, slice: Slice): Promise<number> {
    const key = this.k.chunk(ino, indx);
    const rec = encodeSlice(slice);
    let st = this.chunks.get(key);
    let len: number;
    if (st?.content !== undefined) {
      st.content = Buffer.concat([st.content ?? EMPTY, rec]);
      len = st.content.length;
    } else if (st?.len !== undefined) {
      st.len += rec.length;
      st.tail.push(rec);
      len = st.len;
    } else {
      // Only the count is read, so only the length is checked: appends by others after a compaction commute.
      const c = this.cached(key);
      const n: number = c !== undefined ? (c?.length ?? 0) : await this.c.call('STRLEN', key);
      this.check('strlen', key, n);
      st = { len: n + rec.length, tail: [rec] };
      this.chunks.set(key, st);
      len = st.len!;
    }
    const count = len / SLICE_BYTES;
    this.write('append', key, rec);
    this.write('zadd', this.k.chunkIndex(ino), indx, indx);
    this.write('zadd', this.k.fragments, count, `${ino}:${indx}`);
    this.markChunk(ino, indx, true);
    return count;
  }

  async setChunk(ino: number, indx: number, slices: Slice[]): Promise<void> {
    const key = this.k.chunk(ino, indx);
    const member = `${ino}:${indx}`;
    if (slices.length === 0) {
      this.write('del', key);
      this.write('zrem', this.k.chunkIndex(ino), indx);
      this.write('zrem', this.k.fragments, member);
      this.chunks.set(key, { content: null, tail: [] });
    } else {
      const content = encodeSlices(slices);
      this.write('set', key, content);
      this.write('zadd', this.k.chunkIndex(ino), indx, indx);
      this.write('zadd', this.k.fragments, slices.length, member);
      this.chunks.set(key, { content, tail: [] });
    }
    this.markChunk(ino, indx, slices.length > 0);
  }

  async listChunkIndexes(ino: number, from: number): Promise<number[]> {
    const key = this.k.chunkIndex(ino);
    const r: Buffer[] = await this.c.call('ZRANGEBYSCORE', key, from, '+inf');
    this.check('zrbs', key, from, ...r);
    const out = new Set(r.map((b) => Number(b.toString())));
    for (const [indx, live] of this.chunkLive.get(ino) ?? []) {
      if (indx < from) continue;
      if (live) out.add(indx);
      else out.delete(indx);
    }
    return [...out].sort((a, b) => a - b);
  }

  async listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>> {
    // RESP3 replies WITHSCORES as pairs, RESP2 flat: flatten both.
    const r: Buffer[] = (await this.c.call('ZREVRANGEBYSCORE', this.k.fragments, '+inf', minSlices, 'WITHSCORES', 'LIMIT', 0, Math.floor(limit))).flat();
    const out: Array<{ ino: number; indx: number; count: number }> = [];
    for (let i = 0; i + 1 < r.length; i += 2) {
      const [ino, indx] = r[i]!.toString().split(':').map(Number);
      out.push({ ino: ino!, indx: indx!, count: Number(r[i + 1]!.toString()) });
    }
    return out;
  }

  async addSliceRef(id: number, size: number, delta: number): Promise<number> {
    const key = this.k.sliceRefs;
    const had = Number((await this.hget(key, String(id)))?.toString() ?? 0);
    const refs = had + delta;
    this.hset(key, String(id), refs > 0 ? String(refs) : null);
    // The size travels with the first reference and goes with the last (scans report it).
    if (refs <= 0) this.hset(this.k.sliceSizes, String(id), null);
    else if (had <= 0) this.hset(this.k.sliceSizes, String(id), String(size));
    return refs;
  }

  // ---- counters and setting ----

  private counter(name: string): CounterState {
    let st = this.counters.get(name);
    if (!st) this.counters.set(name, (st = { delta: 0 }));
    return st;
  }

  private async known(name: string, st: CounterState): Promise<number> {
    if (st.set !== undefined) return st.set;
    if (st.base === undefined) {
      const key = this.k.counter(name);
      // A counter this client set last (a mirror's applied version) is most likely unchanged: take it
      // from the cache on a first attempt; the commit checks it like any read.
      const hit = BLIND_COUNTERS.has(name) ? undefined : this.cached(key);
      const v: Buffer | null = hit !== undefined ? hit : await this.c.call('GET', key);
      // Blind counters are read as "a recent value" (quota checks); the others exactly.
      if (!BLIND_COUNTERS.has(name)) this.check('get', key, ...(v ? [v] : []));
      st.base = v ? Number(v.toString()) : 0;
    }
    return st.base;
  }

  async getCounter(name: string): Promise<number> {
    const st = this.counter(name);
    return (await this.known(name, st)) + st.delta;
  }

  /**
   * Blind: INCRBY in the commit script gives the value, so concurrent writers never conflict on a counter
   * (the version above all). The token is resolved by resolveAssigned after the commit.
   */
  async incrCounter(name: string, delta: number): Promise<Assigned> {
    this.write('incr', this.k.counter(name), delta);
    this.counter(name).delta += delta;
    const a = new Assigned();
    this.assigned.set(a, this.assigned.size);
    return a;
  }

  /** After the commit: the INCRBY results, in the order of the increments. */
  resolveAssigned(incrs: number[]): void {
    for (const [a, i] of this.assigned) a.resolve(incrs[i]!);
  }

  async setCounter(name: string, value: number): Promise<void> {
    this.write('set', this.k.counter(name), String(value));
    this.counters.set(name, { set: value, delta: 0 });
  }

  async getSetting(): Promise<Format | undefined> {
    const v = await this.getStr(this.k.setting);
    return v ? (JSON.parse(v.toString()) as Format) : undefined;
  }

  async setSetting(format: Format): Promise<void> {
    this.putStr(this.k.setting, Buffer.from(JSON.stringify(format)));
  }

  // ---- sessions, queues, locks (queues are read unchecked: background work re-checks what it takes) ----

  async addSession(sid: number, info: SessionInfo): Promise<void> {
    this.write('zadd', this.k.sessions, info.heartbeat, sid);
    this.write('hset', this.k.sessionInfo, sid, JSON.stringify(info));
  }

  async updateSession(sid: number, heartbeat: number): Promise<void> {
    this.write('zaddxx', this.k.sessions, heartbeat, sid);
  }

  async delSession(sid: number): Promise<void> {
    this.write('zrem', this.k.sessions, sid);
    this.write('hdel', this.k.sessionInfo, sid);
    // BaseMeta releases what a session holds first; whatever it opened meanwhile goes with it here.
    for (const ino of await this.listSustained(sid)) this.hset(this.k.holders(ino), String(sid), null);
    this.write('del', this.k.sustained(sid));
  }

  async listSessions(): Promise<SessionInfo[]> {
    const beats: Buffer[] = (await this.c.call('ZRANGE', this.k.sessions, 0, -1, 'WITHSCORES')).flat();
    if (!beats.length) return [];
    const sids = beats.filter((_, i) => i % 2 === 0).map((b) => b.toString());
    const infos: Array<Buffer | null> = await this.c.call('HMGET', this.k.sessionInfo, ...sids);
    const out: SessionInfo[] = [];
    sids.forEach((sid, i) => {
      const info = infos[i];
      if (!info) return;
      out.push({ ...(JSON.parse(info.toString()) as SessionInfo), sid: Number(sid), heartbeat: Number(beats[2 * i + 1]!.toString()) });
    });
    return out.sort((a, b) => a.sid - b.sid);
  }

  async addSustained(sid: number, ino: number): Promise<void> {
    this.write('sadd', this.k.sustained(sid), ino);
    this.hset(this.k.holders(ino), String(sid), '1');
  }

  async delSustained(sid: number, ino: number): Promise<void> {
    this.write('srem', this.k.sustained(sid), ino);
    this.hset(this.k.holders(ino), String(sid), null);
  }

  async listSustainedBy(ino: number): Promise<number[]> {
    return [...(await this.hgetall(this.k.holders(ino))).keys()].map(Number);
  }

  async listSustained(sid: number): Promise<number[]> {
    const r: Buffer[] = await this.c.call('SMEMBERS', this.k.sustained(sid));
    return r.map((b) => Number(b.toString()));
  }

  async addDelFile(ino: number, length: number): Promise<void> {
    this.write('zaddnx', this.k.delFiles, Date.now(), ino);
    this.write('hset', this.k.delFileLength, ino, length);
  }

  async delDelFile(ino: number): Promise<void> {
    this.write('zrem', this.k.delFiles, ino);
    this.write('hdel', this.k.delFileLength, ino);
  }

  async listDelFiles(limit: number): Promise<Array<{ ino: number; length: number }>> {
    const inos: Buffer[] = await this.c.call('ZRANGE', this.k.delFiles, 0, Math.floor(limit) - 1);
    if (!inos.length) return [];
    const lens: Array<Buffer | null> = await this.c.call('HMGET', this.k.delFileLength, ...inos);
    return inos.map((b, i) => ({ ino: Number(b.toString()), length: Number(lens[i]?.toString() ?? 0) }));
  }

  async addTtlIndex(rule: number, ino: number, mtime: number, at?: { parent: number; name: string }): Promise<void> {
    this.write('zadd', this.k.ttl(rule), mtime, ino);
    if (at) this.write('hset', this.k.ttlAt(rule), ino, `${at.parent}/${at.name}`);
  }

  async delTtlIndex(rule: number, ino: number): Promise<void> {
    this.write('zrem', this.k.ttl(rule), ino);
    this.write('hdel', this.k.ttlAt(rule), ino);
  }

  async scanTtlIndex(rule: number, upTo: number, skip: number, limit: number): Promise<TtlIndexRow[]> {
    // RESP3 replies WITHSCORES as pairs, RESP2 flat: flatten both.
    const r: Buffer[] = (await this.c.call('ZRANGEBYSCORE', this.k.ttl(rule), '-inf', upTo, 'WITHSCORES', 'LIMIT', Math.floor(skip), Math.floor(limit))).flat();
    if (!r.length) return [];
    const inos = r.filter((_, i) => i % 2 === 0);
    const ats: Array<Buffer | null> = await this.c.call('HMGET', this.k.ttlAt(rule), ...inos);
    return inos.map((b, i) => {
      const at = ats[i]?.toString() ?? '0/';
      const slash = at.indexOf('/');
      return { ino: Number(b.toString()), mtime: Number(r[2 * i + 1]!.toString()), parent: Number(at.slice(0, slash)), name: at.slice(slash + 1) };
    });
  }

  async clearTtlIndex(rule: number): Promise<void> {
    this.write('del', this.k.ttl(rule));
    this.write('del', this.k.ttlAt(rule));
  }

  async addDelSlice(id: number, size: number): Promise<void> {
    this.write('zaddnx', this.k.delSlices, Date.now(), id);
    this.write('hset', this.k.delSliceSize, id, size);
  }

  async listDelSlices(limit: number): Promise<DeletedSlice[]> {
    const ids: Buffer[] = await this.c.call('ZRANGE', this.k.delSlices, 0, Math.floor(limit) - 1);
    if (!ids.length) return [];
    const sizes: Array<Buffer | null> = await this.c.call('HMGET', this.k.delSliceSize, ...ids);
    return ids.map((b, i) => ({ id: Number(b.toString()), size: Number(sizes[i]?.toString() ?? 0) }));
  }

  async delDelSlices(ids: number[]): Promise<void> {
    for (const id of ids) {
      this.write('zrem', this.k.delSlices, id);
      this.write('hdel', this.k.delSliceSize, id);
    }
  }

  private static lockRows(h: Map<string, Buffer>): Array<{ sid: number; owner: string; value: Buffer }> {
    return [...h].map(([f, value]) => {
      const colon = f.indexOf(':');
      return { sid: Number(f.slice(0, colon)), owner: f.slice(colon + 1), value };
    });
  }

  async getFlocks(ino: number): Promise<FlockRow[]> {
    return RedisTx.lockRows(await this.hgetall(this.k.flock(ino))).map((r) => ({ sid: r.sid, owner: r.owner, type: Number(r.value.toString()) }));
  }

  async setFlock(ino: number, sid: number, owner: string, type: number | null): Promise<void> {
    this.hset(this.k.flock(ino), `${sid}:${owner}`, type === null ? null : String(type));
    if (type !== null) this.write('sadd', this.k.locked(sid), ino);
  }

  async getPlocks(ino: number): Promise<PlockRow[]> {
    return RedisTx.lockRows(await this.hgetall(this.k.plock(ino))).map((r) => ({ sid: r.sid, owner: r.owner, records: r.value }));
  }

  async setPlock(ino: number, sid: number, owner: string, records: Buffer | null): Promise<void> {
    this.hset(this.k.plock(ino), `${sid}:${owner}`, records);
    if (records !== null) this.write('sadd', this.k.locked(sid), ino);
  }

  async delSessionLocks(sid: number): Promise<void> {
    const key = this.k.locked(sid);
    const inos: Buffer[] = await this.c.call('SMEMBERS', key);
    this.check('smem', key, ...inos);
    for (const b of inos) {
      const ino = Number(b.toString());
      for (const lk of [this.k.flock(ino), this.k.plock(ino)]) {
        for (const f of await this.hkeys(lk)) if (f.startsWith(`${sid}:`)) this.hset(lk, f, null);
      }
    }
    this.write('del', key);
  }

  async appendChangelog(version: Assigned, op: string, ts: number, mutations: readonly RecordedMutation[]): Promise<void> {
    const holeOf = (a: Assigned) => {
      const i = this.assigned.get(a);
      if (i === undefined) throw fsErr('EIO', 'changelog record holds a value this transaction did not increment');
      return i;
    };
    const at = version.known ? ['', version.value] : [holeOf(version), ''];
    this.write('clog', this.k.changelog, ...at, ...payloadPieces(ts, op, mutations, holeOf));
  }

  // ---- scans (scan.ts): plain reads, never checks ----

  scanInodes(cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>> {
    return scans.scanInodes(this.c, cursor, limit);
  }

  scanEntries(cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>> {
    return scans.scanEntries(this.c, cursor, limit);
  }

  scanChunks(cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>> {
    return scans.scanChunks(this.c, cursor, limit);
  }

  scanSliceRefs(cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>> {
    return scans.scanSliceRefs(this.c, cursor, limit);
  }

  scanSymlinks(cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>> {
    return scans.scanSymlinks(this.c, cursor, limit);
  }

  scanXattrs(cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>> {
    return scans.scanXattrs(this.c, cursor, limit);
  }

  scanParents(cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>> {
    return scans.scanParents(this.c, cursor, limit);
  }
}
