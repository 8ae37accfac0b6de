// The S3 gateway's edges (issue 19 items 2, 11, 12): bucket names checked on every route (no '..' reaching the
// volume root, the gateway's own directory never addressable), what it refuses instead of ignoring (SSE-C/KMS,
// ACL grants, sub-resources it does not implement), and the smaller answers clients depend on (ListBuckets
// paging, re-creating your bucket, V1 Prefix, owners and grantees, Expect, SigV2, non-ASCII metadata).
// Raw HTTP for the malformed requests, the AWS SDK for JS for the rest.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand, CreateMultipartUploadCommand, GetObjectAclCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand,
  ListObjectsCommand, PutObjectAclCommand, PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { ALICE, ROOT_KEY, startGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest, requestHead, signedHeaders, type RawResponse } from './helpers/gateway-child.js';

const code = (r: RawResponse | undefined) => (r ? (/<Code>([^<]*)<\/Code>/.exec(r.body.toString())?.[1] ?? r.headers['x-amz-error-code']) : 'closed');

async function rejectsWith(p: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(p, (e: Error & { Code?: string }) => {
    assert.equal(e.name ?? e.Code, name, String(e));
    return true;
  });
}

describe('gateway: bucket names on every route (anonymous as root, unsigned raw requests)', () => {
  let g: TestGateway;
  let port: number;
  const raw = (method: string, target: string, headers: Record<string, string> = {}, body = Buffer.alloc(0)) =>
    rawRequest(port, requestHead(method, target, { host: `127.0.0.1:${port}`, 'content-length': String(body.length), ...headers }), body, 20_000);

  before(async () => {
    g = await startGateway({ anonymous: { uid: 0, gid: 0 } });
    port = g.gw.port;
    await g.t.v.writeFile('/top.txt', 'volume root file');
    await g.t.v.mkdir('/b');
    await g.t.v.writeFile('/b/x', 'object x');
  });
  after(() => g?.close());

  it('refuses ., .., %2E, %2E%2E, .ferry-gateway and a "/" in a bucket name on GET/HEAD/PUT/DELETE/list/multipart', async () => {
    for (const b of ['.', '..', '%2E', '%2E%2E', '%2e', '.ferry-gateway', '%2Eferry-gateway', 'b%2F..%2F', '%00b']) {
      for (const [method, target] of [
        ['GET', `/${b}/top.txt`],
        ['GET', `/${b}/b/x`],
        ['HEAD', `/${b}/top.txt`],
        ['GET', `/${b}`],
        ['GET', `/${b}?uploads`],
        ['PUT', `/${b}/new.txt`],
        ['DELETE', `/${b}/top.txt`],
        ['POST', `/${b}/b/mp?uploads`],
      ] as const) {
        const r = await raw(method, target);
        assert.equal(r?.status, 400, `${method} ${target}: ${r?.status} ${r?.body}`);
        assert.equal(code(r), 'InvalidBucketName', `${method} ${target}`);
      }
    }
    assert.equal(await g.t.v.readFile('/top.txt', 'utf8'), 'volume root file');
    assert.equal(await g.t.v.exists('/new.txt'), false);
  });

  it('never lets the gateway directory be read, listed or written over S3', async () => {
    for (const target of ['/.ferry-gateway', '/.ferry-gateway/tmp', '/.ferry-gateway/uploads?list-type=2', '/%2Eferry-gateway/uploads']) {
      assert.equal(code(await raw('GET', target)), 'InvalidBucketName', target);
    }
    assert.equal(code(await raw('PUT', '/.ferry-gateway/tmp/x', {}, Buffer.from('x'))), 'InvalidBucketName');
  });

  it('refuses a copy source and a multipart upload that go through ".." (no top-level directory made)', async () => {
    const copy = await raw('PUT', '/b/copied', { 'x-amz-copy-source': '/../top.txt' });
    assert.equal(code(copy), 'InvalidBucketName');
    assert.equal(code(await raw('PUT', '/b/copied', { 'x-amz-copy-source': '/%2E%2E/top.txt' })), 'InvalidBucketName');
    assert.equal(await g.t.v.exists('/b/copied'), false);
    const up = await raw('POST', '/%2E%2E/made-above/obj?uploads');
    assert.equal(code(up), 'InvalidBucketName');
    assert.equal(await g.t.v.exists('/made-above'), false);
  });

  it('answers a key with ".." segments with a path error before any operation (POST /b/../b/x?delete)', async () => {
    const r = await raw('POST', '/b/../b/x?delete', {}, Buffer.from('<Delete><Object><Key>x</Key></Object></Delete>'));
    assert.equal(r?.status, 400);
    assert.equal(code(r), 'XFerryInvalidObjectName');
    assert.equal(code(await raw('GET', '/b/../top.txt')), 'XFerryInvalidObjectName');
    assert.equal(await g.t.v.readFile('/b/x', 'utf8'), 'object x');
  });

  it('creates its temp and upload directories so no other key can list or read them', async () => {
    const mode = async (p: string) => (await g.t.v.stat(p)).mode & 0o7777;
    assert.equal(await mode('/.ferry-gateway/tmp'), 0o1733);
    assert.equal(await mode('/.ferry-gateway/uploads'), 0o1733);
    const c = g.client(ALICE);
    await g.t.v.chmod('/b', 0o777);
    const up = await c.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'alice.bin' }));
    assert.equal(await mode(`/.ferry-gateway/uploads/${up.UploadId}`), 0o700);
  });

  it('refuses a SigV2 presigned URL with a message that says to use SigV4 (not served as anonymous)', async () => {
    const r = await raw('GET', `/b/x?AWSAccessKeyId=${ROOT_KEY.accessKey}&Signature=abc%3D&Expires=${Math.floor(Date.now() / 1000) + 600}`);
    assert.equal(r?.status, 400);
    assert.equal(code(r), 'InvalidRequest');
    assert.match(r!.body.toString(), /AWS4-HMAC-SHA256/);
    assert.match(r!.body.toString(), /Signature Version 4/);
  });

  it('answers an expectation other than 100-continue with an S3 error document (417)', async () => {
    for (const e of ['200-ok', 'x']) {
      const r = await raw('PUT', '/b/expect', { expect: e }, Buffer.from('x'));
      assert.equal(r?.status, 417, `Expect: ${e}`);
      assert.equal(code(r), 'ExpectationFailed');
      assert.ok(r!.headers['x-amz-request-id']);
    }
    assert.equal(await g.t.v.exists('/b/expect'), false);
  });
});

