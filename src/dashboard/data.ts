// What the dashboard shows of one volume (GET /api/volumes/ID, docs/dashboard.md), read through the same
// functions as `ferry status` (client/status.ts) plus the quota list, the trash and the sessions' own
// reports (open files, write-back backlog, cache-group traffic, background errors), and the tips for the
// failures it recognises.
import type { Meta } from '../meta/interface.js';
import type { QuotaInfo } from '../meta/types.js';
import { redactText, redactUrl } from '../meta/urls.js';
import { volumeStatus, type StatusSession, type VolumeStatus } from '../client/status.js';

/** A known failure and what to do about it. */
export interface Tip {
  /** metadata-unreachable | store-credentials | mount-restarting | quota-full | mirror-stale */
  problem: string;
  severity: 'error' | 'warning';
  /** What was seen. */
  message: string;
  /** What to do. */
  tip: string;
}

export interface SessionView {
  sid: number;
  role: string;
  host: string;
  pid: number;
  label: string;
  version: string;
  startedAt: string;
  heartbeat: number;
  heartbeatAgeMs: number;
  stale: boolean;
  openFiles?: number;
  writebackPending?: number;
  cacheGroup?: string;
  metrics?: string;
  lastError?: { job: string; message: string; at: number; clearedAt?: number };
  /** What a CSI mount may record in its session: the PV (name, volume handle) and pods it serves. */
  pv?: string;
  volumeHandle?: string;
  podUids?: string[];
}

export interface RingMember {
  sid: number;
  address: string;
  host: string;
  region?: string;
  zone?: string;
  servedRequests?: number;
  servedBytes?: number;
  /** Block reads this member's caches served, of all its block reads (undefined before its first report). */
  hitRatio?: number;
}

export interface MirrorView {
  id: string;
  url: string;
  applied: number;
  behind: number;
  appliedAt?: number;
  needsResync?: { since: string; reason: string };
  stale: boolean;
}

export interface QuotaView extends QuotaInfo {
  /** The larger of the space and inode fractions used (0 when unlimited). */
  fullness: number;
}

export interface VolumeView {
  id: number;
  name: string;
  uuid: string;
  metaUrl: string;
  engine: string;
  version: number;
  readAt: number;
  /** How long reading this view took (ms). */
  readMs: number;
  usage: { usedSpace: number; capacity: number; availSpace: number; usedInodes: number; inodeLimit: number; availInodes: number };
  quotas: QuotaView[];
  trash: { days: number; entries: number; bytes: number; oldest?: number };
  sessions: SessionView[];
  cacheGroups: Array<{ name: string; members: RingMember[] }>;
  mirrors: MirrorView[];
  mirrorOf?: { source: string; id: string; writable: boolean };
  writeback: { pendingBlocks: number; clients: number };
  errors: Array<{ sid: number; host: string; role: string; job: string; message: string; at: number; clearedAt?: number }>;
  tips: Tip[];
}

/** A mirror behind the source for longer than this without applying anything is stale. */
export const MIRROR_STALE_MS = 5 * 60_000;
/** A quota this full is reported. */
export const QUOTA_FULL = 0.95;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export type TrashSummary = Omit<VolumeView['trash'], 'days'>;

/** What the trash holds: a walk of all its entries (the dashboard reuses it for a while, trashSummary below). */
export async function trashSummary(meta: Meta): Promise<TrashSummary> {
  const items = await meta.trashList();
  let bytes = 0;
  let oldest: number | undefined;
  for (const i of items) {
    bytes += i.length;
    if (oldest === undefined || i.deletedAt < oldest) oldest = i.deletedAt;
  }
  return { entries: items.length, bytes, oldest };
}

