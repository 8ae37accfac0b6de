// Object operations over a Volume view (the caller's uid/gid): every S3 call becomes file-system calls, so
// POSIX permissions decide. A PUT streams into a hidden temporary file and is renamed into place at the
// end (an object being written is never visible); ETag and metadata live in xattrs.
import { createHash } from 'node:crypto';
import { FsError, isFsError } from '../errors.js';
import { ROOT_INODE, TYPE_DIRECTORY, TYPE_FILE, type Attr } from '../meta/types.js';
import { FileHandle } from '../sdk/file-handle.js';
import type { Volume } from '../sdk/volume.js';
import { O_RDONLY } from '../vfs/flags.js';
import { BodyHasher } from './checksum.js';
import { fromFsError, s3err } from './errors.js';
import { bucketNode, checkBucketName, keyPath, parseKey, TMP_DIR, UPLOADS_DIR, GATEWAY_DIR, walkParts, type Node } from './paths.js';
import { removeDeadTemps, tempPath, TEMP_MODE } from './temps.js';

export const XATTR_ETAG = 'user.s3.etag';
export const XATTR_META = 'user.s3.meta';
export const XATTR_MARKER = 'user.s3.dir';
export const XATTR_CREATED = 'user.s3.created';
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** Stored object headers (Content-Type and friends) and user metadata (x-amz-meta-*). */
export interface ObjectMeta {
  headers: Record<string, string>;
  user: Record<string, string>;
}

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
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-') && typeof v === 'string') m.user[k.slice(11)] = v;
  if (Buffer.byteLength(JSON.stringify(m.user)) > 2048 + 64) throw s3err('InvalidArgument', 'Your metadata headers exceed the maximum allowed metadata size (2 KB).');
  return m;
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

export class Objects {
  /** Smallest part but the last of a multipart upload. */
  minPartSize = 5 << 20;

  // ---- helpers ----

