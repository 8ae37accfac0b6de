// ferry ttl set|get|list|delete|run META-URL: directories whose files expire N days after their last change
// (moved to the trash by the clients' background job, or now by `run`).
import { UsageError, flag, parseCount, str, volumePath, type Command, type Parsed } from '../args.js';
import { out, table } from '../output.js';
import type { TtlRule, TtlRunResult } from '../../meta/types.js';

const ACTIONS = ['set', 'get', 'list', 'delete', 'run'];

function report(r: TtlRunResult): string {
  const s = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return (
    `${s(r.expired, 'file', 'files')} expired, ${s(r.rowsRead, 'index row', 'index rows')} read ` +
    `(${r.stale} stale, ${r.refused} refused) under ${s(r.rules, 'rule', 'rules')}\n`
  );
}

const rulesTable = (rules: TtlRule[]) => table([['PATH', 'DAYS', 'INODE'], ...rules.map((r) => [r.path, String(r.days), String(r.inode)])], [1, 2]);

const command: Command = {
  spec: {
    name: 'ttl',
    summary: 'Expire files under a directory N days after their last change.',
    usage: 'set|get|list|delete|run META-URL [--path DIR] [--days N]',
    description: [
      'A TTL on a directory moves each regular file under it to the trash (see `ferry trash`; freed at once',
      'when the volume has --trash-days 0) once its mtime is more than N days old. Clients expire files in',
      'the background every 5 minutes, one client at a time, reading an index kept when files are created,',
      'written, touched or moved in — never walking the tree. The nearest TTL above a file applies.',
      '',
      '  set     sets or changes the TTL of --path (--days N); files already there are indexed by one walk',
      '  get     the TTL of --path',
      '  list    every TTL of the volume (--json for one document)',
      '  delete  removes the TTL of --path: its files are never expired by it (a TTL above applies again)',
      '  run     expires what is due now and prints the report: files expired, index rows read',
    ].join('\n'),
    examples: [
      'ferry ttl set --path /user/didi --days 30 sqlite3://ferry-data/meta.db',
      'ferry ttl list sqlite3://ferry-data/meta.db',
      'ferry ttl run sqlite3://ferry-data/meta.db',
      'ferry ttl delete --path /user/didi sqlite3://ferry-data/meta.db',
    ],
    options: {
      path: { type: 'string', arg: 'DIR', help: 'set/get/delete: the directory' },
      days: { type: 'string', arg: 'N', help: 'set: days after its mtime a file expires (1 or more)' },
      json: { type: 'boolean', help: 'get/list/run: print JSON' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [action, metaUrl] = p.args as [string, string];
    if (!ACTIONS.includes(action)) throw new UsageError(`unknown action '${action}' (set, get, list, delete or run)`);
    const path = str(p, 'path') === undefined ? undefined : volumePath(str(p, 'path')!);
    if (['set', 'get', 'delete'].includes(action) && path === undefined) throw new UsageError(`ttl ${action} needs --path DIR`);
    if (['list', 'run'].includes(action) && path !== undefined) throw new UsageError(`ttl ${action} takes no --path`);
    const rawDays = str(p, 'days');
    if ((action === 'set') !== (rawDays !== undefined)) throw new UsageError(action === 'set' ? 'ttl set needs --days N' : `ttl ${action} takes no --days`);
    const days = rawDays === undefined ? 0 : parseCount('--days', rawDays, 36500);
    if (action === 'set' && days < 1) throw new UsageError('--days: 0 expires nothing (use `ferry ttl delete` to remove a TTL)');
    const json = flag(p, 'json');

    if (action === 'run') {
      const { requireVolume } = await import('../meta.js');
      await requireVolume(metaUrl);
      const { openClient } = await import('../../client/index.js');
      const client = await openClient({ metaUrl, sessionLabel: 'ferry ttl run' });
      try {
        const r = await client.meta.ttlExpire();
        if (r.expired) await client.vfs.jobs.collect(); // with the trash off, free the expired files' objects now
        await out(json ? JSON.stringify(r) + '\n' : report(r));
      } finally {
        await client.close();
      }
      return;
    }
    const { withMeta } = await import('../meta.js');
    await withMeta(metaUrl, async (meta) => {
      if (action === 'set') {
        const r = await meta.ttlSet(path!, days);
        await out(json ? JSON.stringify(r) + '\n' : `files under ${r.path} expire ${r.days} day${r.days === 1 ? '' : 's'} after their last change (${r.indexed} already there indexed)\n`);
      } else if (action === 'delete') {
        const r = await meta.ttlDelete(path!);
        await out(json ? JSON.stringify(r) + '\n' : `removed the TTL of ${r.path} (${r.days} days)\n`);
      } else {
        let rules = await meta.ttlList();
        if (action === 'get') {
          const [{ rootContext, ROOT_INODE }, { FsError }] = await Promise.all([import('../../meta/types.js'), import('../../errors.js')]);
          const dir = await meta.resolve(rootContext(), ROOT_INODE, path!).catch((e) => {
            throw e instanceof FsError && (e.code === 'ENOENT' || e.code === 'ENOTDIR') ? new FsError('ENOENT', { message: `no directory ${path} in the volume` }) : e;
          });
          rules = rules.filter((r) => r.inode === dir.inode);
          if (!rules.length) throw new FsError('ENOENT', { message: `no TTL is set on ${path}` });
        }
        if (json) await out(JSON.stringify(action === 'get' ? rules[0] : rules, null, 2) + '\n');
        else if (!rules.length) await out('no TTL is set\n');
        else await out(rulesTable(rules));
      }
    });
  },
};

export default command;
