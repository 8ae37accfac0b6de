// ferry gc: finds the objects of a volume's store that nothing refers to (blocks of slices that were never
// committed: a client killed between upload and commit, a gateway killed during a PUT) and deletes them;
// reports what the store holds beyond the file system (pending deletions, the trash) so "why is the bucket
// bigger than the volume" has an answer.
//
// Safety: an object is leaked only when it is older than the safety window AND no slice references it AND
// it was uploaded before this run began. The ORDER matters: the store is listed FIRST and the slices are
// scanned AFTER. A writer uploads a slice's blocks and only then commits the slice, so a slice committed
// before the scan reaches it is seen by the scan, and its blocks, if they were listed, are kept; blocks
// uploaded after the listing began are not in the listing at all. Scanning slices first would miss every
// slice committed between the scan and the listing, and delete its blocks. What the ordering cannot see is
// a slice whose blocks were uploaded before the listing and that is committed after the scan passed its
// place: that takes a writer stalled between upload and commit for the whole run, which the safety window
// (default 1 hour) covers; and the candidates are checked against a second scan right before deletion.
// A write-back client commits its slices before uploading their blocks, so its staged uploads are never
// unreferenced objects; the window also covers its uploads of slices deleted meanwhile.
import { chunksPrefix, blockKey, blockLength } from '../chunk/keys.js';
import { compactChunk } from '../chunk/compact.js';
import { forEachLimited } from '../chunk/limiter.js';
import type { ChunkStore } from '../chunk/store.js';
import { rootContext } from '../meta/types.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Meta } from '../meta/interface.js';
import { DEFAULT_TEMP_SAFETY_MS, listDeadTemps, type DeadTemp } from '../object/file-temp.js';
import type { ObjectStore } from '../object/interface.js';
import { shardUrls } from '../object/transforms/index.js';
import type { Format } from '../meta/types.js';

/** Compacts every chunk of the volume that has more than one slice; returns how many were replaced. */
export async function compactVolume(meta: Meta, store: ChunkStore, opts: { threads?: number; progress?: (done: number) => void } = {}): Promise<{ chunks: number; replaced: number }> {
  const tried = new Set<string>();
  let replaced = 0;
  for (;;) {
    const page = (await meta.listFragmentedChunks(2, 1000)).filter((c) => !tried.has(`${c.ino}:${c.indx}`));
    if (!page.length) return { chunks: tried.size, replaced };
    for (const c of page) tried.add(`${c.ino}:${c.indx}`);
    await forEachLimited(page, Math.max(1, opts.threads ?? 4), async (c) => {
      if ((await compactChunk(meta, store, rootContext(), c.ino, c.indx)).replaced) replaced++;
      opts.progress?.(replaced);
    });
  }
}

export const DEFAULT_GC_AGE_MS = 60 * 60 * 1000;

export interface GcOptions {
  /** Objects younger than this are never leaked (default 1 hour). */
  ageMs?: number;
  /** Delete the leaked objects (otherwise only list them). */
  delete?: boolean;
  /** Deletions in flight at once (default 16). */
  threads?: number;
  batch?: number;
  progress?: (phase: 'list' | 'scan' | 'check' | 'delete', done: number) => void;
}

export interface GcObject {
  key: string;
  size: number;
  mtime: number;
}

export interface GcReport {
  /** Every object under the volume's chunks/ prefix. */
  objects: { count: number; bytes: number };
  /** Referenced by a slice. */
  referenced: { count: number; bytes: number };
  /** Newer than the safety window (or than this run): not judged. */
  recent: { count: number; bytes: number };
  /** Blocks of slices queued for deletion (clients remove them in the background). */
  pending: { count: number; bytes: number; slices: number };
  /** What the trash keeps (its files' lengths): counted by the file system, freed when purged. */
  trash: { entries: number; bytes: number };
  /** Keys under chunks/ that are no block key. */
  foreign: number;
  /** Leaked objects, deleted when `deleted` is set. */
  leaked: GcObject[];
  deleted: number;
}

interface Listed {
  id: number;
  index: number;
  length: number;
  size: number;
  mtime: number;
}

const BLOCK_NAME = /\/(\d+)_(\d+)_(\d+)$/;

/** The slice id, block index and length a block key names (undefined for any other key). */
function parseBlock(volume: string, key: string): { id: number; index: number; length: number } | undefined {
  const m = BLOCK_NAME.exec(key);
  if (!m) return undefined;
  const id = Number(m[1]);
  const index = Number(m[2]);
  const length = Number(m[3]);
  return blockKey(volume, id, index, length) === key ? { id, index, length } : undefined;
}

/** Slices the metadata refers to: id -> size (0 where the engine does not know it). */
async function referencedSlices(meta: Meta, batch: number, onRow: () => void): Promise<Map<number, number>> {
  const refs = new Map<number, number>();
  for await (const r of meta.scanSliceRefs({ batch })) {
    if (r.refs > 0) refs.set(r.id, r.size);
    onRow();
  }
  return refs;
}