/** Sends head, and body only once asked with 100 Continue (as aws cli does); returns the final status and whether a 100 came first. */
function expectContinue(port: number, head: string, body: Buffer): Promise<{ interim: boolean; status: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    let sent = false;
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`no answer: ${JSON.stringify(data)}`))), 20_000);
    sock.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (!sent && data.startsWith('HTTP/1.1 100')) {
        sent = true;
        sock.write(body);
      }
      const finals = data.split('\r\n\r\n').filter((p) => /^HTTP\/1\.1 [2-5]\d\d/.test(p));
      if (finals.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ interim: data.startsWith('HTTP/1.1 100'), status: Number(finals[0]!.slice(9, 12)) });
      }
    });
    sock.on('error', () => undefined);
    sock.write(head + '\r\n');
  });
}

describe('gateway: refusals and small answers (signed requests)', () => {
  let g: TestGateway;
  let c: S3Client;
  let host: { host: string; port: number };
  const signed = async (method: string, path: string, query: Record<string, string> = {}, body = Buffer.alloc(0), extra: Record<string, string> = {}) => {
    const qs = Object.entries(query).map(([k, v]) => (v ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : encodeURIComponent(k))).join('&');
    const headers = await signedHeaders(host, method, path, query, body, extra);
    const r = await rawRequest(host.port, requestHead(method, qs ? `${path}?${qs}` : path, headers), body, 20_000);
    assert.ok(r, `${method} ${path}: no answer`);
    return r;
  };

  before(async () => {
    g = await startGateway();
    c = g.client();
    host = { host: new URL(g.url).host, port: g.gw.port };
    await c.send(new CreateBucketCommand({ Bucket: 'refuse' }));
    await c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'a b/c', Body: 'abc' }));
  });
  after(() => g?.close());

  it('refuses SSE-C and SSE-KMS with NotImplemented, and SSE-S3 on a volume that is not encrypted; nothing is stored', async () => {
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'ssec', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: '0123456789abcdef0123456789abcdef' })), 'NotImplemented');
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'kms', Body: 'x', ServerSideEncryption: 'aws:kms' })), 'NotImplemented');
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'sse', Body: 'x', ServerSideEncryption: 'AES256' })), 'NotImplemented');
    await rejectsWith(c.send(new CreateMultipartUploadCommand({ Bucket: 'refuse', Key: 'mp', SSEKMSKeyId: 'k', ServerSideEncryption: 'aws:kms' })), 'NotImplemented');
    // A customer key on a read is refused too, never a body served as if it decrypted.
    await rejectsWith(c.send(new GetObjectCommand({ Bucket: 'refuse', Key: 'a b/c', SSECustomerAlgorithm: 'AES256', SSECustomerKey: '0123456789abcdef0123456789abcdef' })), 'NotImplemented');
    for (const k of ['ssec', 'kms', 'sse']) assert.equal(await g.t.v.exists(`/refuse/${k}`), false);
  });

  it('accepts only the owner-only canned ACLs and refuses grants (AccessControlListNotSupported)', async () => {
    await c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'private', Body: 'x', ACL: 'private' }));
    await c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'bofc', Body: 'x', ACL: 'bucket-owner-full-control' }));
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'public', Body: 'x', ACL: 'public-read' })), 'AccessControlListNotSupported');
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'grant', Body: 'x', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })), 'AccessControlListNotSupported');
    assert.equal(await g.t.v.exists('/refuse/public'), false);
    await c.send(new PutObjectAclCommand({ Bucket: 'refuse', Key: 'private', ACL: 'private' }));
    await rejectsWith(c.send(new PutObjectAclCommand({ Bucket: 'refuse', Key: 'private', ACL: 'public-read-write' })), 'AccessControlListNotSupported');
    const other = { Owner: { ID: '0' }, Grants: [{ Grantee: { Type: 'CanonicalUser' as const, ID: '1234' }, Permission: 'READ' as const }] };
    await rejectsWith(c.send(new PutObjectAclCommand({ Bucket: 'refuse', Key: 'private', AccessControlPolicy: other })), 'AccessControlListNotSupported');
    const own = { Owner: { ID: '0' }, Grants: [{ Grantee: { Type: 'CanonicalUser' as const, ID: '0' }, Permission: 'FULL_CONTROL' as const }] };
    await c.send(new PutObjectAclCommand({ Bucket: 'refuse', Key: 'private', AccessControlPolicy: own }));
    assert.equal(code(await signed('PUT', '/refuse', { acl: '' }, Buffer.alloc(0), { 'x-amz-acl': 'public-read' })), 'AccessControlListNotSupported');
    assert.equal((await signed('PUT', '/refuse', { acl: '' }, Buffer.alloc(0), { 'x-amz-acl': 'private' })).status, 200);
  });

  it('answers sub-resources it does not implement with NotImplemented, never the object or a listing', async () => {
    for (const [method, path, sub] of [
      ['GET', '/refuse/a%20b/c', 'retention'],
      ['GET', '/refuse/a%20b/c', 'legal-hold'],
      ['HEAD', '/refuse/a%20b/c', 'retention'],
      ['GET', '/refuse', 'policyStatus'],
      ['GET', '/refuse', 'retention'],
      ['PUT', '/refuse/a%20b/c', 'restore'],
      ['DELETE', '/refuse/a%20b/c', 'legal-hold'],
      ['POST', '/refuse/a%20b/c', 'restore'],
    ] as const) {
      const r = await signed(method, path, { [sub]: '' });
      assert.equal(r.status, 501, `${method} ${path}?${sub}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      if (method !== 'HEAD') assert.equal(code(r), 'NotImplemented');
    }
    assert.equal(await g.t.v.readFile('/refuse/a b/c', 'utf8'), 'abc', 'DELETE ?legal-hold did not delete the object');
    // DeleteObjectTagging is served now: it removes the tags, never the object (it deleted the object once).
    assert.equal((await signed('DELETE', '/refuse/a%20b/c', { tagging: '' })).status, 204);
    assert.equal(await g.t.v.readFile('/refuse/a b/c', 'utf8'), 'abc', 'DELETE ?tagging did not delete the object');
  });

  it('pages ListBuckets with max-buckets and continuation-token, and filters by prefix', async () => {
    for (const b of ['page-a', 'page-b', 'page-c']) await c.send(new CreateBucketCommand({ Bucket: b }));
    const names: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await c.send(new ListBucketsCommand({ MaxBuckets: 1, Prefix: 'page-', ContinuationToken: token }));
      assert.equal(r.Buckets?.length, 1);
      names.push(r.Buckets![0]!.Name!);
      assert.equal(r.Prefix, 'page-');
      token = r.ContinuationToken;
      if (!token) break;
    }
    assert.deepEqual(names, ['page-a', 'page-b', 'page-c']);
    const all = await c.send(new ListBucketsCommand({}));
    assert.equal(all.ContinuationToken, undefined);
    assert.ok(all.Buckets!.length >= 4);
    assert.equal(code(await signed('GET', '/', { 'max-buckets': '0' })), 'InvalidArgument');
  });

  it('answers 200 to re-creating your own bucket in us-east-1 (409 BucketAlreadyOwnedByYou elsewhere)', async () => {
    await c.send(new CreateBucketCommand({ Bucket: 'refuse' }));
    const other = await startGateway({ region: 'eu-west-1' });
    try {
      await other.client().send(new CreateBucketCommand({ Bucket: 'mine', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
      await rejectsWith(other.client().send(new CreateBucketCommand({ Bucket: 'mine', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })), 'BucketAlreadyOwnedByYou');
    } finally {
      await other.close();
    }
  });

  it('does not URL-encode the top-level Prefix of ListObjects V1 (V2 does), and takes an empty continuation token as the first page', async () => {
    const v1 = await signed('GET', '/refuse', { prefix: 'a b/', 'encoding-type': 'url' });
    assert.match(v1.body.toString(), /<Prefix>a b\/<\/Prefix>/);
    assert.match(v1.body.toString(), /<Key>a%20b\/c<\/Key>/);
    const v2 = await signed('GET', '/refuse', { 'list-type': '2', prefix: 'a b/', 'encoding-type': 'url' });
    assert.match(v2.body.toString(), /<Prefix>a%20b\/<\/Prefix>/);
    const empty = await signed('GET', '/refuse', { 'list-type': '2', 'continuation-token': '' });
    assert.equal(empty.status, 200, empty.body.toString());
    assert.match(empty.body.toString(), /<Key>a b\/c<\/Key>/);
    assert.equal(code(await signed('GET', '/refuse', { 'list-type': '2', 'continuation-token': 'not a token' })), 'InvalidArgument');
  });

  it('gives the same owner in listings, ListBuckets and ACLs, with grantees typed by xsi:type', async () => {
    const list = await c.send(new ListObjectsCommand({ Bucket: 'refuse' }));
    const acl = await c.send(new GetObjectAclCommand({ Bucket: 'refuse', Key: 'a b/c' }));
    const buckets = await c.send(new ListBucketsCommand({}));
    assert.deepEqual(list.Contents![0]!.Owner, acl.Owner);
    assert.deepEqual(buckets.Owner, acl.Owner);
    assert.equal(acl.Grants![0]!.Grantee!.Type, 'CanonicalUser');
    assert.equal(acl.Grants![0]!.Grantee!.ID, acl.Owner!.ID);
    const raw = await signed('GET', '/refuse', { acl: '' });
    assert.match(raw.body.toString(), /<Grantee xmlns:xsi="http:\/\/www\.w3\.org\/2001\/XMLSchema-instance" xsi:type="CanonicalUser">/);
    // The ACL's owner is the object's owner, not the caller.
    await g.t.v.writeFile('/refuse/alices', 'a');
    await g.t.v.chown('/refuse/alices', ALICE.uid, ALICE.gid);
    const aliceAcl = await c.send(new GetObjectAclCommand({ Bucket: 'refuse', Key: 'alices' }));
    assert.equal(aliceAcl.Owner!.ID, String(ALICE.uid));
  });

  it('asks for the body (100 Continue) only after authenticating the request', async () => {
    const body = Buffer.from('hello');
    const good = await signedHeaders(host, 'PUT', '/refuse/continue', {}, body, { expect: '100-continue' });
    const ok = await expectContinue(host.port, requestHead('PUT', '/refuse/continue', good), body);
    assert.equal(ok.interim, true, 'a signed request is asked for its body');
    assert.equal(ok.status, 200);
    assert.equal(await g.t.v.readFile('/refuse/continue', 'utf8'), 'hello');
    const bad = { ...good, authorization: good.authorization!.replace(/Signature=\w+/, 'Signature=' + '0'.repeat(64)) };
    const refused = await expectContinue(host.port, requestHead('PUT', '/refuse/continue', bad), body);
    assert.equal(refused.interim, false, 'no 100 Continue before the signature was checked');
    assert.equal(refused.status, 403);
  });

  it('stores non-ASCII user metadata (raw UTF-8 or RFC 2047) as text and returns it RFC 2047-encoded', async () => {
    const body = Buffer.from('m');
    const r = await signed('PUT', '/refuse/meta-utf8', {}, body, { 'x-amz-meta-name': 'héllo wörld ✓' });
    assert.equal(r.status, 200, r.body.toString());
    await c.send(new PutObjectCommand({ Bucket: 'refuse', Key: 'meta-2047', Body: 'm', Metadata: { name: '=?UTF-8?B?aMOpbGxvIHfDtnJsZCDinJM=?=', plain: 'ascii' } }));
    for (const key of ['meta-utf8', 'meta-2047']) {
      const h = await c.send(new HeadObjectCommand({ Bucket: 'refuse', Key: key }));
      assert.equal(h.Metadata!.name, '=?UTF-8?B?aMOpbGxvIHfDtnJsZCDinJM=?=', key);
      const stored = JSON.parse((await g.t.v.getxattr(`/refuse/${key}`, 'user.s3.meta')).toString()) as { user: Record<string, string> };
      assert.equal(stored.user.name, 'héllo wörld ✓', key);
    }
    assert.equal((await c.send(new HeadObjectCommand({ Bucket: 'refuse', Key: 'meta-2047' }))).Metadata!.plain, 'ascii');
  });
});

describe('gateway: SSE-S3 on an encrypted volume', () => {
  let g: TestGateway;
  let c: S3Client;
  before(async () => {
    const { newEncryption } = await import('../src/object/transforms/index.js');
    const keyFile = join(await mkdtemp(join(tmpdir(), 'ferry-key-')), 'key');
    await writeFile(keyFile, Buffer.alloc(32, 9));
    const { record } = await newEncryption({ keyFile });
    process.env.FERRY_ENCRYPT_KEY_FILE = keyFile;
    try {
      g = await startGateway({ client: { encryption: { keyFile } } }, { format: { encryption: record } });
    } finally {
      delete process.env.FERRY_ENCRYPT_KEY_FILE;
    }
    c = g.client();
    await c.send(new CreateBucketCommand({ Bucket: 'enc' }));
  });
  after(() => g?.close());

  it('accepts AES256, says every object is AES256, and still refuses SSE-C and SSE-KMS', async () => {
    const put = await c.send(new PutObjectCommand({ Bucket: 'enc', Key: 'a', Body: 'secret', ServerSideEncryption: 'AES256' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    const plain = await c.send(new PutObjectCommand({ Bucket: 'enc', Key: 'b', Body: 'also' }));
    assert.equal(plain.ServerSideEncryption, 'AES256');
    const get = await c.send(new GetObjectCommand({ Bucket: 'enc', Key: 'a' }));
    assert.equal(get.ServerSideEncryption, 'AES256');
    assert.equal(await get.Body!.transformToString(), 'secret');
    assert.equal((await c.send(new HeadObjectCommand({ Bucket: 'enc', Key: 'b' }))).ServerSideEncryption, 'AES256');
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'enc', Key: 'c', Body: 'x', ServerSideEncryption: 'aws:kms' })), 'NotImplemented');
    await rejectsWith(c.send(new PutObjectCommand({ Bucket: 'enc', Key: 'c', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: '0123456789abcdef0123456789abcdef' })), 'NotImplemented');
    await rejectsWith(c.send(new GetObjectCommand({ Bucket: 'enc', Key: 'none' })), 'NoSuchKey');
  });
});
