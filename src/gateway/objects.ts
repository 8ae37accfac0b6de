// Object operations over a VfsView (the caller's uid/gid): every S3 call becomes file-system calls, so
// POSIX permissions decide. A PUT streams into a hidden temporary file and is renamed into place at the
// end (an object being written is never visible); ETag and metadata live in xattrs.
import { createHash } from 'node:crypto';
import { FsError, isFsError } from '../errors.js';
import { O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } from '../vfs/flags.js';
import { RENAME_NOREPLACE, XATTR_CREATE } from '../meta/types.js';
import { Access, ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, isDirectory, type Attr, type VfsView } from '../vfs/view.js';
import { BodyHasher, digester, type Algo, type Checksum } from './checksum.js';
import { headerToText } from './header-text.js';
import { fromFsError, s3err } from './errors.js';
import { etagMatches } from './http.js';
import { bucketNode, checkBucketName, keyPath, parseKey, TMP_DIR, UPLOADS_DIR, GATEWAY_DIR, walkParts, type Node } from './paths.js';
import { XATTR_TAGS, readTags, type Tags } from './tags.js';
import { removeDeadTemps, tempName, TEMP_MODE } from './temps.js';

export const XATTR_ETAG = 'user.s3.etag';
export const XATTR_META = 'user.s3.meta';
export const XATTR_MARKER = 'user.s3.dir';
export const XATTR_CREATED = 'user.s3.created';
/** Part sizes of an object made by CompleteMultipartUpload, as runs [[size, count], ...] (valid while its ETag is). */
export const XATTR_PARTS = 'user.s3.parts';
/** `ALGO TYPE VALUE STAMP`: the object's flexible checksum, valid while the file is as it was stored (as the ETag). */
export const XATTR_CHECKSUM = 'user.s3.checksum';
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** Stored object headers (Content-Type and friends) and user metadata (x-amz-meta-*). */
export interface ObjectMeta {
  headers: Record<string, string>;
  user: Record<string, string>;
}

/** S3's limit on user metadata (x-amz-meta-*). */
const MAX_USER_METADATA = 2048;

export const STORED_HEADERS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];

