// Fuzzing the S3 gateway (`ferry gateway` as a child process) with thousands of requests mutated from a
// seed corpus of valid ones (CompleteMultipartUpload, DeleteObjects, CreateBucket configuration, Put/Get
// bucket and object tagging, PutObject with metadata, CopyObject, GetObject, a presigned GET): bodies cut,
// spliced and salted with XML hazards, headers with wrong lengths or over the head limit, bad chunked and
// aws-chunked framing, bad dates, digests, SigV4 Authorization fields and presigned query parameters,
// traversal in keys and copy sources. Every request must get an answer in time, an S3 one (the gateway's
// status + XML error document with a Code, even for what node's HTTP parser refuses) or, when the framing
// itself was broken, a closed connection; never a 5xx or a stack trace. After each batch the gateway must
// still answer its health check; at the end it still serves a GET, its memory stayed bounded, and no temp
// file or entry outside the buckets was left.
// Replay: FUZZ_SEED=<printed seed> [FUZZ_COUNT=n] [FUZZ_ONLY=index] node --test dist/test/gateway-fuzz.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { presignedTarget, rawRequest, requestHead, signedHeaders, startChildGateway, type ChildGateway, type RawResponse } from './helpers/gateway-child.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
const ONLY = process.env.FUZZ_ONLY !== undefined ? Number(process.env.FUZZ_ONLY) : undefined;
const BUDGET_MS = 60_000; // requests stop being issued after this, whatever COUNT says
const REQUEST_TIMEOUT_MS = 20_000; // a loaded 2-core machine; a hang is minutes
const WORKERS = 4;
/** After every BATCH requests the gateway must still answer its health check. */
const BATCH = 250;
const MiB = 1 << 20;

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, a: readonly T[]): T => a[int(r, a.length)]!;
const md5b64 = (b: Buffer) => createHash('md5').update(b).digest('base64');

interface Seed {
  name: string;
  method: string;
  path: string;
  query: Record<string, string>;
  body: Buffer;
  md5?: boolean;
  /** Headers of the request besides the signature's (metadata, a copy source). */
  headers?: Record<string, string>;
  /** Signed in the query string (a presigned URL) instead of the Authorization header. */
  presigned?: boolean;
}

const HAZARDS = [
  '<!--', '<?', '<![CDATA[', ']]>', '-->', '?>', '<', '>', '</', '/>', '&', '&amp;', '&#0;', '&#xD800;', '&#x110000;', '&e;', '&#', '"', "'", '=',
  '\0', '\x01', '\r\n', '\ufeff', '<!DOCTYPE d [<!ENTITY e "eeeeeeeeee">]>', '<!DOCTYPE d SYSTEM "file:///etc/passwd">', '<?xml version="1.0"?>',
  '<x:Part xmlns:x="y">', '<__proto__>', '<constructor>', '<Part>', '</Part>', '<Object><Key>k</Key></Object>', '<Key></Key>', '<Key>../../x</Key>',
  '<PartNumber>99999999999999999999</PartNumber>', '<PartNumber>-1</PartNumber>', '<PartNumber>1e3</PartNumber>', '<Quiet>true</Quiet>',
  '<a b="c" b="d">', '<a b=c>', '\u00ff\u00fe', '\ud83d', '😀',
];

