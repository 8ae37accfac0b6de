// The controller's operations on a FerryFS volume: one directory per claim with a directory quota as its
// capacity, deleted through the volume's trash (or kept, or archived), snapshots and clones as metadata-only
// copies (base/clone.ts). Each directory carries its record in an xattr, so DeleteVolume (which gets only
// the id) knows what CreateVolume was asked; the id is the directory's path in the FerryFS volume.
import { posix } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Client } from '../client/client.js';
import { isFsError } from '../errors.js';
import { setReadOnly } from '../meta/readonly.js';
import { rootContext } from '../meta/types.js';
import type { VfsView } from '../vfs/view.js';
import type { OnDelete } from './params.js';
import { CsiError, exists, invalid, notFound } from './status.js';

export const RECORD_XATTR = 'trusted.ferry.csi';
/** One empty file per volume, named by its encoded id: ListVolumes reads this directory only. */
export const INDEX_DIR = '/.ferry-csi/volumes';
/** Likewise one per snapshot (ListSnapshots): snapshots live beside their volumes, in many .snapshots. */
export const SNAPSHOT_INDEX_DIR = '/.ferry-csi/snapshots';
const SNAPSHOTS = '.snapshots';
/**
 * The read-only mark on each `.snapshots` directory is the driver's: only its own calls (a Context with this
 * owner) change what is inside; no door can. One mark per base path, not per snapshot.
 */
export const SNAPSHOT_OWNER = 'csi-snapshots';
const ARCHIVED = '.archived';

export interface VolumeRecord {
  kind: 'volume';
  name: string;
  capacity: number;
  onDelete: OnDelete;
  source?: string;
}

export interface SnapshotRecord {
  kind: 'snapshot';
  name: string;
  source: string;
  bytes: number;
  created: number;
}

const ROOT = rootContext();

export class VolumeOps {
  readonly view: VfsView;
  /** For the driver's own index entries, which are bookkeeping and never go to the trash. */
  private readonly bookkeeping: VfsView;
  /** For making and removing snapshots inside the read-only `.snapshots` directories. */
  private readonly snapshots: VfsView;

  constructor(readonly client: Client) {
    this.view = client.view(ROOT);
    this.bookkeeping = client.view({ ...ROOT, skipTrash: true });
    this.snapshots = client.view({ ...ROOT, readOnlyOwner: SNAPSHOT_OWNER });
  }

