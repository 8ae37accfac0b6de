// `ferry mount --subdir DIR` through real mounts: the directory is the mount's root, its ".." stays the root,
// nothing outside it can be reached, statfs answers, and a missing or non-directory DIR is one error.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountAt } from '../src/fuse/teardown.js';
import { CLI, formatVolume, fuseTestOptions, mountFerry, py, run, type TestMount, type TestVolume } from './helpers/mount.js';

describe('FUSE: ferry mount --subdir', fuseTestOptions(), () => {
  let vol: TestVolume;
  let whole: TestMount;
  let sub: TestMount;

  before(async () => {
    vol = await formatVolume();
    // The tree is made through a mount of the whole volume: /secret.txt outside, /projects/a/... inside.
    whole = await mountFerry(vol.url, join(vol.dir, 'whole'));
    await mkdir(join(whole.mp, 'projects/a/deep'), { recursive: true });
    await writeFile(join(whole.mp, 'secret.txt'), 'outside');
    await writeFile(join(whole.mp, 'projects/a/inside.txt'), 'inside');
    await writeFile(join(whole.mp, 'projects/file'), 'not a dir');
    sub = await mountFerry(vol.url, join(vol.dir, 'sub'), ['--subdir', 'projects/a/']);
  });

  after(async () => {
    await sub?.unmount();
    await whole?.unmount();
    await vol?.cleanup();
  });

  test('the subdirectory is the root of the mount', async () => {
    assert.deepEqual((await readdir(sub.mp)).sort(), ['deep', 'inside.txt']);
    assert.equal(await readFile(join(sub.mp, 'inside.txt'), 'utf8'), 'inside');
    const root = await stat(sub.mp);
    assert.ok(root.isDirectory());
    assert.equal(root.ino, 1, 'the kernel knows the root as inode 1');
    // Writes land inside the subdirectory of the volume.
    await writeFile(join(sub.mp, 'deep/new.txt'), 'written through the subdir mount');
    const cat = await run(process.execPath, [CLI, 'cat', vol.url, '/projects/a/deep/new.txt']);
    assert.equal(cat.stdout, 'written through the subdir mount', cat.stderr);
  });

  test('".." of the root is the root; nothing outside the subdirectory is reachable', async () => {
    const root = await stat(sub.mp);
    assert.equal((await stat(join(sub.mp, 'deep/..'))).ino, root.ino);
    // Through the kernel, ".." at the mount's root leaves the mount (the host's directory), never the volume.
    assert.deepEqual((await readdir(join(sub.mp, '..'))).sort(), (await readdir(vol.dir)).sort());
    // openat(root fd, "..") and a readdir of the root's ".." entry, as a program walking up would see them.
    const out = await py(
      [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
        'print(os.stat("..", dir_fd=fd).st_ino == os.stat(os.path.dirname(sys.argv[1])).st_ino)',
        'print(sorted(os.listdir(fd)))',
      ].join('\n'),
      [sub.mp],
    );
    assert.equal(out, "True\n['deep', 'inside.txt']\n");
    await assert.rejects(stat(join(sub.mp, 'secret.txt')), { code: 'ENOENT' });
    await assert.rejects(stat(join(sub.mp, 'projects')), { code: 'ENOENT' });
    // A rename cannot name a directory outside either: the target stays inside.
    await rename(join(sub.mp, 'deep/new.txt'), join(sub.mp, '../new.txt')).then(
      () => assert.fail('rename across the mount boundary succeeded'),
      (e: NodeJS.ErrnoException) => assert.equal(e.code, 'EXDEV'),
    );
  });

  test('statfs answers', async () => {
    const out = await py('import os, sys\nv = os.statvfs(sys.argv[1])\nprint(v.f_bsize, v.f_namemax)', [sub.mp]);
    assert.equal(out.trim(), '4096 255');
    const df = await run('df', ['-P', sub.mp]);
    assert.equal(df.code, 0, df.stderr);
    assert.match(df.stdout, /ferry:fusetest/);
  });

  test('a missing subdirectory or a file is one clear error and no mount', async () => {
    for (const [dir, want] of [
      ['/projects/nope', /--subdir \/projects\/nope: \/projects\/nope does not exist in the volume/],
      ['projects/file', /--subdir \/projects\/file: \/projects\/file is not a directory/],
      ['/projects/file/x', /--subdir \/projects\/file\/x: \/projects\/file is not a directory/],
    ] as const) {
      const mp = join(vol.dir, 'bad');
      await mkdir(mp, { recursive: true });
      const r = await run(process.execPath, [CLI, 'mount', '--subdir', dir, vol.url, mp]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(await mountAt(mp), undefined);
      // The same error from a daemon mount, which must not leave a daemon behind.
      const d = await run(process.execPath, [CLI, 'mount', '-d', '--log', join(vol.dir, 'bad.log'), '--subdir', dir, vol.url, mp]);
      assert.notEqual(d.code, 0);
      assert.match(d.stderr, want);
      assert.equal(await mountAt(mp), undefined);
    }
  });
});
