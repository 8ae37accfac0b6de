// Tx primitives on etcd as an optimistic transaction (as JuiceFS's TKV layer over etcd). Every read of a
// transaction is taken at one revision, the first read's, so the transaction sees one snapshot; each key read
// is remembered with its mod revision, each range with the keys it returned. Writes are buffered in an
// overlay that later reads see. The engine (engine.ts) commits with one etcd Txn: compare every mod revision
// read (and that no key appeared in a range read), then apply the writes; a failed compare reruns the
// transaction. Counter increments are blind (the engine fetches the counter at commit and retries only the
// commit when it alone moved), so writers never conflict on the version counter.
import type { IKeyValue, IRangeRequest, IRangeResponse } from 'etcd3';
import { fsErr } from '../../../errors.js';
import { Assigned, type RecordedMutation } from '../../assigned.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from '../../scan.js';
import { decodeSlices, encodeSlice, encodeSlices, SLICE_BYTES } from '../../slices.js';
import type { FlockRow, PlockRow, Tx } from '../../tx.js';
import type { Attr, DeletedSlice, Entry, FileType, Format, SessionInfo, Slice, TtlIndexRow } from '../../types.js';
import { BLIND_COUNTERS, decodeAttr, encodeAttr } from '../redis/keys.js';
import { decodeEntry, encodeEntry, type Keys, prefixEnd } from './keys.js';

/** What the transaction needs from its engine. */
export interface EtcdConn {
  readonly keys: Keys;
  /** A range read, retried while the cluster elects a leader. */
  range(req: IRangeRequest): Promise<IRangeResponse>;
  /** Several range reads in one request (one read-only Txn). */
  rangeMany(reqs: IRangeRequest[]): Promise<IRangeResponse[]>;
}

/** Reads per request when many keys are wanted at once (etcd's default --max-txn-ops is 128). */
const MANY = 128;

/** Map keys: a key's bytes as a latin1 string (compares bytewise, converts back losslessly). */
const str = (b: Buffer) => b.toString('latin1');
const buf = (s: string) => Buffer.from(s, 'latin1');
const EMPTY = Buffer.alloc(0);

interface CounterState {
  /** Value read (checked unless the counter is blind). */
  base?: number;
  /** Value set in this transaction. */
  set?: number;
  delta: number;
  /** Increments not resolved yet, each with the counter's delta up to and including it. */
  pending: Array<{ a: Assigned; upTo: number }>;
}

export interface RangeCheck {
  start: Buffer;
  end: Buffer;
}

function typeOnly(type: FileType): Attr {
  return {
    type, mode: 0, uid: 0, gid: 0, atime: 0, atimensec: 0, mtime: 0, mtimensec: 0, ctime: 0, ctimensec: 0,
    nlink: 0, length: 0, rdev: 0, parent: 0, flags: 0,
  };
}

export class EtcdTx implements Tx {
  /** The revision every read is taken at (set by the first read). */
  rev?: string;
  /** Keys read -> mod revision then ('0': absent). */
  readonly reads = new Map<string, string>();
  /** Ranges read: no key in them may be modified or created after `rev`. */
  readonly rangeChecks: RangeCheck[] = [];
  /** The overlay: key -> new value, null = deleted. */
  readonly writes = new Map<string, Buffer | null>();
  readonly counters = new Map<string, CounterState>();
  readonly logs: Array<{ version: Assigned; op: string; ts: number; mutations: readonly RecordedMutation[] }> = [];
  private readonly values = new Map<string, Buffer | null>();
  private readonly k: Keys;

  constructor(private readonly c: EtcdConn, readonly writable: boolean) {
    this.k = c.keys;
  }

  get hasWrites(): boolean {
    return this.writes.size > 0 || this.logs.length > 0 || [...this.counters.values()].some((s) => s.pending.length > 0);
  }

  private async rangeAt(req: IRangeRequest): Promise<IRangeResponse> {
    const r = await this.c.range(this.rev === undefined ? req : { ...req, revision: this.rev });
    this.rev ??= r.header.revision;
    return r;
  }

  // ---- the overlay ----

