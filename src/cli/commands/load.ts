// ferry load META-URL FILE|-: a dump of `ferry dump` into a new or empty volume of any engine (moving a
// volume from SQLite to PostgreSQL is dump + load). Logic in meta/load.ts.
import type { Command, Parsed } from '../args.js';
import { Progress, out } from '../output.js';

const command: Command = {
  spec: {
    name: 'load',
    summary: 'Load a dump of `ferry dump` into a new or empty volume of any engine.',
    usage: 'META-URL FILE',
    description: [
      'Reads a dump (JSON lines, gzipped or not; - for standard input) and writes it into the metadata at',
      'META-URL, which must hold no volume or an empty one: a volume with files is refused. The loaded volume',
      'keeps the uuid, inode numbers and slices of the dumped one, so it reads the same object store. Slice',
      'references, used space and the inode count are recounted from the loaded rows. A dump made without',
      '--keep-secrets leaves the secrets blank: set them as the message says before using the volume.',
    ].join('\n'),
    examples: ['ferry load postgres://db/ferry meta.json.gz', 'ferry dump sqlite3://old.db | ferry load redis://host/1 -'],
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, file] = p.args as [string, string];
    const [{ openMeta }, { readDump }, { loadDump, missingSecretsMessage }] = await Promise.all([
      import('../../meta/index.js'),
      import('../../meta/dump-stream.js'),
      import('../../meta/load.js'),
    ]);
    const meta = await openMeta(metaUrl);
    try {
      const progress = new Progress('load');
      const r = await loadDump(meta, readDump(file), { source: file === '-' ? 'standard input' : file, progress: (n) => progress.update(`${n} rows`) });
      progress.done();
      const secs = (Date.now() - progress.started) / 1000;
      await out(`loaded volume '${r.format.name}' (${r.rows} rows, ${r.inodes} inodes) into ${meta.url} in ${secs.toFixed(1)}s\n`);
      const missing = missingSecretsMessage(metaUrl, r.missing);
      if (missing) process.stderr.write(missing + '\n');
    } finally {
      await meta.close().catch(() => undefined);
    }
  },
};

export default command;
