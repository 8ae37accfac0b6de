// The S3 backend against a real Ceph RADOS Gateway: the unchanged conformance suite, plus what is
// specific to S3 (prefixes, multi-object delete, error mapping).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { openObjectStore, type ObjectStore } from '../src/object/index.js';
import type { S3Store } from '../src/object/s3.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, ferry, ok, oneLineError, requireRgw, rgwBucket, rgwOptions } from './helpers/rgw.js';
import { objectConformance } from './suites/object-suite.js';

const opened: ObjectStore[] = [];
const buckets = new Set<string>();
after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  // Empty the buckets of this run: the gateway keeps objects in memory (memstore).
  for (const b of buckets) {
    const s = (await openObjectStore(`s3://${b}`, rgwOptions())) as S3Store;
    try {
      const keys: string[] = [];
      for await (const o of s.listAll('')) keys.push(o.key);
      await s.deleteMany(keys);
    } catch {
      // a bucket that was never created, or a gateway that went away: nothing to clean
    } finally {
      await s.close();
    }
  }
});

async function open(url: string, extra: Record<string, unknown> = {}): Promise<ObjectStore> {
  await requireRgw();
  const s = await openObjectStore(url, { ...rgwOptions(), ...extra });
  opened.push(s);
  if (extra.endpoint === undefined) buckets.add(new URL(url).hostname);
  return s;
}

objectConformance('s3 (Ceph RGW)', () => open(`s3://${rgwBucket('conf')}`));
objectConformance('s3 (Ceph RGW) with a key prefix', () => open(`s3://${rgwBucket('pfx')}/some/prefix`));

function oneLine(e: unknown, code: string, ...words: string[]): true {
  assert.ok(e instanceof FsError, String(e));
  assert.equal(e.code, code, e.message);
  assert.ok(!e.message.includes('\n'), e.message);
  for (const w of words) assert.ok(e.message.includes(w), `'${e.message}' does not mention ${w}`);
  return true;
}

describe('s3 backend specifics', () => {
  let bucket: string;
  let s: S3Store;
  before(async () => {
    bucket = rgwBucket('spec');
    s = (await open(`s3://${bucket}/p`)) as S3Store;
    await s.create();
    await s.create(); // idempotent
  });

  it('keeps keys under its prefix, invisible to other prefixes', async () => {
    await s.put('a', Buffer.from('1'));
    const root = await open(`s3://${bucket}`);
    assert.deepEqual(await root.get('p/a'), Buffer.from('1'));
    assert.deepEqual((await s.list('')).objects.map((o) => o.key), ['a']);
  });

  it('deletes many keys in one request, ignoring missing ones', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `many/${i}`);
    await Promise.all(keys.map((k) => s.put(k, Buffer.from(k))));
    await s.deleteMany([...keys, 'many/never']);
    assert.deepEqual((await s.list('many/')).objects, []);
  });

  it('puts a large object as a multipart upload', async () => {
    const data = Buffer.alloc((64 << 20) + 1000, 3);
    await s.put('large', data);
    assert.equal((await s.head('large')).size, data.length);
    assert.deepEqual(await s.get('large', 64 << 20, 2000), data.subarray(64 << 20));
    await s.delete('large');
  });

  it('maps wrong keys to EACCES naming the bucket', async () => {
    const bad = await open(`s3://${bucket}`, { accessKey: 'NOSUCHKEY', secretKey: 'x' });
    await assert.rejects(bad.get('p/a'), (e) => oneLine(e, 'EACCES', bucket));
    const badSecret = await open(`s3://${bucket}`, { secretKey: 'wrong-secret' });
    await assert.rejects(badSecret.put('x', Buffer.from('x')), (e) => oneLine(e, 'EACCES', bucket, 'secret'));
  });

  it('maps a missing bucket to ENOENT naming it', async () => {
    const missing = rgwBucket('missing');
    const m = await open(`s3://${missing}`);
    await assert.rejects(m.put('k', Buffer.from('x')), (e) => oneLine(e, 'ENOENT', `bucket ${missing} does not exist`));
    await assert.rejects(m.list(''), (e) => oneLine(e, 'ENOENT', missing));
  });

  it('maps an unreachable endpoint to one line naming it', async () => {
    const dead = await open(`s3://${bucket}`, { endpoint: 'http://127.0.0.1:9', retries: 1 });
    await assert.rejects(dead.get('p/a'), (e) => oneLine(e, 'ECONNREFUSED', 'http://127.0.0.1:9'));
  });

  it('rejects a bad bucket name in the URL', async () => {
    await assert.rejects(openObjectStore('s3://A_B'), (e) => oneLine(e, 'EINVAL', 's3://BUCKET'));
  });

  it('strips credentials from its url', async () => {
    const u = await openObjectStore(`s3://KEY:SECRET@${bucket}/x?endpoint=${encodeURIComponent(RGW_ENDPOINT)}`);
    opened.push(u);
    assert.ok(!u.url.includes('SECRET'), u.url);
  });
});

