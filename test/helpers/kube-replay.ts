// A stand-in Kubernetes API server for the dashboard's --kubeconfig view (no cluster runs where the tests
// do): replays the list responses of test/fixtures/kube/ for the paths FerryFS requests (lists, and one claim by namespace and name), with the
// bearer-token check and the Status error bodies a kube-apiserver sends, and writes a kubeconfig for it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/kube/', import.meta.url));
const ROUTES: Record<string, string> = {
  '/api/v1/persistentvolumes': 'persistentvolumes.json',
  '/api/v1/persistentvolumeclaims': 'persistentvolumeclaims.json',
  '/api/v1/pods': 'pods.json',
};
export const KUBE_TOKEN = 'replay-token-8b1e';

export interface KubeReplay {
  url: string;
  kubeconfig: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export async function kubeReplay(dir: string): Promise<KubeReplay> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const send = (code: number, body: string) => res.writeHead(code, { 'content-type': 'application/json', 'audit-id': 'replay' }).end(body);
    if (req.headers.authorization !== `Bearer ${KUBE_TOKEN}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    const one = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/([^/]+)$/.exec(path);
    if (one && req.method === 'GET') {
      const list = JSON.parse(readFileSync(join(FIXTURES, 'persistentvolumeclaims.json'), 'utf8')) as { items: Array<{ metadata: { name: string; namespace: string } }> };
      const pvc = list.items.find((i) => i.metadata.namespace === decodeURIComponent(one[1]!) && i.metadata.name === decodeURIComponent(one[2]!));
      if (!pvc) return send(404, status(404, 'NotFound', `persistentvolumeclaims "${decodeURIComponent(one[2]!)}" not found`));
      return send(200, JSON.stringify({ kind: 'PersistentVolumeClaim', apiVersion: 'v1', ...pvc }));
    }
    const file = ROUTES[path];
    if (!file || req.method !== 'GET') return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    send(200, readFileSync(join(FIXTURES, file), 'utf8'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: replay',
      '  cluster:',
      `    server: ${url}`,
      'users:',
      '- name: viewer',
      '  user:',
      `    token: ${KUBE_TOKEN}`,
      'contexts:',
      '- name: replay',
      '  context:',
      '    cluster: replay',
      '    user: viewer',
      'current-context: replay',
      '',
    ].join('\n'),
  );
  return {
    url,
    kubeconfig,
    requests,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
