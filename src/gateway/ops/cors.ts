// S3 CORS: PutBucketCors/GetBucketCors/DeleteBucketCors, the browser's OPTIONS preflight (answered
// without a signature, as browsers send it), and the Access-Control-* headers on the actual requests.
import { hdr, smallBody, type Call, type Services } from '../call.js';
import { corsFromXml, corsHeaders, corsXml, CORS_LIMITS, matchCors, readCors, XATTR_CORS, type CorsRule } from '../cors.js';
import { s3err, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../http.js';
import { bucketNode } from '../paths.js';
import { ownedBucket, readConfig, requireIntegrity, writeConfig } from './bucket-config.js';

export async function putBucketCors(s: Services, c: Call): Promise<void> {
  c.op = 'PutBucketCors';
  const b = await ownedBucket(s, c);
  requireIntegrity(c);
  const rules = corsFromXml(await smallBody(c, CORS_LIMITS));
  await writeConfig(s, c, b.ino, XATTR_CORS, JSON.stringify(rules));
  sendEmpty(c.res, 200);
}

export async function getBucketCors(s: Services, c: Call): Promise<void> {
  c.op = 'GetBucketCors';
  const b = await ownedBucket(s, c);
  const text = await readConfig(s, b.ino, XATTR_CORS);
  if (text === undefined) throw s3err('NoSuchCORSConfiguration', undefined, { BucketName: c.bucket });
  sendXml(c.res, 200, 'CORSConfiguration', corsXml(JSON.parse(text) as CorsRule[]));
}

export async function deleteBucketCors(s: Services, c: Call): Promise<void> {
  c.op = 'DeleteBucketCors';
  const b = await ownedBucket(s, c);
  await writeConfig(s, c, b.ino, XATTR_CORS, undefined);
  sendEmpty(c.res, 204);
}

const NOT_ALLOWED =
  "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/** OPTIONS /bucket[/key]: the rules decide; no signature is asked for (a browser's preflight has none). */
export async function preflight(s: Services, c: Call): Promise<void> {
  c.op = 'PreflightRequest';
  if (!c.bucket) throw s3err('MethodNotAllowed');
  const origin = hdr(c.req, 'origin');
  if (!origin) throw s3err('BadRequest', 'Insufficient information. Origin request header needed.');
  const method = hdr(c.req, 'access-control-request-method');
  if (!method) throw s3err('BadRequest', 'Insufficient information. Access-Control-Request-Method request header needed.');
  if (!['GET', 'PUT', 'HEAD', 'POST', 'DELETE'].includes(method)) throw s3err('BadRequest', `Invalid Access-Control-Request-Method: ${method}`);
  const requested = (hdr(c.req, 'access-control-request-headers') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const b = await bucketNode(s.root, c.bucket);
  const rules = await readCors(s.root, b.ino);
  if (!rules) throw s3err('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.', { Method: method, ResourceType: c.key ? 'OBJECT' : 'BUCKET' });
  const rule = matchCors(rules, origin, method, requested);
  if (!rule) throw s3err('AccessForbidden', NOT_ALLOWED, { Method: method, ResourceType: c.key ? 'OBJECT' : 'BUCKET' });
  // The requested headers are echoed in lower case, as S3 does.
  sendEmpty(c.res, 200, corsHeaders(rule, origin, { headers: requested.map((h) => h.toLowerCase()) }));
}

/**
 * A request with an Origin to a bucket with CORS rules: the matching rule's headers go on the answer
 * (errors included, so a browser script can read them). Nothing is said when no rule matches.
 */
export async function applyCors(s: Services, c: Call): Promise<void> {
  const origin = hdr(c.req, 'origin');
  if (!origin || !c.bucket) return;
  let rules: CorsRule[] | undefined;
  try {
    rules = await readCors(s.root, (await bucketNode(s.root, c.bucket)).ino);
  } catch (e) {
    if (e instanceof S3Error) return; // no such bucket: the operation says so
    throw e;
  }
  const rule = rules && matchCors(rules, origin, c.req.method ?? 'GET');
  if (rule) for (const [k, v] of Object.entries(corsHeaders(rule, origin))) c.res.setHeader(k, v);
}
