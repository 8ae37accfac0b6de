// Object store conformance cases, written once and run against every backend.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ObjectStore } from '../../src/object/index.js';

const MiB = 1 << 20;

function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function keysOf(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.listAll(prefix)) keys.push(o.key);
  return keys;
}

/** Runs `fn` over items, at most `width` at a time (thousands of parallel opens would hit fd limits). */
async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

export function objectConformance(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`object store conformance: ${name}`, () => {
    let s: ObjectStore;
    before(async () => {
      s = await makeStore();
      await s.create();
    });
    after(() => s.close());

    it('round-trips empty, small and 5 MiB objects', async () => {
      for (const [key, data] of [
        ['rt/empty', Buffer.alloc(0)],
        ['rt/small', Buffer.from('hello, ferry')],
        ['rt/big', randomBytes(5 * MiB)],
      ] as const) {
        await s.put(key, data);
        assert.deepEqual(await s.get(key), data);
        assert.equal((await s.head(key)).size, data.length);
      }
    });

    it('reads byte ranges, clipped at the end of the object', async () => {
      const data = randomBytes(100_000);
      await s.put('range/obj', data);
      assert.deepEqual(await s.get('range/obj', 0, 10), data.subarray(0, 10));
      assert.deepEqual(await s.get('range/obj', 40_000, 1234), data.subarray(40_000, 41_234));
      assert.deepEqual(await s.get('range/obj', 99_990, 10), data.subarray(99_990));
      assert.deepEqual(await s.get('range/obj', 50_000), data.subarray(50_000));
      assert.deepEqual(await s.get('range/obj', 99_995, 100), data.subarray(99_995));
      assert.equal((await s.get('range/obj', 100_000, 10)).length, 0);
      assert.equal((await s.get('range/obj', 200_000, 10)).length, 0);
      assert.equal((await s.get('range/obj', 5, 0)).length, 0);
      await assert.rejects(s.get('range/obj', -1, 10), { code: 'EINVAL' });
    });

    it('heads size and mtime', async () => {
      const t0 = Date.now();
      await s.put('head/obj', Buffer.alloc(4321, 7));
      const info = await s.head('head/obj');
      assert.equal(info.key, 'head/obj');
      assert.equal(info.size, 4321);
      assert.ok(Math.abs(info.mtime - t0) < 60_000, `mtime ${info.mtime} is not about now (${t0})`);
    });

    it('fails get and head of a missing key with ENOENT', async () => {
      await assert.rejects(s.get('missing/obj'), { code: 'ENOENT', errno: -2 });
      await assert.rejects(s.get('missing/obj', 0, 1), { code: 'ENOENT' });
      await assert.rejects(s.head('missing/obj'), { code: 'ENOENT' });
      await s.put('missing/dir/obj', Buffer.from('x'));
      // A prefix of existing keys is not itself an object.
      await assert.rejects(s.get('missing/dir'), { code: 'ENOENT' });
      await assert.rejects(s.head('missing/dir'), { code: 'ENOENT' });
    });

    it('deletes idempotently', async () => {
      await s.put('del/obj', Buffer.from('x'));
      await s.delete('del/obj');
      await s.delete('del/obj');
      await s.delete('del/never-existed');
      await assert.rejects(s.get('del/obj'), { code: 'ENOENT' });
      assert.deepEqual(await keysOf(s, 'del/'), []);
    });

    it('replaces an object on overwrite', async () => {
      await s.put('over/obj', Buffer.alloc(10_000, 1));
      await s.put('over/obj', Buffer.from('short'));
      assert.deepEqual(await s.get('over/obj'), Buffer.from('short'));
      assert.equal((await s.head('over/obj')).size, 5);
    });

    it('keeps its own copy of the caller buffers', async () => {
      const buf = Buffer.from('original');
      await s.put('copy/obj', buf);
      buf.fill(0);
      const got = await s.get('copy/obj');
      got.fill(1);
      assert.deepEqual(await s.get('copy/obj'), Buffer.from('original'));
    });

    it('accepts keys with slashes and unicode', async () => {
      const keys = ['uni/a/b/c/d', 'uni/日本語/ファイル', 'uni/ç😀de', 'uni/space name', 'uni/\uff01'];
      for (const k of keys) await s.put(k, Buffer.from(k));
      for (const k of keys) assert.deepEqual(await s.get(k), Buffer.from(k));
      assert.deepEqual(await keysOf(s, 'uni/'), byteOrder(keys));
    });

    it('lists by prefix, with sizes', async () => {
      for (const k of ['lp/a', 'lp/b', 'lp/c/d', 'lpq', 'lp-x']) await s.put(k, Buffer.from(k));
      const page = await s.list('lp/');
      assert.deepEqual(
        page.objects.map((o) => [o.key, o.size]),
        [['lp/a', 4], ['lp/b', 4], ['lp/c/d', 6]],
      );
      assert.equal(page.isTruncated, false);
      assert.deepEqual((await s.list('lp')).objects.map((o) => o.key), ['lp-x', 'lp/a', 'lp/b', 'lp/c/d', 'lpq']);
      assert.deepEqual((await s.list('lp/c')).objects.map((o) => o.key), ['lp/c/d']);
      assert.deepEqual((await s.list('lp/', 'lp/a')).objects.map((o) => o.key), ['lp/b', 'lp/c/d']);
      assert.deepEqual(await s.list('lp/nothing'), { objects: [], isTruncated: false });
      assert.deepEqual(await s.list('nothing/at/all/'), { objects: [], isTruncated: false });
    });

    it('pages 2,500 keys 1,000 at a time in UTF-8 byte order', async () => {
      // Separators around '/' (0x2f) and characters where UTF-16 and UTF-8 orders disagree.
      const seps = ['/', '-', '.', '0', 'é', '😀', '\uff01'];
      const keys = Array.from({ length: 2500 }, (_, i) => `page/g${i % 13}${seps[i % seps.length]}${i}`);
      await inBatches(keys, 100, (k) => s.put(k, Buffer.from(k)));
      const expected = byteOrder(keys);
      const listed: string[] = [];
      let marker: string | undefined;
      for (const size of [1000, 1000, 500]) {
        const page = await s.list('page/', marker, 1000);
        assert.equal(page.objects.length, size);
        assert.equal(page.isTruncated, size === 1000);
        if (page.isTruncated) assert.equal(page.nextMarker, page.objects[size - 1].key);
        listed.push(...page.objects.map((o) => o.key));
        marker = page.nextMarker;
      }
      assert.deepEqual(listed, expected);
      assert.deepEqual(await keysOf(s, 'page/'), expected);
      const small = await s.list('page/', expected[1233], 7);
      assert.deepEqual(small.objects.map((o) => o.key), expected.slice(1234, 1241));
    });

    it('orders tricky keys by bytes, not by directory', async () => {
      const keys = ['tricky/a/b/c', 'tricky/a-c', 'tricky/a.b', 'tricky/a/b-c', 'tricky/a/b.c', 'tricky/ab', 'tricky/a0', 'tricky/a/a'];
      for (const k of keys) await s.put(k, Buffer.from(k));
      const expected = byteOrder(keys);
      assert.deepEqual(expected.slice(0, 3), ['tricky/a-c', 'tricky/a.b', 'tricky/a/a']);
      assert.deepEqual((await s.list('tricky/')).objects.map((o) => o.key), expected);
      assert.deepEqual(await keysOf(s, 'tricky/a/b'), ['tricky/a/b-c', 'tricky/a/b.c', 'tricky/a/b/c']);
      for (let i = 0; i < expected.length; i++) {
        const page = await s.list('tricky/', expected[i], 2);
        assert.deepEqual(page.objects.map((o) => o.key), expected.slice(i + 1, i + 3));
      }
    });

    it('completes a multipart upload of 3 parts', async (t) => {
      if (!s.createMultipartUpload) return t.skip('no multipart');
      const mp = await s.createMultipartUpload('mp/obj');
      assert.ok(mp.minPartSize > 0 && mp.maxCount >= 3);
      const datas = [randomBytes(mp.minPartSize), randomBytes(mp.minPartSize), randomBytes(1000)];
      const before = await keysOf(s, '');
      // Uploaded out of order and in parallel: only the numbers given to completeUpload count.
      const parts = await Promise.all(datas.map((d, i) => s.uploadPart!('mp/obj', mp.uploadId, i + 1, d)).reverse());
      assert.deepEqual(await keysOf(s, ''), before, 'pending parts must not be listed');
      await s.completeUpload!('mp/obj', mp.uploadId, parts.reverse());
      assert.deepEqual(await s.get('mp/obj'), Buffer.concat(datas));
      assert.equal((await s.head('mp/obj')).size, 2 * mp.minPartSize + 1000);
      assert.deepEqual(await keysOf(s, 'mp/'), ['mp/obj']);
    });

    it('rejects a completion with a small middle part, an unknown part or another key', async (t) => {
      if (!s.createMultipartUpload) return t.skip('no multipart');
      const mp = await s.createMultipartUpload('mpbad/obj');
      const p1 = await s.uploadPart!('mpbad/obj', mp.uploadId, 1, Buffer.alloc(10));
      const p2 = await s.uploadPart!('mpbad/obj', mp.uploadId, 2, Buffer.alloc(10));
      await assert.rejects(s.completeUpload!('mpbad/obj', mp.uploadId, [p1, p2]), { code: 'EINVAL' });
      await assert.rejects(s.completeUpload!('mpbad/obj', mp.uploadId, [{ ...p1, etag: 'f00' }]), { code: 'EINVAL' });
      await assert.rejects(s.completeUpload!('mpbad/obj', mp.uploadId, [{ ...p1, etag: '../../../x' }]), { code: 'EINVAL' });
      await assert.rejects(s.completeUpload!('mpbad/obj', mp.uploadId, [p2, p1]), { code: 'EINVAL' });
      await assert.rejects(s.completeUpload!('mpbad/other', mp.uploadId, [p1]), { code: 'ENOENT' });
      await s.abortUpload!('mpbad/obj', mp.uploadId);
      await assert.rejects(s.completeUpload!('mpbad/obj', mp.uploadId, [p1]), { code: 'ENOENT' });
      assert.deepEqual(await keysOf(s, 'mpbad/'), []);
    });

    it('leaves nothing behind when a multipart upload is aborted', async (t) => {
      if (!s.createMultipartUpload) return t.skip('no multipart');
      const before = await keysOf(s, '');
      const mp = await s.createMultipartUpload('mpabort/obj');
      await s.uploadPart!('mpabort/obj', mp.uploadId, 1, randomBytes(1000));
      await s.abortUpload!('mpabort/obj', mp.uploadId);
      await s.abortUpload!('mpabort/obj', mp.uploadId);
      await assert.rejects(s.uploadPart!('mpabort/obj', mp.uploadId, 2, Buffer.alloc(1)), { code: 'ENOENT' });
      await assert.rejects(s.get('mpabort/obj'), { code: 'ENOENT' });
      assert.deepEqual(await keysOf(s, ''), before);
    });

    it('puts distinct keys concurrently', async () => {
      const datas = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
      await Promise.all(datas.map((d, i) => s.put(`conc/k${i}`, d)));
      const got = await Promise.all(datas.map((_, i) => s.get(`conc/k${i}`)));
      got.forEach((g, i) => assert.deepEqual(g, datas[i]));
      assert.equal((await keysOf(s, 'conc/')).length, 64);
    });

    it('ends concurrent puts of one key with one whole value', async () => {
      const size = MiB;
      await Promise.all(Array.from({ length: 10 }, (_, i) => s.put('same/key', Buffer.alloc(size, i + 1))));
      const got = await s.get('same/key');
      assert.equal(got.length, size);
      assert.ok(got[0] >= 1 && got[0] <= 10);
      assert.ok(got.every((b) => b === got[0]), 'object mixes bytes of several puts');
      assert.deepEqual(await keysOf(s, 'same/'), ['same/key']);
    });
  });
}