  async etagOf(vol: Volume, ino: number, a: Attr): Promise<string> {
    if (a.type === TYPE_DIRECTORY) return EMPTY_MD5;
    try {
      const v = (await vol.vfs.getxattr(vol.ctx, ino, XATTR_ETAG)).toString();
      const sp = v.indexOf(' ');
      // The ETag holds only while the file is as it was when it was stored.
      if (sp > 0 && v.slice(sp + 1) === stamp(a)) return v.slice(0, sp);
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
    return syntheticEtag(ino, a);
  }

  async metaOf(vol: Volume, ino: number): Promise<ObjectMeta> {
    try {
      return JSON.parse((await vol.vfs.getxattr(vol.ctx, ino, XATTR_META)).toString()) as ObjectMeta;
    } catch (e) {
      if (isFsError(e) || e instanceof SyntaxError) return { headers: {}, user: {} };
      throw e;
    }
  }

  /** A directory shows as a `dir/` object when it was made as one or is empty. */
  async isMarker(vol: Volume, ino: number): Promise<boolean> {
    try {
      await vol.vfs.getxattr(vol.ctx, ino, XATTR_MARKER);
      return true;
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
    try {
      return (await vol.vfs.readdir(vol.ctx, ino, false, undefined, 1)).length === 0;
    } catch (e) {
      if (isFsError(e, 'EACCES')) return false;
      throw e;
    }
  }

  private async writeStamp(vol: Volume, path: string, ino: number, etag: string, meta: ObjectMeta | undefined): Promise<Attr> {
    const a = await vol.vfs.getattr(vol.ctx, ino);
    await vol.setxattr(path, XATTR_ETAG, `${etag} ${stamp(a)}`);
    if (meta && (Object.keys(meta.headers).length || Object.keys(meta.user).length)) await vol.setxattr(path, XATTR_META, JSON.stringify(meta));
    return a;
  }

  /** Creates the gateway's hidden directories (as root, at start). */
  async prepare(root: Volume): Promise<void> {
    await root.mkdir(`/${GATEWAY_DIR}`, { recursive: true, mode: 0o755 });
    for (const d of [TMP_DIR, UPLOADS_DIR]) {
      await root.mkdir(d, { recursive: true });
      // Everyone may create here; the sticky bit keeps users from touching each other's files.
      await root.chmod(d, 0o1777);
    }
    // Uploads a crashed gateway left half-received would otherwise use space forever.
    await removeDeadTemps(root);
  }

  // ---- buckets ----

  async listBuckets(vol: Volume): Promise<Array<{ name: string; created: Date }>> {
    const out: Array<{ name: string; created: Date }> = [];
    for await (const e of vol.entries(ROOT_INODE, true)) {
      if (e.attr.type !== TYPE_DIRECTORY || e.name.startsWith('.') || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(e.name)) continue;
      let created = mtimeOf(e.attr);
      try {
        created = new Date((await vol.vfs.getxattr(vol.ctx, e.inode, XATTR_CREATED)).toString());
      } catch {
        /* made outside S3: its mtime will do */
      }
      out.push({ name: e.name, created });
    }
    return out;
  }

  async createBucket(vol: Volume, bucket: string, mode: number): Promise<void> {
    checkBucketName(bucket, true);
    try {
      const r = await vol.vfs.mkdir(vol.ctx, ROOT_INODE, bucket, mode);
      await vol.vfs.setxattr(vol.ctx, r.inode, XATTR_CREATED, Buffer.from(new Date().toISOString()));
    } catch (e) {
      if (isFsError(e, 'EEXIST')) {
        const b = await bucketNode(vol, bucket).catch(() => undefined);
        throw s3err(b && b.attr.uid === vol.ctx.uid ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { BucketName: bucket });
      }
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
  }

  async deleteBucket(vol: Volume, bucket: string): Promise<void> {
    checkBucketName(bucket, false);
    const b = await bucketNode(vol, bucket);
    // Only the bucket's owner (or root) deletes it, even where the root directory is writable by all.
    if (vol.ctx.uid !== 0 && vol.ctx.uid !== b.attr.uid) throw s3err('AccessDenied');
    try {
      await vol.vfs.rmdir(vol.ctx, ROOT_INODE, bucket);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
  }

  async headBucket(vol: Volume, bucket: string): Promise<Node> {
    checkBucketName(bucket, false);
    const b = await bucketNode(vol, bucket);
    try {
      await vol.vfs.access(vol.ctx, b.ino, 4 | 1);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e, 'bucket');
      throw e;
    }
    return b;
  }

  // ---- reading ----

  /** The object at key, or NoSuchKey. */
  async stat(vol: Volume, bucket: string, key: string): Promise<ObjectInfo> {
    const b = await bucketNode(vol, bucket);
    const k = parseKey(key);
    let n: Node | undefined;
    try {
      n = await walkParts(vol, b.ino, k.parts);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
    if (!n) throw s3err('NoSuchKey', undefined, { Key: key });
    if (k.marker) {
      if (n.attr.type !== TYPE_DIRECTORY || !(await this.isMarker(vol, n.ino))) throw s3err('NoSuchKey', undefined, { Key: key });
      return { ...n, etag: EMPTY_MD5, size: 0, mtime: mtimeOf(n.attr), marker: true };
    }
    if (n.attr.type !== TYPE_FILE) throw s3err('NoSuchKey', undefined, { Key: key });
    return { ...n, etag: await this.etagOf(vol, n.ino, n.attr), size: n.attr.length, mtime: mtimeOf(n.attr), marker: false };
  }

  /** Opens an object's file for reading (the open is checked against the caller's permissions). */
  async openRead(vol: Volume, info: ObjectInfo, path: string): Promise<FileHandle> {
    try {
      const { fh } = await vol.vfs.open(vol.ctx, info.ino, O_RDONLY);
      return new FileHandle(vol.vfs, vol.ctx, fh, info.ino, path, vol.dev);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
  }

  // ---- writing ----

  /** Streams body into a new hidden temp file; returns its path, inode and the body's MD5. Removes it on failure. */
  async receive(vol: Volume, dir: string, body: AsyncIterable<Buffer>, hasher: BodyHasher, expect: number | undefined, verify: () => string): Promise<{ path: string; ino: number; md5: string }> {
    const path = tempPath(vol, dir);
    let fh: FileHandle;
    try {
      fh = await vol.open(path, 'wx', TEMP_MODE);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
    let ok = false;
    try {
      let off = 0;
      for await (const b of body) {
        hasher.update(b);
        await fh.write(b, 0, b.length, off);
        off += b.length;
        if (expect !== undefined && off > expect) throw s3err('InvalidRequest', 'The body is longer than Content-Length.');
      }
      if (expect !== undefined && off !== expect) throw s3err('IncompleteBody');
      const md5 = verify();
      await fh.close();
      ok = true;
      return { path, ino: fh.ino, md5 };
    } finally {
      if (!ok) {
        await fh.close().catch(() => undefined);
        await vol.unlink(path).catch(() => undefined);
      }
    }
  }

  /** mkdir -p of a key's parent directories, as the caller. */
  private async ensureDirs(vol: Volume, bucket: string, parts: string[]): Promise<void> {
    if (parts.length === 0) return;
    try {
      await vol.mkdir(keyPath(bucket, parts), { recursive: true, mode: 0o777 });
    } catch (e) {
      if (isFsError(e, 'ENOTDIR') || isFsError(e, 'EEXIST')) throw s3err('XFerryParentIsObject');
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
  }

  /** Moves a finished temp file into place as the object (replacing an older one). */
  async install(vol: Volume, bucket: string, key: string, tmp: string): Promise<void> {
    const k = parseKey(key);
    const dest = keyPath(bucket, k.parts);
    try {
      // The mode an object created in one step would have had (temp files are private while written).
      await vol.chmod(tmp, 0o666 & ~(vol.ctx.umask ?? 0o022)).catch((e: unknown) => {
        throw e instanceof FsError ? fromFsError(e) : e;
      });
      for (let attempt = 0; ; attempt++) {
        await bucketNode(vol, bucket);
        await this.ensureDirs(vol, bucket, k.parts.slice(0, -1));
        try {
          await vol.rename(tmp, dest);
          return;
        } catch (e) {
          // A delete may have removed the now-empty parent directory between mkdir and rename.
          if (isFsError(e, 'ENOENT') && attempt < 3) continue;
          if (isFsError(e, 'EISDIR') || isFsError(e, 'ENOTEMPTY') || isFsError(e, 'EEXIST')) throw s3err('XFerryObjectIsDirectory', undefined, { Key: key });
          if (isFsError(e, 'ENOTDIR')) throw s3err('XFerryParentIsObject', undefined, { Key: key });
          if (e instanceof FsError) throw fromFsError(e);
          throw e;
        }
      }
    } catch (e) {
      await vol.unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  async putObject(
    vol: Volume,
    bucket: string,
    key: string,
    body: AsyncIterable<Buffer>,
    hasher: BodyHasher,
    expect: number | undefined,
    verify: () => string,
    meta: ObjectMeta,
  ): Promise<string> {
    await bucketNode(vol, bucket);
    const k = parseKey(key);
    if (k.marker) {
      for await (const b of body) {
        hasher.update(b);
        if (hasher.bytes > 0) throw s3err('InvalidArgument', 'Keys ending in "/" are directories and cannot hold data.');
      }
      verify();
      const dir = keyPath(bucket, k.parts);
      await this.ensureDirs(vol, bucket, k.parts);
      try {
        await vol.setxattr(dir, XATTR_MARKER, '1');
      } catch (e) {
        if (e instanceof FsError) throw fromFsError(e);
        throw e;
      }
      return EMPTY_MD5;
    }
    const t = await this.receive(vol, TMP_DIR, body, hasher, expect, verify);
    try {
      await this.writeStamp(vol, t.path, t.ino, t.md5, meta);
    } catch (e) {
      await vol.unlink(t.path).catch(() => undefined);
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
    await this.install(vol, bucket, key, t.path);
    return t.md5;
  }

  /** Removes empty directories from `parts`' parent upwards (not the bucket, not explicit markers). */
  private async pruneDirs(vol: Volume, bucket: string, parts: string[]): Promise<void> {
    for (let n = parts.length; n > 0; n--) {
      const path = keyPath(bucket, parts.slice(0, n));
      try {
        const st = await vol.lstat(path);
        try {
          await vol.vfs.getxattr(vol.ctx, st.ino, XATTR_MARKER);
          return;
        } catch {
          /* not a marker: may go */
        }
        await vol.rmdir(path);
      } catch {
        return;
      }
    }
  }

  async deleteObject(vol: Volume, bucket: string, key: string): Promise<void> {
    await bucketNode(vol, bucket);
    const k = parseKey(key);
    const path = keyPath(bucket, k.parts);
    try {
      if (k.marker) {
        const st = await vol.lstat(path);
        if (!st.isDirectory()) return;
        try {
          await vol.rmdir(path);
        } catch (e) {
          if (!isFsError(e, 'ENOTEMPTY')) throw e;
          await vol.removexattr(path, XATTR_MARKER).catch(() => undefined);
          return;
        }
      } else {
        const st = await vol.lstat(path);
        if (st.isDirectory()) return;
        await vol.unlink(path);
      }
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return;
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
    await this.pruneDirs(vol, bucket, k.parts.slice(0, -1));
  }

  /** Server-side copy: the new file shares the source's slices (no data is read or written). */
  async copyObject(
    vol: Volume,
    src: { bucket: string; key: string },
    dst: { bucket: string; key: string },
    replaceMeta: ObjectMeta | undefined,
    cond: (info: ObjectInfo) => void,
  ): Promise<{ etag: string; mtime: Date }> {
    const info = await this.stat(vol, src.bucket, src.key);
    cond(info);
    await bucketNode(vol, dst.bucket);
    const dk = parseKey(dst.key);
    const same = src.bucket === dst.bucket && src.key === dst.key;
    if (same && !replaceMeta) {
      throw s3err('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the metadata.');
    }
    const srcPath = keyPath(src.bucket, parseKey(src.key).parts);
    if (info.marker || dk.marker) {
      if (!(info.marker && dk.marker)) throw s3err('InvalidRequest', 'Directory markers copy only to directory markers.');
      await this.putObject(vol, dst.bucket, dst.key, (async function* () {})(), new BodyHasher(undefined), 0, () => EMPTY_MD5, { headers: {}, user: {} });
      return { etag: EMPTY_MD5, mtime: new Date() };
    }
    const meta = replaceMeta ?? (await this.metaOf(vol, info.ino));
    if (same) {
      try {
        await vol.setxattr(srcPath, XATTR_META, JSON.stringify(meta));
        const a = await vol.vfs.getattr(vol.ctx, info.ino);
        // Keep the ETag valid: setxattr changes ctime, not mtime.
        return { etag: await this.etagOf(vol, info.ino, a), mtime: mtimeOf(a) };
      } catch (e) {
        if (e instanceof FsError) throw fromFsError(e);
        throw e;
      }
    }
    const tmp = tempPath(vol);
    const s = await this.openRead(vol, info, srcPath);
    let a: Attr;
    try {
      const d = await vol.open(tmp, 'wx', TEMP_MODE).catch((e: unknown) => {
        throw e instanceof FsError ? fromFsError(e) : e;
      });
      try {
        await vol.vfs.copyFileRange(vol.ctx, s.fd, 0, d.fd, 0, info.size);
        await d.close();
        a = await this.writeStamp(vol, tmp, d.ino, info.etag, meta);
      } catch (e) {
        await d.close().catch(() => undefined);
        await vol.unlink(tmp).catch(() => undefined);
        if (e instanceof FsError) throw fromFsError(e);
        throw e;
      }
    } finally {
      await s.close().catch(() => undefined);
    }
    await this.install(vol, dst.bucket, dst.key, tmp);
    return { etag: info.etag, mtime: mtimeOf(a) };
  }
}

