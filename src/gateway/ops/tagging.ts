// S3 tagging operations: Put/Get/DeleteObjectTagging and Put/Get/DeleteBucketTagging (tags.ts keeps them).
import { Access } from '../../vfs/view.js';
import { smallBody, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { sendEmpty, sendXml } from '../http.js';
import { s3Rethrow } from '../objects.js';
import { readTags, TAGGING_LIMITS, tagsFromXml, tagsXml, writeTags } from '../tags.js';
import { nullVersion, versionOf } from './versions.js';

export async function getObjectTagging(s: Services, c: Call): Promise<void> {
  c.op = 'GetObjectTagging';
  const asked = nullVersion(c.query.get('versionId'));
  const info = await s.objects.stat(c.who.view, c.bucket, c.key);
  // Tags are read as the object is: by whoever may read it.
  if (!info.marker) await c.who.view.access(info.ino, Access.READ).catch(s3Rethrow);
  sendXml(c.res, 200, 'Tagging', tagsXml(await readTags(c.who.view, info.ino)), versionOf(asked));
}

export async function putObjectTagging(s: Services, c: Call): Promise<void> {
  c.op = 'PutObjectTagging';
  const asked = nullVersion(c.query.get('versionId'));
  const info = await s.objects.stat(c.who.view, c.bucket, c.key);
  const tags = tagsFromXml(await smallBody(c, TAGGING_LIMITS), 'object');
  await writeTags(c.who.view, info.ino, tags);
  sendEmpty(c.res, 200, versionOf(asked));
}

export async function deleteObjectTagging(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteObjectTagging';
  const asked = nullVersion(c.query.get('versionId'));
  const info = await s.objects.stat(c.who.view, c.bucket, c.key);
  await writeTags(c.who.view, info.ino, []);
  sendEmpty(c.res, 204, versionOf(asked));
}

export async function getBucketTagging(s: Services, c: Call): Promise<void> {
  c.op = 'GetBucketTagging';
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  const tags = await readTags(c.who.view, b.ino);
  if (!tags.length) throw s3err('NoSuchTagSet', undefined, { BucketName: c.bucket });
  sendXml(c.res, 200, 'Tagging', tagsXml(tags));
}

export async function putBucketTagging(s: Services, c: Call): Promise<void> {
  c.op = 'PutBucketTagging';
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  const tags = tagsFromXml(await smallBody(c, TAGGING_LIMITS), 'bucket');
  await writeTags(c.who.view, b.ino, tags);
  sendEmpty(c.res, 204);
}

export async function deleteBucketTagging(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteBucketTagging';
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  await writeTags(c.who.view, b.ino, []);
  sendEmpty(c.res, 204);
}
