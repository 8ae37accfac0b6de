// ferry mkdir [-p] META-URL PATH...: creates directories in a volume.
import { flag, volumePath, type Command, type Parsed } from '../args.js';
import { withVolume } from '../volume.js';

const command: Command = {
  spec: {
    name: 'mkdir',
    summary: 'Create directories in a volume.',
    usage: 'META-URL PATH...',
    description: 'Creates each directory PATH inside the volume. With -p, missing parents are created too and an existing directory is not an error.',
    examples: ['ferry mkdir -p sqlite3://ferry-data/meta.db /datasets/imagenet/train'],
    options: {
      parents: { type: 'boolean', short: 'p', help: 'create missing parents; no error if the directory exists' },
      mode: { type: 'string', short: 'm', arg: 'MODE', help: 'permission bits in octal (default 0777, minus the umask 022)' },
    },
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = raw.map(volumePath);
    let mode: number | undefined;
    const m = p.values.mode;
    if (typeof m === 'string') {
      if (!/^[0-7]{1,4}$/.test(m)) {
        const { UsageError } = await import('../args.js');
        throw new UsageError(`--mode: '${m}' is not an octal mode such as 755`);
      }
      mode = parseInt(m, 8);
    }
    await withVolume(metaUrl, 'mkdir', async (vol) => {
      for (const path of paths) await vol.mkdir(path, { recursive: flag(p, 'parents'), ...(mode !== undefined ? { mode } : {}) });
    });
  },
};

export default command;
