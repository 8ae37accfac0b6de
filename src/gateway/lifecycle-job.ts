// The gateway's lifecycle job: for each bucket with a lifecycle configuration, deletes the objects its
// Expiration rules say are due and aborts the multipart uploads its AbortIncompleteMultipartUpload rules
// say are due. It deletes as any DeleteObject does (as root): with the volume's trash on, an expired object
// goes to the trash like any other unlink and can be restored from there until the trash is emptied.
//
// Every gateway of a volume runs the job; a run is idempotent (an object or upload already gone is skipped),
// so two gateways running at once do each deletion once between them. Just before deleting, the object is
// looked at again: one replaced since it was listed (another inode, or changed) is left to the next run.
import { isFsError } from '../errors.js';
import { ROOT_INODE, isDirectory, type VfsView } from '../vfs/view.js';
import { S3Error } from './errors.js';
import { objectExpired, uploadDue, XATTR_LIFECYCLE, type LifecycleRule } from './lifecycle.js';
import { Walker } from './listing.js';
import type { Multipart } from './multipart.js';
import { mtimeOf, type Objects } from './objects.js';
import { readTags } from './tags.js';
import { walkParts } from './paths.js';

/** Object tags as the tagging operations keep them: JSON [[key, value], ...] in this attribute. */
export interface LifecycleReport {
  /** `bucket/key` of each object deleted. */
  expired: string[];
  /** Ids of the uploads aborted. */
  aborted: string[];
  /** One line per bucket whose run failed (the others went on). */
  errors: string[];
}

async function rulesOf(root: VfsView, ino: number): Promise<LifecycleRule[] | undefined> {
  try {
    return JSON.parse((await root.getxattr(ino, XATTR_LIFECYCLE)).toString()) as LifecycleRule[];
  } catch (e) {
    if (isFsError(e, 'ENODATA') || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export async function runLifecycle(root: VfsView, objects: Objects, multipart: Multipart, now = Date.now()): Promise<LifecycleReport> {
  const report: LifecycleReport = { expired: [], aborted: [], errors: [] };
  const buckets: Array<{ name: string; ino: number; rules: LifecycleRule[] }> = [];
  for await (const e of root.entries(ROOT_INODE, true)) {
    if (!isDirectory(e.attr) || e.name.startsWith('.')) continue;
    const rules = await rulesOf(root, e.inode);
    if (rules?.some((r) => r.enabled)) buckets.push({ name: e.name, ino: e.inode, rules: rules.filter((r) => r.enabled) });
  }
  for (const b of buckets) {
    try {
      await expireObjects(root, objects, b, now, report);
      await abortUploads(root, multipart, b, now, report);
    } catch (e) {
      report.errors.push(`bucket ${b.name}: ${(e as Error)?.message ?? e}`);
    }
  }
  return report;
}

async function expireObjects(root: VfsView, objects: Objects, b: { name: string; ino: number; rules: LifecycleRule[] }, now: number, report: LifecycleReport): Promise<void> {
  const rules = b.rules.filter((r) => r.expiration?.days !== undefined || r.expiration?.date !== undefined);
  if (rules.length === 0) return;
  // One walk per distinct prefix directory would be finer; one walk of the shortest common prefix is simpler
  // and reads each object once whatever the number of rules.
  const common = rules.map((r) => r.prefix).reduce((a, p) => {
    let i = 0;
    while (i < a.length && i < p.length && a[i] === p[i]) i++;
    return a.slice(0, i);
  });
  const cut = common.lastIndexOf('/');
  const dirPart = common.slice(0, cut + 1);
  const parts = dirPart.split('/').slice(0, -1);
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return;
  const dir = await walkParts(root, b.ino, parts);
  if (!dir || !isDirectory(dir.attr)) return;
  const due: Array<{ key: string; ino: number; mtime: number }> = [];
  const walker = new Walker(root);
  for await (const it of walker.walk(dir.ino, dirPart, { namePrefix: common.slice(cut + 1), rollup: false, isMarker: (ino) => objects.isMarker(root, ino) })) {
    const attr = it.attr ?? (await root.getattr(it.ino));
    const o = { key: it.key, size: it.dir ? 0 : attr.length, mtime: mtimeOf(attr).getTime(), tags: () => readTags(root, it.ino) };
    for (const r of rules) {
      if (await objectExpired(r, o, now)) {
        due.push({ key: it.key, ino: it.ino, mtime: o.mtime });
        break;
      }
    }
  }
  // Deleted after the walk: removing while paging could skip names.
  for (const d of due) {
    try {
      const cur = await objects.stat(root, b.name, d.key);
      if (cur.ino !== d.ino || cur.mtime.getTime() !== d.mtime) continue;
      await objects.deleteObject(root, b.name, d.key);
      report.expired.push(`${b.name}/${d.key}`);
    } catch (e) {
      if (e instanceof S3Error && e.code === 'NoSuchKey') continue;
      throw e;
    }
  }
}

async function abortUploads(root: VfsView, multipart: Multipart, b: { name: string; rules: LifecycleRule[] }, now: number, report: LifecycleReport): Promise<void> {
  const rules = b.rules.filter((r) => r.abortDays !== undefined);
  if (rules.length === 0) return;
  for (const u of await multipart.listUploads(root, b.name)) {
    if (!rules.some((r) => uploadDue(r, u.key, Date.parse(u.initiated), now))) continue;
    try {
      await multipart.abort(root, b.name, u.key, u.id);
      report.aborted.push(u.id);
    } catch (e) {
      if (e instanceof S3Error && e.code === 'NoSuchUpload') continue;
      throw e;
    }
  }
}
