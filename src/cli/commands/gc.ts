// ferry gc META-URL: lists (and with --delete removes) the objects no slice references, shows what the
// store holds beyond the file system, and with --compact compacts fragmented chunks (see client/gc.ts).
import { flag, parseCount, parseWith, refuseNegative, str, UsageError, type Command, type Parsed } from '../args.js';
import { Progress, formatBytes, out, table } from '../output.js';

const command: Command = {
  spec: {
    name: 'gc',
    summary: 'find and delete leaked objects; show pending deletions and the trash; compact chunks',
    usage: 'META-URL',
    description: [
      'Lists the objects under the volume\'s chunks/ prefix that no slice references, no pending deletion',
      'names, and that are older than the safety window (--age, default 1h): blocks uploaded by a client or',
      'gateway that died before committing them. --delete removes them, along with temp files of dead writers',
      'in a file:// store, and also frees the deletions clients have queued. The summary shows where the',
      'store\'s bytes go: referenced blocks, pending deletions, blocks too new to judge, leaked blocks, and',
      'what the trash keeps (counted by the file system until purged: see ferry trash).',
      'It never deletes an object a slice references, including slices committed while it runs (the store',
      'is listed before the slices are read, and objects newer than the run are never touched).',
      '--compact rewrites every chunk made of several slices as one (reads and writes its data).',
    ].join('\n'),
    examples: ['ferry gc sqlite3://ferry-data/meta.db', 'ferry gc --delete sqlite3://ferry-data/meta.db', 'ferry gc --compact --threads 8 sqlite3://ferry-data/meta.db'],
    options: {
      delete: { type: 'boolean', help: 'delete the leaked objects (and queued deletions, dead temp files)' },
      compact: { type: 'boolean', help: 'compact every fragmented chunk of the volume' },
      threads: { type: 'string', arg: 'N', help: 'deletions / compactions in flight at once (default 16 / 4)' },
      age: { type: 'string', arg: 'DURATION', help: 'safety window: objects younger than this are kept (default 1h; 0 in tests)' },
      verbose: { type: 'boolean', short: 'v', help: 'list every leaked object (the first 20 otherwise)' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    const rawThreads = str(p, 'threads');
    const threads = rawThreads === undefined ? undefined : parseCount('--threads', rawThreads, 1024);
    if (threads === 0) throw new UsageError("--threads: '0' must be at least 1");
    let ageMs: number | undefined;
    if (str(p, 'age') !== undefined) {
      refuseNegative('--age', str(p, 'age')!, 'a duration such as 1h or 30m');
      const { parseDuration } = await import('../../meta/retention.js');
      ageMs = parseWith(() => parseDuration('--age', str(p, 'age')!)) * 1000;
    }
    const { requireVolume } = await import('../meta.js');
    await requireVolume(metaUrl);
    const [{ openClient }, gc, { drainDeletedSlices }] = await Promise.all([
      import('../../client/index.js'),
      import('../../client/gc.js'),
      import('../../chunk/gc.js'),
    ]);
    const client = await openClient({ metaUrl, sessionLabel: 'ferry gc', data: { backgroundJobs: false } });
    const bar = new Progress('gc');
    try {
      if (client.format.mirror?.of) throw new UsageError('a mirror never deletes in its store: run ferry gc on the source volume');
      if (client.readOnly && (flag(p, 'delete') || flag(p, 'compact'))) throw new UsageError('the volume is read-only here');
      const lines: string[] = [];
      if (flag(p, 'compact')) {
        const c = await gc.compactVolume(client.meta, client.store, { threads, progress: (n) => bar.update(`compacted ${n} chunks`) });
        lines.push(`compacted ${c.replaced} of ${c.chunks} fragmented chunks`);
      }
      let freed = 0;
      if (flag(p, 'delete')) {
        // What clients queued is safe to remove now; done first so the report shows what is left.
        while ((await client.meta.processDeletedFiles(100)) > 0);
        for (let n; (n = await drainDeletedSlices(client.meta, client.store, 1000)) > 0; ) freed += n;
      }
      const r = await gc.collectGarbage(client.meta, client.store.objects, client.format.name, client.format.blockSize, {
        ageMs,
        delete: flag(p, 'delete'),
        threads,
        progress: (phase, n) => bar.update(`${phase} ${n.toLocaleString('en-US')}`),
      });
      const temps = await gc.fileStoreTemps(client.format, ageMs, flag(p, 'delete'));
      bar.done();
      const leakedBytes = r.leaked.reduce((n, o) => n + o.size, 0);
      const row = (what: string, c: number, b: number) => [what, String(c), formatBytes(b)];
      lines.push(
        table(
          [
            ['', 'objects', 'bytes'],
            row('in the store', r.objects.count, r.objects.bytes),
            row('referenced by slices', r.referenced.count, r.referenced.bytes),
            row('pending deletion', r.pending.count, r.pending.bytes),
            row('newer than the window', r.recent.count, r.recent.bytes),
            row(flag(p, 'delete') ? 'leaked (deleted)' : 'leaked', r.leaked.length, leakedBytes),
          ],
          [1, 2],
        ).trimEnd(),
      );
      if (r.foreign) lines.push(`${r.foreign} other object(s) under chunks/ that are no block key (left alone)`);
      lines.push(`trash: ${r.trash.entries} entries, ${formatBytes(r.trash.bytes)} (counted by the file system until purged: ferry trash purge)`);
      if (freed) lines.push(`freed ${freed} queued slice deletion(s)`);
      if (temps.length) lines.push(`${temps.length} temp file(s) of dead writers in the store${flag(p, 'delete') ? ' removed' : ''}`);
      const shown = flag(p, 'verbose') ? r.leaked : r.leaked.slice(0, 20);
      for (const o of shown) lines.push(`leaked: ${o.key} ${formatBytes(o.size)} ${new Date(o.mtime).toISOString()}`);
      if (shown.length < r.leaked.length) lines.push(`... and ${r.leaked.length - shown.length} more (-v lists them all)`);
      if (r.leaked.length && !flag(p, 'delete')) lines.push("run 'ferry gc --delete' to delete the leaked objects");
      await out(lines.join('\n') + '\n');
    } finally {
      bar.done();
      await client.close();
    }
  },
};

export default command;
