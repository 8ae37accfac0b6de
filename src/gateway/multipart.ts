// Multipart uploads. Each upload is a directory /.ferry-gateway/uploads/<id> owned by the initiator (mode
// 0700, so only that uid and root touch it) holding one file per part; complete lays the parts' slices
// one after another into a new file (copy_file_range: no data is rewritten) and renames it into place.
import { createHash, randomBytes } from 'node:crypto';
import { FsError, isFsError } from '../errors.js';
import { TYPE_FILE } from '../meta/types.js';
import type { Volume } from '../sdk/volume.js';
import { O_RDONLY } from '../vfs/flags.js';
import { BodyHasher } from './checksum.js';
import { fromFsError, s3err } from './errors.js';
import { cmpKey } from './keyorder.js';
import { Objects, XATTR_ETAG, mtimeOf, type ObjectMeta } from './objects.js';
import { bucketNode, parseKey, UPLOADS_DIR } from './paths.js';
import { tempPath, TEMP_MODE } from './temps.js';

const XATTR_UPLOAD = 'user.s3.upload';
export const MAX_PARTS = 10000;

export interface UploadRecord {
  bucket: string;
  key: string;
  initiated: string;
  meta: ObjectMeta;
}

export interface PartInfo {
  number: number;
  etag: string;
  size: number;
  mtime: Date;
}

const partName = (n: number) => String(n).padStart(5, '0');

function wrap(e: unknown): never {
  if (e instanceof FsError) throw fromFsError(e);
  throw e;
}

export class Multipart {
  constructor(private readonly objects: Objects) {}

  private dir(id: string): string {
    if (!/^[0-9a-z]{10,64}$/.test(id)) throw s3err('NoSuchUpload');
    return `${UPLOADS_DIR}/${id}`;
  }

  async record(vol: Volume, id: string, bucket: string, key: string): Promise<UploadRecord> {
    let rec: UploadRecord;
    try {
      rec = JSON.parse((await vol.getxattr(this.dir(id), XATTR_UPLOAD)).toString()) as UploadRecord;
    } catch (e) {
      if (isFsError(e, 'EACCES') || isFsError(e, 'EPERM')) throw s3err('AccessDenied');
      if (isFsError(e) || e instanceof SyntaxError) throw s3err('NoSuchUpload');
      throw e;
    }
    if (rec.bucket !== bucket || rec.key !== key) throw s3err('NoSuchUpload');
    return rec;
  }

  async create(vol: Volume, bucket: string, key: string, meta: ObjectMeta): Promise<string> {
    const b = await bucketNode(vol, bucket);
    if (parseKey(key).marker) throw s3err('InvalidArgument', 'Keys ending in "/" are directories and cannot hold data.');
    try {
      await vol.vfs.access(vol.ctx, b.ino, 2 | 1);
    } catch (e) {
      wrap(e);
    }
    const id = Date.now().toString(36).padStart(9, '0') + randomBytes(12).toString('hex');
    const rec: UploadRecord = { bucket, key, initiated: new Date().toISOString(), meta };
    try {
      await vol.mkdir(this.dir(id), 0o700);
      await vol.setxattr(this.dir(id), XATTR_UPLOAD, JSON.stringify(rec));
    } catch (e) {
      wrap(e);
    }
    return id;
  }

