// Multipart uploads. Each upload is a directory /.ferry-gateway/uploads/<id> owned by the initiator (mode
// 0700, so only that uid and root touch it) holding one file per part; complete lays the parts' slices
// one after another into a new file (copy_file_range: no data is rewritten) and renames it into place.
//
// Completion is one rename. Complete assembles the object as a temp file inside the upload's directory and
// marks the directory (XATTR_COMPLETING: the temp's name and the ETag) before it renames the temp to the key.
// An upload is completed exactly when it is marked and the named temp is no longer there, so the rename
// that makes the object visible is also what takes the upload out of listings: a gateway killed at any
// point leaves either an upload in progress (listed, no new object) or a completed one (the object, not
// listed). The directory stays a while after (parts removed) so a Complete sent again answers 200 with the
// same ETag, as S3 does for clients that retry one whose answer they lost.
// An upload created with a ChecksumAlgorithm keeps each part's checksum with the part and gives the object
// a COMPOSITE (checksum of the parts' checksums, "-N") or FULL_OBJECT (the parts' CRCs combined) checksum.
import { createHash, randomBytes } from 'node:crypto';
import { isFsError } from '../errors.js';
import { XATTR_CREATE } from '../meta/types.js';
import { compareKeys } from '../object/util.js';
import { O_RDONLY } from '../vfs/flags.js';
import { Access, ROOT_INODE, TYPE_FILE, type VfsView } from '../vfs/view.js';
import { algoElement, BodyHasher, digester, type Algo, type Checksum } from './checksum.js';
import { crcCombine } from './crc.js';
import { s3err } from './errors.js';
import { Objects, createTemp, dropTemp, fullObject, mtimeOf, s3Rethrow as wrap, type ObjectMeta, type StoredChecksum, type TempFile, type WriteCondition } from './objects.js';
import type { Tags } from './tags.js';
import { bucketNode, parseKey, UPLOADS_DIR } from './paths.js';
import { tempOwnerGone, TEMP_MODE } from './temps.js';

const XATTR_UPLOAD = 'user.s3.upload';
const XATTR_COMPLETING = 'user.s3.completing';
export const MAX_PARTS = 10000;
/** How long a completed upload still answers a repeated Complete (and then is swept away). */
export const COMPLETED_KEEP_MS = 15 * 60 * 1000;

/** The mark of an upload being completed: the assembled temp file in its directory and the object's ETag. */
interface Completing {
  name: string;
  etag: string;
  at: string;
}

