// ferry dump META-URL [FILE.json[.gz]|-] [--path P] [--keep-secrets]: the whole metadata (or a subtree) as
// an engine-neutral JSON-lines file that `ferry load` puts into any engine. Logic in meta/dump.ts.
import { flag, str, volumePath, type Command, type Parsed } from '../args.js';
import { Progress } from '../output.js';
import { withMeta } from '../meta.js';

const command: Command = {
  spec: {
    name: 'dump',
    summary: 'Write the metadata of a volume to a JSON file (a backup, or to move it to another engine).',
    usage: 'META-URL [FILE.json[.gz]|-]',
    description: [
      'Writes the whole metadata as JSON lines (docs/operations.md): the format record, every inode with its',
      'attributes, entries, symlinks, extended attributes, hard links, chunks and slices, the trash, pending',
      'deletions and the counters; client sessions and locks are left out. A FILE ending in .gz is gzipped;',
      'without FILE, or with -, the dump goes to standard output. Memory stays flat whatever the volume size.',
      'The secrets of the format record (object store secret key, gateway key secrets) are blanked unless',
      '--keep-secrets. --path dumps a subtree, which becomes the root of the volume it is loaded into.',
      'A dump of a volume in use is consistent per page, as JuiceFS\'s is; it says so when the volume changed.',
    ].join('\n'),
    examples: ['ferry dump sqlite3://ferry-data/meta.db meta.json.gz', 'ferry dump postgres://db/ferry - --path /projects | gzip > p.json.gz'],
    options: {
      path: { type: 'string', arg: 'PATH', help: 'dump only this directory (it becomes the root of the loaded volume)' },
      'keep-secrets': { type: 'boolean', help: 'keep the object store secret key and the gateway key secrets' },
    },
    minArgs: 1,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, file = '-'] = p.args as [string, string?];
    const path = str(p, 'path') === undefined ? undefined : volumePath(str(p, 'path')!);
    const [{ dumpRecords }, { writeDump }] = await Promise.all([import('../../meta/dump.js'), import('../../meta/dump-stream.js')]);
    await withMeta(metaUrl, async (meta) => {
      const progress = new Progress('dump');
      let rows = 0;
      let start = 0;
      let end = 0;
      async function* counted() {
        for await (const r of dumpRecords(meta, { path, keepSecrets: flag(p, 'keep-secrets') })) {
          if (r.kind === 'header') start = r.startVersion;
          else if (r.kind === 'end') end = r.endVersion;
          else if (r.kind !== 'setting' && r.kind !== 'counters' && ++rows % 1000 === 0) progress.update(`${rows} rows`);
          yield r;
        }
      }
      await writeDump(counted(), file);
      progress.done();
      const secs = (Date.now() - progress.started) / 1000;
      const where = file === '-' ? 'standard output' : file;
      // The summary goes to stderr: stdout may be the dump itself.
      process.stderr.write(`dumped ${rows} rows of volume '${(await meta.load()).name}'${path && path !== '/' ? ` (${path})` : ''} to ${where} in ${secs.toFixed(1)}s\n`);
      if (end !== start) {
        process.stderr.write(`the volume changed during the dump (version ${start} -> ${end}): each row is as it was when read; the loader recounts what rows imply\n`);
      }
    });
  },
};

export default command;
