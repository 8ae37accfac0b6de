// Write-back through real mounts (`--writeback --cache-dir`): files written and closed reach the object store
// by the time `umount` returns, and a daemon killed with -9 before its uploads could finish leaves staged
// blocks that the next mount with the same cache dir uploads. Every check reads back through a mount WITHOUT
// a cache dir, i.e. from the object store alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatVolume, fuseTestOptions, killMountTree, mountFerry, type TestMount, type TestVolume } from './helpers/mount.js';

describe('FUSE: write-back', fuseTestOptions(), () => {
  let vol: TestVolume;
  const mounts: TestMount[] = [];
  const mount = async (name: string, args: string[] = []) => {
    const m = await mountFerry(vol.url, join(vol.dir, name), args);
    mounts.push(m);
    return m;
  };

  before(async () => {
    vol = await formatVolume({ blockSize: 256 << 10 });
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    await vol?.cleanup();
  });

  /** Staged block files of a cache dir (any volume). */
  async function staged(cacheDir: string): Promise<string[]> {
    const out: string[] = [];
    for (const uuid of await readdir(cacheDir).catch(() => [])) {
      for (const n of await readdir(join(cacheDir, uuid, 'staging')).catch(() => [])) if (n !== '.lock' && !n.startsWith('.tmp.')) out.push(n);
    }
    return out;
  }

  async function writeTree(mp: string, dir: string, n: number): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    await mkdir(join(mp, dir));
    for (let i = 0; i < n; i++) files.set(`${dir}/small-${i}`, randomBytes(1 + ((i * 97) % 5000)));
    files.set(`${dir}/large.bin`, randomBytes(3 * (256 << 10) + 4321));
    for (const [name, data] of files) await writeFile(join(mp, name), data);
    return files;
  }

  async function checkTree(mp: string, files: Map<string, Buffer>): Promise<void> {
    for (const [name, data] of files) assert.ok((await readFile(join(mp, name))).equals(data), `${name} reads back the bytes written`);
  }

  test('files written with --writeback are all in the object store once umount returns', async () => {
    const cacheDir = join(vol.dir, 'cache-a');
    const w = await mount('wb', ['--writeback', '--cache-dir', cacheDir]);
    const files = await writeTree(w.mp, 'tree', 300);
    await checkTree(w.mp, files); // read back locally (staging / cache)
    await w.unmount();
    assert.deepEqual(await staged(cacheDir), [], 'nothing left staged');
    assert.match(w.output(), /write-back: 0 blocks \(0.0 MiB\) pending, [1-9]\d* \(.*\) uploaded/);
    const r = await mount('plain');
    await checkTree(r.mp, files);
    await r.unmount();
  });

  test('with the kernel writeback cache too: a written file gets a fresh mtime, utimes after close sticks', async () => {
    const w = await mount('wb-times', ['--writeback', '--writeback-cache', '--cache-dir', join(vol.dir, 'cache-t')]);
    const f = join(w.mp, 'timed.txt');
    const before = Date.now() - 2000; // coarse clocks
    await writeFile(f, 'some bytes');
    const st = await stat(f);
    assert.ok(st.mtimeMs >= before && st.mtimeMs <= Date.now() + 2000, `mtime ${st.mtime.toISOString()} is the write's`);
    assert.equal(st.size, 10);
    await utimes(f, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z')); // as tar and cp -p do
    assert.equal((await stat(f)).mtime.toISOString(), '2001-02-03T04:05:06.000Z');
    await w.unmount();
    const r = await mount('plain-times');
    assert.equal((await stat(join(r.mp, 'timed.txt'))).mtime.toISOString(), '2001-02-03T04:05:06.000Z');
    await r.unmount();
  });

  test('--writeback without --cache-dir is one clear error', async () => {
    await assert.rejects(mount('nocache', ['--writeback']), /--writeback needs --cache-dir/);
  });

  test('kill -9 after close(): the next mount with the same cache dir uploads the staged blocks', async () => {
    const cacheDir = join(vol.dir, 'cache-b');
    const w = await mount('wb2', ['--writeback', '--cache-dir', cacheDir]);
    // The object store "goes away" (its directory becomes a file): uploads fail and are retried.
    const blocks = join(vol.dir, 'blocks');
    await rename(blocks, `${blocks}.away`);
    await writeFile(blocks, 'not a directory');
    let files: Map<string, Buffer>;
    try {
      files = await writeTree(w.mp, 'killed', 50);
      assert.ok((await staged(cacheDir)).length >= 51, 'the closed files are staged, not uploaded');
      await killMountTree(w); // the supervisor and its serving process: nothing uploads the staged blocks
      await w.unmount();
    } finally {
      await rm(blocks);
      await rename(`${blocks}.away`, blocks);
    }
    assert.ok((await staged(cacheDir)).length >= 51, 'the staged blocks survived the kill');
    const again = await mount('wb3', ['--writeback', '--cache-dir', cacheDir]);
    // A client without caches reads at once: blocks not uploaded yet are waited for, not EIO.
    const r = await mount('plain2');
    await checkTree(r.mp, files);
    await again.unmount();
    assert.deepEqual(await staged(cacheDir), []);
    assert.match(again.output(), /staged blocks .* from an earlier run/);
    await checkTree(r.mp, files);
    await r.unmount();
  });
});
