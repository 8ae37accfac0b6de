// How long a volume keeps its changelog, in one place for every caller (a client's background jobs, a
// mirror's replicator). A volume without mirrors keeps the recent tail (for audit and for creating a
// mirror). A source with mirrors keeps records until every registered mirror has applied them, except
// that with a retention window (`mirror.retention`, seconds, in the source's format) a mirror whose first
// unapplied record is older than the window stops holding the log back. It is then marked as needing a
// re-snapshot (`ferry mirror resync`), and its replicator refuses to go on. A mirror trims nothing itself.
import { FsError } from '../errors.js';
import type { Meta } from './interface.js';
import type { Format, MirrorEntry } from './types.js';

/** Changelog records a volume without mirrors keeps. */
export const CHANGELOG_TAIL = 100_000;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses `7d`, `12h`, `30m`, `90s`, `2w` or plain seconds; `0` turns the window off. */
export function parseDuration(option: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(raw);
  const secs = m ? Number(m[1]) * UNITS[(m[2] || 's').toLowerCase()]! : NaN;
  if (!Number.isFinite(secs) || secs > 10 * 365 * 86400) {
    throw new FsError('EINVAL', { message: `${option}: '${raw}' is not a duration (expected a number with s, m, h, d or w, such as 7d; 0 turns it off)` });
  }
  return Math.round(secs);
}

export function formatDuration(secs: number): string {
  if (!secs) return '0 (off)';
  for (const [u, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) if (secs % n === 0) return `${secs / n}${u}`;
  return `${secs}s`;
}

export interface TrimOptions {
  /** The source's format if the caller just loaded it. */
  format?: Format;
  /** Records kept when no mirror holds the log (the policy of a volume without mirrors); default: trim nothing. */
  tailWithoutMirrors?: number;
  now?: number;
}

/** The source's retention window in seconds (0: the changelog is kept for every mirror, however late). */
export function retentionOf(f: Format): number {
  const s = f.mirror?.retention ?? 0;
  return Number.isFinite(s) && s > 0 ? s : 0;
}

/** Mirrors that hold the changelog back: registered and not past the retention window. */
export function liveMirrors(f: Format): Array<[string, MirrorEntry]> {
  return Object.entries(f.mirror?.mirrors ?? {}).filter(([, m]) => !m.needsResync);
}

/** Trims a volume's changelog as far as its policy allows (see the top of this file). */
export async function trimChangelog(meta: Meta, format?: Format): Promise<void> {
  const f = format ?? (await meta.load());
  if (f.mirror?.of) return;
  if (Object.keys(f.mirror?.mirrors ?? {}).length) {
    await trimForMirrors(meta, { format: f, tailWithoutMirrors: CHANGELOG_TAIL });
    return;
  }
  const upTo = (await meta.currentVersion()) - CHANGELOG_TAIL;
  if (upTo > 0) await meta.trimChangelog(upTo);
}

/**
 * Marks the mirrors that lag past the retention window, then trims the source's changelog below the lowest
 * version every remaining mirror has applied. Returns the trim point and the ids newly marked.
 */
export async function trimForMirrors(source: Meta, opts: TrimOptions = {}): Promise<{ upTo: number; expired: string[] }> {
  let f = opts.format ?? (await source.load());
  const now = opts.now ?? Date.now();
  const window = retentionOf(f);
  const late: Array<{ id: string; applied: number; lagSec: number }> = [];
  if (window > 0) {
    for (const [id, m] of liveMirrors(f)) {
      // A mirror still being created (applied 0) holds the log for one window from its registration.
      if (m.applied === 0 && now - Date.parse(m.createdAt) <= window * 1000) continue;
      const [next] = await source.readChangelog(m.applied, 1);
      const lagSec = next ? (now - next.ts) / 1000 : 0;
      if (lagSec > window) late.push({ id, applied: m.applied, lagSec });
    }
  }
  const expired: string[] = [];
  if (late.length) {
    f = await source.updateFormat((old) => {
      expired.length = 0; // the transaction may run more than once
      const mirrors = { ...old.mirror?.mirrors };
      for (const l of late) {
        const m = mirrors[l.id];
        // Skip one that reported progress since it was measured, or that is already marked.
        if (!m || m.needsResync || m.applied > l.applied) continue;
        const reason = `its first unapplied record is ${Math.round(l.lagSec)} s old, past the source's mirror retention of ${formatDuration(window)}`;
        mirrors[l.id] = { ...m, needsResync: { since: new Date(now).toISOString(), reason } };
        expired.push(l.id);
      }
      return { mirror: { ...old.mirror, mirrors } };
    });
  }
  const live = liveMirrors(f).map(([, m]) => m.applied);
  let upTo = live.length ? Math.min(...live) : 0;
  if (!live.length && opts.tailWithoutMirrors !== undefined) upTo = (await source.currentVersion()) - opts.tailWithoutMirrors;
  if (upTo > 0) await source.trimChangelog(upTo);
  return { upTo: Math.max(0, upTo), expired };
}
