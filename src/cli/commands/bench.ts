// ferry bench META-URL [PATH] | MOUNTPOINT: the workload of `juicefs bench` (big file written and read in
// blocks by each thread, then many small files written, read and statted), through the SDK's client for a
// META-URL (with the metadata calls and object requests behind each stage) or node:fs on a mounted path.
// The workload is client/bench.ts; this file parses, picks the file API and prints.
import { UsageError, flag, parseCount, parseSize, str, volumePath, type Command, type Parsed } from '../args.js';
import { formatBytes, out, table } from '../output.js';
import type { BenchFs, BenchResult } from '../../client/bench.js';
import type { ProbeSnapshot, ProbeStat } from '../../client/probe.js';

const MiB = 1 << 20;

function sizeOpt(p: Parsed, name: string, dflt: number, min: number): number {
  const raw = str(p, name);
  const n = raw === undefined ? dflt : parseSize(`--${name}`, raw);
  if (n < min) throw new UsageError(`--${name}: must be at least ${formatBytes(min)}`);
  return n;
}

function countOpt(p: Parsed, name: string, dflt: number, min: number, max: number): number {
  const raw = str(p, name);
  const n = raw === undefined ? dflt : parseCount(`--${name}`, raw, max);
  if (n < min) throw new UsageError(`--${name}: must be ${min} or more`);
  return n;
}

const sum = (m: Record<string, ProbeStat>, names?: string[]) =>
  Object.entries(m)
    .filter(([k]) => !names || names.includes(k))
    .reduce((a, [, s]) => ({ count: a.count + s.count, ms: a.ms + s.ms, bytes: a.bytes + s.bytes }), { count: 0, ms: 0, bytes: 0 });

const per = (s: ProbeStat) => (s.count ? `${(s.ms / s.count).toFixed(2)} ms` : '-');

/** The engine and store work behind one stage: calls and mean latency, by kind. */
function behindRow(stage: string, b: ProbeSnapshot): string[] {
  const meta = sum(b.meta);
  const put = sum(b.objects, ['put']);
  const get = sum(b.objects, ['get']);
  const other = sum(b.objects, ['head', 'delete', 'list', 'multipart']);
  return [stage, String(meta.count), per(meta), String(put.count), per(put), String(get.count), per(get), String(other.count), per(other)];
}

function render(target: string, r: BenchResult): string {
  const head =
    `bench ${target}: ${r.threads} thread(s); ` +
    (r.bigFileSize ? `big file ${formatBytes(r.bigFileSize)} in ${formatBytes(r.blockSize)} blocks; ` : 'no big file; ') +
    `${r.smallFileCount} small file(s) of ${formatBytes(r.smallFileSize)} per thread\n`;
  const rows = [['STAGE', 'FILES', 'THROUGHPUT', 'FILES/S', 'PER FILE', 'TIME']];
  for (const s of r.stages) {
    rows.push([
      s.stage,
      String(s.files),
      s.bytes ? `${(s.bytesPerSec / MiB).toFixed(2)} MiB/s` : '-',
      s.filesPerSec.toFixed(1),
      `${s.msPerFile.toFixed(2)} ms`,
      `${s.seconds.toFixed(2)} s`,
    ]);
  }
  let text = head + table(rows, [1, 2, 3, 4, 5]);
  if (r.stages.some((s) => s.behind)) {
    const b = [['BEHIND IT', 'META CALLS', 'PER CALL', 'PUTS', 'PER PUT', 'GETS', 'PER GET', 'OTHER OBJ', 'PER REQ']];
    for (const s of r.stages) if (s.behind) b.push(behindRow(s.stage, s.behind));
    text += '\n' + table(b, [1, 2, 3, 4, 5, 6, 7, 8]);
  }
  if (!r.cleanedUp) text += `the bench directory ${r.dir} could not be removed entirely: remove it by hand\n`;
  return text;
}

/** Aborts on Ctrl-C / SIGTERM so the workload stops and removes its files; a second signal exits at once. */
function abortOnSignal(): { signal: AbortSignal; off: () => void } {
  const ac = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { signal: ac.signal, off: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) };
}

