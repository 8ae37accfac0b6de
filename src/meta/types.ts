// Engine-neutral metadata types: what an inode, an entry, a slice and a volume's format are.
import type { EncryptionRecord, StoreSpec } from '../object/transforms/index.js';

export const TYPE_FILE = 1;
export const TYPE_DIRECTORY = 2;
export const TYPE_SYMLINK = 3;
export const TYPE_FIFO = 4;
export const TYPE_BLOCKDEV = 5;
export const TYPE_CHARDEV = 6;
export const TYPE_SOCKET = 7;
export type FileType = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export const ROOT_INODE = 1;
/** Bytes in a chunk: the unit a file is cut into by offset. */
export const CHUNK_SIZE = 64 << 20;
/**
 * writeSlice's `pos` for an O_APPEND write: the slice goes at the end of the file as the commit's
 * transaction sees it (its `indx` is ignored), so appends of several clients never overwrite each other.
 */
export const AT_END = -1;
export const MAX_NAME = 255;
export const MAX_SYMLINK = 4096;
export const MAX_XATTR_NAME = 255;
export const MAX_XATTR_VALUE = 65536;

/** Inode flags. */
export const FLAG_IMMUTABLE = 1;
export const FLAG_APPEND = 2;
/** The flags a user sets (chattr +i/+a); the others are the file system's own bookkeeping. */
export const USER_FLAGS = FLAG_IMMUTABLE | FLAG_APPEND;
/**
 * (Engines store flags in one byte.) Set on an inode when it is given an extended attribute (never cleared): on volumes whose format says
 * `xattrFlags`, an inode without it has none, so a client answers getxattr/listxattr from the attributes
 * it holds (`ls -l` asks for an SELinux label of every entry) instead of asking the metadata each time.
 */
export const FLAG_XATTRS = 1 << 7;
/** The inode has an extended access ACL (stored as the xattr system.posix_acl_access): checks read it. */
export const FLAG_ACL = 1 << 6;
/** The directory has a default ACL (system.posix_acl_default) its new children inherit. */
export const FLAG_DEFAULT_ACL = 1 << 5;

/** Attributes of one inode. Times are whole seconds plus nanoseconds so no precision is lost in JS numbers. */
export interface Attr {
  type: FileType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  atimensec: number;
  mtime: number;
  mtimensec: number;
  ctime: number;
  ctimensec: number;
  nlink: number;
  length: number;
  rdev: number;
  /** Parent directory; 0 when a file has links in several directories (see the link table). */
  parent: number;
  flags: number;
}

export interface Entry {
  inode: number;
  name: string;
  /** Full attributes for readdirplus; only `type` is reliable otherwise. */
  attr: Attr;
}

/**
 * One piece of a chunk's slice list: bytes [off, off+len) of slice `id` (whose stored size is `size`)
 * appear at offset `pos` inside the chunk. id 0 is a hole (reads as zeros).
 */
export interface Slice {
  pos: number;
  id: number;
  size: number;
  off: number;
  len: number;
}

/** Who is calling: permission checks use these. */
export interface Context {
  uid: number;
  gid: number;
  /** Supplementary groups (gid included or not; both work). */
  gids: number[];
  pid: number;
  /** umask applied by mknod/mkdir/create on top of the mode. */
  umask?: number;
  /** False skips permission checks (internal jobs). Root always passes read/write checks. */
  checkPermission: boolean;
  /** What this caller deletes is freed at once, never kept in the trash (a door's temporary files). */
  skipTrash?: boolean;
  /**
   * The in-process component this caller is (the CSI controller: 'csi-snapshots'): it passes the read-only
   * marks it owns. Set only in code, never from a request, so no door's caller can carry it.
   */
  readOnlyOwner?: string;
  /** A scoped key's limits (vfs/limit.ts enforces them in every VFS operation); none: POSIX permissions alone. */
  limit?: AccessLimit;
}

/** What a scoped key or token may do, as the VFS enforces it (built by vfs/scope.ts from a KeyScope). */
export interface AccessLimit {
  /** rw: as POSIX allows; ro: nothing changes; append: new names and bytes past a file's end only. */
  access: KeyAccess;
  /** The scope's root directory inode (its top-level names are the "buckets"). */
  root: number;
  /** Only these names exist in `root` (undefined: every name). */
  buckets?: ReadonlySet<string>;
  /** Set by VfsView.publish for one rename: a door installing a finished temp file under a new name. */
  publishing?: boolean;
  /** Set when the key expired or was removed while a mount or SDK client used it: every operation is refused. */
  revoked?: string;
}

