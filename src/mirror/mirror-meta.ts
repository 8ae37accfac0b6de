// A mirror client's Meta: reads go to the near mirror engine, namespace writes go to the far source.
// After a write at source version v the call returns only once the mirror has v, so a client always
// reads its own writes; the writer replays its own record on the mirror when it is the next one
// (the common case), else it waits for the replicator — and past a timeout reads from the source.
import { FsError, fsErr } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import type { ScanKind, ScanOptions, ScanPage, ScanRows } from '../meta/scan.js';
import type { DumpCounters, DumpRow, LoadTotals } from '../meta/dump-format.js';
import type {
  Attr,
  FsckFix,
  AttrResult,
  ChangeRecord,
  Context,
  DeletedSlice,
  Entry,
  FileType,
  Format,
  LockRange,
  NodeResult,
  ReaddirOptions,
  SessionInfo,
  SessionOpenState,
  Slice,
  Snapshot,
  StatFs,
  Versioned,
  TrashItem,
  TrashPurgeResult,
  CloneOptions,
  CloneResult,
  QuotaCheck,
  QuotaInfo,
  QuotaLimits,
  TtlRule,
  TtlRunResult,
  WriteResult,
  RenameExpect,
  WalkResult,
} from '../meta/types.js';
import { APPLIED_COUNTER } from '../meta/base/core.js';
import type { MirrorOf } from './format.js';
import { waitForVersion } from './wait-client.js';

/** In a writable mirror client's session on the source: the id of its mirror session. */
const MIRROR_SESSION = 'mirrorSession';

export interface MirrorMetaOptions {
  /** How long a read waits for the mirror to reach a version this client knows of (default 5 s). */
  waitTimeoutMs?: number;
  log?: (msg: string) => void;
}

export class MirrorMeta implements Meta {
  /** The newest source version this client has produced. */
  private known = 0;
  /** The mirror's applied version as last seen. */
  private applied = 0;
  private warned = false;
  /** Opens counted on the mirror's engine (checked there), per inode: their closes release there too. */
  private readonly localOpens = new Map<number, number>();
  private readonly timeout: number;
  private readonly log: (msg: string) => void;

  constructor(readonly local: Meta, readonly source: Meta | undefined, readonly info: MirrorOf, opts: MirrorMetaOptions = {}) {
    this.timeout = opts.waitTimeoutMs ?? 5000;
    this.log = opts.log ?? ((m) => process.stderr.write(`ferry: ${m}\n`));
    if (source) source.keepRecords = true;
  }

  get url(): string {
    return this.local.url;
  }

  get engine(): string {
    return this.local.engine;
  }

  /** The mirror's session: the one `ferry status` of the mirror lists (the source's is registered lazily). */
  get sid(): number {
    return this.local.sid;
  }

  get keepRecords(): boolean {
    return false;
  }

  set keepRecords(_v: boolean) {}

  get writable(): boolean {
    return this.source !== undefined;
  }

  private src(): Meta {
    if (!this.source) {
      throw new FsError('EROFS', { message: 'read-only file system (a read-only mirror: write through the source or a writable mirror)' });
    }
    return this.source;
  }

  /** Waits until the mirror has applied v; false after the timeout. */
  async waitFor(v: number): Promise<boolean> {
    if (this.applied >= v) return true;
    this.applied = Math.max(this.applied, await this.local.getCounter(APPLIED_COUNTER));
    if (this.applied >= v) return true;
    this.applied = Math.max(this.applied, await waitForVersion(this.local, v, this.timeout));
    return this.applied >= v;
  }

  /** The engine a read should use: the mirror, unless it lags behind this client's own writes for too long. */
  private async reader(): Promise<Meta> {
    if (this.known <= this.applied || (await this.waitFor(this.known))) return this.local;
    if (!this.warned) {
      this.warned = true;
      this.log(`mirror ${this.local.url} is behind version ${this.known} after ${this.timeout} ms: reading from the source until it catches up`);
    }
    return this.src();
  }

  /** Runs a source write, then makes the mirror hold its result before returning. */
  private async write<T extends Versioned>(p: Promise<T>): Promise<T> {
    const r = await p;
    await this.settle(r.version, r.record);
    delete r.record;
    return r;
  }

  private async settle(v: number, rec?: ChangeRecord): Promise<void> {
    this.known = Math.max(this.known, v);
    if (this.applied >= v) return;
    if (rec) this.applied = Math.max(this.applied, await this.local.applyChangeRecord(rec));
    if (this.applied < v) await this.waitFor(v);
  }

