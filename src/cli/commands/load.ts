// ferry load META-URL FILE|-: a dump of `ferry dump` into a new or empty volume of any engine (moving a
// volume from SQLite to PostgreSQL is dump + load). Logic in meta/load.ts.
import { UsageError, type Command, type Parsed } from '../args.js';
import { Progress, out } from '../output.js';

const command: Command = {
  spec: {
    name: 'load',
    summary: 'Load a dump of `ferry dump` into a new or empty volume of any engine.',
    usage: 'META-URL FILE|OBJECT-URL',
    description: [
      'Reads a dump (JSON lines, gzipped or not; - for standard input) and writes it into the metadata at',
      'META-URL, which must hold no volume or an empty one: a volume with files is refused. The loaded volume',
      'keeps the uuid, inode numbers and slices of the dumped one, so it reads the same object store. Slice',
      'references, used space and the inode count are recounted from the loaded rows. A dump made without',
      '--keep-secrets leaves the secrets blank: set them as the message says before using the volume.',
      'An automatic backup (--backup-meta) is read straight from the object store by its URL: the storage URL',
      'of the volume followed by NAME/meta/dump-....json.gz (S3 keys from the usual environment variables).',
    ].join('\n'),
    examples: [
      'ferry load postgres://db/ferry meta.json.gz',
      'ferry dump sqlite3://old.db | ferry load redis://host/1 -',
      'ferry load sqlite3://new.db s3://bucket/myvol/meta/dump-2026-12-03-200000.json.gz',
    ],
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
    // A backup in an object store: the store is the URL's folder, the object its last name.
    const inStore = /^[a-z][a-z0-9+.-]*:\/\//i.test(file) ? file : undefined;
    let source: Parameters<typeof readDump>[0] = file;
    let store: import('../../object/index.js').ObjectStore | undefined;
    if (inStore) {
      const { objectUrlProblem, openObjectStore, objectReadStream } = await import('../../object/index.js');
      const problem = objectUrlProblem(inStore);
      if (problem) throw new UsageError(problem);
      const u = new URL(inStore);
      const slash = u.pathname.lastIndexOf('/');
      const key = decodeURIComponent(u.pathname.slice(slash + 1));
      if (!key) throw new UsageError(`${file}: name the backup object, not a folder`);
      u.pathname = u.pathname.slice(0, slash) || '/';
      store = await openObjectStore(u.toString(), {});
      source = { stream: objectReadStream(store, key), name: inStore };
    }
    const meta = await openMeta(metaUrl);
    try {
      const progress = new Progress('load');
      const where = file === '-' ? 'standard input' : file;
      const r = await loadDump(meta, readDump(source), { source: where, progress: (n) => progress.update(`${n} rows`) });
      progress.done();
      const secs = (Date.now() - progress.started) / 1000;
      await out(`loaded volume '${r.format.name}' (${r.rows} rows, ${r.inodes} inodes) into ${meta.url} in ${secs.toFixed(1)}s\n`);
      const missing = missingSecretsMessage(metaUrl, r.missing);
      if (missing) process.stderr.write(missing + '\n');
    } finally {
      await meta.close().catch(() => undefined);
      await store?.close().catch(() => undefined);
    }
  },
};

export default command;
