// The dashboard page in a real browser: Debian's chromium (headless, driven by playwright-core) loads it from
// `ferry dashboard`'s server over a busy volume, its main views show what the API says, it refreshes by
// itself, switches volumes, runs without a console error (the CSP lets nothing else in), and a screenshot is
// kept in test-artifacts/ (gitignored) for people to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Dashboard } from '../src/dashboard/server.js';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { busyVolume, type BusyVolume } from './helpers/dashboard-fixture.js';
import { kubeReplay, type KubeReplay } from './helpers/kube-replay.js';
import { tool, toolTestOptions } from './helpers/tools.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const ARTIFACTS = resolve(fileURLToPath(new URL('../../test-artifacts/', import.meta.url)));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let busy: BusyVolume | undefined;
let quiet: TempVolume | undefined;
let kube: KubeReplay | undefined;
let dash: Dashboard | undefined;
let dir: string | undefined;
const metas: Meta[] = [];

before(async () => {
  if (toolTestOptions('chromium').skip) return;
  dir = await mkdtemp(join(tmpdir(), 'ferry-dash-browser-'));
  busy = await busyVolume();
  quiet = await tempVolume();
  kube = await kubeReplay(dir);
  dash = new Dashboard({ volumes: [busy.t.url, quiet.url].map((url) => ({ url, open: () => openMeta(url) })), kubeconfig: kube.kubeconfig, auth: false, refreshSeconds: 1, reuseMs: 0 });
});
after(async () => {
  await dash?.close();
  for (const m of metas) await m.close().catch(() => undefined);
  await kube?.close();
  await busy?.close();
  await quiet?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the dashboard in headless chromium: main views, auto-refresh, volume switch, screenshot', toolTestOptions('chromium'), async () => {
  const { chromium } = await import('playwright-core');
  const a = await dash!.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${a.port}`;
  // A fresh profile per run (launchPersistentContext is how playwright takes --user-data-dir).
  const context = await chromium.launchPersistentContext(join(dir!, 'profile'), { executablePath: tool('chromium'), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 1000 } });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    await page.goto(`${base}/`);
    await page.locator('#sessions tr[data-sid]').first().waitFor({ timeout: 20_000 });

    // Health: a tip for each problem of the busy volume (and the restarting mount sidecar of its pod).
    const problemsShown = await page.locator('#tips .tip').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.problem));
    for (const p of ['store-credentials', 'quota-full', 'mirror-stale', 'mount-restarting']) assert.ok(problemsShown.includes(p), `tip ${p} shown: ${problemsShown}`);
    assert.match(await page.locator('#tips').innerText(), /kubectl logs -n default trainer-0 -c ferry-mount --previous/);
    // Usage and quotas, trash and backlog.
    assert.match(await page.locator('#usage tr[data-quota="/team-a"]').innerText(), /96\.0 KiB\s+100\.0 KiB/);
    const trash = await page.locator('#trash').innerText();
    assert.match(trash, /Entries\s+3/);
    assert.match(trash, /7 block\(s\) on 1 client\(s\)/);
    // Sessions as the API lists them.
    const api = (await (await fetch(`${base}/api/volumes/0`)).json()) as { sessions: unknown[] };
    assert.equal(await page.locator('#sessions tr[data-sid]').count(), api.sessions.length);
    assert.match(await page.locator(`#sessions tr[data-sid="${busy!.sids.deadMount}"]`).innerText(), /stale/);
    // Ring, mirrors, errors, Kubernetes.
    const ring = await page.locator('#cache-groups').innerText();
    assert.match(ring, /10\.0\.0\.5:9001\s+cache-1\s+zone-a\s+95%\s+300\.0 MiB\s+1200/);
    assert.match(await page.locator('#mirrors tr[data-mirror="m1"]').innerText(), /needs resync/);
    assert.match(await page.locator('#mirrors tr[data-mirror="m2"]').innerText(), /stale/);
    assert.match(await page.locator('#errors').innerText(), /InvalidAccessKeyId/);
    const k8s = await page.locator('#kubernetes').innerText();
    assert.match(k8s, /default\/ferryfs-data/);
    assert.match(k8s, /default\/trainer-0/);
    assert.match(k8s, new RegExp(`session ${busy!.sids.csiMount} on kind-worker`));

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`# screenshot: ${shot}`);

    // Auto-refresh: a client that starts now appears without a reload.
    const m = await openMeta(busy!.t.url);
    metas.push(m);
    const sid = await m.newSession({ role: 'gateway', hostname: 'gw-new', mountPoint: 's3-gateway' });
    await page.locator(`#sessions tr[data-sid="${sid}"]`).waitFor({ timeout: 15_000 });

    // The other volume: its own tab, no problem.
    await page.locator('nav button[data-volume="1"]').click();
    await page.locator('header', { hasText: 'vol · sqlite3' }).waitFor();
    await page.locator('#tips .badge.ok').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#tips .tip').count(), 0);
    assert.match(await page.locator('#trash').innerText(), /Kept\s+off/);
    assert.equal(await page.locator('nav button[data-volume="0"] .badge').innerText(), String(problemsShown.length));

    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
