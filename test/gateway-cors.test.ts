// CORS and browser uploads (issue 19 item 9): Put/Get/DeleteBucketCors through the AWS SDK v3, the OPTIONS
// preflight and CORS headers on actual requests with fetch as a browser sends them, and POST Object with a
// SigV4-signed policy, as a hand-built form and as the FormData a browser script builds. The checks S3
// defines the answer of run against Ceph RGW too (docs/gateway.md keeps the table of differences).
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Gateway } from '../src/gateway/index.js';
import { ALICE, ROOT_KEY, s3code, startGateway, type TestGateway } from './helpers/gateway.js';
import { signedHeaders } from './helpers/gateway-child.js';
import { Sha256 } from './helpers/sha256.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';

const hostPort = (endpoint: string) => ({ host: new URL(endpoint).host, port: Number(new URL(endpoint).port) });

async function presignedGet(t: Target, path: string): Promise<string> {
  const u = new URL(t.endpoint);
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: t.key.accessKey, secretAccessKey: t.key.secret }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
  const r = await signer.presign({ method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} }, { expiresIn: 300 });
  const qs = Object.entries(r.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `${t.endpoint}${path}?${qs}`;
}

async function bodyOf(r: { Body?: unknown }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r.Body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

interface Target {
  s3: S3Client;
  bucket: string;
  endpoint: string;
  key: { accessKey: string; secret: string };
}

const RULES = [
  { ID: 'app', AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET', 'PUT', 'POST'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag', 'x-amz-request-id'], MaxAgeSeconds: 600 },
  { AllowedOrigins: ['http://*.example.org'], AllowedMethods: ['GET', 'HEAD'] },
  { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
];

/** The fields of a POST form signed with SigV4 (what @aws-sdk/s3-presigned-post makes; it is not among the dependencies). */
function signedForm(key: { accessKey: string; secret: string }, conditions: unknown[], fields: Record<string, string>, expiresInMs = 600_000, region = 'us-east-1'): Record<string, string> {
  const now = new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const credential = `${key.accessKey}/${date}/${region}/s3/aws4_request`;
  const all = { ...fields, 'x-amz-algorithm': 'AWS4-HMAC-SHA256', 'x-amz-credential': credential, 'x-amz-date': amzDate };
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + expiresInMs).toISOString(),
      conditions: [...conditions, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }],
    }),
  ).toString('base64');
  const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
  const signing = h(h(h(h('AWS4' + key.secret, date), region), 's3'), 'aws4_request');
  return { ...all, policy, 'x-amz-signature': createHmac('sha256', signing).update(policy).digest('hex') };
}

