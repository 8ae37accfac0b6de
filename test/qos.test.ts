// QoS (issue 21): token buckets that sleep (never spin) and never fail, applied to a client's uploads, downloads and
// metadata operations, with the client's own limits and the volume's (`ferry config`), picked up while running.
// Timing is only ever bounded from below, loosely: a limited client is slower than its limit allows, never
// asserted to be fast.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenBucket } from '../src/object/throttle.js';
import { applyMountOptions } from '../src/cli/client-flags.js';
import type { ClientConfig } from '../src/client/config.js';
import { changeFormat, newFormat, readFormat, settingsOf } from '../src/meta/format.js';
import { PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { ferry, tempDir } from './helpers/cli.js';
import { ROOT_KEY } from './helpers/gateway.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { metaOf, tempVolume, type TempVolume } from './helpers/volume.js';

const MiB = 1 << 20;
/** Every stat asks the metadata (no attribute or entry cache in between). */
const UNCACHED = { attrTimeout: 0, entryTimeout: 0 };

describe('token bucket', () => {
  it('passes about `rate` units per second, in order, while sleeping (little CPU)', async () => {
    const b = new TokenBucket(() => 1000);
    const order: number[] = [];
    const cpu = process.cpuUsage();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 20 }, (_, i) => b.take(100).then(() => order.push(i))));
    const ms = Date.now() - t0;
    const used = process.cpuUsage(cpu);
    // 2000 units at 1000/s with a 100-unit burst: at least 1.9 s.
    assert.ok(ms >= 1700, `took ${ms} ms`);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'first come, first served');
    // A busy wait would burn about the whole wait in CPU time.
    assert.ok((used.user + used.system) / 1000 < ms / 4, `CPU ${(used.user + used.system) / 1000} ms over ${ms} ms`);
  });

  it('lets a request larger than a second of tokens through (slowly), and everything through when the rate becomes 0', async () => {
    let rate = 100;
    const b = new TokenBucket(() => rate);
    await b.take(50); // larger than the 10-unit burst: waits, never fails
    const stuck = b.take(10_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(b.waiting > 0);
    rate = 0; // unlimited from now on: the waiter passes at its next refill
    await stuck;
    await b.take(1e12);
  });
});

describe('QoS settings', () => {
  it('mount -o upload-limit=2,ops-limit=5 sets the client limits; a bad value is one usage line', () => {
    const cfg: ClientConfig = { metaUrl: 'sqlite3://x.db' };
    assert.deepEqual(applyMountOptions(cfg, ['upload-limit=2,ops-limit=5,allow_other']), ['allow_other']);
    assert.deepEqual(cfg.qos, { uploadLimit: 2, opsLimit: 5 });
    assert.throws(() => applyMountOptions({ metaUrl: 'x' }, ['download-limit=fast']), /download-limit/);
  });

  it('the format record keeps the volume limits in bytes/s, 0 removes them, and a bad qos section is refused by name', () => {
    const f = newFormat({ name: 'qos', storage: 'mem://qos', uploadLimit: 3 });
    assert.deepEqual(f.qos, { uploadBytesPerSec: 3 * MiB });
    const g = changeFormat(f, { opsLimit: 7 });
    assert.deepEqual(g.qos, { uploadBytesPerSec: 3 * MiB, metaOpsPerSec: 7 });
    assert.equal(settingsOf(g).uploadLimit, 3);
    assert.equal(changeFormat(g, { uploadLimit: 0, opsLimit: 0 }).qos, undefined);
    assert.throws(() => readFormat({ ...f, qos: { metaOpsPerSec: -1 } }, 'test'), /qos\.metaOpsPerSec/);
  });
});

