// Creating a mirror, and opening a volume's metadata so that a mirror's URL gives a mirror client.
import { randomUUID } from 'node:crypto';
import { FsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import type { Format } from '../meta/types.js';
import { openMeta } from '../meta/index.js';
import { absoluteMetaUrl } from '../meta/urls.js';
import { mirrorOf, mirrorsOf, redactUrl, withMirrors, type MirrorOf } from './format.js';
import { MirrorMeta, type MirrorMetaOptions } from './mirror-meta.js';
import { runningReplicator } from './lease.js';

export interface CreateMirrorOptions {
  /** Clients of the mirror write through to the source (default true). */
  writable?: boolean;
  /** Replace a volume already at the mirror URL (re-snapshot a mirror that fell too far behind). */
  force?: boolean;
  /** The mirror's own object store (filled by `ferry mirror run --data`); default: read the source's. */
  storage?: string;
  /** Sets the source's retention window (seconds; 0 turns it off): see retention.ts. */
  retention?: number;
}

/**
 * Registers a mirror in the source (from then on the source keeps its changelog for it), then copies a
 * consistent snapshot of the source's namespace into the mirror engine, recording the snapshot's version.
 */
export async function createMirror(sourceArg: string, mirrorArg: string, opts: CreateMirrorOptions = {}): Promise<{ id: string; version: number }> {
  // Both records name the other volume: relative SQLite paths would only work from this directory.
  const sourceUrl = absoluteMetaUrl(sourceArg);
  const mirrorUrl = absoluteMetaUrl(mirrorArg);
  const source = await openMeta(sourceUrl);
  const mirror = await openMeta(mirrorUrl);
  try {
    const format = await source.load();
    if (mirrorOf(format)) throw new FsError('EINVAL', { message: `${redactUrl(sourceUrl)} is itself a mirror: mirror its source instead` });
    const existing = await mirror.load().catch(() => undefined);
    if (existing && !opts.force) {
      throw new FsError('EEXIST', { message: `a volume already exists at ${redactUrl(mirrorUrl)} (use --force to replace it)` });
    }
    const old = existing && mirrorOf(existing);
    const id = old?.id ?? randomUUID().slice(0, 8);
    // Registered at applied 0 first: nothing after the snapshot may be trimmed before the mirror has it.
    await source.updateFormat((f) => ({
      mirror: {
        ...f.mirror,
        mirrors: { ...mirrorsOf(f), [id]: { url: redactUrl(mirrorUrl), createdAt: new Date().toISOString(), applied: 0, appliedAt: Date.now() } },
        ...(opts.retention !== undefined ? { retention: opts.retention } : {}),
      },
    }));
    const snap = await source.exportSnapshot();
    if (existing) await mirror.destroy();
    const info: MirrorOf = { source: sourceUrl, id, writable: opts.writable ?? true, snapshotVersion: snap.version };
    if (opts.storage) info.storage = opts.storage;
    // The source's own bookkeeping (its mirrors, their retention) stays with the source.
    await mirror.init({ ...format, mirror: { of: info } });
    await mirror.importSnapshot(snap);
    await source.updateFormat((f) => withMirrors(f, { ...mirrorsOf(f), [id]: { ...mirrorsOf(f)[id]!, applied: snap.version, appliedAt: Date.now() } }));
    return { id, version: snap.version };
  } finally {
    await mirror.close();
    await source.close();
  }
}

/**
 * Re-snapshots a mirror in place (same id, writability and own store): for a mirror that fell behind the
 * source's retention window or whose changelog was trimmed. Its replicator must be stopped first; the data
 * copier of an own-store mirror notices the new snapshot and reconciles the mirror's store.
 */
export async function resyncMirror(mirrorUrl: string): Promise<{ id: string; version: number }> {
  const mirror = await openMeta(mirrorUrl);
  let info: MirrorOf | undefined;
  try {
    info = mirrorOf(await mirror.load());
    if (!info) throw new FsError('EINVAL', { message: `${redactUrl(mirrorUrl)} is not a mirror (create one with 'ferry mirror create')` });
    const rep = await runningReplicator(mirror);
    if (rep) throw new FsError('EBUSY', { message: `the replicator of ${redactUrl(mirrorUrl)} is running (pid ${rep.pid} on ${rep.hostname}): stop 'ferry mirror run' first` });
  } finally {
    await mirror.close();
  }
  return createMirror(info.source, mirrorUrl, { force: true, writable: info.writable, storage: info.storage });
}

/**
 * Removes a mirror from its source: the source stops keeping its changelog for it. The mirror's copy stays
 * (`ferry destroy` deletes it); its replicator must be stopped first, and would not start again.
 */
export async function removeMirror(mirrorUrl: string): Promise<{ id: string; source: string }> {
  const mirror = await openMeta(mirrorUrl);
  let info: MirrorOf | undefined;
  try {
    info = mirrorOf(await mirror.load());
    if (!info) throw new FsError('EINVAL', { message: `${redactUrl(mirrorUrl)} is not a mirror` });
    const rep = await runningReplicator(mirror);
    if (rep) throw new FsError('EBUSY', { message: `the replicator of ${redactUrl(mirrorUrl)} is running (pid ${rep.pid} on ${rep.hostname}): stop 'ferry mirror run' first` });
  } finally {
    await mirror.close();
  }
  let source: Meta;
  try {
    source = await openMeta(info.source);
    await source.load().catch(async (e) => {
      await source.close().catch(() => undefined);
      throw e;
    });
  } catch (e) {
    throw new FsError('EIO', { message: `cannot reach the source ${redactUrl(info.source)} of mirror ${info.id} to unregister it: ${(e as Error).message}` });
  }
  try {
    await unregisterMirror(source, info.id);
  } finally {
    await source.close();
  }
  return { id: info.id, source: redactUrl(info.source) };
}

/** Forgets a mirror in its source so the changelog is no longer kept for it. */
export async function unregisterMirror(source: Meta, id: string): Promise<void> {
  await source.updateFormat((f) => {
    const { [id]: _gone, ...rest } = mirrorsOf(f);
    return withMirrors(f, rest);
  });
}

export interface OpenMetaOptions extends MirrorMetaOptions {
  /** Open a writable mirror read-only. */
  readOnly?: boolean;
}

/** The Meta a client of this URL uses: the engine itself, or for a mirror a MirrorMeta over mirror and source. */
export async function openVolumeMeta(url: string, opts: OpenMetaOptions = {}): Promise<Meta> {
  return (await openVolume(url, opts)).meta;
}

/**
 * openVolumeMeta and the format record it read (a client loads it once per open). A writable mirror's source
 * is first reached by the client's session (MirrorMeta.newSession), in parallel with the mirror's.
 */
export async function openVolume(url: string, opts: OpenMetaOptions = {}): Promise<{ meta: Meta; format: Format }> {
  const local = await openMeta(url);
  let format: Format;
  let info: MirrorOf | undefined;
  try {
    format = await local.load();
    info = mirrorOf(format);
  } catch (e) {
    await local.close();
    throw e;
  }
  if (!info) return { meta: local, format };
  const source = info.writable && !opts.readOnly ? await openMeta(info.source) : undefined;
  return { meta: new MirrorMeta(local, source, info, opts), format };
}
