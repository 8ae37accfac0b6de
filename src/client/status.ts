// What `ferry status --json` prints and the dashboard shows for a volume, read once here: the setting
// (secrets hidden), usage, sessions with their role and staleness, registered mirrors, cache groups (live
// members) and the volume version.
import type { Meta } from '../meta/interface.js';
import { rootContext, type Format, type MirrorEntry, type SessionInfo, type StatFs } from '../meta/types.js';
import { redacted } from '../meta/urls.js';
import { mirrorsOf } from '../mirror/format.js';
import { SESSION_TIMEOUT_MS } from '../vfs/jobs.js';

export interface StatusSession extends SessionInfo {
  role: string;
  stale: boolean;
}

export interface CacheGroupStatus {
  name: string;
  members: Array<{ sid: number; address: string; region?: string; zone?: string }>;
}

export interface VolumeStatus {
  setting: Format;
  sessions: StatusSession[];
  usage: StatFs;
  mirrors: Record<string, MirrorEntry>;
  cacheGroups: CacheGroupStatus[];
  version: number;
  cleaned?: number[];
}

/** One read of everything `ferry status` shows; `clean` first removes stale sessions. */
export async function volumeStatus(meta: Meta, format: Format, opts: { clean?: boolean; now?: number } = {}): Promise<VolumeStatus> {
  const cleaned = opts.clean ? await meta.cleanStaleSessions(SESSION_TIMEOUT_MS) : undefined;
  const [sessions, usage, version] = await Promise.all([meta.listSessions(), meta.statfs(rootContext()), meta.currentVersion()]);
  const now = opts.now ?? Date.now();
  return {
    setting: redacted(format),
    sessions: sessions.map((s) => ({ ...s, role: roleOf(s), stale: now - s.heartbeat > SESSION_TIMEOUT_MS })),
    usage,
    // A mirror's URL may hold its engine's password, like the setting's URLs.
    mirrors: redacted(mirrorsOf(format)),
    cacheGroups: cacheGroupsOf(sessions, now, SESSION_TIMEOUT_MS),
    version,
    ...(cleaned ? { cleaned } : {}),
  };
}

/**
 * What a session's process is: recorded since sessions carry a role; for older records, told from the label
 * each kind of process has always written.
 */
export function roleOf(s: { role?: unknown; standby?: unknown; mountPoint?: string; cacheGroup?: string; mirrorDataCopier?: unknown }): string {
  if (typeof s.role === 'string' && s.role) return s.standby === true ? `${s.role} (standby)` : s.role;
  const label = s.mountPoint ?? '';
  if (label === 's3-gateway') return 'gateway';
  if (label.startsWith('mirror replicator')) return 'replicator';
  if (s.mirrorDataCopier || label === 'mirror data copier') return 'copier';
  if (s.cacheGroup) return 'cache-member';
  if (label.startsWith('sdk:')) return 'sdk';
  if (label.startsWith('ferry ')) return 'command';
  if (/^[^:/]*:\//.test(label)) return 'mount';
  return '-';
}

/** Cache groups are the live sessions of their members (ferry cache serve, or clients with --cache-group). */
export function cacheGroupsOf(sessions: SessionInfo[], now: number, timeout = SESSION_TIMEOUT_MS): CacheGroupStatus[] {
  const groups = new Map<string, CacheGroupStatus['members']>();
  for (const s of sessions) {
    if (!s.cacheGroup || now - s.heartbeat > timeout) continue;
    const list = groups.get(s.cacheGroup) ?? [];
    list.push({ sid: s.sid, address: s.groupAddress ?? '?', region: s.region, zone: s.zone });
    groups.set(s.cacheGroup, list);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([name, members]) => ({ name, members }));
}
