// One S3 request being served (its bucket, key, query and caller), what every S3 operation is given to
// serve it with, and the helpers operations share to read its headers and body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VfsView } from '../vfs/view.js';
import { BodyHasher, checksumAlgorithm, validContentMd5, type Algo } from './checksum.js';
import { decodeAwsChunked, streamingMode } from './chunked.js';
import { s3err } from './errors.js';
import { preconditions, readSmall } from './http.js';
import { watchedBody } from './limits.js';
import { checkBucketName } from './paths.js';
import type { XmlLimits } from './xml.js';
import type { Multipart } from './multipart.js';
import type { Objects, WriteCondition } from './objects.js';
import type { KeyTable } from './keys.js';
import { pctDecode, type Verified } from './sigv4.js';
import type { XmlNode } from './xml.js';

/** Who is calling: the namespace as their uid/gid sees it. */
export interface Identity {
  view: VfsView;
  accessKey?: string;
  uid: number;
  verified?: Verified;
  /** Mode of buckets this key creates (its record's bucketMode; else the gateway's --bucket-mode). */
  bucketMode?: number;
}

export interface Call {
  id: string;
  req: IncomingMessage;
  res: ServerResponse;
  bucket: string;
  key: string;
  query: URLSearchParams;
  who: Identity;
  /** The operation's S3 name, set by the operation (metrics and the access log). */
  op: string;
}

/** What operations work with: the namespace side of objects and uploads, and the gateway's settings. */
export interface Services {
  objects: Objects;
  multipart: Multipart;
  /** The namespace as root (listing uploads needs to see every user's). */
  root: VfsView;
  region: string;
  /** Mode of buckets created over S3. */
  bucketMode: number;
  /** Whether the volume encrypts its blocks: then every object is SSE-S3 (AES256) as S3 says it. */
  encrypted: boolean;
  /** An access key's identity and secret (a POST form's policy signature is checked with it); undefined if unknown. */
  keyOf?: (accessKey: string, from: string | undefined) => Promise<{ who: Identity; secret: string } | undefined>;
  /** The volume's access keys (ACL answers name the keys a group's bits let in). */
  keys?: () => KeyTable;
  /** Who unsigned requests act as, when the gateway serves them (--anonymous). */
  anonymous?: () => Identity;
}

const MAX_PUT = 5 * 1024 ** 3;

