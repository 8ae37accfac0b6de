// What a source and its mirrors record about each other: the `mirror` and `dataCopy` sections of the
// format record (typed in meta/types.ts), read through these names.
import { redactUrl } from '../meta/urls.js';
import type { DataCopyState, Format, MirrorEntry, MirrorOf } from '../meta/types.js';

export type { DataCopyState, MirrorEntry, MirrorOf } from '../meta/types.js';
export { retentionOf } from '../meta/retention.js';

export function dataCopyOf(f: Format): DataCopyState | undefined {
  return f.dataCopy;
}

/** On a mirror: where it comes from. */
export function mirrorOf(f: Format): MirrorOf | undefined {
  return f.mirror?.of;
}

/** On a source: its registered mirrors by id. */
export function mirrorsOf(f: Format): Record<string, MirrorEntry> {
  return f.mirror?.mirrors ?? {};
}

/** A change of the source's format that sets its registered mirrors (keeping the rest of the section). */
export function withMirrors(f: Format, mirrors: Record<string, MirrorEntry>): Pick<Format, 'mirror'> {
  return { mirror: { ...f.mirror, mirrors } };
}

/** The command that re-snapshots a mirror, for messages. */
export function resyncHint(mirrorUrl: string): string {
  return `re-snapshot it with 'ferry mirror resync ${redactUrl(mirrorUrl)}'`;
}

export { redactUrl };