export type KeyAccess = 'rw' | 'ro' | 'append';

/** The scope of an access key (gateway key, or SDK/mount/WebHDFS token), stored with the key record. */
export interface KeyScope {
  /** The key sees this directory of the volume as its root ("/team-a"). */
  subdir?: string;
  access?: KeyAccess;
  /** Top-level names (buckets) of its root it may use. */
  buckets?: string[];
  /** Source networks (CIDR or plain addresses) requests must come from. */
  allow?: string[];
  /** ISO time after which the key is refused. */
  expires?: string;
}

export function rootContext(): Context {
  return { uid: 0, gid: 0, gids: [0], pid: process.pid, checkPermission: false };
}

export function userContext(uid: number, gid: number, gids: number[] = [gid], umask = 0o022): Context {
  return { uid, gid, gids, pid: process.pid, umask, checkPermission: true };
}

/**
 * A volume's format record, kept in the engine's setting: identity and limits at the top, then one typed
 * section per concern. Built by `newFormat()`, checked and upgraded on load, and changed only as
 * `changeFormat()` allows (all in format.ts).
 */
/** The volume's service secret and, during its grace period after a rotation, the previous one (meta/service-auth.ts). */
export interface ServiceSecrets {
  secret: string;
  created: string;
  previous?: { secret: string; until: string };
}

export interface Format {
  /** The record's shape (FORMAT_VERSION in format.ts); a record newer than this code knows is refused. */
  metaVersion: number;
  name: string;
  uuid: string;
  createdAt: string;
  /** Block size in bytes (4 MiB default). */
  blockSize: number;
  /** Days deleted files stay in trash; 0 disables trash. */
  trashDays: number;
  /** Bytes; 0 = unlimited. */
  capacity: number;
  /** Inode limit; 0 = unlimited. */
  inodes: number;
  /** Inodes given an extended attribute carry FLAG_XATTRS (set on volumes formatted since; see FLAG_XATTRS). */
  xattrFlags: boolean;
  /** POSIX ACLs on (`ferry format --acl`): absent or false, ACL xattrs are refused (EOPNOTSUPP) and nothing is checked. */
  acl?: boolean;
  storage: StorageFormat;
  /** A mirror's origin, or a source's registered mirrors. */
  mirror?: MirrorFormat;
  /** Progress of an own-store mirror's data copier (in the mirror's record). */
  dataCopy?: DataCopyState;
  /** Access keys of the S3 gateway, shared by every gateway of the volume. */
  gateway?: GatewayFormat;
  // Room for the data-management features to come: typed so the record keeps one shape; nothing reads them yet.
  /** Trash rules beyond `trashDays`. */
  trash?: { skip?: string[] };
  /**
   * Directory quotas by the directory's inode (decimal): limits (0 = unlimited) and the path it had when the
   * quota was set (for listings; the quota follows the directory through renames). Usage is kept in counters
   * (quota-names.ts), in the transaction of each change.
   */
  quotas?: Record<string, DirQuota>;
  /** TTL rules (`ferry ttl`): regular files under each directory expire `days` after their mtime. */
  ttl?: TtlRule[];
  /** Subtrees nobody may change (`ferry readonly`): directory inodes, `/` (ROOT_INODE) for the whole volume. */
  readOnly?: ReadOnlyMark[];
  /** Volume-wide limits (0 or absent = unlimited). */
  qos?: { uploadBytesPerSec?: number; downloadBytesPerSec?: number; metaOpsPerSec?: number };
  /** The service secret every FerryFS endpoint (meta-server, replicator, cache members) authenticates requests with. */
  services?: ServiceSecrets;
}

/** `ferry clone`'s choices: --preserve keeps owner, mode and times (else the caller's, the umask, now). */
export interface CloneOptions {
  preserve?: boolean;
}

/** What a clone made: the copy's inode and attributes, and how many inodes and file bytes it holds. */
export interface CloneResult extends Versioned {
  inode: number;
  attr: Attr;
  inodes: number;
  bytes: number;
}

/** A directory made read-only: its inode decides, the path is how it was named when marked (for display). */
export interface ReadOnlyMark {
  ino: number;
  path: string;
  /**
   * A mark kept by a FerryFS component for the subtree it manages (the CSI driver's `.snapshots`): callers
   * whose Context names the same readOnlyOwner may change what is inside; everyone else, root too, may not.
   */
  owner?: string;
}

