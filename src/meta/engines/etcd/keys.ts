// Key layout of the etcd engine. Every key of a volume is `PREFIX \0 LETTER ...` with numbers as fixed-width
// big-endian bytes, so each kind of row is one ordered key range: a directory's entries are the keys
// `D parent name` (readdir is one range read from the last name), an inode's chunks `C ino indx`, and so on.
// The zero byte after the prefix keeps volume `a` apart from volume `a/b`.
import type { FileType } from '../../types.js';

export function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32) >>> 0, 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}

export const readU64 = (b: Buffer, at: number): number => b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4);

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** A double whose bytes sort like the number (TTL rows ordered by mtime). */
function sortableDouble(x: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(x, 0);
  if (b[0]! & 0x80) for (let i = 0; i < 8; i++) b[i] = ~b[i]! & 0xff;
  else b[0] = b[0]! | 0x80;
  return b;
}

function readSortableDouble(src: Buffer, at: number): number {
  const b = Buffer.from(src.subarray(at, at + 8));
  if (b[0]! & 0x80) b[0] = b[0]! & 0x7f;
  else for (let i = 0; i < 8; i++) b[i] = ~b[i]! & 0xff;
  return b.readDoubleBE(0);
}

/** The first key after every key that starts with `p` (etcd's range_end for a prefix). */
export function prefixEnd(p: Buffer): Buffer {
  const b = Buffer.from(p);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

/** Fragment index: chunks by slice count, most fragmented first. */
const MAX_U32 = 0xffffffff;

export class Keys {
  readonly base: Buffer;
  constructor(readonly prefix: string) {
    this.base = Buffer.from(`${prefix}\0`);
  }
  /** The first bytes of every key of one kind. */
  kind(letter: string, ...parts: Buffer[]): Buffer {
    return Buffer.concat([this.base, Buffer.from(letter), ...parts]);
  }
  get all(): [Buffer, Buffer] {
    return [this.base, prefixEnd(this.base)];
  }
  setting = () => this.kind('F');
  counter = (name: string) => this.kind('N', Buffer.from(name));
  attr = (ino: number) => this.kind('A', u64(ino));
  /** Entry value: type byte then the inode (8 bytes). */
  entry = (parent: number, name: string) => this.kind('D', u64(parent), Buffer.from(name));
  dir = (parent: number) => this.kind('D', u64(parent));
  symlink = (ino: number) => this.kind('S', u64(ino));
  xattr = (ino: number, name: string) => this.kind('X', u64(ino), Buffer.from(name));
  xattrs = (ino: number) => this.kind('X', u64(ino));
  /** Hard-link table: value is the link count (decimal). */
  parent = (ino: number, parent: number) => this.kind('P', u64(ino), u64(parent));
  parents = (ino: number) => this.kind('P', u64(ino));
  /** A chunk's packed slice records. */
  chunk = (ino: number, indx: number) => this.kind('C', u64(ino), u32(indx));
  chunks = (ino: number) => this.kind('C', u64(ino));
  /** Empty value; key orders chunks by slice count, descending. */
  fragment = (count: number, ino: number, indx: number) => this.kind('G', u32(MAX_U32 - count), u64(ino), u32(indx));
  fragmentsFrom = (minSlices: number) => this.kind('G', u32(MAX_U32 - Math.min(MAX_U32, Math.max(0, minSlices))));
  /** Value `refs size` (decimal). */
  sliceRef = (id: number) => this.kind('R', u64(id));
  /** Value: the session's JSON info with its heartbeat. */
  session = (sid: number) => this.kind('E', u64(sid));
  /** Inodes a session holds open, and the sessions holding an inode open (empty values). */
  sustained = (sid: number, ino: number) => this.kind('O', u64(sid), u64(ino));
  sustainedOf = (sid: number) => this.kind('O', u64(sid));
  holder = (ino: number, sid: number) => this.kind('H', u64(ino), u64(sid));
  holders = (ino: number) => this.kind('H', u64(ino));
  /** Delete queues: value the file's length / the slice's size (decimal). */
  delFile = (ino: number) => this.kind('Q', u64(ino));
  delSlice = (id: number) => this.kind('Z', u64(id));
  /** Locks: `K|M ino sid owner`, value the flock type (decimal) / the packed plock records. */
  flock = (ino: number, sid: number, owner: string) => this.kind('K', u64(ino), u64(sid), Buffer.from(owner));
  plock = (ino: number, sid: number, owner: string) => this.kind('M', u64(ino), u64(sid), Buffer.from(owner));
  flocks = (ino: number) => this.kind('K', u64(ino));
  plocks = (ino: number) => this.kind('M', u64(ino));
  flocksOf = (ino: number, sid: number) => this.kind('K', u64(ino), u64(sid));
  plocksOf = (ino: number, sid: number) => this.kind('M', u64(ino), u64(sid));
  /** Inodes a session holds locks on (for its cleanup). */
  locked = (sid: number, ino: number) => this.kind('W', u64(sid), u64(ino));
  lockedBy = (sid: number) => this.kind('W', u64(sid));
  /** TTL index: `T rule mtime ino` -> `parent/name` in mtime order; `U rule ino` -> JSON {mtime, at}. */
  ttl = (rule: number, mtime: number, ino: number) => this.kind('T', u64(rule), sortableDouble(mtime), u64(ino));
  ttlUpTo = (rule: number, mtime: number) => prefixEnd(this.kind('T', u64(rule), sortableDouble(mtime)));
  ttlRule = (rule: number) => this.kind('T', u64(rule));
  ttlAt = (rule: number, ino: number) => this.kind('U', u64(rule), u64(ino));
  ttlAtRule = (rule: number) => this.kind('U', u64(rule));
  /** The changelog by version. */
  change = (version: number) => this.kind('L', u64(version));
  /** Marks the last commit of one client: after a lost reply it tells whether the commit applied. */
  marker = (client: string) => this.kind('Y', Buffer.from(client));

  /** Numbers after a kind's letter (offset 0 = the first byte after it). */
  num(key: Buffer, at: number): number {
    return readU64(key, this.base.length + 1 + at);
  }
  num32(key: Buffer, at: number): number {
    return key.readUInt32BE(this.base.length + 1 + at);
  }
  rest(key: Buffer, at: number): string {
    return key.subarray(this.base.length + 1 + at).toString();
  }
  ttlMtime(key: Buffer): number {
    return readSortableDouble(key, this.base.length + 9);
  }
  fragmentCount(key: Buffer): number {
    return MAX_U32 - this.num32(key, 0);
  }
}

export function encodeEntry(ino: number, type: FileType): Buffer {
  return Buffer.concat([Buffer.from([type]), u64(ino)]);
}

export function decodeEntry(v: Buffer): { inode: number; type: FileType } {
  return { type: v[0]! as FileType, inode: readU64(v, 1) };
}
