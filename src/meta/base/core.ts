// MetaCore: what every operation stands on — transactions that bump the version and append a changelog
// record, the volume format, counters, id allocation and client sessions.
import { hostname } from 'node:os';
import { FsError, fsErr } from '../../errors.js';
import { Assigned, resolvedMutations, type RecordedMutation } from '../assigned.js';
import { FERRY_VERSION } from '../../version.js';
import { applyMutation, recordingTx } from '../changelog.js';
import { CounterBatch } from '../counter-batch.js';
import type { Engine, Tx } from '../tx.js';
import {
  ROOT_INODE,
  TYPE_DIRECTORY,
  type ChangeRecord,
  type Format,
  type Context,
  type Mutation,
  type SessionInfo,
  type Snapshot,
  type Versioned,
} from '../types.js';
import { newAttr, stamp } from '../attrs.js';
import { FORMAT_VERSION, changeFormat, checkFormatChange, readFormat, settingsOf, validFormat } from '../format.js';
import { Guard, Policy, type GuardOp, type Target } from '../policy/index.js';
import {
  scanRows,
  txPage,
  type ChunkRow,
  type EntryRow,
  type InodeRow,
  type PageReader,
  type ParentRow,
  type ScanKind,
  type ScanOptions,
  type ScanPage,
  type ScanRows,
  type SliceRefRow,
  type SymlinkRow,
  type XattrRow,
} from '../scan.js';
import { SnapshotExporter, type SnapshotOptions } from './snapshot.js';
import { beginLoad, finishLoad, loadRows } from './load.js';
import type { DumpCounters, DumpRow, LoadTotals } from '../dump-format.js';

/** Ids are taken from the engine in batches so creating a file does not pay an extra round trip. */
class IdPool {
  private next = 0;
  private end = 0;
  private refill?: Promise<void>;
  /** take(n) allocates n ids and gives the last one. */
  constructor(private readonly take: (n: number) => Promise<number>, private readonly batch: number) {}

  async alloc(): Promise<number> {
    while (this.next >= this.end) {
      this.refill ??= this.take(this.batch).then(
        (last) => {
          this.next = last - this.batch + 1;
          this.end = last + 1;
          this.refill = undefined;
        },
        (e) => {
          this.refill = undefined;
          throw e;
        },
      );
      await this.refill;
    }
    return this.next++;
  }
}

export const VERSION_COUNTER = 'version';
/** Snapshot mutations applied per transaction on import. */
const IMPORT_BATCH = 20_000;
export const APPLIED_COUNTER = 'appliedVersion';

export class MetaCore {
  sid = 0;
  /**
   * Files this session is recorded as holding open in the engine's sustained table (written with the
   * first open, removed at the last close): whichever client drops the last link, the inode and its
   * data stay until no session holds it (as POSIX asks of an unlinked open file).
   */
  protected readonly heldHere = new Set<number>();
  /** When set, namespace-changing results carry their changelog record (a writable mirror replays it). */
  keepRecords = false;
  protected fmt?: Format;
  protected inodes: IdPool;
  protected slices: IdPool;
  private readonly policy = new Policy();

  constructor(protected readonly eng: Engine) {
    this.inodes = new IdPool((n) => this.allocate('nextInode', n), 100);
    this.slices = new IdPool((n) => this.allocate('nextSlice', n), 1000);
  }

  get url(): string {
    return this.eng.url;
  }

  /**
   * Another Meta over this one's engine (its connections) and id pools, with a session and open files of its
   * own: the meta-server gives one to each client, so a new client costs no connection of its own and, once the
   * pools are filled, no id-batch transaction inside its first create. Closing it leaves the engine open (for the Meta it was forked from).
   */
  fork(): this {
    const e = this.eng;
    const borrowed: Engine = {
      name: e.name,
      url: e.url,
      txn: (fn) => e.txn(fn),
      read: (fn) => e.read(fn),
      createSchema: () => e.createSchema(),
      dropSchema: () => e.dropSchema(),
      readChangelog: (from, limit) => e.readChangelog(from, limit),
      trimChangelog: (upTo) => e.trimChangelog(upTo),
      close: async () => undefined,
    };
    const f = new (this.constructor as new (eng: Engine) => this)(borrowed);
    f.fmt = this.fmt;
    f.inodes = this.inodes;
    f.slices = this.slices;
    return f;
  }

  get engine(): string {
    return this.eng.name;
  }