/** Where blocks go and how they are transformed on the way (object/transforms reads it as a StoreSpec). */
export interface StorageFormat extends StoreSpec {
  /** Object store URL, e.g. file:///var/ferry or s3://bucket?endpoint=...; '%d' numbers shard buckets. */
  url: string;
  /** Keys given to `ferry format` (env keys are not kept). */
  accessKey?: string;
  secretKey?: string;
  shards: number;
  /** 'none', 'lz4' or 'zstd'. */
  compression: string;
  /** 'none' or 'crc32c'. */
  checksum: string;
  /** The wrapped data key and the hint of where its secret was (absent: blocks are not encrypted). */
  encryption?: EncryptionRecord;
}

export interface MirrorFormat {
  /** On a mirror: where it comes from. */
  of?: MirrorOf;
  /** On a source: its registered mirrors by id. The changelog is kept until every one applied it. */
  mirrors?: Record<string, MirrorEntry>;
  /** On a source: seconds a lagging mirror holds the changelog back (0/absent: for ever); see retention.ts. */
  retention?: number;
  /** On a mirror: the lease of its one replicator (`ferry mirror run`), see mirror/lease.ts. */
  replicator?: ReplicatorLease;
}

/** Who replicates a mirror: a session of the mirror's engine, alive as long as it heartbeats. */
export interface ReplicatorLease {
  sid: number;
  hostname: string;
  pid: number;
  since: string;
}

/** In a mirror's format: where it comes from. */
export interface MirrorOf {
  /** The source's metadata URL (a writable mirror client connects to it). */
  source: string;
  /** This mirror's id in the source's mirrors. */
  id: string;
  /** Clients write through to the source unless opened read-only. */
  writable: boolean;
  snapshotVersion: number;
  /** The mirror's own object store, filled by `ferry mirror run --data`; absent: it reads the source's. */
  storage?: string;
}

/** In a source's format: one registered mirror. */
export interface MirrorEntry {
  url: string;
  createdAt: string;
  applied: number;
  appliedAt: number;
  /** Set when the mirror fell behind the source's retention window: its changelog is no longer kept. */
  needsResync?: { since: string; reason: string };
}

/** Progress of the data copier of an own-store mirror. */
export interface DataCopyState {
  /** The snapshot this state belongs to (a re-snapshot starts the copy over). */
  snapshotVersion: number;
  /** The first full pass (snapshot blocks, stale copies removed) is done; `cursor` is then meaningful. */
  backfilled: boolean;
  /** Every record of the mirror's changelog up to this version has its blocks copied or deleted. */
  cursor: number;
  copiedBlocks: number;
  copiedBytes: number;
  deletedBlocks: number;
  /** Blocks of the records being worked on, not yet copied. */
  pendingBlocks: number;
  pendingBytes: number;
  updatedAt: number;
  lastError?: string;
}

export interface GatewayFormat {
  /** Access key id -> key. */
  keys: Record<string, GatewayKey>;
}

/** One S3 access key: it acts as one uid/gid, and POSIX permissions decide what it may do. */
export interface GatewayKey {
  secret: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  gids?: number[];
  created: string;
  description?: string;
  /** What the key is limited to (none: the whole volume as its uid/gid). */
  scope?: KeyScope;
  /** Modes of buckets and objects this key creates over S3 (default 0700/0600: owner-private, or the gateway's --bucket-mode). */
  bucketMode?: number;
  objectMode?: number;
}

// access() masks, as in access(2).
export const MODE_R = 4;
export const MODE_W = 2;
export const MODE_X = 1;

// setattr() bits saying which fields to change.
export const SET_MODE = 1 << 0;
export const SET_UID = 1 << 1;
export const SET_GID = 1 << 2;
export const SET_SIZE = 1 << 3;
export const SET_ATIME = 1 << 4;
export const SET_MTIME = 1 << 5;
export const SET_ATIME_NOW = 1 << 7;
export const SET_MTIME_NOW = 1 << 8;
export const SET_CTIME = 1 << 10;
export const SET_FLAGS = 1 << 11;
/**
 * Clear setuid/setgid as a write by the caller does (the kernel's kill-suid request before a write or
 * truncate): allowed to anyone who may write the file, owner or not; for others it changes nothing.
 */
export const SET_CLEAR_SETID = 1 << 20;

// rename() flags, as in renameat2(2).
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

/**
 * A rename's condition on the entry it replaces, checked in the rename's own transaction: the destination
 * must still be this inode, with this mtime and length (what its reader saw), or the rename fails with
 * ESTALE and changes nothing. Compare-and-swap of a name, for the S3 gateway's If-Match writes.
 */
