// Which S3 operation a request is: by method, by whether it names a bucket and a key, and by its query's
// sub-resource (?uploads, ?delete, ?location, ?uploadId=...). S3 routes on the query as much as on the path,
// which is why this is a table of conditions and not a path router (find-my-way and friends match paths and
// methods only: every S3 route would be one pattern with the real decision still written here).
import { hdr, type Call, type Services } from './call.js';
import { s3err } from './errors.js';
import { bucketLocation, createBucket, deleteBucket, getAcl, headBucket, listBuckets } from './ops/buckets.js';
import { listObjects, listUploads } from './ops/listing.js';
import { abortUpload, completeUpload, createUpload, listParts, uploadPart, uploadPartCopy } from './ops/multipart.js';
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from './ops/objects.js';
import { deleteBucketTagging, deleteObjectTagging, getBucketTagging, getObjectTagging, putBucketTagging, putObjectTagging } from './ops/tagging.js';
import { getBucketVersioning, listObjectVersions, putBucketVersioning } from './ops/versions.js';

/** Bucket sub-resources S3 has and this gateway does not. */
const UNSUPPORTED_BUCKET_GETS = [
  'policy', 'cors', 'lifecycle', 'website', 'replication', 'encryption', 'object-lock', 'notification', 'logging',
  'ownershipControls', 'publicAccessBlock', 'accelerate', 'requestPayment', 'analytics', 'metrics', 'inventory',
  'intelligent-tiering',
];

/** Serves c with its operation; a request no operation takes is MethodNotAllowed or NotImplemented. */
export async function route(s: Services, c: Call): Promise<void> {
  if (!c.bucket) return routeService(s, c);
  if (!c.key) return routeBucket(s, c);
  return routeObject(s, c);
}

function routeService(s: Services, c: Call): Promise<void> {
  if (c.req.method === 'GET') return listBuckets(s, c);
  throw s3err('MethodNotAllowed');
}

function routeBucket(s: Services, c: Call): Promise<void> {
  const q = c.query;
  switch (c.req.method) {
    case 'PUT':
      if (q.has('versioning')) return putBucketVersioning(s, c);
      if (q.has('tagging')) return putBucketTagging(s, c);
      if (q.size > 0) throw s3err('NotImplemented', `Bucket sub-resource '${[...q.keys()][0]}' is not implemented.`);
      return createBucket(s, c);
    case 'DELETE':
      if (q.has('tagging')) return deleteBucketTagging(s, c);
      if (q.size > 0) throw s3err('NotImplemented');
      return deleteBucket(s, c);
    case 'HEAD':
      return headBucket(s, c);
    case 'POST':
      if (q.has('delete')) return deleteObjects(s, c);
      break;
    case 'GET':
      if (q.has('location')) return bucketLocation(s, c);
      if (q.has('uploads')) return listUploads(s, c);
      if (q.has('versioning')) return getBucketVersioning(s, c);
      if (q.has('versions')) return listObjectVersions(s, c);
      if (q.has('tagging')) return getBucketTagging(s, c);
      if (q.has('acl')) return getAcl(s, c, true);
      for (const sub of UNSUPPORTED_BUCKET_GETS) {
        if (q.has(sub)) throw s3err('NotImplemented', `Bucket sub-resource '${sub}' is not implemented.`);
      }
      return listObjects(s, c, q.get('list-type') === '2');
  }
  throw s3err('MethodNotAllowed');
}

function routeObject(s: Services, c: Call): Promise<void> {
  const q = c.query;
  const m = c.req.method;
  const uploadId = q.get('uploadId');
  const copying = !!hdr(c.req, 'x-amz-copy-source');
  switch (m) {
    case 'PUT':
      if (uploadId !== null) return copying ? uploadPartCopy(s, c, uploadId) : uploadPart(s, c, uploadId);
      if (q.has('tagging') && !copying) return putObjectTagging(s, c);
      if (q.has('tagging') || q.has('acl') || q.has('retention') || q.has('legal-hold')) throw s3err('NotImplemented');
      return copying ? copyObject(s, c) : putObject(s, c);
    case 'GET':
    case 'HEAD':
      if (m === 'GET') {
        if (uploadId !== null) return listParts(s, c, uploadId);
        if (q.has('acl')) return getAcl(s, c, false);
        if (q.has('tagging')) return getObjectTagging(s, c);
      }
      if (q.has('tagging') || q.has('attributes') || q.has('torrent')) throw s3err('NotImplemented');
      return getObject(s, c, m === 'HEAD');
    case 'DELETE':
      if (uploadId !== null) return abortUpload(s, c, uploadId);
      if (q.has('tagging')) return deleteObjectTagging(s, c);
      return deleteObject(s, c);
    case 'POST':
      if (q.has('uploads')) return createUpload(s, c);
      if (uploadId !== null) return completeUpload(s, c, uploadId);
      throw s3err('NotImplemented');
  }
  throw s3err('MethodNotAllowed');
}