  /** One key's value (this transaction's writes first); checked at commit unless `check` is false. */
  private async get(key: Buffer, check = true): Promise<Buffer | null> {
    const s = str(key);
    if (this.writes.has(s)) return this.writes.get(s)!;
    if (this.values.has(s)) return this.values.get(s)!;
    const r = await this.rangeAt({ key });
    const kv = r.kvs[0];
    const v = kv ? kv.value : null;
    this.values.set(s, v);
    if (check && this.writable) this.reads.set(s, kv ? kv.mod_revision : '0');
    return v;
  }

  /** Several keys' values, checked at commit like get(): a few requests instead of one per key. */
  private async getMany(keys: Buffer[]): Promise<Array<Buffer | null>> {
    const want = [...new Set(keys.map(str).filter((s) => !this.writes.has(s) && !this.values.has(s)))];
    if (this.rev === undefined && want.length) await this.get(buf(want.shift()!));
    for (let i = 0; i < want.length; i += MANY) {
      const part = want.slice(i, i + MANY);
      const rs = await this.c.rangeMany(part.map((s) => ({ key: buf(s), revision: this.rev })));
      rs.forEach((r, j) => {
        const kv = r.kvs[0];
        this.values.set(part[j]!, kv ? kv.value : null);
        if (this.writable) this.reads.set(part[j]!, kv ? kv.mod_revision : '0');
      });
    }
    return keys.map((k) => {
      const s = str(k);
      return this.writes.has(s) ? this.writes.get(s)! : this.values.get(s)!;
    });
  }

  private put(key: Buffer, v: Buffer | null): void {
    if (!this.writable) throw fsErr('EROFS', 'write in a read-only transaction');
    this.writes.set(str(key), v);
  }

  /**
   * Keys in [start, end) in order, this transaction's writes merged in: at most `limit` (0: all). With
   * `check`, the commit fails if any key of the part read changed or appeared, or a key returned went.
   */
  private async range(start: Buffer, end: Buffer, limit = 0, check = true, keysOnly = false): Promise<Array<[Buffer, Buffer]>> {
    const lo = str(start);
    const hi = str(end);
    const mine: Array<[string, Buffer | null]> = [];
    for (const [k, v] of this.writes) if (k >= lo && k < hi) mine.push([k, v]);
    const gone = mine.filter(([, v]) => v === null).length;
    const ask = limit > 0 ? limit + gone : 0;
    const r = await this.rangeAt({ key: start, range_end: end, limit: ask, keys_only: keysOnly });
    const merged = new Map<string, Buffer>();
    for (const kv of r.kvs as IKeyValue[]) merged.set(str(kv.key), kv.value ?? EMPTY);
    const covered = r.more && r.kvs.length ? str(r.kvs[r.kvs.length - 1]!.key) + '\0' : hi;
    for (const [k, v] of mine) {
      if (k >= covered) continue;
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    if (check && this.writable) {
      this.rangeChecks.push({ start, end: buf(covered) });
      for (const kv of r.kvs) if (!this.reads.has(str(kv.key))) this.reads.set(str(kv.key), kv.mod_revision);
    }
    const out = [...merged].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [buf(k), v] as [Buffer, Buffer]);
    return limit > 0 ? out.slice(0, limit) : out;
  }

  private prefixed(p: Buffer, limit = 0, check = true, keysOnly = false): Promise<Array<[Buffer, Buffer]>> {
    return this.range(p, prefixEnd(p), limit, check, keysOnly);
  }

  // ---- inodes and entries ----

  async getAttr(ino: number): Promise<Attr | undefined> {
    const v = await this.get(this.k.attr(ino));
    return v ? decodeAttr(v) : undefined;
  }

  async setAttr(ino: number, attr: Attr): Promise<void> {
    this.put(this.k.attr(ino), encodeAttr(attr));
  }

  async delAttr(ino: number): Promise<void> {
    this.put(this.k.attr(ino), null);
  }

  async getEntry(parent: number, name: string): Promise<{ inode: number; type: FileType } | undefined> {
    const v = await this.get(this.k.entry(parent, name));
    return v ? decodeEntry(v) : undefined;
  }