/** A multipart/form-data body written by hand (fields in order, the file last). */
function formBody(fields: Record<string, string>, file: Buffer, filename = 'photo.jpg', boundary = '----ferry' + randomBytes(8).toString('hex')): { body: Buffer; type: string } {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/jpeg\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

async function post(t: Target, form: { body: Buffer; type: string } | FormData, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const r = await fetch(`${t.endpoint}/${t.bucket}`, {
    method: 'POST',
    body: form instanceof FormData ? form : new Uint8Array(form.body),
    headers: form instanceof FormData ? headers : { 'content-type': form.type, ...headers },
    redirect: 'manual',
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const code = (text: string) => /<Code>([^<]+)<\/Code>/.exec(text)?.[1];

/** Where Ceph RGW 16.2 answers otherwise than the S3 reference (the same rows are in docs/gateway.md). */
export const RGW_DIFFERS: Record<string, string> = {
  // Each is answered, with another code or form than S3's: the status is checked on RGW, the rest only on FerryFS.
  'preflight-code': 'RGW 16.2 refuses a preflight with AccessDenied (S3: AccessForbidden)',
  'cors-method-code': 'RGW 16.2 answers MalformedXML to an AllowedMethod S3 does not allow (S3: InvalidRequest)',
  'post-etag': 'RGW 16.2 sends no ETag on a 204 POST Object answer',
  'wildcard-origin': "RGW 16.2 answers a rule's AllowedOrigin * with the request's Origin (S3: *)",
  'post-signature-code': 'RGW 16.2 answers a POST policy with a wrong signature AccessDenied (S3: SignatureDoesNotMatch)',
};

function sharedChecks(name: string, target: () => Target, differs: Record<string, string> = {}): void {
  const forbidden = differs['preflight-code'] ? 'AccessDenied' : 'AccessForbidden';
  describe(`CORS and browser uploads: ${name}`, () => {
    it('GetBucketCors without a configuration is NoSuchCORSConfiguration; a preflight then is 403', async () => {
      const t = target();
      assert.equal(await s3code(t.s3.send(new GetBucketCorsCommand({ Bucket: t.bucket }))), 'NoSuchCORSConfiguration');
      const r = await fetch(`${t.endpoint}/${t.bucket}/k`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(r.status, 403);
      assert.equal(code(await r.text()), forbidden);
    });

    it('PutBucketCors then GetBucketCors gives the rules back', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      const got = await t.s3.send(new GetBucketCorsCommand({ Bucket: t.bucket }));
      assert.equal(got.CORSRules?.length, 3);
      assert.deepEqual(got.CORSRules![0]!.AllowedMethods, ['GET', 'PUT', 'POST']);
      assert.deepEqual(got.CORSRules![0]!.AllowedHeaders, ['content-type', 'x-amz-*']);
      assert.deepEqual(got.CORSRules![0]!.ExposeHeaders, ['ETag', 'x-amz-request-id']);
      assert.equal(got.CORSRules![0]!.MaxAgeSeconds, 600);
      assert.deepEqual(got.CORSRules![1]!.AllowedOrigins, ['http://*.example.org']);
    });

    it('GetBucketCors keeps the rule ID', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      assert.equal((await t.s3.send(new GetBucketCorsCommand({ Bucket: t.bucket }))).CORSRules![0]!.ID, 'app');
    });

    it('a preflight matching a rule is 200 with its Access-Control-* headers', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      const r = await fetch(`${t.endpoint}/${t.bucket}/photos/a.jpg`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'Content-Type, X-Amz-Date' },
      });
      assert.equal(r.status, 200, await r.text());
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.match(r.headers.get('access-control-allow-methods') ?? '', /PUT/);
      assert.deepEqual(r.headers.get('access-control-allow-headers')?.toLowerCase().split(',').map((h) => h.trim()), ['content-type', 'x-amz-date']);
      assert.equal(r.headers.get('access-control-max-age'), '600');
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /ETag/);
      // A wildcard origin pattern, and the '*' rule.
      const w = await fetch(`${t.endpoint}/${t.bucket}/x`, { method: 'OPTIONS', headers: { Origin: 'http://shop.example.org', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(w.status, 200);
      assert.equal(w.headers.get('access-control-allow-origin'), 'http://shop.example.org');
      const any = await fetch(`${t.endpoint}/${t.bucket}/x`, { method: 'OPTIONS', headers: { Origin: 'https://elsewhere.net', 'Access-Control-Request-Method': 'HEAD' } });
      assert.equal(any.status, 200);
      assert.equal(any.headers.get('access-control-allow-origin'), differs['wildcard-origin'] ? 'https://elsewhere.net' : '*');
    });

    it('a preflight answer varies on Origin', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      const r = await fetch(`${t.endpoint}/${t.bucket}/x`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' } });
      assert.match(r.headers.get('vary') ?? '', /Origin/);
    });

    it('a preflight no rule allows (origin, method or a header) is 403 AccessForbidden', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      const ask = async (origin: string, method: string, hdrs?: string) => {
        const r = await fetch(`${t.endpoint}/${t.bucket}/k`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': method, ...(hdrs ? { 'Access-Control-Request-Headers': hdrs } : {}) } });
        return [r.status, code(await r.text()), r.headers.get('access-control-allow-origin')];
      };
      assert.deepEqual(await ask('https://evil.example.net', 'PUT'), [403, forbidden, null]);
      assert.deepEqual(await ask('https://app.example.com', 'DELETE'), [403, forbidden, null]);
      assert.deepEqual(await ask('https://app.example.com', 'PUT', 'authorization-x'), [403, forbidden, null]);
      assert.deepEqual(await ask('http://shop.example.org', 'GET', 'content-type'), [403, forbidden, null], 'a rule without AllowedHeader allows none');
    });

    it('an actual request from an allowed origin carries Access-Control-Allow-Origin and Expose-Headers; another origin none', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      await t.s3.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'public.txt', Body: 'hi' }));
      const get = async (origin: string) => {
        // What a browser script does: a presigned URL, fetched with the page's Origin.
        return fetch(await presignedGet(t, `/${t.bucket}/public.txt`), { headers: { origin } });
      };
      const ok = await get('https://app.example.com');
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'hi');
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.match(ok.headers.get('access-control-expose-headers') ?? '', /ETag/);
      const no = await get('https://evil.example.net');
      assert.equal(no.status, 200);
      await no.text();
      assert.equal(no.headers.get('access-control-allow-origin'), null);
    });

    it('DeleteBucketCors removes the rules: preflights are refused again', async () => {
      const t = target();
      await t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: RULES } }));
      await t.s3.send(new DeleteBucketCorsCommand({ Bucket: t.bucket }));
      assert.equal(await s3code(t.s3.send(new GetBucketCorsCommand({ Bucket: t.bucket }))), 'NoSuchCORSConfiguration');
      const r = await fetch(`${t.endpoint}/${t.bucket}/k`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(r.status, 403);
    });

    it('PutBucketCors with a method S3 does not allow is InvalidRequest; a rule without origins is MalformedXML', async () => {
      const t = target();
      const patch = await s3code(t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] } })));
      assert.equal(patch, differs['cors-method-code'] ? 'MalformedXML' : 'InvalidRequest');
      assert.equal(await s3code(t.s3.send(new PutBucketCorsCommand({ Bucket: t.bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [], AllowedMethods: ['GET'] }] } }))), 'MalformedXML');
    });

    it('POST Object with a signed policy stores the file (204), with its Content-Type and metadata', async () => {
      const t = target();
      const data = randomBytes(100_000);
      const fields = signedForm(t.key, [{ bucket: t.bucket }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$Content-Type', 'image/'], ['content-length-range', 1, 1 << 20], ['starts-with', '$x-amz-meta-owner', '']], {
        key: 'uploads/${filename}',
        'Content-Type': 'image/jpeg',
        'x-amz-meta-owner': 'browser',
      });
      const r = await post(t, formBody(fields, data, 'cat.jpg'));
      assert.equal(r.status, 204, r.text);
      if (!differs['post-etag']) assert.equal(r.headers.get('etag'), `"${createHash('md5').update(data).digest('hex')}"`);
      const h = await t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'uploads/cat.jpg' }));
      assert.equal(h.ContentType, 'image/jpeg');
      assert.equal(h.Metadata?.owner, 'browser');
      assert.ok((await bodyOf(await t.s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: 'uploads/cat.jpg' })))).equals(data));
    });

    it('POST Object from a browser FormData with success_action_status 201 answers a PostResponse', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/one.txt' }, { success_action_status: '201' }], { key: 'form/one.txt', success_action_status: '201' });
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) fd.append(k, v);
      fd.append('file', new Blob(['from a browser']), 'one.txt');
      const r = await post(t, fd);
      assert.equal(r.status, 201, r.text);
      assert.match(r.text, /<PostResponse[\s>]/);
      assert.match(r.text, /<Key>form\/one.txt<\/Key>/);
      assert.equal((await bodyOf(await t.s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: 'form/one.txt' })))).toString(), 'from a browser');
    });

    it('POST Object with success_action_redirect answers 303 to it with bucket, key and etag', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/redir' }, { success_action_redirect: 'https://app.example.com/done' }], { key: 'form/redir', success_action_redirect: 'https://app.example.com/done' });
      const r = await post(t, formBody(fields, Buffer.from('x')));
      assert.equal(r.status, 303, r.text);
      const loc = new URL(r.headers.get('location')!);
      assert.equal(loc.origin + loc.pathname, 'https://app.example.com/done');
      assert.equal(loc.searchParams.get('key'), 'form/redir');
      assert.equal(loc.searchParams.get('bucket'), t.bucket);
    });

    it('POST Object whose fields break a policy condition is 403 AccessDenied and stores nothing', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, ['starts-with', '$key', 'uploads/']], { key: 'elsewhere/x' });
      const r = await post(t, formBody(fields, Buffer.from('x')));
      assert.equal(r.status, 403, r.text);
      assert.equal(code(r.text), 'AccessDenied');
      assert.equal(await s3code(t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'elsewhere/x' }))), '404');
      // The same policy with a key it allows goes through.
      const good = signedForm(t.key, [{ bucket: t.bucket }, ['starts-with', '$key', 'uploads/']], { key: 'uploads/x' });
      assert.equal((await post(t, formBody(good, Buffer.from('x')))).status, 204);
    });

    it('POST Object with a field the policy does not name is 403', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/extra' }], { key: 'form/extra' });
      const r = await post(t, formBody({ ...fields, 'x-amz-meta-sneaky': 'yes' }, Buffer.from('x')));
      assert.equal(r.status, 403, r.text);
      assert.equal(await s3code(t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'form/extra' }))), '404');
      assert.equal((await post(t, formBody(fields, Buffer.from('x')))).status, 204, 'without the extra field');
    });

    it('POST Object: an expired policy and a wrong signature are 403', async () => {
      const t = target();
      const expired = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/late' }], { key: 'form/late' }, -60_000);
      const r = await post(t, formBody(expired, Buffer.from('x')));
      assert.equal(r.status, 403, r.text);
      assert.equal(code(r.text), 'AccessDenied');
      const forged = signedForm({ ...t.key, secret: 'not-the-secret-0123456789' }, [{ bucket: t.bucket }, { key: 'form/forged' }], { key: 'form/forged' });
      const f = await post(t, formBody(forged, Buffer.from('x')));
      assert.equal(f.status, 403, f.text);
      assert.equal(code(f.text), differs['post-signature-code'] ? 'AccessDenied' : 'SignatureDoesNotMatch');
      assert.equal(await s3code(t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'form/forged' }))), '404');
    });

    it('POST Object larger than content-length-range allows is EntityTooLarge and stores nothing', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/big' }, ['content-length-range', 0, 1000]], { key: 'form/big' });
      const r = await post(t, formBody(fields, randomBytes(5000)));
      assert.equal(r.status, 400, r.text);
      assert.equal(code(r.text), 'EntityTooLarge');
      assert.equal(await s3code(t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'form/big' }))), '404');
    });

    it('POST Object smaller than content-length-range allows is EntityTooSmall', async () => {
      const t = target();
      const fields = signedForm(t.key, [{ bucket: t.bucket }, { key: 'form/small' }, ['content-length-range', 10, 1000]], { key: 'form/small' });
      const r = await post(t, formBody(fields, Buffer.from('x')));
      assert.equal(r.status, 400, r.text);
      assert.equal(code(r.text), 'EntityTooSmall');
      assert.equal(await s3code(t.s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'form/small' }))), '404');
    });
  });
}

