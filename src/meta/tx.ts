// The narrow set of primitives an engine implements. BaseMeta writes every file-system operation once
// on top of these, inside one engine transaction, so engines differ only in how they store rows.
import type { Assigned, RecordedMutation } from './assigned.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanPage, SliceRefRow, SymlinkRow, XattrRow } from './scan.js';
import type { Attr, DeletedSlice, Entry, FileType, Format, SessionInfo, Slice, TtlIndexRow } from './types.js';
import type { DumpRow } from './dump-format.js';

export interface FlockRow {
  sid: number;
  owner: string;
  type: number;
}

export interface PlockRow {
  sid: number;
  owner: string;
  records: Buffer;
}

/** Primitives valid inside one transaction. Writes marked (logged) are recorded in the changelog by BaseMeta. */
export interface Tx {
  getAttr(ino: number): Promise<Attr | undefined>;
  /** Insert or replace (logged). */
  setAttr(ino: number, attr: Attr): Promise<void>;
  /** (logged) */
  delAttr(ino: number): Promise<void>;
  /** Optional: several setAttr in one statement (logged, as one mutation each). */
  setAttrs?(rows: Array<[ino: number, attr: Attr]>): Promise<void>;

  getEntry(parent: number, name: string): Promise<{ inode: number; type: FileType } | undefined>;
  /** Entry and the attributes of its inode in one read (one round trip where the engine can). */
  lookup(parent: number, name: string): Promise<{ inode: number; attr: Attr } | undefined>;
  /** Insert or replace (logged). */
  setEntry(parent: number, name: string, ino: number, type: FileType): Promise<void>;
  /** (logged) */
  delEntry(parent: number, name: string): Promise<void>;
  /**
   * Optional: setEntry only if the name is free, in one statement (the check and the insert of a create);
   * false, with nothing written, when the name exists (logged when added).
   */
  addEntry?(parent: number, name: string, ino: number, type: FileType): Promise<boolean>;
  /** Ordered by name bytewise; `plus` joins the attributes in the same scan. */
  listEntries(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<Entry[]>;
  /**
   * Optional: the directory's attributes (undefined if it does not exist) and listEntries' page in one read
   * (SQL: one statement; a readdir is then one round trip to the engine).
   */
  listDir?(parent: number, after: string | undefined, limit: number, plus: boolean): Promise<{ dir?: Attr; entries: Entry[] }>;
  hasEntries(parent: number): Promise<boolean>;

  getSymlink(ino: number): Promise<string | undefined>;
  setSymlink(ino: number, target: string): Promise<void>;
  delSymlink(ino: number): Promise<void>;

  getXattr(ino: number, name: string): Promise<Buffer | undefined>;
  setXattr(ino: number, name: string, value: Buffer): Promise<void>;
  delXattr(ino: number, name: string): Promise<boolean>;
  listXattr(ino: number): Promise<string[]>;

  /** Link table for hard links: adds delta links of ino in parent, dropping the row at 0 (logged). */
  addParent(ino: number, parent: number, delta: number): Promise<void>;
  listParents(ino: number): Promise<Array<{ parent: number; count: number }>>;
  /**
   * Optional: the directories above directory `dir`, nearest first, up to the root, in one read (a recursive
   * query). Engines without it are walked one getAttr per level (policy/guard.ts).
   */
  parentChain?(dir: number): Promise<number[]>;

  getChunk(ino: number, indx: number): Promise<Slice[]>;
  /** (logged) */
  appendSlice(ino: number, indx: number, slice: Slice): Promise<number /* slices now */>;
  /** Replace a chunk's list; an empty list deletes the chunk (logged). */
  setChunk(ino: number, indx: number, slices: Slice[]): Promise<void>;
  /** Chunk indexes of an inode holding data, ascending, from `from`. */
  listChunkIndexes(ino: number, from: number): Promise<number[]>;
  listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>>;

  /** Slice reference counts (a slice is shared after copyFileRange or replaced by compaction). */
  addSliceRef(id: number, size: number, delta: number): Promise<number /* refs now */>;
  /**
   * Optional bulk paths of `ferry load` (SQL engines: multi-row statements instead of one per row), with the
   * effect of the one-row primitives. addSliceRefs adds positive deltas (nothing read back); loadRows applies
   * the rows it can (as setAttr, setEntry, ... would, the last of a key winning) and returns the others.
   */
  addSliceRefs?(refs: Array<{ id: number; size: number; delta: number }>): Promise<void>;
  loadRows?(rows: DumpRow[]): Promise<DumpRow[]>;

  getCounter(name: string): Promise<number>;
  /** The new value is assigned at commit: read it only after the transaction (the engine resolves it). */
  incrCounter(name: string, delta: number): Promise<Assigned>;
  setCounter(name: string, value: number): Promise<void>;
  /** Optional: incrCounter of several distinct counters in one statement, the values in the same order. */
  incrCounters?(deltas: Array<[name: string, delta: number]>): Promise<Assigned[]>;

  getSetting(): Promise<Format | undefined>;
  setSetting(format: Format): Promise<void>;

  // ---- not logged: per-client state and queues ----
  addSession(sid: number, info: SessionInfo): Promise<void>;
  updateSession(sid: number, heartbeat: number): Promise<void>;
  delSession(sid: number): Promise<void>;
  listSessions(): Promise<SessionInfo[]>;
  /** Session `sid` holds `ino` open: the inode outlives its last link until every holder lets it go. */
  addSustained(sid: number, ino: number): Promise<void>;
  delSustained(sid: number, ino: number): Promise<void>;
  /** Inodes a session holds open (for its cleanup). */
  listSustained(sid: number): Promise<number[]>;
  /** Sessions holding an inode open: read where the last link goes (checked at commit like any read). */
  listSustainedBy(ino: number): Promise<number[]>;
  addDelFile(ino: number, length: number): Promise<void>;
  delDelFile(ino: number): Promise<void>;
  listDelFiles(limit: number): Promise<Array<{ ino: number; length: number }>>;
  addDelSlice(id: number, size: number): Promise<void>;
  listDelSlices(limit: number): Promise<DeletedSlice[]>;
  delDelSlices(ids: number[]): Promise<void>;
  getFlocks(ino: number): Promise<FlockRow[]>;
  setFlock(ino: number, sid: number, owner: string, type: number | null): Promise<void>;
  getPlocks(ino: number): Promise<PlockRow[]>;
  setPlock(ino: number, sid: number, owner: string, records: Buffer | null): Promise<void>;
  /** Locks held by a session, for cleanup. */
  delSessionLocks(sid: number): Promise<void>;

  /**
   * The TTL index (not logged: derived from the namespace, kept by the volume that runs the expiry): one row
   * per (rule directory, file) with the file's mtime; adding replaces the row's mtime, and its place when
   * `at` is given (kept otherwise).
   */
  addTtlIndex(rule: number, ino: number, mtime: number, at?: { parent: number; name: string }): Promise<void>;
  delTtlIndex(rule: number, ino: number): Promise<void>;
  /** A rule's rows with mtime <= upTo, oldest first (ties by inode), skipping the first `skip`. */
  scanTtlIndex(rule: number, upTo: number, skip: number, limit: number): Promise<TtlIndexRow[]>;
  /** Drops every row of a rule. */
  clearTtlIndex(rule: number): Promise<void>;

  /** Stores one changelog record; the engine fills in the values assigned at commit (version, counters). */
  appendChangelog(version: Assigned, op: string, ts: number, mutations: readonly RecordedMutation[]): Promise<void>;

  // ---- scans (scan.ts): one page from a cursor (undefined: the start). Never checked at commit by
  // optimistic engines, so walk them with Engine.read, one read per page. ----
  /** Inodes by number. */
  scanInodes(cursor: string | undefined, limit: number): Promise<ScanPage<InodeRow>>;
  /** Entries by (parent, name bytewise). */
  scanEntries(cursor: string | undefined, limit: number): Promise<ScanPage<EntryRow>>;
  /** Chunks by (inode, index). */
  scanChunks(cursor: string | undefined, limit: number): Promise<ScanPage<ChunkRow>>;
  /** Slice reference counts by slice id. */
  scanSliceRefs(cursor: string | undefined, limit: number): Promise<ScanPage<SliceRefRow>>;
  scanSymlinks(cursor: string | undefined, limit: number): Promise<ScanPage<SymlinkRow>>;
  /** Extended attributes by (inode, name). */
  scanXattrs(cursor: string | undefined, limit: number): Promise<ScanPage<XattrRow>>;
  /** The hard-link table by (inode, parent). */
  scanParents(cursor: string | undefined, limit: number): Promise<ScanPage<ParentRow>>;
}

/** What an engine adds around Tx: transactions, the changelog reads, schema management. */
export interface Engine {
  readonly name: string;
  readonly url: string;
  /** Runs fn in one read-write transaction, retried on conflict/busy. fn may run more than once. */
  txn<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs fn in a read-only transaction (may be a snapshot or no transaction for single reads). */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  createSchema(): Promise<void>;
  dropSchema(): Promise<void>;
  readChangelog(from: number, limit: number): Promise<Array<{ version: number; op: string; ts: number; record: string }>>;
  trimChangelog(upTo: number): Promise<number>;
  close(): Promise<void>;
}
