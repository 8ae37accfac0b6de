// ferry dashboard's JSON API over a busy volume (real SQLite metadata, real files, quotas, trash, the
// sessions of a deployment's processes): what it shows agrees with `ferry status --json`, each known failure
// gets its tip, an unreachable engine is shown rather than breaking the page, beyond loopback every request
// needs the volume's dashboard token, and --kubeconfig reads pods, claims and PVs from a local server
// replaying Kubernetes API responses (no cluster runs here; test/fixtures/kube/README.md).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Dashboard, type DashboardOptions } from '../src/dashboard/server.js';
import { dashboardToken } from '../src/dashboard/auth.js';
import type { VolumeView } from '../src/dashboard/data.js';
import type { PvView } from '../src/dashboard/kube.js';
import { openMeta } from '../src/meta/index.js';
import { serviceSecretsOf } from '../src/meta/service-auth.js';
import { ferry, ok, oneLineError } from './helpers/cli.js';
import { busyVolume, NODE, POD_UID, type BusyVolume } from './helpers/dashboard-fixture.js';
import { kubeReplay, type KubeReplay } from './helpers/kube-replay.js';
import { ferryServe } from './helpers/serve.js';
import { tool, toolTestOptions } from './helpers/tools.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

let busy: BusyVolume;
let dir: string;
before(async () => {
  busy = await busyVolume();
  dir = await mkdtemp(join(tmpdir(), 'ferry-dash-'));
});
after(async () => {
  await busy?.close();
  await rm(dir, { recursive: true, force: true });
});

async function serve(opts: Partial<DashboardOptions> & Pick<DashboardOptions, 'volumes'>): Promise<{ base: string; dash: Dashboard }> {
  const dash = new Dashboard({ auth: false, reuseMs: 0, ...opts });
  const a = await dash.listen('127.0.0.1', 0);
  return { base: `http://127.0.0.1:${a.port}`, dash };
}

const vol = (url: string) => ({ url, open: () => openMeta(url) });

async function get<T = any>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: (await r.json()) as T, headers: r.headers };
}

