#!/usr/bin/env node
// `ferry`: one command with JuiceFS-like subcommands. Only this file and the chosen subcommand are loaded,
// and each subcommand imports the heavy layers (metadata engines, object stores, the SDK) when it runs,
// so `ferry --help` starts in a few tens of milliseconds.
import { commandArgs } from './argv.js';
import { redactText } from './redact.js';
import { FERRY_VERSION } from '../version.js';
import { UsageError, parseCommand, type Command } from './args.js';
import { OutputClosed, describeError, markStdoutGone } from './output.js';
import { checkUrlArgs, resolveEnvUrls } from './url-args.js';

interface Entry {
  summary: string;
  load: () => Promise<{ default: Command }>;
}

/** Every subcommand, in the order `ferry --help` lists them. */
const COMMANDS: Record<string, Entry> = {
  format: { summary: 'create a volume (or update one with --force)', load: () => import('./commands/format.js') },
  info: { summary: 'show a volume, or a file with its chunks, slices and objects', load: () => import('./commands/info.js') },
  status: { summary: 'show the format, client sessions, usage and version of a volume', load: () => import('./commands/status.js') },
  stats: { summary: 'live metrics of a mount, a volume\'s processes or a metrics address (like top)', load: () => import('./commands/stats.js') },
  dashboard: { summary: 'serve a web page showing the health of volumes (usage, sessions, cache groups, mirrors, errors)', load: () => import('./commands/dashboard.js') },
  config: { summary: 'change settings of a volume (capacity, inodes, trash days, storage)', load: () => import('./commands/config.js') },
  destroy: { summary: 'delete a volume: all its objects and its metadata', load: () => import('./commands/destroy.js') },
  ls: { summary: 'list a directory of a volume', load: () => import('./commands/ls.js') },
  cat: { summary: 'print files of a volume', load: () => import('./commands/cat.js') },
  put: { summary: 'copy local files or directories into a volume', load: () => import('./commands/put.js') },
  get: { summary: 'copy a file or directory of a volume to the local disk', load: () => import('./commands/get.js') },
  mkdir: { summary: 'create directories in a volume', load: () => import('./commands/mkdir.js') },
  rm: { summary: 'remove files or directories from a volume', load: () => import('./commands/rm.js') },
  mv: { summary: 'move or rename a file or directory inside a volume', load: () => import('./commands/mv.js') },
  stat: { summary: 'show the attributes of files in a volume', load: () => import('./commands/stat.js') },
  bench: { summary: 'measure a volume or a mount: big/small file throughput with the metadata and object latencies', load: () => import('./commands/bench.js') },
  objbench: { summary: 'measure an object store (put/get/head/list/delete) before formatting on it', load: () => import('./commands/objbench.js') },
  gateway: { summary: 'serve a volume over the S3 API; manage its access keys', load: () => import('./commands/gateway.js') },
  webhdfs: { summary: 'serve a volume over the WebHDFS REST API (Hadoop, Spark, Flink)', load: () => import('./commands/webhdfs.js') },
  mount: { summary: 'mount a volume through FUSE (foreground or -d daemon)', load: () => import('./commands/mount.js') },
  umount: { summary: 'unmount a volume mounted with ferry mount', load: () => import('./commands/umount.js') },
  warmup: { summary: 'pull files or trees into the local cache or the cache group', load: () => import('./commands/warmup.js') },
  cache: { summary: 'run a dedicated cache group member, or list a cache group', load: () => import('./commands/cache.js') },
  fsck: { summary: 'check a volume for damaged metadata and missing or corrupt blocks; repair what is safe', load: () => import('./commands/fsck.js') },
  gc: { summary: 'find and delete leaked objects; show pending deletions and the trash; compact chunks', load: () => import('./commands/gc.js') },
  dump: { summary: 'write the metadata of a volume to a JSON file (backup, or moving to another engine)', load: () => import('./commands/dump.js') },
  load: { summary: 'load a dump into a new or empty volume of any engine', load: () => import('./commands/load.js') },
  trash: { summary: 'list, restore and purge deleted files kept in the trash', load: () => import('./commands/trash.js') },
  readonly: { summary: 'make a directory tree or the whole volume read-only (EROFS), or lift it', load: () => import('./commands/readonly.js') },
  sync: { summary: 'copy what differs between a local directory, an S3 bucket and a FerryFS path, either way', load: () => import('./commands/sync.js') },
  clone: { summary: 'copy a file or tree inside a volume as metadata only, sharing its data', load: () => import('./commands/clone.js') },
  quota: { summary: 'set, show, remove and check directory quotas and the volume limits', load: () => import('./commands/quota.js') },
  ttl: { summary: 'expire files under a directory N days after their last change (set, get, list, delete, run)', load: () => import('./commands/ttl.js') },
  mirror: { summary: 'create, run (replicate) and inspect mirrors of a volume in other regions', load: () => import('./commands/mirror.js') },
  csi: { summary: 'run the Kubernetes CSI driver (controller/node) or its sidecar admission webhook', load: () => import('./commands/csi.js') },
  'meta-server': { summary: "serve a volume's metadata to far clients, one round trip per operation", load: () => import('./commands/meta-server.js') },
};

