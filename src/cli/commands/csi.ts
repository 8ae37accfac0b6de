// ferry csi: the Kubernetes CSI driver (controller, node or both on one Unix socket), and
// ferry csi webhook: the mutating admission webhook of sidecar mode. See docs/kubernetes.md.
import { UsageError, str, type Command, type Parsed } from '../args.js';

const MODES = ['controller', 'node', 'all'];

const command: Command = {
  spec: {
    name: 'csi',
    summary: 'Run the Kubernetes CSI driver, or its sidecar-injecting admission webhook.',
    usage: '[webhook]',
    description: [
      'Serves the Container Storage Interface v1 on a Unix socket for the kubelet and the external-provisioner,',
      '-resizer and -snapshotter sidecars. The controller provisions each claim as a directory of a FerryFS volume',
      'with a directory quota as its size; the node runs one `ferry mount` per volume and bind-mounts it into each',
      'pod. The metadata URL and keys come from the volume\'s Secret (keys metaurl, encrypt-key, encrypt-passphrase),',
      'or FERRY_META_URL in the environment; never from the command line. Node state (mount arguments, 0600) is',
      'kept in --state-dir.',
      '',
      'ferry csi webhook serves a mutating admission webhook over TLS: pods labelled ferryfs.io/inject=true get a',
      'FerryFS mount sidecar (annotations ferryfs.io/secret, ferryfs.io/mount-path, ferryfs.io/subdir,',
      'ferryfs.io/mount-options). Manifests: deploy/kubernetes/ (docs/kubernetes.md).',
    ].join('\n'),
    examples: [
      'ferry csi --endpoint unix:///csi/csi.sock --node-id "$NODE_NAME" --mode node --region eu-west --zone eu-west-1a',
      'ferry csi --endpoint unix:///csi/csi.sock --node-id "$NODE_NAME" --mode controller',
      'ferry csi webhook --listen 0.0.0.0:9443 --tls-cert /tls/tls.crt --tls-key /tls/tls.key --image ferryfs/ferry:latest',
    ],
    options: {
      endpoint: { type: 'string', arg: 'unix:///PATH', help: 'driver: the Unix socket to serve CSI on' },
      'node-id': { type: 'string', arg: 'ID', help: 'driver: this node\'s name (NodeGetInfo)' },
      mode: { type: 'string', arg: 'MODE', help: 'driver: controller, node or all (default all)' },
      region: { type: 'string', arg: 'NAME', help: 'driver: the node\'s region (topology; cache-group members)' },
      zone: { type: 'string', arg: 'NAME', help: 'driver: the node\'s zone (topology; cache-group members)' },
      'state-dir': { type: 'string', arg: 'DIR', help: 'driver: node state, mount logs and keys (default /var/lib/ferry-csi)' },
      listen: { type: 'string', arg: 'HOST:PORT', help: 'webhook: address to serve HTTPS on' },
      'tls-cert': { type: 'string', arg: 'FILE', help: 'webhook: TLS certificate (PEM)' },
      'tls-key': { type: 'string', arg: 'FILE', help: 'webhook: TLS private key (PEM)' },
      image: { type: 'string', arg: 'IMAGE', help: 'webhook: image of the injected mount container (default ferryfs/ferry:VERSION)' },
    },
    minArgs: 0,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [verb] = p.args;
    if (verb !== undefined && verb !== 'webhook') throw new UsageError(`unknown action '${verb}' (ferry csi, or ferry csi webhook)`);
    const log = (l: string) => process.stderr.write(`${l}\n`);
    const given = (names: string[]) => names.filter((n) => p.values[n] !== undefined).map((n) => `--${n}`);
    if (verb === 'webhook') {
      const wrong = given(['endpoint', 'node-id', 'mode', 'region', 'zone', 'state-dir']);
      if (wrong.length) throw new UsageError(`${wrong.join(', ')}: options of the driver, not of ferry csi webhook`);
      const listen = str(p, 'listen');
      const cert = str(p, 'tls-cert');
      const key = str(p, 'tls-key');
      if (!listen || !cert || !key) throw new UsageError('ferry csi webhook needs --listen HOST:PORT, --tls-cert FILE and --tls-key FILE');
      const m = /^(.*):(\d+)$/.exec(listen);
      if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT, not '${listen}'`);
      const { FERRY_VERSION } = await import('../../version.js');
      const { startWebhook } = await import('../../csi/webhook.js');
      const w = await startWebhook({ host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(m[2]), certFile: cert, keyFile: key, image: str(p, 'image') ?? `ferryfs/ferry:${FERRY_VERSION}`, log });
      log(`ferry csi webhook: serving on ${m[1] || '0.0.0.0'}:${w.port}; ready`);
      await stopOnSignal(() => w.close());
      return;
    }
    const wrong = given(['listen', 'tls-cert', 'tls-key', 'image']);
    if (wrong.length) throw new UsageError(`${wrong.join(', ')}: options of ferry csi webhook`);
    const endpoint = str(p, 'endpoint');
    const nodeId = str(p, 'node-id');
    const mode = str(p, 'mode') ?? 'all';
    if (!endpoint || !nodeId) throw new UsageError('ferry csi needs --endpoint unix:///PATH and --node-id ID');
    if (!MODES.includes(mode)) throw new UsageError(`--mode must be controller, node or all, not '${mode}'`);
    const { socketPath, startCsiServer } = await import('../../csi/server.js');
    try {
      socketPath(endpoint);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const server = await startCsiServer({
      endpoint,
      nodeId,
      mode: mode as 'controller' | 'node' | 'all',
      region: str(p, 'region'),
      zone: str(p, 'zone'),
      stateDir: str(p, 'state-dir') ?? process.env.FERRY_CSI_STATE_DIR ?? '/var/lib/ferry-csi',
      checkMs: process.env.FERRY_CSI_CHECK_MS ? Number(process.env.FERRY_CSI_CHECK_MS) : undefined,
      log,
    });
    log(`ferry csi: ${mode} serving on ${server.socket} (node ${nodeId}); ready`);
    await stopOnSignal(() => server.close());
  },
};

/** Runs until SIGTERM/SIGINT, then closes (mounts the node started keep running: pods still use them). */
function stopOnSignal(close: () => Promise<void>): Promise<void> {
  return new Promise((res) => {
    const stop = () => void close().finally(res);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export default command;
