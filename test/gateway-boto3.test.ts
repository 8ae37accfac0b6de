// boto3 (Debian's python3-boto3, run with Debian's /usr/bin/python3) against the gateway and against Ceph RGW:
// test/fixtures/boto3-edges.py reports what each answered to the requests of issue 19 items 2, 11 and 12. The
// gateway must give S3's answers; RGW's are checked as docs/gateway.md records them ("where FerryFS and RGW
// differ"), so the table stays true.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT_KEY, startGateway, type TestGateway } from './helpers/gateway.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../test/fixtures/boto3-edges.py', import.meta.url));
const HAVE_BOTO3 = spawnSync(PYTHON, ['-c', 'import boto3'], { encoding: 'utf8' }).status === 0;
const MISSING = `Debian's python3-boto3 is not installed: run 'apt-get install -y python3-boto3' (or source .ci/setup.d/40-s3-clients.sh)`;
if (!HAVE_BOTO3 && process.env.CI) throw new Error(MISSING);

type Report = Record<string, string | { status: number; body: string }>;

function edges(endpoint: string, access: string, secret: string, bucket: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, endpoint, access, secret, bucket], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`boto3-edges.py failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as Report);
    });
  });
}

describe('gateway edges with boto3, and RGW for comparison', { skip: HAVE_BOTO3 ? false : MISSING }, () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway();
  });
  after(() => g?.close());

  it('gives S3 answers to boto3', async () => {
    const r = await edges(g.url, ROOT_KEY.accessKey, ROOT_KEY.secret, 'boto3-edges');
    const v2 = r.sigv2_presign as { status: number; body: string };
    assert.equal(v2.status, 400);
    assert.match(v2.body, /<Code>InvalidRequest<\/Code>/);
    assert.match(v2.body, /AWS4-HMAC-SHA256/);
    assert.deepEqual(r.sigv4_presign, { status: 200, body: 'abc' });
    const { sigv2_presign: _a, sigv4_presign: _b, ...rest } = r;
    assert.deepEqual(rest, {
      recreate: 'ok',
      meta_2047: '=?UTF-8?B?aMOpbGxv?=',
      v1_prefix: 'a b/',
      v1_key: 'a b/c',
      sse_kms: 'NotImplemented',
      acl_public_read: 'AccessControlListNotSupported',
      acl_private: 'ok',
      grantee_type: 'CanonicalUser',
      retention: 'NotImplemented',
      legal_hold: 'NotImplemented',
      dotdot_get: 'InvalidBucketName',
    });
  });

  it('RGW answers as docs/gateway.md says it does', async () => {
    await requireRgw();
    const r = await edges(RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY, rgwBucket('edges'));
    // The same as FerryFS:
    assert.equal(r.recreate, 'ok');
    assert.equal(r.v1_prefix, 'a b/');
    assert.equal(r.grantee_type, 'CanonicalUser');
    assert.deepEqual(r.sigv4_presign, { status: 200, body: 'abc' });
    // Where they differ (the table in docs/gateway.md):
    assert.equal((r.sigv2_presign as { status: number }).status, 200, 'RGW still serves SigV2 presigned URLs');
    assert.equal(r.acl_public_read, 'ok', 'RGW stores ACL grants');
    assert.equal(r.sse_kms, 'InvalidRequest', 'RGW refuses SSE over plain HTTP');
    assert.equal(r.retention, 'InvalidRequest', 'RGW: object lock not configured');
    assert.equal(r.meta_2047, '=?UTF-8?B?aMOpbGxv?=');
    assert.equal(r.dotdot_get, 'NoSuchBucket');
  });
});