  /**
   * Runs a namespace-changing operation in one transaction: the logged writes become one changelog
   * record at the next volume version, committed together with the change.
   */
  protected async change<T extends object>(op: string, fn: (tx: Tx) => Promise<T>): Promise<T & Versioned> {
    const done = await this.eng.txn(async (raw) => {
      const muts: RecordedMutation[] = [];
      // Counter increments (inodes, space, quotas, the version) go out together at the end.
      const batch = new CounterBatch(raw);
      const tx = batch.tx;
      const res = await fn(recordingTx(tx, muts));
      // Indexes of the namespace (TTL) follow the writes in the same transaction; a volume without such
      // rules pays nothing (the format is loaded: fn passed the guard or read it).
      if (muts.length && this.fmt) await this.policy.committing(op, this.fmt, tx, muts);
      if (!muts.length) {
        await batch.flush();
        return { res, version: Assigned.of(await tx.getCounter(VERSION_COUNTER)), rec: undefined };
      }
      const version = await tx.incrCounter(VERSION_COUNTER, 1);
      await batch.flush();
      const ts = Date.now();
      await tx.appendChangelog(version, op, ts, muts);
      return { res, version, rec: { ts, muts } };
    });
    // Committed: the engine has assigned the version and the counter values the record holds.
    const version = done.version.value;
    if (!done.rec || !this.keepRecords) return Object.assign(done.res, { version });
    return Object.assign(done.res, { version, record: { version, op, ts: done.rec.ts, mutations: resolvedMutations(done.rec.muts) } });
  }

  /**
   * Passes a modifying operation through the volume's rules (see policy/guard.ts for the targets each
   * operation names); the returned guard charges the operation's growth to the quota rules. `tx` is the
   * operation's transaction, or undefined outside one (open), where a rule's reads get a transaction of their own.
   */
  protected async guard(tx: Tx | undefined, op: GuardOp, ctx: Context, targets: Target[], flags = 0): Promise<Guard> {
    const g = await this.unchecked(tx, op, ctx, targets, flags);
    await g.check();
    return g;
  }

  /** A guard that checks nothing: for what only accounts its changes to the rules (a trash restore). */
  protected async unchecked(tx: Tx | undefined, op: GuardOp, ctx: Context, targets: Target[], flags = 0): Promise<Guard> {
    // A client loads the format before it changes anything; read it here if one did not (never a second
    // transaction inside this one).
    const format = this.fmt ?? (tx ? await tx.getSetting() : await this.load());
    if (!format) throw fsErr('ENOENT', `no volume is formatted at ${this.url}`);
    this.fmt ??= format;
    const read = tx ? <T>(fn: (tx: Tx) => Promise<T>) => fn(tx) : <T>(fn: (tx: Tx) => Promise<T>) => this.eng.read(fn);
    return new Guard(op, ctx, targets, flags, format, this.policy.rules(format), read, tx);
  }

  // ---- volume ----

  /** Formats a volume with a record from newFormat(); with force, an existing one takes the record's settings as changeFormat() allows. */
  async init(format: Format, force = false): Promise<void> {
    validFormat(format, 'the new format record');
    await this.eng.createSchema();
    await this.eng.txn(async (tx) => {
      const stored = await tx.getSetting();
      if (stored && !force) {
        throw new FsError('EEXIST', { message: `volume '${stored.name}' is already formatted here (uuid ${stored.uuid}); use --force to update it` });
      }
      if (stored) {
        await tx.setSetting(changeFormat(readFormat(stored, this.url), settingsOf(format)));
        return;
      }
      await tx.setSetting(format);
      const t = stamp();
      const root = newAttr(TYPE_DIRECTORY, 0o777, 0, 0, ROOT_INODE, t);
      await tx.setAttr(ROOT_INODE, root);
      await tx.setCounter('nextInode', ROOT_INODE);
      await tx.setCounter('nextSlice', 0);
      await tx.setCounter('nextSession', 0);
      await tx.setCounter(VERSION_COUNTER, 0);
      await tx.setCounter('totalInodes', 1);
      await tx.setCounter('usedSpace', 4096);
    });
    this.fmt = await this.load();
  }

  /** The format record, checked and upgraded (meta/format.ts): a record from a newer FerryFS is refused. */
  async load(): Promise<Format> {
    // Engines report a missing database or schema in their own words; an empty one is "not formatted".
    const raw = await this.eng.read((tx) => tx.getSetting());
    if (!raw) throw new FsError('ENOENT', { message: `no volume is formatted at ${this.url} (run 'ferry format' first)` });
    const f = readFormat(raw, this.url);
    this.fmt = f;
    return f;
  }

