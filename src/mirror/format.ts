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
}

/** In a source's format: one registered mirror. The changelog is kept until every mirror applied it. */
export interface MirrorEntry {
  url: string;
  createdAt: string;
  applied: number;
  appliedAt: number;
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
