// The Redis engine across a broken connection (a TCP proxy in front of the shared Redis on 6379 loses the
// reply to a commit: the commit applied, the client never heard) and the Sentinel URL form.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../src/meta/engines/redis/engine.js';
import { openMeta } from '../src/meta/index.js';
import { parseMetaUrl } from '../src/meta/registry.js';
import { ROOT_INODE, rootContext } from '../src/meta/types.js';
import { requireServer } from './helpers/servers.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { expectCode } from './suites/meta-invariants.js';
import { freshMeta } from './suites/meta-suite.js';

const ROOT = rootContext();
const parse = (raw: string) => parseRedisUrl(raw, parseMetaUrl(raw));

describe('redis: Sentinel URLs and ?wait', () => {
  it('parses JuiceFS\'s form: password, master name, sentinels (default port 26379), database', () => {
    const { opts, shown, wait } = parse('redis://:s3cret@mymaster,10.0.0.1:26380,10.0.0.2,[::1]:26381/3?prefix=v&wait=1&wait-timeout=2000');
    assert.equal(opts.name, 'mymaster');
    assert.deepEqual(opts.sentinels, [{ host: '10.0.0.1', port: 26380 }, { host: '10.0.0.2', port: 26379 }, { host: '::1', port: 26381 }]);
    assert.equal(opts.password, 's3cret');
    assert.equal(opts.db, 3);
    assert.equal(opts.host, undefined);
    assert.deepEqual(wait, { replicas: 1, timeoutMs: 2000 });
    assert.ok(!shown.includes('s3cret'));
    assert.equal(parse('redis://127.0.0.1:6379/0').opts.sentinels, undefined);
  });

  it('bad Sentinel addresses and wait values are one-line EINVAL errors', async () => {
    for (const bad of ['redis://m:1,h:2/0', 'redis://m,h:x/0', 'redis://m,h:1/0?wait=x', 'redis://m,h:1/0?wait=1&wait-timeout=0', 'redis://m,h:1/abc']) {
      await expectCode(openMeta(bad), 'EINVAL');
    }
  });
});

const url = await requireServer('redis');
if (url) {
  describe('redis: a commit whose reply is lost', () => {
    const prefix = `ferryrc-${randomBytes(4).toString('hex')}`;
    let proxy: TcpProxy;
    after(async () => {
      await proxy?.close();
      const u = new URL(url);
      const r = new Redis({ host: u.hostname, port: Number(u.port || 6379) });
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `\\{${prefix}\\}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
      await r.quit();
    });

    it('is applied once: the client reconnects and learns the outcome instead of applying it again', async () => {
      const u = new URL(url);
      proxy = await TcpProxy.start(u.hostname, Number(u.port || 6379));
      const m = await freshMeta(`redis://127.0.0.1:${proxy.port}/0?prefix=${prefix}`);
      try {
        const { inode } = await m.create(ROOT, ROOT_INODE, 'f', 0o644, 2);
        const id = await m.newSliceId();
        // The commit of the write carries an 'append' of the slice: lose its reply.
        const lost = proxy.loseReplyTo((b) => /evalsha|eval/i.test(b.toString('latin1')) && b.includes('append'));
        await m.writeSlice(ROOT, inode, 0, 0, { id, size: 4096, off: 0, len: 4096 });
        await lost;
        assert.equal(proxy.cuts, 1, 'the connection was cut once');
        assert.deepEqual((await m.readChunk(ROOT, inode, 0)).map((s) => s.id), [id], 'the slice is in the chunk once');
        assert.equal((await m.getattr(ROOT, inode)).length, 4096);
      } finally {
        await m.close();
      }
    });
  });
}