export interface RenameExpect {
  inode: number;
  mtime: number;
  mtimensec: number;
  length: number;
}

// setxattr() flags.
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

// fallocate() modes.
export const FALLOC_KEEP_SIZE = 0x01;
export const FALLOC_PUNCH_HOLE = 0x02;
export const FALLOC_ZERO_RANGE = 0x10;

// Lock types, as in fcntl(2) / flock(2).
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

export interface LockRange {
  type: typeof F_RDLCK | typeof F_WRLCK;
  start: number;
  /** Inclusive end; Number.MAX_SAFE_INTEGER for "to end of file". */
  end: number;
  pid: number;
}

export interface StatFs {
  totalSpace: number;
  availSpace: number;
  usedSpace: number;
  usedInodes: number;
  availInodes: number;
}

export interface SessionInfo {
  sid: number;
  hostname: string;
  pid: number;
  mountPoint: string;
  version: string;
  startedAt: string;
  /** Milliseconds since epoch of the last heartbeat. */
  heartbeat: number;
  /** Services a client offers register through its session (e.g. cache group membership). */
  cacheGroup?: string;
  groupAddress?: string;
  region?: string;
  zone?: string;
  /** The client commits slices before uploading their blocks (write-back): readers wait for a missing block. */
  writeback?: boolean;
  /** The last error of the client's background work (heartbeat, gc, compaction, ...), for `ferry status`. */
  lastError?: BackgroundError;
  [extra: string]: unknown;
}

/** A session's open files: inodes recorded as held in the engine, and handles open per inode. */
export interface SessionOpenState {
  held: number[];
  open: Array<[number, number]>;
  /** A writable mirror's client: its session on the source (mirror/mirror-meta.ts). */
  source?: SessionOpenState;
  /** A mirror's client: handles counted open on the mirror's engine, per inode. */
  localOpens?: Array<[number, number]>;
}

export interface BackgroundError {
  /** Which job failed, e.g. 'gc' or 'cache-group heartbeat'. */
  job: string;
  message: string;
  /** Milliseconds since epoch when this error was first seen. */
  at: number;
  /** When the job succeeded again (the error is kept so a passing problem is still seen). */
  clearedAt?: number;
}

/** One logged change to the namespace: an engine-neutral mutation a mirror can apply to any engine. */
export type Mutation =
  | { t: 'attr'; ino: number; attr: Attr }
  | { t: 'rmattr'; ino: number }
  | { t: 'entry'; parent: number; name: string; ino: number; type: FileType }
  | { t: 'rmentry'; parent: number; name: string }
  | { t: 'symlink'; ino: number; target: string }
  | { t: 'rmsymlink'; ino: number }
  | { t: 'xattr'; ino: number; name: string; value: string /* base64 */ }
  | { t: 'rmxattr'; ino: number; name: string }
  | { t: 'parent'; ino: number; parent: number; delta: number }
  | { t: 'slice'; ino: number; indx: number; slice: Slice }
  | { t: 'chunk'; ino: number; indx: number; slices: Slice[] }
  | { t: 'rmchunk'; ino: number; indx: number }
  | { t: 'counter'; name: string; value: number }
  | { t: 'setting'; format: Format }
  /** The slice's blocks became garbage at the source (its last reference went away). */
  | { t: 'free'; id: number; size: number };

/** One changelog record: all mutations of one transaction, at the version it produced. */
export interface ChangeRecord {
  version: number;
  op: string;
  /** Milliseconds since epoch at commit. */
  ts: number;
  mutations: Mutation[];
}

/** A consistent copy of a volume's namespace at one version, as mutations any engine can apply. */
export interface Snapshot {
  version: number;
  mutations: Mutation[];
}

/** A namespace-changing operation's result always carries the version it produced. */
export interface Versioned {
  version: number;
  /** The changelog record this operation appended, when the Meta keeps records (writable mirrors). */
  record?: ChangeRecord;
}

export interface NodeResult extends Versioned {
  inode: number;
  attr: Attr;
  /** The parent directory's attributes after the change (its times, nlink): what the kernel asks for next. */
  parentAttr?: Attr;
}

export interface AttrResult extends Versioned {
  attr: Attr;
}

export interface WriteResult extends Versioned {
  /** Slices now in the chunk: callers compact when it grows. */
  sliceCount: number;
  attr: Attr;
}