function mutateBody(r: Rng, body: Buffer): { body: Buffer; what: string } {
  let s = body.toString('latin1');
  const what: string[] = [];
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const at = int(r, s.length + 1);
    switch (int(r, 9)) {
      case 0:
        s = s.slice(0, at);
        what.push(`cut@${at}`);
        break;
      case 1:
      case 2: {
        const h = pick(r, HAZARDS);
        s = s.slice(0, at) + Buffer.from(h, 'utf8').toString('latin1') + s.slice(at);
        what.push(`insert ${JSON.stringify(h)}@${at}`);
        break;
      }
      case 3: {
        const len = int(r, 20);
        s = s.slice(0, at) + s.slice(at + len);
        what.push(`delete ${len}@${at}`);
        break;
      }
      case 4: {
        const len = 1 + int(r, 40);
        s = s.slice(0, at) + s.slice(at, at + len).repeat(1 + int(r, 50)) + s.slice(at);
        what.push(`repeat ${len}@${at}`);
        break;
      }
      case 5:
        if (s.length) {
          const i = int(r, s.length);
          s = s.slice(0, i) + String.fromCharCode(int(r, 256)) + s.slice(i + 1);
          what.push(`byte@${i}`);
        }
        break;
      case 6: {
        const depth = 50 + int(r, 2000);
        s = s.slice(0, at) + '<a>'.repeat(depth) + (r() < 0.5 ? '</a>'.repeat(depth) : '') + s.slice(at);
        what.push(`nest ${depth}@${at}`);
        break;
      }
      case 7:
        s = s.replace(/<(\/?)([A-Za-z]+)/, (_, sl: string) => `<${sl}${pick(r, ['Delete', 'Object', 'Part', 'X', 'CompleteMultipartUpload', 'a:b', ''])}`);
        what.push('rename');
        break;
      default: {
        // Rarely, a big body: past 1000 keys / 10000 parts, or past the byte limit.
        if (r() < 0.15) {
          const unit = pick(r, ['<Object><Key>k</Key></Object>', '<Part><ETag>"e"</ETag><PartNumber>1</PartNumber></Part>', ' ', '<!-- -->']);
          const times = pick(r, [1001, 10_001, (6 * MiB) / unit.length + 10]);
          s = s.slice(0, at) + unit.repeat(Math.ceil(times)) + s.slice(at);
          what.push(`big ${unit.slice(0, 10)}x${Math.ceil(times)}`);
        }
      }
    }
  }
  return { body: Buffer.from(s, 'latin1'), what: what.join(', ') };
}

/** One SigV4 Authorization header field changed: what a forger or a broken signer sends. */
function mutateAuthorization(r: Rng, a: string): string {
  const fields = a.replace(/^AWS4-HMAC-SHA256 /, '').split(/,\s*/);
  const i = int(r, fields.length);
  const [name, value = ''] = fields[i]!.split(/=(.*)/s) as [string, string?];
  const scope = value.split('/');
  const changed = pick(r, [
    () => `${name}=${value}${pick(r, ['', ';x-amz-date', ';', ';;', ';HOST', ';content-length;host'])}`,
    () => `${name}=${scope.map((p, j) => (j === int(r, scope.length) ? pick(r, ['', '20000101', '99999999', 'us-west-2', 's4', 'aws4_request', 'x'.repeat(300), '%00', '..']) : p)).join('/')}`,
    () => `${name}=${value.slice(0, int(r, value.length + 1))}`,
    () => `${name}=${'f'.repeat(pick(r, [0, 63, 65, 4096]))}`,
    () => `${name}==${value}`,
    () => `${name.toLowerCase()}=${value}`,
    () => `${name}`,
  ])();
  fields[i] = changed;
  if (r() < 0.2) fields.push(fields[int(r, fields.length)]!); // a field twice
  if (r() < 0.1) fields.splice(int(r, fields.length), 1); // a field missing
  return pick(r, ['AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256  ', 'aws4-hmac-sha256 ', 'AWS4-HMAC-SHA512 ']) + fields.join(pick(r, [', ', ',', ' , ']));
}

/** A presigned query (X-Amz-*) with one parameter changed, dropped or doubled. */
function mutatePresigned(r: Rng, target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const params = target.slice(q + 1).split('&');
  const i = int(r, params.length);
  const [k] = params[i]!.split('=');
  params[i] = pick(r, [
    `${k}=`,
    `${k}=${pick(r, ['-1', '604801', '0', '1e3', 'abc', '%zz', '%00', '20000101T000000Z', '29991231T235959Z'])}`,
    `${k}`,
    `${params[i]}&${params[i]}`,
    `${k}=${'A'.repeat(5000)}`,
  ]);
  return target.slice(0, q + 1) + params.join('&');
}

function chunkedFraming(r: Rng, body: Buffer, broken: boolean): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = Math.min(body.length - i, 1 + int(r, 64));
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(i, i + n), Buffer.from('\r\n'));
    i += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  let b = Buffer.concat(out);
  if (broken) {
    const i = int(r, b.length);
    b = pick(r, [() => b.subarray(0, i), () => Buffer.concat([b.subarray(0, i), Buffer.from(pick(r, ['zz\r\n', '\r\n', 'ffffffffffffffff\r\n', ';\r\n', '-1\r\n'])), b.subarray(i)])])();
  }
  return b;
}

