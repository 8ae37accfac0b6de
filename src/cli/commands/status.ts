// ferry status META-URL [--clean] [--json]: the setting, usage, client sessions, mirrors, cache groups and
// version of a volume, as readable tables or one JSON document.
import { flag, type Command, type Parsed } from '../args.js';
import { ago, formatBytes, formatSizeShort, out, table } from '../output.js';
import { withMeta } from '../meta.js';

const command: Command = {
  spec: {
    name: 'status',
    summary: 'Show the format, client sessions, usage and version of a volume.',
    usage: 'META-URL',
    description: [
      'Prints the setting of the volume (storage, block size, compression, checksum, encryption, shards), the',
      'used space and inodes, the sessions of clients using the volume (SDK, mounts, gateways) with the age of',
      'their last heartbeat, the mirrors of the volume (how far each has applied its changes), the cache',
      'groups with their live members, and the volume version (the number of namespace changes committed).',
      'With --json, the same as one JSON document (the whole format record under "setting").',
      'A session whose heartbeat is older than 5 minutes belongs to a client that crashed: --clean removes',
      'such sessions, releasing their locks and freeing their deleted files.',
      "Below the sessions, the last error of each client's background work (heartbeat, gc, compaction, ...),",
      'when it had one, and whether that work has succeeded again since.',
    ].join('\n'),
    examples: ['ferry status sqlite3://ferry-data/meta.db', 'ferry status --clean sqlite3://ferry-data/meta.db'],
    options: {
      clean: { type: 'boolean', help: 'remove stale sessions (heartbeat older than 5 minutes)' },
      json: { type: 'boolean', help: 'print everything as one JSON document' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    await withMeta(metaUrl, async (meta, format) => {
      const { mirrorOf, redactUrl } = await import('../../mirror/format.js');
      const { SESSION_TIMEOUT_MS } = await import('../../vfs/jobs.js');
      const { volumeStatus, roleOf } = await import('../../client/status.js');
      const doc = await volumeStatus(meta, format, { clean: flag(p, 'clean') });
      if (flag(p, 'json')) {
        await out(JSON.stringify(doc, null, 2) + '\n');
        return;
      }
      const { sessions, usage: st, version, cleaned } = doc;
      const now = Date.now();
      const lines: string[] = [];
      if (cleaned) lines.push(`cleaned ${cleaned.length} stale session${cleaned.length === 1 ? '' : 's'}${cleaned.length ? ` (${cleaned.join(', ')})` : ''}`, '');
      const s = format.storage;
      const of = mirrorOf(format);
      const setting: Array<[string, string]> = [
        ['name', format.name],
        ['uuid', format.uuid],
        ['metadata', `${redactUrl(meta.url)} (${meta.engine})`],
        ['storage', redactUrl(s.url)],
        ['block size', formatSizeShort(format.blockSize)],
        ['compression', s.compression],
        ['checksum', s.checksum],
        ['encryption', s.encryption ? s.encryption.algorithm : 'none'],
        ['shards', String(s.shards)],
        ['trash days', String(format.trashDays)],
        ['created', format.createdAt],
        ...(of ? [['mirror of', `${redactUrl(of.source)} (id ${of.id}, ${of.writable ? 'writable' : 'read-only'})`] as [string, string]] : []),
      ];
      lines.push('Setting:', ...setting.map(([k, v]) => `  ${(k + ':').padEnd(13)}${v}`), '');
      lines.push('Usage:');
      lines.push(
        `  space: ${formatBytes(st.usedSpace)} used (${st.usedSpace} bytes)` +
          (format.capacity ? ` of ${formatBytes(format.capacity)}, ${formatBytes(st.availSpace)} available` : ', no capacity limit'),
      );
      lines.push(`  inodes: ${st.usedInodes} used` + (format.inodes ? ` of ${format.inodes}, ${st.availInodes} available` : ', no inode limit'));
      lines.push('');
      lines.push(`Sessions: ${sessions.length}`);
      if (sessions.length) {
        const rows = [['SID', 'ROLE', 'HOST', 'PID', 'MOUNT / LABEL', 'VERSION', 'STARTED', 'UPGRADES', 'HEARTBEAT', 'OPEN FILES', 'WB PENDING', 'METRICS']];
        for (const s of sessions) {
          const age = now - s.heartbeat;
          // Open files and write-back backlog are a client's (sent with its heartbeats); others have none.
          const num = (v: unknown) => (typeof v === 'number' ? String(v) : '-');
          rows.push([
            String(s.sid),
            roleOf(s),
            s.hostname,
            String(s.pid),
            s.mountPoint || '-',
            s.version || '-',
            s.startedAt,
            // Doors (gateway, webhdfs, meta-server) can be upgraded in place (cli/upgrade.ts); others cannot.
            typeof s.upgrades === 'number' ? String(s.upgrades) : DOORS.has(roleOf(s)) || s.mountPoint === 'webhdfs' ? '0' : '-',
            `${ago(age)}${age > SESSION_TIMEOUT_MS ? ' (stale)' : ''}`,
            num(s.openFiles),
            num(s.writebackPending),
            typeof s.metrics === 'string' ? s.metrics : '-',
          ]);
        }
        lines.push(indent(table(rows, [0, 3, 7, 9, 10])));
        for (const s of sessions) {
          const e = s.lastError;
          if (!e) continue;
          const state = e.clearedAt ? ` (recovered ${ago(now - e.clearedAt)})` : '';
          lines.push(`  session ${s.sid}: background ${e.job} failed ${ago(now - e.at)}: ${e.message}${state}`);
        }
        // Supervised FUSE mounts (docs/upgrade.md): the serving process, since when the mount lives, and how
        // often it was handed over to a new version or recovered from a crash of its serving process.
        const mounts = sessions.filter((s) => typeof s.mountStartedAt === 'string' && s.standby !== true);
        if (mounts.length) {
          lines.push('', `Mounts: ${mounts.length}`);
          const rows = [['SID', 'MOUNT', 'PID', 'SUPERVISOR', 'VERSION', 'MOUNTED', 'SERVING SINCE', 'UPGRADES', 'RECOVERIES']];
          for (const s of mounts) {
            rows.push([String(s.sid), s.mountPoint || '-', String(s.pid), String(s.supervisor ?? '-'), s.version || '-', String(s.mountStartedAt), String(s.servingSince ?? s.startedAt), String(s.upgrades ?? 0), String(s.recoveries ?? 0)]);
          }
          lines.push(indent(table(rows, [0, 2, 3, 7, 8])));
        }
      }
      // A source's registered mirrors: how far each has applied the changelog (details: ferry mirror status).
      const mirrors = Object.entries(doc.mirrors);
      lines.push('', `Mirrors: ${mirrors.length}`);
      if (mirrors.length) {
        const rows = [['ID', 'URL', 'APPLIED', 'BEHIND', 'LAST APPLIED', 'STATE']];
        for (const [id, m] of mirrors) {
          rows.push([id, redactUrl(m.url), String(m.applied), String(Math.max(0, version - m.applied)), m.appliedAt ? ago(now - m.appliedAt) : 'never', m.needsResync ? 'needs resync' : 'ok']);
        }
        lines.push(indent(table(rows, [2, 3])));
      }
      // Cache groups are live sessions of members (ferry cache serve, or clients with --cache-group).
      const groups = doc.cacheGroups;
      lines.push('', `Cache groups: ${groups.length}`);
      if (groups.length) {
        const rows = [['GROUP', 'MEMBERS', 'ADDRESSES']];
        for (const g of groups) rows.push([g.name, String(g.members.length), g.members.map((m) => m.address).join(', ') || '-']);
        lines.push(indent(table(rows, [1])));
      }
      lines.push('');
      lines.push(`Version: ${version}`);
      await out(lines.join('\n') + '\n');
    });
  },
};

export default command;

const DOORS = new Set(['gateway', 'webhdfs', 'meta-server']);

function indent(t: string): string {
  return t.trimEnd().replace(/^/gm, '  ');
}
