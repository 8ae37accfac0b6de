// The versions view of a file system that keeps one version of each object: every object is its own
// "null" version (what S3 shows for objects written while versioning was never enabled or suspended).
// ListObjectVersions, versionId=null on object requests, Get/PutBucketVersioning (Suspended only), so
// bucket-emptying tools (aws s3api, boto3's object_versions.delete(), Terraform's force_destroy) work.
import { isFsError } from '../../errors.js';
import { quote, smallBody, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { sendEmpty, sendXml, urlEncodeKey } from '../http.js';
import type { ListItem } from '../listing.js';
import { EMPTY_MD5, mtimeOf, s3Rethrow } from '../objects.js';
import { childText, parseXml, type XmlNode } from '../xml.js';
import { listPage } from './listing.js';

const XATTR_VERSIONING = 'user.s3.versioning';

/**
 * A versionId query parameter (or DeleteObjects VersionId): none, or "null" (returns true: the caller
 * answers with x-amz-version-id: null). Any other is NoSuchVersion: there is no other version to act on.
 */
export function nullVersion(v: string | null): boolean {
  if (v === null) return false;
  if (v === 'null') return true;
  throw s3err('NoSuchVersion', undefined, { VersionId: v.slice(0, 1024) });
}

export function versionOf(asked: boolean): Record<string, string> {
  return asked ? { 'x-amz-version-id': 'null' } : {};
}

export async function listObjectVersions(s: Services, c: Call): Promise<void> {
  c.op = 'ListObjectVersions';
  const q = c.query;
  const view = c.who.view;
  const b = await s.objects.headBucket(view, c.bucket);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const mk = q.get('max-keys');
  const maxKeys = mk === null ? 1000 : Number(mk);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) throw s3err('InvalidArgument', 'max-keys must be a non-negative integer.');
  const limit = Math.min(maxKeys, 1000);
  const enc = q.get('encoding-type');
  if (enc !== null && enc !== 'url') throw s3err('InvalidArgument', 'Invalid Encoding Method specified in Request');
  const e = (v: string) => (enc === 'url' ? urlEncodeKey(v) : v);
  const keyMarker = q.get('key-marker') ?? '';
  const versionMarker = q.get('version-id-marker');
  if (versionMarker !== null && versionMarker !== '') {
    if (!keyMarker) throw s3err('InvalidArgument', 'A version-id marker cannot be specified without a key marker.');
    if (versionMarker !== 'null') throw s3err('InvalidArgument', 'Invalid version id specified');
  }
  // One version per key: after the marker key's "null" version come the next keys.
  const { items, truncated } = await listPage(s, view, b.ino, prefix, delimiter, keyMarker || undefined, limit);
  const versions: XmlNode[] = [];
  const prefixes: XmlNode[] = [];
  for (const it of items) {
    if (it.kind === 'prefix') {
      prefixes.push({ Prefix: e(it.key) });
      continue;
    }
    const attr = it.attr ?? (await view.getattr(it.ino));
    const etag = it.dir ? EMPTY_MD5 : await s.objects.etagOf(view, it.ino, attr);
    versions.push({
      Key: e(it.key),
      VersionId: 'null',
      IsLatest: true,
      LastModified: mtimeOf(attr).toISOString(),
      ETag: quote(etag),
      Size: it.dir ? 0 : attr.length,
      StorageClass: 'STANDARD',
      Owner: { ID: String(attr.uid), DisplayName: `uid-${attr.uid}` },
    });
  }
  const last = items[items.length - 1];
  sendXml(c.res, 200, 'ListVersionsResult', {
    Name: c.bucket,
    Prefix: e(prefix),
    KeyMarker: e(keyMarker),
    VersionIdMarker: versionMarker ?? '',
    ...(truncated && last ? { NextKeyMarker: e(last.key), ...(last.kind === 'object' ? { NextVersionIdMarker: 'null' } : {}) } : {}),
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: e(delimiter) } : {}),
    IsTruncated: truncated,
    Version: versions,
    CommonPrefixes: prefixes,
    ...(enc ? { EncodingType: enc } : {}),
  });
}

/** The status PutBucketVersioning stored: "" when never set (S3's empty configuration). */
export async function getBucketVersioning(s: Services, c: Call): Promise<void> {
  c.op = 'GetBucketVersioning';
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  let status = '';
  try {
    status = (await c.who.view.getxattr(b.ino, XATTR_VERSIONING)).toString();
  } catch (e) {
    if (!isFsError(e)) throw e;
  }
  sendXml(c.res, 200, 'VersioningConfiguration', status ? { Status: status } : {});
}

/** Suspended is what a one-version store is already; Enabled (or MFA delete) is refused, never ignored. */
export async function putBucketVersioning(s: Services, c: Call): Promise<void> {
  c.op = 'PutBucketVersioning';
  const b = await s.objects.headBucket(c.who.view, c.bucket);
  const limits = { maxBytes: 16 * 1024, maxTags: 100, maxDepth: 4 };
  const text = await smallBody(c, limits);
  let status: string | undefined;
  let mfa: string | undefined;
  try {
    const doc = parseXml(text, limits);
    if (doc.name !== 'VersioningConfiguration') throw new Error('root');
    status = childText(doc, 'Status')?.trim();
    mfa = childText(doc, 'MfaDelete')?.trim();
    if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') throw new Error('status');
    if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled') throw new Error('mfa');
  } catch {
    throw s3err('MalformedXML');
  }
  if (status === 'Enabled') {
    throw s3err('NotImplemented', 'FerryFS keeps one version of each object (keys are files): versioning cannot be Enabled. Suspended is accepted.');
  }
  if (mfa === 'Enabled') throw s3err('NotImplemented', 'MFA delete is not supported.');
  if (status) await c.who.view.setxattr(b.ino, XATTR_VERSIONING, status).catch(s3Rethrow);
  sendEmpty(c.res, 200);
}
