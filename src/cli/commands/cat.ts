// ferry cat META-URL PATH...: writes files of a volume to stdout, streamed with backpressure.
import { volumePath, type Command, type Parsed } from '../args.js';
import { out } from '../output.js';
import { withVolume } from '../volume.js';

const command: Command = {
  spec: {
    name: 'cat',
    summary: 'Print files of a volume.',
    usage: 'META-URL PATH...',
    description: 'Writes the contents of each PATH (inside the volume) to standard output, one after the other.',
    examples: ['ferry cat sqlite3://ferry-data/meta.db /src/cli/main.ts', 'ferry cat sqlite3://ferry-data/meta.db /logs/a.log /logs/b.log | grep ERROR'],
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = raw.map(volumePath);
    await withVolume(metaUrl, 'cat', async (vol) => {
      const { FsError } = await import('../../errors.js');
      for (const path of paths) {
        const fh = await vol.open(path, 'r');
        try {
          const st = await fh.stat();
          if (st.isDirectory()) throw new FsError('EISDIR', { syscall: 'read', path });
          for await (const chunk of fh.createReadStream()) await out(chunk as Buffer);
        } finally {
          await fh.close();
        }
      }
    });
  },
};

export default command;
