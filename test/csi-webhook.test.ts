// Issue 25 items 2 and 5: `ferry csi webhook` (a real process, over TLS) fed recorded AdmissionReview v1
// requests; its JSONPatch applied to the pod and the result checked (schema-valid Pod, the mount sidecar
// with the shared propagation volume and a preStop unmount, the metadata URL only through a Secret).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Pod } from 'kubernetes-models/v1';
import { MAIN, ferry, tempDir } from './helpers/cli.js';
import { tool, toolTestOptions } from './helpers/tools.js';

const FIXTURES = new URL('../../test/fixtures/csi/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * RFC 6902 `add` (the only operation the webhook emits; no JSON-patch library is installed): a member of an
 * object, or an element of an array at an index or at the end ("-").
 */
function applyPatch(doc: Obj, ops: Array<{ op: string; path: string; value: unknown }>): Obj {
  const out = structuredClone(doc);
  for (const o of ops) {
    assert.equal(o.op, 'add', `unexpected op ${o.op}`);
    const parts = o.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let at: Obj = out;
    for (const p of parts) {
      assert.ok(at[p] !== undefined, `patch path ${o.path}: ${p} missing`);
      at = at[p];
    }
    if (Array.isArray(at)) {
      const i = last === '-' ? at.length : Number(last);
      assert.ok(Number.isInteger(i) && i <= at.length, `patch path ${o.path}: bad index`);
      at.splice(i, 0, structuredClone(o.value));
    } else {
      at[last] = structuredClone(o.value);
    }
  }
  return out;
}

let dir: string;
let child: ChildProcess;
let port: number;
let ca: Buffer;

before(async () => {
  dir = await tempDir();
  const ssl = (args: string[]) => {
    const r = spawnSync(tool('openssl'), args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
  };
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls.key', '-out', 'tls.crt', '-days', '2', '-subj', '/CN=ferry-csi-webhook', '-addext', 'subjectAltName=IP:127.0.0.1']);
  ca = readFileSync(join(dir, 'tls.crt'));
  child = spawn(process.execPath, [MAIN, 'csi', 'webhook', '--listen', '127.0.0.1:0', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--image', 'ferryfs/ferry:test'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr! });
  port = await new Promise<number>((res, rej) => {
    lines.on('line', (l) => {
      const m = /serving on .*:(\d+); ready/.exec(l);
      if (m) res(Number(m[1]));
    });
    child.once('exit', (c) => rej(new Error(`webhook exited with ${c}`)));
  });
});

after(() => {
  child?.kill('SIGTERM');
});

function post(body: string): Promise<{ status: number; json: Obj }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        res({ status: r.statusCode!, json: r.statusCode === 200 ? JSON.parse(text) : { text } });
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}

test('a labelled pod gets the mount sidecar, the shared volume and a preStop unmount', toolTestOptions('openssl'), async () => {
  const reviewReq = JSON.parse(fixture('admission-inject.json'));
  const { status, json } = await post(JSON.stringify(reviewReq));
  assert.equal(status, 200);
  assert.equal(json.apiVersion, 'admission.k8s.io/v1');
  assert.equal(json.kind, 'AdmissionReview');
  assert.equal(json.response.uid, reviewReq.request.uid);
  assert.equal(json.response.allowed, true);
  assert.equal(json.response.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(json.response.patch, 'base64').toString());
  const pod = applyPatch(reviewReq.request.object, ops);
  new Pod(pod as never).validate(); // the patched pod is a valid v1 Pod

  const side = pod.spec.initContainers[0];
  assert.equal(side.name, 'ferry-mount');
  assert.equal(side.image, 'ferryfs/ferry:test');
  assert.equal(side.restartPolicy, 'Always');
  assert.equal(side.securityContext.privileged, true);
  assert.deepEqual(side.command, ['ferry', 'mount', '-o', 'allow_other,cache-dir=/var/cache/ferry,cache-size=10G', '--subdir', '/datasets/imagenet', 'env:FERRY_META_URL', '/ferry-mnt']);
  assert.deepEqual(side.env, [{ name: 'FERRY_META_URL', valueFrom: { secretKeyRef: { name: 'ferry-volume', key: 'metaurl' } } }]);
  assert.deepEqual(side.volumeMounts, [{ name: 'ferry-shared', mountPath: '/ferry-mnt', mountPropagation: 'Bidirectional' }]);
  assert.deepEqual(side.lifecycle.preStop.exec.command, ['ferry', 'umount', '/ferry-mnt']);
  assert.ok(pod.spec.volumes.some((v: Obj) => v.name === 'ferry-shared' && v.emptyDir));
  assert.ok(pod.spec.volumes.some((v: Obj) => v.name === 'kube-api-access-x7k2p'), 'existing volumes kept');
  for (const c of pod.spec.containers) {
    assert.deepEqual(c.volumeMounts.at(-1), { name: 'ferry-shared', mountPath: '/data', mountPropagation: 'HostToContainer' }, c.name);
  }
  assert.equal(pod.spec.containers[0].volumeMounts.length, 2, 'the service-account mount kept');

  // Reinvocation (or a pod injected already): no second sidecar.
  const again = structuredClone(reviewReq);
  again.request.object = pod;
  const second = await post(JSON.stringify(again));
  assert.equal(second.json.response.allowed, true);
  assert.equal(second.json.response.patch, undefined);
});

test('a pod without volumes or volume mounts gets the arrays made', toolTestOptions('openssl'), async () => {
  const reviewReq = JSON.parse(fixture('admission-bare.json'));
  const { json } = await post(JSON.stringify(reviewReq));
  const pod = applyPatch(reviewReq.request.object, JSON.parse(Buffer.from(json.response.patch, 'base64').toString()));
  new Pod(pod as never).validate();
  assert.deepEqual(pod.spec.volumes, [{ name: 'ferry-shared', emptyDir: {} }]);
  assert.equal(pod.spec.containers[0].volumeMounts[0].mountPath, '/mnt/ferry');
  assert.deepEqual(pod.spec.initContainers[0].command.slice(-2), ['env:FERRY_META_URL', '/ferry-mnt']);
});

test('pods without the label pass untouched; a labelled pod without its Secret is denied in one line', toolTestOptions('openssl'), async () => {
  const plain = await post(fixture('admission-no-label.json'));
  assert.deepEqual(plain.json.response, { uid: '0b7d3c9e-1f2a-4b6c-8d0e-7a5f3b1c9d22', allowed: true });
  const denied = await post(fixture('admission-no-secret.json'));
  assert.equal(denied.json.response.allowed, false);
  assert.match(denied.json.response.status.message, /needs the annotation ferryfs\.io\/secret/);
  const bad = await post('{"kind":"Pod"}');
  assert.equal(bad.status, 400);
  assert.match(bad.json.text, /not an admission\.k8s\.io\/v1 AdmissionReview/);
});

test('the command line: missing TLS files and wrong options are one line, exit 2', async () => {
  const cwd = await tempDir();
  const r = ferry(cwd, ['csi', 'webhook', '--listen', '127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ferry: ferry csi webhook needs --listen HOST:PORT, --tls-cert FILE and --tls-key FILE\n$/);
  const w = ferry(cwd, ['csi', 'webhook', '--mode', 'node']);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /--mode: options of the driver/);
  const m = ferry(cwd, ['csi', '--endpoint', 'tcp://x', '--node-id', 'n']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--endpoint must be unix:\/\/\/PATH/);
});

test('the sidecar\'s META-URL env:NAME reads the URL from the environment (never the arguments)', async () => {
  const cwd = await tempDir();
  const url = `sqlite3://${join(cwd, 'meta.db')}`;
  const f = ferry(cwd, ['format', url, 'envtest']);
  assert.equal(f.code, 0, f.stderr);
  const ls = ferry(cwd, ['status', 'env:FERRY_META_URL'], { FERRY_META_URL: url });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /envtest/);
  const unset = ferry(cwd, ['status', 'env:FERRY_NO_SUCH_VAR']);
  assert.equal(unset.code, 2);
  assert.equal(unset.stderr, 'ferry: META-URL is env:FERRY_NO_SUCH_VAR, but the environment variable FERRY_NO_SUCH_VAR is not set\n');
});