  // ---- volume and sessions: the mirror's own ----

  init(format: Format, force?: boolean): Promise<void> {
    return this.local.init(format, force);
  }
  load(): Promise<Format> {
    return this.local.load();
  }
  updateFormat(update: Partial<Format> | ((old: Format) => Partial<Format>)): Promise<Format> {
    return this.local.updateFormat(update);
  }
  destroy(): Promise<void> {
    return this.local.destroy();
  }
  async close(): Promise<void> {
    await this.local.close();
    await this.source?.close();
  }
  /**
   * The mirror's session, and the mirror's applied version read with it: the first write then knows whether
   * its own record is the mirror's next one without asking. The source's session travels with this client's
   * first call there when the source can take it so (a ferry:// service): opening costs no far round trip.
   */
  async newSession(info: Partial<SessionInfo>): Promise<number> {
    const [sid, applied] = await Promise.all([this.local.newSession(info), this.local.getCounter(APPLIED_COUNTER)]);
    this.applied = Math.max(this.applied, applied);
    // The source's session names the mirror session it goes with (adoptSession, dropDeadSession find it so).
    const srcInfo = { ...info, [MIRROR_SESSION]: sid };
    if (this.source?.deferSession) this.source.deferSession(srcInfo);
    else await this.source?.newSession(srcInfo);
    return sid;
  }
  async heartbeat(): Promise<void> {
    await this.local.heartbeat();
    await this.source?.heartbeat();
  }
  async setSessionInfo(info: Partial<SessionInfo>): Promise<void> {
    await this.local.setSessionInfo(info);
    await this.source?.setSessionInfo(info);
  }
  async closeSession(): Promise<void> {
    await Promise.all([this.local.closeSession(), this.source?.closeSession()]);
  }
  listSessions(): Promise<SessionInfo[]> {
    return this.local.listSessions();
  }
  /** The source session that goes with mirror session sid (none before this client's first write there). */
  private async sourceSessionOf(sid: number): Promise<number | undefined> {
    return (await this.source!.listSessions()).find((x) => x[MIRROR_SESSION] === sid)?.sid;
  }
  /**
   * A mount handed over (docs/upgrade.md) continues both sessions of a writable mirror's client: sid is the
   * mirror's (the client's session id), the source's is the one that names it. A client that had not written
   * yet has no source session: this one registers it with its first write, as a new client would.
   */
  async adoptSession(sid: number, info: Partial<SessionInfo>, open: SessionOpenState): Promise<void> {
    if (!this.source) return this.local.adoptSession(sid, info, open);
    const srcSid = await this.sourceSessionOf(sid);
    const srcInfo = { ...info, [MIRROR_SESSION]: sid };
    await this.local.adoptSession(sid, info, open);
    if (srcSid !== undefined) await this.source.adoptSession(srcSid, srcInfo, open.source ?? { held: [], open: [] });
    else if (this.source.deferSession) this.source.deferSession(srcInfo);
    else await this.source.newSession(srcInfo);
    this.localOpens.clear();
    for (const [ino, n] of open.localOpens ?? []) this.localOpens.set(ino, n);
  }
  openState(): SessionOpenState {
    return { ...this.local.openState(), ...(this.source ? { source: this.source.openState() } : {}), localOpens: [...this.localOpens] };
  }
  restoreOpenState(open: SessionOpenState): void {
    this.local.restoreOpenState(open);
    this.source?.restoreOpenState(open.source ?? { held: [], open: [] });
    this.localOpens.clear();
    for (const [ino, n] of open.localOpens ?? []) this.localOpens.set(ino, n);
  }
  /** Both sessions of a dead process: its locks (the source's) and its open-file records (both). */
  async dropDeadSession(sid: number): Promise<boolean> {
    if (!this.source) return this.local.dropDeadSession(sid);
    const srcSid = await this.sourceSessionOf(sid);
    const loc = await this.local.dropDeadSession(sid);
    const src = srcSid !== undefined ? await this.source.dropDeadSession(srcSid) : false;
    return src || loc;
  }
  async cleanStaleSessions(maxAgeMs: number): Promise<number[]> {
    const gone = await this.local.cleanStaleSessions(maxAgeMs);
    return this.source ? [...gone, ...(await this.source.cleanStaleSessions(maxAgeMs))] : gone;
  }

