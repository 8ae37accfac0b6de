// After a create (or an unlink) the kernel asks for the parent directory's attributes (it changed: mtime,
// and it checks permissions for the next create there) and often for the new file's. Both are answered
// from what the metadata transaction just returned, without another metadata call.
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import { test } from 'node:test';
import { timedMeta } from '../src/meta/metered.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';
import { VFS } from '../src/vfs/vfs.js';
import { metaOf, tempVolume, vfsOf } from './helpers/volume.js';

test("a create's and an unlink's results answer the kernel's follow-up GETATTRs", async () => {
  const tv = await tempVolume({ storage: 'mem' });
  const calls: string[] = [];
  const base = vfsOf(tv.v);
  // The volume's own metadata client, every call counted by name (metered.ts, as the metrics count them).
  const meta = timedMeta(metaOf(tv.v), (name, run) => (calls.push(name), run()));
  const vfs = new VFS(meta, base.store, base.format, { attrTimeout: 60, entryTimeout: 60, backgroundJobs: false });
  try {
    const ctx = rootContext();
    const dir = await vfs.mkdir(ctx, ROOT_INODE, 'd', 0o755);
    const before = (await vfs.getattr(ctx, dir.inode)).mtime;
    calls.length = 0;
    const c = await vfs.create(ctx, dir.inode, 'f', 0o644, fsConstants.O_WRONLY);
    assert.deepEqual(calls, ['create']);
    const pa = await vfs.getattr(ctx, dir.inode);
    const fa = await vfs.getattr(ctx, c.inode);
    assert.deepEqual(calls, ['create'], 'the parent and the new file are answered from the create');
    // And what was answered is the directory as it is now (the metadata agrees).
    assert.deepEqual(pa, await meta.getattr(ctx, dir.inode));
    assert.ok(pa.mtime >= before);
    assert.equal(fa.mode & 0o777, 0o644);
    await vfs.release(ctx, c.fh);
    calls.length = 0;
    await vfs.unlink(ctx, dir.inode, 'f');
    const after = await vfs.getattr(ctx, dir.inode);
    assert.deepEqual(calls, ['unlink'], 'the parent after an unlink is answered from the unlink');
    assert.deepEqual(after, await meta.getattr(ctx, dir.inode));
  } finally {
    await vfs.shutdown(rootContext()).catch(() => undefined);
    await tv.cleanup();
  }
});
