// Key names and value encodings of the Redis engine. Every key of a volume starts with the hash tag
// `{prefix}`, so a whole volume lives in one Redis Cluster slot and server-side scripts may touch any of them.
import { isUsageCounter } from '../../quota-names.js';
import type { Attr, FileType } from '../../types.js';

/**
 * Counters read as "a recent value" (quota checks: the volume's and each directory quota's usage), never
 * validated at commit, so writers under one quota do not conflict on it. (Every increment is blind: tx.ts.)
 */
export const BLIND_COUNTERS = { has: (name: string): boolean => name === 'version' || isUsageCounter(name) };

export class Keys {
  readonly tag: string;
  constructor(readonly prefix: string) {
    this.tag = `{${prefix}}`;
  }
  /** The format record (JSON). Also the key scripts are routed by. */
  get setting(): string {
    return `${this.tag}setting`;
  }
  /** A client's recent commit ids -> their replies (scripts.ts COMMIT: a resent commit is not applied twice). */
  txDone(client: string): string {
    return `${this.tag}txdone:${client}`;
  }
  counter(name: string): string {
    return `${this.tag}c:${name}`;
  }
  /** Attributes of an inode: a packed 72-byte string. */
  attr(ino: number): string {
    return `${this.tag}i${ino}`;
  }
  /** Prefix scripts append a decimal inode to. */
  get attrPrefix(): string {
    return `${this.tag}i`;
  }
  /** A directory's entries: a sorted set, all scores 0, members `name \0 type inode` (bytewise order = name order). */
  dir(ino: number): string {
    return `${this.tag}d${ino}`;
  }
  symlink(ino: number): string {
    return `${this.tag}s${ino}`;
  }
  /** Extended attributes: hash name -> value. */
  xattr(ino: number): string {
    return `${this.tag}x${ino}`;
  }
  /** Hard-link table: hash parent -> link count. */
  parents(ino: number): string {
    return `${this.tag}p${ino}`;
  }
  /** A chunk's slice list: a string of packed 24-byte records, APPENDed to. */
  chunk(ino: number, indx: number): string {
    return `${this.tag}k${ino}_${indx}`;
  }
  /** Chunk indexes of an inode that hold data: sorted set, score = member = index. */
  chunkIndex(ino: number): string {
    return `${this.tag}K${ino}`;
  }
  /** Every chunk by slice count: sorted set, member `ino:indx`, score = slices (for compaction). */
  get fragments(): string {
    return `${this.tag}frag`;
  }
  /** Slice reference counts: hash id -> refs. */
  get sliceRefs(): string {
    return `${this.tag}refs`;
  }
  /** Sizes of the slices in sliceRefs: hash id -> size (scans report them; older volumes lack some). */
  get sliceSizes(): string {
    return `${this.tag}refsize`;
  }
  /** Sessions: sorted set sid by heartbeat, plus hash sid -> JSON info. */
  get sessions(): string {
    return `${this.tag}sessions`;
  }
  get sessionInfo(): string {
    return `${this.tag}sessionInfo`;
  }
  /** Inodes a session holds open (kept alive past their last unlink): set. */
  sustained(sid: number): string {
    return `${this.tag}ss${sid}`;
  }
  /** Sessions holding an inode open: hash sid -> 1 (read, checked, where the last link goes). */
  holders(ino: number): string {
    return `${this.tag}o${ino}`;
  }
  /** Delete queues: sorted set by time added, plus hash with the length/size. */
  get delFiles(): string {
    return `${this.tag}delfiles`;
  }
  get delFileLength(): string {
    return `${this.tag}delfileLen`;
  }
  get delSlices(): string {
    return `${this.tag}delslices`;
  }
  get delSliceSize(): string {
    return `${this.tag}delsliceSize`;
  }
  /** Locks of an inode: hash `sid:owner` -> type (flock) or packed ranges (plock). */
  flock(ino: number): string {
    return `${this.tag}lf${ino}`;
  }
  plock(ino: number): string {
    return `${this.tag}lp${ino}`;
  }
  /** Inodes a session holds locks on: set (for cleanup). */
  locked(sid: number): string {
    return `${this.tag}locked${sid}`;
  }
  /** The TTL index of a rule directory: sorted set of inodes scored by mtime, plus hash inode -> `parent/name`. */
  ttl(rule: number): string {
    return `${this.tag}ttl:${rule}`;
  }
  ttlAt(rule: number): string {
    return `${this.tag}ttlat:${rule}`;
  }
  /** The changelog: sorted set scored by version, member `version record-json`. */
  get changelog(): string {
    return `${this.tag}changelog`;
  }
  /** MATCH pattern for one kind of per-inode key: `{prefix}` then `letter` then the inode's digits. */
  scanPattern(letter: string): string {
    return `\\{${this.prefix.replace(/[*?[\]\\]/g, (c) => '\\' + c)}\\}${letter}[0-9]*`;
  }
  /** MATCH pattern for every key of the volume (SCAN escapes braces). */
  get pattern(): string {
    return `\\{${this.prefix.replace(/[*?[\]\\]/g, (c) => '\\' + c)}\\}*`;
  }
}

