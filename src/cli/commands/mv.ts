// ferry mv META-URL SRC DST: renames inside a volume (a metadata-only move, whatever the size of the tree).
import { volumePath, type Command, type Parsed } from '../args.js';
import { baseName, joinVolumePath, statOrNone, withVolume } from '../volume.js';

const command: Command = {
  spec: {
    name: 'mv',
    summary: 'Move or rename a file or directory inside a volume.',
    usage: 'META-URL SRC DST',
    description: [
      'Renames SRC to DST inside the volume; when DST is an existing directory, SRC moves into it under its',
      'own name (like mv). An existing file at the destination is replaced. Only metadata changes: no data',
      'is copied, so moving a directory of a million files is one small transaction.',
    ].join('\n'),
    examples: ['ferry mv sqlite3://ferry-data/meta.db /src /src-old', 'ferry mv sqlite3://ferry-data/meta.db /a.txt /archive/'],
    minArgs: 3,
    maxArgs: 3,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, rawSrc, rawDst] = p.args as [string, string, string];
    const src = volumePath(rawSrc);
    let dst = volumePath(rawDst);
    await withVolume(metaUrl, 'mv', async (vol) => {
      await vol.lstat(src);
      const d = await statOrNone(vol, dst);
      if (d?.isDirectory() && dst !== src) dst = joinVolumePath(dst, baseName(src));
      await vol.rename(src, dst);
    });
  },
};

export default command;
