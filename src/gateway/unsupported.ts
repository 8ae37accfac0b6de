// What the gateway refuses instead of accepting and ignoring: a header or sub-resource that changes what a
// request means is never dropped silently (an object PUT with a customer key must not be stored without it,
// a GET ?retention must not answer with the object's body). Routes call these before an operation runs.
import { hdr, type Call, type Services } from './call.js';
import { s3err } from './errors.js';

/**
 * Sub-resources of the S3 API (query parameters that say what a request is about). routes.ts serves the
 * ones the gateway implements first; any of these left is NotImplemented. versionId and partNumber are not
 * here: they select a version or a part of the object itself (their own issue items).
 */
const SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'location', 'logging', 'metadataConfiguration', 'metadataTable', 'metrics', 'notification',
  'object-lock', 'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'renameObject', 'replication',
  'requestPayment', 'restore', 'retention', 'select', 'select-type', 'session', 'tagging', 'torrent', 'uploadId',
  'uploads', 'versioning', 'versions', 'website',
];

export function refuseSubresources(q: URLSearchParams): void {
  for (const sub of SUBRESOURCES) {
    if (q.has(sub)) throw s3err('NotImplemented', `The '${sub}' sub-resource is not implemented by this gateway.`);
  }
}

/** Canned ACLs that grant nothing beyond the owner's full control: what POSIX permissions already say. */
const OWNER_ONLY_ACLS = ['private', 'bucket-owner-full-control'];

export const ACL_REFUSED = 'This gateway does not support ACLs (POSIX permissions decide); only the canned ACLs private and bucket-owner-full-control are accepted.';

/** x-amz-acl other than the owner-only ones and x-amz-grant-* are refused as S3 does with ACLs disabled. */
export function refuseAclHeaders(c: Call): void {
  const acl = hdr(c.req, 'x-amz-acl');
  if (acl !== undefined && !OWNER_ONLY_ACLS.includes(acl.trim())) throw s3err('AccessControlListNotSupported', ACL_REFUSED);
  for (const h of Object.keys(c.req.headers)) if (h.startsWith('x-amz-grant-')) throw s3err('AccessControlListNotSupported', ACL_REFUSED);
}

const SSE_C = ['x-amz-server-side-encryption-customer-', 'x-amz-copy-source-server-side-encryption-customer-'];
const SSE_KMS = ['x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context'];

/**
 * Server-side encryption: SSE-S3 (AES256) is what an encrypted volume does to every block, so it is accepted
 * there and refused on a volume that stores blocks in the clear; SSE-C and SSE-KMS are never done.
 */
export function refuseEncryption(s: Services, c: Call): void {
  for (const h of Object.keys(c.req.headers)) {
    if (SSE_C.some((p) => h.startsWith(p))) throw s3err('NotImplemented', 'Server-side encryption with customer-provided keys (SSE-C) is not implemented by this gateway.');
    if (SSE_KMS.includes(h)) throw s3err('NotImplemented', 'Server-side encryption with KMS keys (SSE-KMS) is not implemented by this gateway.');
  }
  if (hdr(c.req, 'x-amz-server-side-encryption-bucket-key-enabled')?.trim().toLowerCase() === 'true') {
    throw s3err('NotImplemented', 'S3 Bucket Keys (SSE-KMS) are not implemented by this gateway.');
  }
  const sse = hdr(c.req, 'x-amz-server-side-encryption')?.trim();
  if (sse === undefined) return;
  if (sse === 'aws:kms' || sse === 'aws:kms:dsse') throw s3err('NotImplemented', 'Server-side encryption with KMS keys (SSE-KMS) is not implemented by this gateway.');
  if (sse !== 'AES256') throw s3err('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: sse });
  if (!s.encrypted) throw s3err('NotImplemented', 'Server-side encryption (AES256) needs an encrypted volume (ferry format --encrypt-key-file); this volume stores its blocks unencrypted.');
}
