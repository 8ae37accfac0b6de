// A bucket's CORS configuration: read from a CORSConfiguration document (checked as S3 checks it), kept
// as JSON in an extended attribute of the bucket's directory (so every gateway of the volume serves the
// same rules), and matched against a browser's preflight (OPTIONS) or actual request as S3 does: the first
// rule whose origin, method and (for a preflight) every requested header match decides.
import { isFsError } from '../errors.js';
import type { VfsView } from '../vfs/view.js';
import { s3err } from './errors.js';
import { childText, parseXml, type XmlLimits, type XmlNode } from './xml.js';

export const XATTR_CORS = 'user.s3.cors';

export interface CorsRule {
  id?: string;
  origins: string[];
  methods: string[];
  headers: string[];
  expose: string[];
  maxAge?: number;
}

/** S3 allows 100 rules; a document of them with long origins stays well under 64 KiB (an xattr's limit too). */
export const CORS_LIMITS: XmlLimits = { maxBytes: 64 * 1024, maxTags: 4000, maxDepth: 8 };
const MAX_RULES = 100;
const METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'DELETE'];

/** The rules of a CORSConfiguration document; MalformedXML or InvalidRequest as S3 answers. */
export function corsFromXml(text: string): CorsRule[] {
  let doc;
  try {
    doc = parseXml(text, CORS_LIMITS);
  } catch {
    throw s3err('MalformedXML');
  }
  if (doc.name !== 'CORSConfiguration') throw s3err('MalformedXML');
  const rules: CorsRule[] = [];
  for (const r of doc.children) {
    if (r.name !== 'CORSRule') throw s3err('MalformedXML');
    const all = (n: string) => r.children.filter((c) => c.name === n).map((c) => c.text.trim());
    const known = ['ID', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader', 'MaxAgeSeconds'];
    if (r.children.some((c) => !known.includes(c.name))) throw s3err('MalformedXML');
    const rule: CorsRule = { origins: all('AllowedOrigin'), methods: all('AllowedMethod'), headers: all('AllowedHeader'), expose: all('ExposeHeader') };
    if (rule.origins.length === 0 || rule.methods.length === 0) throw s3err('MalformedXML');
    const id = childText(r, 'ID');
    if (id !== undefined) {
      if (id.length > 255) throw s3err('InvalidArgument', 'The ID of a CORS rule cannot be longer than 255 characters.', { ArgumentName: 'ID' });
      rule.id = id;
    }
    for (const m of rule.methods) if (!METHODS.includes(m)) throw s3err('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    for (const o of rule.origins) if (o.split('*').length > 2) throw s3err('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
    for (const h of rule.headers) if (h.split('*').length > 2) throw s3err('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
    const age = childText(r, 'MaxAgeSeconds');
    if (age !== undefined) {
      if (!/^\d{1,10}$/.test(age.trim()) || Number(age) > 2 ** 31 - 1) throw s3err('MalformedXML');
      rule.maxAge = Number(age);
    }
    rules.push(rule);
  }
  if (rules.length === 0) throw s3err('MalformedXML');
  if (rules.length > MAX_RULES) throw s3err('InvalidRequest', `The number of CORS rules should not exceed allowed limit of ${MAX_RULES} rules.`);
  return rules;
}

export function corsXml(rules: CorsRule[]): XmlNode {
  return {
    CORSRule: rules.map((r) => ({
      ...(r.id !== undefined ? { ID: r.id } : {}),
      AllowedHeader: r.headers,
      AllowedMethod: r.methods,
      AllowedOrigin: r.origins,
      ExposeHeader: r.expose,
      ...(r.maxAge !== undefined ? { MaxAgeSeconds: r.maxAge } : {}),
    })),
  };
}

/** The bucket's rules, or undefined when it has none (read as the gateway: configuration is not the caller's data). */
export async function readCors(root: VfsView, bucketIno: number): Promise<CorsRule[] | undefined> {
  try {
    return JSON.parse((await root.getxattr(bucketIno, XATTR_CORS)).toString()) as CorsRule[];
  } catch (e) {
    if (isFsError(e) || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** A pattern with at most one '*' (any run of characters), as AllowedOrigin/AllowedHeader use. */
function wildMatch(pattern: string, s: string): boolean {
  const i = pattern.indexOf('*');
  if (i < 0) return pattern === s;
  const head = pattern.slice(0, i);
  const tail = pattern.slice(i + 1);
  return s.length >= head.length + tail.length && s.startsWith(head) && s.endsWith(tail);
}

/**
 * The first rule allowing origin and method and, for a preflight, each requested header (header names
 * match case-insensitively, origins exactly).
 */
export function matchCors(rules: CorsRule[], origin: string, method: string, requestHeaders: string[] = []): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.origins.some((o) => wildMatch(o, origin)) &&
      r.methods.includes(method) &&
      requestHeaders.every((h) => r.headers.some((p) => wildMatch(p.toLowerCase(), h.toLowerCase()))),
  );
}

/** The Access-Control-* headers S3 sends for a matched rule (preflight: also the allowed methods and headers). */
export function corsHeaders(rule: CorsRule, origin: string, preflight?: { headers: string[] }): Record<string, string> {
  const any = rule.origins.includes('*');
  const h: Record<string, string> = {
    'Access-Control-Allow-Origin': any ? '*' : origin,
    'Access-Control-Allow-Methods': rule.methods.join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  // A named origin may send credentials (cookies, HTTP auth); '*' never can.
  if (!any) h['Access-Control-Allow-Credentials'] = 'true';
  if (rule.expose.length) h['Access-Control-Expose-Headers'] = rule.expose.join(', ');
  if (rule.maxAge !== undefined) h['Access-Control-Max-Age'] = String(rule.maxAge);
  if (preflight && preflight.headers.length) h['Access-Control-Allow-Headers'] = preflight.headers.join(', ');
  return h;
}
