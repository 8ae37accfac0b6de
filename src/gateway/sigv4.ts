// AWS Signature Version 4 verification: the Authorization-header form, the presigned query form, and the
// per-chunk signatures of aws-chunked streaming uploads. Only the verifier: clients sign, we recompute.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { s3err } from './errors.js';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_SKEW_MS = 15 * 60 * 1000;

/** RFC 3986 encoding as SigV4 defines it: unreserved characters stay, everything else is %XX (uppercase). */
export function uriEncode(s: string, encodeSlash = true): string {
  let out = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  if (!encodeSlash) out = out.replace(/%2F/g, '/');
  return out;
}

/** Decodes %XX without treating '+' as a space (S3 keys may contain '+'). */
export function pctDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw s3err('InvalidArgument', 'Invalid percent-encoding in the request.');
  }
}

export function sha256hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

const keyCache = new Map<string, Buffer>();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const ck = `${secret}\0${date}\0${region}\0${service}`;
  let k = keyCache.get(ck);
  if (!k) {
    k = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(ck, k);
  }
  return k;
}

function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length || !/^[0-9a-f]*$/.test(b)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** What the server knows about a request, independent of node:http. */
export interface SignedRequest {
  method: string;
  /** The path exactly as sent (still percent-encoded). */
  rawPath: string;
  /** The query string as sent, without '?'. */
  rawQuery: string;
  /** [name, value] pairs as received (node's rawHeaders paired up). */
  headers: Array<[string, string]>;
}

/** The result of a verified request: who signed it and what the payload must hash to. */
export interface Verified {
  accessKey: string;
  /** x-amz-content-sha256 (a hex hash, UNSIGNED-PAYLOAD or a STREAMING-* mode). */
  payloadHash: string;
  /** For chunk signatures of streaming uploads. */
  seed: { key: Buffer; amzDate: string; scope: string; signature: string };
}

interface Credential {
  accessKey: string;
  date: string;
  region: string;
  service: string;
}

