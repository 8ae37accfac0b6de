// ferry quota set|get|list|delete|check META-URL: directory quotas (capacity and inodes of a tree, nested
// allowed) and, as the path /, the volume-wide limits. Usage is kept by the metadata as files change; check
// recounts it by a walk.
import { UsageError, flag, parseCount, parseSize, str, volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, out, table } from '../output.js';
import type { QuotaCheck, QuotaInfo } from '../../meta/types.js';

const ACTIONS = ['set', 'get', 'list', 'delete', 'check'];

const limit = (n: number, fmt: (n: number) => string) => (n > 0 ? fmt(n) : 'unlimited');
const percent = (used: number, max: number) => (max > 0 ? `${Math.min(999, Math.round((used / max) * 100))}%` : '-');

function quotaTable(qs: QuotaInfo[]): string {
  return table(
    [
      ['PATH', 'CAPACITY', 'USED', 'USE%', 'INODES', 'IUSED', 'IUSE%'],
      ...qs.map((q) => [
        q.path,
        limit(q.capacity, formatBytes),
        formatBytes(q.usedSpace),
        percent(q.usedSpace, q.capacity),
        limit(q.inodes, String),
        String(q.usedInodes),
        percent(q.usedInodes, q.inodes),
      ]),
    ],
    [1, 2, 3, 4, 5, 6],
  );
}

function checkTable(cs: QuotaCheck[]): string {
  const status = (c: QuotaCheck) => (c.repaired ? 'repaired' : c.walkedSpace === c.usedSpace && c.walkedInodes === c.usedInodes ? 'ok' : 'drift');
  return table(
    [
      ['PATH', 'USED', 'WALKED', 'IUSED', 'IWALKED', 'STATUS'],
      ...cs.map((c) => [c.path, formatBytes(c.usedSpace), formatBytes(c.walkedSpace), String(c.usedInodes), String(c.walkedInodes), status(c)]),
    ],
    [1, 2, 3, 4],
  );
}

const command: Command = {
  spec: {
    name: 'quota',
    summary: 'Set, show, remove and check directory quotas and the volume-wide limits.',
    usage: 'set|get|list|delete|check META-URL [--path DIR]',
    description: [
      'A quota limits the bytes (--capacity) and the number of files and directories (--inodes) of a directory',
      'tree; quotas may nest. --path / is the whole volume (the capacity and inodes of `ferry config`). Usage is',
      'counted as files change, 4 KiB-aligned as on a local disk, each name of a hard link where it is; a deleted',
      'file leaves its directory quota at once, even while the trash keeps it. Past a limit, writes and creates',
      'fail with "Disk quota exceeded" (EDQUOT; ENOSPC for the volume); df on a quota\'d directory, or on a mount',
      'of it with --subdir, shows the quota as the size.',
      '',
      '  set     sets or changes a quota (--capacity, --inodes; 0 removes that limit); a new one counts the tree',
      '  get     one quota and its usage',
      '  list    every quota, / first when the volume has limits (--json for one document)',
      '  delete  removes a quota',
      '  check   recounts quotas (all, or --path) by a walk; --repair sets a drifted usage to the count. Exits',
      '          with 1 when a drift is left unrepaired. Run it on a quiet volume: files changing meanwhile show as drift.',
    ].join('\n'),
    examples: [
      'ferry quota set sqlite3://ferry-data/meta.db --path /team-a --capacity 100G --inodes 1000000',
      'ferry quota get sqlite3://ferry-data/meta.db --path /team-a',
      'ferry quota list sqlite3://ferry-data/meta.db',
      'ferry quota set sqlite3://ferry-data/meta.db --path / --capacity 10T',
      'ferry quota check sqlite3://ferry-data/meta.db --repair',
      'ferry quota delete sqlite3://ferry-data/meta.db --path /team-a',
    ],
    options: {
      path: { type: 'string', arg: 'DIR', help: 'the directory (/ for the whole volume); check: only this quota' },
      capacity: { type: 'string', arg: 'SIZE', help: 'set: bytes, e.g. 500M, 100G (0: no limit)' },
      inodes: { type: 'string', arg: 'N', help: 'set: files and directories (0: no limit)' },
      repair: { type: 'boolean', help: 'check: set drifted usage to what the walk counted' },
      json: { type: 'boolean', help: 'get, list, check: print one JSON document' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [action, metaUrl] = p.args as [string, string];
    if (!ACTIONS.includes(action)) throw new UsageError(`unknown action '${action}' (set, get, list, delete or check)`);
    const raw = str(p, 'path');
    if (raw === undefined && ['set', 'get', 'delete'].includes(action)) throw new UsageError(`quota ${action} needs --path DIR`);
    const path = raw === undefined ? undefined : volumePath(raw);
    const capacity = str(p, 'capacity');
    const inodes = str(p, 'inodes');
    if (action !== 'set' && (capacity !== undefined || inodes !== undefined)) throw new UsageError(`--capacity and --inodes are options of quota set`);
    if (action === 'set' && capacity === undefined && inodes === undefined) throw new UsageError('quota set needs --capacity SIZE, --inodes N or both');
    if (action !== 'check' && flag(p, 'repair')) throw new UsageError('--repair is an option of quota check');
    const limits = {
      ...(capacity !== undefined ? { capacity: parseSize('--capacity', capacity) } : {}),
      ...(inodes !== undefined ? { inodes: parseCount('--inodes', inodes) } : {}),
    };
    const json = flag(p, 'json');
    const { withMeta } = await import('../meta.js');
    const { rootContext } = await import('../../meta/types.js');
    const ctx = rootContext();
    await withMeta(metaUrl, async (meta) => {
      const show = async (v: unknown, text: string) => out(json ? JSON.stringify(v, null, 2) + '\n' : text);
      if (action === 'set') {
        const q = await meta.quotaSet(ctx, path!, limits);
        return void (await show(q, quotaTable([q])));
      }
      if (action === 'get') {
        const q = await meta.quotaGet(ctx, path!);
        return void (await show(q, quotaTable([q])));
      }
      if (action === 'list') {
        const qs = await meta.quotaList();
        return void (await show(qs, qs.length ? quotaTable(qs) : 'no quotas\n'));
      }
      if (action === 'delete') {
        await meta.quotaDelete(ctx, path!);
        return void (await out(`removed the quota of ${path}\n`));
      }
      const cs = await meta.quotaCheck(ctx, { path, repair: flag(p, 'repair') });
      await show(cs, checkTable(cs));
      const drifted = cs.filter((c) => !c.repaired && (c.walkedSpace !== c.usedSpace || c.walkedInodes !== c.usedInodes));
      if (drifted.length) {
        const { FsError } = await import('../../errors.js');
        throw new FsError('EIO', { message: `${drifted.length} quota${drifted.length === 1 ? '' : 's'} drifted (${drifted.map((c) => c.path).join(', ')}): run with --repair` });
      }
    });
  },
};

export default command;
