// ferry rm [-r] [-f] META-URL PATH...: removes files, or directory trees with -r, from a volume.
import { UsageError, flag, volumePath, type Command, type Parsed } from '../args.js';
import { withVolume } from '../volume.js';

const command: Command = {
  spec: {
    name: 'rm',
    summary: 'Remove files or directories from a volume.',
    usage: 'META-URL PATH...',
    description: [
      'Removes each PATH inside the volume. A directory needs -r (its whole tree is removed); -f ignores',
      'missing paths. The data of removed files is freed in the background before the command exits.',
    ].join('\n'),
    examples: ['ferry rm -r sqlite3://ferry-data/meta.db /tmp/old-run', 'ferry rm -f sqlite3://ferry-data/meta.db /a.txt /b.txt'],
    options: {
      recursive: { type: 'boolean', short: 'r', help: 'remove directories and their contents' },
      force: { type: 'boolean', short: 'f', help: 'ignore missing paths' },
    },
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = raw.map(volumePath);
    if (paths.includes('/')) throw new UsageError("refusing to remove '/' (the root of the volume)");
    const recursive = flag(p, 'recursive');
    const force = flag(p, 'force');
    await withVolume(metaUrl, 'rm', async (vol) => {
      const { FsError } = await import('../../errors.js');
      for (const path of paths) {
        if (!recursive) {
          let st;
          try {
            st = await vol.lstat(path);
          } catch (e) {
            if (force && (e as { code?: string }).code === 'ENOENT') continue;
            throw e;
          }
          if (st.isDirectory()) throw new FsError('EISDIR', { message: `cannot remove '${path}': is a directory (use -r)` });
        }
        await vol.rm(path, { recursive, force });
      }
      // Free the removed files' objects now rather than leave them to the next client's background job.
      await vol.settle();
    });
  },
};

export default command;
