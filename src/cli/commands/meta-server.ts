// ferry meta-server META-URL [--listen HOST:PORT]: serves a volume's metadata engine to far clients,
// one round trip per operation (clients use ferry://HOST:PORT as their metadata URL).
import { UsageError, type Command, type Parsed } from '../args.js';
import { applyFlags, clientFlags } from '../client-flags.js';
import { redactText } from '../redact.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';
import { TLS_FLAGS, tlsOf, warnExposed } from '../service-flags.js';
import { refuseUpgradesWhileStarting, serveThenClose, UPGRADE_FLAGS, upgradeIfAsked, upgradesSoFar } from '../upgrade.js';

const command: Command = {
  spec: {
    name: 'meta-server',
    summary: 'Serve a volume\'s metadata to far clients, one round trip per operation (ferry://HOST:PORT).',
    usage: 'META-URL',
    description: [
      'Run it next to the metadata engine (same region): a client in another region then pays one network',
      'round trip per file-system operation instead of one per statement the engine needs. Clients, mirrors',
      'and `ferry mirror create` accept ferry://HOST:PORT wherever a metadata URL goes.',
      'Every request is signed with the volume\'s service secret (created by `ferry format`; get it into a file',
      'with `ferry config META-URL --service-secret-file FILE`): clients give it as ferry://HOST:PORT?secret-file=FILE',
      'or in $FERRY_SERVICE_SECRET_FILE / $FERRY_SERVICE_SECRET; others are refused (401/403). With --tls-cert',
      'and --tls-key it serves TLS (clients use ferrys://HOST:PORT, checking it against ?tls-ca=FILE or',
      '$FERRY_TLS_CA); --tls-ca also asks clients for certificates signed by that CA. See docs/security.md.',
    ].join('\n'),
    examples: [
      'ferry meta-server postgres://ferry@127.0.0.1:5432/vol --listen 10.0.0.5:9567 --tls-cert srv.pem --tls-key srv.key',
      'ferry config postgres://ferry@127.0.0.1:5432/vol --service-secret-file /etc/ferry/vol.secret',
      'ferry ls "ferrys://10.0.0.5:9567?secret-file=/etc/ferry/vol.secret&tls-ca=/etc/ferry/ca.pem" /',
      'ferry meta-server --upgrade 10.0.0.5:9567   # after installing a new ferry: no call refused (docs/daemons.md)',
    ],
    options: { listen: { type: 'string', arg: 'HOST:PORT', help: 'address to listen on (default 127.0.0.1:9567)' }, ...clientFlags('service'), ...TLS_FLAGS, ...DAEMON_FLAGS, ...UPGRADE_FLAGS },
    minArgs: 0,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    if (await upgradeIfAsked(p, 'meta-server')) return;
    refuseUpgradesWhileStarting('meta-server');
    if (!p.args.length) throw new UsageError(`missing META-URL: usage is 'ferry meta-server META-URL' (see 'ferry meta-server --help')`);
    const [metaUrl] = p.args as [string];
    const listen = (p.values.listen as string | undefined) ?? '127.0.0.1:9567';
    const { metrics } = applyFlags({ metaUrl }, p, 'service');
    if (await daemonize(p, 'meta-server', listen)) return;
    const { openMeta } = await import('../../meta/index.js');
    const { MetaServer } = await import('../../meta/engines/remote/server.js');
    const { serveMetrics, activeMetrics } = await import('../../object/metrics.js');
    const { watchMetaServer } = await import('../../client/metrics.js');
    const { HEARTBEAT_MS } = await import('../../vfs/jobs.js');
    const { bindOrTakeOver, listenOn, Requests } = await import('../../client/index.js');

    const { serviceSecretsOf } = await import('../../meta/service-auth.js');
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const tls = tlsOf(p);
    // Metrics first: a busy port fails before anything is served.
    const endpoint = metrics !== undefined ? await serveMetrics(metrics, bindOrTakeOver) : undefined;
    // A session of its own, so `ferry status` lists the meta-server (and `ferry stats META-URL` finds its metrics).
    const own = await openMeta(metaUrl);
    let heartbeat: NodeJS.Timeout | undefined;
    let server: InstanceType<typeof MetaServer> | undefined;
    // The drain on close, and on an upgrade the socket handover, are the other doors' (client/listen.ts).
    const requests = new Requests();
    let drained = false;
    try {
      await own.load();
      // A volume formatted before service secrets gets its first one here.
      await serviceSecretsOf(own);
      server = new MetaServer(metaUrl, { tls, onRequest: (req, res) => requests.track(req, res) });
      const s = server;
      warnExposed(p, 'the metadata service', host);
      const addr = await s.listen(host, Number(listen.slice(i + 1)), (srv) => listenOn(srv, listen));
      const unwatch = endpoint ? watchMetaServer(activeMetrics()!, () => s.clientCount) : undefined;
      const upgrades = upgradesSoFar();
      await own.newSession({ mountPoint: `meta-server ${addr}`, role: 'meta-server', ...(endpoint ? { metrics: endpoint.address } : {}), ...(upgrades ? { upgrades } : {}) });
      heartbeat = setInterval(() => void own.heartbeat().catch(() => undefined), HEARTBEAT_MS);
      process.stderr.write(`ferry: serving ${redactText(metaUrl)} at ${addr}${endpoint ? `; metrics at http://${endpoint.address}/metrics` : ''}\n`);
      await daemonReady(`meta-server serving at ${addr}`);
      await serveThenClose('meta-server', async () => {
        drained = true;
        await s.close((srv) => requests.drain(srv));
      });
      unwatch?.();
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      if (!drained) await server?.close();
      await own.closeSession().catch(() => undefined);
      await own.close();
      await endpoint?.close();
    }
  },
};

export default command;
