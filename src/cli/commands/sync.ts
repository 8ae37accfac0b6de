// ferry sync SRC DST: copies what differs between two of a local directory, an S3 bucket and a FerryFS path
// (src/sdk/sync/ does the work; this file is the command line, the progress line and the summary).
import { UsageError, flag, parseCount, str, type Command, type Parsed } from '../args.js';
import { Progress, describeError, formatBytes, formatDuration, formatRate, out, table } from '../output.js';

const LOCATIONS = 'a local directory, s3://BUCKET[/PREFIX] or META-URL:/PATH';

const command: Command = {
  spec: {
    name: 'sync',
    summary: 'Copy what differs between a local directory, an S3 bucket and a FerryFS path, either way.',
    usage: 'SRC DST',
    description: [
      `SRC and DST are each ${LOCATIONS} (s3:// takes the endpoint, region and`,
      'keys as the s3:// object storage does: ?endpoint=URL, s3://KEY:SECRET@BUCKET, or the FERRY_S3_ENDPOINT,',
      'FERRY_ACCESS_KEY/FERRY_SECRET_KEY and AWS_* variables). The contents of SRC are synced into DST, which',
      'is created when missing. A file is copied when DST lacks it or its size or modification time differ',
      '(with --check-all, when its bytes differ); times and modes are kept (on S3 in the object metadata, as',
      'rclone keeps them). Both sides are listed in key order and merge-joined, so memory stays flat for',
      'millions of files. Between two paths of one volume, files are cloned (metadata only, as ferry clone).',
      '',
      'Filters, as rsync and juicefs sync: --exclude/--include (repeatable) in command-line order, the first',
      "match decides. A pattern without '/' matches a name at any depth; with '/' the path ('/' first anchors",
      "it at SRC); a trailing '/' matches directories only; '*' and '?' stop at '/', '**' does not. An",
      'excluded directory is skipped whole, and excluded files are never deleted by --delete-dst.',
      '',
      'Prints a summary (copied, skipped, deleted, failed, bytes) and exits 1 when any file failed.',
    ].join('\n'),
    examples: [
      'ferry sync ./datasets sqlite3://ferry-data/meta.db:/datasets',
      'ferry sync --delete-dst --exclude "*.tmp" sqlite3://ferry-data/meta.db:/models s3://backup/models?endpoint=http://minio:9000',
      'ferry sync --dry-run s3://raw-data/2024 /data/raw-2024',
    ],
    options: {
      threads: { type: 'string', short: 'p', arg: 'N', help: 'files copied at once (default 10)' },
      update: { type: 'boolean', short: 'u', help: 'skip files that are newer in DST (rsync -u)' },
      'delete-dst': { type: 'boolean', help: 'delete files and directories in DST that SRC does not have' },
      exclude: { type: 'string', arg: 'PATTERN', repeatable: true, help: 'skip paths matching PATTERN (repeatable)' },
      include: { type: 'string', arg: 'PATTERN', repeatable: true, help: 'do not skip paths matching PATTERN (repeatable; first match wins)' },
      'dry-run': { type: 'boolean', help: 'list what would be copied and deleted; change nothing' },
      'check-all': { type: 'boolean', help: 'compare the bytes of files whose size and time match' },
      verbose: { type: 'boolean', short: 'v', help: 'list each file copied or deleted' },
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [srcRaw, dstRaw] = p.args as [string, string];
    const rawThreads = str(p, 'threads');
    const threads = rawThreads === undefined ? 10 : parseCount('--threads', rawThreads, 1024);
    if (threads === 0) throw new UsageError("--threads: '0' must be at least 1");
    const rules = (p.sequence ?? []).filter(([n]) => n === 'exclude' || n === 'include').map(([n, v]) => ({ include: n === 'include', pattern: String(v) }));
    const dryRun = flag(p, 'dry-run');
    const verbose = flag(p, 'verbose') || dryRun;

    const sync = await import('../../sdk/sync/index.js');
    for (const [role, raw] of [['SRC', srcRaw], ['DST', dstRaw]] as const) {
      if (!sync.endpointKindOf(raw)) throw new UsageError(`${role} '${raw}' is not ${LOCATIONS} (unknown scheme)`);
      const ferry = sync.parseFerryLocation(raw);
      if (ferry) await (await import('../meta.js')).requireVolume(ferry.metaUrl);
    }

    // DST inside SRC would list what it is writing (a tree copied into itself, again and again).
    const { resolve } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const place = (raw: string) => {
      const f = sync.parseFerryLocation(raw);
      if (f) return { where: f.metaUrl, path: f.path };
      if (sync.endpointKindOf(raw) !== 'local') return undefined;
      return { where: 'local', path: /^file:\/\//i.test(raw) ? fileURLToPath(raw) : resolve(raw) };
    };
    const [a, b] = [place(srcRaw), place(dstRaw)];
    if (a && b && a.where === b.where) {
      const inside = (x: string, y: string) => x === y || x.startsWith(y.endsWith('/') ? y : `${y}/`);
      if (inside(b.path, a.path)) throw new UsageError(`DST ${dstRaw} is inside SRC ${srcRaw}: sync it somewhere else`);
    }

    const shared: import('../../sdk/sync/index.js').SharedOpen = new Map([['dryRun', dryRun]]);
    const opened: import('../../sdk/sync/index.js').Endpoint[] = [];
    const closeAll = () => Promise.all(opened.splice(0).map((e) => e.close().catch(() => undefined)));
    // Ctrl-C stops the run: copies in flight are cut off and their temporary files removed (no partial file,
    // no blocks left behind), the client sessions end cleanly, and it exits 130 (143 for SIGTERM). A second
    // Ctrl-C does not wait.
    const abort = new AbortController();
    let exitCode: number | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      if (exitCode !== undefined) process.exit(exitCode);
      exitCode = sig === 'SIGINT' ? 130 : 143;
      setTimeout(() => process.exit(exitCode), 30_000).unref();
      abort.abort(new Error(`interrupted by ${sig}`));
      // Before the run started (opening endpoints), there is nothing to unwind.
      if (!running) void closeAll().then(() => process.exit(exitCode));
    };
    let running = false;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = new Progress(dryRun ? 'sync (dry run)' : 'sync');
    try {
      const src = await sync.openEndpoint(srcRaw, 'source', shared);
      opened.push(src);
      const dst = await sync.openEndpoint(dstRaw, 'destination', shared);
      opened.push(dst);
      const started = Date.now();
      const lines: string[] = [];
      running = true;
      const stats = await sync.syncTrees(
        src,
        dst,
        { threads, update: flag(p, 'update'), deleteDst: flag(p, 'delete-dst'), rules, dryRun, checkAll: flag(p, 'check-all'), signal: abort.signal },
        {
          onAction: (action, key) => {
            if (verbose && action !== 'check') lines.push(`${dryRun ? 'would ' : ''}${action} ${key}`);
            if (lines.length >= 256) void flush();
          },
          onFailure: (action, key, err) => {
            progress.done();
            process.stderr.write(`ferry: sync: cannot ${action} ${key}: ${describeError(err)}\n`);
          },
          onWarning: (m) => {
            progress.done();
            process.stderr.write(`ferry: sync: ${m}\n`);
          },
          onProgress: (s) =>
            progress.update(
              `${s.scanned} scanned, ${s.copied} copied (${formatBytes(s.bytes)}, ${formatRate(s.bytes, Date.now() - started)}), ${s.skipped} skipped, ${s.deleted} deleted, ${s.failed} failed`,
            ),
        },
      );
      async function flush() {
        const text = lines.splice(0).map((l) => `${l}\n`).join('');
        if (text) await out(text);
      }
      progress.done();
      await flush();
      const ms = Date.now() - started;
      const cloned = stats.cloned ? ` (${stats.cloned} cloned: no data copied)` : '';
      await out(
        `${dryRun ? 'dry run (nothing changed): ' : ''}synced ${src.label} to ${dst.label} in ${formatDuration(ms)}${cloned}\n` +
          table(
            [
              ['', 'files', 'bytes'],
              ['copied', String(stats.copied), formatBytes(stats.bytes)],
              ['skipped', String(stats.skipped), ''],
              ['deleted', String(stats.deleted), ''],
              ['failed', String(stats.failed), ''],
            ],
            [1, 2],
          ) +
          `${formatRate(stats.bytes, ms)}, ${stats.dirs} director${stats.dirs === 1 ? 'y' : 'ies'} created\n`,
      );
      if (stats.failed) throw new Error(`sync: ${stats.failed} file${stats.failed === 1 ? '' : 's'} failed (see above)`);
    } finally {
      progress.done();
      await closeAll();
      if (exitCode !== undefined) process.exit(exitCode);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

export default command;