export function hdr(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function quote(etag: string): string {
  return `"${etag}"`;
}

/** The S3 owner of what uid owns: the same ID and display name in listings, uploads and ACLs. */
export function ownerOf(uid: number): XmlNode {
  return { ID: String(uid), DisplayName: `uid-${uid}` };
}

/** The caller as an S3 owner. */
export function owner(c: Call): XmlNode {
  return ownerOf(c.who.uid);
}

export interface Body {
  body: AsyncIterable<Buffer>;
  hasher: BodyHasher;
  /** The announced length, if any. */
  expect: number | undefined;
  /** Checks the digests once the body was read; returns its MD5. */
  verify: () => string;
}

/**
 * The request body decoded (aws-chunked) and checked (payload hash, Content-MD5, checksums) as it streams.
 * `uploadAlgo`: the checksum algorithm of the multipart upload a part belongs to (computed even when the
 * part carries none; a part carrying another one is refused, as S3 does).
 */
export function requestBody(c: Call, uploadAlgo?: Algo, flexible = true): Body {
  const v = c.who.verified;
  const ph = v?.payloadHash ?? hdr(c.req, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
  const mode = streamingMode(ph);
  const md5 = hdr(c.req, 'content-md5');
  if (md5 !== undefined && !validContentMd5(md5)) throw s3err('InvalidDigest');
  const trailers = new Map<string, string>();
  let expect: number | undefined;
  if (mode) {
    const d = hdr(c.req, 'x-amz-decoded-content-length');
    expect = d !== undefined ? Number(d) : undefined;
  } else {
    const l = hdr(c.req, 'content-length');
    expect = l !== undefined ? Number(l) : undefined;
  }
  if (expect !== undefined && (!Number.isSafeInteger(expect) || expect < 0)) throw s3err('InvalidArgument', 'Bad Content-Length.');
  if (expect === undefined && hdr(c.req, 'transfer-encoding') === undefined && c.req.method === 'PUT') throw s3err('MissingContentLength');
  if (expect !== undefined && expect > MAX_PUT) throw s3err('EntityTooLarge');
  const sent = flexible ? checksumAlgorithm(c.req.headers) : undefined;
  if (uploadAlgo && sent && sent !== uploadAlgo) {
    throw s3err('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${uploadAlgo}, actual checksum Type: ${sent}`);
  }
  const hasher = new BodyHasher(mode || !v ? undefined : ph, sent ?? uploadAlgo);
  const trailer = hdr(c.req, 'x-amz-trailer')?.trim().toLowerCase();
  const raw = watchedBody(c.req);
  const body = mode ? decodeAwsChunked(raw, mode, v?.seed, trailers) : raw;
  const verify = () => {
    if (mode && trailer && !trailers.has(trailer)) throw s3err('InvalidRequest', `x-amz-trailer announced ${trailer}, but the body carried no such trailer.`);
    const sums = new Map(trailers);
    if (flexible) for (const [k, val] of Object.entries(c.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof val === 'string') sums.set(k, val);
    return hasher.finish(md5, sums);
  };
  return { body, hasher, expect, verify };
}

/**
 * A small body (an XML document), read whole and checked; over the operation's limit is S3's
 * MaxMessageLengthExceeded. `flexible`: whether x-amz-checksum-* headers are the body's (not so for
 * CompleteMultipartUpload, where they are the object's).
 */
export async function smallBody(c: Call, limits: XmlLimits, flexible = true): Promise<string> {
  const b = requestBody(c, undefined, flexible);
  if (b.expect !== undefined && b.expect > limits.maxBytes) throw s3err('MaxMessageLengthExceeded', 'Your request was too big.');
  const buf = await readSmall(b.body, limits.maxBytes);
  b.hasher.update(buf);
  b.verify();
  return buf.toString('utf8');
}

/** The bucket and key of x-amz-copy-source. */
export function copySource(c: Call): { bucket: string; key: string } {
  let raw = hdr(c.req, 'x-amz-copy-source')!;
  const vi = raw.indexOf('?versionId=');
  if (vi >= 0) {
    // Every object is its own "null" version; there is no other to copy from.
    const version = raw.slice(vi + 11);
    if (version !== 'null') throw s3err('NoSuchVersion', undefined, { VersionId: version.slice(0, 1024) });
    raw = raw.slice(0, vi);
  }
  const d = pctDecode(raw).replace(/^\//, '');
  const s = d.indexOf('/');
  if (s <= 0 || s === d.length - 1) throw s3err('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  // The source is an address like the request's own: the same bucket-name rules (routes.ts checks those).
  checkBucketName(d.slice(0, s), false);
  return { bucket: d.slice(0, s), key: d.slice(s + 1) };
}

/** The x-amz-copy-source-if-* conditions, as a check of the source object. */
export function copyConditions(c: Call): (info: { etag: string; mtime: Date }) => void {
  return (info) => {
    const pre = preconditions(c.req.headers, info.etag, info.mtime, 'x-amz-copy-source-');
    if (pre !== undefined) throw s3err('PreconditionFailed');
  };
}

/** If-None-Match / If-Match of a write (PutObject, CompleteMultipartUpload, CopyObject's destination). */
export function writeCondition(c: Call): WriteCondition {
  const inm = hdr(c.req, 'if-none-match');
  const im = hdr(c.req, 'if-match');
  // S3 writes take only "*" here: an ETag would mean "replace unless it is this one", which S3 does not do.
  if (inm !== undefined && inm.trim().replace(/"/g, '') !== '*') throw s3err('NotImplemented', 'If-None-Match on a write takes only "*".', { Header: 'If-None-Match' });
  if (im !== undefined && im.trim() === '') throw s3err('InvalidArgument', 'If-Match needs an ETag.', { ArgumentName: 'If-Match' });
  return { noneMatch: inm !== undefined, match: im };
}
