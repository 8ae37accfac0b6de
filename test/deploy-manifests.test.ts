// deploy/kubernetes/: every manifest validated against the Kubernetes OpenAPI schemas (kubernetes-models'
// compiled validators: types, required fields, enums, formats), since no cluster runs here, and the manifests
// checked against each other the way a cluster would only find out at run time: one driver name, accounts
// that exist and are bound, volumes that are declared, sidecars on the driver's socket, secrets and services
// that are defined, and `ferry csi` invoked with its contract's flags.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy/kubernetes');
const DRIVER = 'csi.ferryfs.io';

interface Doc {
  file: string;
  obj: any;
}

function load(): Doc[] {
  const out: Doc[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      const obj = d.toJS();
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

/** The kubernetes-models class of an object, by apiVersion and kind (undefined for a custom resource). */
async function modelOf(apiVersion: string, kind: string): Promise<any | undefined> {
  const path = apiVersion.includes('/') ? apiVersion : `v1`;
  try {
    const mod = await import(`kubernetes-models/${path}/${kind}`);
    return mod[kind];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

/** Schema errors of one object, as `file kind/name: path message` lines. */
async function schemaErrors(d: Doc): Promise<string[]> {
  const { apiVersion, kind, metadata } = d.obj;
  const where = `${d.file} ${kind}/${metadata?.name}`;
  if (apiVersion === 'snapshot.storage.k8s.io/v1' && kind === 'VolumeSnapshotClass') return snapshotClassErrors(d.obj).map((m) => `${where}: ${m}`);
  const Model = await modelOf(apiVersion, kind);
  if (!Model) return [`${where}: no schema for ${apiVersion} ${kind}`];
  try {
    new Model(d.obj).validate();
    return [];
  } catch (e) {
    const errs = (e as { errors?: Array<{ instancePath: string; message: string }> }).errors;
    return errs ? errs.map((x) => `${where}: ${x.instancePath} ${x.message}`) : [`${where}: ${(e as Error).message}`];
  }
}

/**
 * VolumeSnapshotClass is a CRD of external-snapshotter (kubernetes-models has only built-in kinds): its
 * schema's required fields and enum, as the CRD (snapshot.storage.k8s.io_volumesnapshotclasses.yaml) says.
 */
function snapshotClassErrors(o: any): string[] {
  const errs: string[] = [];
  const allowed = new Set(['apiVersion', 'kind', 'metadata', 'driver', 'deletionPolicy', 'parameters']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) errs.push(`/${k} is not a field of VolumeSnapshotClass`);
  if (typeof o.driver !== 'string' || !o.driver) errs.push('/driver is required');
  if (!['Delete', 'Retain'].includes(o.deletionPolicy)) errs.push('/deletionPolicy must be Delete or Retain');
  if (o.parameters !== undefined && (typeof o.parameters !== 'object' || Object.values(o.parameters).some((v) => typeof v !== 'string'))) errs.push('/parameters must map strings to strings');
  return errs;
}

const podSpecOf = (o: any): any => (o.kind === 'Pod' ? o.spec : o.spec?.template?.spec);
const workloads = (docs: Doc[]) => docs.filter((d) => ['Deployment', 'DaemonSet', 'StatefulSet', 'Pod'].includes(d.obj.kind));
const find = (docs: Doc[], kind: string, name: string, ns?: string) =>
  docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name && (ns === undefined || (d.obj.metadata?.namespace ?? 'default') === ns));

test('the deploy files are there, each a valid object of the Kubernetes API', async () => {
  const docs = load();
  const files = new Set(docs.map((d) => d.file));
  for (const f of ['csi-driver.yaml', 'controller.yaml', 'node.yaml', 'rbac.yaml', 'webhook.yaml', 'storageclass.yaml', 'pvc-example.yaml', 'static-pv-example.yaml', 'snapshotclass.yaml']) {
    assert.ok(files.has(f), `deploy/kubernetes/${f} exists`);
  }
  const errors = (await Promise.all(docs.map(schemaErrors))).flat();
  assert.deepEqual(errors, []);
  console.log(`# ${docs.length} objects in ${files.size} files valid: ${docs.map((d) => d.obj.kind).join(', ')}`);
});

test('the schema check refuses what a cluster would refuse', async () => {
  // Without this a check that passed everything would look the same.
  const [controller] = load().filter((d) => d.obj.kind === 'Deployment' && d.file === 'controller.yaml');
  const broken = structuredClone(controller!.obj);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'healthz';
  delete broken.spec.selector;
  const errs = await schemaErrors({ file: 'controller.yaml', obj: broken });
  assert.ok(errs.some((e) => e.includes('containerPort must be integer')), errs.join('\n'));
  assert.ok(errs.some((e) => e.includes('selector')), errs.join('\n'));
  const pv = structuredClone(load().find((d) => d.obj.kind === 'PersistentVolume')!.obj);
  pv.spec.persistentVolumeReclaimPolicy = 42;
  assert.notDeepEqual(await schemaErrors({ file: 'x', obj: pv }), []);
  assert.notDeepEqual(snapshotClassErrors({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', deletionPolicy: 'Keep' }), []);
});

test('one driver name everywhere, and the node plugin registers its socket where kubelet looks', () => {
  const docs = load();
  assert.equal(find(docs, 'CSIDriver', DRIVER)?.obj.spec.attachRequired, false);
  for (const d of docs) {
    const o = d.obj;
    if (o.kind === 'StorageClass') assert.equal(o.provisioner, DRIVER, `${d.file}: provisioner`);
    if (o.kind === 'PersistentVolume') assert.equal(o.spec.csi.driver, DRIVER, `${d.file}: csi.driver`);
    if (o.kind === 'VolumeSnapshotClass') assert.equal(o.driver, DRIVER, `${d.file}: driver`);
  }
  const node = find(docs, 'DaemonSet', 'ferryfs-csi-node')!.obj;
  const spec = podSpecOf(node);
  const pluginDir = spec.volumes.find((v: any) => v.name === 'plugin-dir').hostPath.path;
  assert.equal(pluginDir, `/var/lib/kubelet/plugins/${DRIVER}`);
  const registrar = spec.containers.find((c: any) => c.name === 'node-driver-registrar');
  assert.ok(registrar.args.includes(`--kubelet-registration-path=${pluginDir}/csi.sock`));
  assert.equal(spec.volumes.find((v: any) => v.name === 'registration-dir').hostPath.path, '/var/lib/kubelet/plugins_registry');
  const driver = spec.containers.find((c: any) => c.name === 'ferry-csi');
  assert.equal(driver.securityContext.privileged, true, 'the node plugin mounts FUSE: privileged');
  // The driver's state (default --state-dir) lives on the host: a restarted driver takes its mounts over.
  const state = driver.volumeMounts.find((m: any) => m.mountPath === '/var/lib/ferry-csi');
  assert.equal(spec.volumes.find((v: any) => v.name === state?.name)?.hostPath?.path, '/var/lib/ferry-csi');
  assert.equal(driver.volumeMounts.find((m: any) => m.mountPath === '/var/lib/kubelet').mountPropagation, 'Bidirectional');
});

test('every workload: declared volumes, pinned images, sidecars on the driver socket, ferry csi with its contract flags', () => {
  const docs = load();
  const sidecars = new Map<string, string>([
    ['csi-provisioner', 'controller.yaml'],
    ['csi-resizer', 'controller.yaml'],
    ['csi-snapshotter', 'controller.yaml'],
    ['node-driver-registrar', 'node.yaml'],
    ['liveness-probe', 'node.yaml'],
  ]);
  const seen = new Set<string>();
  for (const d of workloads(docs)) {
    const spec = podSpecOf(d.obj);
    const volumes = new Set((spec.volumes ?? []).map((v: any) => v.name));
    for (const c of spec.containers) {
      seen.add(c.name);
      assert.match(c.image, /^[^:]+:(v?\d[\w.-]*)$/, `${d.file} ${c.name}: image pinned to a version tag`);
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${d.file} ${c.name}: volume ${m.name} declared`);
      const addr = (c.args ?? []).find((a: string) => a.startsWith('--csi-address='));
      if (addr) {
        // The sidecar's socket lies in a volume the driver container mounts at the same path.
        const sock = addr.slice('--csi-address='.length);
        const ferry = spec.containers.find((x: any) => x.name === 'ferry-csi');
        assert.ok(ferry, `${d.file}: ${c.name} has a ferry-csi container beside it`);
        const endpoint = ferry.args[ferry.args.indexOf('--endpoint') + 1];
        assert.equal(endpoint, `unix://${sock}`, `${d.file} ${c.name}: same socket as the driver`);
        const dir = dirname(sock);
        const mine = c.volumeMounts.find((m: any) => m.mountPath === dir);
        const theirs = ferry.volumeMounts.find((m: any) => m.mountPath === dir);
        assert.ok(mine && theirs && mine.name === theirs.name, `${d.file} ${c.name}: shares ${dir} with ferry-csi`);
      }
      if (c.image.startsWith('ferryfs/ferry:') && c.args[0] === 'csi' && c.args[1] !== 'webhook') {
        const at = (f: string) => c.args[c.args.indexOf(f) + 1];
        assert.ok(['controller', 'node', 'all'].includes(at('--mode')), `${d.file}: --mode`);
        assert.equal(at('--node-id'), '$(NODE_ID)');
        assert.equal(c.env.find((e: any) => e.name === 'NODE_ID').valueFrom.fieldRef.fieldPath, 'spec.nodeName');
        // The liveness probe sidecar serves the port the driver container's probe asks.
        const probe = spec.containers.find((x: any) => x.name === 'liveness-probe');
        const port = c.ports.find((p: any) => p.name === c.livenessProbe.httpGet.port).containerPort;
        assert.ok(probe.args.includes(`--health-port=${port}`), `${d.file}: livenessprobe on ${port}`);
      }
      if (c.args?.[0] === 'csi' && c.args[1] === 'webhook') {
        for (const f of ['--listen', '--tls-cert', '--tls-key']) assert.ok(c.args.includes(f), `webhook ${f}`);
      }
    }
  }
  for (const s of sidecars.keys()) assert.ok(seen.has(s), `sidecar ${s} deployed`);
});

test('service accounts exist and are bound; secrets, services and claims referenced are defined', () => {
  const docs = load();
  for (const d of workloads(docs)) {
    const spec = podSpecOf(d.obj);
    const ns = d.obj.metadata.namespace ?? 'default';
    if (!spec.serviceAccountName) continue;
    assert.ok(find(docs, 'ServiceAccount', spec.serviceAccountName, ns), `${d.file}: account ${spec.serviceAccountName}`);
    const bound = docs.some((b) => ['ClusterRoleBinding', 'RoleBinding'].includes(b.obj.kind) && b.obj.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === spec.serviceAccountName && s.namespace === ns) && find(docs, b.obj.roleRef.kind, b.obj.roleRef.name));
    assert.ok(bound, `${d.file}: ${spec.serviceAccountName} bound to a role that exists`);
    for (const v of spec.volumes ?? []) {
      if (v.persistentVolumeClaim) assert.ok(find(docs, 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName, ns), `claim ${v.persistentVolumeClaim.claimName}`);
    }
  }
  for (const d of docs.filter((x) => x.obj.kind === 'StorageClass' || x.obj.kind === 'VolumeSnapshotClass')) {
    const p = d.obj.parameters ?? {};
    for (const k of Object.keys(p).filter((k) => k.endsWith('-secret-name'))) {
      const ns = p[k.replace(/-name$/, '-namespace')];
      assert.ok(find(docs, 'Secret', p[k], ns), `${d.file}: secret ${ns}/${p[k]} (${k})`);
      assert.ok(find(docs, 'Secret', p[k], ns)!.obj.stringData.metaurl, 'the secret names the volume (metaurl)');
    }
    if (d.obj.kind === 'StorageClass') {
      // The parameters the driver knows (docs/kubernetes.md; it refuses others) besides the sidecars' own.
      const known = new Set(['basePath', 'pathPattern', 'onDelete', 'inodes', 'mountOptions', 'cacheGroup']);
      for (const k of Object.keys(p)) assert.ok(k.startsWith('csi.storage.k8s.io/') || known.has(k), `${d.file}: parameter ${k}`);
      for (const k of ['provisioner', 'node-publish', 'controller-expand']) assert.ok(p[`csi.storage.k8s.io/${k}-secret-name`], `${d.file}: ${k} secret given`);
    }
  }
  for (const pv of docs.filter((x) => x.obj.kind === 'PersistentVolume')) {
    const ref = pv.obj.spec.csi.nodePublishSecretRef;
    assert.ok(find(docs, 'Secret', ref.name, ref.namespace), `${pv.file}: node-publish secret`);
  }
  for (const pvc of docs.filter((x) => x.obj.kind === 'PersistentVolumeClaim')) {
    const cls = pvc.obj.spec.storageClassName;
    if (cls) assert.ok(find(docs, 'StorageClass', cls), `${pvc.file}: class ${cls}`);
    else assert.ok(find(docs, 'PersistentVolume', pvc.obj.spec.volumeName), `${pvc.file}: volume ${pvc.obj.spec.volumeName}`);
  }
  // The webhook's service selects its pods and serves the port its configuration calls.
  const hook = find(docs, 'MutatingWebhookConfiguration', 'ferryfs-csi-webhook')!.obj.webhooks[0];
  const svc = find(docs, 'Service', hook.clientConfig.service.name, hook.clientConfig.service.namespace)!.obj;
  const dep = docs.find((d) => d.obj.kind === 'Deployment' && Object.entries(svc.spec.selector).every(([k, v]) => d.obj.spec.template.metadata.labels[k] === v));
  assert.ok(dep, 'the webhook service selects a deployment');
  const port = svc.spec.ports.find((p: any) => p.port === hook.clientConfig.service.port);
  assert.ok(port, 'the service serves the webhook port');
  const c = podSpecOf(dep!.obj).containers[0];
  assert.ok(c.ports.some((p: any) => p.name === port.targetPort), 'targetPort names a container port');
  assert.equal(hook.sideEffects, 'None');
  assert.deepEqual(hook.objectSelector.matchLabels, { 'ferryfs.io/inject': 'true' }, 'pods opt in with the label the webhook reads');
  assert.equal(hook.clientConfig.service.path, '/mutate');
});

test('the Dockerfile builds the addon and dist, and runs ferry', () => {
  const text = readFileSync(join(DIR, 'Dockerfile'), 'utf8');
  assert.match(text, /^FROM node:20/m);
  assert.match(text, /libfuse3-dev/, 'builds the FUSE addon');
  assert.match(text, /fuse3/, 'ships fusermount3');
  assert.match(text, /ferry_fuse\.node/);
  assert.match(text, /COPY .*src\/dashboard\/ui /, 'ships the dashboard page');
  assert.match(text, /ENTRYPOINT \[.*"ferry"\]/);
  const images = new Set(workloads(load()).flatMap((d) => podSpecOf(d.obj).containers.map((c: any) => c.image)).filter((i) => i.startsWith('ferryfs/')));
  const version = JSON.parse(readFileSync(resolve(DIR, '../../package.json'), 'utf8')).version;
  assert.deepEqual([...images], [`ferryfs/ferry:${version}`], 'the manifests run the image of this version');
});

test('every path the Dockerfile copies exists (after npm run build and the addon builds), and its entrypoint is the ferry CLI', () => {
  const root = resolve(DIR, '../..');
  const text = readFileSync(join(DIR, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  // The build stage copies the repository to its WORKDIR; later stages copy from it by that path.
  const buildDir = /^WORKDIR\s+(\S+)/m.exec(text.split(/^FROM /m)[1]!)![1]!;
  const missing: string[] = [];
  const copied = new Map<string, string>(); // final-stage path -> repository path
  let workdir = '/';
  for (const l of lines) {
    const w = /^WORKDIR\s+(\S+)/.exec(l);
    if (w) workdir = w[1]!;
    const m = /^COPY\s+(.*)$/.exec(l);
    if (!m) continue;
    const words = m[1]!.split(/\s+/);
    const fromStage = words.some((x) => x.startsWith('--from='));
    const args = words.filter((x) => !x.startsWith('--'));
    const dest = args.pop()!;
    for (const src of args) {
      const rel = fromStage ? posix.relative(buildDir, src) : src;
      assert.ok(!rel.startsWith('..'), `${src} is outside the build stage's ${buildDir}`);
      if (!existsSync(join(root, rel))) missing.push(src);
      const at = dest.endsWith('/') ? posix.join(workdir, dest, posix.basename(rel)) : posix.resolve(workdir, dest);
      copied.set(posix.normalize(at), rel);
    }
  }
  assert.deepEqual(missing, [], 'COPY sources missing from the repository');
  // ENTRYPOINT runs `ferry`, which is a link to the copied ./ferry script, which runs the CLI.
  const entry = JSON.parse(/^ENTRYPOINT\s+(\[.*\])$/m.exec(text)![1]!) as string[];
  assert.equal(entry[entry.length - 1], 'ferry');
  const link = /^RUN ln -s (\S+) \/usr\/local\/bin\/ferry$/m.exec(text);
  assert.ok(link, 'ferry is put on PATH');
  const script = copied.get(posix.normalize(link![1]!));
  assert.equal(script, 'ferry', `${link![1]} is the repository's ferry script`);
  assert.match(readFileSync(join(root, script!), 'utf8'), /dist\/src\/cli\/main\.js/, 'which runs the CLI');
  assert.ok(copied.has('/opt/ferryfs/dist') || [...copied.values()].includes('dist'), 'dist/ is shipped');
});
