// ferry trash list|restore|purge META-URL: what was deleted and is still kept (--trash-days), putting it
// back, and freeing it early.
import { UsageError, flag, str, volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, lsDate, out, table } from '../output.js';
import type { TrashItem } from '../../meta/types.js';

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
      '           A name that exists again is refused unless --force (what is there then goes to the trash).',
      '  purge    frees entries now: everything, or the hours that ended before --before.',
    ].join('\n'),
    examples: [
      'ferry trash list sqlite3://ferry-data/meta.db',
      'ferry trash list --path /datasets --since 2h sqlite3://ferry-data/meta.db',
      'ferry trash restore sqlite3://ferry-data/meta.db 2026-12-02-14/1-1042-model.pt',
      'ferry trash restore --path /datasets/run-7 --recursive sqlite3://ferry-data/meta.db',
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
      force: { type: 'boolean', help: 'restore: replace a name that exists again' },
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
      if (str(p, 'path') !== undefined && !flag(p, 'recursive')) {
        // Without -r, --path names one deleted path exactly.
        const want = volumePath(str(p, 'path')!);
        const exact = (await meta.trashList()).filter((i) => i.path === want);
        if (!exact.length) {
          const { FsError } = await import('../../errors.js');
          throw new FsError('ENOENT', { message: `nothing deleted at ${want} is in the trash (use --recursive for what was under it)` });
        }
        ids.push(exact.sort((a, b) => b.deletedAt - a.deletedAt)[0]!.id);
      } else if (selecting) {
        ids.push(...select(await meta.trashList(), p).map((i) => i.id));
      }
      const ctx = processContext();
      let restored = 0;
      const failed: string[] = [];
      for (const id of ids) {
        try {
          await meta.trashRestore(ctx, id, { force: flag(p, 'force') });
          restored++;
        } catch (e) {
          failed.push(`${id}: ${(e as Error).message}`);
        }
      }
      await out(`restored ${restored} of ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'}\n`);
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