  // ---- reads: the mirror ----

  async statfs(ctx: Context, ino?: number): Promise<StatFs> {
    return (await this.reader()).statfs(ctx, ino);
  }
  async access(ctx: Context, ino: number, mask: number, attr?: Attr): Promise<void> {
    return (await this.reader()).access(ctx, ino, mask, attr);
  }
  async lookup(ctx: Context, parent: number, name: string, checkPerm?: boolean): Promise<{ inode: number; attr: Attr }> {
    return (await this.reader()).lookup(ctx, parent, name, checkPerm);
  }
  async getattr(ctx: Context, ino: number): Promise<Attr> {
    return (await this.reader()).getattr(ctx, ino);
  }
  async readlink(ctx: Context, ino: number): Promise<string> {
    return (await this.reader()).readlink(ctx, ino);
  }
  async readdir(ctx: Context, ino: number, opts?: ReaddirOptions): Promise<Entry[]> {
    return (await this.reader()).readdir(ctx, ino, opts);
  }
  async resolve(ctx: Context, root: number, path: string): Promise<{ inode: number; attr: Attr }> {
    return (await this.reader()).resolve(ctx, root, path);
  }
  async walk(ctx: Context, parent: number, names: string[]): Promise<WalkResult> {
    return (await this.reader()).walk(ctx, parent, names);
  }
  async readChunk(ctx: Context, ino: number, indx: number): Promise<Slice[]> {
    return (await this.reader()).readChunk(ctx, ino, indx);
  }
  async getxattr(ctx: Context, ino: number, name: string): Promise<Buffer> {
    return (await this.reader()).getxattr(ctx, ino, name);
  }
  async listxattr(ctx: Context, ino: number): Promise<string[]> {
    return (await this.reader()).listxattr(ctx, ino);
  }

  // ---- open files: checked on the mirror, counted on the source too (deletion while open) ----

  async open(ctx: Context, ino: number, flags: number, attr?: Attr): Promise<Attr> {
    const reader = await this.reader();
    const a = await reader.open(ctx, ino, flags, attr);
    if (reader === this.local) this.localOpens.set(ino, (this.localOpens.get(ino) ?? 0) + 1);
    if (this.source) await this.source.open(ctx, ino, flags, a);
    return a;
  }
  async release(ctx: Context, ino: number): Promise<boolean> {
    const n = this.localOpens.get(ino) ?? 0;
    if (n > 1) this.localOpens.set(ino, n - 1);
    else this.localOpens.delete(ino);
    const freed = n > 0 ? await this.local.release(ctx, ino) : false;
    return this.source ? this.source.release(ctx, ino) : freed;
  }

  // ---- writes: the source, then wait for the mirror ----

  setattr(ctx: Context, ino: number, set: number, attr: Partial<Attr>): Promise<AttrResult> {
    return this.write(this.src().setattr(ctx, ino, set, attr));
  }
  mknod(ctx: Context, parent: number, name: string, type: FileType, mode: number, rdev?: number): Promise<NodeResult> {
    return this.write(this.src().mknod(ctx, parent, name, type, mode, rdev));
  }
  mkdir(ctx: Context, parent: number, name: string, mode: number): Promise<NodeResult> {
    return this.write(this.src().mkdir(ctx, parent, name, mode));
  }
  async create(ctx: Context, parent: number, name: string, mode: number, flags: number): Promise<NodeResult> {
    // Counted open on the source only (the create did): the mirror's copy holds nothing a close must release.
    return this.write(this.src().create(ctx, parent, name, mode, flags));
  }
  symlink(ctx: Context, parent: number, name: string, target: string): Promise<NodeResult> {
    return this.write(this.src().symlink(ctx, parent, name, target));
  }
  link(ctx: Context, ino: number, parent: number, name: string): Promise<AttrResult> {
    return this.write(this.src().link(ctx, ino, parent, name));
  }
  unlink(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number }> {
    return this.write(this.src().unlink(ctx, parent, name));
  }
  rmdir(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number }> {
    return this.write(this.src().rmdir(ctx, parent, name));
  }
  rename(ctx: Context, ps: number, ns: string, pd: number, nd: string, flags?: number, expect?: RenameExpect): Promise<NodeResult> {
    return this.write(this.src().rename(ctx, ps, ns, pd, nd, flags, expect));
  }
  newSliceId(): Promise<number> {
    return this.src().newSliceId();
  }
  writeSlice(ctx: Context, ino: number, indx: number, pos: number, slice: Omit<Slice, 'pos'>, mtime?: Date): Promise<WriteResult> {
    return this.write(this.src().writeSlice(ctx, ino, indx, pos, slice, mtime));
  }
  truncate(ctx: Context, ino: number, length: number): Promise<AttrResult> {
    return this.write(this.src().truncate(ctx, ino, length));
  }
  fallocate(ctx: Context, ino: number, mode: number, off: number, len: number): Promise<AttrResult> {
    return this.write(this.src().fallocate(ctx, ino, mode, off, len));
  }
  copyFileRange(ctx: Context, fin: number, offIn: number, fout: number, offOut: number, len: number): Promise<AttrResult & { copied: number }> {
    return this.write(this.src().copyFileRange(ctx, fin, offIn, fout, offOut, len));
  }
  setxattr(ctx: Context, ino: number, name: string, value: Buffer, flags?: number): Promise<Versioned> {
    return this.write(this.src().setxattr(ctx, ino, name, value, flags));
  }
  removexattr(ctx: Context, ino: number, name: string): Promise<Versioned> {
    return this.write(this.src().removexattr(ctx, ino, name));
  }

