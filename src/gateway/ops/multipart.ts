// S3 multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
// CompleteMultipartUpload, AbortMultipartUpload.
import { copyConditions, copySource, hdr, owner, quote, requestBody, smallBody, writeCondition, type Call, type Services } from '../call.js';
import { ALGOS, algoElement, algoName, checkChecksumValue, type Algo } from '../checksum.js';
import { s3err } from '../errors.js';
import { readSmall, sendEmpty, sendXml } from '../http.js';
import { MAX_PARTS, type UploadRecord, type WantedPart } from '../multipart.js';
import { metaFromHeaders, type StoredChecksum } from '../objects.js';
import { tagsFromHeader } from '../tags.js';
import { child, childText, XML_LIMITS, parseXml } from '../xml.js';
import { checksumHeaders, requestedAlgo } from './objects.js';
import { watchedBody } from '../limits.js';

/** ChecksumAlgorithm and ChecksumType of a new upload, with S3's rules on which go together. */
function uploadChecksum(c: Call): UploadRecord['checksum'] {
  const algo = requestedAlgo(c);
  const t = hdr(c.req, 'x-amz-checksum-type')?.toUpperCase();
  if (t !== undefined && t !== 'COMPOSITE' && t !== 'FULL_OBJECT') throw s3err('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (!algo) {
    if (t !== undefined) throw s3err('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  // CRC64NVME exists only as a full-object checksum; SHA digests cannot be combined into one.
  const type = t ?? (algo === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type === 'COMPOSITE' && algo === 'crc64nvme') throw s3err('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  if (type === 'FULL_OBJECT' && (algo === 'sha1' || algo === 'sha256')) throw s3err('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algo} checksum algorithm.`);
  return { algo, type };
}

export async function createUpload(s: Services, c: Call): Promise<void> {
  c.op = 'CreateMultipartUpload';
  await readSmall(watchedBody(c.req), 1 << 16);
  const checksum = uploadChecksum(c);
  const tags = tagsFromHeader(hdr(c.req, 'x-amz-tagging'));
  const id = await s.multipart.create(c.who.view, c.bucket, c.key, metaFromHeaders(c.req.headers), { checksum, tags });
  const headers: Record<string, string> = checksum ? { 'x-amz-checksum-algorithm': algoName(checksum.algo), 'x-amz-checksum-type': checksum.type } : {};
  sendXml(c.res, 200, 'InitiateMultipartUploadResult', { Bucket: c.bucket, Key: c.key, UploadId: id }, headers);
}

/** The checksum elements of a part or of the completed object (ChecksumCRC32, ..., ChecksumType). */
function checksumElements(sum: StoredChecksum | undefined, withType: boolean): Record<string, string> {
  if (!sum) return {};
  return { [algoElement(sum.algo)]: sum.value, ...(withType ? { ChecksumType: sum.type } : {}) };
}

function partNumber(c: Call): number {
  const n = Number(c.query.get('partNumber'));
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  return n;
}

export async function uploadPart(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'UploadPart';
  const n = partNumber(c);
  const rec = await s.multipart.record(c.who.view, id, c.bucket, c.key);
  const b = requestBody(c, rec.checksum?.algo);
  const r = await s.multipart.uploadPart(c.who.view, c.bucket, c.key, id, n, b.body, b.hasher, b.expect, b.verify);
  const sum = r.checksum ? { [`x-amz-checksum-${r.checksum.algo}`]: r.checksum.value } : {};
  sendEmpty(c.res, 200, { ETag: quote(r.etag), ...sum });
}

export async function uploadPartCopy(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'UploadPartCopy';
  const n = partNumber(c);
  const r = await s.multipart.uploadPartCopy(c.who.view, c.bucket, c.key, id, n, copySource(c), hdr(c.req, 'x-amz-copy-source-range'), copyConditions(c));
  sendXml(c.res, 200, 'CopyPartResult', { LastModified: r.mtime.toISOString(), ETag: quote(r.etag), ...checksumElements(r.checksum, false) });
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
    ...(r.rec.checksum ? { ChecksumAlgorithm: algoName(r.rec.checksum.algo), ChecksumType: r.rec.checksum.type } : {}),
    Part: r.parts.map((p) => ({ PartNumber: p.number, LastModified: p.mtime.toISOString(), ETag: quote(p.etag), Size: p.size, ...checksumElements(p.checksum, false) })),
  });
}

export async function completeUpload(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'CompleteMultipartUpload';
  const cond = writeCondition(c);
  // x-amz-checksum-ALGO here is the whole object's checksum, not the XML body's.
  const text = await smallBody(c, XML_LIMITS.CompleteMultipartUpload, false);
  let parts: WantedPart[];
  try {
    const doc = parseXml(text, XML_LIMITS.CompleteMultipartUpload);
    if (doc.name !== 'CompleteMultipartUpload') throw new Error('root');
    parts = doc.children
      .filter((p) => p.name === 'Part')
      .map((p) => {
        const checksums: Partial<Record<Algo, string>> = {};
        for (const a of ALGOS) {
          const v = child(p, algoElement(a));
          if (v) checksums[a] = v.text.trim();
        }
        return { number: Number(childText(p, 'PartNumber')), etag: childText(p, 'ETag') ?? '', checksums };
      });
    if (parts.some((p) => !Number.isInteger(p.number))) throw new Error('part number');
  } catch {
    throw s3err('MalformedXML');
  }
  for (const p of parts) for (const [a, v] of Object.entries(p.checksums)) checkChecksumValue(a as Algo, v, 'element');
  // The whole object's checksum, for FULL_OBJECT uploads (x-amz-checksum-ALGO on the Complete request).
  let full: { algo: Algo; value: string } | undefined;
  for (const a of ALGOS) {
    const v = hdr(c.req, `x-amz-checksum-${a}`);
    if (v !== undefined) {
      checkChecksumValue(a, v.replace(/-\d+$/, ''));
      full = { algo: a, value: v };
    }
  }
  const r = await s.multipart.complete(c.who.view, c.bucket, c.key, id, parts, cond, full);
  sendXml(c.res, 200, 'CompleteMultipartUploadResult', {
    Location: `/${c.bucket}/${c.key}`,
    Bucket: c.bucket,
    Key: c.key,
    ETag: quote(r.etag),
    ...checksumElements(r.checksum, true),
  }, checksumHeaders(r.checksum));
}

export async function abortUpload(s: Services, c: Call, id: string): Promise<void> {
  c.op = 'AbortMultipartUpload';
  await s.multipart.abort(c.who.view, c.bucket, c.key, id);
  sendEmpty(c.res, 204);
}