/** One read of a volume for the dashboard; `trash` may give a summary read less often than the rest. */
export async function readVolume(id: number, meta: Meta, opts: { now?: number; trash?: () => Promise<TrashSummary> } = {}): Promise<VolumeView> {
  const t0 = performance.now();
  const now = opts.now ?? Date.now();
  const format = await meta.load();
  const [status, quotas, trash] = await Promise.all([volumeStatus(meta, format, { now }), meta.quotaList(), (opts.trash ?? (() => trashSummary(meta)))()]);
  const sessions = status.sessions.map((s) => sessionView(s, now));
  const view: VolumeView = {
    id,
    name: format.name,
    uuid: format.uuid,
    metaUrl: redactUrl(meta.url),
    engine: meta.engine,
    version: status.version,
    readAt: now,
    readMs: 0,
    usage: {
      usedSpace: status.usage.usedSpace,
      capacity: format.capacity,
      availSpace: status.usage.availSpace,
      usedInodes: status.usage.usedInodes,
      inodeLimit: format.inodes,
      availInodes: status.usage.availInodes,
    },
    quotas: quotas.map((q) => ({ ...q, fullness: Math.max(q.capacity ? q.usedSpace / q.capacity : 0, q.inodes ? q.usedInodes / q.inodes : 0) })),
    trash: { days: format.trashDays, ...trash },
    sessions,
    cacheGroups: ringOf(status, sessions),
    mirrors: Object.entries(status.mirrors).map(([mid, m]) => {
      const behind = Math.max(0, status.version - m.applied);
      return { id: mid, url: redactUrl(m.url), applied: m.applied, behind, appliedAt: m.appliedAt || undefined, needsResync: m.needsResync, stale: !!m.needsResync || (behind > 0 && now - (m.appliedAt || 0) > MIRROR_STALE_MS) };
    }),
    mirrorOf: format.mirror?.of ? { source: redactUrl(format.mirror.of.source), id: format.mirror.of.id, writable: !!format.mirror.of.writable } : undefined,
    writeback: {
      pendingBlocks: sessions.reduce((n, s) => n + (s.stale ? 0 : s.writebackPending ?? 0), 0),
      clients: sessions.filter((s) => !s.stale && (s.writebackPending ?? 0) > 0).length,
    },
    errors: sessions
      .filter((s) => s.lastError)
      .map((s) => ({ sid: s.sid, host: s.host, role: s.role, ...s.lastError! }))
      .sort((a, b) => b.at - a.at),
    tips: [],
  };
  view.tips = tipsOf(view);
  view.readMs = Math.round((performance.now() - t0) * 10) / 10;
  return view;
}

function sessionView(s: StatusSession, now: number): SessionView {
  const e = s.lastError;
  return {
    sid: s.sid,
    role: s.role,
    host: s.hostname,
    pid: s.pid,
    label: s.mountPoint,
    version: s.version,
    startedAt: s.startedAt,
    heartbeat: s.heartbeat,
    heartbeatAgeMs: Math.max(0, now - s.heartbeat),
    stale: s.stale,
    openFiles: num(s.openFiles),
    writebackPending: num(s.writebackPending),
    cacheGroup: str(s.cacheGroup),
    metrics: str(s.metrics),
    lastError: e ? { job: e.job, message: redactText(e.message), at: e.at, clearedAt: e.clearedAt } : undefined,
    pv: str(s.pv),
    volumeHandle: str(s.volumeHandle),
    podUids: Array.isArray(s.podUids) ? s.podUids.filter((u): u is string => typeof u === 'string') : undefined,
  };
}

/** The live members of each cache group with what they reported (cache/group.ts heartbeats). */
function ringOf(status: VolumeStatus, sessions: SessionView[]): VolumeView['cacheGroups'] {
  const bySid = new Map(status.sessions.map((s) => [s.sid, s]));
  return status.cacheGroups.map((g) => ({
    name: g.name,
    members: g.members.map((m) => {
      const s = bySid.get(m.sid)!;
      const hits = num(s.cacheHits);
      const misses = num(s.cacheMisses);
      return {
        sid: m.sid,
        address: m.address,
        host: sessions.find((x) => x.sid === m.sid)?.host ?? '?',
        region: m.region,
        zone: m.zone,
        servedRequests: num(s.servedRequests),
        servedBytes: num(s.servedBytes),
        hitRatio: hits !== undefined && misses !== undefined && hits + misses > 0 ? hits / (hits + misses) : undefined,
      };
    }),
  }));
}

/** Object store refusals by S3, Ceph, GCS and Azure wording, and FerryFS's own. */
const CREDENTIALS_REFUSED = /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|access denied|ExpiredToken|InvalidToken|AuthorizationHeaderMalformed|AuthenticationFailed|credentials? (?:refused|rejected)|\b403\b/i;

