// S3 operations on objects: GetObject/HeadObject (ranges, conditions, checksums), PutObject, CopyObject,
// DeleteObject, DeleteObjects.
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { FsError } from '../../errors.js';
import { handleReadStream } from '../../vfs/stream.js';
import { Access } from '../../vfs/view.js';
import { copyConditions, copySource, hdr, quote, requestBody, smallBody, writeCondition, type Call, type Services } from '../call.js';
import { fromFsError, s3err, S3Error } from '../errors.js';
import { textToHeader } from '../header-text.js';
import { parseRange, preconditions, readSmall, sendEmpty, sendXml } from '../http.js';
import { isAlgo, type Algo } from '../checksum.js';
import { MAX_PARTS } from '../multipart.js';
import { metaFromHeaders, s3Rethrow, type ObjectInfo, type StoredChecksum } from '../objects.js';
import { bucketNode, checkBucketName } from '../paths.js';
import { readTags, tagsFromHeader } from '../tags.js';
import { nullVersion, versionOf } from './versions.js';
import { child, childText, XML_LIMITS, parseXml, type XmlNode } from '../xml.js';
import { watchedBody } from '../limits.js';

export async function getObject(s: Services, c: Call, head: boolean): Promise<void> {
  c.op = head ? 'HeadObject' : 'GetObject';
  const view = c.who.view;
  const partParam = c.query.get('partNumber');
  const asked = nullVersion(c.query.get('versionId'));
  const info = await s.objects.stat(view, c.bucket, c.key);
  const pre = preconditions(c.req.headers, info.etag, info.mtime);
  if (pre === 412) throw s3err('PreconditionFailed', undefined, { Condition: hdr(c.req, 'if-match') !== undefined ? 'If-Match' : 'If-Unmodified-Since' });
  const meta = await s.objects.metaOf(view, info.ino);
  const headers: Record<string, string | number> = {
    ETag: quote(info.etag),
    'Last-Modified': info.mtime.toUTCString(),
    'Accept-Ranges': 'bytes',
    'Content-Type': 'binary/octet-stream',
  };
  for (const [k, v] of Object.entries(meta.headers)) headers[k] = v;
  for (const [k, v] of Object.entries(meta.user)) headers[`x-amz-meta-${k}`] = textToHeader(v);
  if (asked) headers['x-amz-version-id'] = 'null';
  if (!head && !info.marker) {
    const tags = await readTags(view, info.ino);
    if (tags.length) headers['x-amz-tagging-count'] = tags.length;
  }
  for (const [qk, hk] of [
    ['response-content-type', 'Content-Type'],
    ['response-content-language', 'Content-Language'],
    ['response-expires', 'Expires'],
    ['response-cache-control', 'Cache-Control'],
    ['response-content-disposition', 'Content-Disposition'],
    ['response-content-encoding', 'Content-Encoding'],
  ] as const) {
    const v = c.query.get(qk);
    if (v !== null) headers[hk] = v;
  }
  if (pre === 304) {
    c.res.writeHead(304, { ETag: headers.ETag!, 'Last-Modified': headers['Last-Modified']! });
    c.res.end();
    return;
  }
  const range = partParam !== null ? await partRange(s, c, info, partParam, headers) : info.marker ? undefined : parseRange(hdr(c.req, 'range'), info.size);
  // A checksum is of the whole object: S3 sends it only when asked and no range is.
  if (!range && !info.marker && hdr(c.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    const sum = await s.objects.checksumOf(view, info.ino, info.attr);
    if (sum) Object.assign(headers, checksumHeaders(sum));
  }
  if (head || info.size === 0) {
    if (!info.marker) await view.access(info.ino, Access.READ).catch(s3Rethrow);
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      headers['Content-Length'] = range.end - range.start + 1;
    } else headers['Content-Length'] = info.size;
    c.res.writeHead(range ? 206 : 200, headers);
    c.res.end();
    return;
  }
  const fh = await s.objects.openRead(view, info);
  const start = range?.start ?? 0;
  const end = range?.end ?? info.size - 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  headers['Content-Length'] = end - start + 1;
  const rs = handleReadStream(view, fh, { start, end, highWaterMark: 1 << 20, onClose: () => view.release(fh) });
  try {
    // The first piece is read before the status goes out: an unreadable block (missing, corrupt) is an S3
    // error naming it, never a 200 cut short.
    await once(rs, 'readable');
  } catch (e) {
    rs.destroy();
    if (e instanceof FsError && e.code !== 'EIO') throw fromFsError(e);
    throw s3err('InternalError', e instanceof FsError ? e.description : String((e as Error)?.message ?? e));
  }
  c.res.writeHead(range ? 206 : 200, headers);
  try {
    await pipeline(rs, c.res);
  } catch {
    // The client went away, or a read failed after the headers were sent: the connection is cut.
    c.res.destroy();
  }
}