  // ---- locks are global: the source holds them (a read-only mirror's are local to it) ----

  flock(ctx: Context, ino: number, owner: string, type: number, block: boolean): Promise<void> {
    return (this.source ?? this.local).flock(ctx, ino, owner, type, block);
  }
  getlk(ctx: Context, ino: number, owner: string, lock: LockRange): Promise<LockRange | undefined> {
    return (this.source ?? this.local).getlk(ctx, ino, owner, lock);
  }
  setlk(ctx: Context, ino: number, owner: string, block: boolean, type: number, start: number, end: number, pid: number): Promise<void> {
    return (this.source ?? this.local).setlk(ctx, ino, owner, block, type, start, end, pid);
  }

  // ---- background work belongs to the source; a mirror never deletes the source's objects ----

  async replaceSlices(ino: number, indx: number, old: Slice[], merged: Slice): Promise<boolean> {
    if (!this.source) return false;
    const ok = await this.source.replaceSlices(ino, indx, old, merged);
    if (ok) await this.settle(await this.source.currentVersion());
    return ok;
  }
  async listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>> {
    return this.source ? this.source.listFragmentedChunks(minSlices, limit) : [];
  }
  async processDeletedFiles(limit: number): Promise<number> {
    return this.source ? this.source.processDeletedFiles(limit) : 0;
  }
  // Quotas are the source's: set and repaired there, read here from the replica's counters.
  async quotaSet(ctx: Context, path: string, limits: QuotaLimits): Promise<QuotaInfo> {
    const r = await this.src().quotaSet(ctx, path, limits);
    await this.settle(await this.src().currentVersion());
    return r;
  }
  async quotaGet(ctx: Context, path: string): Promise<QuotaInfo> {
    return this.src().quotaGet(ctx, path);
  }
  async quotaRoom(ctx: Context, ino: number): Promise<number | undefined> {
    return (await this.reader()).quotaRoom(ctx, ino);
  }
  async quotaList(): Promise<QuotaInfo[]> {
    return this.src().quotaList();
  }
  async quotaDelete(ctx: Context, path: string): Promise<void> {
    await this.src().quotaDelete(ctx, path);
    await this.settle(await this.src().currentVersion());
  }
  async quotaCheck(ctx: Context, opts?: { path?: string; repair?: boolean }): Promise<QuotaCheck[]> {
    const r = await this.src().quotaCheck(ctx, opts);
    await this.settle(await this.src().currentVersion());
    return r;
  }
  async trashList(): Promise<TrashItem[]> {
    return (await this.reader()).trashList();
  }
  trashRestore(ctx: Context, id: string, opts?: { force?: boolean; into?: number }): Promise<Versioned & { inode: number }> {
    return this.write(this.src().trashRestore(ctx, id, opts));
  }
  clone(ctx: Context, src: number, dstParent: number, dstName: string, opts?: CloneOptions): Promise<CloneResult> {
    return this.write(this.src().clone(ctx, src, dstParent, dstName, opts));
  }
  async trashPurge(opts?: { before?: number }): Promise<TrashPurgeResult> {
    const r = await this.src().trashPurge(opts);
    await this.settle(await this.src().currentVersion());
    return r;
  }
  /** The source's clients (and a writable mirror's, through the source's lease) purge; a read-only mirror never does. */
  async trashPurgeExpired(now?: number): Promise<TrashPurgeResult | undefined> {
    return this.source ? this.source.trashPurgeExpired(now) : undefined;
  }
  /** None, as pendingDeletedSlices: the source frees its deleted files. */
  async pendingDeletedFiles(_limit: number): Promise<Array<{ ino: number; length: number }>> {
    return [];
  }
  async ttlList(): Promise<TtlRule[]> {
    return (await this.reader()).ttlList();
  }
  ttlSet(path: string, days: number): Promise<TtlRule & { indexed: number }> {
    return this.src().ttlSet(path, days);
  }
  ttlDelete(path: string): Promise<TtlRule> {
    return this.src().ttlDelete(path);
  }
  /** Expiry runs on the source, which keeps the TTL index (a mirror replays no index rows). */
  async ttlExpire(now?: number): Promise<TtlRunResult> {
    const r = await this.src().ttlExpire(now);
    await this.settle(await this.src().currentVersion());
    return r;
  }
  async ttlExpireDue(now?: number): Promise<TtlRunResult | undefined> {
    return this.source ? this.source.ttlExpireDue(now) : undefined;
  }
  /** None: the source's own clients delete its queued blocks; a mirror never deletes in its store. */
  async pendingDeletedSlices(_limit: number): Promise<DeletedSlice[]> {
    return [];
  }
  async ackDeletedSlices(ids: number[]): Promise<void> {
    await this.source?.ackDeletedSlices(ids);
  }
  /** Open files are the source's bookkeeping. */
  openHolders(ino: number): Promise<number[]> {
    return (this.source ?? this.local).openHolders(ino);
  }
  /** A mirror is repaired by repairing its source (the fix then replicates). */
  fsckRepair(fix: FsckFix): Promise<boolean> {
    return this.src().fsckRepair(fix);
  }

