// The file:// store writes a small deferred put (a small file's block at its close) with synchronous calls:
// four thread-pool round trips per file were most of a small file's close on a busy host. The object is in
// place before put() yields to the event loop once; a large or durable put still goes through the pool.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStore, SYNC_PUT_MAX } from '../src/object/file.js';

test('file://: a small deferred put is written before put() yields; large and durable puts are not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-small-put-'));
  const s = new FileStore(dir);
  try {
    await s.create();
    // A new key directory too (made on the rename's ENOENT, as the async path does).
    const small = s.put('chunks/1/2/small', Buffer.from('tiny block'), { deferSync: true });
    assert.ok(existsSync(join(dir, 'chunks/1/2/small')), 'in place synchronously');
    await small;
    assert.equal(await readFile(join(dir, 'chunks/1/2/small'), 'utf8'), 'tiny block');
    // Replacing an object through the same path.
    const again = s.put('chunks/1/2/small', Buffer.from('replaced'), { deferSync: true });
    await again;
    assert.equal((await s.get('chunks/1/2/small')).toString(), 'replaced');

    const big = s.put('chunks/1/big', Buffer.alloc(SYNC_PUT_MAX + 1, 7), { deferSync: true });
    assert.ok(!existsSync(join(dir, 'chunks/1/big')), 'a large put goes through the thread pool');
    await big;
    const durable = s.put('chunks/1/durable', Buffer.from('x'));
    assert.ok(!existsSync(join(dir, 'chunks/1/durable')), 'a durable put waits for its fsyncs in the pool');
    await durable;
    await s.sync();
    assert.deepEqual((await s.get('chunks/1/big')).length, SYNC_PUT_MAX + 1);
    // The temp directory holds nothing left behind.
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(join(dir, '.tmp')), []);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