describe('the JSON API over a busy volume', () => {
  let base: string;
  let dash: Dashboard;
  let v: VolumeView;
  before(async () => {
    ({ base, dash } = await serve({ volumes: [vol(busy.t.url)] }));
    v = (await get<VolumeView>(`${base}/api/volumes/0`)).body;
  });
  after(() => dash.close());

  test('sessions, usage, mirrors and cache groups are what ferry status --json reads', () => {
    const text = ok(ferry(process.cwd(), ['status', '--json', busy.t.url])).stdout;
    assert.doesNotMatch(text, /s3cret/, "ferry status --json hides the mirror's password too");
    const status = JSON.parse(text);
    assert.deepEqual(v.sessions.map((s) => s.sid).sort(), status.sessions.map((s: { sid: number }) => s.sid).sort());
    for (const s of status.sessions) {
      const mine = v.sessions.find((x) => x.sid === s.sid)!;
      assert.deepEqual([mine.role, mine.host, mine.pid, mine.label, mine.version, mine.stale], [s.role, s.hostname, s.pid, s.mountPoint, s.version, s.stale]);
    }
    assert.equal(v.usage.usedSpace, status.usage.usedSpace);
    assert.equal(v.usage.usedInodes, status.usage.usedInodes);
    assert.equal(v.version, status.version);
    assert.deepEqual(v.cacheGroups.map((g) => [g.name, g.members.map((m) => m.address)]), status.cacheGroups.map((g: any) => [g.name, g.members.map((m: any) => m.address)]));
    assert.deepEqual(v.mirrors.map((m) => m.id).sort(), Object.keys(status.mirrors).sort());
  });

  test('per session: role, host, version, heartbeat, open files and write-back backlog', () => {
    const mount = v.sessions.find((s) => s.sid === busy.sids.mount)!;
    assert.deepEqual([mount.role, mount.host, mount.openFiles, mount.writebackPending, mount.stale], ['mount', 'web-1', 12, 7, false]);
    assert.ok(mount.heartbeatAgeMs >= 0 && mount.heartbeatAgeMs < 60_000);
    assert.equal(v.sessions.find((s) => s.sid === busy.sids.deadMount)!.stale, true);
    assert.equal(v.sessions.find((s) => s.sid === busy.sids.csiMount)!.role, 'csi-mount');
    // The backlog counts live clients only (the dead mount's report is not a backlog anyone will upload).
    assert.deepEqual(v.writeback, { pendingBlocks: 7, clients: 1 });
  });

  test('quotas against their limits, the trash, and the ring with hit ratios and bytes served', () => {
    const a = v.quotas.find((q) => q.path === '/team-a')!;
    assert.equal(a.capacity, 100 << 10);
    assert.equal(a.fullness, 0.96);
    assert.ok(v.quotas.find((q) => q.path === '/team-b'));
    assert.equal(v.usage.capacity, 64 << 20);
    assert.deepEqual([v.trash.days, v.trash.entries, v.trash.bytes], [1, 3, 3 * 4096]);
    assert.ok(v.trash.oldest! <= Date.now());
    const g = v.cacheGroups.find((x) => x.name === 'g1')!;
    const m1 = g.members.find((m) => m.address === '10.0.0.5:9001')!;
    assert.deepEqual([m1.host, m1.zone, m1.servedRequests, m1.servedBytes, m1.hitRatio], ['cache-1', 'zone-a', 1200, 300 << 20, 0.95]);
    assert.equal(g.members.find((m) => m.address === '10.0.0.6:9001')!.hitRatio, 0.25);
  });

  test('mirrors with their lag and resync state, passwords hidden', () => {
    const m1 = v.mirrors.find((m) => m.id === 'm1')!;
    assert.ok(m1.needsResync && m1.stale);
    assert.doesNotMatch(JSON.stringify(v), /s3cret/);
    const m2 = v.mirrors.find((m) => m.id === 'm2')!;
    assert.deepEqual([m2.stale, m2.needsResync], [true, undefined]);
    assert.equal(m2.behind, Math.max(0, v.version - 1));
  });

  test('recent background errors, newest first, and a tip for each known failure', () => {
    assert.deepEqual(v.errors.map((e) => e.sid), [busy.sids.gateway, busy.sids.replicator]);
    assert.ok(v.errors[1]!.clearedAt, 'the replicator recovered');
    const byProblem = (p: string) => v.tips.filter((t) => t.problem === p);
    assert.equal(byProblem('store-credentials').length, 1, 'the gateway\'s refused key (the recovered error is no problem)');
    assert.match(byProblem('store-credentials')[0]!.tip, /ferry config --access-key/);
    assert.equal(byProblem('quota-full').length, 1);
    assert.match(byProblem('quota-full')[0]!.message, /\/team-a is 9\d% used/);
    assert.equal(byProblem('mount-restarting').length, 1);
    assert.match(byProblem('mount-restarting')[0]!.message, /web-2:\/mnt\/ferry on web-2 was started 2 times/);
    assert.equal(byProblem('mirror-stale').length, 2);
    assert.match(byProblem('mirror-stale').find((t) => t.message.includes('m1'))!.tip, /ferry mirror resync/);
    assert.match(byProblem('mirror-stale').find((t) => t.message.includes('m2'))!.tip, /ferry mirror run/);
    assert.equal(byProblem('metadata-unreachable').length, 0);
  });

  test('the page, its modules and the API answer; nothing outside the page is served', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self' 'sha256-/);
    assert.match(await page.text(), /importmap/);
    for (const p of ['/ui/app.js', '/ui/style.css', '/vendor/preact.mjs', '/vendor/hooks.mjs', '/vendor/htm.mjs']) assert.equal((await fetch(base + p)).status, 200, p);
    for (const p of ['/ui/%2e%2e/%2e%2e/%2e%2e/package.json', '/ui/%2e%2e/server.js', '/vendor/../package.json', '/api/volumes/9']) assert.equal((await fetch(base + p)).status, 404, p);
    assert.equal((await fetch(`${base}/api/volumes`, { method: 'POST' })).status, 405);
    const list = await get(`${base}/api/volumes`);
    assert.equal(list.headers.get('cache-control'), 'no-store');
    assert.equal(list.body.volumes[0].name, 'vol');
    assert.equal((await get(`${base}/api/kubernetes`)).status, 404, 'without --kubeconfig');
  });
});

test('an unreachable metadata engine is shown with its tip; the other volumes still are', async () => {
  const down = 'postgres://ferry:pw@127.0.0.1:1/none';
  const { base, dash } = await serve({ volumes: [vol(busy.t.url), vol(down)] });
  try {
    const { body } = await get(`${base}/api/volumes`);
    assert.equal(body.volumes[0].name, 'vol');
    const bad = body.volumes[1];
    assert.equal(bad.id, 1);
    assert.match(bad.error, /ECONNREFUSED|connect/i);
    assert.equal(bad.metaUrl, 'postgres://ferry@127.0.0.1:1/none');
    assert.deepEqual(bad.tips.map((t: { problem: string }) => t.problem), ['metadata-unreachable']);
    assert.doesNotMatch(JSON.stringify(body), /:pw@/);
  } finally {
    await dash.close();
  }
});

