// The little of the Kubernetes API FerryFS reads (the dashboard's pods and volumes, the CSI controller's
// claim labels): a kubeconfig's current context (server, CA, token, client certificate or basic
// credentials) or a pod's service account, and GETs. Hand-written rather than
// @kubernetes/client-node: its 2.x depends on undici 8, which needs Node >= 22.19 and fails to load on the
// Node 20 FerryFS supports. Exec and auth-provider plugins (cloud logins) are not run: such a kubeconfig is
// refused in one line (use a service account token, docs/dashboard.md).
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

export interface KubeTarget {
  server: string;
  headers: Record<string, string>;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

/** The current context of a kubeconfig file, ready to request with. */
export function loadKubeconfig(file: string): KubeTarget {
  let doc: any;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read kubeconfig ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]}`);
  }
  const base = dirname(resolve(file));
  const pick = <T>(list: Array<Named<T>> | undefined, name: string | undefined, what: 'cluster' | 'user' | 'context'): any => {
    const item = (list ?? []).find((x) => x.name === name);
    if (!item) throw new Error(`kubeconfig ${file}: no ${what} named '${name ?? ''}'`);
    return item[what] ?? {};
  };
  const ctx = pick(doc?.contexts, doc?.['current-context'], 'context');
  const cluster = pick(doc?.clusters, ctx.cluster, 'cluster');
  const user = pick(doc?.users, ctx.user, 'user');
  if (user.exec || user['auth-provider']) throw new Error(`kubeconfig ${file}: user '${ctx.user}' logs in through a plugin, which FerryFS does not run: give it a service account token`);
  const data = (inline: unknown, path: unknown): Buffer | undefined => {
    if (typeof inline === 'string' && inline) return Buffer.from(inline, 'base64');
    if (typeof path === 'string' && path) return readFileSync(resolve(base, path));
    return undefined;
  };
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = typeof user.token === 'string' ? user.token : typeof user.tokenFile === 'string' ? readFileSync(resolve(base, user.tokenFile), 'utf8').trim() : undefined;
  if (token) headers.authorization = `Bearer ${token}`;
  else if (typeof user.username === 'string') headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
  if (typeof cluster.server !== 'string') throw new Error(`kubeconfig ${file}: cluster '${ctx.cluster}' has no server`);
  return {
    server: cluster.server.replace(/\/$/, ''),
    headers,
    tls: {
      ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
      cert: data(user['client-certificate-data'], user['client-certificate']),
      key: data(user['client-key-data'], user['client-key']),
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    },
  };
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Where a process finds its cluster, as client libraries do: the file $KUBECONFIG names, else the pod's
 * service account (in-cluster: the API server's service address, its token and CA).
 */
export function defaultKubeTarget(env: NodeJS.ProcessEnv = process.env): KubeTarget {
  if (env.KUBECONFIG) return loadKubeconfig(env.KUBECONFIG.split(':')[0]!);
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new Error('no cluster: neither $KUBECONFIG nor a pod service account (KUBERNETES_SERVICE_HOST) is set');
  let token: string;
  try {
    token = readFileSync(`${SERVICE_ACCOUNT}/token`, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the service account token: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${h}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`,
    headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    tls: { ca: readFileSync(`${SERVICE_ACCOUNT}/ca.crt`), rejectUnauthorized: true },
  };
}

/** GET of an API path; the body of a list, or an error with the status and the API server's message. */
export function kubeGet<T = any>(t: KubeTarget, path: string, timeoutMs = 10_000): Promise<T> {
  const url = new URL(t.server + path);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<T>((resolvePromise, reject) => {
    const req = request(url, { method: 'GET', headers: t.headers, ...(url.protocol === 'https:' ? t.tls : {}), timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        if (res.statusCode !== 200) {
          let message = text.slice(0, 200);
          try {
            message = JSON.parse(text).message ?? message;
          } catch {
            // not a Status object
          }
          return reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${message}`));
        }
        try {
          resolvePromise(JSON.parse(text) as T);
        } catch {
          reject(new Error(`GET ${path}: not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