describe('QoS through the SDK', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume({ blockSize: MiB });
  });
  after(() => t.cleanup());

  it('--upload-limit 2: writing 6 MiB takes 2.5 s or more and succeeds', async () => {
    const v = await t.open({ uploadLimit: 2 });
    const data = Buffer.alloc(6 * MiB, 7);
    const t0 = Date.now();
    await v.writeFile('/limited', data);
    const ms = Date.now() - t0;
    assert.ok(ms >= 2500, `6 MiB at 2 MiB/s took only ${ms} ms`);
    assert.ok(((await v.readFile('/limited')) as Buffer).equals(data));
    await v.close();
  });

  it('--download-limit 2: reading 6 MiB takes 2.5 s or more', async () => {
    const data = Buffer.alloc(6 * MiB, 9);
    await t.v.writeFile('/down', data);
    const v = await t.open({ downloadLimit: 2 });
    const t0 = Date.now();
    assert.ok(((await v.readFile('/down')) as Buffer).equals(data));
    const ms = Date.now() - t0;
    assert.ok(ms >= 2500, `6 MiB at 2 MiB/s took only ${ms} ms`);
    await v.close();
  });

  it('--ops-limit 20: 60 stats take 2.5 s or more', async () => {
    await t.v.writeFile('/small', 'x');
    const v = await t.open({ opsLimit: 20, ...UNCACHED });
    const t0 = Date.now();
    for (let i = 0; i < 60; i++) await v.stat('/small');
    const ms = Date.now() - t0;
    assert.ok(ms >= 2500, `60 operations at 20/s took only ${ms} ms`);
    await v.close();
  });

  it('a volume-wide limit set in the format record reaches a running client within seconds', async () => {
    const v = await t.open(UNCACHED);
    await v.writeFile('/warm', 'x'); // the client is running before the limit is set
    await metaOf(t.v).updateFormat((f) => changeFormat(f, { opsLimit: 10 }));
    // Within a few seconds (the format refresh is every 2 s) 30 operations take 2.5 s or more.
    let ms = 0;
    for (const deadline = Date.now() + 10_000; ms < 2500 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) await v.stat('/warm');
      ms = Date.now() - t0;
    }
    assert.ok(ms >= 2500, `the volume's limit of 10 ops/s never applied (30 operations in ${ms} ms)`);
    // Back to unlimited: the client speeds up again (no upper bound on timing asserted, just that it completes).
    await metaOf(t.v).updateFormat((f) => changeFormat(f, { opsLimit: 0 }));
    await v.close();
  });
});

describe('QoS through the S3 gateway', () => {
  let g: ChildGateway;
  before(async () => {
    g = await startChildGateway(['--upload-limit', '2'], [ROOT_KEY], { blockSize: MiB });
  });
  after(() => g.close());

  it('ferry gateway --upload-limit 2: a 6 MiB PUT takes 2.5 s or more and succeeds', async () => {
    const s3 = new S3Client({
      endpoint: g.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ROOT_KEY.accessKey, secretAccessKey: ROOT_KEY.secret },
      maxAttempts: 1,
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'qos' }));
      const t0 = Date.now();
      await s3.send(new PutObjectCommand({ Bucket: 'qos', Key: 'big', Body: Buffer.alloc(6 * MiB, 3) }));
      const ms = Date.now() - t0;
      assert.ok(ms >= 2500, `6 MiB at 2 MiB/s took only ${ms} ms`);
      assert.equal((await g.t.v.stat('/qos/big')).size, 6 * MiB);
    } finally {
      s3.destroy();
    }
  });
});

describe('ferry config --upload-limit', () => {
  it('prints old -> new, shows the limits, and 0 turns a limit off', async () => {
    const t = await tempVolume();
    try {
      const cwd = await tempDir();
      await t.v.close();
      let r = ferry(cwd, ['config', '--upload-limit', '100', '--ops-limit', '500', t.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /uploadLimit: 0 \(unlimited\) -> 100 MiB\/s/);
      assert.match(r.stdout, /opsLimit: 0 \(unlimited\) -> 500 ops\/s/);
      r = ferry(cwd, ['config', t.url]);
      assert.match(r.stdout, /uploadLimit: 100 MiB\/s/);
      assert.match(r.stdout, /downloadLimit: 0 \(unlimited\)/);
      assert.match(ferry(cwd, ['info', t.url]).stdout, /^QoS: +upload 100 MiB\/s, 500 metadata ops\/s per client$/m);
      r = ferry(cwd, ['config', '--upload-limit', '0', t.url]);
      assert.match(r.stdout, /uploadLimit: 100 MiB\/s -> 0 \(unlimited\)/);
      r = ferry(cwd, ['config', '--upload-limit', 'fast', t.url]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    } finally {
      await t.cleanup();
    }
  });
});
