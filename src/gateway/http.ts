// Small HTTP helpers for the gateway: request bodies, XML replies, error documents, ranges and preconditions.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error, s3err } from './errors.js';
import { bodyFailed, whenBodyFails } from './limits.js';
import { xmlDoc, type XmlNode } from './xml.js';

export function sendXml(res: ServerResponse, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const text = xmlDoc(root, body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

/** Unread request bodies up to this size are drained before an error answer (see sendError). */
const DRAIN_LIMIT = 1 << 20;
const DRAIN_MS = 5000;

function declaredLength(req: IncomingMessage): number {
  const n = Number(req.headers['content-length']);
  return Number.isFinite(n) && n >= 0 ? n : Infinity;
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

/** `drain` false: the body will not come (a client still waiting for 100 Continue), so do not wait for it. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, resource: string, requestId: string, drain = true): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body that stalled or was cut short (limits.ts) will not arrive: no waiting for it.
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (drain && !req.complete && !req.destroyed && (declaredLength(req) <= DRAIN_LIMIT || chunked) && !bodyFailed(req)) {
    // An error answered before a small body arrived (a too-large XML document, a refused PUT): read the body
    // and throw it away first. Closing at once would reset the connection while the client still sends, and
    // a reset loses the answer it is owed. A body that does not arrive in time, or (chunked, of no announced
    // length) turns out big, closes the connection.
    // Not drained again: a body that did not arrive in time will not.
    const send = once(() => sendError(req, res, err, resource, requestId, false));
    const cut = once(() => {
      clearTimeout(timer);
      if (!res.headersSent) res.setHeader('Connection', 'close');
      send();
    });
    const timer = setTimeout(cut, DRAIN_MS);
    timer.unref();
    let seen = 0;
    req.on('data', (b: Buffer) => (seen += b.length) > DRAIN_LIMIT && cut());
    req.on('end', () => (clearTimeout(timer), send()));
    req.on('error', () => (clearTimeout(timer), send()));
    whenBodyFails(req, cut);
    req.resume();
    return;
  }
  // A big unread body is not worth reading just to throw it away: the connection closes after the answer.
  if (!req.complete) res.setHeader('Connection', 'close');
  if (req.method === 'HEAD') {
    res.writeHead(err.status, { 'x-amz-error-code': err.code, 'Content-Length': 0 });
    res.end();
    return;
  }
  sendXml(res, err.status, 'Error', { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: requestId });
}

/** A small body (XML of Delete, CompleteMultipartUpload, ...), at most `limit` bytes. */
export async function readSmall(body: AsyncIterable<Buffer>, limit = 2 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of body) {
    n += b.length;
    if (n > limit) throw s3err('MaxMessageLengthExceeded', 'Your request was too big.');
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Parses a single `bytes=` range against a size; undefined means the whole object (as S3, multi-ranges are ignored). */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) throw s3err('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: h });
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw s3err('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: h });
  return { start, end };
}

/** An If-Match/If-None-Match list (ETags, quoted or not, or *) against an ETag. */
export function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '').replace(/"/g, '');
    return v === '*' || v === etag;
  });
}

/** RFC 7232 evaluation order: returns 304/412 or undefined (go on). */
export function preconditions(h: Record<string, string | string[] | undefined>, etag: string, mtime: Date, prefix = ''): 304 | 412 | undefined {
  const get = (n: string) => {
    const v = h[prefix + n];
    return typeof v === 'string' ? v : undefined;
  };
  const secs = Math.floor(mtime.getTime() / 1000);
  const im = get('if-match');
  const ius = get('if-unmodified-since');
  const inm = get('if-none-match');
  const ims = get('if-modified-since');
  if (im !== undefined && !etagMatches(im, etag)) return 412;
  if (im === undefined && ius !== undefined) {
    const t = Date.parse(ius);
    if (!Number.isNaN(t) && secs > Math.floor(t / 1000)) return 412;
  }
  if (inm !== undefined && etagMatches(inm, etag)) return 304;
  if (inm === undefined && ims !== undefined) {
    const t = Date.parse(ims);
    if (!Number.isNaN(t) && secs <= Math.floor(t / 1000)) return 304;
  }
  return undefined;
}

/** URL encoding for `encoding-type=url` listings (what awscli asks for). */
export function urlEncodeKey(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
