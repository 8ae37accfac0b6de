// ferry cache serve|members META-URL: a dedicated cache group member (no mount, no SDK client: only the
// group's HTTP server over a disk cache, fetching from the volume's object store), and the group's list.
import { TLS_FLAGS, tlsOf, warnExposed } from '../service-flags.js';
import { UsageError, parseSize, str, type Command, type Parsed } from '../args.js';
import { ago, formatBytes, out, table } from '../output.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { applyFlags, clientFlags } from '../client-flags.js';

function ratio(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new UsageError(`--free-space-ratio: '${raw}' is not a number in [0, 1)`);
  return n;
}

const command: Command = {
  spec: {
    name: 'cache',
    summary: 'Run a dedicated cache group member, or list a cache group.',
    usage: 'serve|members META-URL',
    description: [
      '`serve` runs a cache group member without a mount: it registers in the volume metadata (a client session',
      'with the group name, address, region and zone), serves blocks to the group from its disk cache and',
      'fetches missing ones from the object store once. It runs until interrupted (Ctrl-C or SIGTERM end its',
      'session cleanly). `members` lists the members registered for the volume, with their heartbeat age.',
    ].join('\n'),
    examples: [
      'ferry cache serve sqlite3://ferry-data/meta.db --cache-group models --listen 10.0.0.5:9600 --cache-dir /var/ferry-cache --cache-size 500G',
      'ferry cache members sqlite3://ferry-data/meta.db',
    ],
    options: {
      'cache-group': { type: 'string', arg: 'NAME', help: 'cache group to serve (serve: required; members: only this group)' },
      listen: { type: 'string', arg: 'HOST:PORT', help: 'address to listen on and advertise (default 127.0.0.1:9600)' },
      ...Object.fromEntries(Object.entries(TLS_FLAGS).map(([k, v]) => [k, { ...v, help: `serve: ${v.help}${k === 'tls-ca' ? ' (and check TLS peers against it)' : ''}` }])),
      'cache-dir': { type: 'string', arg: 'DIR', help: 'disk cache directory (required for serve)' },
      'cache-size': { type: 'string', arg: 'SIZE', help: 'disk cache size limit (default 10G)' },
      'free-space-ratio': { type: 'string', arg: 'R', help: 'keep this share of the disk free (default 0.1)' },
      'memory-size': { type: 'string', arg: 'SIZE', help: 'memory block cache (default 64M)' },
      region: { type: 'string', arg: 'NAME', help: 'region of this member (groups are per region)' },
      zone: { type: 'string', arg: 'NAME', help: 'zone of this member (replicas prefer other zones)' },
      heartbeat: { type: 'string', arg: 'SECONDS', help: 'session heartbeat interval (default 5)' },
      ...clientFlags('service'),
      ...DAEMON_FLAGS,
    },
    minArgs: 2,
    maxArgs: 2,
  },

  async run(p: Parsed): Promise<void> {
    const [sub, metaUrl] = p.args as [string, string];
    if (sub === 'members') return members(metaUrl, str(p, 'cache-group'));
    if (sub !== 'serve') throw new UsageError(`unknown cache subcommand '${sub}' (expected serve or members)`);
    const group = str(p, 'cache-group');
    const dir = str(p, 'cache-dir');
    if (!group) throw new UsageError('cache serve needs --cache-group NAME');
    if (!dir) throw new UsageError('cache serve needs --cache-dir DIR');
    const hbRaw = str(p, 'heartbeat');
    const hb = hbRaw === undefined ? undefined : Number(hbRaw);
    if (hb !== undefined && !(hb > 0)) throw new UsageError(`--heartbeat: '${hbRaw}' is not a positive number of seconds`);
    const cacheSize = str(p, 'cache-size');
    const memSize = str(p, 'memory-size');
    const listen = str(p, 'listen') ?? '127.0.0.1:9600';
    const { metrics } = applyFlags({ metaUrl }, p, 'service');
    const tls = tlsOf(p);
    if (await daemonize(p, 'cache', `${group}-${listen}`)) return;
    warnExposed(p, `cache group member ${group}`, listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, ''));
    // Metrics first: a busy port fails before the member joins; enabled before the store opens, which counts its requests.
    const { serveMetrics, activeMetrics } = await import('../../object/metrics.js');
    const endpoint = metrics !== undefined ? await serveMetrics(metrics) : undefined;

    const { openFormatted } = await import('../meta.js');
    const { openBlockCache } = await import('../../client/storage.js');
    const { meta, format } = await openFormatted(metaUrl);
    await meta.close();
    // The store as the volume keeps it (all shards, no transforms): members serve blocks as stored.
    const store = await openBlockCache(format, {
      metaUrl,
      metrics,
      cache: {
        dir,
        size: cacheSize === undefined ? undefined : parseSize('--cache-size', cacheSize),
        memorySize: memSize === undefined ? undefined : parseSize('--memory-size', memSize),
        freeSpaceRatio: ratio(str(p, 'free-space-ratio')),
      },
      group: {
        name: group,
        address: listen,
        region: str(p, 'region'),
        zone: str(p, 'zone'),
        label: `ferry cache serve ${group}`,
        tuning: hb === undefined ? undefined : { heartbeatMs: hb * 1000 },
        ...(tls ? { tls } : {}),
      },
    });
    const disk = store.disk!;
    let unwatch: (() => void) | undefined;
    if (endpoint) {
      const { watchCache } = await import('../../client/metrics.js');
      unwatch = watchCache(activeMetrics()!, store);
      await store.group!.setSessionInfo({ metrics: endpoint.address });
      process.stderr.write(`cache group ${group}: metrics at http://${endpoint.address}/metrics\n`);
    }
    await out(
      `cache group ${group}: serving volume ${format.name} at ${store.group!.address} ` +
        `(cache ${disk.dir}: ${disk.count} blocks, ${formatBytes(disk.used)})\n`,
    );
    await daemonReady(`cache group ${group}: member serving at ${store.group!.address}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    const g = store.group!.stats;
    setTimeout(() => process.exit(1), 5000).unref();
    await store.close();
    unwatch?.();
    await endpoint?.close();
    process.stderr.write(`cache group ${group}: served ${g.served} requests, ${formatBytes(g.servedBytes)}; object store ${store.stats.storeGets} gets, ${formatBytes(store.stats.storeBytes)}\n`);
  },
};

async function members(metaUrl: string, group: string | undefined): Promise<void> {
  const { withMeta } = await import('../meta.js');
  await withMeta(metaUrl, async (meta) => {
    const rows = [['GROUP', 'ADDRESS', 'REGION', 'ZONE', 'SESSION', 'HOST', 'HEARTBEAT']];
    for (const s of await meta.listSessions()) {
      if (!s.cacheGroup || (group && s.cacheGroup !== group)) continue;
      rows.push([s.cacheGroup, String(s.groupAddress ?? ''), s.region ?? '-', s.zone ?? '-', String(s.sid), s.hostname, ago(Date.now() - s.heartbeat)]);
    }
    if (rows.length === 1) await out(group ? `no members in cache group ${group}\n` : 'no cache group members\n');
    else await out(table(rows));
  });
}

export default command;