  async uploadPart(
    vol: Volume,
    bucket: string,
    key: string,
    id: string,
    n: number,
    body: AsyncIterable<Buffer>,
    hasher: BodyHasher,
    expect: number | undefined,
    verify: () => string,
  ): Promise<string> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    await this.record(vol, id, bucket, key);
    const t = await this.objects.receive(vol, this.dir(id), body, hasher, expect, verify);
    return this.placePart(vol, id, n, t.path, t.ino, t.md5);
  }

  private async placePart(vol: Volume, id: string, n: number, tmp: string, ino: number, etag: string): Promise<string> {
    try {
      const a = await vol.vfs.getattr(vol.ctx, ino);
      await vol.setxattr(tmp, XATTR_ETAG, `${etag} ${a.mtime}.${a.mtimensec} ${a.length}`);
      await vol.rename(tmp, `${this.dir(id)}/${partName(n)}`);
      return etag;
    } catch (e) {
      await vol.unlink(tmp).catch(() => undefined);
      wrap(e);
    }
  }

  /** UploadPartCopy: the part shares the source range's slices. Its ETag is derived, not an MD5 of the data. */
  async uploadPartCopy(
    vol: Volume,
    bucket: string,
    key: string,
    id: string,
    n: number,
    src: { bucket: string; key: string },
    range: string | undefined,
    cond: (info: { etag: string; mtime: Date }) => void,
  ): Promise<{ etag: string; mtime: Date }> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    await this.record(vol, id, bucket, key);
    const info = await this.objects.stat(vol, src.bucket, src.key);
    cond(info);
    let start = 0;
    let end = info.size - 1;
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m) throw s3err('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last.');
      start = Number(m[1]);
      end = Number(m[2]);
      if (start > end || end >= info.size) throw s3err('InvalidRange');
    }
    const len = Math.max(0, end - start + 1);
    const srcPath = `/${src.bucket}/${src.key}`;
    const s = await this.objects.openRead(vol, info, srcPath);
    const tmp = `${this.dir(id)}/.tmp-${randomBytes(8).toString('hex')}`;
    let ino: number;
    try {
      const d = await vol.open(tmp, 'wx', 0o600).catch(wrap);
      ino = d.ino;
      try {
        if (len > 0) await vol.vfs.copyFileRange(vol.ctx, s.fd, start, d.fd, 0, len);
        await d.close();
      } catch (e) {
        await d.close().catch(() => undefined);
        await vol.unlink(tmp).catch(() => undefined);
        wrap(e);
      }
    } finally {
      await s.close().catch(() => undefined);
    }
    const etag = range === undefined && !info.etag.includes('-') ? info.etag : createHash('md5').update(`${info.etag}:${start}-${end}`).digest('hex');
    await this.placePart(vol, id, n, tmp, ino, etag);
    return { etag, mtime: new Date() };
  }

  /** Parts in number order, from after `marker`. */
  async listParts(vol: Volume, bucket: string, key: string, id: string, marker: number, max: number): Promise<{ parts: PartInfo[]; truncated: boolean; rec: UploadRecord }> {
    const rec = await this.record(vol, id, bucket, key);
    const parts: PartInfo[] = [];
    let truncated = false;
    try {
      const dir = await vol.lstat(this.dir(id));
      let after: string | undefined = marker > 0 ? partName(marker) : undefined;
      outer: for (;;) {
        const list = await vol.vfs.readdir(vol.ctx, dir.ino, true, after, 1000);
        for (const e of list) {
          if (!/^\d{5}$/.test(e.name) || e.attr.type !== TYPE_FILE) continue;
          if (parts.length === max) {
            truncated = true;
            break outer;
          }
          parts.push({ number: Number(e.name), etag: await this.objects.etagOf(vol, e.inode, e.attr), size: e.attr.length, mtime: mtimeOf(e.attr) });
        }
        if (list.length < 1000) break;
        after = list[list.length - 1]!.name;
      }
    } catch (e) {
      wrap(e);
    }
    return { parts, truncated, rec };
  }

  async complete(vol: Volume, bucket: string, key: string, id: string, want: Array<{ number: number; etag: string }>): Promise<string> {
    const rec = await this.record(vol, id, bucket, key);
    if (want.length === 0) throw s3err('MalformedXML', 'You must specify at least one part.');
    for (let i = 1; i < want.length; i++) if (want[i]!.number <= want[i - 1]!.number) throw s3err('InvalidPartOrder');
    const dir = this.dir(id);
    const found: Array<{ ino: number; size: number; etag: string }> = [];
    for (const [i, p] of want.entries()) {
      let st;
      try {
        st = await vol.lstat(`${dir}/${partName(p.number)}`);
      } catch (e) {
        if (isFsError(e, 'ENOENT')) throw s3err('InvalidPart', undefined, { PartNumber: String(p.number) });
        wrap(e);
      }
      const attr = await vol.vfs.getattr(vol.ctx, st.ino);
      const etag = await this.objects.etagOf(vol, st.ino, attr);
      if (etag !== p.etag.replace(/"/g, '').trim()) throw s3err('InvalidPart', undefined, { PartNumber: String(p.number), ETag: p.etag });
      if (i < want.length - 1 && attr.length < this.objects.minPartSize) {
        throw s3err('EntityTooSmall', undefined, { ProposedSize: String(attr.length), MinSizeAllowed: String(this.objects.minPartSize), PartNumber: String(p.number) });
      }
      found.push({ ino: st.ino, size: attr.length, etag });
    }
    const md5s = createHash('md5');
    for (const f of found) md5s.update(Buffer.from(f.etag.slice(0, 32), 'hex'));
    const etag = `${md5s.digest('hex')}-${found.length}`;
    const tmp = tempPath(vol);
    const out = await vol.open(tmp, 'wx', TEMP_MODE).catch(wrap);
    try {
      let off = 0;
      for (const f of found) {
        const { fh } = await vol.vfs.open(vol.ctx, f.ino, O_RDONLY);
        try {
          if (f.size > 0) await vol.vfs.copyFileRange(vol.ctx, fh, 0, out.fd, off, f.size);
        } finally {
          await vol.vfs.release(vol.ctx, fh);
        }
        off += f.size;
      }
      await out.close();
      const a = await vol.vfs.getattr(vol.ctx, out.ino);
      await vol.setxattr(tmp, XATTR_ETAG, `${etag} ${a.mtime}.${a.mtimensec} ${a.length}`);
      if (Object.keys(rec.meta.headers).length || Object.keys(rec.meta.user).length) await vol.setxattr(tmp, 'user.s3.meta', JSON.stringify(rec.meta));
    } catch (e) {
      await out.close().catch(() => undefined);
      await vol.unlink(tmp).catch(() => undefined);
      wrap(e);
    }
    await this.objects.install(vol, bucket, key, tmp);
    await this.remove(vol, id).catch(() => undefined);
    return etag;
  }

  private async remove(vol: Volume, id: string): Promise<void> {
    await vol.rm(this.dir(id), { recursive: true });
  }

  async abort(vol: Volume, bucket: string, key: string, id: string): Promise<void> {
    await this.record(vol, id, bucket, key);
    await this.remove(vol, id).catch(wrap);
  }

  /** In-progress uploads of a bucket, by key then initiation (read as root: the caller must be able to list the bucket). */
  async listUploads(root: Volume, bucket: string): Promise<Array<UploadRecord & { id: string }>> {
    const out: Array<UploadRecord & { id: string }> = [];
    const dir = await root.lstat(UPLOADS_DIR);
    for await (const e of root.entries(dir.ino, false)) {
      try {
        const rec = JSON.parse((await root.vfs.getxattr(root.ctx, e.inode, XATTR_UPLOAD)).toString()) as UploadRecord;
        if (rec.bucket === bucket) out.push({ ...rec, id: e.name });
      } catch {
        /* being created or removed */
      }
    }
    out.sort((a, b) => cmpKey(a.key, b.key) || (a.initiated < b.initiated ? -1 : a.initiated > b.initiated ? 1 : cmpKey(a.id, b.id)));
    return out;
  }
}
