// ferry dashboard META-URL... [--listen HOST:PORT] [--kubeconfig FILE]: a web page (and its JSON API) showing
// the health of one or more volumes; docs/dashboard.md.
import { UsageError, flag, parseCount, str, type Command, type Parsed } from '../args.js';
import { out } from '../output.js';
import { requireVolume } from '../meta.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { TLS_FLAGS, tlsOf, warnExposed } from '../service-flags.js';

export const DEFAULT_LISTEN = '127.0.0.1:9567';

const command: Command = {
  spec: {
    name: 'dashboard',
    summary: 'Serve a web page showing the health of volumes: usage, sessions, cache groups, mirrors, errors.',
    usage: 'META-URL...',
    description: [
      'Serves a page (and the JSON API behind it, docs/dashboard.md) that shows, for each volume, its usage',
      'against capacity and quotas, the trash, the sessions (mounts, gateways, cache members, replicators,',
      'CSI mounts) with host, version, heartbeat and open files, the cache-group members with hit ratio and',
      'bytes served, mirrors with their lag, the write-back backlog and recent background errors, with a tip',
      'for each known failure. The page refreshes itself every --refresh seconds.',
      '',
      'With --kubeconfig it also lists the FerryFS PersistentVolumes, their claims, the pods using them and',
      "the mount processes serving those pods (the kubeconfig's account needs list on pods, PVCs and PVs).",
      '',
      'Listens on loopback by default. On any other address every request must carry HTTP basic',
      "authentication whose password is a volume's dashboard token (--print-token prints it; derived from the",
      "volume's service secret): a visitor sees the volumes whose token it gives. Without --tls-cert/--tls-key",
      'that password travels in clear text (a warning says so unless --insecure).',
    ].join('\n'),
    examples: [
      'ferry dashboard sqlite3://ferry-data/meta.db',
      'ferry dashboard redis://r1:6379/1 postgres://db/ferry --listen 0.0.0.0:9567 --tls-cert cert.pem --tls-key key.pem',
      'ferry dashboard --print-token redis://r1:6379/1',
      'curl -u ferry:$(ferry dashboard --print-token redis://r1:6379/1) https://host:9567/api/volumes',
      'ferry dashboard postgres://db/ferry --kubeconfig ~/.kube/config',
    ],
    options: {
      listen: { type: 'string', arg: 'HOST:PORT', help: `where to serve the page (default ${DEFAULT_LISTEN}: this machine only)` },
      kubeconfig: { type: 'string', arg: 'FILE', help: 'also show the Kubernetes PVs, pods and mount processes of each volume' },
      refresh: { type: 'string', arg: 'SEC', help: 'seconds between the page\'s refreshes (default 5)' },
      'print-token': { type: 'boolean', help: 'print the dashboard token of each volume (the basic-auth password) and exit' },
      ...TLS_FLAGS,
      ...DAEMON_FLAGS,
    },
    minArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const urls = p.args;
    if (flag(p, 'print-token')) return printTokens(urls);
    const listen = str(p, 'listen') ?? DEFAULT_LISTEN;
    const { parseAddress } = await import('../../client/listen.js');
    let addr: { host: string; port: number };
    try {
      addr = parseAddress(listen);
    } catch (e) {
      throw new UsageError(`--listen: ${(e as Error).message}`);
    }
    const refresh = str(p, 'refresh') === undefined ? 5 : parseCount('--refresh', str(p, 'refresh')!, 86400);
    if (refresh < 1) throw new UsageError('--refresh: at least 1 second');
    const kubeconfig = str(p, 'kubeconfig');
    if (kubeconfig) {
      const { existsSync } = await import('node:fs');
      if (!existsSync(kubeconfig)) throw new UsageError(`--kubeconfig: ${kubeconfig} does not exist`);
    }
    const tls = tlsOf(p);
    // SQLite volumes that do not exist are a typo, not an outage: refused now; other engines are tried at
    // each refresh (an unreachable one is shown as such).
    for (const u of urls) await requireVolume(u);
    const { isLoopback } = await import('../../meta/service-auth.js');
    const auth = !isLoopback(addr.host);
    if (auth) warnExposed(p, 'the dashboard', addr.host);
    if (await daemonize(p, 'dashboard', listen)) return;
    const [{ Dashboard }, { openMeta }, { redactUrl }] = await Promise.all([import('../../dashboard/server.js'), import('../../meta/index.js'), import('../../meta/urls.js')]);
    const dash = new Dashboard({ volumes: urls.map((url) => ({ url, open: () => openMeta(url) })), kubeconfig, auth, tls, refreshSeconds: refresh });
    const a = await dash.listen(addr.host, addr.port).catch(async (e: NodeJS.ErrnoException) => {
      await dash.close();
      if (e.code === 'EADDRINUSE') throw new UsageError(`--listen: ${listen} is in use`);
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new UsageError(`--listen: ${addr.host} is not an address of this machine`);
      throw e;
    });
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    const url = `${tls ? 'https' : 'http'}://${host}:${a.port}/`;
    process.stdout.write(`ferry dashboard: ${urls.map(redactUrl).join(', ')} at ${url}${auth ? ' (basic auth: any user, the volume\'s dashboard token as password)' : ''}\n`);
    await daemonReady(`dashboard at ${url}`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        dash.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};

/** One token per volume: alone for one volume (for scripts), `TOKEN NAME` lines for several. */
async function printTokens(urls: string[]): Promise<void> {
  const [{ withMeta }, { serviceSecretsOf }, { dashboardToken }] = await Promise.all([import('../meta.js'), import('../../meta/service-auth.js'), import('../../dashboard/auth.js')]);
  const lines: string[] = [];
  for (const u of urls) {
    await withMeta(u, async (meta, format) => {
      const token = dashboardToken((await serviceSecretsOf(meta)).secret);
      lines.push(urls.length === 1 ? token : `${token}  ${format.name}`);
    });
  }
  await out(lines.join('\n') + '\n');
}

export default command;