const command: Command = {
  spec: {
    name: 'bench',
    summary: 'Measure a volume or a mount: big and small file throughput, with the metadata and object latencies behind it.',
    usage: 'META-URL|MOUNTPOINT [PATH]',
    description: [
      "The workload of 'juicefs bench': each of --threads workers writes a big file (--big-file-size) in",
      '--block-size writes and reads it back, then writes, reads and stats --small-file-count small files of',
      '--small-file-size. Prints MiB/s, files/s and the mean time per file of each stage.',
      'With a META-URL the volume is opened as a client (PATH: the directory to work in, default /) and each',
      "stage also shows the metadata calls and object requests it cost and their mean latency. A MOUNTPOINT",
      '(any directory, typically a ferry mount) is measured through the kernel with plain file calls.',
      'Everything written goes in a new directory that is removed afterwards (on the SDK path past the trash).',
    ].join('\n'),
    examples: [
      'ferry bench /mnt/ferry',
      'ferry bench -p 4 --big-file-size 256M sqlite3://ferry-data/meta.db',
      'ferry bench --json --big-file-size 0 --small-file-count 1000 redis://host:6379/1 /scratch',
    ],
    options: {
      threads: { type: 'string', short: 'p', arg: 'N', help: 'workers, each with its own files (default 1)' },
      'big-file-size': { type: 'string', arg: 'SIZE', help: 'size of the big file of each worker (default 1G; 0 skips the big file)' },
      'block-size': { type: 'string', arg: 'SIZE', help: 'size of each write and read call (default 1M)' },
      'small-file-size': { type: 'string', arg: 'SIZE', help: 'size of each small file (default 128K)' },
      'small-file-count': { type: 'string', arg: 'N', help: 'small files per worker (default 100; 0 skips them)' },
      json: { type: 'boolean', help: 'print the figures as JSON' },
    },
    minArgs: 1,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [target, path] = p.args as [string, string?];
    const threads = countOpt(p, 'threads', 1, 1, 256);
    const blockSize = sizeOpt(p, 'block-size', MiB, 1);
    if (blockSize > 64 * MiB) throw new UsageError('--block-size: at most 64M');
    const opts = {
      threads,
      blockSize,
      bigFileSize: sizeOpt(p, 'big-file-size', 1024 * MiB, 0),
      smallFileSize: sizeOpt(p, 'small-file-size', 128 << 10, 0),
      smallFileCount: countOpt(p, 'small-file-count', 100, 0, 10_000_000),
    };
    const [{ runBench }, { ClientProbe }] = await Promise.all([import('../../client/bench.js'), import('../../client/probe.js')]);
    const quiet = flag(p, 'json') || !process.stderr.isTTY;
    const progress = quiet ? undefined : (stage: string) => process.stderr.write(`${stage}...\n`);
    let result: BenchResult;
    let shown: string;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      const { metaUrlProblem } = await import('../../meta/schemes.js');
      const problem = metaUrlProblem(target);
      if (problem) throw new UsageError(problem);
      const dir = path === undefined ? '/' : volumePath(path);
      const { withVolume } = await import('../volume.js');
      const probe = new ClientProbe();
      shown = dir === '/' ? target : `${target} ${dir}`;
      result = await withVolume(
        target,
        'bench',
        async (vol, signal) => {
          const fs: BenchFs = {
            mkdir: (d) => vol.mkdir(d),
            open: (f, flags) => vol.open(f, flags),
            stat: (f) => vol.stat(f),
            // Past the trash: the bench leaves nothing counted behind.
            unlink: (f) => vol.unlink(f, { skipTrash: true }),
            rmdir: (d) => vol.rm(d, { recursive: true, skipTrash: true }),
          };
          const st = await vol.stat(dir);
          if (!st.isDirectory()) throw new UsageError(`${dir}: not a directory of the volume`);
          try {
            return await runBench(fs, { ...opts, dir, probe, progress, signal });
          } finally {
            // The deleted files' blocks are removed now (after Ctrl-C too), not left for another client's jobs.
            await vol.settle();
          }
        },
        { volume: { probe }, unwind: true },
      );
    } else {
      if (path !== undefined) throw new UsageError('a MOUNTPOINT takes no PATH: give the directory to work in as MOUNTPOINT');
      const [fsp, { resolve }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
      const dir = resolve(target);
      const st = await fsp.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) throw new UsageError(`${target}: not a directory (give a META-URL such as sqlite3://meta.db, or a mounted directory)`);
      shown = dir;
      const fs: BenchFs = {
        mkdir: (d) => fsp.mkdir(d),
        open: (f, flags) => fsp.open(f, flags),
        stat: (f) => fsp.stat(f),
        unlink: (f) => fsp.unlink(f),
        rmdir: (d) => fsp.rmdir(d),
      };
      const stop = abortOnSignal();
      try {
        result = await runBench(fs, { ...opts, dir, progress, signal: stop.signal });
      } finally {
        stop.off();
      }
    }
    if (flag(p, 'json')) await out(JSON.stringify({ target: shown, ...result }, null, 2) + '\n');
    else await out(render(shown, result));
    if (!result.cleanedUp) process.exitCode = 1;
  },
};

export default command;