/**
 * The byte range of part N (GET/HEAD ?partNumber=N) and the object's part count: parts of an object made by
 * CompleteMultipartUpload; any other object is one part (as S3: partNumber=1 is all of it, as a range).
 */
async function partRange(s: Services, c: Call, info: ObjectInfo, param: string, headers: Record<string, string | number>): Promise<{ start: number; end: number } | undefined> {
  const n = Number(param);
  if (!/^\d+$/.test(param) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', { ArgumentName: 'partNumber', ArgumentValue: param });
  if (hdr(c.req, 'range') !== undefined) throw s3err('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.');
  const parts = await s.objects.partsOf(c.who.view, info);
  if (!parts) {
    if (n !== 1) throw s3err('InvalidPartNumber', undefined, { PartNumberRequested: String(n), ActualPartCount: '1' });
    return info.size > 0 ? { start: 0, end: info.size - 1 } : undefined;
  }
  headers['x-amz-mp-parts-count'] = parts.length;
  if (n > parts.length) throw s3err('InvalidPartNumber', undefined, { PartNumberRequested: String(n), ActualPartCount: String(parts.length) });
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += parts[i]!;
  // An empty part has no bytes to range over: the reply is empty.
  return parts[n - 1]! > 0 ? { start, end: start + parts[n - 1]! - 1 } : undefined;
}

export function checksumHeaders(sum: StoredChecksum | undefined): Record<string, string> {
  return sum ? { [`x-amz-checksum-${sum.algo}`]: sum.value, 'x-amz-checksum-type': sum.type } : {};
}

export async function putObject(s: Services, c: Call): Promise<void> {
  c.op = 'PutObject';
  checkBucketName(c.bucket, false);
  const meta = metaFromHeaders(c.req.headers);
  const cond = writeCondition(c);
  const tags = tagsFromHeader(hdr(c.req, 'x-amz-tagging'));
  const b = requestBody(c);
  const r = await s.objects.putObject(c.who.view, c.bucket, c.key, b.body, b.hasher, b.expect, b.verify, meta, tags, cond);
  sendEmpty(c.res, 200, { ETag: quote(r.etag), ...checksumHeaders(r.checksum) });
}

/** x-amz-checksum-algorithm of a copy or an upload: one S3 knows, else InvalidRequest. */
export function requestedAlgo(c: Call): Algo | undefined {
  const v = hdr(c.req, 'x-amz-checksum-algorithm');
  if (v === undefined) return undefined;
  const a = v.toLowerCase();
  if (!isAlgo(a)) throw s3err('InvalidRequest', `Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]`);
  return a;
}

export async function copyObject(s: Services, c: Call): Promise<void> {
  c.op = 'CopyObject';
  const src = copySource(c);
  const directive = (hdr(c.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw s3err('InvalidArgument', 'Unknown metadata directive.');
  const cond = writeCondition(c);
  await readSmall(watchedBody(c.req), 0).catch((e: unknown) => {
    // A body cut short or stalled is answered as such (limits.ts); any other body is one too many.
    if (e instanceof S3Error && e.code !== 'MaxMessageLengthExceeded') throw e;
    throw s3err('InvalidRequest', 'A copy request must not have a body.');
  });
  const tagDirective = (hdr(c.req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (tagDirective !== 'COPY' && tagDirective !== 'REPLACE') throw s3err('InvalidArgument', 'Unknown tagging directive.');
  const tags = tagDirective === 'REPLACE' ? (tagsFromHeader(hdr(c.req, 'x-amz-tagging')) ?? []) : undefined;
  const algo = requestedAlgo(c);
  const r = await s.objects.copyObject(c.who.view, src, { bucket: c.bucket, key: c.key }, directive === 'REPLACE' ? metaFromHeaders(c.req.headers) : undefined, copyConditions(c), cond, tags, algo);
  const sum = r.checksum ? { [`Checksum${r.checksum.algo.toUpperCase()}`]: r.checksum.value, ChecksumType: r.checksum.type } : {};
  sendXml(c.res, 200, 'CopyObjectResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag), ...sum });
}

export async function deleteObjects(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteObjects';
  await bucketNode(c.who.view, c.bucket);
  const text = await smallBody(c, XML_LIMITS.DeleteObjects);
  let keys: Array<{ key: string; version: string | undefined }>;
  let quiet = false;
  try {
    const doc = parseXml(text, XML_LIMITS.DeleteObjects);
    if (doc.name !== 'Delete') throw new Error('root');
    quiet = childText(doc, 'Quiet')?.trim() === 'true';
    keys = doc.children.filter((o) => o.name === 'Object').map((o) => {
      const k = child(o, 'Key');
      if (!k) throw new Error('key');
      return { key: k.text, version: childText(o, 'VersionId') };
    });
  } catch {
    throw s3err('MalformedXML');
  }
  if (keys.length > 1000) throw s3err('MalformedXML', 'At most 1000 keys can be deleted at once.');
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const { key, version } of keys) {
    try {
      // Bucket-emptying tools delete every version ListObjectVersions showed: the one a key has is "null".
      nullVersion(version ?? null);
      await s.objects.deleteObject(c.who.view, c.bucket, key);
      if (!quiet) deleted.push({ Key: key, VersionId: version });
    } catch (e) {
      const err = e instanceof S3Error ? e : e instanceof FsError ? fromFsError(e) : s3err('InternalError');
      errors.push({ Key: key, VersionId: version, Code: err.code, Message: err.message });
    }
  }
  sendXml(c.res, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
}

export async function deleteObject(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteObject';
  const asked = nullVersion(c.query.get('versionId'));
  await s.objects.deleteObject(c.who.view, c.bucket, c.key);
  sendEmpty(c.res, 204, versionOf(asked));
}

const OBJECT_ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

/**
 * GetObjectAttributes: what HeadObject and ListParts would tell, in one call. Parts are listed with their
 * sizes (as S3 does for directory buckets; general purpose buckets list them only for objects carrying
 * checksums). No checksum is stored with objects yet, so Checksum is never in the answer.
 */
export async function getObjectAttributes(s: Services, c: Call): Promise<void> {
  c.op = 'GetObjectAttributes';
  const asked = (hdr(c.req, 'x-amz-object-attributes') ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  if (asked.length === 0) throw s3err('InvalidArgument', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty.', { ArgumentName: 'x-amz-object-attributes' });
  const bad = asked.find((a) => !OBJECT_ATTRIBUTES.includes(a));
  if (bad) throw s3err('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: bad });
  const maxParts = intHeader(c, 'x-amz-max-parts', 1000);
  const marker = intHeader(c, 'x-amz-part-number-marker', 0);
  const view = c.who.view;
  const info = await s.objects.stat(view, c.bucket, c.key);
  if (!info.marker) await view.access(info.ino, Access.READ).catch(s3Rethrow);
  const body: XmlNode = {};
  if (asked.includes('ETag')) body.ETag = info.etag;
  if (asked.includes('ObjectParts')) {
    const parts = await s.objects.partsOf(view, info);
    if (parts) {
      const list: XmlNode[] = [];
      for (let n = marker + 1; n <= parts.length && list.length < Math.min(maxParts, 1000); n++) list.push({ PartNumber: n, Size: parts[n - 1]! });
      const last = list.length ? (list[list.length - 1]!.PartNumber as number) : marker;
      body.ObjectParts = {
        PartsCount: parts.length,
        PartNumberMarker: marker,
        NextPartNumberMarker: last,
        MaxParts: maxParts,
        IsTruncated: last < parts.length,
        Part: list,
      };
    }
  }
  if (asked.includes('StorageClass')) body.StorageClass = 'STANDARD';
  if (asked.includes('ObjectSize')) body.ObjectSize = info.size;
  c.res.setHeader('Last-Modified', info.mtime.toUTCString());
  sendXml(c.res, 200, 'GetObjectAttributesResponse', body);
}

function intHeader(c: Call, name: string, dflt: number): number {
  const v = hdr(c.req, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 2 ** 31 - 1) throw s3err('InvalidArgument', `Invalid ${name} value.`, { ArgumentName: name, ArgumentValue: v });
  return n;
}
