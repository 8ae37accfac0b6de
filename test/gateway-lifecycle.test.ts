// Lifecycle for cleanup (issue 19 item 10): Put/Get/DeleteBucketLifecycleConfiguration through the AWS SDK
// v3 and awscli, the rules checked as S3 checks them, and the gateway's lifecycle job (run with a clock
// days ahead) expiring objects by prefix, tag and size, aborting old multipart uploads, and putting what
// it expires in the volume's trash when the trash is on. Configuration round trips run on Ceph RGW too
// (its own lifecycle worker runs on its schedule, not on a test's).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { dueAfter } from '../src/gateway/lifecycle.js';
import { ALICE, ROOT_KEY, s3code, startGateway, type TestGateway } from './helpers/gateway.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';
import { tool } from './helpers/tools.js';

const DAY = 86_400_000;

const RULES: LifecycleRule[] = [
  { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 1 } },
  { ID: 'scratch', Status: 'Enabled', Filter: { Tag: { Key: 'class', Value: 'scratch' } }, Expiration: { Days: 3 } },
  { ID: 'big-tmp', Status: 'Enabled', Filter: { And: { Prefix: 'tmp/', ObjectSizeGreaterThan: 100 } }, Expiration: { Days: 1 } },
  { ID: 'uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
  { ID: 'off', Status: 'Disabled', Filter: { Prefix: 'keep/' }, Expiration: { Days: 1 } },
];

interface Target {
  s3: S3Client;
  bucket: string;
}

/** Where Ceph RGW 16.2 answers otherwise than the S3 reference (the same rows are in docs/gateway.md). */
const RGW_DIFFERS: Record<string, string> = {
  'size-filter': 'RGW 16.2 drops an And filter with ObjectSizeGreaterThan (Prefix and size are not given back)',
};

function sharedChecks(name: string, target: () => Target, differs: Record<string, string> = {}): void {
  describe(`lifecycle configuration: ${name}`, () => {
    it('GetBucketLifecycleConfiguration without one is NoSuchLifecycleConfiguration', async () => {
      const t = target();
      assert.equal(await s3code(t.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: t.bucket }))), 'NoSuchLifecycleConfiguration');
    });

    it('Put then Get gives the rules back; Delete removes them', async () => {
      const t = target();
      await t.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: t.bucket, LifecycleConfiguration: { Rules: RULES } }));
      const rules = (await t.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: t.bucket }))).Rules!;
      // In the order given on FerryFS; Ceph RGW gives them sorted by ID (S3 does not say).
      assert.deepEqual(rules.map((r) => [r.ID, r.Status]).sort(), RULES.map((r) => [r.ID, r.Status]).sort());
      const got = (id: string) => rules.find((r) => r.ID === id)!;
      assert.equal(got('logs').Filter?.Prefix, 'logs/');
      assert.equal(got('logs').Expiration?.Days, 1);
      assert.deepEqual(got('scratch').Filter?.Tag, { Key: 'class', Value: 'scratch' });
      if (!differs['size-filter']) {
        assert.equal(got('big-tmp').Filter?.And?.Prefix, 'tmp/');
        assert.equal(got('big-tmp').Filter?.And?.ObjectSizeGreaterThan, 100);
      }
      assert.equal(got('uploads').AbortIncompleteMultipartUpload?.DaysAfterInitiation, 2);
      await t.s3.send(new DeleteBucketLifecycleCommand({ Bucket: t.bucket }));
      assert.equal(await s3code(t.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: t.bucket }))), 'NoSuchLifecycleConfiguration');
    });

    it('rules S3 refuses are refused: Days 0, no Status, duplicate IDs', async () => {
      const t = target();
      const put = (Rules: LifecycleRule[]) => s3code(t.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: t.bucket, LifecycleConfiguration: { Rules } })));
      assert.equal(await put([{ ID: 'z', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 0 } }]), 'InvalidArgument');
      assert.equal(await put([{ ID: 'z', Status: 'Maybe' as 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }]), 'MalformedXML');
      assert.equal(await put([RULES[0]!, { ...RULES[0]!, Filter: { Prefix: 'other/' } }]), 'InvalidArgument');
    });
  });
}

