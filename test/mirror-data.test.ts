// Mirrors with their own object store: `ferry mirror run --data` runs as a real process (killed and
// restarted mid-stream) while the source writes and deletes; the mirror's store ends up holding exactly
// the source's live blocks (as stored: compressed and checksummed), mirror clients read identical bytes
// even with the source's store gone, blocks not copied yet come from the source's store, and writes of a
// writable mirror land in the source's store.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openMeta } from '../src/meta/index.js';
import { createMirror, dataCopyOf, Replicator } from '../src/mirror/index.js';
import { FallbackStore } from '../src/object/index.js';
import { Volume } from '../src/sdk/index.js';
import { describeTree, mirrorTree, workload } from './helpers/tree.js';
import { tempVolume, type TempVolume, metaOf, vfsOf } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function runMirror(mirrorUrl: string, ...extra: string[]): ChildProcess & { stderrText: () => string } {
  const p = spawn(process.execPath, [CLI, 'mirror', 'run', ...extra, mirrorUrl], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  return Object.assign(p, { stderrText: () => err });
}

async function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  await once(p, 'exit');
}

/** Every object file under a file:// store directory, as keys (temp files of in-flight writes left out). */
async function keysIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const st = await readdir(join(d, n)).then(() => true, () => false);
      if (st) await walk(join(d, n), rel ? `${rel}/${n}` : n);
      else out.push(rel ? `${rel}/${n}` : n);
    }
  };
  await walk(join(dir, 'vol', 'chunks'), 'vol/chunks');
  return out.sort();
}

/** Waits until the mirror has the source's current version and the copier has every block of it. */
async function dataCaughtUp(source: Volume, mirrorUrl: string): Promise<void> {
  const m = await openMeta(mirrorUrl);
  try {
    const target = await metaOf(source).currentVersion();
    for (let i = 0; ; i++) {
      const applied = await m.getCounter('appliedVersion');
      const st = dataCopyOf(await m.load());
      if (applied >= target && st?.backfilled && st.cursor >= applied && st.pendingBlocks === 0) return;
      if (i > 6000) assert.fail(`data copy did not reach version ${target} (applied ${applied}, copier ${JSON.stringify(st)})`);
      await sleep(20);
    }
  } finally {
    await m.close();
  }
}

