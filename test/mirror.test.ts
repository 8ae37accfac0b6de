// Mirror file systems for real: a replicator process tails the source while a seeded workload runs, is
// killed and restarted mid-stream, and the mirror ends up equal to the source, bytes and attributes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FsError } from '../src/errors.js';
import { openMeta } from '../src/meta/index.js';
import { createMirror, Replicator } from '../src/mirror/index.js';
import { Volume } from '../src/sdk/index.js';
import { describeTree, mirrorTree, workload } from './helpers/tree.js';
import { tempVolume, type TempVolume, metaOf } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function startReplicator(mirrorUrl: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'mirror', 'run', mirrorUrl], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function caughtUp(source: Volume, mirrorUrl: string): Promise<void> {
  const m = await openMeta(mirrorUrl);
  try {
    const target = await metaOf(source).currentVersion();
    for (let i = 0; (await m.getCounter('appliedVersion')) < target; i++) {
      if (i > 3000) assert.fail(`mirror did not reach version ${target}`);
      await sleep(10);
    }
  } finally {
    await m.close();
  }
}

describe('mirror file systems', () => {
  let src: TempVolume;
  let mirrorUrl: string;

  before(async () => {
    src = await tempVolume({ volume: { attrTimeout: 0, entryTimeout: 0 } });
    mirrorUrl = `sqlite3://${src.dir}/mirror.db`;
    await src.v.mkdir('/before');
    await src.v.writeFile('/before/f', 'in the snapshot');
    await createMirror(src.url, mirrorUrl);
  });

  after(async () => {
    await src.cleanup();
  });

  it('a replicator process killed and restarted mid-stream leaves the mirror equal to the source', { timeout: 300_000 }, async () => {
    let rep = startReplicator(mirrorUrl);
    const first = workload(src.v, 7, 400);
    await sleep(300);
    rep.kill('SIGKILL');
    await once(rep, 'exit');
    await first;
    rep = startReplicator(mirrorUrl);
    try {
      await workload(src.v, 8, 200);
      await caughtUp(src.v, mirrorUrl);
      assert.deepEqual(await mirrorTree(mirrorUrl), await describeTree(src.v));
    } finally {
      rep.kill('SIGTERM');
      await once(rep, 'exit');
    }
  });

  it('a writable mirror client reads its own writes every time, and they reach the source', { timeout: 300_000 }, async () => {
    const rep = startReplicator(mirrorUrl);
    const w = await Volume.open(mirrorUrl);
    try {
      for (let i = 0; i < 1000; i++) {
        const dir = `/rw${i % 10}/d2/d3/d4`;
        await w.mkdir(dir, { recursive: true });
        await w.writeFile(`${dir}/newf${i}`, `round ${i}`);
        assert.equal(await w.readFile(`${dir}/newf${i}`, 'utf8'), `round ${i}`);
        assert.ok((await w.readdir(dir)).includes(`newf${i}`));
        assert.equal((await w.stat(`${dir}/newf${i}`)).size, `round ${i}`.length);
      }
      assert.equal(await src.v.readFile('/rw3/d2/d3/d4/newf993', 'utf8'), 'round 993');
    } finally {
      await w.close();
      rep.kill('SIGTERM');
      await once(rep, 'exit');
    }
  });

  it('a writable mirror whose replicator is down still reads its own writes (from the source after the timeout)', async () => {
    const logs: string[] = [];
    const w = await Volume.open(mirrorUrl, { waitTimeoutMs: 200, log: (m) => logs.push(m), attrTimeout: 0, entryTimeout: 0 });
    try {
      // Another client's write makes the mirror miss a version, so this client cannot apply its own record.
      await src.v.writeFile('/gap', 'from the source side');
      await w.writeFile('/while-down', 'still mine');
      assert.equal(await w.readFile('/while-down', 'utf8'), 'still mine');
      assert.equal(logs.length, 1, 'the fallback is logged once');
      assert.match(logs[0]!, /behind version/);
    } finally {
      await w.close();
    }
  });

  it('a read-only mirror refuses writes with EROFS and a clear message', async () => {
    const ro = await Volume.open(mirrorUrl, { readOnly: true });
    try {
      await assert.rejects(ro.writeFile('/x', 'no'), (e: FsError) => e.code === 'EROFS' && /read-only/.test(e.message));
      await assert.rejects(ro.mkdir('/x'), (e: FsError) => e.code === 'EROFS');
    } finally {
      await ro.close();
    }
  });

  it('the source keeps its changelog for the mirror, and a mirror past a trim says to re-create it', async () => {
    const source = await openMeta(src.url);
    const mirror = await openMeta(mirrorUrl);
    try {
      const id = (await mirror.load()).mirror!.of!.id;
      const rep = new Replicator(mirror, source, id, { reportMs: 0 });
      await rep.start();
      await src.v.writeFile('/trim-me', 'x');
      await caughtUp(src.v, mirrorUrl);
      await rep.stop();
      const registered = (await source.load()).mirror!.mirrors![id]!;
      assert.equal(registered.applied, await mirror.getCounter('appliedVersion'), 'progress reported to the source');
      const oldest = (await source.readChangelog(0, 1))[0];
      assert.ok(!oldest || oldest.version > registered.applied - 1, 'what every mirror applied is trimmed');
      // Trim past the mirror behind its back: the replicator must refuse to continue.
      await src.v.writeFile('/after-trim', 'x');
      await src.v.writeFile('/after-trim2', 'x');
      await source.trimChangelog(await source.currentVersion() - 1);
      const again = new Replicator(mirror, source, id);
      await assert.rejects(again.step(), (e: FsError) => e.code === 'ESTALE' && /ferry mirror resync/.test(e.message));
    } finally {
      await mirror.close();
      await source.close();
    }
  });
});
