// Checksums, tagging and the versions view (issue 19 items 6-8) with the clients users run: boto3 (Debian
// python3-boto3, test/fixtures/s3meta-boto3.py) and awscli, against the gateway and, for boto3, against
// Ceph RGW too: where the two answer differently is the table in docs/gateway.md, checked here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT_KEY, startGateway, type TestGateway } from './helpers/gateway.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';
import { tool } from './helpers/tools.js';

const SCRIPT = fileURLToPath(new URL('../../test/fixtures/s3meta-boto3.py', import.meta.url));

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function boto3(endpoint: string, access: string, secret: string, bucket: string): Promise<Record<string, unknown>> {
  const r = await run(tool('python3'), [SCRIPT, endpoint, access, secret, bucket]);
  assert.equal(r.code, 0, `s3meta-boto3.py against ${endpoint} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** What FerryFS answers (the S3 API reference's answers). */
const FERRY: Record<string, unknown> = {
  'sha256 kept': true,
  'crc32 kept': true,
  'wrong crc32': 'BadDigest',
  'wrong crc32 leaves no object': '404',
  'part 1 answers its crc32': true,
  'part 2 answers its crc32': true,
  'multipart composite': true,
  'tags from header': [{ Key: 'team', Value: 'ml' }, { Key: 'stage', Value: 'raw data' }],
  'tag count': 2,
  '11 tags': 'BadRequest',
  'long tag key': 'InvalidTag',
  'tags deleted': [],
  'no bucket tags': 'NoSuchTagSet',
  'bucket tags': [{ Key: 'owner', Value: 'ferry' }],
  'versioning before': null,
  versions: [['tags/a', 'null', true]],
  'get null version': 'x',
  'get other version': 'NoSuchVersion',
  'delete other version': 'NoSuchVersion',
  'object after deleting another version': 'ok',
  'suspend versioning': 'ok',
  'versioning after': 'Suspended',
  'delete emptied bucket': 'ok',
  'enable versioning': 'NotImplemented',
};

/** Where Ceph RGW answers otherwise (docs/gateway.md, "Where FerryFS and RGW differ"). */
const RGW_DIFFERS: Record<string, unknown> = {
  'sha256 kept': false,
  'crc32 kept': false,
  'wrong crc32': 'ok',
  'wrong crc32 leaves no object': 'ok',
  'part 1 answers its crc32': false,
  'part 2 answers its crc32': false,
  'multipart composite': false,
  'tags from header': [{ Key: 'stage', Value: 'raw data' }, { Key: 'team', Value: 'ml' }],
  '11 tags': 'InvalidTag',
  'get other version': 'NoSuchKey',
  'delete other version': 'ok',
  'enable versioning': 'ok',
};

describe('S3 gateway checksums, tagging, versions with boto3 and awscli', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway();
  });
  after(async () => {
    await g?.close();
  });

  it('boto3: the checks of s3meta-boto3.py answer as S3 does', async () => {
    const got = await boto3(g.url, ROOT_KEY.accessKey, ROOT_KEY.secret, 'boto3-meta');
    assert.deepEqual(got, FERRY);
  });

  it('boto3 against Ceph RGW: the same checks differ only where docs/gateway.md says', async () => {
    await requireRgw();
    const got = await boto3(RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY, rgwBucket('s3meta'));
    const differs = Object.fromEntries(Object.entries(got).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(FERRY[k])));
    assert.deepEqual(differs, RGW_DIFFERS);
  });

  it('awscli: a checksum kept and shown, tags, list-object-versions and delete-objects with version ids', async () => {
    const config = join(g.t.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    const env = {
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(g.t.dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      AWS_ACCESS_KEY_ID: ROOT_KEY.accessKey,
      AWS_SECRET_ACCESS_KEY: ROOT_KEY.secret,
    };
    const aws = async (...args: string[]) => {
      const r = await run(tool('aws'), ['--endpoint-url', g.url, '--output', 'json', ...args], env);
      assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
    };
    const file = join(g.t.dir, 'cli.bin');
    const data = randomBytes(100_000);
    await writeFile(file, data);
    await aws('s3api', 'create-bucket', '--bucket', 'cli-meta');
    await aws('s3api', 'put-object', '--bucket', 'cli-meta', '--key', 'f', '--body', file, '--checksum-algorithm', 'SHA256', '--tagging', 'src=awscli');
    const h = await aws('s3api', 'head-object', '--bucket', 'cli-meta', '--key', 'f', '--checksum-mode', 'ENABLED');
    assert.equal(h.ChecksumSHA256, createHash('sha256').update(data).digest('base64'));
    assert.deepEqual((await aws('s3api', 'get-object-tagging', '--bucket', 'cli-meta', '--key', 'f')).TagSet, [{ Key: 'src', Value: 'awscli' }]);
    const v = await aws('s3api', 'list-object-versions', '--bucket', 'cli-meta');
    const objects = (v.Versions as Array<{ Key: string; VersionId: string }>).map(({ Key, VersionId }) => ({ Key, VersionId }));
    assert.deepEqual(objects, [{ Key: 'f', VersionId: 'null' }]);
    await aws('s3api', 'delete-objects', '--bucket', 'cli-meta', '--delete', JSON.stringify({ Objects: objects }));
    await aws('s3api', 'delete-bucket', '--bucket', 'cli-meta');
  });
});