  /**
   * Changes the format in one transaction; a function computes the change from the current record (so
   * concurrent changes of one section never lose each other's). Identity stays, and what is fixed at
   * format is refused (checkFormatChange); an older record is written back in the current shape.
   */
  async updateFormat(update: Partial<Format> | ((old: Format) => Partial<Format>)): Promise<Format> {
    const f = await this.eng.txn(async (tx) => {
      const raw = await tx.getSetting();
      if (!raw) throw fsErr('ENOENT', `no volume is formatted at ${this.url}`);
      const old = readFormat(raw, this.url);
      const change = typeof update === 'function' ? update(old) : update;
      const next: Format = { ...old, ...change, uuid: old.uuid, createdAt: old.createdAt, metaVersion: FORMAT_VERSION };
      checkFormatChange(old, next);
      validFormat(next, `the format record of volume '${old.name}'`);
      await tx.setSetting(next);
      return next;
    });
    this.fmt = f;
    return f;
  }

  async destroy(): Promise<void> {
    await this.eng.dropSchema();
  }

  async close(): Promise<void> {
    await this.eng.close();
  }

  protected format(): Format {
    if (!this.fmt) throw fsErr('EIO', 'volume format not loaded');
    return this.fmt;
  }

  // ---- counters, ids, versions ----

  async getCounter(name: string): Promise<number> {
    return this.eng.read((tx) => tx.getCounter(name));
  }

  /**
   * Takes the lease `name` for `ms` if nobody holds it (a counter holding when it ends, as the trash purge's):
   * the way one client among many runs a periodic job. False while another holder's lease runs.
   */
  async takeLease(name: string, ms: number, now = Date.now()): Promise<boolean> {
    return this.eng.txn(async (tx) => {
      if ((await tx.getCounter(name)) > now) return false;
      await tx.setCounter(name, now + ms);
      return true;
    });
  }

  async currentVersion(): Promise<number> {
    return this.getCounter(VERSION_COUNTER);
  }

  async newSliceId(): Promise<number> {
    return this.slices.alloc();
  }

  /** Takes n values of an allocation counter in a transaction of its own; returns the last one. */
  protected async allocate(counter: string, n: number): Promise<number> {
    return (await this.eng.txn((tx) => tx.incrCounter(counter, n))).value;
  }

  async readChangelog(from: number, limit = 1000): Promise<ChangeRecord[]> {
    const rows = await this.eng.readChangelog(from, limit);
    return rows.map((r) => ({ version: r.version, op: r.op, ts: r.ts, mutations: JSON.parse(r.record) as Mutation[] }));
  }

  async trimChangelog(upTo: number): Promise<number> {
    return this.eng.trimChangelog(upTo);
  }

  /**
   * Replays a source record if it is the next one; the same transaction records it as applied, so a restart
   * never applies it twice and nothing is skipped. Returns the applied version afterwards.
   */
  async applyChangeRecord(rec: ChangeRecord): Promise<number> {
    return this.eng.txn(async (tx) => {
      const applied = await tx.getCounter(APPLIED_COUNTER);
      if (rec.version !== applied + 1) return applied;
      for (const m of rec.mutations) await applyMutation(tx, m);
      await tx.setCounter(APPLIED_COUNTER, rec.version);
      await tx.setCounter(VERSION_COUNTER, rec.version);
      await tx.appendChangelog(Assigned.of(rec.version), rec.op, rec.ts, rec.mutations);
      return rec.version;
    });
  }

  /**
   * The namespace at one version, walked page by page with the scans and completed by the changelog
   * written meanwhile (see snapshot.ts for why that converges): no long transaction, on any engine.
   */
  async exportSnapshot(opts?: SnapshotOptions): Promise<Snapshot> {
    return new SnapshotExporter(this.eng, opts).run();
  }

  /**
   * Loads a snapshot into this (freshly formatted) volume and records its version as applied. A large one
   * goes in several transactions; the version is recorded last, so a failed import is never taken as a copy.
   */
  async importSnapshot(snap: Snapshot): Promise<void> {
    for (let i = 0; i < snap.mutations.length; i += IMPORT_BATCH) {
      const part = snap.mutations.slice(i, i + IMPORT_BATCH);
      await this.eng.txn(async (tx) => {
        for (const m of part) await applyMutation(tx, m);
      });
    }
    await this.eng.txn(async (tx) => {
      await tx.setCounter(APPLIED_COUNTER, snap.version);
      await tx.setCounter(VERSION_COUNTER, snap.version);
    });
  }

  // ---- ferry load (load.ts): into a new or empty volume, nothing logged ----