export function metaFromHeaders(h: Record<string, string | string[] | undefined>): ObjectMeta {
  const m: ObjectMeta = { headers: {}, user: {} };
  for (const name of STORED_HEADERS) {
    const v = h[name];
    if (typeof v === 'string') {
      // aws-chunked is how the body travelled, not how the object is encoded.
      if (name === 'content-encoding') {
        const rest = v.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked').join(',');
        if (rest) m.headers[name] = rest;
      } else m.headers[name] = v;
    }
  }
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-') && typeof v === 'string') m.user[k.slice(11)] = headerToText(v);
  // As S3 measures it: the UTF-8 bytes of each name (after x-amz-meta-) and value, 2 KiB in all.
  let size = 0;
  for (const [k, v] of Object.entries(m.user)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (size > MAX_USER_METADATA) throw s3err('MetadataTooLarge', undefined, { Size: String(size), MaxSizeAllowed: String(MAX_USER_METADATA) });
  return m;
}

/** A flexible checksum kept with an object: of the whole data, or (multipart COMPOSITE) of its parts' checksums. */
export interface StoredChecksum {
  algo: Algo;
  type: 'FULL_OBJECT' | 'COMPOSITE';
  /** Base64, with `-N` (the part count) for COMPOSITE. */
  value: string;
}

export function fullObject(c: Checksum): StoredChecksum {
  return { algo: c.algo, type: 'FULL_OBJECT', value: c.digest.toString('base64') };
}

/** What an object may carry besides its ETag and metadata. */
export interface Extras {
  checksum?: StoredChecksum;
  tags?: Tags;
  /** Part sizes of a multipart object (GET ?partNumber, GetObjectAttributes). */
  parts?: number[];
}

export interface ObjectInfo extends Node {
  etag: string;
  size: number;
  mtime: Date;
  marker: boolean;
}

export function mtimeOf(a: Attr): Date {
  return new Date(a.mtime * 1000 + Math.floor(a.mtimensec / 1e6));
}

function stamp(a: Attr): string {
  return `${a.mtime}.${a.mtimensec} ${a.length}`;
}

/** The ETag of a file never written through S3 (or changed since): stable while the file does not change. */
function syntheticEtag(ino: number, a: Attr): string {
  return createHash('md5').update(`${ino}:${stamp(a)}`).digest('hex') + '-1';
}

/**
 * What a write asks of the object it replaces, checked in the same metadata transaction as the rename that
 * makes the new object visible: If-None-Match: * (no object may exist: RENAME_NOREPLACE) or If-Match: ETAG
 * (the object must be the one with that ETag: a rename expecting that inode, unchanged).
 */
export interface WriteCondition {
  noneMatch?: boolean;
  /** The If-Match header as sent (one or more ETags, or *). */
  match?: string;
}

/** Attempts of an If-Match write whose object was replaced by one with the same ETag meanwhile. */
const CAS_ATTEMPTS = 5;

/** A hidden temporary file being written: renamed into place when complete, unlinked otherwise. */
export interface TempFile {
  dir: number;
  name: string;
  ino: number;
}

/** FsErrors become S3 errors (AccessDenied, ...); anything else goes on as it is. */
export function s3Rethrow(e: unknown): never {
  if (e instanceof FsError) throw fromFsError(e);
  throw e;
}

/** Creates a new empty temp file (temps.ts names it) in directory path for writing. */
export async function createTemp(view: VfsView, dirPath: string, mode: number): Promise<TempFile & { fh: number }> {
  // A read-only key is refused before a byte is received; the temp file itself is the gateway's, outside any
  // key's subdir and buckets (publish() then puts it in place under the key's limits).
  view.mayWrite();
  const door = view.door();
  const dir = (await door.resolve(dirPath)).inode;
  const name = tempName(view);
  const r = await door.create(dir, name, mode, O_WRONLY | O_CREAT | O_EXCL);
  return { dir, name, ino: r.inode, fh: r.fh };
}

/** Removes a temporary file, quietly: it is cleanup after another error. */
export async function dropTemp(view: VfsView, t: TempFile): Promise<void> {
  await view.door().unlink(t.dir, t.name).catch(() => undefined);
}

export class Objects {
  /** Smallest part but the last of a multipart upload. */
  minPartSize = 5 << 20;

  // ---- helpers ----

  async etagOf(view: VfsView, ino: number, a: Attr): Promise<string> {
    if (a.type === TYPE_DIRECTORY) return EMPTY_MD5;
    try {
      const v = (await view.getxattr(ino, XATTR_ETAG)).toString();
      const sp = v.indexOf(' ');
      // The ETag holds only while the file is as it was when it was stored.
      if (sp > 0 && v.slice(sp + 1) === stamp(a)) return v.slice(0, sp);
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
    return syntheticEtag(ino, a);
  }

  async metaOf(view: VfsView, ino: number): Promise<ObjectMeta> {
    try {
      return JSON.parse((await view.getxattr(ino, XATTR_META)).toString()) as ObjectMeta;
    } catch (e) {
      if (isFsError(e) || e instanceof SyntaxError) return { headers: {}, user: {} };
      throw e;
    }
  }

  /** A directory shows as a `dir/` object when it was made as one or is empty. */
  async isMarker(view: VfsView, ino: number): Promise<boolean> {
    try {
      await view.getxattr(ino, XATTR_MARKER);
      return true;
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
    try {
      return (await view.readdir(ino, false, undefined, 1)).length === 0;
    } catch (e) {
      if (isFsError(e, 'EACCES')) return false;
      throw e;
    }
  }

  /** Stores the ETag and checksum (valid while the file stays as it is now), the object's metadata, tags and part sizes on ino. */
  async writeStamp(view: VfsView, ino: number, etag: string, meta: ObjectMeta | undefined, extra: Extras = {}): Promise<Attr> {
    const a = await view.getattr(ino);
    await view.setxattr(ino, XATTR_ETAG, `${etag} ${stamp(a)}`);
    if (meta && (Object.keys(meta.headers).length || Object.keys(meta.user).length)) await view.setxattr(ino, XATTR_META, JSON.stringify(meta));
    const c = extra.checksum;
    if (c) await view.setxattr(ino, XATTR_CHECKSUM, `${c.algo} ${c.type} ${c.value} ${stamp(a)}`);
    if (extra.tags?.length) await view.setxattr(ino, XATTR_TAGS, JSON.stringify(extra.tags));
    if (extra.parts) {
      // Runs keep 10,000 parts of one size small (an xattr value is at most 64 KiB).
      const runs: Array<[number, number]> = [];
      for (const n of extra.parts) {
        const last = runs[runs.length - 1];
        if (last && last[0] === n) last[1]++;
        else runs.push([n, 1]);
      }
      await view.setxattr(ino, XATTR_PARTS, `${JSON.stringify(runs)} ${stamp(a)}`);
    }
    return a;
  }

  /** The part sizes of an object CompleteMultipartUpload made and nothing changed since; undefined otherwise. */
  async partsOf(view: VfsView, info: ObjectInfo): Promise<number[] | undefined> {
    if (info.marker) return undefined;
    let v: string;
    try {
      v = (await view.getxattr(info.ino, XATTR_PARTS)).toString();
    } catch (e) {
      if (isFsError(e)) return undefined;
      throw e;
    }
    const sp = v.lastIndexOf(' ', v.lastIndexOf(' ') - 1);
    if (sp < 0 || v.slice(sp + 1) !== stamp(info.attr)) return undefined;
    try {
      const sizes: number[] = [];
      for (const [size, count] of JSON.parse(v.slice(0, sp)) as Array<[number, number]>) for (let i = 0; i < count; i++) sizes.push(size);
      return sizes;
    } catch {
      return undefined;
    }
  }

  /** The checksum stored with ino, if the file is still as it was then. */
  async checksumOf(view: VfsView, ino: number, a: Attr): Promise<StoredChecksum | undefined> {
    try {
      const [algo, type, value, ...rest] = (await view.getxattr(ino, XATTR_CHECKSUM)).toString().split(' ');
      if (rest.join(' ') !== stamp(a)) return undefined;
      return { algo: algo as Algo, type: type as StoredChecksum['type'], value: value! };
    } catch (e) {
      if (isFsError(e)) return undefined;
      throw e;
    }
  }

  /** Reads a file through to compute a checksum of its data (copies that ask for a new algorithm). */
  async computeChecksum(view: VfsView, ino: number, size: number, algo: Algo): Promise<Checksum> {
    const d = digester(algo);
    const fh = await view.open(ino, O_RDONLY).catch(s3Rethrow);
    try {
      for (let off = 0; off < size; ) {
        const b = await view.read(fh.fh, off, Math.min(4 << 20, size - off));
        if (b.length === 0) break;
        d.update(b);
        off += b.length;
      }
    } catch (e) {
      s3Rethrow(e);
    } finally {
      await view.release(fh.fh).catch(() => undefined);
    }
    return { algo, digest: d.digest() };
  }

  /** Creates the gateway's hidden directories (as root, at start). */
  async prepare(root: VfsView): Promise<void> {
    await root.mkdirs(`/${GATEWAY_DIR}`, 0o755);
    for (const d of [TMP_DIR, UPLOADS_DIR]) {
      const r = await root.mkdirs(d, 0o777);
      // Everyone may create here; the sticky bit keeps users from touching each other's files, and no read
      // bit keeps them from listing each other's temp names and upload ids (the gateway lists as root).
      await root.chmod(r.inode, 0o1733);
    }
    // Uploads a crashed gateway left half-received would otherwise use space forever.
    await removeDeadTemps(root);
  }

  // ---- buckets ----

  async listBuckets(view: VfsView): Promise<Array<{ name: string; created: Date }>> {
    const out: Array<{ name: string; created: Date }> = [];
    for await (const e of view.entries(view.root, true)) {
      if (!isDirectory(e.attr) || e.name.startsWith('.') || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(e.name)) continue;
      // Only the buckets this key can list (S3 shows a caller its own buckets, not everyone's).
      if (!(await view.access(e.inode, Access.LIST).then(() => true, () => false))) continue;
      let created = mtimeOf(e.attr);
      try {
        created = new Date((await view.getxattr(e.inode, XATTR_CREATED)).toString());
      } catch {
        /* made outside S3: its mtime will do */
      }
      out.push({ name: e.name, created });
    }
    return out;
  }

  async createBucket(view: VfsView, bucket: string, mode: number): Promise<void> {
    checkBucketName(bucket, true);
    try {
      const r = await view.mkdir(view.root, bucket, mode);
      // Exactly the mode asked for (mkdir applies the umask; a shared bucket's 1777 keeps its bits).
      if ((r.attr.mode & 0o7777) !== mode) await view.chmod(r.inode, mode);
      await view.setxattr(r.inode, XATTR_CREATED, new Date().toISOString());
    } catch (e) {
      if (isFsError(e, 'EEXIST')) {
        const b = await bucketNode(view, bucket).catch(() => undefined);
        throw s3err(b && b.attr.uid === view.uid ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { BucketName: bucket });
      }
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
  }

  async deleteBucket(view: VfsView, bucket: string): Promise<void> {
    checkBucketName(bucket, false);
    const b = await bucketNode(view, bucket);
    // Only the bucket's owner (or root) deletes it, even where the root directory is writable by all.
    if (view.uid !== 0 && view.uid !== b.attr.uid) throw s3err('AccessDenied');
    try {
      await view.rmdir(view.root, bucket);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
  }

  async headBucket(view: VfsView, bucket: string): Promise<Node> {
    checkBucketName(bucket, false);
    const b = await bucketNode(view, bucket);
    try {
      await view.access(b.ino, Access.LIST);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
    return b;
  }

  // ---- reading ----

  /** The object at key, or NoSuchKey. */
  async stat(view: VfsView, bucket: string, key: string): Promise<ObjectInfo> {
    const b = await bucketNode(view, bucket);
    const k = parseKey(key);
    let n: Node | undefined;
    try {
      n = await walkParts(view, b.ino, k.parts);
    } catch (e) {
      s3Rethrow(e);
    }
    if (!n) throw s3err('NoSuchKey', undefined, { Key: key });
    if (k.marker) {
      if (!isDirectory(n.attr) || !(await this.isMarker(view, n.ino))) throw s3err('NoSuchKey', undefined, { Key: key });
      return { ...n, etag: EMPTY_MD5, size: 0, mtime: mtimeOf(n.attr), marker: true };
    }
    if (n.attr.type !== TYPE_FILE) throw s3err('NoSuchKey', undefined, { Key: key });
    return { ...n, etag: await this.etagOf(view, n.ino, n.attr), size: n.attr.length, mtime: mtimeOf(n.attr), marker: false };
  }

  /** Opens an object's file for reading (the open is checked against the caller's permissions); returns the handle. */
  async openRead(view: VfsView, info: ObjectInfo): Promise<number> {
    try {
      return (await view.open(info.ino, O_RDONLY)).fh;
    } catch (e) {
      s3Rethrow(e);
    }
  }

  // ---- writing ----

  /** Streams body into a new hidden temp file in dirPath, with its MD5. Removes it on failure. */
  async receive(view: VfsView, dirPath: string, body: AsyncIterable<Buffer>, hasher: BodyHasher, expect: number | undefined, verify: () => string): Promise<TempFile & { md5: string }> {
    const t = await createTemp(view, dirPath, TEMP_MODE).catch(s3Rethrow);
    let open = true;
    try {
      let off = 0;
      for await (const b of body) {
        hasher.update(b);
        await view.write(t.fh, off, b);
        off += b.length;
        if (expect !== undefined && off > expect) throw s3err('InvalidRequest', 'The body is longer than Content-Length.');
      }
      if (expect !== undefined && off !== expect) throw s3err('IncompleteBody');
      const md5 = verify();
      // An S3 PUT answered is durable: the blocks are synced, not only committed as a close does.
      await view.fsync(t.fh);
      open = false;
      await view.release(t.fh);
      return { dir: t.dir, name: t.name, ino: t.ino, md5 };
    } catch (e) {
      if (open) await view.release(t.fh).catch(() => undefined);
      await dropTemp(view, t);
      throw e;
    }
  }

  /** mkdir -p of a key's parent directories, as the caller; returns the innermost. */
  private async ensureDirs(view: VfsView, bucket: string, parts: string[]): Promise<number> {
    try {
      return (await view.mkdirs(keyPath(bucket, parts), 0o777)).inode;
    } catch (e) {
      if (isFsError(e, 'ENOTDIR') || isFsError(e, 'EEXIST')) throw s3err('XFerryParentIsObject');
      s3Rethrow(e);
    }
  }

  /** Moves a finished temp file into place as the object (replacing an older one, if `cond` allows); removes it on failure. */
  async install(view: VfsView, bucket: string, key: string, tmp: TempFile, cond: WriteCondition = {}): Promise<void> {
    try {
      await this.commit(view, bucket, key, tmp, cond);
    } catch (e) {
      await dropTemp(view, tmp);
      throw e;
    }
  }

  /** install() leaving the temp file where it was on failure (the caller decides when it goes). */
  async commit(view: VfsView, bucket: string, key: string, tmp: TempFile, cond: WriteCondition = {}): Promise<void> {
    const k = parseKey(key);
    const name = k.parts[k.parts.length - 1]!;
    // The mode an object created in one step would have had (temp files are private while written).
    await view.door().chmod(tmp.ino, 0o666 & ~(view.ctx.umask ?? 0o022)).catch(s3Rethrow);
    for (let attempt = 0; ; attempt++) {
      const b = await bucketNode(view, bucket);
      const dir = k.parts.length > 1 ? await this.ensureDirs(view, bucket, k.parts.slice(0, -1)) : b.ino;
      try {
        if (cond.match !== undefined) {
          const cur = await this.current(view, dir, name, key);
          if (!etagMatches(cond.match, cur.etag)) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
          const a = cur.attr;
          await view.publish(tmp.dir, tmp.name, dir, name, 0, { inode: cur.ino, mtime: a.mtime, mtimensec: a.mtimensec, length: a.length });
        } else {
          await view.publish(tmp.dir, tmp.name, dir, name, cond.noneMatch ? RENAME_NOREPLACE : 0);
        }
        return;
      } catch (e) {
        // A delete may have removed the now-empty parent directory between mkdir and rename.
        if (isFsError(e, 'ENOENT') && attempt < 3) continue;
        // The object was replaced between reading its ETag and the rename: look again (it may match).
        if (isFsError(e, 'ESTALE')) {
          if (attempt < CAS_ATTEMPTS) continue;
          throw s3err('ConditionalRequestConflict', undefined, { Key: key });
        }
        // An append-only key never replaces an object (publish() made the rename RENAME_NOREPLACE).
        if (isFsError(e, 'EEXIST') && !cond.noneMatch && view.ctx.limit?.access === 'append') throw s3err('AccessDenied', 'This access key may only add new objects (append-only).');
        if (isFsError(e, 'EEXIST') && cond.noneMatch) {
          const there = await view.lookup(dir, name).catch(() => undefined);
          if (!there || !isDirectory(there.attr)) throw s3err('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
        }
        if (isFsError(e, 'EISDIR') || isFsError(e, 'ENOTEMPTY') || isFsError(e, 'EEXIST')) throw s3err('XFerryObjectIsDirectory', undefined, { Key: key });
        if (isFsError(e, 'ENOTDIR')) throw s3err('XFerryParentIsObject', undefined, { Key: key });
        s3Rethrow(e);
      }
    }
  }

  /** The object named `name` in dir for an If-Match write: NoSuchKey when there is none (as S3). */
  private async current(view: VfsView, dir: number, name: string, key: string): Promise<Node & { etag: string }> {
    let r;
    try {
      r = await view.lookup(dir, name);
    } catch (e) {
      if (isFsError(e, 'ENOENT')) throw s3err('NoSuchKey', undefined, { Key: key });
      throw e;
    }
    if (r.attr.type !== TYPE_FILE) throw s3err('NoSuchKey', undefined, { Key: key });
    return { ino: r.inode, attr: r.attr, etag: await this.etagOf(view, r.inode, r.attr) };
  }

  async putObject(
    view: VfsView,
    bucket: string,
    key: string,
    body: AsyncIterable<Buffer>,
    hasher: BodyHasher,
    expect: number | undefined,
    verify: () => string,
    meta: ObjectMeta,
    tags?: Tags,
    cond: WriteCondition = {},
  ): Promise<{ etag: string; checksum?: StoredChecksum }> {
    await bucketNode(view, bucket);
    const k = parseKey(key);
    if (k.marker) {
      for await (const b of body) {
        hasher.update(b);
        if (hasher.bytes > 0) throw s3err('InvalidArgument', 'Keys ending in "/" are directories and cannot hold data.');
      }
      verify();
      await this.putMarker(view, bucket, key, k.parts, cond, meta, tags);
      return { etag: EMPTY_MD5 };
    }
    const t = await this.receive(view, TMP_DIR, body, hasher, expect, verify);
    const checksum = hasher.checksum && fullObject(hasher.checksum);
    try {
      await this.writeStamp(view, t.ino, t.md5, meta, { checksum, tags });
    } catch (e) {
      await dropTemp(view, t);
      s3Rethrow(e);
    }
    await this.install(view, bucket, key, t, cond);
    return { etag: t.md5, checksum };
  }

  /**
   * A `dir/` object: the directory, marked. Its conditions hold against a marker made meanwhile by another
   * PUT (the mark is set with XATTR_CREATE), not against one that an mkdir through POSIX made meanwhile.
   */
  private async putMarker(view: VfsView, bucket: string, key: string, parts: string[], cond: WriteCondition, meta: ObjectMeta, tags?: Tags): Promise<void> {
    let exists = false;
    if (cond.noneMatch || cond.match !== undefined) {
      const b = await bucketNode(view, bucket);
      const n = await walkParts(view, b.ino, parts).catch(s3Rethrow);
      exists = !!n && isDirectory(n.attr) && (await this.isMarker(view, n.ino));
      if (cond.noneMatch && exists) throw s3err('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
      if (cond.match !== undefined && !exists) throw s3err('NoSuchKey', undefined, { Key: key });
      if (cond.match !== undefined && !etagMatches(cond.match, EMPTY_MD5)) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
    const dir = await this.ensureDirs(view, bucket, parts);
    try {
      await view.setxattr(dir, XATTR_MARKER, '1', cond.noneMatch ? XATTR_CREATE : 0);
    } catch (e) {
      if (isFsError(e, 'EEXIST')) throw s3err('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
      s3Rethrow(e);
    }
    if (tags?.length) await view.setxattr(dir, XATTR_TAGS, JSON.stringify(tags)).catch(s3Rethrow);
    // A marker keeps its metadata as any object does (s3fs keeps a directory's mode, owner and times in
    // x-amz-meta-*); a PUT replaces the earlier marker's.
    await this.setMeta(view, dir, meta);
  }

  /** Stores an object's metadata on ino, or removes what was there when there is none. */
  private async setMeta(view: VfsView, ino: number, meta: ObjectMeta): Promise<void> {
    try {
      if (Object.keys(meta.headers).length || Object.keys(meta.user).length) await view.setxattr(ino, XATTR_META, JSON.stringify(meta));
      else await view.removexattr(ino, XATTR_META);
    } catch (e) {
      if (!isFsError(e, 'ENODATA')) s3Rethrow(e);
    }
  }

  /** Removes empty directories from `parts`' parent upwards (not the bucket, not explicit markers). */
  private async pruneDirs(view: VfsView, bucket: string, parts: string[]): Promise<void> {
    for (let n = parts.length; n > 0; n--) {
      const path = keyPath(bucket, parts.slice(0, n));
      try {
        const st = await view.resolve(path, false);
        try {
          await view.getxattr(st.inode, XATTR_MARKER);
          return;
        } catch {
          /* not a marker: may go */
        }
        const p = await view.parentOf(path);
        await view.rmdir(p.parent, p.name);
      } catch {
        return;
      }
    }
  }

  async deleteObject(view: VfsView, bucket: string, key: string): Promise<void> {
    await bucketNode(view, bucket);
    const k = parseKey(key);
    const path = keyPath(bucket, k.parts);
    try {
      const st = await view.resolve(path, false);
      const p = await view.parentOf(path);
      if (k.marker) {
        if (!isDirectory(st.attr)) return;
        try {
          await view.rmdir(p.parent, p.name);
        } catch (e) {
          if (!isFsError(e, 'ENOTEMPTY')) throw e;
          await view.removexattr(st.inode, XATTR_MARKER).catch(() => undefined);
          await view.removexattr(st.inode, XATTR_META).catch(() => undefined); // the dir/ object's, gone with it
          return;
        }
      } else {
        if (isDirectory(st.attr)) return;
        await view.unlink(p.parent, p.name);
      }
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return;
      s3Rethrow(e);
    }
    await this.pruneDirs(view, bucket, k.parts.slice(0, -1));
  }

  /** Server-side copy: the new file shares the source's slices (no data is read or written). */
  async copyObject(
    view: VfsView,
    src: { bucket: string; key: string },
    dst: { bucket: string; key: string },
    replaceMeta: ObjectMeta | undefined,
    cond: (info: ObjectInfo) => void,
    dstCond: WriteCondition = {},
    /** The copy's tags; undefined: the source's (x-amz-tagging-directive COPY). */
    replaceTags?: Tags,
    /** x-amz-checksum-algorithm: the copy's checksum, computed when the source has no full-object one of it. */
    algo?: Algo,
  ): Promise<{ etag: string; mtime: Date; checksum?: StoredChecksum }> {
    const info = await this.stat(view, src.bucket, src.key);
    cond(info);
    await bucketNode(view, dst.bucket);
    const dk = parseKey(dst.key);
    const same = src.bucket === dst.bucket && src.key === dst.key;
    if (same && !replaceMeta && !replaceTags && !algo) {
      throw s3err('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the metadata.');
    }
    if (info.marker || dk.marker) {
      if (!(info.marker && dk.marker)) throw s3err('InvalidRequest', 'Directory markers copy only to directory markers.');
      const meta = replaceMeta ?? (await this.metaOf(view, info.ino));
      const tags = replaceTags ?? (await readTags(view, info.ino));
      await this.putObject(view, dst.bucket, dst.key, (async function* () {})(), new BodyHasher(undefined), 0, () => EMPTY_MD5, meta, tags, dstCond);
      return { etag: EMPTY_MD5, mtime: new Date() };
    }
    const meta = replaceMeta ?? (await this.metaOf(view, info.ino));
    const tags = replaceTags ?? (await readTags(view, info.ino));
    let checksum = await this.checksumOf(view, info.ino, info.attr);
    if (algo && !(checksum?.algo === algo && checksum.type === 'FULL_OBJECT')) {
      checksum = fullObject(await this.computeChecksum(view, info.ino, info.size, algo));
    }
    if (same) {
      // A metadata-only copy onto itself replaces nothing: its conditions are about this very object.
      if (dstCond.noneMatch) throw s3err('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
      if (dstCond.match !== undefined && !etagMatches(dstCond.match, info.etag)) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
      // Replacing an object's metadata is an overwrite: not for an append-only key.
      if (view.ctx.limit && view.ctx.limit.access !== 'rw') throw s3err('AccessDenied');
      try {
        await view.setxattr(info.ino, XATTR_META, JSON.stringify(meta));
        await view.setxattr(info.ino, XATTR_TAGS, JSON.stringify(tags));
        // Keep the ETag valid: setxattr changes ctime, not mtime.
        const a = await this.writeStamp(view, info.ino, await this.etagOf(view, info.ino, info.attr), undefined, { checksum });
        return { etag: await this.etagOf(view, info.ino, a), mtime: mtimeOf(a), checksum };
      } catch (e) {
        s3Rethrow(e);
      }
    }
    const s = await this.openRead(view, info);
    let a: Attr;
    let d: TempFile & { fh: number };
    try {
      d = await createTemp(view, TMP_DIR, TEMP_MODE).catch(s3Rethrow);
      let open = true;
      try {
        await view.copyFileRange(s, 0, d.fh, 0, info.size);
        open = false;
        await view.release(d.fh);
        a = await this.writeStamp(view, d.ino, info.etag, meta, { checksum, tags });
      } catch (e) {
        if (open) await view.release(d.fh).catch(() => undefined);
        await dropTemp(view, d);
        s3Rethrow(e);
      }
    } finally {
      await view.release(s).catch(() => undefined);
    }
    await this.install(view, dst.bucket, dst.key, d, dstCond);
    return { etag: info.etag, mtime: mtimeOf(a), checksum };
  }
}