describe('S3 gateway: lifecycle', () => {
  let g: TestGateway;
  let s3: S3Client;
  before(async () => {
    g = await startGateway();
    s3 = g.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'conf' }));
  });
  after(() => g?.close());

  sharedChecks('FerryFS', () => ({ s3, bucket: 'conf' }));

  it('what the gateway would not carry out is refused: transitions, AbortIncompleteMultipartUpload with a tag', async () => {
    const put = (Rules: LifecycleRule[]) => s3code(s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'conf', LifecycleConfiguration: { Rules } })));
    assert.equal(await put([{ ID: 'glacier', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }]), 'NotImplemented');
    assert.equal(await put([{ ID: 't', Status: 'Enabled', Filter: { Tag: { Key: 'a', Value: 'b' } }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }]), 'InvalidRequest');
    assert.equal(await put([{ ID: 'none', Status: 'Enabled', Filter: { Prefix: '' } }]), 'InvalidRequest');
  });

  it('only the bucket owner sets or reads the lifecycle', async () => {
    const alice = g.client(ALICE);
    assert.equal(await s3code(alice.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'conf', LifecycleConfiguration: { Rules: RULES } }))), 'AccessDenied');
    assert.equal(await s3code(alice.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'conf' }))), 'AccessDenied');
  });

  it('the job expires by prefix, tag and size when due, aborts old uploads, and leaves the rest', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'life' }));
    const put = (Key: string, Body: string | Buffer) => s3.send(new PutObjectCommand({ Bucket: 'life', Key, Body }));
    await put('logs/a.log', 'a');
    await put('logs/deep/b.log', 'b');
    await put('keep/c.txt', 'c');
    await put('tagged.bin', 't');
    await put('tmp/small', 'x');
    await put('tmp/big', Buffer.alloc(200));
    await put('other', 'o');
    // Tags as the tagging operations store them (an extended attribute of the file).
    await g.t.v.setxattr('/life/tagged.bin', 'user.s3.tags', JSON.stringify([['class', 'scratch']]));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'life', Key: 'half/done' }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'life', LifecycleConfiguration: { Rules: RULES } }));
    const exists = async (Key: string) => (await s3code(s3.send(new HeadObjectCommand({ Bucket: 'life', Key }))).catch(() => 'ok')) !== '404';
    const listed = async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'life' }))).Uploads ?? []).map((u) => u.UploadId);

    assert.deepEqual((await g.gw.runLifecycle()).expired, [], 'nothing is due today');
    // Days count from the object's time rounded up to midnight UTC, as S3 counts them: one day after now,
    // rounded up, whatever the time of day the test runs at (now + 1.5 days fell short before noon UTC).
    const day1 = await g.gw.runLifecycle(dueAfter(Date.now(), 1));
    assert.deepEqual(day1.expired.sort(), ['life/logs/a.log', 'life/logs/deep/b.log', 'life/tmp/big']);
    assert.deepEqual(day1.aborted, []);
    assert.equal(await exists('logs/a.log'), false);
    assert.equal(await exists('tmp/small'), true, 'not larger than 100 bytes');
    assert.equal(await exists('tagged.bin'), true, 'its rule says 3 days');
    assert.deepEqual(await listed(), [UploadId]);
    const day4 = await g.gw.runLifecycle(Date.now() + 4 * DAY);
    assert.deepEqual(day4.expired, ['life/tagged.bin']);
    assert.deepEqual(day4.aborted, [UploadId]);
    assert.deepEqual(await listed(), []);
    for (const k of ['keep/c.txt', 'tmp/small', 'other']) assert.equal(await exists(k), true, `${k} stays`);
    assert.deepEqual((await g.gw.runLifecycle(Date.now() + 4 * DAY)).expired, [], 'a run again finds nothing more');
  });

  it('an Expiration Date expires every matching object from that day on', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'dated' }));
    await s3.send(new PutObjectCommand({ Bucket: 'dated', Key: 'x', Body: 'x' }));
    const midnight = new Date(Math.ceil((Date.now() + DAY) / DAY) * DAY);
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'dated', LifecycleConfiguration: { Rules: [{ ID: 'd', Status: 'Enabled', Filter: {}, Expiration: { Date: midnight } }] } }));
    assert.deepEqual((await g.gw.runLifecycle()).expired, []);
    assert.deepEqual((await g.gw.runLifecycle(midnight.getTime())).expired, ['dated/x']);
  });
});