describe('beyond loopback', () => {
  let other: TempVolume;
  before(async () => {
    other = await tempVolume();
  });
  after(() => other?.cleanup());

  test("every request needs basic auth with a volume's dashboard token, and sees that volume only", async () => {
    const { base, dash } = await serve({ volumes: [vol(busy.t.url), vol(other.url)], auth: true });
    try {
      const none = await get(`${base}/api/volumes`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate')!, /^Basic realm="FerryFS dashboard"/);
      assert.match(none.body.error, /--print-token/);
      assert.equal((await fetch(`${base}/`)).status, 401, 'the page too');
      const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`ferry:${token}`).toString('base64')}` });
      assert.equal((await get(`${base}/api/volumes`, basic('wrong'))).status, 401);
      const m = await openMeta(other.url);
      const secret = (await serviceSecretsOf(m)).secret;
      await m.close();
      assert.equal((await get(`${base}/api/volumes`, basic(secret))).status, 401, 'the service secret itself is not the token');
      const token = ok(ferry(process.cwd(), ['dashboard', '--print-token', other.url])).stdout.trim();
      assert.equal(token, dashboardToken(secret));
      const seen = await get(`${base}/api/volumes`, basic(token));
      assert.equal(seen.status, 200);
      assert.deepEqual(seen.body.volumes.map((v: { id: number }) => v.id), [1]);
      assert.equal((await get(`${base}/api/volumes/0`, basic(token))).status, 404, 'not the other volume');
      assert.equal((await fetch(`${base}/`, { headers: basic(token) })).status, 200);
      // Rotating the secret keeps the old token valid for the grace period, and the new one works at once.
      ok(ferry(process.cwd(), ['config', '--rotate-service-secret', other.url]));
      await new Promise((r) => setTimeout(r, 2100)); // the secrets are re-read every 2 s
      assert.equal((await get(`${base}/api/volumes`, basic(token))).status, 200);
      const next = ok(ferry(process.cwd(), ['dashboard', '--print-token', other.url])).stdout.trim();
      assert.notEqual(next, token);
      assert.equal((await get(`${base}/api/volumes`, basic(next))).status, 200);
    } finally {
      await dash.close();
    }
  });

  test('ferry dashboard on a public address warns without TLS and refuses unauthenticated requests', async () => {
    const s = await ferryServe(['dashboard', other.url, '--listen', '0.0.0.0:0'], /at (http:\/\/[^/]+)\//);
    try {
      assert.match(s.output(), /warning: the dashboard listens on 0\.0\.0\.0 without TLS/);
      const port = new URL(s.address).port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/volumes`)).status, 401);
    } finally {
      await s.stop();
    }
    const local = await ferryServe(['dashboard', other.url], /at (http:\/\/[^/]+)\//).catch((e: Error) => e);
    // The default port may be taken on a shared machine; when it starts, it is loopback and open.
    if (!(local instanceof Error)) {
      try {
        assert.match(local.address, /^http:\/\/127\.0\.0\.1:9567$/);
        assert.doesNotMatch(local.output(), /warning/);
        assert.equal((await fetch(`${local.address}/api/volumes`)).status, 200);
      } finally {
        await local.stop();
      }
    }
  });
});

