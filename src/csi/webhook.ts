// `ferry csi webhook`: a mutating admission webhook for sidecar mode (nodes without the node DaemonSet).
// A pod labelled ferryfs.io/inject=true gets a FerryFS mount container (a native sidecar: an init container
// that keeps running), an emptyDir the mount is made on and shared through mount propagation (Bidirectional
// in the sidecar, HostToContainer in the pod's containers), and a preStop that unmounts. The metadata URL
// comes from a Secret through the environment, never the command line. Answers AdmissionReview v1 with a
// JSONPatch (RFC 6902).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';

export const INJECT_LABEL = 'ferryfs.io/inject';
export const ANN = {
  secret: 'ferryfs.io/secret',
  mountPath: 'ferryfs.io/mount-path',
  subdir: 'ferryfs.io/subdir',
  options: 'ferryfs.io/mount-options',
  secretKey: 'ferryfs.io/secret-key',
} as const;
export const SIDECAR = 'ferry-mount';
export const SHARED_VOLUME = 'ferry-shared';
const MNT = '/ferry-mnt';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export interface PatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

/** Why the pod cannot be injected (a clear denial beats a pod that fails to mount), or its patch. */
export function podPatch(pod: Obj, image: string): { patch: PatchOp[] } | { deny: string } {
  const labels: Obj = pod?.metadata?.labels ?? {};
  if (labels[INJECT_LABEL] !== 'true') return { patch: [] };
  const spec: Obj = pod.spec ?? {};
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Obj[];
  if (all.some((c) => c.name === SIDECAR)) return { patch: [] }; // injected already (reinvocation)
  const ann: Obj = pod.metadata?.annotations ?? {};
  const secret = ann[ANN.secret];
  if (!secret) return { deny: `pod labelled ${INJECT_LABEL}=true needs the annotation ${ANN.secret}: the Secret holding the volume's metaurl` };
  const mountPath: string = ann[ANN.mountPath] ?? '/mnt/ferry';
  if (!mountPath.startsWith('/')) return { deny: `${ANN.mountPath} must be an absolute path, not '${mountPath}'` };
  const subdir: string | undefined = ann[ANN.subdir];
  const options = ['allow_other', ...(ann[ANN.options] ? [String(ann[ANN.options])] : [])].join(',');
  const sidecar = {
    name: SIDECAR,
    image,
    // Native sidecar (Kubernetes 1.29+): started before the pod's containers, stopped after them.
    restartPolicy: 'Always',
    command: ['ferry', 'mount', '-o', options, ...(subdir ? ['--subdir', subdir] : []), 'env:FERRY_META_URL', MNT],
    env: [{ name: 'FERRY_META_URL', valueFrom: { secretKeyRef: { name: secret, key: ann[ANN.secretKey] ?? 'metaurl' } } }],
    securityContext: { privileged: true },
    volumeMounts: [{ name: SHARED_VOLUME, mountPath: MNT, mountPropagation: 'Bidirectional' }],
    // The pod's containers start once the volume is mounted.
    startupProbe: { exec: { command: ['sh', '-c', `grep -q ' ${MNT} fuse' /proc/mounts`] }, periodSeconds: 1, failureThreshold: 120 },
    lifecycle: { preStop: { exec: { command: ['ferry', 'umount', MNT] } } },
  };
  const patch: PatchOp[] = [];
  if (!spec.volumes) patch.push({ op: 'add', path: '/spec/volumes', value: [] });
  patch.push({ op: 'add', path: '/spec/volumes/-', value: { name: SHARED_VOLUME, emptyDir: {} } });
  if (!spec.initContainers) patch.push({ op: 'add', path: '/spec/initContainers', value: [] });
  // First of the init containers: the others (and the app) may read the volume.
  patch.push({ op: 'add', path: '/spec/initContainers/0', value: sidecar });
  (spec.containers ?? []).forEach((c: Obj, i: number) => {
    const base = `/spec/containers/${i}/volumeMounts`;
    if (!c.volumeMounts) patch.push({ op: 'add', path: base, value: [] });
    patch.push({ op: 'add', path: `${base}/-`, value: { name: SHARED_VOLUME, mountPath, mountPropagation: 'HostToContainer' } });
  });
  return { patch };
}

/** The AdmissionReview v1 answer to a review request. */
export function review(body: Obj, image: string): Obj {
  const req = body?.request;
  if (body?.apiVersion !== 'admission.k8s.io/v1' || body?.kind !== 'AdmissionReview' || !req?.uid) {
    throw new Error('not an admission.k8s.io/v1 AdmissionReview request');
  }
  const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
  if (req.kind?.kind !== 'Pod' || req.operation !== 'CREATE') return { ...base, response: { uid: req.uid, allowed: true } };
  const r = podPatch(req.object, image);
  if ('deny' in r) return { ...base, response: { uid: req.uid, allowed: false, status: { code: 400, message: r.deny } } };
  if (!r.patch.length) return { ...base, response: { uid: req.uid, allowed: true } };
  return {
    ...base,
    response: { uid: req.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(r.patch)).toString('base64') },
  };
}

export interface WebhookOptions {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  image: string;
  log?: (line: string) => void;
}

/** The HTTPS server answering POSTs of AdmissionReview (any path; the webhook configuration names /mutate). */
export async function startWebhook(o: WebhookOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const [cert, key] = await Promise.all([readFile(o.certFile), readFile(o.keyFile)]);
  const server = createServer({ cert, key }, (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') return void res.end('ok\n');
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' });
      return void res.end();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 4 << 20) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let answer: Obj;
      try {
        answer = review(JSON.parse(Buffer.concat(chunks).toString('utf8')), o.image);
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return void res.end(`${(e as Error).message}\n`);
      }
      const r = answer.response;
      const pod = `${answer.response?.uid}`;
      if (r.patchType) log(`ferry csi webhook: injected the FerryFS mount into pod (review ${pod})`);
      else if (!r.allowed) log(`ferry csi webhook: denied review ${pod}: ${r.status?.message}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host, () => res());
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}