describe('S3 gateway: lifecycle expiration with the volume trash on', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway({}, { format: { trashDays: 1 } });
  });
  after(() => g?.close());

  it('an expired object goes to the trash, where it can be found by its name', async () => {
    const s3 = g.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'bin' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bin', Key: 'old/report.csv', Body: 'a,b\n' }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'bin', LifecycleConfiguration: { Rules: [{ ID: 'old', Status: 'Enabled', Filter: { Prefix: 'old/' }, Expiration: { Days: 1 } }] } }));
    assert.deepEqual((await g.gw.runLifecycle(Date.now() + 2 * DAY)).expired, ['bin/old/report.csv']);
    assert.equal(await g.t.v.exists('/bin/old/report.csv'), false);
    const trashed: string[] = [];
    for (const hour of await g.t.v.readdir('/.trash')) for (const e of await g.t.v.readdir(`/.trash/${hour}`)) trashed.push(e);
    assert.ok(trashed.some((e) => e.endsWith('-report.csv')), `in the trash: ${trashed.join(' ')}`);
  });
});

describe('S3 gateway: lifecycle and CORS with awscli', () => {
  let g: TestGateway;
  before(async () => {
    tool('aws');
    g = await startGateway();
    await g.client().send(new CreateBucketCommand({ Bucket: 'cli' }));
  });
  after(() => g?.close());

  const aws = async (args: string[]): Promise<string> => {
    const config = join(g.t.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    const env = { ...process.env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(g.t.dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_ACCESS_KEY_ID: ROOT_KEY.accessKey, AWS_SECRET_ACCESS_KEY: ROOT_KEY.secret };
    return new Promise((resolve, reject) =>
      execFile(tool('aws'), ['--endpoint-url', g.url, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`aws ${args.join(' ')}: ${stderr}`)) : resolve(stdout))),
    );
  };

  it('s3api put-bucket-lifecycle-configuration / get / delete', async () => {
    const conf = { Rules: [{ ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] };
    await aws(['s3api', 'put-bucket-lifecycle-configuration', '--bucket', 'cli', '--lifecycle-configuration', JSON.stringify(conf)]);
    const got = JSON.parse(await aws(['s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'cli'])) as { Rules: Array<{ ID: string; Expiration: { Days: number } }> };
    assert.equal(got.Rules[0]!.ID, 'tmp');
    assert.equal(got.Rules[0]!.Expiration.Days, 7);
    await aws(['s3api', 'delete-bucket-lifecycle', '--bucket', 'cli']);
    await assert.rejects(aws(['s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'cli']), /NoSuchLifecycleConfiguration/);
  });

  it('s3api put-bucket-cors / get-bucket-cors / delete-bucket-cors', async () => {
    const conf = { CORSRules: [{ AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], MaxAgeSeconds: 60 }] };
    await aws(['s3api', 'put-bucket-cors', '--bucket', 'cli', '--cors-configuration', JSON.stringify(conf)]);
    const got = JSON.parse(await aws(['s3api', 'get-bucket-cors', '--bucket', 'cli'])) as { CORSRules: Array<{ AllowedOrigins: string[]; MaxAgeSeconds: number }> };
    assert.deepEqual(got.CORSRules[0]!.AllowedOrigins, ['https://app.example.com']);
    assert.equal(got.CORSRules[0]!.MaxAgeSeconds, 60);
    const r = await fetch(`${g.url}/cli/k`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-anything' } });
    assert.equal(r.status, 200);
    await aws(['s3api', 'delete-bucket-cors', '--bucket', 'cli']);
    await assert.rejects(aws(['s3api', 'get-bucket-cors', '--bucket', 'cli']), /NoSuchCORSConfiguration/);
  });
});

describe('the same lifecycle checks on Ceph RGW', () => {
  let s3: S3Client;
  const bucket = rgwBucket('life');
  before(async () => {
    await requireRgw();
    s3 = new S3Client({ endpoint: RGW_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(() => s3?.destroy());

  sharedChecks('Ceph RGW', () => ({ s3, bucket }), RGW_DIFFERS);
});
