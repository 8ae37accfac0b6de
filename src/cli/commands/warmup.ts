// ferry warmup META-URL PATH...: pulls the blocks of files or trees into the local disk cache or the cache
// group; --check reports how much is cached, --evict drops it again. Idempotent (cached blocks are skipped),
// so running it again finishes an interrupted warm-up.
import { UsageError, flag, parseCount, parseSize, str, volumePath, type Command, type Parsed } from '../args.js';
import { Progress, formatBytes, formatDuration, formatRate, out } from '../output.js';

const command: Command = {
  spec: {
    name: 'warmup',
    summary: 'Pull files or directory trees into the local cache or the cache group.',
    usage: 'META-URL PATH...',
    description: [
      'Fetches every block behind the files under each PATH (directories recursively) into the local disk',
      'cache (--cache-dir) or, with --cache-group, into the group members that own them (this command only',
      'asks them; it does not join the group). Blocks already cached are skipped. --check only reports the',
      'cached fraction; --evict drops the blocks from the cache. Shows progress when stderr is a terminal.',
    ].join('\n'),
    examples: [
      'ferry warmup sqlite3://ferry-data/meta.db /models/llama --cache-dir /var/ferry-cache --threads 16',
      'ferry warmup sqlite3://ferry-data/meta.db /models/llama --cache-group models --check',
    ],
    options: {
      'cache-dir': { type: 'string', arg: 'DIR', help: 'local disk cache directory' },
      'cache-size': { type: 'string', arg: 'SIZE', help: 'disk cache size limit (default 10G)' },
      'free-space-ratio': { type: 'string', arg: 'R', help: 'keep this share of the disk free (default 0.1)' },
      'cache-group': { type: 'string', arg: 'NAME', help: 'warm the cache group of this name instead' },
      region: { type: 'string', arg: 'NAME', help: 'region of the cache group' },
      replicas: { type: 'string', arg: 'N', help: 'members holding each block (as the group uses; default 1)' },
      threads: { type: 'string', short: 'p', arg: 'N', help: 'blocks fetched at once (default 10)' },
      check: { type: 'boolean', help: 'only report how much is cached' },
      evict: { type: 'boolean', help: 'drop the blocks from the cache' },
    },
    minArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl, ...raw] = p.args as [string, ...string[]];
    const paths = raw.map(volumePath);
    const cacheDir = str(p, 'cache-dir');
    const cacheGroup = str(p, 'cache-group');
    if (!cacheDir && !cacheGroup) throw new UsageError('warmup needs --cache-dir DIR or --cache-group NAME');
    if (flag(p, 'check') && flag(p, 'evict')) throw new UsageError('--check and --evict do not go together');
    const threads = str(p, 'threads') === undefined ? 10 : Math.max(1, parseCount('--threads', str(p, 'threads')!, 1024));
    const replicas = str(p, 'replicas') === undefined ? undefined : Math.max(1, parseCount('--replicas', str(p, 'replicas')!, 16));
    const cacheSize = str(p, 'cache-size');
    const ratioRaw = str(p, 'free-space-ratio');
    const freeSpaceRatio = ratioRaw === undefined ? undefined : Number(ratioRaw);
    if (freeSpaceRatio !== undefined && !(freeSpaceRatio >= 0 && freeSpaceRatio < 1)) {
      throw new UsageError(`--free-space-ratio: '${ratioRaw}' is not a number in [0, 1)`);
    }
    const mode = flag(p, 'check') ? 'check' : flag(p, 'evict') ? 'evict' : 'warm';

    const { requireVolume } = await import('../meta.js');
    await requireVolume(metaUrl);
    const { openClient, processContext } = await import('../../client/index.js');
    const { planWarmup, runWarmup } = await import('../../vfs/warmup.js');
    const { CachedObjectStore } = await import('../../cache/store.js');
    // A client whose cache is the target: the local disk cache, or (joining as a forwarding client) the group.
    const client = await openClient({
      metaUrl,
      sessionLabel: 'ferry warmup',
      data: { backgroundJobs: false },
      cache: { memorySize: 0, dir: cacheGroup ? undefined : cacheDir, size: cacheSize === undefined ? undefined : parseSize('--cache-size', cacheSize), freeSpaceRatio },
      group: cacheGroup ? { name: cacheGroup, region: str(p, 'region'), replicas, noSharing: true } : undefined,
    });
    {
      const store = client.cache!;
      const plan = await planWarmup(client.meta, client.store, processContext(), paths);
      const where = cacheGroup ? `cache group ${cacheGroup}` : `${cacheDir}`;
      try {
        if (cacheGroup && !(store instanceof CachedObjectStore && store.group && store.group.members().length > 0)) {
          throw new Error(`cache group ${cacheGroup} has no live members`);
        }
        const progress = new Progress(mode);
        const started = Date.now();
        const r = await runWarmup(plan, store, mode, threads, (s) => {
          const ms = Date.now() - started;
          const rate = ms > 0 ? (s.bytesDone * 1000) / ms : 0;
          const eta = rate > 0 ? ((s.bytes - s.bytesDone) / rate) * 1000 : 0;
          progress.update(
            `files ${s.filesDone}/${s.files}, ${formatBytes(s.bytesDone)}/${formatBytes(s.bytes)}, ` +
              `${formatRate(s.bytesDone, ms)}, ETA ${formatDuration(eta)}`,
          );
        });
        progress.done();
        const ms = Date.now() - started;
        const pct = (n: number, d: number) => (d === 0 ? '100.0' : ((100 * n) / d).toFixed(1));
        if (mode === 'check') {
          await out(
            `${where}: ${r.cachedBlocks}/${r.blocks} blocks cached, ${formatBytes(r.cachedBytes)} of ${formatBytes(r.bytes)} ` +
              `(${pct(r.cachedBytes, r.bytes)}%) in ${r.files} files\n`,
          );
        } else if (mode === 'evict') {
          await out(`${where}: evicted ${r.cachedBlocks} blocks, ${formatBytes(r.cachedBytes)} of ${r.files} files\n`);
        } else {
          await out(
            `${where}: warmed ${r.files} files, ${r.blocks} blocks, ${formatBytes(r.bytes)} in ${formatDuration(ms)} ` +
              `(${formatBytes(r.fetchedBytes)} fetched at ${formatRate(r.fetchedBytes, ms)}, ${formatBytes(r.cachedBytes)} already cached)\n`,
          );
        }
        if (r.failed) {
          for (const e of r.errors) process.stderr.write(`ferry: ${e}\n`);
          const { FsError } = await import('../../errors.js');
          throw new FsError('EIO', { message: `${r.failed} of ${r.blocks} blocks failed` });
        }
      } finally {
        await client.close();
      }
    }
  },
};

export default command;