/** Meta.walk's answer: the entries of a path found in order, and why the walk stopped early if it did. */
export interface WalkResult {
  found: Array<{ inode: number; attr: Attr }>;
  /** The lookup of names[found.length] failed so (an errno code such as ENOENT, and its message). */
  error?: { code: string; message: string };
}

export interface ReaddirOptions {
  /** Return entries with names strictly greater than this (paging). */
  after?: string;
  limit?: number;
  /** Fill full attributes (readdirplus); otherwise only attr.type is set. */
  plus?: boolean;
}

/** A slice whose objects can be deleted: its blocks are keyed by id and size. */
export interface DeletedSlice {
  id: number;
  size: number;
}

/** One entry of the trash (`ferry trash list`). */
export interface TrashItem {
  /** `HOUR/PARENT-INODE-NAME`: what `ferry trash restore` takes. */
  id: string;
  /** The hour directory (`2026-12-02-14`, UTC). */
  hour: string;
  /** When it was deleted (ms). */
  deletedAt: number;
  /** The directory it was deleted from. */
  parent: number;
  inode: number;
  name: string;
  type: FileType;
  length: number;
  /** Its path when deleted (`?PARENT/name` when its directory is gone). */
  path: string;
}

/** A directory quota's limits as the format record keeps them. */
export interface DirQuota {
  /** The path when the quota was set. */
  path: string;
  /** Bytes (4 KiB-aligned usage, as the volume counts it); 0 = unlimited. */
  space: number;
  /** Inodes (files, directories, symlinks, one per name); 0 = unlimited. */
  inodes: number;
}

/** A quota with its usage (`ferry quota get|list`). The path `/` is the volume-wide capacity and inode limit. */
export interface QuotaInfo {
  path: string;
  inode: number;
  /** Bytes; 0 = unlimited. */
  capacity: number;
  /** 0 = unlimited. */
  inodes: number;
  usedSpace: number;
  usedInodes: number;
}

/** What `ferry quota set` changes. */
export interface QuotaLimits {
  /** Bytes; 0 removes the limit; undefined keeps it. */
  capacity?: number;
  /** Inodes; 0 removes the limit; undefined keeps it. */
  inodes?: number;
}

/** One quota compared with a walk of its tree (`ferry quota check`). */
export interface QuotaCheck extends QuotaInfo {
  /** What the walk counted. */
  walkedSpace: number;
  walkedInodes: number;
  /** The stored usage was set to the walked one. */
  repaired: boolean;
}

export interface TrashPurgeResult {
  /** Entries freed. */
  entries: number;
  /** Hour directories removed. */
  hours: number;
}

/**
 * One repair of `ferry fsck --repair` (base/repair.ts). Each is applied in its own transaction and only if
 * what it fixes is still as fsck saw it, so a change made meanwhile by a client is never overwritten.
 */
export type FsckFix =
  /** Adds delta to a volume counter (usedSpace, totalInodes): the difference fsck measured. */
  | { kind: 'counter'; name: 'usedSpace' | 'totalInodes'; delta: number }
  /** Sets an inode's link count from `from` (what fsck read) to `to` (what its entries say). */
  | { kind: 'nlink'; ino: number; from: number; to: number }
  /** Removes an entry whose inode does not exist. */
  | { kind: 'dangling'; parent: number; name: string; ino: number }
  /** Links an inode no entry names (and nobody holds open) into /lost+found as `#INO`. */
  | { kind: 'orphan'; ino: number };

/** A TTL rule: regular files under directory `inode` go to the trash `days` after their mtime (the nearest rule above a file applies). */
export interface TtlRule {
  /** The directory's inode: the rule follows the directory when it is renamed. */
  inode: number;
  /** Its path when the rule was set (what `ferry ttl list` shows). */
  path: string;
  days: number;
}

/** One row of the TTL index: a file under a rule, by the mtime (seconds) it had when last created, written or moved. */
export interface TtlIndexRow {
  ino: number;
  mtime: number;
  /** The directory and name it was created or moved in (0 and '' when only a write recorded it). */
  parent: number;
  name: string;
}

/** What one expiry run did. */
export interface TtlRunResult {
  /** Rules looked at. */
  rules: number;
  /** Index rows read (each is an expired file, or a stale row dropped or refiled). */
  rowsRead: number;
  /** Files moved to the trash (freed when the trash is off). */
  expired: number;
  /** Rows of deleted, moved or rewritten files dropped or refiled. */
  stale: number;
  /** Files that were due but refused (chattr +i, an append-only directory). */
  refused: number;
}
