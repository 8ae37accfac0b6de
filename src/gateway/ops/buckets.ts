// S3 operations on the service and on buckets: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
// GetBucketLocation, GetBucketVersioning, and the fixed ACL answers (reads, and writes that change nothing).
import { hdr, owner, ownerOf, smallBody, type Call, type Services } from '../call.js';
import { FsError } from '../../errors.js';
import type { Attr } from '../../vfs/view.js';
import type { KeyTable } from '../keys.js';
import { fromFsError, s3err, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../http.js';
import { ACL_REFUSED } from '../unsupported.js';
import { child, childText, XML_LIMITS, parseXml, type XmlNode } from '../xml.js';

/** Pages of ListBuckets when the request asks for paging (max-buckets, continuation-token or prefix) but gives no size: S3's default. */
const BUCKET_PAGE = 10_000;

export async function listBuckets(s: Services, c: Call): Promise<void> {
  c.op = 'ListBuckets';
  const q = c.query;
  const prefix = q.get('prefix') ?? '';
  const token = q.get('continuation-token');
  const mb = q.get('max-buckets');
  const max = mb === null ? BUCKET_PAGE : Number(mb);
  if (!Number.isInteger(max) || max < 1 || max > BUCKET_PAGE) throw s3err('InvalidArgument', 'max-buckets must be an integer between 1 and 10000.', { ArgumentName: 'max-buckets', ArgumentValue: mb ?? '' });
  // The token is the last name of the page before (opaque to clients: base64url).
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const region = q.get('bucket-region');
  let list = (await s.objects.listBuckets(c.who.view)).filter((b) => b.name.startsWith(prefix) && b.name > after).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (region !== null && region !== s.region) list = [];
  const more = list.length > max;
  list = list.slice(0, max);
  sendXml(c.res, 200, 'ListAllMyBucketsResult', {
    Owner: owner(c),
    Buckets: { Bucket: list.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString(), BucketRegion: s.region })) },
    ...(more ? { ContinuationToken: Buffer.from(list[list.length - 1]!.name).toString('base64url') } : {}),
    ...(q.has('prefix') ? { Prefix: prefix } : {}),
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
  try {
    await s.objects.createBucket(c.who.view, c.bucket, c.who.bucketMode ?? s.bucketMode);
  } catch (e) {
    // For legacy compatibility S3 answers 200 to re-creating your own bucket in us-east-1 (409 elsewhere).
    if (!(e instanceof S3Error && e.code === 'BucketAlreadyOwnedByYou' && s.region === 'us-east-1')) throw e;
  }
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

/** A grantee element as S3 writes it: typed with xsi:type. */
function grantee(uid: number): XmlNode {
  return { '@xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@xsi:type': 'CanonicalUser', ...ownerOf(uid) };
}

const GROUP_URI = { authenticated: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers', all: 'http://acs.amazonaws.com/groups/global/AllUsers' };

function groupGrantee(uri: string): XmlNode {
  return { '@xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@xsi:type': 'Group', URI: uri };
}

/**
 * The grants POSIX permissions amount to, since they decide: the owner's bits; the group's bits as grants to
 * each key acting in that group; the others' bits to every key (AuthenticatedUsers) and, when the gateway
 * serves unsigned requests, to everyone (AllUsers). WRITE is a bucket's (adding and removing objects).
 */
export function grantsOf(attr: Attr, bucket: boolean, keys: KeyTable, anonymous: boolean): XmlNode[] {
  const perms = (bits: number): string[] => {
    const r = (bits & 4) !== 0;
    const w = bucket && (bits & 3) === 3;
    if (r && (w || (!bucket && (bits & 2) !== 0))) return ['FULL_CONTROL'];
    return [...(r ? ['READ'] : []), ...(w ? ['WRITE'] : [])];
  };
  const out: XmlNode[] = [];
  for (const p of perms((attr.mode >> 6) & 7)) out.push({ Grantee: grantee(attr.uid), Permission: p });
  const members = new Set<number>();
  for (const k of Object.values(keys)) if (k.uid !== attr.uid && (k.gid === attr.gid || k.gids?.includes(attr.gid))) members.add(k.uid);
  for (const uid of [...members].sort((a, b) => a - b)) for (const p of perms((attr.mode >> 3) & 7)) out.push({ Grantee: grantee(uid), Permission: p });
  for (const p of perms(attr.mode & 7)) {
    out.push({ Grantee: groupGrantee(GROUP_URI.authenticated), Permission: p });
    if (anonymous) out.push({ Grantee: groupGrantee(GROUP_URI.all), Permission: p });
  }
  return out;
}

/** The ACL POSIX permissions amount to (grantsOf): what S3 clients reading ACLs are told is who can read. */
export async function getAcl(s: Services, c: Call, bucket: boolean): Promise<void> {
  c.op = bucket ? 'GetBucketAcl' : 'GetObjectAcl';
  const attr = bucket ? (await s.objects.headBucket(c.who.view, c.bucket)).attr : (await s.objects.stat(c.who.view, c.bucket, c.key)).attr;
  sendXml(c.res, 200, 'AccessControlPolicy', {
    Owner: ownerOf(attr.uid),
    AccessControlList: { Grant: grantsOf(attr, bucket, s.keys?.() ?? {}, !!s.anonymous) },
  });
}

/**
 * PutBucketAcl/PutObjectAcl: accepted only when it says what is already true, the owner's full control (a
 * canned private/bucket-owner-full-control, or a policy whose every grant is FULL_CONTROL to the owner);
 * anything else is AccessControlListNotSupported, as S3 answers with ACLs disabled.
 */
export async function putAcl(s: Services, c: Call, bucket: boolean): Promise<void> {
  c.op = bucket ? 'PutBucketAcl' : 'PutObjectAcl';
  const uid = bucket ? (await s.objects.headBucket(c.who.view, c.bucket)).attr.uid : (await s.objects.stat(c.who.view, c.bucket, c.key)).attr.uid;
  const text = await smallBody(c, XML_LIMITS.CreateBucket);
  if (text.trim()) {
    let grants: Array<{ id: string | undefined; permission: string | undefined }>;
    try {
      const doc = parseXml(text, XML_LIMITS.CreateBucket);
      if (doc.name !== 'AccessControlPolicy') throw new Error('root');
      const acl = child(doc, 'AccessControlList');
      grants = (acl?.children ?? []).filter((g) => g.name === 'Grant').map((g) => ({ id: child(g, 'Grantee') && childText(child(g, 'Grantee')!, 'ID'), permission: childText(g, 'Permission') }));
    } catch {
      throw s3err('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    if (grants.some((g) => g.id?.trim() !== String(uid) || g.permission?.trim() !== 'FULL_CONTROL')) throw s3err('AccessControlListNotSupported', ACL_REFUSED);
  } else if (hdr(c.req, 'x-amz-acl') === undefined) {
    throw s3err('MissingSecurityHeader', 'Your request was missing a required header: x-amz-acl, or an AccessControlPolicy body.');
  }
  // Owner-only, as said: the group's and others' bits go (only the owner, or root, may change them).
  const n = bucket ? await s.objects.headBucket(c.who.view, c.bucket) : await s.objects.stat(c.who.view, c.bucket, c.key);
  if (n.attr.mode & 0o077) {
    try {
      await c.who.view.chmod(n.ino, n.attr.mode & 0o7700);
    } catch (e) {
      if (e instanceof FsError) throw fromFsError(e);
      throw e;
    }
  }
  sendEmpty(c.res, 200);
}