describe('ferry with bad S3 input: one line, non-zero exit, nothing written', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-s3-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const noEnvKeys = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, FERRY_ACCESS_KEY: undefined, FERRY_SECRET_KEY: undefined };

  it('format with wrong keys names the bucket and leaves no volume', async () => {
    await requireRgw();
    const bucket = rgwBucket('cli');
    const meta = `sqlite3://${dir}/wrong.db`;
    const storage = ['--storage', `s3://${bucket}`, '--storage-endpoint', RGW_ENDPOINT];
    oneLineError(ferry(dir, ['format', ...storage, '--access-key', 'NOSUCHKEY', '--secret-key', 'nope', meta, 'vol'], noEnvKeys), new RegExp(`cannot access bucket ${bucket}.*access key`));
    oneLineError(ferry(dir, ['format', ...storage, '--access-key', RGW_ACCESS_KEY, '--secret-key', 'wrong', meta, 'vol'], noEnvKeys), new RegExp(`cannot access bucket ${bucket}.*secret key`));
    // Nothing half-written: formatting again with the right keys works without --force.
    ok(ferry(dir, ['format', ...storage, '--access-key', RGW_ACCESS_KEY, '--secret-key', RGW_SECRET_KEY, '--hash', 'crc32c', meta, 'vol'], noEnvKeys));
    const src = join(dir, 'hello.txt');
    await writeFile(src, 'hello over s3\n');
    ok(ferry(dir, ['put', meta, src, '/hello.txt'], noEnvKeys));
    assert.equal(ok(ferry(dir, ['cat', meta, '/hello.txt'], noEnvKeys)).stdout.toString(), 'hello over s3\n');
  });

  it('objbench on a missing bucket says it does not exist', async () => {
    await requireRgw();
    const missing = rgwBucket('nobucket');
    oneLineError(
      ferry(dir, ['objbench', '--count', '2', '--storage-endpoint', RGW_ENDPOINT, '--access-key', RGW_ACCESS_KEY, '--secret-key', RGW_SECRET_KEY, `s3://${missing}`]),
      new RegExp(`bucket ${missing} does not exist`),
    );
  });

  it('format against an unreachable endpoint names it', () => {
    const meta = `sqlite3://${dir}/dead.db`;
    oneLineError(
      ferry(dir, ['format', '--storage', 's3://somebucket?retries=1', '--storage-endpoint', 'http://127.0.0.1:9', '--access-key', 'a', '--secret-key', 'b', meta, 'vol']),
      /cannot connect to S3 endpoint http:\/\/127\.0\.0\.1:9/,
    );
    oneLineError(ferry(dir, ['status', meta]), /no volume|not formatted|does not exist|ENOENT/i);
  });

  it('objbench prints a table against RGW', async () => {
    await requireRgw();
    const bucket = rgwBucket('ob');
    const s = await open(`s3://${bucket}`);
    await s.create();
    const r = ok(ferry(dir, ['objbench', '--count', '8', '--block-size', '256K', '-p', '4', '--storage-endpoint', RGW_ENDPOINT, '--access-key', RGW_ACCESS_KEY, '--secret-key', RGW_SECRET_KEY, `s3://${bucket}`]));
    const text = r.stdout.toString();
    for (const w of ['put 256K objects', 'get 256K objects', 'head objects', 'list 8 objects', 'delete objects']) assert.ok(text.includes(w), text);
    assert.deepEqual((await s.list('')).objects, [], 'objbench leaves nothing behind');
  });
});

describe('s3 retries (a local server that throttles)', () => {
  let server: Server;
  let endpoint: string;
  let failFirst = 0;
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  before(async () => {
    server = createServer((req, res) => {
      requests++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      req.resume();
      req.on('end', () => {
        setTimeout(() => {
          inFlight--;
          if (failFirst > 0) {
            failFirst--;
            res.writeHead(503, { 'content-type': 'application/xml' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
            return;
          }
          res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' });
          res.end();
        }, 5);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('retries 503 SlowDown with backoff until it succeeds', async () => {
    const s = await openObjectStore('s3://throttled', { endpoint, accessKey: 'a', secretKey: 'b' });
    opened.push(s);
    failFirst = 2;
    requests = 0;
    await s.put('k', Buffer.from('x'));
    assert.equal(requests, 3);
  });

  it('gives up with EAGAIN when throttling lasts', async () => {
    const s = await openObjectStore('s3://throttled?retries=1', { endpoint, accessKey: 'a', secretKey: 'b' });
    opened.push(s);
    failFirst = 1000;
    requests = 0;
    await assert.rejects(s.put('k', Buffer.from('x')), (e) => oneLine(e, 'EAGAIN', 'throttling'));
    assert.equal(requests, 2);
    failFirst = 0;
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const s = await openObjectStore('s3://throttled?concurrency=3', { endpoint, accessKey: 'a', secretKey: 'b' });
    opened.push(s);
    maxInFlight = 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`k${i}`, Buffer.from('x'))));
    assert.ok(maxInFlight <= 3, `${maxInFlight} requests in flight`);
  });
});
