// The file:// store's deferred fsyncs: a file's blocks are put at its close without an fsync each (readable
// at once by every client), and made durable in the background; the store's sync() (a file's fsync) waits
// for them. A put without the option is durable when it returns, as before.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStore } from '../src/object/file.js';
import { constants as fsConstants } from 'node:fs';
import { rootContext, ROOT_INODE } from '../src/meta/types.js';
import { tempVolume, vfsOf } from './helpers/volume.js';

function backlog(s: FileStore): number {
  return (s as unknown as { unsynced: { backlog: number } }).unsynced.backlog;
}

test('file://: a deferred put is readable at once and durable once sync() returns', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-deferred-'));
  const s = new FileStore(dir);
  try {
    await s.create();
    const puts = Array.from({ length: 50 }, (_, i) => s.put(`chunks/${i % 7}/b${i}`, Buffer.from(`block ${i}`), { deferSync: true }));
    await Promise.all(puts);
    // Whole and in place before any fsync: a crash of the process loses nothing (the page cache has it).
    assert.equal((await s.get('chunks/3/b10')).toString(), 'block 10');
    assert.equal(await readFile(join(dir, 'chunks/6/b48'), 'utf8'), 'block 48');
    await s.sync();
    assert.equal(backlog(s), 0, 'every put before sync() is synced when it returns');
    // A put without the option is synced in the put itself: nothing queued.
    await s.put('chunks/0/durable', Buffer.from('x'));
    assert.equal(backlog(s), 0);
    // A deferred put deleted before its fsync: the sync skips it.
    await s.put('chunks/0/gone', Buffer.from('y'), { deferSync: true });
    await s.delete('chunks/0/gone');
    await s.sync();
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a volume file's close defers its block fsyncs and its fsync() waits for them", async () => {
  const tv = await tempVolume();
  try {
    const vfs = vfsOf(tv.v);
    const ctx = rootContext();
    // The FileStore under the volume's wrappers: found by walking their `inner`/`home` fields.
    let s: unknown = vfs.store.objects;
    while (!(s instanceof FileStore)) s = (s as { inner?: unknown; home?: unknown }).inner ?? (s as { home?: unknown }).home;
    const store = s;
    let syncs = 0;
    const real = store.sync.bind(store);
    store.sync = () => (syncs++, real());
    for (let i = 0; i < 5; i++) {
      const c = await vfs.create(ctx, ROOT_INODE, `f${i}`, 0o644, fsConstants.O_WRONLY);
      await vfs.write(ctx, c.fh, 0, Buffer.from(`small file ${i}`));
      await vfs.flush(ctx, c.fh);
      await vfs.release(ctx, c.fh);
    }
    assert.equal(syncs, 0, 'closing files waits for no fsync');
    const c = await vfs.create(ctx, ROOT_INODE, 'synced', 0o644, fsConstants.O_WRONLY);
    await vfs.write(ctx, c.fh, 0, Buffer.from('durable'));
    await vfs.fsync(ctx, c.fh);
    assert.equal(syncs, 1, 'fsync() syncs the store');
    assert.equal(backlog(store), 0, "after fsync() every block written before it is durable, the closed files' too");
    await vfs.release(ctx, c.fh);
  } finally {
    await tv.cleanup();
  }
});