  async lookup(parent: number, name: string): Promise<{ inode: number; attr: Attr } | undefined> {
    const e = await this.getEntry(parent, name);
    const attr = e && (await this.getAttr(e.inode));
    return e && attr ? { inode: e.inode, attr } : undefined;
  }

  async setEntry(parent: number, name: string, ino: number, type: FileType): Promise<void> {
    this.put(this.k.entry(parent, name), encodeEntry(ino, type));
  }

  async delEntry(parent: number, name: string): Promise<void> {
    this.put(this.k.entry(parent, name), null);
  }

  async listEntries(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<Entry[]> {
    const dir = this.k.dir(parent);
    const start = after === undefined ? dir : Buffer.concat([this.k.entry(parent, after), Buffer.from([0])]);
    if (limit <= 0) return [];
    const n = Number.isFinite(limit) && limit < 2 ** 31 ? Math.max(1, Math.floor(limit)) : 0;
    const rows = (await this.range(start, prefixEnd(dir), n)).map(([key, v]) => ({ name: this.k.rest(key, 8), ...decodeEntry(v) }));
    const attrs = plus ? await this.getMany(rows.map((e) => this.k.attr(e.inode))) : [];
    return rows.map((e, i) => ({ name: e.name, inode: e.inode, attr: attrs[i] ? decodeAttr(attrs[i]!) : typeOnly(e.type) }));
  }

  async hasEntries(parent: number): Promise<boolean> {
    return (await this.prefixed(this.k.dir(parent), 1, true, true)).length > 0;
  }

  // ---- symlinks, xattrs, hard-link parents ----

  async getSymlink(ino: number): Promise<string | undefined> {
    return (await this.get(this.k.symlink(ino)))?.toString();
  }

  async setSymlink(ino: number, target: string): Promise<void> {
    this.put(this.k.symlink(ino), Buffer.from(target));
  }

  async delSymlink(ino: number): Promise<void> {
    this.put(this.k.symlink(ino), null);
  }

  async getXattr(ino: number, name: string): Promise<Buffer | undefined> {
    return (await this.get(this.k.xattr(ino, name))) ?? undefined;
  }

  async setXattr(ino: number, name: string, value: Buffer): Promise<void> {
    this.put(this.k.xattr(ino, name), value);
  }

  async delXattr(ino: number, name: string): Promise<boolean> {
    const key = this.k.xattr(ino, name);
    if (!(await this.get(key))) return false;
    this.put(key, null);
    return true;
  }

  async listXattr(ino: number): Promise<string[]> {
    return (await this.prefixed(this.k.xattrs(ino), 0, true, true)).map(([key]) => this.k.rest(key, 8));
  }

  async addParent(ino: number, parent: number, delta: number): Promise<void> {
    const key = this.k.parent(ino, parent);
    const n = Number((await this.get(key))?.toString() ?? 0) + delta;
    this.put(key, n > 0 ? Buffer.from(String(n)) : null);
  }

  async listParents(ino: number): Promise<Array<{ parent: number; count: number }>> {
    return (await this.prefixed(this.k.parents(ino))).map(([key, v]) => ({ parent: this.k.num(key, 8), count: Number(v.toString()) }));
  }

  // ---- chunks and slices ----

  async getChunk(ino: number, indx: number): Promise<Slice[]> {
    return decodeSlices(await this.get(this.k.chunk(ino, indx)));
  }

  /** Writes a chunk's records and moves its row in the fragment index. */
  private putChunk(ino: number, indx: number, old: Buffer | null, content: Buffer | null): void {
    const before = (old?.length ?? 0) / SLICE_BYTES;
    const after = (content?.length ?? 0) / SLICE_BYTES;
    this.put(this.k.chunk(ino, indx), content);
    if (before !== after && before > 0) this.put(this.k.fragment(before, ino, indx), null);
    if (after > 0) this.put(this.k.fragment(after, ino, indx), EMPTY);
  }

  async appendSlice(ino: number, indx: number, slice: Slice): Promise<number> {
    const old = await this.get(this.k.chunk(ino, indx));
    const content = Buffer.concat([old ?? EMPTY, encodeSlice(slice)]);
    this.putChunk(ino, indx, old, content);
    return content.length / SLICE_BYTES;
  }

  async setChunk(ino: number, indx: number, slices: Slice[]): Promise<void> {
    const old = await this.get(this.k.chunk(ino, indx));
    this.putChunk(ino, indx, old, slices.length ? encodeSlices(slices) : null);
  }

  async listChunkIndexes(ino: number, from: number): Promise<number[]> {
    const start = this.k.chunk(ino, Math.max(0, from));
    const rows = await this.range(start, prefixEnd(this.k.chunks(ino)), 0, true, true);
    return rows.map(([key]) => this.k.num32(key, 8));
  }

  async listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>> {
    const rows = await this.range(this.k.kind('G'), prefixEnd(this.k.fragmentsFrom(minSlices)), Math.floor(limit), false, true);
    return rows.map(([key]) => ({ ino: this.k.num(key, 4), indx: this.k.num32(key, 12), count: this.k.fragmentCount(key) }));
  }

  async addSliceRef(id: number, size: number, delta: number): Promise<number> {
    const key = this.k.sliceRef(id);
    const [had, hadSize] = ((await this.get(key))?.toString() ?? '0 0').split(' ').map(Number) as [number, number];
    const refs = had + delta;
    this.put(key, refs > 0 ? Buffer.from(`${refs} ${had > 0 ? hadSize : size}`) : null);
    return refs;
  }

  // ---- counters and setting ----

  private counter(name: string): CounterState {
    let st = this.counters.get(name);
    if (!st) this.counters.set(name, (st = { delta: 0, pending: [] }));
    return st;
  }

  async getCounter(name: string): Promise<number> {
    const st = this.counter(name);
    if (st.set !== undefined) return st.set + st.delta;
    if (st.base === undefined) {
      // Blind counters are read as "a recent value" (quota checks); the others exactly.
      const v = await this.get(this.k.counter(name), !BLIND_COUNTERS.has(name));
      st.base = Number(v?.toString() ?? 0);
    }
    return st.base + st.delta;
  }

  /** Blind unless the counter was read exactly: the engine assigns the value at commit. */
  async incrCounter(name: string, delta: number): Promise<Assigned> {
    if (!this.writable) throw fsErr('EROFS', 'write in a read-only transaction');
    const st = this.counter(name);
    st.delta += delta;
    const a = new Assigned();
    const exact = st.set !== undefined || (st.base !== undefined && this.reads.has(str(this.k.counter(name))));
    if (exact) {
      a.resolve((st.set ?? st.base!) + st.delta);
      this.put(this.k.counter(name), Buffer.from(String(a.value)));
    } else st.pending.push({ a, upTo: st.delta });
    return a;
  }

  async setCounter(name: string, value: number): Promise<void> {
    this.put(this.k.counter(name), Buffer.from(String(value)));
    this.counters.set(name, { set: value, delta: 0, pending: [] });
  }

  async getSetting(): Promise<Format | undefined> {
    const v = await this.get(this.k.setting());
    return v ? (JSON.parse(v.toString()) as Format) : undefined;
  }

  async setSetting(format: Format): Promise<void> {
    this.put(this.k.setting(), Buffer.from(JSON.stringify(format)));
  }

  // ---- sessions, queues, locks (queues are read unchecked: background work re-checks what it takes) ----

  async addSession(sid: number, info: SessionInfo): Promise<void> {
    this.put(this.k.session(sid), Buffer.from(JSON.stringify({ ...info, sid })));
  }

  async updateSession(sid: number, heartbeat: number): Promise<void> {
    const key = this.k.session(sid);
    const v = await this.get(key);
    if (v) this.put(key, Buffer.from(JSON.stringify({ ...(JSON.parse(v.toString()) as SessionInfo), heartbeat })));
  }

  async delSession(sid: number): Promise<void> {
    this.put(this.k.session(sid), null);
    // BaseMeta releases what a session holds first; whatever it opened meanwhile goes with it here.
    for (const ino of await this.listSustained(sid)) await this.delSustained(sid, ino);
  }

  async listSessions(): Promise<SessionInfo[]> {
    const rows = await this.prefixed(this.k.kind('E'), 0, false);
    return rows.map(([key, v]) => ({ ...(JSON.parse(v.toString()) as SessionInfo), sid: this.k.num(key, 0) }));
  }

  async addSustained(sid: number, ino: number): Promise<void> {
    this.put(this.k.sustained(sid, ino), EMPTY);
    this.put(this.k.holder(ino, sid), EMPTY);
  }

  async delSustained(sid: number, ino: number): Promise<void> {
    this.put(this.k.sustained(sid, ino), null);
    this.put(this.k.holder(ino, sid), null);
  }

  async listSustained(sid: number): Promise<number[]> {
    return (await this.prefixed(this.k.sustainedOf(sid), 0, false, true)).map(([key]) => this.k.num(key, 8));
  }

  async listSustainedBy(ino: number): Promise<number[]> {
    return (await this.prefixed(this.k.holders(ino), 0, true, true)).map(([key]) => this.k.num(key, 8));
  }

  async addDelFile(ino: number, length: number): Promise<void> {
    this.put(this.k.delFile(ino), Buffer.from(String(length)));
  }

  async delDelFile(ino: number): Promise<void> {
    this.put(this.k.delFile(ino), null);
  }

  async listDelFiles(limit: number): Promise<Array<{ ino: number; length: number }>> {
    const rows = await this.prefixed(this.k.kind('Q'), Math.max(1, Math.floor(limit)), false);
    return rows.map(([key, v]) => ({ ino: this.k.num(key, 0), length: Number(v.toString()) }));
  }

  async addDelSlice(id: number, size: number): Promise<void> {
    this.put(this.k.delSlice(id), Buffer.from(String(size)));
  }

  async listDelSlices(limit: number): Promise<DeletedSlice[]> {
    const rows = await this.prefixed(this.k.kind('Z'), Math.max(1, Math.floor(limit)), false);
    return rows.map(([key, v]) => ({ id: this.k.num(key, 0), size: Number(v.toString()) }));
  }

  async delDelSlices(ids: number[]): Promise<void> {
    for (const id of ids) this.put(this.k.delSlice(id), null);
  }

  async addTtlIndex(rule: number, ino: number, mtime: number, at?: { parent: number; name: string }): Promise<void> {
    const atKey = this.k.ttlAt(rule, ino);
    const old = await this.get(atKey);
    const prev = old ? (JSON.parse(old.toString()) as { mtime: number; at: string }) : undefined;
    if (prev) this.put(this.k.ttl(rule, prev.mtime, ino), null);
    const place = at ? `${at.parent}/${at.name}` : (prev?.at ?? '0/');
    this.put(this.k.ttl(rule, mtime, ino), Buffer.from(place));
    this.put(atKey, Buffer.from(JSON.stringify({ mtime, at: place })));
  }

  async delTtlIndex(rule: number, ino: number): Promise<void> {
    const atKey = this.k.ttlAt(rule, ino);
    const old = await this.get(atKey);
    if (!old) return;
    this.put(this.k.ttl(rule, (JSON.parse(old.toString()) as { mtime: number }).mtime, ino), null);
    this.put(atKey, null);
  }

  async scanTtlIndex(rule: number, upTo: number, skip: number, limit: number): Promise<TtlIndexRow[]> {
    const rows = await this.range(this.k.ttlRule(rule), this.k.ttlUpTo(rule, upTo), Math.floor(skip) + Math.floor(limit), false);
    return rows.slice(Math.floor(skip)).map(([key, v]) => {
      const at = v.toString();
      const slash = at.indexOf('/');
      return { ino: this.k.num(key, 16), mtime: this.k.ttlMtime(key), parent: Number(at.slice(0, slash)), name: at.slice(slash + 1) };
    });
  }

  async clearTtlIndex(rule: number): Promise<void> {
    for (const p of [this.k.ttlRule(rule), this.k.ttlAtRule(rule)]) {
      for (const [key] of await this.prefixed(p, 0, false, true)) this.put(key, null);
    }
  }

  private lockRows(rows: Array<[Buffer, Buffer]>): Array<{ sid: number; owner: string; value: Buffer }> {
    return rows.map(([key, value]) => ({ sid: this.k.num(key, 8), owner: this.k.rest(key, 16), value }));
  }

  async getFlocks(ino: number): Promise<FlockRow[]> {
    const rows = this.lockRows(await this.prefixed(this.k.flocks(ino)));
    return rows.map((r) => ({ sid: r.sid, owner: r.owner, type: Number(r.value.toString()) }));
  }

  async setFlock(ino: number, sid: number, owner: string, type: number | null): Promise<void> {
    this.put(this.k.flock(ino, sid, owner), type === null ? null : Buffer.from(String(type)));
    if (type !== null) this.put(this.k.locked(sid, ino), EMPTY);
  }

  async getPlocks(ino: number): Promise<PlockRow[]> {
    const rows = this.lockRows(await this.prefixed(this.k.plocks(ino)));
    return rows.map((r) => ({ sid: r.sid, owner: r.owner, records: r.value }));
  }

  async setPlock(ino: number, sid: number, owner: string, records: Buffer | null): Promise<void> {
    this.put(this.k.plock(ino, sid, owner), records);
    if (records !== null) this.put(this.k.locked(sid, ino), EMPTY);
  }

  async delSessionLocks(sid: number): Promise<void> {
    for (const [lk] of await this.prefixed(this.k.lockedBy(sid), 0, true, true)) {
      const ino = this.k.num(lk, 8);
      for (const mine of [this.k.flocksOf(ino, sid), this.k.plocksOf(ino, sid)]) {
        for (const [key] of await this.prefixed(mine, 0, true, true)) this.put(key, null);
      }
      this.put(lk, null);
    }
  }

  async appendChangelog(version: Assigned, op: string, ts: number, mutations: readonly RecordedMutation[]): Promise<void> {
    if (!this.writable) throw fsErr('EROFS', 'write in a read-only transaction');
    this.logs.push({ version, op, ts, mutations });
  }

  // ---- scans: key order, the cursor is the last key returned (hex); plain reads, never checks ----

  private async scan<R>(letter: string, cursor: string | undefined, limit: number, row: (key: Buffer, v: Buffer) => R): Promise<ScanPage<R>> {
    const kind = this.k.kind(letter);
    const start = cursor === undefined ? kind : Buffer.concat([Buffer.from(cursor, 'hex'), Buffer.from([0])]);
    const n = Math.max(1, Math.floor(limit));
    const r = await this.c.range({ key: start, range_end: prefixEnd(kind), limit: n });
    const rows = r.kvs.map((kv) => row(kv.key, kv.value));
    return { rows, next: r.more ? r.kvs[r.kvs.length - 1]!.key.toString('hex') : undefined };
  }

  scanInodes(cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>> {
    return this.scan('A', cursor, limit, (key, v) => ({ ino: this.k.num(key, 0), attr: decodeAttr(v) }));
  }

  scanEntries(cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>> {
    return this.scan('D', cursor, limit, (key, v) => {
      const e = decodeEntry(v);
      return { parent: this.k.num(key, 0), name: this.k.rest(key, 8), ino: e.inode, type: e.type };
    });
  }

  scanChunks(cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>> {
    return this.scan('C', cursor, limit, (key, v) => ({ ino: this.k.num(key, 0), indx: this.k.num32(key, 8), slices: decodeSlices(v) }));
  }

  scanSliceRefs(cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>> {
    return this.scan('R', cursor, limit, (key, v) => {
      const [refs, size] = v.toString().split(' ').map(Number) as [number, number];
      return { id: this.k.num(key, 0), size, refs };
    });
  }

  scanSymlinks(cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>> {
    return this.scan('S', cursor, limit, (key, v) => ({ ino: this.k.num(key, 0), target: v.toString() }));
  }

  scanXattrs(cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>> {
    return this.scan('X', cursor, limit, (key, v) => ({ ino: this.k.num(key, 0), name: this.k.rest(key, 8), value: Buffer.from(v) }));
  }

  scanParents(cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>> {
    return this.scan('P', cursor, limit, (key, v) => ({ ino: this.k.num(key, 0), parent: this.k.num(key, 8), count: Number(v.toString()) }));
  }
}

