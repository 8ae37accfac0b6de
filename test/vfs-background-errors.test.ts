// Errors of background jobs are not swallowed: a gc run against an object store that fails is logged once
// per distinct error (not once per retry), kept as the last error of the client's session, shown by
// `ferry status` (text and --json), and its recovery is logged and recorded once too; a cache-group
// member's heartbeats against an unreachable metadata service are logged once, not every 50 ms.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheGroup } from '../src/cache/group.js';
import { ChunkStore } from '../src/chunk/index.js';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import type { SessionInfo } from '../src/meta/types.js';
import { openObjectStore } from '../src/object/index.js';
import { BackgroundJobs } from '../src/vfs/jobs.js';
import { MAIN, newProbe, type Probe } from './helpers/cache.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

function status(url: string, json: boolean): string {
  const r = spawnSync(process.execPath, [MAIN, 'status', ...(json ? ['--json'] : []), url], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('background job errors', () => {
  let tv: TempVolume;
  let probe: Probe;
  let meta: Meta;
  let jobs: BackgroundJobs;
  const lines: string[] = [];
  const mine = async (): Promise<SessionInfo> => (await meta.listSessions()).find((s) => s.sid === meta.sid)!;

  before(async () => {
    const id = randomUUID();
    probe = newProbe(id, `mem://${id}`);
    // The SDK client runs no jobs of its own: the jobs under test are the only ones deleting.
    tv = await tempVolume({ storage: 'mem', format: { storage: `probe://${id}` }, volume: { backgroundJobs: false } });
    meta = await openMeta(tv.url);
    const format = await meta.load();
    await meta.newSession({ mountPoint: 'jobs-under-test' });
    const store = new ChunkStore(await openObjectStore(format.storage.url), { volume: format.name, blockSize: format.blockSize });
    jobs = new BackgroundJobs(meta, store, { log: (l) => lines.push(l) });
  });

  after(async () => {
    await jobs?.stop();
    await meta?.closeSession();
    await meta?.close();
    await tv?.cleanup();
  });

  it('a failing gc is logged once, kept in the session and shown by ferry status until it recovers', async () => {
    await tv.v.writeFile('/f', Buffer.alloc(100_000, 1));
    await tv.v.unlink('/f');
    probe.failing = true;
    for (let i = 0; i < 3; i++) await jobs.collectInBackground();
    assert.equal(lines.length, 1, `logged once for three failing runs: ${lines.join(' | ')}`);
    assert.match(lines[0]!, new RegExp(`session ${meta.sid}: background gc failed: .*unreachable`));
    const e = (await mine()).lastError;
    assert.ok(e, 'the session holds the error');
    assert.equal(e.job, 'gc');
    assert.match(e.message, /unreachable/);
    assert.equal(e.clearedAt, undefined);
    assert.ok((await meta.pendingDeletedSlices(10)).length > 0, 'the slices stay queued');

    const doc = JSON.parse(status(tv.url, true)) as { sessions: SessionInfo[] };
    assert.deepEqual(doc.sessions.find((s) => s.sid === meta.sid)?.lastError, e);
    assert.equal(doc.sessions.filter((s) => s.lastError).length, 1, 'only the failing client shows an error');
    assert.match(status(tv.url, false), new RegExp(`^  session ${meta.sid}: background gc failed .* ago: .*unreachable`, 'm'));

    probe.failing = false;
    await jobs.collectInBackground();
    await jobs.collectInBackground();
    assert.equal(lines.length, 2, `the recovery is logged once: ${lines.join(' | ')}`);
    assert.match(lines[1]!, /background gc works again/);
    const cleared = (await mine()).lastError;
    assert.equal(cleared?.message, e.message, 'the last error is kept');
    assert.ok(cleared?.clearedAt && cleared.clearedAt >= e.at, 'and marked as cleared');
    assert.deepEqual(await meta.pendingDeletedSlices(10), []);
    assert.match(status(tv.url, false), /background gc failed .* \(recovered .* ago\)$/m);

    // Failing again after a recovery is a new error: logged and recorded again.
    await tv.v.writeFile('/g', Buffer.alloc(10, 1));
    await tv.v.unlink('/g');
    probe.failing = true;
    await jobs.collectInBackground();
    assert.equal(lines.length, 3);
    assert.equal((await mine()).lastError?.clearedAt, undefined);
    probe.failing = false;
  });
});

/** Waits until cond() holds (a bounded poll: what is asserted is the state, not how long it took). */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; ; await sleep(20)) {
    if (cond()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
  }
}

describe('cache-group background errors', () => {
  it('heartbeats and member-list reads failing against a lost metadata service are logged once each, and their recovery', async () => {
    const tv = await tempVolume({ storage: 'mem' });
    // The service secret reaches this (in-process) client of ferry:// through the environment.
    const direct = await openMeta(tv.url);
    process.env.FERRY_SERVICE_SECRET = (await direct.load()).services!.secret;
    await direct.close();
    let server = new MetaServer(tv.url);
    const url = await server.listen('127.0.0.1', 0);
    const port = Number(new URL(url).port);
    const meta = await openMeta(url);
    const format = await meta.load();
    const lines: string[] = [];
    const empty = { localBlock: async () => assert.fail('no block asked for'), has: () => false, drop: async () => {} };
    const g = await CacheGroup.start(
      meta,
      { uuid: format.uuid, blockPrefix: `${format.name}/chunks/` },
      { name: 'errors', heartbeatMs: 50, refreshMs: 50, log: (l) => lines.push(l) },
      empty,
    );
    try {
      await server.close();
      await until(() => lines.some((l) => l.includes('heartbeat failed')) && lines.some((l) => l.includes('refresh failed')), 'both failures logged');
      await sleep(500); // ten more failing heartbeats and refreshes
      assert.equal(lines.filter((l) => l.includes('heartbeat failed')).length, 1, lines.join('\n'));
      assert.equal(lines.filter((l) => l.includes('member list refresh failed')).length, 1, lines.join('\n'));
      assert.match(lines[0]!, /cache group errors member 127\.0\.0\.1:\d+: background cache-group (heartbeat|member list refresh) failed: .*unreachable/);
      server = new MetaServer(tv.url);
      await server.listen('127.0.0.1', port);
      await until(() => lines.filter((l) => l.includes('works again')).length === 2, 'both recoveries logged');
    } finally {
      await g.close();
      await server.close();
      await tv.cleanup();
    }
  });
});