  private async find(path: string): Promise<number | undefined> {
    try {
      return (await this.view.resolve(path, false)).inode;
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  async record<T extends VolumeRecord | SnapshotRecord>(ino: number): Promise<T | undefined> {
    try {
      return JSON.parse((await this.view.getxattr(ino, RECORD_XATTR)).toString()) as T;
    } catch (e) {
      if (isFsError(e, 'ENODATA') || isFsError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  private async index(id: string, add: boolean, at = INDEX_DIR): Promise<void> {
    const v = this.bookkeeping;
    const dir = await v.mkdirs(at, 0o700);
    const name = encodeURIComponent(id);
    try {
      if (add) await v.release((await v.create(dir.inode, name, 0o600, 0o1 | 0o100)).fh);
      else await v.unlink(dir.inode, name);
    } catch (e) {
      if (!isFsError(e, add ? 'EEXIST' : 'ENOENT')) throw e;
    }
  }

  /**
   * Makes (or, called again with the same name and capacity, finds) the volume at path. source: a volume or
   * snapshot path whose tree is cloned into it.
   */
  async create(path: string, rec: VolumeRecord, inodes: number, source?: { path: string; kind: 'volume' | 'snapshot' }): Promise<{ capacity: number }> {
    const have = await this.find(path);
    if (have !== undefined) {
      const old = await this.record<VolumeRecord>(have);
      if (old && old.name !== rec.name) throw exists(`${path} belongs to volume '${old.name}', not '${rec.name}' (pathPattern gives two claims one directory)`);
      if (old && old.capacity !== rec.capacity) throw exists(`volume '${rec.name}' exists with capacity ${old.capacity}, not ${rec.capacity}`);
      if (old && (old.source ?? '') !== (rec.source ?? '')) throw exists(`volume '${rec.name}' exists with another content source`);
      if (old) return { capacity: old.capacity };
    }
    const parent = await this.view.mkdirs(posix.dirname(path), 0o755);
    const name = posix.basename(path);
    if (have === undefined) {
      if (source) {
        const src = await this.find(source.path);
        const srcRec = src === undefined ? undefined : await this.record<VolumeRecord | SnapshotRecord>(src);
        if (src === undefined || srcRec?.kind !== source.kind) throw notFound(`no ${source.kind} ${source.path}`);
        const used = source.kind === 'snapshot' ? (srcRec as SnapshotRecord).bytes : (await this.used(source.path)) ?? 0;
        if (rec.capacity > 0 && used > rec.capacity) throw new CsiError(status.OUT_OF_RANGE, `the ${source.kind} holds ${used} bytes, more than the ${rec.capacity} asked`);
        await this.cloneInto(src, parent.inode, name);
      } else {
        try {
          await this.view.mkdir(parent.inode, name, 0o777);
        } catch (e) {
          if (!isFsError(e, 'EEXIST')) throw e; // made concurrently: the record below decides
        }
      }
    }
    const ino = (await this.view.resolve(path, false)).inode;
    await this.view.chmod(ino, 0o777); // pods write as any user; the quota is the volume's only limit
    await this.view.setxattr(ino, RECORD_XATTR, JSON.stringify(rec));
    if (rec.capacity > 0 || inodes > 0) await this.client.meta.quotaSet(ROOT, path, { capacity: rec.capacity, inodes });
    await this.index(path, true);
    return { capacity: rec.capacity };
  }

  /** Clones a tree without its record (the copy gets its own). */
  private async cloneInto(src: number, parent: number, name: string): Promise<void> {
    const made = await this.view.clone(src, parent, name, { preserve: true });
    await this.view.removexattr(made.inode, RECORD_XATTR).catch(() => undefined);
  }

  private async used(path: string): Promise<number | undefined> {
    try {
      return (await this.client.meta.quotaGet(ROOT, path)).usedSpace;
    } catch (e) {
      if (isFsError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /** Deletes, keeps or archives the volume as its record says; a volume already gone is fine. */
  async delete(path: string): Promise<void> {
    const ino = await this.find(path);
    if (ino === undefined) return void (await this.index(path, false));
    const rec = await this.record<VolumeRecord>(ino);
    if (rec?.kind !== 'volume') return; // not made by the driver (a static volume's directory): never touched
    if (rec.onDelete === 'archive') {
      const dir = await this.view.mkdirs(posix.join(posix.dirname(path), ARCHIVED), 0o755);
      const parent = (await this.view.resolve(posix.dirname(path))).inode;
      await this.view.rename(parent, posix.basename(path), dir.inode, `${posix.basename(path)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    } else if (rec.onDelete === 'delete') await this.removeDir(path, ino);
    await this.index(path, false);
  }

  /** Removes a tree file by file: with trash days set, each file goes to the trash (ferry trash restore). */
  private async removeDir(path: string, ino: number): Promise<void> {
    await this.client.meta.quotaDelete(ROOT, path).catch((e: unknown) => {
      if (!isFsError(e, 'ENOENT')) throw e;
    });
    await this.view.removeTree(ino);
    const parent = (await this.view.resolve(posix.dirname(path))).inode;
    await this.view.rmdir(parent, posix.basename(path));
  }

  /** Raises the quota; a smaller size leaves it (no shrinking). */
  async expand(path: string, capacity: number): Promise<number> {
    const ino = await this.find(path);
    if (ino === undefined) throw notFound(`no volume ${path}`);
    const rec = await this.record<VolumeRecord>(ino);
    if (rec?.kind !== 'volume') throw notFound(`${path} is not a volume of the driver`);
    if (capacity <= rec.capacity && rec.capacity > 0) return rec.capacity;
    await this.client.meta.quotaSet(ROOT, path, { capacity });
    await this.view.setxattr(ino, RECORD_XATTR, JSON.stringify({ ...rec, capacity }));
    return capacity;
  }

  async volume(path: string): Promise<VolumeRecord | undefined> {
    const ino = await this.find(path);
    const rec = ino === undefined ? undefined : await this.record<VolumeRecord>(ino);
    return rec?.kind === 'volume' ? rec : undefined;
  }

  /** The snapshot path of a volume's snapshot name: beside the volume, in .snapshots. */
  static snapshotPath(volume: string, name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') throw invalid(`snapshot name '${name}': letters, digits, '.', '_' or '-'`);
    return posix.join(posix.dirname(volume), SNAPSHOTS, name);
  }

  async snapshot(volume: string, name: string): Promise<SnapshotRecord & { id: string }> {
    const src = await this.find(volume);
    if (src === undefined || (await this.record<VolumeRecord>(src))?.kind !== 'volume') throw notFound(`no volume ${volume}`);
    const id = VolumeOps.snapshotPath(volume, name);
    const have = await this.find(id);
    if (have !== undefined) {
      const old = await this.record<SnapshotRecord>(have);
      if (old?.kind === 'snapshot' && old.source === volume) return { ...old, id };
      throw exists(`snapshot '${name}' exists for another volume`);
    }
    const dir = await this.snapshots.mkdirs(posix.dirname(id), 0o700);
    if (!(await this.client.meta.load()).readOnly?.some((m) => m.ino === dir.inode && m.owner === SNAPSHOT_OWNER)) await setReadOnly(this.client.meta, posix.dirname(id), SNAPSHOT_OWNER);
    const made = await this.snapshots.clone(src, dir.inode, name, { preserve: true });
    const rec: SnapshotRecord = { kind: 'snapshot', name, source: volume, bytes: made.bytes, created: Date.now() };
    await this.snapshots.setxattr(made.inode, RECORD_XATTR, JSON.stringify(rec));
    await this.index(id, true, SNAPSHOT_INDEX_DIR);
    return { ...rec, id };
  }

  async snapshotRecord(id: string): Promise<SnapshotRecord | undefined> {
    const ino = await this.find(id);
    const rec = ino === undefined ? undefined : await this.record<SnapshotRecord>(ino);
    return rec?.kind === 'snapshot' ? rec : undefined;
  }

  async deleteSnapshot(id: string): Promise<void> {
    const ino = await this.find(id);
    if (ino === undefined) return void (await this.index(id, false, SNAPSHOT_INDEX_DIR));
    if ((await this.record<SnapshotRecord>(ino))?.kind !== 'snapshot') throw invalid(`${id} is not a snapshot`);
    await this.snapshots.removeTree(ino);
    await this.snapshots.rmdir((await this.view.resolve(posix.dirname(id))).inode, posix.basename(id));
    await this.index(id, false, SNAPSHOT_INDEX_DIR);
  }

  /**
   * Snapshots in index order from after `start` (an id), at most max (0: all), those of one source volume
   * when asked; next: the id to go on after ('' at the end).
   */
  async listSnapshots(start: string, max: number, source?: string): Promise<{ snapshots: Array<SnapshotRecord & { id: string }>; next: string }> {
    const out: Array<SnapshotRecord & { id: string }> = [];
    let after = start;
    for (;;) {
      const page = await this.list(after, max > 0 ? max - out.length : 0, SNAPSHOT_INDEX_DIR);
      for (const id of page.ids) {
        const rec = await this.snapshotRecord(id);
        if (rec && (!source || rec.source === source)) out.push({ ...rec, id });
      }
      if (!page.next) return { snapshots: out, next: '' };
      after = page.next;
      if (max > 0 && out.length >= max) return { snapshots: out, next: after };
    }
  }

  /** Volume ids (or snapshot ids: at) in index order, from after `start` (an id), at most max (0: all). */
  async list(start: string, max: number, at = INDEX_DIR): Promise<{ ids: string[]; next: string }> {
    const dir = await this.find(at);
    if (dir === undefined) return { ids: [], next: '' };
    const after = start ? encodeURIComponent(start) : undefined;
    const entries = await this.view.readdir(dir, false, after, max > 0 ? max + 1 : undefined);
    const names = entries.map((e) => decodeURIComponent(e.name));
    if (max > 0 && names.length > max) return { ids: names.slice(0, max), next: names[max - 1]! };
    return { ids: names, next: '' };
  }
}
