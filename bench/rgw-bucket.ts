// The RGW buckets benchmarks make: created empty, and emptied and deleted afterwards (RGW's memstore OSD
// holds only ~4 GiB, so a benchmark must not leave its objects behind).
import { DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { openObjectStore } from '../src/object/index.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, rgwOptions } from '../test/helpers/rgw.js';

/** Creates the bucket (straight at RGW, not through any proxy). */
export async function makeBucket(bucket: string): Promise<void> {
  const s = await openObjectStore(`s3://${bucket}`, rgwOptions());
  try {
    await s.create();
  } finally {
    await s.close();
  }
}

/** Deletes every object of the benchmark's bucket, then the bucket . */
export async function dropBucket(bucket: string): Promise<void> {
  const s = await openObjectStore(`s3://${bucket}`, rgwOptions());
  try {
    const keys: string[] = [];
    for await (const o of s.listAll('')) keys.push(o.key);
    const many = (s as { deleteMany?: (k: string[]) => Promise<void> }).deleteMany;
    if (many) await many.call(s, keys);
    else for (const k of keys) await s.delete(k);
  } finally {
    await s.close();
  }
  const c = new S3Client({ endpoint: RGW_ENDPOINT, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY } });
  try {
    await c.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    c.destroy();
  }
}

