// The kernel's writeback cache (`-o writeback_cache`): the kernel then owns the page cache of written files.
// It reads a page back before a partial-page write even when the file was opened write-only, and it places
// O_APPEND writes itself (at its own i_size, flushing whole dirty ranges later), so the mount must let its
// handles read and must write where the kernel says.
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';

describe('FUSE: kernel writeback cache', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;

  before(async () => {
    vol = await formatVolume({ blockSize: 256 << 10 });
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'), ['-o', 'writeback_cache']);
  });

  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  test('a partial-page write to a file opened write-only succeeds and keeps the bytes around it', async () => {
    const path = join(m.mp, 'partial');
    const before = Buffer.alloc(10_000, 'a');
    await writeFile(path, before);
    const w = await open(path, constants.O_WRONLY); // no O_TRUNC: the kernel must read the page first
    await w.write(Buffer.from('XYZ'), 0, 3, 5000);
    await w.close();
    const want = Buffer.from(before);
    want.write('XYZ', 5000);
    assert.ok((await readFile(path)).equals(want), 'the page around the write is intact');
  });

  test("another user's write to a file others may write succeeds (the kernel flushes its times as that user)", async () => {
    const path = join(m.mp, 'shared.log');
    await writeFile(path, 'root line\n', { mode: 0o666 });
    await (await import('node:fs/promises')).chmod(path, 0o666);
    const r = await run('sh', ['-c', `echo nobody line >> '${path}'`], { uid: 65534, gid: 65534 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(path, 'utf8'), 'root line\nnobody line\n');
  });

  test('O_APPEND writes land at the end, once each', async () => {
    const path = join(m.mp, 'appended');
    await writeFile(path, Buffer.alloc(100, 'b'));
    for (let i = 0; i < 3; i++) {
      const a = await open(path, 'a');
      await a.write(Buffer.from(`line ${i}\n`));
      await a.close();
    }
    const got = await readFile(path);
    assert.equal(got.subarray(100).toString(), 'line 0\nline 1\nline 2\n');
    assert.equal(got.length, 121);
  });
});
