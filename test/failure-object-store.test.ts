// Failure test: the object store (the Ceph RGW the CI starts) stops for 30 s mid-write. A TCP proxy in front
// of it first refuses connections (15 s), then accepts them and never answers (15 s: a hung gateway), then
// passes again. Writers must block and retry, then finish; every file whose write was acknowledged reads back.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openObjectStore } from '../src/object/index.js';
import { S3Store } from '../src/object/s3.js';
import { spread } from './helpers/failure-load.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket, rgwOptions } from './helpers/rgw.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { sleep } from './helpers/wait.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('failure: the object store stops for 30 s mid-write', { timeout: 90_000 }, () => {
  const bucket = rgwBucket('outage');
  let proxy: TcpProxy | undefined;
  let t: TempVolume | undefined;
  before(async () => {
    await requireRgw();
    const direct = await openObjectStore(`s3://${bucket}`, rgwOptions());
    await direct.create();
    await direct.close();
  });
  after(async () => {
    await t?.cleanup();
    await proxy?.close();
    // The test's own bucket: its objects, then the bucket itself.
    const direct = await openObjectStore(`s3://${bucket}`, rgwOptions());
    for (;;) {
      const { objects } = await direct.list('', '', 1000);
      if (!objects.length) break;
      for (const o of objects) await direct.delete(o.key);
    }
    const { S3Client, DeleteBucketCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ endpoint: RGW_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY } });
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    s3.destroy();
    await direct.close();
  });

  it('writers block and retry, then finish; nothing acknowledged is lost', async () => {
    const rgw = new URL(RGW_ENDPOINT);
    proxy = await TcpProxy.start(rgw.hostname, Number(rgw.port || 80));
    const endpoint = encodeURIComponent(`http://127.0.0.1:${proxy.port}`);
    const storage = `s3://${encodeURIComponent(RGW_ACCESS_KEY)}:${encodeURIComponent(RGW_SECRET_KEY)}@${bucket}?endpoint=${endpoint}&path-style=1`;
    t = await tempVolume({ format: { storage }, blockSize: 1 << 20 });
    const v = t.v;
    const acked = new Map<string, string>();
    const failed: string[] = [];
    const ackTimes: number[] = [];
    let stopping = false;
    const writer = async (k: number) => {
      for (let i = 0; !stopping; i++) {
        const name = `/w${k}-${i}`;
        const data = randomBytes(256 << 10);
        try {
          await v.writeFile(name, data);
          acked.set(name, sha(data));
          ackTimes.push(Date.now());
        } catch (e) {
          failed.push(`${name}: ${(e as Error).message}`);
          await sleep(100);
        }
      }
    };
    const progress = async (n: number, ms = 60_000) => {
      const target = ackTimes.length + n;
      const deadline = Date.now() + ms;
      while (ackTimes.length < target) {
        if (Date.now() > deadline) throw new Error(`writers made no progress (${failed.slice(-2).join('; ')})`);
        await sleep(20);
      }
    };
    const retriesBefore = S3Store.outageRetriesTotal;
    const writers = [0, 1, 2].map(writer);
    let window = 0;
    let blockedAcks = 0;
    try {
      await progress(10);
      const start = Date.now();
      proxy.mode = 'refuse';
      proxy.cutAll();
      await sleep(15_000);
      proxy.mode = 'blackhole';
      await sleep(15_000);
      blockedAcks = ackTimes.filter((x) => x > start).length;
      proxy.mode = 'pass';
      proxy.cutAll(); // the hung connections fail now; their requests are retried
      await progress(10);
      const before = Math.max(...ackTimes.filter((x) => x <= start), start);
      window = Math.min(...ackTimes.filter((x) => x > start + 1000)) - before;
    } finally {
      stopping = true;
      await Promise.all(writers);
    }
    console.log(
      `object store outage of 30 s: writers blocked for ${spread([window])}; ${acked.size} files acknowledged, ` +
        `${blockedAcks} acknowledged during the outage (before it began writing), ${S3Store.outageRetriesTotal - retriesBefore} object operations retried after the SDK gave up, ${failed.length} writes failed`,
    );
    assert.deepEqual(failed, [], 'no write failed');
    assert.ok(window >= 25_000, `writers were blocked by the outage (${window} ms)`);
    for (const [name, h] of acked) assert.equal(sha((await v.readFile(name)) as Buffer), h, `${name} reads back as written`);
  });
});
