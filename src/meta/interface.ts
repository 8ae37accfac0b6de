// The Meta interface: every inode-based operation the upper layers (chunk, vfs, mirror) may call.
// Engines never implement this directly: they provide Tx primitives and BaseMeta does the rest.
import type {
  WalkResult,
  Attr,
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
  RenameExpect,
  SessionInfo,
  SessionOpenState,
  Snapshot,
  Slice,
  StatFs,
  Versioned,
  WriteResult,
  TrashItem,
  CloneOptions,
  CloneResult,
  TrashPurgeResult,
  FsckFix,
  QuotaCheck,
  QuotaInfo,
  QuotaLimits,
  TtlRule,
  TtlRunResult,
} from './types.js';
import type { DumpCounters, DumpRow, LoadTotals } from './dump-format.js';
import type { ChunkRow, EntryRow, InodeRow, ParentRow, ScanKind, ScanOptions, ScanPage, ScanRows, SliceRefRow, SymlinkRow, XattrRow } from './scan.js';

export interface Meta {
  /** The URL this engine was opened with, password removed. */
  readonly url: string;
  /** Engine name (sqlite3, redis, postgres, mysql). */
  readonly engine: string;

  // ---- volume ----
  /** Creates the schema and root inode and stores the format. Refuses an existing volume unless force (then keeps its uuid). */
  init(format: Format, force?: boolean): Promise<void>;
  /** Loads the format; throws ENOENT ("volume not formatted") when there is none. */
  load(): Promise<Format>;
  /** Updates fields of the stored format (ferry config); a function computes the change from the current record atomically. */
  updateFormat(update: Partial<Format> | ((old: Format) => Partial<Format>)): Promise<Format>;
  /** Removes every table/key of this volume. */
  destroy(): Promise<void>;
  close(): Promise<void>;

  // ---- sessions ----
  /** Registers this client; heartbeats and lock/open bookkeeping are tied to the session. */
  newSession(info: Partial<SessionInfo>): Promise<number>;
  /**
   * Optional: registers the session with this client's first call instead of a round trip of its own (a far
   * ferry:// service: the registration travels with the first request and is done before it is served). `sid`
   * stays 0 until a reply names it.
   */
  deferSession?(info: Partial<SessionInfo>): void;
  heartbeat(): Promise<void>;
  /** Merges fields into this client's session record (e.g. its last background error); nothing without a session. */
  setSessionInfo(info: Partial<SessionInfo>): Promise<void>;
  closeSession(): Promise<void>;
  /** Continues a session another process of this client opened (a FUSE mount handed over, docs/upgrade.md). */
  adoptSession(sid: number, info: Partial<SessionInfo>, open: SessionOpenState): Promise<void>;
  /** This session's open files as adoptSession takes them. */
  openState(): SessionOpenState;
  restoreOpenState(open: SessionOpenState): void;
  /** Removes a dead process's session (a crashed mount): releases its locks and open-file records. */
  dropDeadSession(sid: number): Promise<boolean>;
  listSessions(): Promise<SessionInfo[]>;
  /** Removes sessions whose heartbeat is older than maxAgeMs: releases their locks, frees their open-but-deleted files. */
  cleanStaleSessions(maxAgeMs: number): Promise<number[]>;