describe('mirror with its own object store', () => {
  let src: TempVolume;
  let mirrorUrl: string;
  let mirrorStore: string;

  before(async () => {
    // Small blocks so files have several; lz4 + crc32c so a decoded copy would be caught.
    src = await tempVolume({ blockSize: 64 << 10, format: { compression: 'lz4', checksum: 'crc32c' }, volume: { attrTimeout: 0, entryTimeout: 0 } });
    mirrorUrl = `sqlite3://${src.dir}/mirror.db`;
    mirrorStore = join(src.dir, 'mirror-blocks');
    await src.v.mkdir('/before');
    for (let i = 0; i < 5; i++) await src.v.writeFile(`/before/f${i}`, Buffer.alloc(150_000 + i, `snapshot ${i} `));
    await createMirror(src.url, mirrorUrl, { storage: `file://${mirrorStore}` });
  });

  after(async () => {
    await src.cleanup();
  });

  it('copies every block while the source writes and deletes, across a kill -9 of the copier; deleted blocks go too', { timeout: 300_000 }, async () => {
    let run = runMirror(mirrorUrl, '--data', '--data-threads', '4');
    const first = workload(src.v, 21, 300);
    // Kill it mid-stream, once it has copied something.
    const m0 = await openMeta(mirrorUrl);
    for (let i = 0; !((dataCopyOf(await m0.load())?.copiedBlocks ?? 0) > 5); i++) {
      if (i > 3000) assert.fail('the copier copied nothing');
      await sleep(20);
    }
    await m0.close();
    await stop(run, 'SIGKILL');
    await first;
    run = runMirror(mirrorUrl, '--data');
    try {
      await workload(src.v, 22, 150);
      // The source frees deleted files' blocks (its background job), then the mirror must drop its copies.
      await vfsOf(src.v).jobs.collect();
      await src.v.writeFile('/marker', 'last');
      await dataCaughtUp(src.v, mirrorUrl);
      const live = await keysIn(src.blocksDir!);
      assert.ok(live.length > 20, `${live.length} blocks`);
      assert.deepEqual(await keysIn(mirrorStore), live, 'the mirror store holds exactly the live blocks');
      const m = await openMeta(mirrorUrl);
      const st = dataCopyOf(await m.load())!;
      await m.close();
      assert.ok(st.copiedBlocks > 0 && st.deletedBlocks > 0, `copied ${st.copiedBlocks}, deleted ${st.deletedBlocks}`);
      assert.deepEqual(await mirrorTree(mirrorUrl), await describeTree(src.v));
    } finally {
      await stop(run);
    }
    assert.doesNotMatch(run.stderrText(), /Error|error/, run.stderrText());
    if (process.env.FERRY_TEST_VERBOSE) console.log(run.stderrText());
  });

  it('a mirror client reads copied files with the source store gone', { timeout: 120_000 }, async () => {
    const expected = await describeTree(src.v);
    const moved = `${src.blocksDir}.away`;
    await rename(src.blocksDir!, moved);
    try {
      const ro = await Volume.open(mirrorUrl, { readOnly: true, attrTimeout: 0, entryTimeout: 0 });
      try {
        assert.deepEqual(await describeTree(ro), expected);
        assert.equal(fallbacksOf(ro), 0, 'nothing read from the source store');
      } finally {
        await ro.close();
      }
    } finally {
      await rename(moved, src.blocksDir!);
    }
  });

  it('a block not copied yet is read from the source store; a writable mirror writes to the source store', { timeout: 120_000 }, async () => {
    // Metadata only: a replicator without the data copier.
    const [source, mirror] = [await openMeta(src.url), await openMeta(mirrorUrl)];
    const rep = new Replicator(mirror, source, (await mirror.load()).mirror!.of!.id);
    await rep.start();
    try {
      const before = new Set(await keysIn(src.blocksDir!));
      await src.v.writeFile('/fresh', Buffer.alloc(200_000, 'fresh data '));
      const fresh = (await keysIn(src.blocksDir!)).filter((k) => !before.has(k));
      assert.ok(fresh.length >= 3);
      const target = await source.currentVersion();
      while (rep.applied < target) await sleep(10);
      const ro = await Volume.open(mirrorUrl, { readOnly: true });
      try {
        assert.deepEqual(await ro.readFile('/fresh'), Buffer.alloc(200_000, 'fresh data '));
        assert.ok(fallbacksOf(ro) >= fresh.length, 'the new blocks came from the source store');
      } finally {
        await ro.close();
      }
      const mirrorKeys = new Set(await keysIn(mirrorStore));
      assert.ok(fresh.every((k) => !mirrorKeys.has(k)), 'not copied while no copier runs');

      const w = await Volume.open(mirrorUrl);
      try {
        const had = new Set(await keysIn(src.blocksDir!));
        await w.writeFile('/from-mirror', Buffer.alloc(100_000, 'written in the mirror region '));
        const added = (await keysIn(src.blocksDir!)).filter((k) => !had.has(k));
        assert.ok(added.length >= 2, 'blocks written by a mirror client are in the source store');
        assert.ok(added.every((k) => !mirrorKeys.has(k)));
        assert.deepEqual(await w.readFile('/from-mirror'), Buffer.alloc(100_000, 'written in the mirror region '));
      } finally {
        await w.close();
      }
    } finally {
      await rep.stop();
      await mirror.close();
      await source.close();
    }
    // The copier catches up with what was written while it was down.
    const run = runMirror(mirrorUrl, '--data');
    try {
      await dataCaughtUp(src.v, mirrorUrl);
      assert.deepEqual(await keysIn(mirrorStore), await keysIn(src.blocksDir!));
    } finally {
      await stop(run);
    }
  });

  it('destroying the mirror empties its own store and leaves the source\'s objects alone', { timeout: 120_000 }, async () => {
    const sourceKeys = await keysIn(src.blocksDir!);
    assert.ok((await keysIn(mirrorStore)).length > 0);
    const m = await openMeta(mirrorUrl);
    const uuid = (await m.load()).uuid;
    await m.close();
    const r = spawnSync(process.execPath, [CLI, 'destroy', '--yes', '--force', mirrorUrl, uuid], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await keysIn(mirrorStore), []);
    assert.deepEqual(await keysIn(src.blocksDir!), sourceKeys);
    assert.equal(await src.v.readFile('/marker', 'utf8'), 'last');
  });
});

/** Reads a mirror client answered from the source's store (the FallbackStore under its caches/transforms). */
function fallbacksOf(v: Volume): number {
  for (let s: unknown = vfsOf(v).store.objects; s; s = (s as { inner?: unknown }).inner) {
    if (s instanceof FallbackStore) return s.fallbacks;
  }
  assert.fail('no FallbackStore in the mirror client store stack');
}
