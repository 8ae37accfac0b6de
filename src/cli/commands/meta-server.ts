// ferry meta-server META-URL [--listen HOST:PORT]: serves a volume's metadata engine to far clients,
// one round trip per operation (clients use ferry://HOST:PORT as their metadata URL).
import type { Command, Parsed } from '../args.js';
import { applyFlags, clientFlags } from '../client-flags.js';
import { DAEMON_FLAGS, daemonReady, daemonize } from '../daemon.js';

const command: Command = {
  spec: {
    name: 'meta-server',
    summary: 'Serve a volume\'s metadata to far clients, one round trip per operation (ferry://HOST:PORT).',
    usage: 'META-URL',
    description: [
      'Run it next to the metadata engine (same region): a client in another region then pays one network',
      'round trip per file-system operation instead of one per statement the engine needs. Clients, mirrors',
      'and `ferry mirror create` accept ferry://HOST:PORT wherever a metadata URL goes. There is no',
      'authentication: listen on a private network only.',
    ].join('\n'),
    examples: ['ferry meta-server postgres://ferry@127.0.0.1:5432/vol --listen 10.0.0.5:9567', 'ferry ls ferry://10.0.0.5:9567 /'],
    options: { listen: { type: 'string', arg: 'HOST:PORT', help: 'address to listen on (default 127.0.0.1:9567)' }, ...clientFlags('service'), ...DAEMON_FLAGS },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    const listen = (p.values.listen as string | undefined) ?? '127.0.0.1:9567';
    const { metrics } = applyFlags({ metaUrl }, p, 'service');
    if (await daemonize(p, 'meta-server', listen)) return;
    const { openMeta } = await import('../../meta/index.js');
    const { MetaServer } = await import('../../meta/engines/remote/server.js');
    const { serveMetrics, activeMetrics } = await import('../../object/metrics.js');
    const { watchMetaServer } = await import('../../client/metrics.js');
    const { HEARTBEAT_MS } = await import('../../vfs/jobs.js');
    // Metrics first: a busy port fails before anything is served.
    const endpoint = metrics !== undefined ? await serveMetrics(metrics) : undefined;
    // A session of its own, so `ferry status` lists the meta-server (and `ferry stats META-URL` finds its metrics).
    const own = await openMeta(metaUrl);
    let heartbeat: NodeJS.Timeout | undefined;
    let server: InstanceType<typeof MetaServer> | undefined;
    try {
      await own.load();
      const i = listen.lastIndexOf(':');
      server = new MetaServer(metaUrl);
      const s = server;
      const addr = await s.listen(listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1)));
      const unwatch = endpoint ? watchMetaServer(activeMetrics()!, () => s.clientCount) : undefined;
      await own.newSession({ mountPoint: `meta-server ${addr}`, role: 'meta-server', ...(endpoint ? { metrics: endpoint.address } : {}) });
      heartbeat = setInterval(() => void own.heartbeat().catch(() => undefined), HEARTBEAT_MS);
      process.stderr.write(`ferry: serving ${metaUrl.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')} at ${addr}${endpoint ? `; metrics at http://${endpoint.address}/metrics` : ''}\n`);
      await daemonReady(`meta-server serving at ${addr}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      unwatch?.();
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      await server?.close();
      await own.closeSession().catch(() => undefined);
      await own.close();
      await endpoint?.close();
    }
  },
};

export default command;
