// The source's retention window: a mirror lagging past it stops holding the changelog back (whether a
// replicator or the source's own background job trims), is marked as needing a re-snapshot, says so
// (replicator and status, with the command), and `ferry mirror resync` brings it back to exact equality.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FsError } from '../src/errors.js';
import { openMeta } from '../src/meta/index.js';
import { createMirror, mirrorsOf, parseDuration, Replicator } from '../src/mirror/index.js';
import { Volume } from '../src/sdk/index.js';
import { describeTree, mirrorTree, workload } from './helpers/tree.js';
import { tempVolume, type TempVolume, metaOf, vfsOf } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function ferry(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, FERRY_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Lets the source's background jobs finish freeing deleted files, so no record appears behind our back. */
async function settle(v: Volume): Promise<void> {
  await vfsOf(v).jobs.idle();
  await vfsOf(v).jobs.collect();
}

/** Runs a replicator in this process until the mirror has the source's current version, reporting as it goes. */
async function catchUp(sourceUrl: string, mirrorUrl: string): Promise<void> {
  const [source, mirror] = [await openMeta(sourceUrl), await openMeta(mirrorUrl)];
  const rep = new Replicator(mirror, source, (await mirror.load()).mirror!.of!.id, { reportMs: 0 });
  try {
    await rep.start();
    let failed: unknown;
    rep.done().catch((e) => (failed = e));
    const target = await source.currentVersion();
    while (rep.applied < target) {
      if (failed) throw failed;
      await sleep(10);
    }
  } finally {
    await rep.stop();
    await mirror.close();
    await source.close();
  }
}

/** Long enough that the work "within the window" fits in it on a loaded CI machine (2 s did not). */
const RETENTION_S = 15;

/** Sleeps until the changelog record after `applied` is older than the retention window. */
async function pastWindow(meta: ReturnType<typeof metaOf>, applied: number): Promise<void> {
  const next = (await meta.readChangelog(applied, 1))[0];
  assert.ok(next, 'a record after the mirror\'s applied version');
  await sleep(Math.max(0, next.ts + RETENTION_S * 1000 + 500 - Date.now()));
}

describe('mirror retention window', () => {
  let src: TempVolume;
  let fast: string;
  let slow: string;

  before(async () => {
    src = await tempVolume({ volume: { attrTimeout: 0, entryTimeout: 0 } });
    fast = `sqlite3://${src.dir}/fast.db`;
    slow = `sqlite3://${src.dir}/slow.db`;
    await workload(src.v, 31, 40);
    await createMirror(src.url, fast);
    await createMirror(src.url, slow, { retention: RETENTION_S });
  });

  after(async () => {
    await src.cleanup();
  });

  it('parses durations and rejects nonsense with one clear message', () => {
    assert.equal(parseDuration('--retention', '7d'), 7 * 86400);
    assert.equal(parseDuration('--retention', '90'), 90);
    assert.equal(parseDuration('--retention', '0'), 0);
    assert.throws(() => parseDuration('--retention', 'soon'), (e: FsError) => e.code === 'EINVAL' && /--retention: 'soon' is not a duration/.test(e.message));
    const r = ferry('mirror', 'create', '--retention', 'soon', src.url, `sqlite3://${src.dir}/never.db`);
    assert.equal(r.code, 2, 'a malformed value is a wrong command line');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('a mirror lagging past the window is dropped from the trim floor, says so, and resync restores it exactly', { timeout: 300_000 }, async () => {
    const { mirrorOf } = await import('../src/mirror/index.js');
    const m = await openMeta(slow);
    const slowId = mirrorOf(await m.load())!.id;
    const slowApplied = await m.getCounter('appliedVersion');
    await m.close();

    // Within the window the lagging mirror holds the log, however far ahead the other one is.
    await workload(src.v, 32, 60);
    await settle(src.v);
    await catchUp(src.url, fast);
    let f = await metaOf(src.v).load();
    const first = (await metaOf(src.v).readChangelog(slowApplied, 1))[0]!;
    assert.equal(first.version, slowApplied + 1, 'kept for the slow mirror');
    if (Date.now() - first.ts < (RETENTION_S - 1) * 1000) assert.ok(!mirrorsOf(f)[slowId]!.needsResync, 'still within its window');

    // Past the window, with no replicator running at all: the source's own background job trims.
    await pastWindow(metaOf(src.v), slowApplied);
    await vfsOf(src.v).jobs.trimChangelog();
    f = await metaOf(src.v).load();
    assert.match(mirrorsOf(f)[slowId]!.needsResync?.reason ?? '', new RegExp(`retention of ${RETENTION_S}s`));
    const oldest = (await metaOf(src.v).readChangelog(0, 1))[0];
    assert.ok(!oldest || oldest.version > slowApplied + 1, 'trimmed past the slow mirror');
    assert.ok(!mirrorsOf(f)[Object.keys(mirrorsOf(f)).find((k) => k !== slowId)!]!.needsResync, 'the mirror that kept up is not marked');

    // Its replicator and status say what happened and how to fix it.
    const st = ferry('mirror', 'status', slow);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /NEEDS RE-SNAPSHOT: fell behind the source's retention window .*ferry mirror resync sqlite3:/);
    const run = ferry('mirror', 'run', slow);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /(needs a re-snapshot|no longer has version).*ferry mirror resync sqlite3:/);

    // Re-snapshot, replicate what follows, compare.
    const rs = ferry('mirror', 'resync', slow);
    assert.equal(rs.code, 0, rs.stderr);
    assert.match(rs.stdout, new RegExp(`mirror ${slowId} re-snapshotted at version \\d+`));
    assert.ok(!mirrorsOf(await metaOf(src.v).load())[slowId]!.needsResync, 'no longer marked');
    await workload(src.v, 33, 60);
    await catchUp(src.url, slow);
    assert.deepEqual(await mirrorTree(slow), await describeTree(src.v));
    assert.doesNotMatch(ferry('mirror', 'status', slow).stdout, /NEEDS RE-SNAPSHOT/);
  });

  it('a running replicator past the window stops with the resync command', { timeout: 120_000 }, async () => {
    const [source, mirror] = [await openMeta(src.url), await openMeta(slow)];
    try {
      await settle(src.v);
      const before = await mirror.getCounter('appliedVersion');
      await src.v.writeFile('/late', 'x');
      await pastWindow(metaOf(src.v), before);
      await catchUp(src.url, fast); // the fast mirror's replicator trims and marks the slow one
      const rep = new Replicator(mirror, source, (await mirror.load()).mirror!.of!.id, { reportMs: 0 });
      await rep.start();
      await assert.rejects(rep.done(), (e: FsError) => e.code === 'ESTALE' && /ferry mirror resync/.test(e.message));
      await rep.stop();
    } finally {
      await mirror.close();
      await source.close();
    }
  });
});