/** The known failures visible in a view of the volume (Kubernetes ones: kube.ts). */
export function tipsOf(v: VolumeView): Tip[] {
  const tips: Tip[] = [];
  for (const e of v.errors) {
    if (e.clearedAt || !CREDENTIALS_REFUSED.test(e.message)) continue;
    tips.push({
      problem: 'store-credentials',
      severity: 'error',
      message: `the object store refused the credentials of session ${e.sid} (${e.role} on ${e.host}): ${e.message}`,
      tip: `check the storage access key and secret: 'ferry config --access-key KEY --secret-key SECRET ${v.metaUrl}' sets the volume's; a client given its own (environment, mount options) must be fixed there, then the client retries by itself`,
    });
  }
  // A mount process that keeps dying leaves a stale session behind each time, on the same host and label.
  const byLabel = new Map<string, SessionView[]>();
  for (const s of v.sessions) if (s.role === 'mount' || s.role === 'csi-mount') byLabel.set(`${s.host}\0${s.label}`, [...(byLabel.get(`${s.host}\0${s.label}`) ?? []), s]);
  for (const list of byLabel.values()) {
    const dead = list.filter((s) => s.stale);
    if (!dead.length || list.length < 2) continue;
    tips.push({
      problem: 'mount-restarting',
      severity: 'warning',
      message: `the mount ${list[0]!.label} on ${list[0]!.host} was started ${list.length} times; ${dead.length} earlier process(es) died without closing their session`,
      tip: `read the mount's log (journalctl, or 'kubectl logs' of its pod) for why it exits; 'ferry status --clean ${v.metaUrl}' removes the dead sessions and releases their locks`,
    });
  }
  const full: Array<[string, number]> = [];
  if (v.usage.capacity) full.push(['the volume\'s space', v.usage.usedSpace / v.usage.capacity]);
  if (v.usage.inodeLimit) full.push(['the volume\'s inodes', v.usage.usedInodes / v.usage.inodeLimit]);
  for (const q of v.quotas) if (q.path !== '/') full.push([`the quota of ${q.path}`, q.fullness]);
  for (const [what, f] of full) {
    if (f < QUOTA_FULL) continue;
    tips.push({
      problem: 'quota-full',
      severity: f >= 1 ? 'error' : 'warning',
      message: `${what} is ${Math.floor(f * 100)}% used${f >= 1 ? ': writes fail with "quota exceeded" (EDQUOT)' : ''}`,
      tip: `free space (the trash holds ${v.trash.entries} deleted entr${v.trash.entries === 1 ? 'y' : 'ies'} still counted: 'ferry trash purge ${v.metaUrl}'), or raise the limit with 'ferry quota set' / 'ferry config --capacity'`,
    });
  }
  for (const m of v.mirrors) {
    if (!m.stale) continue;
    tips.push(
      m.needsResync
        ? { problem: 'mirror-stale', severity: 'error', message: `mirror ${m.id} (${m.url}) needs a resync: ${m.needsResync.reason}`, tip: `re-snapshot it with 'ferry mirror resync ${m.url}'` }
        : {
            problem: 'mirror-stale',
            severity: 'warning',
            message: `mirror ${m.id} (${m.url}) is ${m.behind} version(s) behind and applied nothing for ${Math.round((v.readAt - (m.appliedAt ?? 0)) / 60_000)} min`,
            tip: `check that its replicator runs ('ferry mirror status ${m.url}'; start it with 'ferry mirror run ${m.url}') and reaches this volume's metadata`,
          },
    );
  }
  return tips;
}

/** The view of a volume whose metadata could not be read: its error and the tip. */
export function unreachableView(id: number, metaUrl: string, e: unknown, now = Date.now()): { id: number; metaUrl: string; error: string; readAt: number; tips: Tip[] } {
  const message = redactText(e instanceof Error ? e.message : String(e));
  return {
    id,
    metaUrl: redactUrl(metaUrl),
    error: message,
    readAt: now,
    tips: [
      {
        problem: 'metadata-unreachable',
        severity: 'error',
        message: `the metadata at ${redactUrl(metaUrl)} cannot be read: ${message}`,
        tip: 'check that the metadata engine runs and answers from this host (address, port, firewall, credentials in the URL); mounts keep retrying and resume by themselves once it answers',
      },
    ],
  };
}
