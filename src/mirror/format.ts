// What a source and its mirrors record about each other in their format records.
import type { Format } from '../meta/types.js';

/** In a mirror's format: where it comes from. */
export interface MirrorOf {
  /** The source's metadata URL (a writable mirror client connects to it). */
  source: string;
  /** This mirror's id in the source's `mirrors`. */
  id: string;
  /** Clients write through to the source unless opened read-only. */
  writable: boolean;
  snapshotVersion: number;
  /** The mirror's own object store, filled by `ferry mirror run --data`; absent: it reads the source's. */
  storage?: string;
}

/** In a source's format: one registered mirror. The changelog is kept until every mirror applied it. */
export interface MirrorEntry {
  url: string;
  createdAt: string;
  applied: number;
  appliedAt: number;
  /** Set when the mirror fell behind the source's retention window: its changelog is no longer kept. */
  needsResync?: { since: string; reason: string };
}

/** Progress of the data copier of an own-store mirror, kept in the mirror's format record. */
export interface DataCopyState {
  /** The snapshot this state belongs to (a re-snapshot starts the copy over). */
  snapshotVersion: number;
  /** The first full pass (snapshot blocks, stale copies removed) is done; `cursor` is then meaningful. */
  backfilled: boolean;
  /** Every record of the mirror's changelog up to this version has its blocks copied or deleted. */
  cursor: number;
  copiedBlocks: number;
  copiedBytes: number;
  deletedBlocks: number;
  /** Blocks of the records being worked on, not yet copied. */
  pendingBlocks: number;
  pendingBytes: number;
  updatedAt: number;
  lastError?: string;
}

/** The source's retention window in seconds (0: the changelog is kept for every mirror, however late). */
export function retentionOf(f: Format): number {
  const s = Number(f.mirrorRetention ?? 0);
  return Number.isFinite(s) && s > 0 ? s : 0;
}

export function dataCopyOf(f: Format): DataCopyState | undefined {
  return f.dataCopy as DataCopyState | undefined;
}

/** The command that re-snapshots a mirror, for messages. */
export function resyncHint(mirrorUrl: string): string {
  return `re-snapshot it with 'ferry mirror resync ${redactUrl(mirrorUrl)}'`;
}

export function mirrorOf(f: Format): MirrorOf | undefined {
  return f.mirrorOf as MirrorOf | undefined;
}

export function mirrorsOf(f: Format): Record<string, MirrorEntry> {
  return (f.mirrors as Record<string, MirrorEntry> | undefined) ?? {};
}

/** A URL without its password, for records and messages. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return raw;
  }
}