/** Whether the metadata refers to this block: its slice is there and the block is one of the slice's. */
function isReferenced(refs: Map<number, number>, o: Listed, blockSize: number): boolean {
  const size = refs.get(o.id);
  if (size === undefined) return false;
  if (size === 0) return true; // size unknown: any block of the slice may be its own
  return o.index * blockSize < size && blockLength(size, blockSize, o.index) === o.length;
}

/**
 * Lists (and with `delete`, deletes) the leaked objects of the volume `volume` in `objects` (the store as
 * stored: keys, no transforms needed).
 */
export async function collectGarbage(meta: Meta, objects: ObjectStore, volume: string, blockSize: number, opts: GcOptions = {}): Promise<GcReport> {
  const batch = opts.batch ?? 1000;
  const progress = opts.progress ?? (() => undefined);
  const startedAt = Date.now();
  // Never anything uploaded after this run began, whatever the window.
  const cutoff = Math.min(startedAt, startedAt - (opts.ageMs ?? DEFAULT_GC_AGE_MS));
  const report: GcReport = {
    objects: { count: 0, bytes: 0 },
    referenced: { count: 0, bytes: 0 },
    recent: { count: 0, bytes: 0 },
    pending: { count: 0, bytes: 0, slices: 0 },
    trash: { entries: 0, bytes: 0 },
    foreign: 0,
    leaked: [],
    deleted: 0,
  };

  // 1. The store first (see the top of this file for why the order matters).
  const listed: Listed[] = [];
  for await (const o of objects.listAll(chunksPrefix(volume))) {
    if (o.isDir) continue;
    report.objects.count++;
    report.objects.bytes += o.size;
    if (report.objects.count % 10000 === 0) progress('list', report.objects.count);
    const b = parseBlock(volume, o.key);
    if (!b) {
      report.foreign++;
      continue;
    }
    if (o.mtime > cutoff) {
      report.recent.count++;
      report.recent.bytes += o.size;
      continue;
    }
    listed.push({ ...b, size: o.size, mtime: o.mtime });
  }

  // 2. Then the slices, and the delete queue.
  let rows = 0;
  const refs = await referencedSlices(meta, batch, () => ++rows % 10000 === 0 && progress('scan', rows));
  const pending = new Set<number>();
  for (const s of await meta.pendingDeletedSlices(Number.MAX_SAFE_INTEGER)) pending.add(s.id);
  report.pending.slices = pending.size;
  let candidates: Listed[] = [];
  for (const o of listed) {
    if (isReferenced(refs, o, blockSize)) {
      report.referenced.count++;
      report.referenced.bytes += o.size;
    } else if (pending.has(o.id)) {
      report.pending.count++;
      report.pending.bytes += o.size;
    } else {
      candidates.push(o);
    }
  }
  listed.length = 0;
  refs.clear();

  // 3. A second look at the slices for the few candidates: a slice committed during the first scan, behind
  // its cursor, is seen now.
  if (candidates.length) {
    const again = await referencedSlices(meta, batch, () => ++rows % 10000 === 0 && progress('check', rows));
    const kept = candidates.filter((o) => isReferenced(again, o, blockSize));
    for (const o of kept) {
      report.referenced.count++;
      report.referenced.bytes += o.size;
    }
    candidates = candidates.filter((o) => !isReferenced(again, o, blockSize));
  }
  for (const t of await meta.trashList()) {
    report.trash.entries++;
    report.trash.bytes += t.length;
  }
  report.leaked = candidates.map((o) => ({ key: blockKey(volume, o.id, o.index, o.length), size: o.size, mtime: o.mtime }));

  if (opts.delete) {
    await forEachLimited(report.leaked, Math.max(1, opts.threads ?? 16), async (o) => {
      await objects.delete(o.key);
      if (++report.deleted % 1000 === 0) progress('delete', report.deleted);
    });
  }
  return report;
}

/**
 * Temp files of dead writers in a file:// store's `.tmp/` directories (removed with `remove`). A writer
 * still alive on another host cannot be told from a dead one, so files of writers not provably dead are
 * only taken once untouched for an hour at least, whatever the gc window: one still being written is never lost.
 */
export async function fileStoreTemps(format: Format, ageMs: number | undefined, remove: boolean): Promise<DeadTemp[]> {
  const safety = Math.max(ageMs ?? DEFAULT_TEMP_SAFETY_MS, DEFAULT_TEMP_SAFETY_MS);
  const found: DeadTemp[] = [];
  for (const u of shardUrls(format.storage.url, format.storage.shards)) {
    if (!u.startsWith('file:')) continue;
    const dir = join(fileURLToPath(u.replaceAll('%d', '0')), '.tmp');
    for (const t of await listDeadTemps(dir, safety)) {
      if (remove) await rm(join(dir, t.name), { force: true });
      found.push(t);
    }
  }
  return found;
}