  // ---- namespace ----
  statfs(ctx: Context, ino?: number): Promise<StatFs>;
  access(ctx: Context, ino: number, mask: number, attr?: Attr): Promise<void>;
  lookup(ctx: Context, parent: number, name: string, checkPerm?: boolean): Promise<{ inode: number; attr: Attr }>;
  getattr(ctx: Context, ino: number): Promise<Attr>;
  /** `set` is a mask of SET_* bits; SET_SIZE truncates (or extends with a hole). */
  setattr(ctx: Context, ino: number, set: number, attr: Partial<Attr>): Promise<AttrResult>;
  mknod(ctx: Context, parent: number, name: string, type: FileType, mode: number, rdev?: number): Promise<NodeResult>;
  mkdir(ctx: Context, parent: number, name: string, mode: number): Promise<NodeResult>;
  /** mknod of a regular file that is also opened (counted in open bookkeeping). */
  create(ctx: Context, parent: number, name: string, mode: number, flags: number): Promise<NodeResult>;
  symlink(ctx: Context, parent: number, name: string, target: string): Promise<NodeResult>;
  readlink(ctx: Context, ino: number): Promise<string>;
  link(ctx: Context, ino: number, parent: number, name: string): Promise<AttrResult>;
  unlink(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number; parentAttr?: Attr }>;
  rmdir(ctx: Context, parent: number, name: string): Promise<Versioned & { inode: number }>;
  /** flags: RENAME_NOREPLACE, RENAME_EXCHANGE; expect: what the destination must still be (else ESTALE). */
  rename(ctx: Context, parentSrc: number, nameSrc: string, parentDst: number, nameDst: string, flags?: number, expect?: RenameExpect): Promise<NodeResult>;
  /** Entries ordered by name (bytewise), without "." and "..". */
  readdir(ctx: Context, ino: number, opts?: ReaddirOptions): Promise<Entry[]>;
  /** Walks a slash-separated path from `root` (no symlink following of the last part). */
  resolve(ctx: Context, root: number, path: string): Promise<{ inode: number; attr: Attr }>;
  /**
   * Looks `names` up one after another from `parent` in one read (one round trip for a far engine or a
   * meta-server): each entry found, stopping after a symlink or a non-directory, and at the first name that
   * fails (`error`, its index being `found.length`). Clients resolve paths with it (vfs/resolve.ts).
   */
  walk(ctx: Context, parent: number, names: string[]): Promise<WalkResult>;

  // ---- open files and data ----
  /** Checks access for `flags` (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC is the caller's job) and counts the open. */
  open(ctx: Context, ino: number, flags: number, attr?: Attr): Promise<Attr>;
  /**
   * Drops one open (the file's close); frees the inode if it was deleted while open and this was the last one:
   * then true (its data is to be collected), else false.
   */
  release(ctx: Context, ino: number): Promise<boolean>;
  /** The slice list of chunk `indx`, oldest first. */
  readChunk(ctx: Context, ino: number, indx: number): Promise<Slice[]>;
  /** A new slice id (allocated in batches). */
  newSliceId(): Promise<number>;
  /**
   * Appends a committed slice to a chunk, extending the length if it ends past it. With `pos` AT_END the
   * slice lands at the file's length inside the transaction (split at a chunk boundary if it crosses one);
   * then the new length is where it ends and `sliceCount` is that last chunk's.
   */
  writeSlice(ctx: Context, ino: number, indx: number, pos: number, slice: Omit<Slice, 'pos'>, mtime?: Date): Promise<WriteResult>;
  truncate(ctx: Context, ino: number, length: number): Promise<AttrResult>;
  fallocate(ctx: Context, ino: number, mode: number, off: number, len: number): Promise<AttrResult>;
  /** Shares slices of [offIn, offIn+len) of fin at offOut in fout (no data copied). */
  copyFileRange(ctx: Context, fin: number, offIn: number, fout: number, offOut: number, len: number): Promise<AttrResult & { copied: number }>;
  /** Replaces the first `old.length` slices of a chunk by `merged` if they are unchanged (compaction). */
  replaceSlices(ino: number, indx: number, old: Slice[], merged: Slice): Promise<boolean>;
  /** Chunks with at least minSlices slices, for background compaction. */
  listFragmentedChunks(minSlices: number, limit: number): Promise<Array<{ ino: number; indx: number; count: number }>>;

