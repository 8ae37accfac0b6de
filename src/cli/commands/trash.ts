// ferry trash list|restore|purge META-URL: what was deleted and is still kept (--trash-days), putting it
// back, and freeing it early.
import { UsageError, flag, str, volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, lsDate, out, table } from '../output.js';
import { ROOT_INODE, type TrashItem } from '../../meta/types.js';

/** A point in time: an ISO date (UTC unless it says otherwise) or a duration ago (30m, 2h, 7d). */
function parseTime(option: string, raw: string): number {
  const t = raw.trim();
  const ago = /^(\d+(?:\.\d+)?)([smhdw])$/i.exec(t);
  if (ago) return Date.now() - Number(ago[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[ago[2]!.toLowerCase() as 's'];
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(t);
  const ms = Date.parse(/^\d{4}-\d\d-\d\d$/.test(t) ? `${t}T00:00Z` : zoned ? t.replace(' ', 'T') : `${t.replace(' ', 'T')}Z`);
  if (Number.isNaN(ms)) throw new UsageError(`${option}: '${raw}' is not a time (2026-12-02T14:00, 2026-12-02, or a duration ago such as 2h or 7d)`);
  return ms;
}

const under = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(dir + '/');

/** The items the selection options name, parents before children (so a directory is back before its files). */
function select(items: TrashItem[], p: Parsed): TrashItem[] {
  const dir = str(p, 'path') === undefined ? undefined : volumePath(str(p, 'path')!);
  const since = str(p, 'since') ?? str(p, 'after');
  const until = str(p, 'until') ?? str(p, 'before');
  const from = since === undefined ? -Infinity : parseTime(since === str(p, 'since') ? '--since' : '--after', since);
  const to = until === undefined ? Infinity : parseTime(until === str(p, 'until') ? '--until' : '--before', until);
  return items
    .filter((i) => (dir === undefined || under(i.path, dir)) && i.deletedAt >= from && i.deletedAt < to)
    .sort((a, b) => a.path.split('/').length - b.path.split('/').length || a.deletedAt - b.deletedAt);
}

const command: Command = {
  spec: {
    name: 'trash',
    summary: 'List, restore and purge deleted files kept in the trash.',
    usage: 'list|restore|purge META-URL [ENTRY...]',
    description: [
      'With --trash-days N (format or config; default 1), unlink, rmdir and a rename or S3 PUT that replaces a',
      'file move it into the hidden /.trash directory, one directory per hour (UTC), instead of freeing it; its',
      'space and inode stay counted until it is purged. Clients purge hours older than N days in the background.',
      '',
      '  list     what the trash holds: entry id, deletion time, size and the path it had (--path, --since,',
      '           --until filter; --json for one document)',
      '  restore  puts entries back under their names: ENTRY ids from `list`, or all entries matching --path',
      '           (with --recursive, everything deleted under it, directories first), --before, --after.',
      '           A directory an entry was deleted from that is in the trash too comes back first (the path is',
      '           rebuilt); where a directory took that path again, the entries go into it. A file name that',
      '           exists again is refused unless --force (what is there then goes to the trash). --into DIR puts',
      '           the entries into DIR instead (the way back for entries whose directory is gone for good).',
      '  purge    frees entries now: everything, or the hours that ended before --before.',
    ].join('\n'),
    examples: [
      'ferry trash list sqlite3://ferry-data/meta.db',
      'ferry trash list --path /datasets --since 2h sqlite3://ferry-data/meta.db',
      'ferry trash restore sqlite3://ferry-data/meta.db 2026-12-02-14/1-1042-model.pt',
      'ferry trash restore --path /datasets/run-7 --recursive sqlite3://ferry-data/meta.db',
      'ferry trash restore --path /datasets/run-7 --recursive --into /recovered sqlite3://ferry-data/meta.db',
      'ferry trash restore --after 2026-12-02T14:00 --path /team-a --recursive sqlite3://ferry-data/meta.db',
      'ferry trash purge --before 7d sqlite3://ferry-data/meta.db',
    ],
    options: {
      path: { type: 'string', arg: 'DIR', help: 'list/restore: entries deleted at DIR or under it' },
      recursive: { type: 'boolean', short: 'r', help: 'restore: everything deleted under --path' },
      since: { type: 'string', arg: 'TIME', help: 'list: deleted at or after TIME (ISO date or 2h, 7d ago)' },
      until: { type: 'string', arg: 'TIME', help: 'list: deleted before TIME' },
      after: { type: 'string', arg: 'TIME', help: 'restore: entries deleted at or after TIME' },
      before: { type: 'string', arg: 'TIME', help: 'restore: entries deleted before TIME; purge: hours that ended before TIME' },
      force: { type: 'boolean', help: 'restore: replace a file that took the name again' },
      into: { type: 'string', arg: 'DIR', help: 'restore: put the entries into DIR instead of where they were deleted' },
      json: { type: 'boolean', help: 'list: print one JSON document' },
    },
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [action, metaUrl, ...ids] = p.args as [string, string, ...string[]];
    if (!['list', 'restore', 'purge'].includes(action)) throw new UsageError(`unknown action '${action}' (list, restore or purge)`);
    if (action !== 'restore' && ids.length) throw new UsageError(`trash ${action} takes no ENTRY arguments`);
    const { requireVolume } = await import('../meta.js');
    await requireVolume(metaUrl);
    const { openClient, processContext } = await import('../../client/index.js');
    const client = await openClient({ metaUrl, sessionLabel: `ferry trash ${action}` });
    try {
      const meta = client.meta;
      if (action === 'list') {
        const items = select(await meta.trashList(), p);
        if (flag(p, 'json')) return void (await out(JSON.stringify(items.map((i) => ({ ...i, deletedAt: new Date(i.deletedAt).toISOString() })), null, 2) + '\n'));
        if (!items.length) return void (await out('the trash is empty\n'));
        await out(table([['ENTRY', 'DELETED', 'SIZE', 'PATH'], ...items.map((i) => [i.id, lsDate(new Date(i.deletedAt)), formatBytes(i.length), i.path])], [2]));
        return;
      }
      if (action === 'purge') {
        const before = str(p, 'before');
        const r = await meta.trashPurge({ before: before === undefined ? undefined : parseTime('--before', before) });
        await client.vfs.jobs.collect(); // free the purged files' objects now
        await out(`purged ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'} (${r.hours} hour director${r.hours === 1 ? 'y' : 'ies'} emptied)\n`);
        return;
      }
      // restore
      const selecting = ['path', 'since', 'until', 'after', 'before'].some((o) => str(p, o) !== undefined);
      if (!ids.length && !selecting) throw new UsageError('trash restore needs ENTRY ids (from `ferry trash list`) or --path/--before/--after');
      const all = await meta.trashList();
      let exactPath = false;
      if (str(p, 'path') !== undefined && !flag(p, 'recursive')) {
        // Without -r, --path names one deleted path exactly.
        const want = volumePath(str(p, 'path')!);
        const exact = all.filter((i) => i.path === want);
        if (!exact.length) {
          const { FsError } = await import('../../errors.js');
          throw new FsError('ENOENT', { message: `nothing deleted at ${want} is in the trash (use --recursive for what was under it)` });
        }
        ids.push(exact.sort((a, b) => b.deletedAt - a.deletedAt)[0]!.id);
        exactPath = true;
      }
      const byId = new Map(all.map((i) => [i.id, i]));
      const chosen: TrashItem[] = [];
      const missing: string[] = [];
      if (selecting && !exactPath) chosen.push(...select(all, p));
      for (const id of ids) {
        const i = byId.get(id);
        if (i) chosen.push(i);
        else missing.push(`${id}: not in the trash (purged or restored already, or not an entry id)`);
      }
      const ctx = processContext();
      const intoPath = str(p, 'into');
      const into = intoPath === undefined ? undefined : (await meta.resolve(ctx, ROOT_INODE, volumePath(intoPath))).inode;
      const { restoreFromTrash } = await import('../../meta/trash-restore.js');
      const r = await restoreFromTrash(meta, ctx, all, chosen, { force: flag(p, 'force'), into });
      const total = chosen.length + missing.length;
      const extra = [
        r.rebuilt.length ? `${r.rebuilt.length} director${r.rebuilt.length === 1 ? 'y' : 'ies'} it was deleted from restored too` : '',
        r.merged.length ? `${r.merged.length} merged into a directory that exists again` : '',
      ].filter(Boolean);
      await out(`restored ${r.restored.length} of ${total} entr${total === 1 ? 'y' : 'ies'}${extra.length ? ` (${extra.join(', ')})` : ''}\n`);
      const failed = [...missing, ...r.failed.map((f) => `${f.item.path || f.item.id}: ${f.message}`)];
      if (failed.length) {
        const { FsError } = await import('../../errors.js');
        throw new FsError('EIO', { message: `not restored: ${failed.join('; ')}` });
      }
    } finally {
      await client.close();
    }
  },
};

export default command;
