// ferry status META-URL [--clean]: the format, client sessions, usage and version of a volume.
import { flag, type Command, type Parsed } from '../args.js';
import { ago, formatBytes, out, table } from '../output.js';
import { withMeta } from '../meta.js';

const command: Command = {
  spec: {
    name: 'status',
    summary: 'Show the format, client sessions, usage and version of a volume.',
    usage: 'META-URL',
    description: [
      'Prints the format record, the sessions of clients using the volume (SDK, mounts, gateways) with the',
      'age of their last heartbeat, the used space and inodes, and the volume version (the number of',
      'namespace changes committed). A session whose heartbeat is older than 5 minutes belongs to a client',
      'that crashed: --clean removes such sessions, releasing their locks and freeing their deleted files.',
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
      const { rootContext } = await import('../../meta/types.js');
      const { SESSION_TIMEOUT_MS } = await import('../../vfs/jobs.js');
      let cleaned: number[] | undefined;
      if (flag(p, 'clean')) cleaned = await meta.cleanStaleSessions(SESSION_TIMEOUT_MS);
      const [sessions, st, version] = await Promise.all([meta.listSessions(), meta.statfs(rootContext()), meta.currentVersion()]);
      const now = Date.now();
      if (flag(p, 'json')) {
        const doc = {
          setting: redacted(format),
          sessions: sessions.map((s) => ({ ...s, stale: now - s.heartbeat > SESSION_TIMEOUT_MS })),
          usage: st,
          version,
          ...(cleaned ? { cleaned } : {}),
        };
        await out(JSON.stringify(doc, null, 2) + '\n');
        return;
      }
      const lines: string[] = [];
      if (cleaned) lines.push(`cleaned ${cleaned.length} stale session${cleaned.length === 1 ? '' : 's'}${cleaned.length ? ` (${cleaned.join(', ')})` : ''}`, '');
      lines.push('Setting:', JSON.stringify(redacted(format), null, 2), '');
      lines.push(`Sessions: ${sessions.length}`);
      if (sessions.length) {
        const rows = [['SID', 'HOST', 'PID', 'MOUNT', 'VERSION', 'STARTED', 'HEARTBEAT']];
        for (const s of sessions) {
          const age = now - s.heartbeat;
          rows.push([
            String(s.sid),
            s.hostname,
            String(s.pid),
            s.mountPoint || '-',
            s.version || '-',
            s.startedAt,
            `${ago(age)}${age > SESSION_TIMEOUT_MS ? ' (stale)' : ''}`,
          ]);
        }
        lines.push(table(rows, [0, 2]).trimEnd().replace(/^/gm, '  '));
        for (const s of sessions) {
          const e = s.lastError;
          if (!e) continue;
          const state = e.clearedAt ? ` (recovered ${ago(now - e.clearedAt)})` : '';
          lines.push(`  session ${s.sid}: background ${e.job} failed ${ago(now - e.at)}: ${e.message}${state}`);
        }
      }
      lines.push('');
      lines.push('Usage:');
      lines.push(
        `  space: ${formatBytes(st.usedSpace)} used (${st.usedSpace} bytes)` +
          (format.capacity ? ` of ${formatBytes(format.capacity)}, ${formatBytes(st.availSpace)} available` : ', no capacity limit'),
      );
      lines.push(`  inodes: ${st.usedInodes} used` + (format.inodes ? ` of ${format.inodes}, ${st.availInodes} available` : ', no inode limit'));
      lines.push('');
      lines.push(`Version: ${version}`);
      await out(lines.join('\n') + '\n');
    });
  },
};

export default command;

/** The format without secrets: keys, passwords in URLs. */
function redacted(format: object): object {
  return JSON.parse(
    JSON.stringify(format, (k, v) => {
      if (typeof v !== 'string') return v;
      if (/secret|password|passphrase/i.test(k)) return '***';
      return v.replace(/(\/\/[^:/@]*):[^@/]*@/, '$1:***@');
    }),
  ) as object;
}
