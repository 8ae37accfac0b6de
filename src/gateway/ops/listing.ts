// S3 listings: ListObjects (v1 and v2) over the key-ordered walk of a bucket's tree, and
// ListMultipartUploads.
import { compareKeys } from '../../object/util.js';
import { isDirectory, type VfsView } from '../../vfs/view.js';
import { owner, ownerOf, quote, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { sendXml, urlEncodeKey } from '../http.js';
import { Walker, type ListItem } from '../listing.js';
import { EMPTY_MD5, mtimeOf } from '../objects.js';
import { walkParts } from '../paths.js';
import type { XmlNode } from '../xml.js';

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

export async function listObjects(s: Services, c: Call, v2: boolean): Promise<void> {
  c.op = v2 ? 'ListObjectsV2' : 'ListObjects';
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
  const e = (s: string) => (enc === 'url' ? urlEncodeKey(s) : s);
  let after: string | undefined;
  const token = q.get('continuation-token');
  if (v2) {
    // An empty token is the first page (what a paginator sends before it has one), as S3 and RGW take it.
    if (token) {
      after = Buffer.from(token, 'base64url').toString('utf8');
      if (b64url(after) !== token.replace(/=+$/, '')) throw s3err('InvalidArgument', 'The continuation token provided is incorrect.');
    } else after = q.get('start-after') || undefined;
  } else after = q.get('marker') || undefined;

  const { items, truncated } = await listPage(s, view, b.ino, prefix, delimiter, after, limit);
  const contents: XmlNode[] = [];
  const prefixes: XmlNode[] = [];
  for (const it of items) {
    if (it.kind === 'prefix') {
      prefixes.push({ Prefix: e(it.key) });
      continue;
    }
    let attr = it.attr;
    let etag = EMPTY_MD5;
    let size = 0;
    if (it.dir) attr ??= await view.getattr(it.ino);
    else {
      etag = await s.objects.etagOf(view, it.ino, attr!);
      size = attr!.length;
    }
    const entry: XmlNode = { Key: e(it.key), LastModified: mtimeOf(attr!).toISOString(), ETag: quote(etag), Size: size, StorageClass: 'STANDARD' };
    if (!v2 || q.get('fetch-owner') === 'true') entry.Owner = ownerOf(attr!.uid);
    contents.push(entry);
  }
  const last = items.length ? items[items.length - 1]!.key : undefined;
  // V1 URL-encodes Delimiter, Marker, NextMarker and keys but never its top-level Prefix (botocore decodes
  // exactly those, so an encoded Prefix reached users still encoded); V2 encodes its Prefix too.
  const body: XmlNode = { Name: c.bucket, Prefix: v2 ? e(prefix) : prefix };
  if (v2) {
    Object.assign(body, {
      MaxKeys: maxKeys,
      KeyCount: items.length,
      ...(delimiter ? { Delimiter: e(delimiter) } : {}),
      IsTruncated: truncated,
      ...(token !== null ? { ContinuationToken: token } : {}),
      ...(truncated && last !== undefined ? { NextContinuationToken: b64url(last) } : {}),
      ...(q.get('start-after') ? { StartAfter: e(q.get('start-after')!) } : {}),
    });
  } else {
    Object.assign(body, {
      Marker: e(q.get('marker') ?? ''),
      ...(truncated && last !== undefined ? { NextMarker: e(last) } : {}),
      MaxKeys: maxKeys,
      ...(delimiter ? { Delimiter: e(delimiter) } : {}),
      IsTruncated: truncated,
    });
  }
  if (enc) body.EncodingType = enc;
  body.Contents = contents;
  body.CommonPrefixes = prefixes;
  sendXml(c.res, 200, 'ListBucketResult', body);
}

/** Objects and common prefixes of a bucket in key order, after `after`. */
/** Up to `limit` items after `after`, and whether more follow (one page of a listing). */
export async function listPage(s: Services, view: VfsView, bucketIno: number, prefix: string, delimiter: string, after: string | undefined, limit: number): Promise<{ items: ListItem[]; truncated: boolean }> {
  const items: ListItem[] = [];
  if (limit <= 0) return { items, truncated: false };
  const it = iterate(s, view, bucketIno, prefix, delimiter, after);
  try {
    for await (const item of it) {
      if (items.length === limit) return { items, truncated: true };
      items.push(item);
    }
  } finally {
    await it.return(undefined);
  }
  return { items, truncated: false };
}

export async function* iterate(s: Services, view: VfsView, bucketIno: number, prefix: string, delimiter: string, after: string | undefined): AsyncGenerator<ListItem> {
  const cut = prefix.lastIndexOf('/');
  const dirPart = prefix.slice(0, cut + 1);
  const namePrefix = prefix.slice(cut + 1);
  const parts = dirPart.split('/').slice(0, -1);
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return;
  const dir = await walkParts(view, bucketIno, parts);
  if (!dir || !isDirectory(dir.attr)) return;
  if (after !== undefined && compareKeys(after, prefix) < 0) after = undefined;
  const rollup = delimiter === '/';
  const walker = new Walker(view);
  const items = walker.walk(dir.ino, dirPart, { after, namePrefix, rollup, isMarker: (ino) => s.objects.isMarker(view, ino) });
  if (!delimiter || rollup) {
    yield* items;
    return;
  }
  let lastPrefix: string | undefined;
  for await (const it of items) {
    const rest = it.key.slice(prefix.length);
    const i = rest.indexOf(delimiter);
    if (i < 0) {
      yield it;
      continue;
    }
    const cp = prefix + rest.slice(0, i + delimiter.length);
    if (cp === lastPrefix || cp === after) continue;
    lastPrefix = cp;
    yield { key: cp, kind: 'prefix', ino: it.ino };
  }
}

export async function listUploads(s: Services, c: Call): Promise<void> {
  c.op = 'ListMultipartUploads';
  await s.objects.headBucket(c.who.view, c.bucket);
  const q = c.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const max = Math.min(Number(q.get('max-uploads') ?? 1000) || 1000, 1000);
  const all = await s.multipart.listUploads(s.root, c.bucket, c.who.view.root);
  const uploads: XmlNode[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let nextKey = '';
  let nextId = '';
  for (const u of all) {
    if (!u.key.startsWith(prefix)) continue;
    if (keyMarker && (compareKeys(u.key, keyMarker) < 0 || (u.key === keyMarker && (!idMarker || u.id <= idMarker)))) continue;
    if (delimiter) {
      const i = u.key.indexOf(delimiter, prefix.length);
      if (i >= 0) {
        const cp = u.key.slice(0, i + delimiter.length);
        if (prefixes[prefixes.length - 1] !== cp) {
          if (uploads.length + prefixes.length === max) {
            truncated = true;
            break;
          }
          prefixes.push(cp);
        }
        continue;
      }
    }
    if (uploads.length + prefixes.length === max) {
      truncated = true;
      break;
    }
    uploads.push({ Key: u.key, UploadId: u.id, Initiator: owner(c), Owner: owner(c), StorageClass: 'STANDARD', Initiated: u.initiated });
    nextKey = u.key;
    nextId = u.id;
  }
  sendXml(c.res, 200, 'ListMultipartUploadsResult', {
    Bucket: c.bucket,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    NextKeyMarker: truncated ? nextKey : undefined,
    NextUploadIdMarker: truncated ? nextId : undefined,
    ...(delimiter ? { Delimiter: delimiter } : {}),
    Prefix: prefix,
    MaxUploads: max,
    IsTruncated: truncated,
    Upload: uploads,
    CommonPrefixes: prefixes.map((p) => ({ Prefix: p })),
  });
}
