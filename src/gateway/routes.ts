// Which S3 operation a request is: by method, by whether it names a bucket and a key, and by its query's
// sub-resource (?uploads, ?delete, ?location, ?uploadId=...). S3 routes on the query as much as on the path,
// which is why this is a table of conditions and not a path router (find-my-way and friends match paths and
// methods only: every S3 route would be one pattern with the real decision still written here).
import { hdr, type Call, type Services } from './call.js';
import { s3err } from './errors.js';
import { checkBucketName, parseKey } from './paths.js';
import { refuseAclHeaders, refuseEncryption, refuseSubresources } from './unsupported.js';
import { bucketLocation, createBucket, deleteBucket, getAcl, headBucket, listBuckets, putAcl } from './ops/buckets.js';
import { listObjects, listUploads } from './ops/listing.js';
import { abortUpload, completeUpload, createUpload, listParts, uploadPart, uploadPartCopy } from './ops/multipart.js';
import { copyObject, deleteObject, deleteObjects, getObject, getObjectAttributes, putObject } from './ops/objects.js';
import { deleteBucketTagging, deleteObjectTagging, getBucketTagging, getObjectTagging, putBucketTagging, putObjectTagging } from './ops/tagging.js';
import { getBucketVersioning, listObjectVersions, putBucketVersioning } from './ops/versions.js';
import { applyCors, deleteBucketCors, getBucketCors, preflight, putBucketCors } from './ops/cors.js';
import { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './ops/lifecycle.js';
import { isFormPost, postObject } from './ops/post-object.js';

/**
 * Serves c with its operation; a request no operation takes is MethodNotAllowed or NotImplemented. The bucket
 * and key are checked here, once, after percent-decoding, so no route can name '..', the gateway's own
 * directory or a key with '.'/'..' segments.
 */
export async function route(s: Services, c: Call): Promise<void> {
  if (c.bucket) checkBucketName(c.bucket, false);
  if (c.key) parseKey(c.key);
  // A browser's request: the bucket's CORS rules say what its script may see of the answer.
  if (c.req.headers.origin !== undefined) await applyCors(s, c);
  if (c.req.method === 'OPTIONS') return preflight(s, c);
  refuseEncryption(s, c);
  if (c.req.method === 'PUT' || c.req.method === 'POST') {
    refuseAclHeaders(c);
    // Canned private means what it says: only the owner, whatever the key's default modes. (bucket-owner-full-control
    // keeps the key's modes: the bucket owner's access is the bucket's group or others' bits.)
    if (hdr(c.req, 'x-amz-acl')?.trim() === 'private') c.who = { ...c.who, view: c.who.view.withUmask(0o077), bucketMode: 0o700 };
  }
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
      if (q.has('acl')) return putAcl(s, c, true);
      if (q.has('versioning')) return putBucketVersioning(s, c);
      if (q.has('tagging')) return putBucketTagging(s, c);
      if (q.has('cors')) return putBucketCors(s, c);
      if (q.has('lifecycle')) return putBucketLifecycle(s, c);
      if (q.size > 0) throw s3err('NotImplemented', `Bucket sub-resource '${[...q.keys()][0]}' is not implemented.`);
      return createBucket(s, c);
    case 'DELETE':
      if (q.has('tagging')) return deleteBucketTagging(s, c);
      if (q.has('cors')) return deleteBucketCors(s, c);
      if (q.has('lifecycle')) return deleteBucketLifecycle(s, c);
      if (q.size > 0) throw s3err('NotImplemented');
      return deleteBucket(s, c);
    case 'HEAD':
      return headBucket(s, c);
    case 'POST':
      if (q.has('delete')) return deleteObjects(s, c);
      if (isFormPost(c)) return postObject(s, c);
      refuseSubresources(q);
      break;
    case 'GET':
      if (q.has('location')) return bucketLocation(s, c);
      if (q.has('uploads')) return listUploads(s, c);
      if (q.has('versioning')) return getBucketVersioning(s, c);
      if (q.has('versions')) return listObjectVersions(s, c);
      if (q.has('tagging')) return getBucketTagging(s, c);
      if (q.has('acl')) return getAcl(s, c, true);
      if (q.has('cors')) return getBucketCors(s, c);
      if (q.has('lifecycle')) return getBucketLifecycle(s, c);
      refuseSubresources(q);
      return listObjects(s, c, q.get('list-type') === '2');
  }
  throw s3err('MethodNotAllowed');
}

function routeObject(s: Services, c: Call): Promise<void> {
  const q = c.query;
  const m = c.req.method;
  const uploadId = q.get('uploadId');
  const copying = !!hdr(c.req, 'x-amz-copy-source');
  // On an encrypted volume every object is stored encrypted: S3 says so on each answer about object data.
  const sse = (): void => {
    if (s.encrypted) c.res.setHeader('x-amz-server-side-encryption', 'AES256');
  };
  switch (m) {
    case 'PUT':
      if (uploadId !== null) {
        sse();
        return copying ? uploadPartCopy(s, c, uploadId) : uploadPart(s, c, uploadId);
      }
      if (q.has('acl')) return putAcl(s, c, false);
      if (q.has('tagging') && !copying) return putObjectTagging(s, c);
      refuseSubresources(q);
      sse();
      return copying ? copyObject(s, c) : putObject(s, c);
    case 'GET':
    case 'HEAD':
      if (m === 'GET') {
        if (uploadId !== null) return listParts(s, c, uploadId);
        if (q.has('acl')) return getAcl(s, c, false);
        if (q.has('tagging')) return getObjectTagging(s, c);
        if (q.has('attributes')) return getObjectAttributes(s, c);
      }
      refuseSubresources(q);
      sse();
      return getObject(s, c, m === 'HEAD');
    case 'DELETE':
      if (uploadId !== null) return abortUpload(s, c, uploadId);
      if (q.has('tagging')) return deleteObjectTagging(s, c);
      refuseSubresources(q);
      return deleteObject(s, c);
    case 'POST':
      sse();
      if (q.has('uploads')) return createUpload(s, c);
      if (uploadId !== null) return completeUpload(s, c, uploadId);
      refuseSubresources(q);
      throw s3err('NotImplemented');
  }
  throw s3err('MethodNotAllowed');
}
