// POST Object: a browser uploads a file with an HTML form (multipart/form-data) to the bucket's URL. The
// form carries a policy (base64 JSON: an expiration and conditions on the form's fields) signed with SigV4
// by the key's owner; the gateway checks the signature, the expiration and every condition, then writes the
// file as PutObject does (a temp file renamed into place, with its metadata).
import { createHmac } from 'node:crypto';
import { type Call, type Identity, type Services, hdr, quote } from '../call.js';
import { BodyHasher, checksumAlgorithm } from '../checksum.js';
import { s3err } from '../errors.js';
import { boundaryOf, readField, readForm, type FormPart } from '../form-data.js';
import { sendEmpty, sendXml } from '../http.js';
import { metaFromHeaders } from '../objects.js';
import { parseKey } from '../paths.js';
import { signaturesEqual, signingKey, uriEncode } from '../sigv4.js';
import { watchedBody } from '../limits.js';

/** What S3 allows of the fields before the file. */
const MAX_FIELDS_BYTES = 20 * 1024;
const MAX_OBJECT = 5 * 1024 ** 3;

/** A POST to a bucket with a multipart/form-data body: a browser upload (it carries no Authorization). */
export function isFormPost(c: Call): boolean {
  return c.req.method === 'POST' && !c.key && boundaryOf(hdr(c.req, 'content-type')) !== undefined;
}

/** The same test on a request before it is routed (server.ts: such a request is authenticated by its form). */
export function isFormPostRequest(method: string | undefined, rawPath: string, contentType: string | undefined): boolean {
  return method === 'POST' && rawPath.indexOf('/', 1) < 0 && rawPath.length > 1 && boundaryOf(contentType) !== undefined;
}

type Condition = { op: 'eq' | 'starts-with'; field: string; value: string; text: string } | { op: 'range'; min: number; max: number };

function badPolicy(why: string): Error {
  return s3err('InvalidPolicyDocument', `Invalid Policy: ${why}`);
}

/** The policy's conditions; InvalidPolicyDocument for one S3 would not accept. */
function parsePolicy(b64: string, now: number): Condition[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    throw badPolicy('Invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (typeof expiration !== 'string') throw badPolicy('Policy missing expiration.');
  const exp = Date.parse(expiration);
  if (Number.isNaN(exp)) throw badPolicy(`Invalid 'expiration' value: '${expiration}'`);
  if (!Array.isArray(conditions)) throw badPolicy('Policy missing conditions.');
  if (now > exp) throw s3err('AccessDenied', 'Invalid according to Policy: Policy expired.');
  const out: Condition[] = [];
  for (const c of conditions as unknown[]) {
    const text = JSON.stringify(c);
    if (Array.isArray(c)) {
      const [op, a, b] = c as unknown[];
      if (c.length !== 3 || typeof op !== 'string') throw badPolicy(`Invalid Condition: ${text}`);
      const o = op.toLowerCase();
      if (o === 'content-length-range') {
        const min = Number(a);
        const max = Number(b);
        if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) throw badPolicy(`Invalid content-length-range: ${text}`);
        out.push({ op: 'range', min, max });
      } else if (o === 'eq' || o === 'starts-with') {
        if (typeof a !== 'string' || !a.startsWith('$') || typeof b !== 'string') throw badPolicy(`Invalid Condition: ${text}`);
        out.push({ op: o, field: a.slice(1).toLowerCase(), value: b, text });
      } else throw badPolicy(`Invalid Condition: ${text}`);
    } else if (typeof c === 'object' && c !== null && Object.keys(c).length === 1) {
      const [k, v] = Object.entries(c)[0]!;
      if (typeof v !== 'string') throw badPolicy(`Invalid Condition: ${text}`);
      out.push({ op: 'eq', field: k.replace(/^\$/, '').toLowerCase(), value: v, text: JSON.stringify(['eq', `$${k}`, v]) });
    } else throw badPolicy(`Invalid Condition: ${text}`);
  }
  return out;
}

