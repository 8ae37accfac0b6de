// Cache-group members report what they served and their cache's hits with their heartbeats, so the
// dashboard's ring view (and ferry status --json) shows a hit ratio and the bytes served by each member of a
// live group: real clients in one group on 127.0.0.1, one reading a file the others' caches hold.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Dashboard } from '../src/dashboard/server.js';
import type { VolumeView } from '../src/dashboard/data.js';
import { openMeta } from '../src/meta/index.js';
import type { Volume } from '../src/sdk/index.js';
import { cacheOf } from './helpers/cache.js';
import { until } from './helpers/wait.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const dirs: string[] = [];
let t: TempVolume | undefined;
let dash: Dashboard | undefined;
after(async () => {
  await dash?.close();
  await t?.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('each member of a cache group shows its hit ratio and the bytes it served', async () => {
  const BS = 256 << 10;
  t = await tempVolume({ blockSize: BS });
  const data = randomBytes(4 * BS);
  await t.v.writeFile('/model.bin', data);
  const clients: Volume[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-ring-'));
    dirs.push(dir);
    clients.push(await t.open({ cacheDir: dir, cacheGroup: 'g1', groupTuning: { heartbeatMs: 200 }, backgroundJobs: false }));
  }
  for (const c of clients) await cacheOf(c).group!.refresh();
  // Every client reads every block: each owner fetches its blocks once, then serves the others.
  for (const c of clients) assert.deepEqual(await c.readFile('/model.bin'), data);
  for (const c of clients) assert.deepEqual(await c.readFile('/model.bin'), data);
  const served = clients.map((c) => cacheOf(c).group!.stats.servedBytes);
  assert.ok(served.reduce((a, b) => a + b) > 0, 'members served each other');

  dash = new Dashboard({ volumes: [{ url: t.url, open: () => openMeta(t!.url) }], auth: false, reuseMs: 0 });
  const a = await dash.listen('127.0.0.1', 0);
  let view: VolumeView | undefined;
  await until(async () => {
    view = (await (await fetch(`http://127.0.0.1:${a.port}/api/volumes/0`)).json()) as VolumeView;
    const members = view.cacheGroups.find((g) => g.name === 'g1')?.members ?? [];
    // A heartbeat sent while the reads ran reports older counters: wait for the one after them.
    return (
      members.length === 3 &&
      clients.every((c) => {
        const m = members.find((x) => x.address === cacheOf(c).group!.address);
        const { hits, misses } = cacheOf(c).hitCounts();
        return m?.servedBytes === cacheOf(c).group!.stats.servedBytes && m.hitRatio === hits / (hits + misses);
      })
    );
  }, 'the members\' reports of their counters after the reads', 20_000, 100);
  for (const c of clients) {
    const g = cacheOf(c).group!;
    const m = view!.cacheGroups[0]!.members.find((x) => x.address === g.address)!;
    // The report is the counters at the member's last heartbeat (nothing is read meanwhile).
    assert.equal(m.servedBytes, g.stats.servedBytes);
    assert.equal(m.servedRequests, g.stats.served);
    const { hits, misses } = cacheOf(c).hitCounts();
    assert.equal(m.hitRatio, hits / (hits + misses));
    assert.ok(m.hitRatio! > 0, `second reads hit: ${m.hitRatio}`);
  }
  // Blocks the group held nowhere yet were fetched from the store by their owner: misses somewhere.
  assert.ok(view!.cacheGroups[0]!.members.some((m) => m.hitRatio! < 1));
});
