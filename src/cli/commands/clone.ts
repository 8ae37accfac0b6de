// ferry clone META-URL SRC DST: a copy of a file or tree that shares the source's data (metadata only).
import { flag, volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, out } from '../output.js';

const command: Command = {
  spec: {
    name: 'clone',
    summary: 'Copy a file or a directory tree inside a volume as metadata only (no data copied).',
    usage: 'META-URL SRC DST',
    description: [
      'As JuiceFS\'s clone: the copy lists the same slices as the source, each shared by reference count, so no',
      'block is read or written and a clone of terabytes takes as long as its number of files. Later writes,',
      'truncates and deletes of either side never change the other (a write adds new slices to its own file);',
      'shared data is freed when its last user goes. The copy counts against capacity and quotas like a copy.',
      '',
      'DST must not exist; its parent must. A tree appears at DST complete, at the end (it is built under a',
      'hidden name beside DST; an interrupted clone leaves that .DST.ferry-clone-N directory, which rm -rf',
      'removes). Symlinks, xattrs and hard links inside the tree are kept. Without --preserve the copy is owned',
      'by the caller, with the umask applied and times now (as cp); with it owner, mode and times are kept.',
    ].join('\n'),
    examples: [
      'ferry clone sqlite3://ferry-data/meta.db /datasets/v1 /datasets/v2',
      'ferry clone --preserve sqlite3://ferry-data/meta.db /models/base.pt /models/finetune.pt',
    ],
    options: {
      preserve: { type: 'boolean', short: 'p', help: 'keep owner, group, mode and times' },
    },
    minArgs: 3,
    maxArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, rawSrc, rawDst] = p.args as [string, string, string];
    const [src, dst] = [volumePath(rawSrc), volumePath(rawDst)];
    const { FsError } = await import('../../errors.js');
    if (dst === '/') throw new FsError('EEXIST', { message: `${dst} exists` });
    const { requireVolume } = await import('../meta.js');
    await requireVolume(metaUrl);
    const [{ openClient, processContext }, { ROOT_INODE }] = await Promise.all([import('../../client/index.js'), import('../../meta/types.js')]);
    const client = await openClient({ metaUrl, sessionLabel: 'ferry clone' });
    try {
      const meta = client.meta;
      const ctx = processContext();
      const at = async (path: string) =>
        meta.resolve(ctx, ROOT_INODE, path).catch((e: unknown) => {
          throw e instanceof FsError ? new FsError(e.code, { message: e.description, syscall: 'clone', path }) : e;
        });
      const from = await at(src);
      const slash = dst.lastIndexOf('/');
      const parent = await at(dst.slice(0, slash) || '/');
      const r = await meta.clone(ctx, from.inode, parent.inode, dst.slice(slash + 1), { preserve: flag(p, 'preserve') }).catch((e: unknown) => {
        throw e instanceof FsError ? e.withContext('clone', dst) : e;
      });
      await out(`cloned ${src} to ${dst}: ${r.inodes} inode${r.inodes === 1 ? '' : 's'}, ${formatBytes(r.bytes)} shared, no data copied\n`);
    } finally {
      await client.close();
    }
  },
};

export default command;