export const ATTR_BYTES = 72;

export function encodeAttr(a: Attr): Buffer {
  const b = Buffer.allocUnsafe(ATTR_BYTES);
  b.writeUInt8(a.type, 0);
  b.writeUInt8(a.flags, 1);
  b.writeUInt16BE(a.mode, 2);
  b.writeUInt32BE(a.uid >>> 0, 4);
  b.writeUInt32BE(a.gid >>> 0, 8);
  b.writeUInt32BE(a.rdev >>> 0, 12);
  b.writeUInt32BE(a.nlink >>> 0, 16);
  b.writeUInt32BE(a.atimensec, 20);
  b.writeUInt32BE(a.mtimensec, 24);
  b.writeUInt32BE(a.ctimensec, 28);
  b.writeDoubleBE(a.atime, 32);
  b.writeDoubleBE(a.mtime, 40);
  b.writeDoubleBE(a.ctime, 48);
  b.writeDoubleBE(a.length, 56);
  b.writeDoubleBE(a.parent, 64);
  return b;
}

export function decodeAttr(b: Buffer): Attr {
  return {
    type: b.readUInt8(0) as FileType,
    mode: b.readUInt16BE(2),
    uid: b.readUInt32BE(4),
    gid: b.readUInt32BE(8),
    atime: b.readDoubleBE(32),
    atimensec: b.readUInt32BE(20),
    mtime: b.readDoubleBE(40),
    mtimensec: b.readUInt32BE(24),
    ctime: b.readDoubleBE(48),
    ctimensec: b.readUInt32BE(28),
    nlink: b.readUInt32BE(16),
    length: b.readDoubleBE(56),
    rdev: b.readUInt32BE(12),
    parent: b.readDoubleBE(64),
    flags: b.readUInt8(1),
  };
}

/** Directory member: `name \0 T inode`, T one digit (the type), inode in decimal (scripts build keys from it). */
export function entryMember(name: string, ino: number, type: FileType): Buffer {
  return Buffer.concat([Buffer.from(name), Buffer.from(`\0${type}${ino}`)]);
}

export function parseMember(m: Buffer): { name: string; inode: number; type: FileType } {
  const z = m.indexOf(0);
  return { name: m.subarray(0, z).toString(), type: (m[z + 1]! - 48) as FileType, inode: Number(m.subarray(z + 2).toString()) };
}

/** ZRANGEBYLEX bounds selecting the one member of `name`. */
export function entryRange(name: string): [Buffer, Buffer] {
  const n = Buffer.from(name);
  return [Buffer.concat([Buffer.from('['), n, Buffer.from([0])]), Buffer.concat([Buffer.from('('), n, Buffer.from([1])])];
}

/** ZRANGEBYLEX lower bound for names strictly after `after` (names never hold \0). */
export function afterBound(after: string | undefined): Buffer {
  return after === undefined ? Buffer.from('-') : Buffer.concat([Buffer.from('['), Buffer.from(after), Buffer.from([1])]);
}
