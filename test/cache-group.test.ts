// Cache groups on loopback with real servers: single-flight across clients (counted at the object store),
// a --no-sharing client, and `ferry cache serve` processes serving a file while one is killed, hung or
// stopped (fallback to the object store, removal when the heartbeat lapses).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CachedObjectStore } from '../src/cache/index.js';
import { volumeView } from '../src/sdk/volume.js';
import { planWarmup } from '../src/vfs/warmup.js';
import type { Volume } from '../src/sdk/index.js';
import { cacheOf, cacheServe, newProbe, type Server } from './helpers/cache.js';
import { until } from './helpers/wait.js';
import { tempVolume, type TempVolume, vfsOf } from './helpers/volume.js';

const dirs: string[] = [];
const vols: TempVolume[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.proc.kill('SIGCONT');
    await s.stop('SIGKILL');
  }
  for (const v of vols) await v.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-cgroup-'));
  dirs.push(d);
  return d;
}


const BS = 512 << 10;

describe('cache group in one process (real HTTP servers on 127.0.0.1)', () => {
  it('50 concurrent reads of one block from 5 clients cause exactly one object-store get', async () => {
    const probeId = randomUUID();
    // Latency keeps the first fetch in flight while the other requests arrive.
    const probe = newProbe(probeId, `mem://${randomUUID()}`, { latencyMs: 200 });
    const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${probeId}` } });
    vols.push(t);
    const data = randomBytes(BS);
    await t.v.writeFile('/model.bin', data);

    const clients: Volume[] = [];
    for (let i = 0; i < 5; i++) {
      clients.push(
        await t.open({
          cacheDir: await tempDir(),
          cacheGroup: 'g1',
         
          groupTuning: { peerTimeoutMs: 30_000 },
          backgroundJobs: false,
        }),
      );
    }
    for (const c of clients) await cacheOf(c).group!.refresh();
    for (const c of clients) assert.equal(cacheOf(c).group!.members().length, 5);
    const addresses = clients.map((c) => cacheOf(c).group!.address);
    assert.equal(new Set(addresses).size, 5);

    const g0 = probe.gets;
    const reads = clients.flatMap((c) => Array.from({ length: 10 }, () => c.readFile('/model.bin')));
    const results = await Promise.all(reads);
    for (const r of results) assert.deepEqual(r, data);
    assert.equal(probe.gets - g0, 1, 'one get for 50 reads');
    const key = [...probe.perKey.keys()].find((k) => k.includes('/chunks/'))!;
    assert.equal(probe.perKey.get(key), 1);
    // The owner holds it; the others asked the owner.
    const owner = cacheOf(clients[0]!).group!.owners(key)[0]!.address;
    const holder = clients.find((c) => cacheOf(c).group!.address === owner)!;
    assert.equal(cacheOf(holder).stats.storeGets, 1);
    const served = clients.reduce((n, c) => n + cacheOf(c).group!.stats.served, 0);
    assert.ok(served >= 1 && served <= 4, `owner served the other clients (${served} requests)`);

    // A --no-sharing client uses the group without joining it or caching on disk.
    const fwd = await t.open({ cacheDir: await tempDir(), cacheGroup: 'g1', noSharing: true, backgroundJobs: false });
    assert.equal(cacheOf(fwd).disk, undefined);
    assert.equal(cacheOf(fwd).group!.isMember, false);
    assert.equal(cacheOf(fwd).group!.members().length, 5);
    assert.deepEqual(await fwd.readFile('/model.bin'), data);
    assert.equal(probe.gets - g0, 1, 'served by the group');
    await cacheOf(clients[0]!).group!.refresh();
    assert.equal(cacheOf(clients[0]!).group!.members().length, 5, 'the forwarding client is no member');

    // Members leave cleanly: their sessions go, the others' rings shrink.
    await clients.pop()!.close();
    await cacheOf(clients[0]!).group!.refresh();
    assert.equal(cacheOf(clients[0]!).group!.members().length, 4);
  });
});

describe('a member fetching from a slow object store', () => {
  it('keeps a forwarding client waiting for its one fetch instead of being taken for dead', async () => {
    const probeId = randomUUID();
    // The store answers much later than the client's peer timeout.
    const probe = newProbe(probeId, `mem://${randomUUID()}`, { latencyMs: 2000 });
    const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${probeId}` } });
    vols.push(t);
    const data = randomBytes(BS);
    await t.v.writeFile('/model.bin', data);
    const member = await t.open({ cacheDir: await tempDir(), cacheGroup: 'slow', backgroundJobs: false });
    const fwd = await t.open({
      cacheGroup: 'slow',
      noSharing: true,
      groupTuning: { peerTimeoutMs: 1000, downMs: 600_000 },
      backgroundJobs: false,
    });
    assert.equal(cacheOf(fwd).group!.members().length, 1);
    const g0 = probe.gets;
    assert.deepEqual(await fwd.readFile('/model.bin'), data);
    assert.equal(probe.gets - g0, 1, 'one get, by the member');
    assert.equal(cacheOf(fwd).stats.storeGets, 0, 'the client did not go to the store itself');
    assert.equal(cacheOf(fwd).group!.stats.peerFailures, 0);
    assert.equal(cacheOf(member).stats.storeGets, 1);
  });
});

describe('a member that resets a connection', () => {
  it('is asked again on a fresh connection instead of its share being read from the store', async () => {
    const probeId = randomUUID();
    const probe = newProbe(probeId, `mem://${randomUUID()}`);
    const t = await tempVolume({ blockSize: BS, format: { storage: `probe://${probeId}` } });
    vols.push(t);
    const data = randomBytes(3 * BS);
    await t.v.writeFile('/model.bin', data);
    const member = await t.open({ cacheDir: await tempDir(), cacheGroup: 'reset', backgroundJobs: false });
    // The first two requests the member gets are cut with a TCP reset (as when a kept-alive socket is closed
    // by the server while the client reuses it).
    const server = (cacheOf(member).group as unknown as { server: import('node:http').Server }).server;
    let resets = 2;
    server.prependListener('request', (req) => {
      if (resets > 0) {
        resets--;
        req.socket.resetAndDestroy();
      }
    });
    const fwd = await t.open({ cacheGroup: 'reset', noSharing: true, memoryCacheSize: 0, backgroundJobs: false });
    const g0 = probe.gets;
    assert.deepEqual(await fwd.readFile('/model.bin'), data);
    const group = cacheOf(fwd).group!;
    assert.equal(resets, 0);
    assert.equal(cacheOf(fwd).stats.storeGets, 0, 'every block came from the member, after asking again');
    assert.equal(group.stats.failureReasons.ECONNRESET, 2);
    assert.equal(probe.gets - g0, 3, 'the member fetched each block once');
  });
});

