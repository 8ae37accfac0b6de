// ferry meta-server META-URL [--listen HOST:PORT]: serves a volume's metadata engine to far clients,
// one round trip per operation (clients use ferry://HOST:PORT as their metadata URL).
import type { Command, Parsed } from '../args.js';
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
    options: { listen: { type: 'string', arg: 'HOST:PORT', help: 'address to listen on (default 127.0.0.1:9567)' }, ...DAEMON_FLAGS },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [metaUrl] = p.args as [string];
    const listen = (p.values.listen as string | undefined) ?? '127.0.0.1:9567';
    if (await daemonize(p, 'meta-server', listen)) return;
    const { openMeta } = await import('../../meta/index.js');
    const { MetaServer } = await import('../../meta/engines/remote/server.js');
    const probe = await openMeta(metaUrl);
    try {
      await probe.load();
    } finally {
      await probe.close();
    }
    const i = listen.lastIndexOf(':');
    const server = new MetaServer(metaUrl);
    const addr = await server.listen(listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1)));
    process.stderr.write(`ferry: serving ${metaUrl.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')} at ${addr}\n`);
    await daemonReady(`meta-server serving at ${addr}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  },
};

export default command;
