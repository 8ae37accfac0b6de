// Failure test: Redis master + replica + 3 sentinels (test/helpers/redis-sentinel.ts, on free loopback ports).
// Two clients create and write files through redis://MASTER,SENTINELS/0?wait=1; the master is killed with
// kill -9 mid-load. The clients must resume on the promoted replica without a restart, and since every
// commit waited for the replica (?wait=1), every acknowledged create and write must be on the new master.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';
import { CreateWriteLoad, spread } from './helpers/failure-load.js';
import { SentinelCluster, sentinelUnavailable } from './helpers/redis-sentinel.js';
import { checkInvariants } from './suites/meta-invariants.js';
import { freshMeta } from './suites/meta-suite.js';

const ROOT = rootContext();
const missing = sentinelUnavailable();

describe('failure: Redis master killed under load (Sentinel, ?wait=1)', { timeout: 120_000 }, () => {
  if (missing) {
    it('redis-sentinel is installed', () => assert.fail(missing + (process.env.CI === 'true' ? ' [CI=true: the CI setup must provide it]' : '')));
    return;
  }
  let cluster: SentinelCluster;
  before(async () => {
    cluster = await SentinelCluster.start();
  });
  after(async () => {
    await cluster?.stop();
  });

  it('clients follow the failover and lose nothing acknowledged', async () => {
    const url = cluster.url('?prefix=fail&wait=1&wait-timeout=20000');
    const m = await freshMeta(url);
    const other = await openMeta(url);
    await other.newSession({ mountPoint: '/other' });
    const clients: Meta[] = [m, other];
    try {
      const inodeBase = (await m.statfs(ROOT)).usedInodes - 1;
      const dir = (await m.mkdir(ROOT, ROOT_INODE, 'load', 0o777)).inode;
      const load = new CreateWriteLoad(clients, dir);
      load.start();
      const windows: number[] = [];
      try {
        await load.progress(200);
        const step = (what: string) => console.log(`  ${Date.now() - killedAt} ms: ${what} (${load.ackTimes.length} acknowledged)`);
        const old = (await cluster.masterPort())!;
        const killedAt = Date.now();
        await cluster.kill9(old);
        step(`killed the master (port ${old})`);
        const promoted = await cluster.awaitFailover(old);
        step(`the sentinels promoted port ${promoted}`);
        // The old master comes back as a replica of the new one (empty: no persistence), so ?wait=1 can be met again.
        await cluster.startRedis(old, promoted);
        step('the old master is back as a replica');
        await load.progress(200);
        step('200 more operations acknowledged');
        windows.push(load.gapAround(killedAt));
      } finally {
        await load.stop();
      }
      const retried = clients.reduce((n, c) => n + ((c as unknown as { eng: { reconnectRetries: number } }).eng.reconnectRetries ?? 0), 0);
      const { present, extra } = await load.verify(m);
      console.log(
        `redis sentinel failover: unavailability ${spread(windows)}; ${present} acknowledged files all present, ` +
          `${load.failed.size} operations failed to the caller, ${extra} unacknowledged files exist, ${retried} operations retried after a lost connection`,
      );
      assert.ok(present >= 400);
      await checkInvariants(m, { inodeBase, probe: [...load.acked.values()].map((a) => a.inode) });
    } finally {
      for (const c of clients) await c.close();
    }
  });
});