describe('a client that is stalled itself', () => {
  it('does not take a member whose answer waits in its socket for a dead one', async () => {
    // Members hold blocks as stored: without a checksum trailer the stored block is the data itself.
    const t = await tempVolume({ blockSize: BS, format: { checksum: 'none' } });
    vols.push(t);
    const data = randomBytes(BS);
    await t.v.writeFile('/m.bin', data);
    const a = await cacheServe(t.url, ['--cache-group', 'stall', '--listen', '127.0.0.1:0', '--cache-dir', await tempDir()]);
    servers.push(a);
    const c = await t.open({
      cacheGroup: 'stall',
      noSharing: true,
      memoryCacheSize: 0,
      groupTuning: { peerTimeoutMs: 300, downMs: 600_000 },
      backgroundJobs: false,
    });
    const g = cacheOf(c).group!;
    const { key } = (await planWarmup(vfsOf(t.v).meta, vfsOf(t.v).store, volumeView(t.v).ctx, ['/m.bin'])).blocks[0]!;
    assert.deepEqual(await g.fetch(key), data, 'the member holds the block now');
    const answer = g.fetch(key);
    await new Promise((r) => setImmediate(r)); // the request is on the wire
    // The client's event loop stalls well past the peer timeout while the member answers.
    const until = Date.now() + 1500;
    while (Date.now() < until);
    assert.deepEqual(await answer, data);
    assert.equal(g.stats.peerFailures, 0);
  });
});

describe('cache group of `ferry cache serve` processes', () => {
  it('serves a file correctly while members hang, crash and leave', async () => {
    const t = await tempVolume({ blockSize: BS });
    vols.push(t);
    const data = randomBytes(12 * BS + 999);
    await t.v.writeFile('/weights.bin', data);
    const a = await cacheServe(t.url, ['--cache-group', 'pg', '--listen', '127.0.0.1:0', '--cache-dir', await tempDir(), '--heartbeat', '0.2']);
    servers.push(a);
    const b = await cacheServe(t.url, ['--cache-group', 'pg', '--listen', '127.0.0.1:0', '--cache-dir', await tempDir(), '--heartbeat', '0.2']);
    servers.push(b);

    // A forwarding client without memory cache: every read goes to the group (or the store). Patient, so
    // that a loaded machine cannot make a healthy member look dead.
    const patient = await t.open({
      cacheGroup: 'pg',
      noSharing: true,
      memoryCacheSize: 0,
      groupTuning: { peerTimeoutMs: 60_000, memberTimeoutMs: 120_000 },
      backgroundJobs: false,
    });
    assert.deepEqual(new Set(cacheOf(patient).group!.members().map((m) => m.address)), new Set([a.address, b.address]));
    assert.deepEqual(await patient.readFile('/weights.bin'), data);
    assert.equal(cacheOf(patient).stats.storeGets, 0, 'every block came from the members');
    assert.ok(cacheOf(patient).group!.stats.peerRequests >= 13);

    // An impatient one for the failures.
    const c = await t.open({
      cacheGroup: 'pg',
      noSharing: true,
      memoryCacheSize: 0,
      groupTuning: { peerTimeoutMs: 500, downMs: 600_000, memberTimeoutMs: 3000, refreshMs: 100 },
      backgroundJobs: false,
    });
    const group = cacheOf(c).group!;
    assert.equal(group.members().length, 2);

    // A hung member (stopped process: connections open, nothing answers) is skipped after the timeout.
    b.proc.kill('SIGSTOP');
    assert.deepEqual(await c.readFile('/weights.bin'), data);
    assert.ok(group.stats.peerFailures >= 1);
    const direct = cacheOf(c).stats.storeGets;
    assert.ok(direct >= 1, 'the hung member’s blocks were read from the object store');
    b.proc.kill('SIGCONT');

    // A crashed member (no clean session close) is refused at once, then leaves the ring when its
    // heartbeat lapses.
    await a.stop('SIGKILL');
    assert.deepEqual(await c.readFile('/weights.bin'), data);
    await until(() => !group.members().some((m) => m.address === a.address), 'the crashed member to leave the ring');
    assert.deepEqual(await c.readFile('/weights.bin'), data);

    // A clean stop closes the session at once.
    await b.stop('SIGTERM');
    assert.match(b.output(), /served \d+ requests/);
    await until(() => group.members().length === 0, 'the stopped member to leave the ring');
    assert.deepEqual(await c.readFile('/weights.bin'), data);
  });
});
