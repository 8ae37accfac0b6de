// S3 multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
// CompleteMultipartUpload, AbortMultipartUpload.
import { copyConditions, copySource, hdr, owner, quote, requestBody, smallBody, writeCondition, type Call, type Services } from '../call.js';
import { s3err } from '../errors.js';
import { readSmall, sendEmpty, sendXml } from '../http.js';
import { MAX_PARTS } from '../multipart.js';
import { metaFromHeaders } from '../objects.js';
import { childText, XML_LIMITS, parseXml } from '../xml.js';

export async function createUpload(s: Services, c: Call): Promise<void> {
  c.op = 'CreateMultipartUpload';
  await readSmall(c.req, 1 << 16);
  const id = await s.multipart.create(c.who.view, c.bucket, c.key, metaFromHeaders(c.req.headers));
  sendXml(c.res, 200, 'InitiateMultipartUploadResult', { Bucket: c.bucket, Key: c.key, UploadId: id });
}

function partNumber(c: Call): number {
  const n = Number(c.query.get('partNumber'));
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  return n;
}

export async function uploadPart(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'UploadPart';
  const n = partNumber(c);
  const b = requestBody(c);
  const etag = await s.multipart.uploadPart(c.who.view, c.bucket, c.key, id, n, b.body, b.hasher, b.expect, b.verify);
  sendEmpty(c.res, 200, { ETag: quote(etag) });
}

export async function uploadPartCopy(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'UploadPartCopy';
  const n = partNumber(c);
  const r = await s.multipart.uploadPartCopy(c.who.view, c.bucket, c.key, id, n, copySource(c), hdr(c.req, 'x-amz-copy-source-range'), copyConditions(c));
  sendXml(c.res, 200, 'CopyPartResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag) });
}

export async function listParts(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'ListParts';
  const marker = Number(c.query.get('part-number-marker') ?? 0) || 0;
  const max = Math.min(Number(c.query.get('max-parts') ?? 1000) || 1000, 1000);
  const r = await s.multipart.listParts(c.who.view, c.bucket, c.key, id, marker, max);
  const last = r.parts[r.parts.length - 1];
  sendXml(c.res, 200, 'ListPartsResult', {
    Bucket: c.bucket,
    Key: c.key,
    UploadId: id,
    Initiator: owner(c),
    Owner: owner(c),
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: last ? last.number : undefined,
    MaxParts: max,
    IsTruncated: r.truncated,
    Part: r.parts.map((p) => ({ PartNumber: p.number, LastModified: p.mtime.toISOString(), ETag: quote(p.etag), Size: p.size })),
  });
}

export async function completeUpload(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'CompleteMultipartUpload';
  const cond = writeCondition(c);
  const text = await smallBody(c, XML_LIMITS.CompleteMultipartUpload);
  let parts: Array<{ number: number; etag: string }>;
  try {
    const doc = parseXml(text, XML_LIMITS.CompleteMultipartUpload);
    if (doc.name !== 'CompleteMultipartUpload') throw new Error('root');
    parts = doc.children
      .filter((p) => p.name === 'Part')
      .map((p) => ({ number: Number(childText(p, 'PartNumber')), etag: childText(p, 'ETag') ?? '' }));
    if (parts.some((p) => !Number.isInteger(p.number))) throw new Error('part number');
  } catch {
    throw s3err('MalformedXML');
  }
  const etag = await s.multipart.complete(c.who.view, c.bucket, c.key, id, parts, cond);
  sendXml(c.res, 200, 'CompleteMultipartUploadResult', { Location: `/${c.bucket}/${c.key}`, Bucket: c.bucket, Key: c.key, ETag: quote(etag) });
}

export async function abortUpload(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'AbortMultipartUpload';
  await s.multipart.abort(c.who.view, c.bucket, c.key, id);
  sendEmpty(c.res, 204);
}