function awsChunked(r: Rng, body: Buffer): Buffer {
  const sig = r() < 0.5 ? `;chunk-signature=${'0'.repeat(64)}` : '';
  const parts = [Buffer.from(`${body.length.toString(16)}${sig}\r\n`), body, Buffer.from(`\r\n0${sig}\r\n`)];
  if (r() < 0.5) parts.push(Buffer.from(pick(r, ['x-amz-checksum-crc32:AAAAAA==\r\n', 'x-amz-checksum-crc32c:bad\r\n', 'x-amz-trailer-signature:00\r\n', ': \r\n'])));
  parts.push(Buffer.from('\r\n'));
  let b = Buffer.concat(parts);
  if (r() < 0.5) b = b.subarray(0, int(r, b.length));
  return b;
}

interface Built {
  head: string;
  body: Buffer;
  /** HTTP framing broken on purpose (or a big body): the HTTP layer may refuse, or the answer be lost. */
  framing: boolean;
  what: string;
}

async function build(g: ChildGateway, seeds: Seed[], i: number): Promise<Built> {
  const r = prng(SEED ^ Math.imul(i + 1, 0x9e3779b9));
  const seed = pick(r, seeds);
  const what: string[] = [seed.name];
  let body = seed.body;
  if (r() < 0.75) {
    const m = mutateBody(r, body);
    body = m.body;
    what.push(m.what);
  }
  const extra: Record<string, string> = { ...seed.headers, ...(seed.md5 ? { 'content-md5': md5b64(body) } : {}) };
  const signed = r() < 0.7;
  const qs = new URLSearchParams(seed.query).toString().replace(/=(&|$)/g, '$1');
  let target = qs ? `${seed.path}?${qs}` : seed.path;
  let headers: Array<[string, string]>;
  if (signed && seed.presigned) {
    target = await presignedTarget(g, seed.method, seed.path, seed.query);
    headers = Object.entries({ host: g.host, 'content-length': String(body.length), ...extra });
  } else {
    headers = Object.entries(signed ? await signedHeaders(g, seed.method, seed.path, seed.query, body, extra) : { host: g.host, 'content-length': String(body.length), ...extra });
  }
  if (!signed) what.push('unsigned');
  let framing = false;
  const set = (k: string, v: string | undefined) => {
    headers = headers.filter(([h]) => h.toLowerCase() !== k);
    if (v !== undefined) headers.push([k, v]);
  };
  const get = (k: string) => headers.find(([h]) => h.toLowerCase() === k)?.[1];
  if (r() < 0.5) {
    for (let n = 1 + int(r, 2); n > 0; n--) {
      const kind = int(r, 17);
      what.push(`hdr${kind}`);
      switch (kind) {
        case 0:
          set('content-length', String(body.length + 1 + int(r, 10)));
          framing = true;
          break;
        case 1:
          set('content-length', String(Math.max(0, body.length - 1 - int(r, body.length + 1))));
          framing = true;
          break;
        case 2:
          set('content-length', pick(r, ['abc', '-5', '1e3', '', '99999999999999999999', '0x10']));
          framing = true;
          break;
        case 3:
          headers.push(['content-length', String(int(r, 100))]);
          framing = true;
          break;
        case 4: {
          const broken = r() < 0.6;
          set('content-length', undefined);
          set('transfer-encoding', 'chunked');
          body = chunkedFraming(r, body, broken);
          framing ||= broken;
          break;
        }
        case 5:
          set('x-amz-content-sha256', pick(r, ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']));
          set('content-encoding', 'aws-chunked');
          set('x-amz-decoded-content-length', pick(r, [String(body.length), String(body.length + 7), '0', 'x', '-1']));
          if (r() < 0.5) set('x-amz-trailer', pick(r, ['x-amz-checksum-crc32', 'x-amz-checksum-crc32c', 'bogus']));
          if (r() < 0.6) set('authorization', undefined);
          body = awsChunked(r, body);
          set('content-length', String(body.length));
          framing ||= get('transfer-encoding') !== undefined; // both framings: the HTTP layer refuses
          break;
        case 6:
          set('x-amz-date', pick(r, ['garbage', '19700101T000000Z', '29991231T235959Z', '', '20240230T250000Z', new Date().toUTCString()]));
          break;
        case 7: {
          const a = get('authorization');
          if (a) {
            const p = int(r, a.length);
            set('authorization', pick(r, [a.slice(0, p), a.slice(0, p) + 'x' + a.slice(p + 1), a.replace(/Credential=[^/]+/, 'Credential=NOPE'), a.replace(/Signature=\w+/, 'Signature='), 'AWS AKID:c2ln', 'AWS4-HMAC-SHA256 garbage', a.replace('us-east-1', 'xx-bad-9')]));
          } else set('authorization', 'AWS4-HMAC-SHA256 Credential=ROOTKEY/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00');
          break;
        }
        case 8:
          set('content-md5', pick(r, ['garbage', md5b64(Buffer.from('other')), '', 'AAAA']));
          break;
        case 9:
          set('x-amz-content-sha256', pick(r, ['garbage', 'UNSIGNED-PAYLOAD', '0'.repeat(64), '']));
          break;
        case 10: {
          // Any expectation but 100-continue is the gateway's 417 ExpectationFailed (an S3 error document).
          set('expect', pick(r, ['100-continue', '200-ok', '', '100-Continue']));
          break;
        }
        case 11:
          headers.push([pick(r, ['x-amz-meta-a', 'x-amz-checksum-crc32', 'range', 'if-match', 'x-amz-copy-source', 'x-junk']), pick(r, ['\u00ff\u00fe', 'a'.repeat(4000 + int(r, 12_000)), '', 'bytes=5-1', '"x"', '/fuzz/../../etc'])]);
          framing = true; // a very long or non-ASCII value may be refused by the HTTP parser
          break;
        case 12: {
          const a = get('authorization');
          if (a) set('authorization', mutateAuthorization(r, a));
          else target = mutatePresigned(r, target);
          break;
        }
        case 13: {
          // A head over the gateway's 8 KiB header section, or past what node's parser takes at all.
          const many = r() < 0.5;
          if (many) for (let k = 0, n = 100 + int(r, 400); k < n; k++) headers.push([`x-amz-meta-m${k}`, 'v'.repeat(int(r, 60))]);
          else headers.push(['x-amz-meta-big', 'b'.repeat(pick(r, [2100, 8200, 30_000, 70_000]))]);
          framing = true; // refused before the body is read: the answer may race the body being sent
          break;
        }
        case 14:
          // Traversal in the key, raw or percent-encoded.
          target = target.replace(/^\/fuzz\/[^?]*/, (p) => `/fuzz/${pick(r, ['../', './', '/', '%2E%2E/', '..%2F', '%2e%2e%2f', 'a/../../', '%00', '.ferry-gateway/', '..%5C'])}${p.slice(6)}`);
          break;
        case 15:
          set('x-amz-copy-source', pick(r, ['/fuzz/../fuzz-new/x', 'fuzz/..%2F..%2Fetc/passwd', '/fuzz/%2E%2E/seed.txt', '/.ferry-gateway/tmp/x', '/fuzz//seed.txt', '/fuzz/seed.txt?versionId=../x', '/', '%', '/fuzz/' + 'k'.repeat(1100)]));
          break;
        default:
          target = pick(r, [
            target + '&uploadId=',
            target + '&partNumber=0',
            target.replace('/fuzz', '/%zz'),
            target + '%',
            '/fuzz/../fuzz/x?delete',
            target + '&x-id=Weird',
            target + (target.includes('?') ? '&' : '?') + 'tagging&tagging',
            target + (target.includes('?') ? '&' : '?') + 'a=' + '%'.repeat(int(r, 50)),
            target + (target.includes('?') ? '&' : '?') + 'x'.repeat(int(r, 20_000)),
            target.replace(/\?.*/, '') + '?' + pick(r, ['uploads', 'uploadId=nope&partNumber=1', 'list-type=2&max-keys=-1', 'prefix=../&delimiter=/', 'tagging', 'acl', 'cors', 'lifecycle', 'versions', 'continuation-token=%FF']),
          ]);
          framing ||= target.length > 16_000; // past node's limit on the request line
          break;
      }
    }
  }
  // A server may answer a big body early and close; the reset then can drop the answer at the client.
  framing ||= body.length > MiB;
  return { head: requestHead(seed.method, target, headers), body, framing, what: what.join(' | ') };
}

function check(b: Built, r: RawResponse | undefined): string | undefined {
  if (r === undefined) return b.framing ? undefined : 'connection closed without an answer';
  const text = r.body.toString('utf8');
  if (/\n\s+at .+:\d+:\d+/.test(text)) return `stack trace in the body: ${text.slice(0, 300)}`;
  // Even what node's HTTP parser refuses is answered by the gateway (limits.ts), with its request id.
  if (r.headers['x-amz-request-id'] === undefined) return `answer ${r.status} not from the gateway: ${text.slice(0, 200)}`;
  if (r.status >= 500 && r.status !== 501 && r.status !== 503) return `server error ${r.status}: ${text.slice(0, 300)}`;
  if (r.status >= 300 && r.status !== 304) {
    if (!/^<\?xml [^>]*\?>\s*<Error>/.test(text)) return `error ${r.status} without an XML error document: ${text.slice(0, 200)}`;
    if (!/<Code>[A-Za-z]+<\/Code>/.test(text)) return `error document without a Code: ${text.slice(0, 200)}`;
  }
  return undefined;
}

describe('gateway fuzz', () => {
  let g: ChildGateway;
  const seeds: Seed[] = [];
  let rssTimer: NodeJS.Timeout | undefined;
  let maxRss = 0;

  const send = async (method: string, path: string, query: Record<string, string>, body: Buffer, extra: Record<string, string> = {}) => {
    const qs = new URLSearchParams(query).toString().replace(/=(&|$)/g, '$1');
    const headers = await signedHeaders(g, method, path, query, body, extra);
    const r = await rawRequest(g.port, requestHead(method, qs ? `${path}?${qs}` : path, headers), body, REQUEST_TIMEOUT_MS);
    assert.ok(r, `${method} ${path}: no answer`);
    return r;
  };

  before(async () => {
    g = await startChildGateway(['--anonymous', '--anonymous-uid', '0', '--anonymous-gid', '0']);
    assert.equal((await send('PUT', '/fuzz', {}, Buffer.alloc(0))).status, 200);
    assert.equal((await send('PUT', '/fuzz/seed.txt', {}, Buffer.from('seed data'))).status, 200);
    // A bucket no seed names: mutated requests (anonymous ones act as root) may rewrite what is in 'fuzz'.
    assert.equal((await send('PUT', '/canary', {}, Buffer.alloc(0))).status, 200);
    assert.equal((await send('PUT', '/canary/kept.txt', {}, Buffer.from('canary data'))).status, 200);
    const keys = ['a&b', 'c<d', 'k1', 'dir/k2'];
    for (const k of keys) await send('PUT', `/fuzz/${encodeURIComponent(k)}`, {}, Buffer.from(k));
    const up = await send('POST', '/fuzz/mp.bin', { uploads: '' }, Buffer.alloc(0));
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body.toString())![1]!;
    const part = await send('PUT', '/fuzz/mp.bin', { partNumber: '1', uploadId }, Buffer.from('part one'));
    const etag = part.headers.etag!;
    seeds.push(
      { name: 'complete', method: 'POST', path: '/fuzz/mp.bin', query: { uploadId }, body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>${etag.replace(/"/g, '&quot;')}</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`) },
      { name: 'delete', method: 'POST', path: '/fuzz', query: { delete: '' }, md5: true, body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${keys.map((k) => `<Object><Key>${k.replace('&', '&amp;').replace('<', '&lt;')}</Key></Object>`).join('')}<Quiet>false</Quiet></Delete>`) },
      { name: 'create-bucket', method: 'PUT', path: '/fuzz-new', query: {}, body: Buffer.from('<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>') },
      { name: 'put', method: 'PUT', path: '/fuzz/put.txt', query: {}, body: Buffer.from('hello fuzz') },
      { name: 'get', method: 'GET', path: '/fuzz/seed.txt', query: {}, body: Buffer.alloc(0) },
      { name: 'presigned-get', method: 'GET', path: '/fuzz/seed.txt', query: {}, body: Buffer.alloc(0), presigned: true },
      { name: 'put-meta', method: 'PUT', path: '/fuzz/meta.txt', query: {}, body: Buffer.from('with metadata'), headers: { 'x-amz-meta-color': 'blue', 'x-amz-tagging': 'a=1&b=2', 'content-type': 'text/plain' } },
      { name: 'copy', method: 'PUT', path: '/fuzz/copy.txt', query: {}, body: Buffer.alloc(0), headers: { 'x-amz-copy-source': '/fuzz/seed.txt', 'x-amz-metadata-directive': 'REPLACE', 'x-amz-meta-k': 'v' } },
      { name: 'bucket-tagging', method: 'PUT', path: '/fuzz', query: { tagging: '' }, md5: true, body: Buffer.from('<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>team</Key><Value>storage</Value></Tag><Tag><Key>env</Key><Value>test</Value></Tag></TagSet></Tagging>') },
      { name: 'object-tagging', method: 'PUT', path: '/fuzz/seed.txt', query: { tagging: '' }, body: Buffer.from('<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>') },
    );
    maxRss = g.rss();
    rssTimer = setInterval(() => {
      if (g.alive()) maxRss = Math.max(maxRss, g.rss());
    }, 200);
  });

  after(async () => {
    clearInterval(rssTimer);
    await g?.close();
  });

  it(`answers every mutated request, in time, with an S3 answer (seed ${SEED})`, { timeout: BUDGET_MS + 10 * REQUEST_TIMEOUT_MS }, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT}`);
    console.log(`gateway fuzz: FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT}`);
    const rss0 = g.rss();
    const started = performance.now();
    const statuses = new Map<string, number>();
    const failures: string[] = [];
    let next = ONLY ?? 0;
    const last = ONLY !== undefined ? ONLY + 1 : COUNT;
    let done = 0;
    const worker = async () => {
      while (next < last && performance.now() - started < BUDGET_MS && failures.length < 5) {
        const i = next++;
        if (i > 0 && i % BATCH === 0) {
          const h = await rawRequest(g.port, requestHead('GET', '/-/health', { host: g.host }), Buffer.alloc(0), REQUEST_TIMEOUT_MS).catch((e: Error) => e);
          if (!g.alive() || h instanceof Error || h?.status !== 200) failures.push(`after ${i} requests the gateway ${g.alive() ? `answered its health check with ${h instanceof Error ? h.message : h?.status}` : 'exited'}`);
        }
        const b = await build(g, seeds, i);
        if (ONLY !== undefined) console.log(`#${i} ${b.what}\n${JSON.stringify(b.head)}\nbody ${JSON.stringify(b.body.subarray(0, 2000).toString('latin1'))}`);
        let res: RawResponse | undefined;
        try {
          res = await rawRequest(g.port, b.head, b.body, REQUEST_TIMEOUT_MS, b.framing);
        } catch (e) {
          failures.push(`#${i} ${b.what}: ${(e as Error).message}`);
          continue;
        }
        done++;
        const bad = check(b, res);
        if (bad) failures.push(`#${i} ${b.what}: ${bad}\n  request: ${JSON.stringify(b.head.slice(0, 600))} body ${JSON.stringify(b.body.subarray(0, 200).toString('latin1'))}`);
        const code = res ? `${res.status} ${/<Code>([^<]*)</.exec(res.body.toString())?.[1] ?? ''}`.trim() : 'closed';
        statuses.set(code, (statuses.get(code) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    const secs = (performance.now() - started) / 1000;
    t.diagnostic(`${done} requests in ${secs.toFixed(1)} s; answers: ${[...statuses].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    assert.deepEqual(failures, [], `FUZZ_SEED=${SEED}: replay one with FUZZ_ONLY=<#>${g.alive() ? '' : `; the gateway exited:\n${g.output()}`}`);
    if (ONLY === undefined) assert.ok(done >= Math.min(COUNT, 300), `only ${done} requests in ${secs.toFixed(1)} s`);
    assert.ok(g.alive(), 'gateway exited');
    // Still serving, and memory stayed bounded (a parser loop grows it by gigabytes).
    const r = await send('GET', '/canary/kept.txt', {}, Buffer.alloc(0));
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'canary data');
    t.diagnostic(`gateway RSS ${Math.round(rss0 / MiB)} MiB before, ${Math.round(maxRss / MiB)} MiB at most, ${Math.round(g.rss() / MiB)} MiB after`);
    assert.ok(maxRss < 1024 * MiB, `gateway RSS reached ${Math.round(maxRss / MiB)} MiB`);
    // No partial object: every temp file of a failed write was removed; no traversal made anything outside the buckets.
    const deadline = Date.now() + 10_000;
    while ((await g.t.v.readdir('/.ferry-gateway/tmp')).length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(await g.t.v.readdir('/.ferry-gateway/tmp'), [], 'temp files left');
    for (const top of await g.t.v.readdir('/')) assert.ok(['.ferry-gateway', 'fuzz', 'fuzz-new', 'canary'].includes(top), `made outside the buckets: /${top}`);
  });
});
