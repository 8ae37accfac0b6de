// The gateway against hostile or broken clients, over raw sockets: heads too large or too slow (slow-loris),
// bodies that stall, stop short or run past their Content-Length, metadata and keys over S3's sizes, path
// traversal in keys and copy sources, unsigned, replayed and altered requests. Each gets S3's error document
// (as AWS S3 answers it) and leaves no object, no temp file and no block behind.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ferry, ok } from './helpers/cli.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest, requestHead, signedHeaders, type RawResponse } from './helpers/gateway-child.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';
import { storeBlocks } from './helpers/volume.js';

const TIMEOUT_S = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (r: RawResponse | undefined) => (r ? /<Code>([^<]*)<\/Code>/.exec(r.body.toString())?.[1] : 'no answer');

/** An S3 error answer of the gateway: status, code, its request id and XML document. */
function assertS3Error(r: RawResponse | undefined, status: number, expected: string, what = ''): void {
  assert.ok(r, `${what}: no answer`);
  assert.equal(code(r), expected, `${what}: ${r.status} ${r.body.toString().slice(0, 300)}`);
  assert.equal(r.status, status, what);
  assert.ok(r.headers['x-amz-request-id'], `${what}: answered by the gateway (x-amz-request-id)`);
  assert.match(r.body.toString(), /^<\?xml [^>]*\?>\s*<Error>/, what);
}

/** Everything a server sends on one connection until it closes it (or `ms` pass). */
function exchange(port: number, bytes: Buffer, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const done = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(parts).toString('latin1'), closed });
    };
    const timer = setTimeout(() => done(false), ms);
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.on('close', () => done(true));
    sock.on('error', () => undefined);
    sock.write(bytes);
  });
}

