// ferry readonly set|unset|list META-URL [--path DIR]: directories (or the whole volume) nobody may change.
import { UsageError, flag, str, volumePath, type Command, type Parsed } from '../args.js';
import { out, table } from '../output.js';

const command: Command = {
  spec: {
    name: 'readonly',
    summary: 'Make a directory tree or the whole volume read-only, lift it, or list the marks.',
    usage: 'set|unset|list META-URL',
    description: [
      'Inside a read-only directory (with --path; the whole volume without it, or with --path /) every change',
      'fails with EROFS ("Read-only file system"), through every door and for every user, root included:',
      'creating, removing, renaming into or out of it, hard links into or out of it, chmod/chown/touch, xattrs,',
      'writes and truncates. The S3 gateway answers 403 AccessDenied naming the read-only path (PUT, DELETE,',
      'CompleteMultipartUpload). Reading and copying out of it still work.',
      '',
      'The mark is on the directory, not its name: renaming a parent keeps it (list shows the path it has now).',
      'Running mounts and gateways pick a change up within a few seconds.',
      '',
      '  set    marks --path DIR (or /) read-only',
      '  unset  lifts the mark of --path DIR (or /)',
      '  list   the marks (--json for one document)',
    ].join('\n'),
    examples: [
      'ferry readonly set --path /datasets/imagenet sqlite3://ferry-data/meta.db',
      'ferry readonly list sqlite3://ferry-data/meta.db',
      'ferry readonly unset --path /datasets/imagenet sqlite3://ferry-data/meta.db',
      'ferry readonly set sqlite3://ferry-data/meta.db    # the whole volume',
    ],
    options: {
      path: { type: 'string', arg: 'DIR', help: 'set/unset: the directory (default /: the whole volume)' },
      json: { type: 'boolean', help: 'list: print one JSON document' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [action, metaUrl] = p.args as [string, string];
    if (!['set', 'unset', 'list'].includes(action)) throw new UsageError(`unknown action '${action}' (set, unset or list)`);
    if (action === 'list' && str(p, 'path') !== undefined) throw new UsageError('readonly list takes no --path');
    const path = volumePath(str(p, 'path') ?? '/');
    const [{ withMeta }, ro] = await Promise.all([import('../meta.js'), import('../../meta/readonly.js')]);
    await withMeta(metaUrl, async (meta) => {
      if (action === 'set') {
        await ro.setReadOnly(meta, path);
        return void (await out(`${path === '/' ? 'the whole volume' : path} is read-only (running clients refuse changes within seconds)\n`));
      }
      if (action === 'unset') {
        await ro.unsetReadOnly(meta, path);
        return void (await out(`${path === '/' ? 'the whole volume' : path} is writable again\n`));
      }
      const marks = await ro.listReadOnly(meta);
      if (flag(p, 'json')) return void (await out(JSON.stringify(marks.map((m) => ({ path: m.current ?? null, markedAs: m.path, inode: m.ino, ...(m.owner ? { owner: m.owner } : {}) })), null, 2) + '\n'));
      if (!marks.length) return void (await out('nothing is read-only\n'));
      await out(
        table([
          ['PATH', 'INODE', 'MARKED AS'],
          ...marks.map((m) => [m.current ?? '(gone)', String(m.ino), m.current === m.path ? '' : m.path]),
        ]),
      );
    });
  },
};

export default command;
