// S3 bucket lifecycle: PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration,
// DeleteBucketLifecycle. The rules are carried out by the gateway's background job (lifecycle-job.ts).
import { smallBody, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { sendEmpty, sendXml } from '../http.js';
import { lifecycleFromXml, lifecycleXml, LIFECYCLE_LIMITS, XATTR_LIFECYCLE, type LifecycleRule } from '../lifecycle.js';
import { ownedBucket, readConfig, requireIntegrity, writeConfig } from './bucket-config.js';

export async function putBucketLifecycle(s: Services, c: Call): Promise<void> {
  c.op = 'PutBucketLifecycleConfiguration';
  const b = await ownedBucket(s, c);
  requireIntegrity(c);
  const rules = lifecycleFromXml(await smallBody(c, LIFECYCLE_LIMITS));
  const text = JSON.stringify(rules);
  // An extended attribute holds at most 64 KiB.
  if (Buffer.byteLength(text) > 60 * 1024) throw s3err('InvalidRequest', 'This lifecycle configuration is too large for this gateway (at most 60 KiB once stored).');
  await writeConfig(s, c, b.ino, XATTR_LIFECYCLE, text);
  sendEmpty(c.res, 200);
}

export async function getBucketLifecycle(s: Services, c: Call): Promise<void> {
  c.op = 'GetBucketLifecycleConfiguration';
  const b = await ownedBucket(s, c);
  const text = await readConfig(s, b.ino, XATTR_LIFECYCLE);
  if (text === undefined) throw s3err('NoSuchLifecycleConfiguration', undefined, { BucketName: c.bucket });
  sendXml(c.res, 200, 'LifecycleConfiguration', lifecycleXml(JSON.parse(text) as LifecycleRule[]));
}

export async function deleteBucketLifecycle(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteBucketLifecycle';
  const b = await ownedBucket(s, c);
  await writeConfig(s, c, b.ino, XATTR_LIFECYCLE, undefined);
  sendEmpty(c.res, 204);
}