describe('gateway limits and hostile clients', () => {
  let g: TestGateway;
  let host: { host: string; port: number };

  const signed = async (method: string, path: string, body = Buffer.alloc(0), extra: Record<string, string> = {}, query: Record<string, string> = {}, date?: Date) => {
    const qs = new URLSearchParams(query).toString().replace(/=(&|$)/g, '$1');
    // Signed as SigV4 canonicalises the path (each segment decoded, then encoded: %2E is '.'), sent as given.
    const canonical = path.split('/').map((seg) => encodeURIComponent(decodeURIComponent(seg))).join('/');
    return requestHead(method, qs ? `${path}?${qs}` : path, await signedHeaders(host, method, canonical, query, body, extra, undefined, date));
  };
  const send = async (method: string, path: string, body = Buffer.alloc(0), extra: Record<string, string> = {}, query: Record<string, string> = {}) =>
    rawRequest(host.port, await signed(method, path, body, extra, query), body, 20_000);

  /** No object at path, no temp file of the gateway, and the store back to `blocks` blocks (none orphaned). */
  const nothingLeft = async (path: string, blocks: number) => {
    assert.equal(await g.t.v.exists(path), false, `${path} exists`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const temps = await g.t.v.readdir('/.ferry-gateway/tmp');
      const now = (await storeBlocks(g.t.blocksDir!)).count;
      if (temps.length === 0 && now <= blocks) break;
      assert.ok(Date.now() < deadline, `left behind: temps ${JSON.stringify(temps)}, ${now - blocks} blocks`);
      await sleep(100);
    }
    assert.match(ok(ferry(g.t.dir, ['gc', '--age', '0', g.t.url])).stdout, /leaked\s+0\s/);
  };

  before(async () => {
    g = await startGateway({ limits: { headerTimeoutS: TIMEOUT_S, bodyTimeoutS: TIMEOUT_S } }, { blockSize: 64 << 10 });
    host = { host: `127.0.0.1:${g.gw.port}`, port: g.gw.port };
    assert.equal((await send('PUT', '/bkt'))?.status, 200);
    assert.equal((await send('PUT', '/other'))?.status, 200);
    await g.t.v.writeFile('/top.txt', 'volume root');
    await g.t.v.writeFile('/other/secret', 'other bucket');
  });
  after(() => g?.close());

  it('answers a header section over 8 KiB with RequestHeaderSectionTooLarge (also past node\'s own limit), and serves one under it', async () => {
    const under = await send('GET', '/bkt', Buffer.alloc(0), { 'x-pad': 'p'.repeat(7000) });
    assert.equal(under?.status, 200, code(under));
    const over = await send('PUT', '/bkt/big-head', Buffer.from('x'), { 'x-pad': 'p'.repeat(9000) });
    assertS3Error(over, 400, 'RequestHeaderSectionTooLarge', '9000-byte header');
    assert.match(over!.body.toString(), /<MaxSizeAllowed>8192<\/MaxSizeAllowed>/);
    // Past what node's parser takes at all: refused before any request exists, still as S3 says it.
    const huge = await rawRequest(g.gw.port, requestHead('GET', '/bkt', { host: host.host, 'x-pad': 'p'.repeat(40_000) }), Buffer.alloc(0), 20_000, true);
    assertS3Error(huge, 400, 'RequestHeaderSectionTooLarge', '40000-byte header');
    assert.equal(await g.t.v.exists('/bkt/big-head'), false);
  });

  it('answers a client that sends its head too slowly (slow-loris) with RequestTimeout and closes', async () => {
    const started = Date.now();
    const r = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const sock = connect(g.gw.port, '127.0.0.1');
      const parts: Buffer[] = [];
      sock.on('error', () => undefined);
      sock.write(`PUT /bkt/slow HTTP/1.1\r\nhost: ${host.host}\r\n`);
      // A header line every 300 ms: never idle, never done.
      const drip = setInterval(() => sock.writable && sock.write(`x-drip-${Date.now()}: 1\r\n`), 300);
      const stop = setTimeout(() => sock.destroy(), 15_000);
      sock.on('data', (d: Buffer) => parts.push(d));
      sock.on('close', () => {
        clearInterval(drip);
        clearTimeout(stop);
        resolve({ text: Buffer.concat(parts).toString(), closed: Date.now() - started < 15_000 });
      });
    });
    assert.ok(r.closed, `connection still open after 15 s: ${r.text}`);
    assert.match(r.text, /^HTTP\/1\.1 400 /);
    assert.match(r.text, /<Code>RequestTimeout<\/Code>/);
    assert.match(r.text, /x-amz-request-id: /i);
    assert.ok(Date.now() - started < (TIMEOUT_S + 4) * 1000, `answered after ${Date.now() - started} ms`);
  });

  it('answers a body that stops arriving with RequestTimeout, and keeps nothing of it', async () => {
    const blocks = (await storeBlocks(g.t.blocksDir!)).count;
    const body = Buffer.alloc(4 << 20, 7);
    const head = await signed('PUT', '/bkt/stalled', body);
    const started = Date.now();
    const r = await new Promise<RawResponse | undefined>((resolve, reject) => {
      const sock = connect(g.gw.port, '127.0.0.1');
      const parts: Buffer[] = [];
      sock.on('error', () => undefined);
      const t = setTimeout(() => (sock.destroy(), reject(new Error('no answer within 15 s'))), 15_000);
      sock.on('data', (d: Buffer) => parts.push(d));
      sock.on('close', () => {
        clearTimeout(t);
        const text = Buffer.concat(parts);
        const m = /^HTTP\/1\.1 (\d+)/.exec(text.toString());
        const split = text.indexOf('\r\n\r\n');
        const headers = Object.fromEntries([...text.subarray(0, split).toString().matchAll(/^([\w-]+): (.*)$/gm)].map((x) => [x[1]!.toLowerCase(), x[2]!]));
        resolve(m ? { status: Number(m[1]), headers, body: text.subarray(split + 4) } : undefined);
      });
      // 1 MiB (blocks written), then silence with the connection open.
      sock.write(head + '\r\n');
      sock.write(body.subarray(0, 1 << 20));
    });
    assertS3Error(r, 400, 'RequestTimeout', 'stalled body');
    assert.ok(Date.now() - started < (TIMEOUT_S + 5) * 1000, `answered after ${Date.now() - started} ms`);
    await nothingLeft('/bkt/stalled', blocks);
  });

  it('answers a body shorter than its Content-Length (the client half-closes) with IncompleteBody, and keeps nothing', async () => {
    const blocks = (await storeBlocks(g.t.blocksDir!)).count;
    const body = Buffer.alloc(2 << 20, 3);
    const head = await signed('PUT', '/bkt/short', body);
    const r = await rawRequest(g.gw.port, head, body.subarray(0, 1 << 20), 20_000, true);
    assertS3Error(r, 400, 'IncompleteBody', 'short body');
    await nothingLeft('/bkt/short', blocks);
    // The same for a part of a multipart upload: no part is recorded, nothing of it stays.
    const up = await send('POST', '/bkt/short-mp', Buffer.alloc(0), {}, { uploads: '' });
    const uploadId = /<UploadId>([^<]+)</.exec(up!.body.toString())![1]!;
    const partHead = await signed('PUT', '/bkt/short-mp', body, {}, { partNumber: '1', uploadId });
    assertS3Error(await rawRequest(g.gw.port, partHead, body.subarray(0, 1 << 20), 20_000, true), 400, 'IncompleteBody', 'short part');
    const parts = await send('GET', '/bkt/short-mp', Buffer.alloc(0), {}, { uploadId });
    assert.equal(parts?.status, 200);
    assert.doesNotMatch(parts!.body.toString(), /<Part>/);
    assert.equal((await send('DELETE', '/bkt/short-mp', Buffer.alloc(0), {}, { uploadId }))?.status, 204);
    await nothingLeft('/bkt/short-mp', blocks);
  });

  it('keeps nothing of a PUT whose client resets the connection in the middle of the body', async () => {
    const blocks = (await storeBlocks(g.t.blocksDir!)).count;
    const body = Buffer.alloc(4 << 20, 9);
    const head = await signed('PUT', '/bkt/reset', body);
    const sock = connect(g.gw.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write(head + '\r\n');
    await new Promise<void>((r) => sock.write(body.subarray(0, 2 << 20), () => r()));
    await sleep(300);
    sock.resetAndDestroy();
    await sleep(200);
    await nothingLeft('/bkt/reset', blocks);
    // Still serving.
    assert.equal((await send('PUT', '/bkt/after-reset', Buffer.from('ok')))?.status, 200);
  });

  it('stores exactly Content-Length bytes of a longer body; the rest is a bad next request answered with an S3 error', async () => {
    const body = Buffer.from('0123456789');
    const head = (await signed('PUT', '/bkt/exact', body)).replace(/connection: close\r\n$/, 'connection: keep-alive\r\n');
    const r = await exchange(g.gw.port, Buffer.concat([Buffer.from(head + '\r\n'), body, Buffer.from('EXTRA BYTES \u0001\r\n\r\n')]), 10_000);
    const answers = r.text.split(/(?=HTTP\/1\.1 \d{3} )/);
    assert.match(answers[0]!, /^HTTP\/1\.1 200 /, r.text);
    assert.equal(answers.length, 2, r.text);
    assert.match(answers[1]!, /^HTTP\/1\.1 400 /);
    assert.match(answers[1]!, /<Code>BadRequest<\/Code>/);
    assert.match(answers[1]!, /x-amz-request-id: /i);
    assert.equal(await g.t.v.readFile('/bkt/exact', 'utf8'), '0123456789');
  });

  it('refuses user metadata over 2 KiB with MetadataTooLarge (2 KiB exactly is stored), nothing stored', async () => {
    // S3 counts the UTF-8 bytes of each name and value: 'a' + 2047 bytes is 2048.
    assert.equal((await send('PUT', '/bkt/meta-ok', Buffer.from('x'), { 'x-amz-meta-a': 'v'.repeat(2047) }))?.status, 200);
    const over = await send('PUT', '/bkt/meta-big', Buffer.from('x'), { 'x-amz-meta-a': 'v'.repeat(1000), 'x-amz-meta-b': 'v'.repeat(1048) });
    assertS3Error(over, 400, 'MetadataTooLarge', 'metadata');
    assert.equal(await g.t.v.exists('/bkt/meta-big'), false);
    const mp = await send('POST', '/bkt/meta-mp', Buffer.alloc(0), { 'x-amz-meta-a': 'v'.repeat(2100) }, { uploads: '' });
    assertS3Error(mp, 400, 'MetadataTooLarge', 'CreateMultipartUpload metadata');
  });

  it('refuses a key over 1024 bytes with KeyTooLongError (1024 is stored) and a body over 5 GiB with EntityTooLarge, before reading it', async () => {
    const key1024 = Array.from({ length: 4 }, () => 'k'.repeat(200)).join('/') + '/' + 'k'.repeat(1024 - 4 * 201);
    assert.equal(Buffer.byteLength(key1024), 1024);
    assert.equal((await send('PUT', `/bkt/${key1024}`, Buffer.from('x')))?.status, 200);
    assertS3Error(await send('PUT', `/bkt/${key1024}k`, Buffer.from('x')), 400, 'KeyTooLongError', '1025-byte key');
    const head = await signed('PUT', '/bkt/huge', Buffer.alloc(0), { 'content-length': String(6 * 1024 ** 3), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    assertS3Error(await rawRequest(g.gw.port, head, Buffer.alloc(0), 20_000, true), 400, 'EntityTooLarge', '6 GiB PUT');
    assert.equal(await g.t.v.exists('/bkt/huge'), false);
  });

  it('never names anything outside the bucket: "..", ".", "//", NUL, absolute and percent-encoded keys and copy sources are refused', async () => {
    // S3 keeps `a/../b` as a literal key; a POSIX tree cannot, so FerryFS refuses it (docs/gateway.md).
    for (const k of ['a/../x', '../top.txt', './x', 'a/./x', 'a//x', '/top.txt', '%2E%2E/top.txt', '..%2Ftop.txt', 'a%2F..%2F..%2Ftop.txt', 'x%00y', '%2E%2E%2Fother%2Fsecret']) {
      const r = await send('PUT', `/bkt/${k}`, Buffer.from('overwritten'));
      assertS3Error(r, 400, 'XFerryInvalidObjectName', `PUT /bkt/${k}`);
      assertS3Error(await send('GET', `/bkt/${k}`), 400, 'XFerryInvalidObjectName', `GET /bkt/${k}`);
      assertS3Error(await send('POST', `/bkt/${k}`, Buffer.alloc(0), {}, { uploads: '' }), 400, 'XFerryInvalidObjectName', `uploads /bkt/${k}`);
    }
    for (const src of ['/bkt/../other/secret', 'bkt/../other/secret', '/bkt/..%2Fother%2Fsecret', '/bkt/%2E%2E/top.txt', '/bkt//other/secret', '/bkt/a/../../top.txt']) {
      const r = await send('PUT', '/bkt/copied', Buffer.alloc(0), { 'x-amz-copy-source': src });
      assertS3Error(r, 400, 'XFerryInvalidObjectName', `copy from ${src}`);
    }
    const del = Buffer.from('<Delete><Object><Key>../top.txt</Key></Object><Object><Key>../other/secret</Key></Object></Delete>');
    const d = await send('POST', '/bkt', del, { 'content-md5': (await import('node:crypto')).createHash('md5').update(del).digest('base64') }, { delete: '' });
    assert.equal(d?.status, 200);
    assert.doesNotMatch(d!.body.toString(), /<Deleted>/);
    assert.equal(await g.t.v.readFile('/top.txt', 'utf8'), 'volume root');
    assert.equal(await g.t.v.readFile('/other/secret', 'utf8'), 'other bucket');
    assert.equal(await g.t.v.exists('/bkt/copied'), false);
    assert.deepEqual((await g.t.v.readdir('/')).sort(), ['.ferry-gateway', 'bkt', 'other', 'top.txt']);
  });

  it('refuses unsigned requests (anonymous off), replays outside 15 minutes and altered requests; nothing is stored', async () => {
    const body = Buffer.from('signed body');
    const unsigned = await rawRequest(g.gw.port, requestHead('PUT', '/bkt/unsigned', { host: host.host, 'content-length': String(body.length) }), body, 20_000);
    assertS3Error(unsigned, 403, 'AccessDenied', 'unsigned PUT');
    // A request signed 16 minutes ago, replayed now: outside S3's window.
    const old = await signed('PUT', '/bkt/replayed', body, {}, {}, new Date(Date.now() - 16 * 60_000));
    assertS3Error(await rawRequest(g.gw.port, old, body, 20_000), 403, 'RequestTimeTooSkewed', 'replay');
    // Within the window S3 takes a replay (SigV4 has no nonce): the same PUT again is the same object.
    const fresh = await signed('PUT', '/bkt/replayed', body);
    assert.equal((await rawRequest(g.gw.port, fresh, body, 20_000))?.status, 200);
    assert.equal((await rawRequest(g.gw.port, fresh, body, 20_000))?.status, 200);
    // Altered after signing: another key, a signed header changed, another body.
    const head = await signed('PUT', '/bkt/altered', body, { 'x-amz-meta-who': 'alice' });
    assertS3Error(await rawRequest(g.gw.port, head.replace('/bkt/altered', '/bkt/elsewhere'), body, 20_000), 403, 'SignatureDoesNotMatch', 'path changed');
    assertS3Error(await rawRequest(g.gw.port, head.replace('x-amz-meta-who: alice', 'x-amz-meta-who: mallory'), body, 20_000), 403, 'SignatureDoesNotMatch', 'header changed');
    assertS3Error(await rawRequest(g.gw.port, head, Buffer.from('other body!'), 20_000), 400, 'XAmzContentSHA256Mismatch', 'body changed');
    for (const p of ['/bkt/unsigned', '/bkt/altered', '/bkt/elsewhere']) assert.equal(await g.t.v.exists(p), false, p);
    assert.deepEqual(await g.t.v.readdir('/.ferry-gateway/tmp'), []);
  });
});

describe('gateway limits: the same raw requests to Ceph RGW', () => {
  // Where RGW answers as AWS S3 does, the gateway must answer the same; where it does not (metadata and header
  // sizes, a 1025-byte key, `a/../x`, a short body), docs/gateway.md lists the difference.
  let g: TestGateway;
  const rgwKey = { accessKey: RGW_ACCESS_KEY, secret: RGW_SECRET_KEY, uid: 0, gid: 0 };
  const rgw = { host: new URL(RGW_ENDPOINT).host, port: Number(new URL(RGW_ENDPOINT).port) };
  const bucket = rgwBucket('limits');
  before(async () => {
    await requireRgw();
    g = await startGateway();
  });
  after(async () => {
    await rawRequest(rgw.port, requestHead('DELETE', `/${bucket}`, await signedHeaders(rgw, 'DELETE', `/${bucket}`, {}, Buffer.alloc(0), {}, rgwKey)), Buffer.alloc(0), 20_000).catch(() => undefined);
    await g?.close();
  });

  it('answers an unsigned PUT and a replay outside 15 minutes as RGW does (AccessDenied, RequestTimeTooSkewed), and stores neither', async () => {
    const local = { host: `127.0.0.1:${g.gw.port}`, port: g.gw.port };
    const servers = [
      { name: 'gateway', at: local, key: undefined },
      { name: 'rgw', at: rgw, key: rgwKey },
    ];
    for (const sv of servers) {
      const mk = await rawRequest(sv.at.port, requestHead('PUT', `/${bucket}`, await signedHeaders(sv.at, 'PUT', `/${bucket}`, {}, Buffer.alloc(0), {}, sv.key)), Buffer.alloc(0), 20_000);
      assert.equal(mk?.status, 200, `${sv.name}: ${mk?.body}`);
    }
    const body = Buffer.from('x');
    const answers = [];
    for (const sv of servers) {
      const unsigned = await rawRequest(sv.at.port, requestHead('PUT', `/${bucket}/u`, { host: sv.at.host, 'content-length': '1' }), body, 20_000);
      const old = requestHead('PUT', `/${bucket}/old`, await signedHeaders(sv.at, 'PUT', `/${bucket}/old`, {}, body, {}, sv.key, new Date(Date.now() - 16 * 60_000)));
      const skewed = await rawRequest(sv.at.port, old, body, 20_000);
      const list = await rawRequest(sv.at.port, requestHead('GET', `/${bucket}`, await signedHeaders(sv.at, 'GET', `/${bucket}`, {}, Buffer.alloc(0), {}, sv.key)), Buffer.alloc(0), 20_000);
      answers.push({ unsigned: [unsigned?.status, code(unsigned)], skewed: [skewed?.status, code(skewed)], keys: /<Key>/.test(list?.body.toString() ?? '') });
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.deepEqual(answers[0], { unsigned: [403, 'AccessDenied'], skewed: [403, 'RequestTimeTooSkewed'], keys: false });
  });
});

describe('gateway limits: flags', () => {
  it('takes --max-header-size, --header-timeout and --body-timeout, and refuses bad values in one line', async () => {
    const { tempVolume } = await import('./helpers/volume.js');
    const t = await tempVolume();
    try {
      const r = ferry(t.dir, ['gateway', t.url, '127.0.0.1:0', '--body-timeout', 'soon']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--body-timeout: 'soon' is not a number/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      const h = ferry(t.dir, ['gateway', t.url, '127.0.0.1:0', '--max-header-size', '10']);
      assert.match(h.stderr, /--max-header-size: '10' is not 0 \(node's own limit only\) or a whole number of bytes from 1024/);
    } finally {
      await t.cleanup();
    }
  });
});