  // ---- extended attributes ----
  getxattr(ctx: Context, ino: number, name: string): Promise<Buffer>;
  listxattr(ctx: Context, ino: number): Promise<string[]>;
  setxattr(ctx: Context, ino: number, name: string, value: Buffer, flags?: number): Promise<Versioned>;
  removexattr(ctx: Context, ino: number, name: string): Promise<Versioned>;

  // ---- locks (owner is an opaque lock-owner id from the caller) ----
  /** type F_RDLCK/F_WRLCK/F_UNLCK; block waits until granted. */
  flock(ctx: Context, ino: number, owner: string, type: number, block: boolean): Promise<void>;
  /** The first lock conflicting with `lock`, or undefined. */
  getlk(ctx: Context, ino: number, owner: string, lock: LockRange): Promise<LockRange | undefined>;
  /** Sets or clears (type F_UNLCK) a POSIX record lock on [start, end]. */
  setlk(ctx: Context, ino: number, owner: string, block: boolean, type: number, start: number, end: number, pid: number): Promise<void>;

  // ---- counters, versions, changelog ----
  getCounter(name: string): Promise<number>;
  /** Takes the lease `name` for `ms` unless another client holds it (one client at a time runs a periodic job). */
  takeLease(name: string, ms: number, now?: number): Promise<boolean>;
  /** The volume version: the number of namespace-changing transactions committed. */
  currentVersion(): Promise<number>;
  /** Records with version > from, oldest first. */
  readChangelog(from: number, limit?: number): Promise<ChangeRecord[]>;
  /** Drops records with version <= upTo; returns how many. */
  trimChangelog(upTo: number): Promise<number>;
  /** Applies the next record of another volume's changelog (mirrors), storing its version as applied in the same
   * transaction; a record that is not the next one is left alone. Returns the applied version afterwards. */
  applyChangeRecord(rec: ChangeRecord): Promise<number>;
  /** The namespace at one version, as mutations (the start of a mirror): walked with the scans, completed by the changelog. */
  exportSnapshot(opts?: { batch?: number }): Promise<Snapshot>;
  importSnapshot(snap: Snapshot): Promise<void>;
  /** Namespace-changing results carry their changelog record when set. */
  keepRecords: boolean;
  /** This client's session id (0 before newSession). */
  readonly sid: number;

  // ---- ferry load (base/load.ts): a dump's rows into a new or empty volume, in this order ----
  /** Creates the schema if needed; refuses (ENOTEMPTY) a target holding more than an empty root. */
  loadBegin(): Promise<void>;
  /** Writes rows in one transaction, each as "set" (a row given twice is loaded once). */
  loadRows(rows: DumpRow[]): Promise<void>;
  /** Recounts slice references, space and inodes, frees files with no link, sets counters, writes the format last. */
  loadEnd(format: Format, counters: DumpCounters): Promise<LoadTotals>;

  // ---- scans (scan.ts): every row of a kind, each page its own short read, in flat memory ----
  /** One page from a cursor (undefined: the start); `next` resumes, undefined at the end. */
  scanPage<K extends ScanKind>(kind: K, cursor: string | undefined, limit: number): Promise<ScanPage<ScanRows[K]>>;
  scanInodes(opts?: ScanOptions): AsyncGenerator<InodeRow>;
  scanEntries(opts?: ScanOptions): AsyncGenerator<EntryRow>;
  scanChunks(opts?: ScanOptions): AsyncGenerator<ChunkRow>;
  scanSliceRefs(opts?: ScanOptions): AsyncGenerator<SliceRefRow>;
  scanSymlinks(opts?: ScanOptions): AsyncGenerator<SymlinkRow>;
  scanXattrs(opts?: ScanOptions): AsyncGenerator<XattrRow>;
  scanParents(opts?: ScanOptions): AsyncGenerator<ParentRow>;

  // ---- background jobs ----
  /** Frees the data of deleted files: moves their slices with no references left to the delete queue. */
  processDeletedFiles(limit: number): Promise<number>;