  async loadBegin(): Promise<void> {
    await beginLoad(this.eng, this.url);
  }

  async loadRows(rows: DumpRow[]): Promise<void> {
    await loadRows(this.eng, rows);
  }

  async loadEnd(format: Format, counters: DumpCounters): Promise<LoadTotals> {
    const totals = await finishLoad(this.eng, validFormat(format, 'the format record of the dump'), counters);
    this.fmt = format;
    return totals;
  }

  // ---- scans (scan.ts): each page its own short read ----

  async scanPage<K extends ScanKind>(kind: K, cursor: string | undefined, limit: number): Promise<ScanPage<ScanRows[K]>> {
    return this.eng.read((tx) => txPage(tx, kind, cursor, limit));
  }

  private readonly pages: PageReader = (kind, cursor, limit) => this.scanPage(kind, cursor, limit);

  scanInodes(opts?: ScanOptions): AsyncGenerator<InodeRow> {
    return scanRows(this.pages, 'inodes', opts);
  }

  scanEntries(opts?: ScanOptions): AsyncGenerator<EntryRow> {
    return scanRows(this.pages, 'entries', opts);
  }

  scanChunks(opts?: ScanOptions): AsyncGenerator<ChunkRow> {
    return scanRows(this.pages, 'chunks', opts);
  }

  scanSliceRefs(opts?: ScanOptions): AsyncGenerator<SliceRefRow> {
    return scanRows(this.pages, 'sliceRefs', opts);
  }

  scanSymlinks(opts?: ScanOptions): AsyncGenerator<SymlinkRow> {
    return scanRows(this.pages, 'symlinks', opts);
  }

  scanXattrs(opts?: ScanOptions): AsyncGenerator<XattrRow> {
    return scanRows(this.pages, 'xattrs', opts);
  }

  scanParents(opts?: ScanOptions): AsyncGenerator<ParentRow> {
    return scanRows(this.pages, 'parents', opts);
  }

  // ---- sessions ----

  async newSession(info: Partial<SessionInfo>): Promise<number> {
    if (!this.fmt) await this.load();
    // The id is known only after its own commit (an id taken but not used is harmless).
    const sid = await this.allocate('nextSession', 1);
    await this.eng.txn(async (tx) => {
      await tx.addSession(sid, {
        ...info,
        sid,
        hostname: info.hostname ?? hostname(),
        pid: info.pid ?? process.pid,
        mountPoint: info.mountPoint ?? '',
        version: info.version ?? FERRY_VERSION,
        startedAt: info.startedAt ?? new Date().toISOString(),
        heartbeat: Date.now(),
      });
    });
    this.sid = sid;
    return sid;
  }

  async heartbeat(): Promise<void> {
    if (!this.sid) return;
    const sid = this.sid;
    await this.eng.txn((tx) => tx.updateSession(sid, Date.now()));
  }

  async setSessionInfo(info: Partial<SessionInfo>): Promise<void> {
    if (!this.sid) return;
    const sid = this.sid;
    // Tx.addSession replaces the record: merge into the stored one, and never bring back a session
    // that was cleaned away meanwhile.
    await this.eng.txn(async (tx) => {
      const cur = (await tx.listSessions()).find((s) => s.sid === sid);
      if (cur) await tx.addSession(sid, { ...cur, ...info, sid, heartbeat: Date.now() });
    });
  }

  async listSessions(): Promise<SessionInfo[]> {
    return this.eng.read((tx) => tx.listSessions());
  }

  async closeSession(): Promise<void> {
    if (!this.sid) return;
    await this.dropSession(this.sid);
    this.sid = 0;
    this.heldHere.clear();
  }

  async cleanStaleSessions(maxAgeMs: number): Promise<number[]> {
    const limit = Date.now() - maxAgeMs;
    const stale = (await this.listSessions()).filter((s) => s.sid !== this.sid && s.heartbeat < limit);
    for (const s of stale) await this.dropSession(s.sid);
    return stale.map((s) => s.sid);
  }

  /** Releases a session's locks and its open-file records, freeing the deleted files no other session holds. */
  protected async dropSession(sid: number): Promise<void> {
    const held = await this.eng.read((tx) => tx.listSustained(sid));
    for (const ino of held) await this.releaseSustained(sid, ino);
    await this.eng.txn(async (tx) => {
      await tx.delSessionLocks(sid);
      await tx.delSession(sid);
    });
  }

  /** Overridden by the data layer: deletes an inode that was kept open after its last link went away. */
  protected async releaseSustained(_sid: number, _ino: number): Promise<boolean> {
    return false;
  }
}