const SHORT_USAGE = "usage: ferry COMMAND [OPTIONS] ARGS... (see 'ferry --help' for the commands)";

/** The schemes come from the registries (which load no engine or driver to list them). */
async function schemeLines(): Promise<string[]> {
  const [{ metaSchemes }, { objectSchemes }] = await Promise.all([import('../meta/schemes.js'), import('../object/index.js')]);
  const list = (schemes: string[]) => schemes.map((s) => `${s}://`).join(', ');
  return [
    `Metadata URLs:   ${list(metaSchemes())}`,
    '                 (sqlite3://PATH.db is the embedded default)',
    `Object storage:  ${list(objectSchemes())}`,
    '                 (a plain directory means file://; the default is a blocks directory next to an SQLite database)',
  ];
}

async function mainHelp(): Promise<string> {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'Usage: ferry COMMAND [OPTIONS] ARGS...',
    '',
    'FerryFS: a distributed POSIX file system (metadata engine + object store).',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help (or `ferry COMMAND --help` for one command)',
    '  -V, --version  print the version',
    '',
    ...(await schemeLines()),
    'Set FERRY_DEBUG=1 to print stack traces of errors.',
    '',
    'Example:',
    '  ferry format sqlite3://ferry-data/meta.db demo && ferry put sqlite3://ferry-data/meta.db ./src /src',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const topic = cmd === 'help' ? rest[0] : undefined;
    if (topic && COMMANDS[topic]) return main([topic, '--help']);
    if (topic) throw new UsageError(`unknown command '${topic}' (see 'ferry --help')`);
    // Bare `ferry` is a usage mistake: a short usage on stderr (like git or tar), the full help only when asked.
    if (cmd === undefined) throw new UsageError(SHORT_USAGE);
    process.stdout.write(await mainHelp());
    return 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`ferry ${FERRY_VERSION}\n`);
    return 0;
  }
  if (cmd.startsWith('-')) throw new UsageError(`unknown option '${cmd}' (see 'ferry --help'; options go after the command)`);
  const entry = COMMANDS[cmd];
  if (!entry) throw new UsageError(`unknown command '${cmd}' (see 'ferry --help')`);
  const command = (await entry.load()).default;
  const parsed = parseCommand(command.spec, rest);
  if (!parsed) return 0;
  resolveEnvUrls(command.spec, parsed);
  await checkUrlArgs(command.spec, parsed);
  await command.run(parsed);
  return 0;
}

/** The one exit-code rule (README): 2 for a wrong command line, 1 for everything else. */
function exitCodeOf(e: unknown): number {
  return e instanceof UsageError ? 2 : 1;
}

/** Exits once stdout has been handed over (pipes and files are written synchronously on Linux; TTYs too). */
function exit(code: number): void {
  if (process.stdout.writableNeedDrain) process.stdout.once('drain', () => process.exit(code));
  else process.exit(code);
}

// A reader that went away (`ferry cat ... | head`) is not an error: the command stops writing and unwinds,
// closing its session, then exits quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') return markStdoutGone();
  process.stderr.write(`ferry: ${describeError(e)}\n`);
  process.exit(1);
});

main(commandArgs()).then(exit, async (e: unknown) => {
  if (e instanceof OutputClosed) return process.exit(0);
  // A daemon that fails to start tells the `ferry ... -d` that started it, which prints the line.
  // No password of a URL in an error line (engines' own messages may quote the URL they were given).
  if (process.env.FERRY_DAEMON || process.env.FERRY_UPGRADE_FROM) await (await import('./daemon.js')).daemonFailed(redactText(describeError(e)), exitCodeOf(e));
  if (process.env.FERRY_DEBUG) process.stderr.write(`${redactText((e as Error)?.stack ?? String(e))}\n`);
  else process.stderr.write(`ferry: ${redactText(describeError(e))}\n`);
  exit(exitCodeOf(e));
});
