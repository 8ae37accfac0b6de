// ferry webhdfs META-URL ADDRESS: serves a volume over the WebHDFS REST API (Hadoop 3) for Hadoop, Spark and
// Flink (`webhdfs://HOST:PORT/path`), on the same namespace as mounts, the SDK and the S3 gateway.
import { UsageError, flag, parseCount, str, type Command, type Parsed } from '../args.js';
import { requireVolume } from '../meta.js';
import { applyFlags, clientFlags } from '../client-flags.js';
import { CLIENT_OPTIONS } from '../../client/index.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { refuseUpgradesWhileStarting, serveThenClose, UPGRADE_FLAGS, upgradeIfAsked } from '../upgrade.js';

const subdirRow = CLIENT_OPTIONS.find((o) => o.flag === 'subdir')!;

const command: Command = {
  spec: {
    name: 'webhdfs',
    summary: 'Serve a volume over the WebHDFS REST API (Hadoop, Spark, Flink: webhdfs://HOST:PORT).',
    usage: 'META-URL ADDRESS',
    description: [
      'Serves the volume at ADDRESS (HOST:PORT) under /webhdfs/v1 as Hadoop 3 documents the API, so',
      'webhdfs://HOST:PORT/path works from any Hadoop client without a jar. A file written here is at once a',
      'file on a mount and an object over S3. Requests act as a user: with --allow-simple-auth the user.name=',
      'parameter names one in --users (NAME:UID[:GID] lines; --groups has NAME:GID[:USER,USER] lines), and',
      'POSIX permissions apply; --proxy-users may act for others with doas=. Without user.name a request is',
      'refused (401) unless --anonymous serves it as --anonymous-uid/gid. Serves until SIGINT/SIGTERM, which',
      'finishes requests in flight. See docs/webhdfs.md for the operations served.',
    ].join('\n'),
    examples: [
      'ferry webhdfs sqlite3://ferry-data/meta.db 0.0.0.0:9870 --allow-simple-auth --users users.txt',
      'curl -L "http://127.0.0.1:9870/webhdfs/v1/data?op=LISTSTATUS&user.name=alice"',
      'hadoop fs -ls webhdfs://127.0.0.1:9870/data',
      'ferry webhdfs --upgrade 0.0.0.0:9870   # after installing a new ferry: no request refused (docs/daemons.md)',
    ],
    options: {
      'allow-simple-auth': { type: 'boolean', help: 'trust the user.name= parameter (Hadoop simple authentication: no proof of identity)' },
      users: { type: 'string', arg: 'FILE', help: 'users: NAME:UID[:GID] per line (needed by --allow-simple-auth)' },
      groups: { type: 'string', arg: 'FILE', help: 'groups: NAME:GID[:USER,USER...] per line (owner/group names, supplementary groups)' },
      'proxy-users': { type: 'string', arg: 'U1,U2', help: 'users that may act for any other user with doas=' },
      anonymous: { type: 'boolean', help: 'serve requests without user.name as --anonymous-uid/gid' },
      'anonymous-uid': { type: 'string', arg: 'N', help: 'uid of anonymous requests (default 65534)' },
      'anonymous-gid': { type: 'string', arg: 'N', help: 'gid of anonymous requests (default 65534)' },
      subdir: { type: 'string', arg: subdirRow.arg, help: 'serve this directory of the volume as "/" (it must exist)' },
      'cache-timeout': { type: 'string', arg: 'SEC', help: 'attribute/entry cache seconds (default 0: read-after-write)' },
      'access-log': { type: 'boolean', help: 'print one line per request on stdout' },
      ...clientFlags('local'),
      ...DAEMON_FLAGS,
      ...UPGRADE_FLAGS,
    },
    minArgs: 0,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    if (await upgradeIfAsked(p, 'webhdfs')) return;
    refuseUpgradesWhileStarting('webhdfs');
    if (p.args.length < 2) throw new UsageError(`missing ${p.args.length ? 'ADDRESS' : 'META-URL'}: usage is 'ferry webhdfs META-URL ADDRESS' (see 'ferry webhdfs --help')`);
    const [metaUrl, address] = p.args as [string, string];
    if (!/^(\[[^\]]+\]|[^:]*):\d+$/.test(address) && !/^\d+$/.test(address)) throw new UsageError(`ADDRESS must be HOST:PORT, not '${address}'`);
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    if (port > 65535) throw new UsageError(`ADDRESS: port ${port} is out of range (0-65535)`);
    const cache = str(p, 'cache-timeout');
    if (cache !== undefined && !/^\d+(\.\d+)?$/.test(cache)) throw new UsageError(`--cache-timeout: '${cache}' is not a number of seconds`);
    const simple = flag(p, 'allow-simple-auth');
    const users = str(p, 'users');
    if (simple && !users) throw new UsageError('--allow-simple-auth needs --users FILE (which uid/gid each user.name acts as)');
    const proxyUsers = str(p, 'proxy-users')?.split(',').map((s) => s.trim()).filter(Boolean);
    if (proxyUsers?.length && !simple) throw new UsageError('--proxy-users needs --allow-simple-auth');
    const anonymous = flag(p, 'anonymous')
      ? { uid: parseCount('--anonymous-uid', str(p, 'anonymous-uid') ?? '65534', 2 ** 32 - 1), gid: parseCount('--anonymous-gid', str(p, 'anonymous-gid') ?? '65534', 2 ** 32 - 1) }
      : undefined;
    if (!simple && !anonymous) throw new UsageError('no way to know who asks: give --allow-simple-auth --users FILE, or --anonymous');
    const { metaUrl: _url, ...client } = applyFlags({ metaUrl }, p, 'local');
    await requireVolume(metaUrl);
    if (await daemonize(p, 'webhdfs', address)) return;
    const { WebHdfs } = await import('../../webhdfs/index.js');
    const server = await WebHdfs.start({
      metaUrl,
      address: /^\d+$/.test(address) ? `0.0.0.0:${address}` : address,
      subdir: str(p, 'subdir'),
      allowSimpleAuth: simple,
      usersFile: users,
      groupsFile: str(p, 'groups'),
      proxyUsers,
      anonymous,
      cacheTimeout: cache !== undefined ? Number(cache) : undefined,
      log: flag(p, 'access-log') ? (l) => process.stdout.write(l + '\n') : undefined,
      client,
      clientLog: (l) => process.stderr.write(l + '\n'),
    });
    process.stdout.write(`ferry webhdfs: serving ${metaUrl}${str(p, 'subdir') ? ` (${str(p, 'subdir')})` : ''} at ${server.url}/webhdfs/v1\n`);
    await daemonReady(`webhdfs serving at ${server.url}`);
    await serveThenClose('webhdfs', (handedOver) => server.close(undefined, handedOver));
  },
};

export default command;