test('over TLS: no warning, the page and the API over https with the token', toolTestOptions('openssl'), async () => {
  const certs = join(dir, 'tls');
  mkdirSync(certs);
  const ssl = (args: string[]) => assert.equal(spawnSync(tool('openssl'), args, { cwd: certs, encoding: 'utf8', timeout: 30_000 }).status, 0, args.join(' '));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ferry test CA']);
  writeFileSync(join(certs, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=ferry dashboard']);
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  const s = await ferryServe(['dashboard', busy.t.url, '--listen', '0.0.0.0:0', '--tls-cert', join(certs, 'server.pem'), '--tls-key', join(certs, 'server.key')], /at (https:\/\/[^/]+)\//);
  try {
    assert.doesNotMatch(s.output(), /warning/);
    const port = Number(new URL(s.address).port);
    const token = ok(ferry(process.cwd(), ['dashboard', '--print-token', busy.t.url])).stdout.trim();
    const ca = readFileSync(join(certs, 'ca.pem'));
    const httpsGet = (path: string, auth?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path, ca, headers: auth ? { authorization: `Basic ${Buffer.from(`x:${auth}`).toString('base64')}` } : {} }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal((await httpsGet('/api/volumes')).status, 401);
    const r = await httpsGet('/api/volumes/0', token);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).name, 'vol');
    assert.equal((await httpsGet('/', token)).status, 200);
  } finally {
    await s.stop();
  }
});

describe('--kubeconfig (a local server replaying Kubernetes API responses)', () => {
  let kube: KubeReplay;
  before(async () => {
    kube = await kubeReplay(dir);
  });
  after(() => kube?.close());

  test('the PVs of the driver, their claims, the pods using them and the mount processes serving them', async () => {
    const { base, dash } = await serve({ volumes: [vol(busy.t.url)], kubeconfig: kube.kubeconfig });
    try {
      const v = (await get(`${base}/api/volumes/0`)).body as VolumeView & { kubernetes: { error?: string; pvs: PvView[] } };
      assert.equal(v.kubernetes.error, undefined);
      assert.deepEqual(v.kubernetes.pvs.map((p) => p.pv), ['pvc-3b9f0c2e-7d41-4a8e-b0a5-8c1e2f3d4a5b'], 'only csi.ferryfs.io PVs');
      const pv = v.kubernetes.pvs[0]!;
      assert.deepEqual(pv.claim, { namespace: 'default', name: 'ferryfs-data', phase: 'Bound', storageClass: 'ferryfs' });
      assert.equal(pv.capacity, '10Gi');
      assert.deepEqual(pv.pods.map((p) => `${p.namespace}/${p.name}@${p.node}`), [`default/trainer-0@${NODE}`]);
      // The CSI mount whose target path names the pod, and the node plugin's mount at the kubelet staging path
      // of the PV's handle; not the same volume's mount on another node.
      assert.deepEqual(pv.pods[0]!.mounts.map((m) => m.sid).sort(), [busy.sids.csiMount, busy.sids.csiStaging].sort());
      assert.deepEqual(pv.pods[0]!.containers.find((c) => c.name === 'ferry-mount'), { name: 'ferry-mount', ready: false, restarts: 5, state: 'waiting: CrashLoopBackOff' });
      const restarting = v.tips.filter((t) => t.problem === 'mount-restarting' && t.message.includes('trainer-0'));
      assert.equal(restarting.length, 1);
      assert.equal(restarting[0]!.severity, 'error');
      assert.match(restarting[0]!.tip, /kubectl logs -n default trainer-0 -c ferry-mount --previous/);
      assert.ok(!v.tips.some((t) => t.message.includes('postgres-0')), 'another driver\'s pod is none of ours');
      const k = (await get(`${base}/api/kubernetes`)).body;
      assert.deepEqual(k.other, []);
      assert.deepEqual(k.volumes[0].pvs.map((p: PvView) => p.pv), [pv.pv]);
      for (const p of ['/api/v1/persistentvolumes', '/api/v1/persistentvolumeclaims', '/api/v1/pods']) assert.ok(kube.requests.includes(p), p);
      assert.ok(POD_UID);
    } finally {
      await dash.close();
    }
  });

  test('an API server that refuses the credentials is an error line on the page, not a failure', async () => {
    const badConfig = join(dir, 'bad-kubeconfig');
    writeFileSync(badConfig, readFileSync(kube.kubeconfig, 'utf8').replace(/token: .*/, 'token: nope'));
    const { base, dash } = await serve({ volumes: [vol(busy.t.url)], kubeconfig: badConfig });
    try {
      const r = await get(`${base}/api/volumes/0`);
      assert.equal(r.status, 200);
      assert.match(r.body.kubernetes.error, /cannot read the Kubernetes API .*401/);
      assert.deepEqual(r.body.kubernetes.pvs, []);
    } finally {
      await dash.close();
    }
  });
});

test('bad input: one line and a non-zero exit', () => {
  const cwd = process.cwd();
  oneLineError(ferry(cwd, ['dashboard']), 2, /usage|argument/i);
  oneLineError(ferry(cwd, ['dashboard', busy.t.url, '--listen', 'nowhere']), 2, /--listen: bad address 'nowhere'/);
  oneLineError(ferry(cwd, ['dashboard', busy.t.url, '--refresh', 'soon']), 2, /--refresh/);
  oneLineError(ferry(cwd, ['dashboard', busy.t.url, '--kubeconfig', '/no/such/file']), 2, /--kubeconfig: \/no\/such\/file does not exist/);
  oneLineError(ferry(cwd, ['dashboard', 'sqlite3:///no/such/meta.db']), undefined, /no volume at sqlite3:\/\/\/no\/such\/meta\.db/);
  oneLineError(ferry(cwd, ['dashboard', busy.t.url, '--listen', '203.0.113.7:0', '--insecure']), 2, /not an address of this machine/);
});
