// S3 operations on the service and on buckets: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
// GetBucketLocation, and the fixed ACL answers.
import { owner, smallBody, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { sendEmpty, sendXml } from '../http.js';
import { XML_LIMITS, parseXml } from '../xml.js';

export async function listBuckets(s: Services, c: Call): Promise<void> {
  c.op = 'ListBuckets';
  const list = await s.objects.listBuckets(c.who.view);
  sendXml(c.res, 200, 'ListAllMyBucketsResult', {
    Owner: owner(c),
    Buckets: { Bucket: list.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
  });
}

export async function createBucket(s: Services, c: Call): Promise<void> {
  c.op = 'CreateBucket';
  const text = await smallBody(c, XML_LIMITS.CreateBucket);
  if (text.trim()) {
    try {
      parseXml(text, XML_LIMITS.CreateBucket);
    } catch {
      throw s3err('MalformedXML');
    }
  }
  await s.objects.createBucket(c.who.view, c.bucket, s.bucketMode);
  sendEmpty(c.res, 200, { Location: `/${c.bucket}` });
}

export async function deleteBucket(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteBucket';
  await s.objects.deleteBucket(c.who.view, c.bucket);
  sendEmpty(c.res, 204);
}

export async function headBucket(s: Services, c: Call): Promise<void> {
  c.op = 'HeadBucket';
  await s.objects.headBucket(c.who.view, c.bucket);
  sendEmpty(c.res, 200, { 'x-amz-bucket-region': s.region });
}

export async function bucketLocation(s: Services, c: Call): Promise<void> {
  c.op = 'GetBucketLocation';
  await s.objects.headBucket(c.who.view, c.bucket);
  const loc = s.region === 'us-east-1' ? '' : s.region;
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${loc}</LocationConstraint>`;
  c.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
  c.res.end(text);
}

/** POSIX permissions decide, so the ACL is always the caller's full control (what clients that read ACLs expect). */
export async function getAcl(s: Services, c: Call, bucket: boolean): Promise<void> {
  c.op = bucket ? 'GetBucketAcl' : 'GetObjectAcl';
  if (bucket) await s.objects.headBucket(c.who.view, c.bucket);
  else await s.objects.stat(c.who.view, c.bucket, c.key);
  sendXml(c.res, 200, 'AccessControlPolicy', {
    Owner: owner(c),
    AccessControlList: { Grant: { Grantee: owner(c), Permission: 'FULL_CONTROL' } },
  });
}