  // ---- versions: the mirror's ----

  getCounter(name: string): Promise<number> {
    return this.local.getCounter(name);
  }
  /** A mirror runs no volume-wide periodic job of its own (metadata backups are the source's clients'). */
  async takeLease(_name: string, _ms: number): Promise<boolean> {
    return false;
  }
  currentVersion(): Promise<number> {
    return this.local.currentVersion();
  }
  readChangelog(from: number, limit?: number): Promise<ChangeRecord[]> {
    return this.local.readChangelog(from, limit);
  }
  trimChangelog(upTo: number): Promise<number> {
    return this.local.trimChangelog(upTo);
  }
  applyChangeRecord(rec: ChangeRecord): Promise<number> {
    return this.local.applyChangeRecord(rec);
  }
  exportSnapshot(opts?: { batch?: number }): Promise<Snapshot> {
    return this.local.exportSnapshot(opts);
  }

  // Scans read the mirror's own engine, like every other read.
  scanPage<K extends ScanKind>(kind: K, cursor: string | undefined, limit: number): Promise<ScanPage<ScanRows[K]>> {
    return this.local.scanPage(kind, cursor, limit);
  }
  scanInodes(o?: ScanOptions) {
    return this.local.scanInodes(o);
  }
  scanEntries(o?: ScanOptions) {
    return this.local.scanEntries(o);
  }
  scanChunks(o?: ScanOptions) {
    return this.local.scanChunks(o);
  }
  scanSliceRefs(o?: ScanOptions) {
    return this.local.scanSliceRefs(o);
  }
  scanSymlinks(o?: ScanOptions) {
    return this.local.scanSymlinks(o);
  }
  scanXattrs(o?: ScanOptions) {
    return this.local.scanXattrs(o);
  }
  scanParents(o?: ScanOptions) {
    return this.local.scanParents(o);
  }
  importSnapshot(snap: Snapshot): Promise<void> {
    return this.local.importSnapshot(snap);
  }
  // A mirror gets its namespace from its source ('ferry mirror create'), never from a dump.
  loadBegin(): Promise<void> {
    return Promise.reject(new FsError('EROFS', { message: `${this.url} is a mirror: load a dump into a volume of its own` }));
  }
  loadRows(_rows: DumpRow[]): Promise<void> {
    return this.loadBegin();
  }
  loadEnd(_format: Format, _counters: DumpCounters): Promise<LoadTotals> {
    return this.loadBegin().then(() => ({ inodes: 0, usedSpace: 0, freed: 0 }));
  }
}