/** Fields whose value S3 need not find in the policy. */
function exempt(name: string): boolean {
  return name === 'x-amz-signature' || name === 'file' || name === 'policy' || name.startsWith('x-ignore-');
}

/** Checks the form's SigV4 policy signature; returns the key's identity. */
async function signer(s: Services, fields: Map<string, string>, policy: string, from: string | undefined): Promise<Identity> {
  const algo = fields.get('x-amz-algorithm');
  if (algo === undefined && fields.has('awsaccesskeyid')) throw s3err('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  if (algo !== 'AWS4-HMAC-SHA256') throw s3err('InvalidArgument', 'The x-amz-algorithm field must be AWS4-HMAC-SHA256.', { ArgumentName: 'x-amz-algorithm' });
  const cred = (fields.get('x-amz-credential') ?? '').split('/');
  if (cred.length !== 5 || cred[4] !== 'aws4_request') throw s3err('InvalidArgument', 'The x-amz-credential field is malformed.', { ArgumentName: 'x-amz-credential' });
  const date = fields.get('x-amz-date') ?? '';
  if (!/^\d{8}T\d{6}Z$/.test(date) || date.slice(0, 8) !== cred[1]) throw s3err('InvalidArgument', 'The x-amz-date field is missing or does not match the credential date.', { ArgumentName: 'x-amz-date' });
  const sig = fields.get('x-amz-signature');
  if (!sig) throw s3err('InvalidArgument', 'The x-amz-signature field is missing.', { ArgumentName: 'x-amz-signature' });
  const key = await s.keyOf!(cred[0]!, from);
  if (!key) throw s3err('InvalidAccessKeyId');
  const want = createHmac('sha256', signingKey(key.secret, cred[1]!, cred[2]!, cred[3]!)).update(policy).digest('hex');
  if (!signaturesEqual(want, sig)) throw s3err('SignatureDoesNotMatch');
  return key.who;
}

/** Form fields that would change what is stored, which this gateway does not do: refused, never ignored. */
function refuseFields(s: Services, fields: Map<string, string>): void {
  for (const [k, v] of fields) {
    if (k === 'acl' && !['private', 'bucket-owner-full-control'].includes(v.trim())) {
      throw s3err('AccessControlListNotSupported', 'This gateway does not support ACLs (POSIX permissions decide); only the canned ACLs private and bucket-owner-full-control are accepted.');
    }
    if (k === 'x-amz-server-side-encryption' && !(v.trim() === 'AES256' && s.encrypted)) throw s3err('NotImplemented', `Server-side encryption ${v} is not available on this volume.`);
    if (k.startsWith('x-amz-server-side-encryption-')) throw s3err('NotImplemented', 'Server-side encryption with customer or KMS keys is not implemented by this gateway.');
    if (k === 'x-amz-storage-class' && v.trim() !== 'STANDARD') throw s3err('NotImplemented', 'Storage classes other than STANDARD are not implemented by this gateway.');
    if (k === 'tagging' || k === 'x-amz-website-redirect-location' || k.startsWith('x-amz-object-lock-') || k.startsWith('x-amz-grant-')) {
      throw s3err('NotImplemented', `The form field ${k} is not implemented by this gateway.`);
    }
  }
}

export async function postObject(s: Services, c: Call): Promise<void> {
  c.op = 'PostObject';
  const boundary = boundaryOf(hdr(c.req, 'content-type'))!;
  const form = readForm(watchedBody(c.req), boundary);
  const fields = new Map<string, string>();
  let file: FormPart | undefined;
  let used = 0;
  for await (const part of form) {
    const name = part.name.toLowerCase();
    if (name === 'file') {
      file = part;
      break;
    }
    const v = await readField(part, MAX_FIELDS_BYTES - used);
    used += v.length + name.length;
    // The first of a field given twice counts (a later one cannot slip past the policy's look at the first).
    if (!fields.has(name)) fields.set(name, v);
  }
  if (!file) throw s3err('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });
  const rawKey = fields.get('key');
  if (rawKey === undefined) throw s3err('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", { ArgumentName: 'key' });

  const policy = fields.get('policy');
  let range: { min: number; max: number } | undefined;
  if (policy !== undefined) {
    c.who = await signer(s, fields, policy, c.req.socket.remoteAddress);
    const conds = parsePolicy(policy, Date.now());
    const covered = new Set<string>();
    for (const k of conds) {
      if (k.op === 'range') {
        range = { min: k.min, max: k.max };
        continue;
      }
      covered.add(k.field);
      const have = k.field === 'bucket' ? c.bucket : fields.get(k.field);
      let ok: boolean;
      if (k.op === 'eq') ok = have === k.value;
      // Content-Type may list several types: each must start with the value.
      else if (k.field === 'content-type') ok = (have ?? '').split(',').every((t) => t.trim().startsWith(k.value));
      else ok = k.value === '' || (have ?? '').startsWith(k.value);
      if (!ok) throw s3err('AccessDenied', `Invalid according to Policy: Policy Condition failed: ${k.text}`);
    }
    const extra = [...fields.keys()].filter((f) => !exempt(f) && !covered.has(f));
    if (extra.length) throw s3err('AccessDenied', `Invalid according to Policy: Extra input fields: ${extra.join(', ')}`);
  } else if (s.anonymous) {
    c.who = s.anonymous();
  } else {
    throw s3err('AccessDenied', 'Anonymous access is not enabled on this gateway; a POST needs a signed policy.');
  }
  refuseFields(s, fields);

  const filename = (file.filename ?? '').replace(/^.*[\\/]/, '');
  const key = rawKey.replace(/\$\{filename\}/g, filename);
  if (key === '') throw s3err('InvalidArgument', 'User key must have a length greater than 0.', { ArgumentName: 'key' });
  parseKey(key);

  const asHeaders = Object.fromEntries(fields);
  const meta = metaFromHeaders(asHeaders);
  const hasher = new BodyHasher(undefined, checksumAlgorithm(asHeaders));
  const max = range?.max ?? MAX_OBJECT;
  const part = file;
  async function* body(): AsyncGenerator<Buffer> {
    let n = 0;
    for await (const b of part.body) {
      n += b.length;
      if (n > max) throw s3err('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(max) });
      yield b;
    }
    if (range && n < range.min) throw s3err('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { MinSizeAllowed: String(range.min), ProposedSize: String(n) });
  }
  const sums = new Map([...fields].filter(([k]) => k.startsWith('x-amz-checksum-')));
  const { etag } = await s.objects.putObject(c.who.view, c.bucket, key, body(), hasher, undefined, () => hasher.finish(undefined, sums), meta);
  // Fields after the file are not part of the upload (S3 ignores them); the rest of the body is read to its end.
  for await (const p of form) for await (const _ of p.body) void _;

  const host = hdr(c.req, 'host') ?? 'localhost';
  const location = `${'encrypted' in c.req.socket ? 'https' : 'http'}://${host}/${uriEncode(c.bucket)}/${uriEncode(key, false)}`;
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect && /^https?:\/\//i.test(redirect)) {
    let u: URL | undefined;
    try {
      u = new URL(redirect);
    } catch {
      u = undefined;
    }
    if (u) {
      u.searchParams.set('bucket', c.bucket);
      u.searchParams.set('key', key);
      u.searchParams.set('etag', quote(etag));
      sendEmpty(c.res, 303, { Location: u.toString(), ETag: quote(etag) });
      return;
    }
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    c.res.setHeader('ETag', quote(etag));
    c.res.setHeader('Location', location);
    sendXml(c.res, 201, 'PostResponse', { Location: location, Bucket: c.bucket, Key: key, ETag: quote(etag) });
    return;
  }
  sendEmpty(c.res, status === '200' ? 200 : 204, { ETag: quote(etag), Location: location });
}