  // ---- trash (base/trash.ts) ----
  /** Everything in the trash, by hour, with the path each entry had. */
  trashList(): Promise<TrashItem[]>;
  /**
   * Puts one entry (`HOUR/PARENT-INODE-NAME`) back, in the directory it was deleted from or in `into`;
   * EEXIST when its name is taken unless force. `restoreFromTrash` (meta/trash-restore.ts) plans many.
   */
  trashRestore(ctx: Context, id: string, opts?: { force?: boolean; into?: number }): Promise<Versioned & { inode: number }>;
  /** Frees the entries of the hours that ended before `before` (ms), all without it. */
  trashPurge(opts?: { before?: number }): Promise<TrashPurgeResult>;
  /** Purges what the volume's trash days let expire, if this client gets the purge lease (undefined if not). */
  trashPurgeExpired(now?: number): Promise<TrashPurgeResult | undefined>;
  // ---- clone (base/clone.ts) ----
  /**
   * Copies `src` (a file, symlink or whole tree) to `dstName` in `dstParent` as metadata only: the copy shares
   * the source's slices by reference; later writes to either never change the other. A tree appears at its
   * name complete, at the end. EEXIST when the name is taken.
   */
  clone(ctx: Context, src: number, dstParent: number, dstName: string, opts?: CloneOptions): Promise<CloneResult>;
  /** Deleted files whose chunks are still to be freed (oldest first). */
  pendingDeletedFiles(limit: number): Promise<Array<{ ino: number; length: number }>>;
  // ---- quotas (base/quota.ts): paths are absolute in the volume; `/` is the volume-wide limit ----
  /** Sets or changes a directory's quota (a new one starts from a walk of its tree). */
  quotaSet(ctx: Context, path: string, limits: QuotaLimits): Promise<QuotaInfo>;
  /** A quota and its usage; ENOENT when the directory has none. */
  quotaGet(ctx: Context, path: string): Promise<QuotaInfo>;
  quotaList(): Promise<QuotaInfo[]>;
  quotaDelete(ctx: Context, path: string): Promise<void>;
  /** Bytes file `ino` may still grow by under the directory quotas above it (undefined: none limits it). */
  quotaRoom(ctx: Context, ino: number): Promise<number | undefined>;
  /** Recounts quotas by a walk; with repair, sets the usage to what was found. */
  quotaCheck(ctx: Context, opts?: { path?: string; repair?: boolean }): Promise<QuotaCheck[]>;
  // ---- TTL expiry (base/ttl.ts) ----
  /** The volume's TTL rules. */
  ttlList(): Promise<TtlRule[]>;
  /** Sets a directory's TTL (ENOENT/ENOTDIR for a path that is no directory); a new rule files what is already there. */
  ttlSet(path: string, days: number): Promise<TtlRule & { indexed: number }>;
  /** Removes a directory's TTL (ENOENT when it has none). */
  ttlDelete(path: string): Promise<TtlRule>;
  /** Moves the files whose TTL passed (at `now`, ms) to the trash, reading the TTL index only. */
  ttlExpire(now?: number): Promise<TtlRunResult>;
  /** ttlExpire if this client gets the expiry lease and the volume has rules (undefined if not). */
  ttlExpireDue(now?: number): Promise<TtlRunResult | undefined>;
  /** Slices waiting for their objects to be removed. */
  pendingDeletedSlices(limit: number): Promise<DeletedSlice[]>;
  /** Forgets slices whose objects have been removed. */
  ackDeletedSlices(ids: number[]): Promise<void>;

  // ---- fsck (base/repair.ts) ----
  /** Sessions holding `ino` open. */
  openHolders(ino: number): Promise<number[]>;
  /** Applies one repair if the defect is still there; false when it was gone (nothing written). */
  fsckRepair(fix: FsckFix): Promise<boolean>;
}

/** Opens a Meta for a URL; each engine registers one. */
export type MetaFactory = (url: URL, raw: string) => Promise<Meta>;