describe('S3 gateway: CORS and POST Object', () => {
  let g: TestGateway;
  let s3: S3Client;
  before(async () => {
    g = await startGateway();
    s3 = g.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'web' }));
  });
  after(() => g?.close());

  sharedChecks('FerryFS', () => ({ s3, bucket: 'web', endpoint: g.url, key: ROOT_KEY }));

  it('the rules live in the volume: another gateway of the volume serves the same preflight', async () => {
    await s3.send(new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: RULES } }));
    const other = await Gateway.start({ metaUrl: g.t.url, address: '127.0.0.1:0', errorLog: () => undefined });
    try {
      const r = await fetch(`${other.url}/web/k`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example.com');
    } finally {
      await other.close(1000);
    }
  });

  it('only the bucket owner changes or reads its CORS rules', async () => {
    const alice = g.client(ALICE);
    assert.equal(await s3code(alice.send(new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: RULES } }))), 'AccessDenied');
    assert.equal(await s3code(alice.send(new GetBucketCorsCommand({ Bucket: 'web' }))), 'AccessDenied');
    assert.equal(await s3code(alice.send(new DeleteBucketCorsCommand({ Bucket: 'web' }))), 'AccessDenied');
  });

  it('PutBucketCors without Content-MD5 or a checksum is InvalidRequest; a preflight without Origin is 400', async () => {
    const xml = Buffer.from('<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>');
    const hdrs = await signedHeaders(hostPort(g.url), 'PUT', '/web', { cors: '' }, xml);
    delete hdrs['content-length'];
    const r = await fetch(`${g.url}/web?cors=`, { method: 'PUT', headers: hdrs, body: xml });
    assert.equal(r.status, 400);
    assert.equal(code(await r.text()), 'InvalidRequest');
    const p = await fetch(`${g.url}/web/k`, { method: 'OPTIONS', headers: { 'Access-Control-Request-Method': 'GET' } });
    assert.equal(p.status, 400);
    assert.equal(code(await p.text()), 'BadRequest');
  });

  it('POST Object by a key that may not write the bucket is AccessDenied; without a policy it needs --anonymous', async () => {
    const t = { s3, bucket: 'web', endpoint: g.url, key: ALICE };
    const fields = signedForm(ALICE, [{ bucket: 'web' }, { key: 'alice.txt' }], { key: 'alice.txt' });
    const r = await post(t, formBody(fields, Buffer.from('x')));
    assert.equal(r.status, 403, r.text);
    assert.equal(code(r.text), 'AccessDenied');
    // Alice's own bucket takes her form.
    await g.client(ALICE).send(new CreateBucketCommand({ Bucket: 'alice-web' }));
    const own = await post({ ...t, bucket: 'alice-web' }, formBody(signedForm(ALICE, [{ bucket: 'alice-web' }, { key: 'alice.txt' }], { key: 'alice.txt' }), Buffer.from('mine')));
    assert.equal(own.status, 204, own.text);
    assert.equal((await g.t.v.stat('/alice-web/alice.txt')).uid, ALICE.uid);
    const anon = await post(t, formBody({ key: 'anon.txt' }, Buffer.from('x')));
    assert.equal(anon.status, 403, anon.text);
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'web', Key: 'anon.txt' }))), '404');
  });

  it('POST Object refuses an ACL it would ignore and a form without a file; a broken form is MalformedPOSTRequest', async () => {
    const t = { s3, bucket: 'web', endpoint: g.url, key: ROOT_KEY };
    const acl = signedForm(ROOT_KEY, [{ bucket: 'web' }, { key: 'pub' }, { acl: 'public-read' }], { key: 'pub', acl: 'public-read' });
    const a = await post(t, formBody(acl, Buffer.from('x')));
    assert.equal(code(a.text), 'AccessControlListNotSupported');
    const noFile = signedForm(ROOT_KEY, [{ bucket: 'web' }, { key: 'nofile' }], { key: 'nofile' });
    const fd = new FormData();
    for (const [k, v] of Object.entries(noFile)) fd.append(k, v);
    const n = await post(t, fd);
    assert.equal(n.status, 400);
    assert.equal(code(n.text), 'InvalidArgument');
    const whole = formBody(signedForm(ROOT_KEY, [{ bucket: 'web' }, { key: 'cut' }], { key: 'cut' }), Buffer.from('the file'), 'f', 'b0undary');
    const broken = await post(t, { body: whole.body.subarray(0, whole.body.length - 20), type: whole.type });
    assert.equal(broken.status, 400);
    assert.equal(code(broken.text), 'MalformedPOSTRequest');
    assert.equal((await fetch(`${g.url}/-/health`)).status, 200);
  });

  it('POST Object streams a file with boundary-like bytes across reads intact', async () => {
    const t = { s3, bucket: 'web', endpoint: g.url, key: ROOT_KEY };
    const boundary = 'XyZ' + randomBytes(6).toString('hex');
    // Near-misses of the delimiter all through the data, and 3 MiB so it arrives in many reads.
    const near = Buffer.from(`\r\n--${boundary.slice(0, -1)}!`);
    const data = Buffer.concat(Array.from({ length: 3000 }, () => Buffer.concat([randomBytes(1000), near])));
    const fields = signedForm(ROOT_KEY, [{ bucket: 'web' }, { key: 'stream.bin' }], { key: 'stream.bin' });
    const r = await post(t, formBody(fields, data, 'stream.bin', boundary));
    assert.equal(r.status, 204, r.text);
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'stream.bin' })))).equals(data));
  });
});

describe('the same checks on Ceph RGW', () => {
  let s3: S3Client;
  const bucket = rgwBucket('cors');
  before(async () => {
    await requireRgw();
    s3 = new S3Client({ endpoint: RGW_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(() => s3?.destroy());

  sharedChecks('Ceph RGW', () => ({ s3, bucket, endpoint: RGW_ENDPOINT, key: { accessKey: RGW_ACCESS_KEY, secret: RGW_SECRET_KEY } }), RGW_DIFFERS);
});
