// The SQL failure test (test/failure-postgres.test.ts, test/failure-mysql.test.ts): the machine's server is
// shared, so it is never restarted. A TCP proxy (tcp-proxy.ts) between the clients and the server resets every
// connection and refuses new ones for a second (what clients see of a restart), and loses the reply to a
// COMMIT (the transaction committed, the client never heard). Clients must reconnect, re-run what did not
// commit and never what did: every acknowledged create and write is there exactly once, and the counters
// agree with a walk of the tree.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openMeta } from '../../src/meta/index.js';
import type { Meta } from '../../src/meta/interface.js';
import { ROOT_INODE, rootContext } from '../../src/meta/types.js';
import { CreateWriteLoad, spread } from './failure-load.js';
import { dropPrefixed, requireServer, SERVERS, uniquePrefix, withOptions } from './servers.js';
import { TcpProxy } from './tcp-proxy.js';
import { sleep } from './wait.js';
import { checkInvariants } from '../suites/meta-invariants.js';
import { freshMeta } from '../suites/meta-suite.js';

const ROOT = rootContext();

export async function sqlConnectionCuts(kind: 'postgres' | 'mysql'): Promise<void> {
  const url = await requireServer(kind);
  if (!url) return;
  const title = SERVERS[kind].title;
  describe(`failure: ${title} connections cut mid-load`, { timeout: 120_000 }, () => {
    const prefix = uniquePrefix('fsql');
    let proxy: TcpProxy | undefined;
    after(async () => {
      await proxy?.close();
      await dropPrefixed(kind, url, prefix);
    });

    it('clients reconnect and retry what did not commit, never what did', async () => {
      const u = new URL(url);
      proxy = await TcpProxy.start(u.hostname, Number(u.port || (kind === 'postgres' ? 5432 : 3306)));
      const via = new URL(url);
      via.host = `127.0.0.1:${proxy.port}`;
      const metaUrl = withOptions(via.toString(), { prefix, pool: 4 });
      const m = await freshMeta(metaUrl);
      const other = await openMeta(metaUrl);
      await other.newSession({ mountPoint: '/other' });
      const clients: Meta[] = [m, other];
      try {
        const inodeBase = (await m.statfs(ROOT)).usedInodes - 1;
        const dir = (await m.mkdir(ROOT, ROOT_INODE, 'load', 0o777)).inode;
        const load = new CreateWriteLoad(clients, dir);
        load.start();
        const windows: number[] = [];
        try {
          await load.progress(100);
          for (let round = 0; round < 3; round++) {
            // A restart as clients see it: every connection reset, none accepted for a second.
            const t = Date.now();
            proxy.mode = 'refuse';
            proxy.cutAll();
            await sleep(1000);
            proxy.mode = 'pass';
            await load.progress(50);
            windows.push(load.gapAround(t));
            // A COMMIT that reaches the server whose reply is lost.
            const t2 = Date.now();
            await Promise.race([
              proxy.loseReplyTo((b) => b.toString('latin1').includes('COMMIT')),
              sleep(20_000).then(() => assert.fail('no COMMIT went through the proxy')),
            ]);
            await load.progress(50);
            windows.push(load.gapAround(t2));
          }
        } finally {
          await load.stop();
        }
        const engines = clients.map((c) => (c as unknown as { eng: { reconnectRetries: number; commitsFoundApplied: number } }).eng);
        const retried = engines.reduce((n, e) => n + e.reconnectRetries, 0);
        const found = engines.reduce((n, e) => n + e.commitsFoundApplied, 0);
        const { present, extra } = await load.verify(m);
        console.log(
          `${kind} connection cuts: unavailability ${spread(windows)} over ${windows.length} cuts; ${present} acknowledged files all present once; ` +
            `${retried} transactions retried after a lost connection, ${found} lost COMMIT replies found applied (not re-run); ` +
            `${load.failed.size} operations failed to the caller, ${extra} unacknowledged files`,
        );
        assert.equal(load.failed.size, 0, `no operation failed: ${[...load.failed].slice(0, 3).join('; ')}`);
        assert.ok(found >= 1, 'a COMMIT whose reply was lost was found applied');
        await checkInvariants(m, { inodeBase, probe: [...load.acked.values()].map((a) => a.inode) });
      } finally {
        for (const c of clients) await c.close();
      }
    });
  });
}
