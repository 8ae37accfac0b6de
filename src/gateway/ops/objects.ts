// S3 operations on objects: GetObject/HeadObject (ranges, conditions), PutObject, CopyObject, DeleteObject,
// DeleteObjects, GetObjectTagging.
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { FsError } from '../../errors.js';
import { handleReadStream } from '../../vfs/stream.js';
import { Access } from '../../vfs/view.js';
import { copyConditions, copySource, hdr, quote, requestBody, smallBody, type Call, type Services } from '../call.js';
import { fromFsError, s3err, S3Error } from '../errors.js';
import { textToHeader } from '../header-text.js';
import { parseRange, preconditions, readSmall, sendEmpty, sendXml } from '../http.js';
import { metaFromHeaders, s3Rethrow } from '../objects.js';
import { bucketNode, checkBucketName } from '../paths.js';
import { child, childText, XML_LIMITS, parseXml, type XmlNode } from '../xml.js';

export async function getObject(s: Services, c: Call, head: boolean): Promise<void> {
  c.op = head ? 'HeadObject' : 'GetObject';
  const view = c.who.view;
  const info = await s.objects.stat(view, c.bucket, c.key);
  const pre = preconditions(c.req.headers, info.etag, info.mtime);
  if (pre === 412) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
  const meta = info.marker ? { headers: {}, user: {} } : await s.objects.metaOf(view, info.ino);
  const headers: Record<string, string | number> = {
    ETag: quote(info.etag),
    'Last-Modified': info.mtime.toUTCString(),
    'Accept-Ranges': 'bytes',
    'Content-Type': 'binary/octet-stream',
  };
  for (const [k, v] of Object.entries(meta.headers)) headers[k] = v;
  for (const [k, v] of Object.entries(meta.user)) headers[`x-amz-meta-${k}`] = textToHeader(v);
  if (info.etag.includes('-') && !info.etag.endsWith('-1')) headers['x-amz-mp-parts-count'] = info.etag.slice(info.etag.indexOf('-') + 1);
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
  const range = info.marker ? undefined : parseRange(hdr(c.req, 'range'), info.size);
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

export async function putObject(s: Services, c: Call): Promise<void> {
  c.op = 'PutObject';
  checkBucketName(c.bucket, false);
  const meta = metaFromHeaders(c.req.headers);
  const b = requestBody(c);
  const etag = await s.objects.putObject(c.who.view, c.bucket, c.key, b.body, b.hasher, b.expect, b.verify, meta);
  sendEmpty(c.res, 200, { ETag: quote(etag) });
}

export async function copyObject(s: Services, c: Call): Promise<void> {
  c.op = 'CopyObject';
  const src = copySource(c);
  const directive = (hdr(c.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw s3err('InvalidArgument', 'Unknown metadata directive.');
  await readSmall(c.req, 0).catch(() => {
    throw s3err('InvalidRequest', 'A copy request must not have a body.');
  });
  const r = await s.objects.copyObject(c.who.view, src, { bucket: c.bucket, key: c.key }, directive === 'REPLACE' ? metaFromHeaders(c.req.headers) : undefined, copyConditions(c));
  sendXml(c.res, 200, 'CopyObjectResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag) });
}

export async function deleteObjects(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteObjects';
  await bucketNode(c.who.view, c.bucket);
  const text = await smallBody(c, XML_LIMITS.DeleteObjects);
  let keys: string[];
  let quiet = false;
  try {
    const doc = parseXml(text, XML_LIMITS.DeleteObjects);
    if (doc.name !== 'Delete') throw new Error('root');
    quiet = childText(doc, 'Quiet')?.trim() === 'true';
    keys = doc.children.filter((o) => o.name === 'Object').map((o) => {
      const k = child(o, 'Key');
      if (!k) throw new Error('key');
      return k.text;
    });
  } catch {
    throw s3err('MalformedXML');
  }
  if (keys.length > 1000) throw s3err('MalformedXML', 'At most 1000 keys can be deleted at once.');
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const k of keys) {
    try {
      await s.objects.deleteObject(c.who.view, c.bucket, k);
      if (!quiet) deleted.push({ Key: k });
    } catch (e) {
      const err = e instanceof S3Error ? e : e instanceof FsError ? fromFsError(e) : s3err('InternalError');
      errors.push({ Key: k, Code: err.code, Message: err.message });
    }
  }
  sendXml(c.res, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
}

export async function deleteObject(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteObject';
  await s.objects.deleteObject(c.who.view, c.bucket, c.key);
  sendEmpty(c.res, 204);
}

/** Tags are not stored; an empty set lets clients that copy tags along (awscli) go on. */
export async function getObjectTagging(s: Services, c: Call): Promise<void> {
  c.op = 'GetObjectTagging';
  await s.objects.stat(c.who.view, c.bucket, c.key);
  sendXml(c.res, 200, 'Tagging', { TagSet: {} });
}