interface UploadState {
  rec: UploadRecord;
  dir: number;
  completing?: Completing;
  /** Marked, and the marked temp was renamed away: the object exists. */
  completed: boolean;
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, then "-" and the count. */
export function multipartEtag(etags: string[]): string {
  const h = createHash('md5');
  for (const e of etags) h.update(Buffer.from(e.replace(/"/g, '').trim().slice(0, 32), 'hex'));
  return `${h.digest('hex')}-${etags.length}`;
}

export interface UploadRecord {
  bucket: string;
  key: string;
  initiated: string;
  meta: ObjectMeta;
  /** CreateMultipartUpload's ChecksumAlgorithm and ChecksumType. */
  checksum?: { algo: Algo; type: 'COMPOSITE' | 'FULL_OBJECT' };
  /** x-amz-tagging of CreateMultipartUpload: the object's tags. */
  tags?: Tags;
  /** The root inode of the key that started it, when it is a subdir-scoped key (buckets are named under it). */
  root?: number;
}

export interface PartInfo {
  number: number;
  etag: string;
  size: number;
  mtime: Date;
  checksum?: StoredChecksum;
}

/** A part as CompleteMultipartUpload names it: number, ETag and the checksums the client has for it. */
export interface WantedPart {
  number: number;
  etag: string;
  checksums: Partial<Record<Algo, string>>;
}

const partName = (n: number) => String(n).padStart(5, '0');

export class Multipart {
  /** Completes running in this process, by upload id: a repeated Complete waits for the first. */
  private readonly running = new Map<string, Promise<{ etag: string; checksum?: StoredChecksum }>>();

  constructor(private readonly objects: Objects) {}

  private dir(id: string): string {
    if (!/^[0-9a-z]{10,64}$/.test(id)) throw s3err('NoSuchUpload');
    return `${UPLOADS_DIR}/${id}`;
  }

  async record(view: VfsView, id: string, bucket: string, key: string): Promise<UploadRecord> {
    const st = await this.state(view, id, bucket, key);
    if (st.completed) throw s3err('NoSuchUpload');
    return st.rec;
  }

  /** The upload's record and whether it is being or was completed; NoSuchUpload if it is not this key's. */
  private async state(view: VfsView, id: string, bucket: string, key: string): Promise<UploadState> {
    let st: UploadState;
    const user = view;
    // Upload directories are the gateway's own, outside any key's subdir: reached as the same user through door().
    view = view.door();
    try {
      const dir = await view.resolve(this.dir(id));
      st = { rec: JSON.parse((await view.getxattr(dir.inode, XATTR_UPLOAD)).toString()) as UploadRecord, dir: dir.inode, completed: false };
      st.completing = await readCompleting(view, dir.inode);
      if (st.completing) st.completed = !(await exists(view, dir.inode, st.completing.name));
    } catch (e) {
      if (isFsError(e, 'EACCES') || isFsError(e, 'EPERM')) throw s3err('AccessDenied');
      if (isFsError(e) || e instanceof SyntaxError) throw s3err('NoSuchUpload');
      throw e;
    }
    if (st.rec.bucket !== bucket || st.rec.key !== key || (st.rec.root ?? ROOT_INODE) !== user.root) throw s3err('NoSuchUpload');
    return st;
  }

  async create(view: VfsView, bucket: string, key: string, meta: ObjectMeta, extra: Pick<UploadRecord, 'checksum' | 'tags'> = {}): Promise<string> {
    const b = await bucketNode(view, bucket);
    if (parseKey(key).marker) throw s3err('InvalidArgument', 'Keys ending in "/" are directories and cannot hold data.');
    try {
      await view.access(b.ino, Access.MODIFY);
    } catch (e) {
      wrap(e);
    }
    const id = Date.now().toString(36).padStart(9, '0') + randomBytes(12).toString('hex');
    const rec: UploadRecord = { bucket, key, initiated: new Date().toISOString(), meta, ...extra, ...(view.root !== ROOT_INODE ? { root: view.root } : {}) };
    try {
      view.mayWrite();
      const up = view.door();
      const p = await up.parentOf(this.dir(id));
      const d = await up.mkdir(p.parent, p.name, 0o700);
      await up.setxattr(d.inode, XATTR_UPLOAD, JSON.stringify(rec));
    } catch (e) {
      wrap(e);
    }
    return id;
  }

  async uploadPart(
    view: VfsView,
    bucket: string,
    key: string,
    id: string,
    n: number,
    body: AsyncIterable<Buffer>,
    hasher: BodyHasher,
    expect: number | undefined,
    verify: () => string,
  ): Promise<{ etag: string; checksum?: StoredChecksum }> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    await this.record(view, id, bucket, key);
    try {
      view.mayWrite();
    } catch (e) {
      wrap(e);
    }
    const up = view.door();
    const t = await this.objects.receive(up, this.dir(id), body, hasher, expect, verify);
    const checksum = hasher.checksum && fullObject(hasher.checksum);
    return { etag: await this.placePart(up, n, t, t.md5, checksum), checksum };
  }

  /** Stamps a finished temp file in the upload's directory and renames it to part n (replacing an older one). */
  private async placePart(view: VfsView, n: number, tmp: TempFile, etag: string, checksum?: StoredChecksum): Promise<string> {
    try {
      await this.objects.writeStamp(view, tmp.ino, etag, undefined, { checksum });
      await view.rename(tmp.dir, tmp.name, tmp.dir, partName(n));
      return etag;
    } catch (e) {
      await dropTemp(view, tmp);
      wrap(e);
    }
  }

  /** UploadPartCopy: the part shares the source range's slices. Its ETag is derived, not an MD5 of the data. */
  async uploadPartCopy(
    view: VfsView,
    bucket: string,
    key: string,
    id: string,
    n: number,
    src: { bucket: string; key: string },
    range: string | undefined,
    cond: (info: { etag: string; mtime: Date }) => void,
  ): Promise<{ etag: string; mtime: Date; checksum?: StoredChecksum }> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    const rec = await this.record(view, id, bucket, key);
    const info = await this.objects.stat(view, src.bucket, src.key);
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
    const s = await this.objects.openRead(view, info);
    const user = view;
    view = view.door();
    let tmp: TempFile;
    try {
      user.mayWrite();
      const d = await createTemp(view, this.dir(id), TEMP_MODE).catch(wrap);
      tmp = d;
      let open = true;
      try {
        if (len > 0) await view.copyFileRange(s, start, d.fh, 0, len);
        open = false;
        await view.release(d.fh);
      } catch (e) {
        if (open) await view.release(d.fh).catch(() => undefined);
        await dropTemp(view, d);
        wrap(e);
      }
    } finally {
      await view.release(s).catch(() => undefined);
    }
    const etag = range === undefined && !info.etag.includes('-') ? info.etag : createHash('md5').update(`${info.etag}:${start}-${end}`).digest('hex');
    // The upload's algorithm needs every part's checksum: the copied bytes are read once to compute it.
    const checksum = rec.checksum ? fullObject(await this.objects.computeChecksum(view, tmp.ino, len, rec.checksum.algo).catch(async (e) => {
      await dropTemp(view, tmp);
      throw e;
    })) : undefined;
    await this.placePart(view, n, tmp, etag, checksum);
    return { etag, mtime: new Date(), checksum };
  }

  /** Parts in number order, from after `marker`. */
  async listParts(view: VfsView, bucket: string, key: string, id: string, marker: number, max: number): Promise<{ parts: PartInfo[]; truncated: boolean; rec: UploadRecord }> {
    const rec = await this.record(view, id, bucket, key);
    const parts: PartInfo[] = [];
    let truncated = false;
    try {
      const dir = await view.resolve(this.dir(id), false);
      let after: string | undefined = marker > 0 ? partName(marker) : undefined;
      outer: for (;;) {
        const list = await view.readdir(dir.inode, true, after, 1000);
        for (const e of list) {
          if (!/^\d{5}$/.test(e.name) || e.attr.type !== TYPE_FILE) continue;
          if (parts.length === max) {
            truncated = true;
            break outer;
          }
          parts.push({
            number: Number(e.name),
            etag: await this.objects.etagOf(view, e.inode, e.attr),
            size: e.attr.length,
            mtime: mtimeOf(e.attr),
            checksum: await this.objects.checksumOf(view, e.inode, e.attr),
          });
        }
        if (list.length < 1000) break;
        after = list[list.length - 1]!.name;
      }
    } catch (e) {
      wrap(e);
    }
    return { parts, truncated, rec };
  }

  /**
   * Lays the parts into the object. `fullChecksum`: an x-amz-checksum-ALGO header of the whole object,
   * checked against the one computed from the parts' (when the upload has a checksum algorithm).
   */
  async complete(
    view: VfsView,
    bucket: string,
    key: string,
    id: string,
    want: WantedPart[],
    cond: WriteCondition = {},
    fullChecksum?: { algo: Algo; value: string },
  ): Promise<{ etag: string; checksum?: StoredChecksum }> {
    for (let prev = this.running.get(id); prev; prev = this.running.get(id)) await prev.catch(() => undefined);
    const p = this.completeOnce(view, bucket, key, id, want, cond, fullChecksum);
    this.running.set(id, p);
    try {
      return await p;
    } finally {
      if (this.running.get(id) === p) this.running.delete(id);
    }
  }

  private async completeOnce(
    view: VfsView,
    bucket: string,
    key: string,
    id: string,
    want: WantedPart[],
    cond: WriteCondition,
    fullChecksum?: { algo: Algo; value: string },
  ): Promise<{ etag: string; checksum?: StoredChecksum }> {
    const st = await this.state(view, id, bucket, key);
    const user = view;
    view = view.door();
    const rec = st.rec;
    if (want.length === 0) throw s3err('MalformedXML', 'You must specify at least one part.');
    for (let i = 1; i < want.length; i++) if (want[i]!.number <= want[i - 1]!.number) throw s3err('InvalidPartOrder');
    if (st.completed) {
      // Sent again after it went through (the answer was lost): the same answer, for the same parts.
      if (multipartEtag(want.map((p) => p.etag)) === st.completing!.etag) return { etag: st.completing!.etag };
      throw s3err('NoSuchUpload');
    }
    if (st.completing) {
      // Marked but not committed: a Complete of another gateway at work, or one that died on the way.
      const mine = st.completing.name.startsWith(`.tmp-${view.sessionId}-`);
      if (!mine && !(await tempOwnerGone(view, st.completing.name))) throw s3err('OperationAborted');
      await view.removexattr(st.dir, XATTR_COMPLETING).catch(wrap);
      await view.unlink(st.dir, st.completing.name).catch(() => undefined);
    }
    const dir = this.dir(id);
    const found: Array<{ ino: number; size: number; etag: string; checksum?: StoredChecksum }> = [];
    for (const [i, p] of want.entries()) {
      let st;
      try {
        st = await view.resolve(`${dir}/${partName(p.number)}`, false);
      } catch (e) {
        if (isFsError(e, 'ENOENT')) throw s3err('InvalidPart', undefined, { PartNumber: String(p.number) });
        wrap(e);
      }
      const attr = await view.getattr(st.inode);
      const etag = await this.objects.etagOf(view, st.inode, attr);
      if (etag !== p.etag.replace(/"/g, '').trim()) throw s3err('InvalidPart', undefined, { PartNumber: String(p.number), ETag: p.etag });
      if (i < want.length - 1 && attr.length < this.objects.minPartSize) {
        throw s3err('EntityTooSmall', undefined, { ProposedSize: String(attr.length), MinSizeAllowed: String(this.objects.minPartSize), PartNumber: String(p.number) });
      }
      const checksum = await this.objects.checksumOf(view, st.inode, attr);
      for (const [algo, value] of Object.entries(p.checksums)) {
        if (checksum?.algo !== algo || checksum.value !== value) throw s3err('InvalidPart', `The ${algoElement(algo as Algo)} of part ${p.number} does not match the part's.`, { PartNumber: String(p.number) });
      }
      if (rec.checksum && p.checksums[rec.checksum.algo] === undefined) {
        throw s3err('InvalidRequest', `The upload was created using a ${rec.checksum.algo} checksum. The complete request must include the checksum for each part. It was missing for part ${p.number} in the request.`);
      }
      found.push({ ino: st.inode, size: attr.length, etag, checksum });
    }
    const checksum = rec.checksum && objectChecksum(rec.checksum, found as Array<{ size: number; checksum: StoredChecksum }>);
    const bare = (v: string) => v.replace(/-\d+$/, '');
    if (fullChecksum && checksum && (fullChecksum.algo !== checksum.algo || bare(fullChecksum.value) !== bare(checksum.value))) {
      throw s3err('BadDigest', `The ${fullChecksum.algo.toUpperCase()} you specified did not match the calculated checksum.`);
    }
    const etag = multipartEtag(found.map((f) => f.etag));
    // Assembled in the upload's own directory: the rename out of it is the commit (see the top of the file).
    const out = await createTemp(view, dir, TEMP_MODE).catch(wrap);
    let open = true;
    try {
      let off = 0;
      for (const f of found) {
        const { fh } = await view.open(f.ino, O_RDONLY);
        try {
          if (f.size > 0) await view.copyFileRange(fh, 0, out.fh, off, f.size);
        } finally {
          await view.release(fh);
        }
        off += f.size;
      }
      open = false;
      await view.release(out.fh);
      await this.objects.writeStamp(view, out.ino, etag, rec.meta, { checksum, tags: rec.tags, parts: found.map((f) => f.size) });
    } catch (e) {
      if (open) await view.release(out.fh).catch(() => undefined);
      await dropTemp(view, out);
      wrap(e);
    }
    const mark: Completing = { name: out.name, etag, at: new Date().toISOString() };
    try {
      await view.setxattr(st.dir, XATTR_COMPLETING, JSON.stringify(mark), XATTR_CREATE);
    } catch (e) {
      await dropTemp(view, out);
      if (isFsError(e, 'EEXIST')) throw s3err('OperationAborted');
      wrap(e);
    }
    try {
      await this.objects.commit(user, bucket, key, out, cond);
    } catch (e) {
      // Unmarked before the temp goes: marked without its temp would read as completed.
      if (await view.removexattr(st.dir, XATTR_COMPLETING).then(() => true, () => false)) await dropTemp(view, out);
      throw e;
    }
    await this.dropParts(view, st.dir).catch(() => undefined);
    return { etag, checksum };
  }

  /** Removes what a completed upload's directory still holds (its parts); the directory and its marks stay. */
  private async dropParts(view: VfsView, dir: number): Promise<void> {
    await view.door().removeTree(dir);
  }

  /** rm -r of the upload's directory (unmarked first: a mark without its temp would read as completed). */
  private async remove(user: VfsView, id: string): Promise<void> {
    const view = user.door();
    const path = this.dir(id);
    const d = await view.resolve(path, false);
    await view.removexattr(d.inode, XATTR_COMPLETING).catch(() => undefined);
    await view.removeTree(d.inode);
    const p = await view.parentOf(path);
    await view.rmdir(p.parent, p.name);
  }

  /**
   * At start and now and then (as root): finishes the cleanup of completed uploads a gateway was killed in
   * (their parts), and removes completed uploads older than COMPLETED_KEEP_MS. Returns the ids removed.
   */
  async sweep(root: VfsView, now = Date.now()): Promise<string[]> {
    const dir = await root.resolve(UPLOADS_DIR, false);
    const done: Array<{ id: string; ino: number; old: boolean }> = [];
    for await (const e of root.entries(dir.inode, false)) {
      try {
        const c = await readCompleting(root, e.inode);
        if (c && !(await exists(root, e.inode, c.name))) done.push({ id: e.name, ino: e.inode, old: now - Date.parse(c.at) > COMPLETED_KEEP_MS });
      } catch {
        /* being created or removed */
      }
    }
    const removed: string[] = [];
    for (const d of done) {
      try {
        if (d.old) {
          await this.remove(root, d.id);
          removed.push(d.id);
        } else await this.dropParts(root, d.ino);
      } catch (e) {
        if (!isFsError(e, 'ENOENT')) throw e;
      }
    }
    return removed;
  }

  async abort(view: VfsView, bucket: string, key: string, id: string): Promise<void> {
    await this.record(view, id, bucket, key);
    await this.remove(view, id).catch(wrap);
  }

  /** In-progress uploads of a bucket, by key then initiation (read as root: the caller must be able to list the bucket). */
  async listUploads(root: VfsView, bucket: string, scopeRoot = ROOT_INODE): Promise<Array<UploadRecord & { id: string }>> {
    const out: Array<UploadRecord & { id: string }> = [];
    const dir = await root.resolve(UPLOADS_DIR, false);
    for await (const e of root.entries(dir.inode, false)) {
      try {
        const rec = JSON.parse((await root.getxattr(e.inode, XATTR_UPLOAD)).toString()) as UploadRecord;
        if (rec.bucket !== bucket || (rec.root ?? ROOT_INODE) !== scopeRoot) continue;
        const c = await readCompleting(root, e.inode);
        if (c && !(await exists(root, e.inode, c.name))) continue; // completed
        out.push({ ...rec, id: e.name });
      } catch {
        /* being created or removed */
      }
    }
    out.sort((a, b) => compareKeys(a.key, b.key) || (a.initiated < b.initiated ? -1 : a.initiated > b.initiated ? 1 : compareKeys(a.id, b.id)));
    return out;
  }
}

async function readCompleting(view: VfsView, dir: number): Promise<Completing | undefined> {
  try {
    return JSON.parse((await view.getxattr(dir, XATTR_COMPLETING)).toString()) as Completing;
  } catch (e) {
    if (isFsError(e, 'ENODATA') || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

async function exists(view: VfsView, dir: number, name: string): Promise<boolean> {
  try {
    await view.lookup(dir, name);
    return true;
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return false;
    throw e;
  }
}

/** The object's checksum from its parts' (every part has one of the upload's algorithm: complete checked). */
function objectChecksum(kind: NonNullable<UploadRecord['checksum']>, parts: Array<{ size: number; checksum: StoredChecksum }>): StoredChecksum {
  const raw = parts.map((p) => Buffer.from(p.checksum.value, 'base64'));
  if (kind.type === 'COMPOSITE') {
    const d = digester(kind.algo);
    for (const r of raw) d.update(r);
    return { algo: kind.algo, type: 'COMPOSITE', value: `${d.digest().toString('base64')}-${parts.length}` };
  }
  let acc: Checksum = { algo: kind.algo, digest: raw[0]! };
  for (let i = 1; i < parts.length; i++) acc = { algo: kind.algo, digest: crcCombine(kind.algo as 'crc32' | 'crc32c' | 'crc64nvme', acc.digest, raw[i]!, parts[i]!.size) };
  return fullObject(acc);
}