function parseCredential(v: string, bad: () => Error): Credential {
  const p = v.split('/');
  if (p.length !== 5 || p[4] !== 'aws4_request') throw bad();
  return { accessKey: p[0]!, date: p[1]!, region: p[2]!, service: p[3]! };
}

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function canonicalQuery(rawQuery: string, skip?: string): string {
  if (!rawQuery) return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = pctDecode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : pctDecode(part.slice(eq + 1));
    if (k === skip) continue;
    pairs.push([uriEncode(k), uriEncode(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaders(headers: Array<[string, string]>, signed: string[]): string {
  const m = new Map<string, string[]>();
  for (const [k, v] of headers) {
    const l = k.toLowerCase();
    if (!signed.includes(l)) continue;
    const list = m.get(l) ?? [];
    list.push(v.trim().replace(/\s+/g, ' '));
    m.set(l, list);
  }
  return signed.map((h) => `${h}:${(m.get(h) ?? []).join(',')}\n`).join('');
}

/** The canonical URI S3 signs: each segment of the decoded path encoded once, slashes kept. */
function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((seg) => uriEncode(pctDecode(seg)))
    .join('/');
}

export function header(req: SignedRequest, name: string): string | undefined {
  const l = name.toLowerCase();
  for (const [k, v] of req.headers) if (k.toLowerCase() === l) return v;
  return undefined;
}

/** What a client signing with Signature Version 2 is told (S3's answer in regions without SigV2, and how to switch). */
const SIGV2_REFUSED =
  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256 (Signature Version 4: in boto3, Config(signature_version='s3v4')).";

/** A SigV2 presigned URL: its query carries AWSAccessKeyId and Signature. */
function isSigV2Query(query: URLSearchParams): boolean {
  return query.has('AWSAccessKeyId') && query.has('Signature');
}

/** Whether a request carries any credentials, SigV4 or (to be refused) SigV2; else it is anonymous. */
export function isSigned(req: SignedRequest, query: URLSearchParams): boolean {
  return header(req, 'authorization') !== undefined || query.has('X-Amz-Signature') || query.has('X-Amz-Credential') || isSigV2Query(query);
}

/**
 * Verifies a signed request; `secretOf` returns the secret of an access key or undefined.
 * Throws the S3 error a client should see.
 */
export function verify(req: SignedRequest, query: URLSearchParams, secretOf: (ak: string) => string | undefined, now = Date.now()): Verified {
  const auth = header(req, 'authorization');
  let cred: Credential;
  let signedHeaders: string[];
  let signature: string;
  let amzDate: string;
  let payloadHash: string;
  let rawQuery = req.rawQuery;
  let skipQuery: string | undefined;
  if (auth !== undefined) {
    const bad = () => s3err('AuthorizationHeaderMalformed');
    if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
      if (auth.startsWith('AWS ')) throw s3err('InvalidRequest', SIGV2_REFUSED);
      throw bad();
    }
    const fields: Record<string, string> = {};
    for (const part of auth.slice(17).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    if (!fields.Credential || !fields.SignedHeaders || !fields.Signature) throw bad();
    cred = parseCredential(fields.Credential, bad);
    signedHeaders = fields.SignedHeaders.split(';');
    signature = fields.Signature;
    amzDate = header(req, 'x-amz-date') ?? '';
    let t = parseAmzDate(amzDate);
    if (Number.isNaN(t)) {
      const d = header(req, 'date');
      t = d ? Date.parse(d) : NaN;
      if (Number.isNaN(t)) throw s3err('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    }
    if (Math.abs(now - t) > MAX_SKEW_MS) throw s3err('RequestTimeTooSkewed');
    const ph = header(req, 'x-amz-content-sha256');
    if (ph === undefined) throw s3err('MissingSecurityHeader', 'Missing required header for this request: x-amz-content-sha256');
    payloadHash = ph;
  } else {
    const bad = () => s3err('AuthorizationQueryParametersError');
    if (!query.has('X-Amz-Algorithm') && isSigV2Query(query)) throw s3err('InvalidRequest', SIGV2_REFUSED);
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw bad();
    const c = query.get('X-Amz-Credential');
    const sh = query.get('X-Amz-SignedHeaders');
    const sig = query.get('X-Amz-Signature');
    const d = query.get('X-Amz-Date');
    const ex = query.get('X-Amz-Expires');
    if (!c || !sh || !sig || !d || !ex) throw bad();
    cred = parseCredential(c, bad);
    signedHeaders = sh.split(';');
    signature = sig;
    amzDate = d;
    const t = parseAmzDate(d);
    const expires = Number(ex);
    if (Number.isNaN(t) || !Number.isInteger(expires) || expires < 0 || expires > 604800) throw bad();
    if (now > t + expires * 1000) throw s3err('AccessDenied', 'Request has expired');
    if (t - now > MAX_SKEW_MS) throw s3err('AccessDenied', 'Request is not valid yet');
    payloadHash = query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    skipQuery = 'X-Amz-Signature';
  }
  if (!signedHeaders.includes('host')) throw s3err('AccessDenied', 'The host header must be signed.');
  const secret = secretOf(cred.accessKey);
  // A blank secret (a volume loaded from a dump without secrets) signs nothing: anyone could compute it.
  if (!secret) throw s3err('InvalidAccessKeyId');
  if (cred.date !== amzDate.slice(0, 8)) throw s3err('SignatureDoesNotMatch', 'The credential date does not match the request date.');
  const creq = [
    req.method,
    canonicalUri(req.rawPath),
    canonicalQuery(rawQuery, skipQuery),
    canonicalHeaders(req.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${cred.date}/${cred.region}/${cred.service}/aws4_request`;
  // Hashed as the bytes that were sent: header values are latin1 strings of raw bytes (node's rawHeaders),
  // everything else is ASCII, so latin1 gives those bytes back (UTF-8 would re-encode a UTF-8 value twice).
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(Buffer.from(creq, 'latin1'))}`;
  const key = signingKey(secret, cred.date, cred.region, cred.service);
  const expect = createHmac('sha256', key).update(sts).digest('hex');
  if (!sameHex(expect, signature.toLowerCase())) throw s3err('SignatureDoesNotMatch');
  return { accessKey: cred.accessKey, payloadHash, seed: { key, amzDate, scope, signature: expect } };
}

/** The signature a chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body must carry. */
export function chunkSignature(seed: Verified['seed'], previous: string, chunkSha256Hex: string): string {
  const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${seed.amzDate}\n${seed.scope}\n${previous}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
  return createHmac('sha256', seed.key).update(sts).digest('hex');
}

/** The signature of the trailing headers of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body. */
export function trailerSignature(seed: Verified['seed'], previous: string, trailerText: string): string {
  const sts = `AWS4-HMAC-SHA256-TRAILER\n${seed.amzDate}\n${seed.scope}\n${previous}\n${sha256hex(trailerText)}`;
  return createHmac('sha256', seed.key).update(sts).digest('hex');
}

export function signaturesEqual(a: string, b: string): boolean {
  return sameHex(a, b.toLowerCase());
}
