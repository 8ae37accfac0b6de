// The gateway's XML: request bodies parsed by fast-xml-parser under limits (an unterminated `<!--` or `<?`
// once looped forever, growing memory, on one unsigned request), and response text escaped so that keys
// with `&`, `<`, quotes and control characters come back to a real client (the AWS SDK) unchanged.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { XML_LIMITS, esc, parseXml, xmlDoc, type XElem } from '../src/gateway/xml.js';
import { startGateway } from './helpers/gateway.js';
import { rawRequest, requestHead, signedHeaders, startChildGateway, type ChildGateway } from './helpers/gateway-child.js';

const codeOf = (body: Buffer) => /<Code>([^<]*)<\/Code>/.exec(body.toString())?.[1];

function throwsFast(src: string, limits = XML_LIMITS.DeleteObjects): void {
  const t = performance.now();
  assert.throws(() => parseXml(src, limits), Error, JSON.stringify(src.slice(0, 80)));
  assert.ok(performance.now() - t < 5000, `parseXml took ${performance.now() - t} ms`);
}

describe('parseXml', () => {
  it('refuses unterminated comments, PIs, CDATA and tags instead of looping', () => {
    for (const s of ['<Delete><!-- x', '<Delete><? x', '<Delete><!--', '<?', '<!--', '<?xml version="1.0"?><Delete><Object><Key>k</Key></Object><!-- ', '<Delete><![CDATA[x', '<Delete><Object', '<Delete></Del', '<Delete></Object></Delete>', '<Delete><Object></Delete>', '<a/><b/>', 'text', '', '<a>x</a>tail'])
      throwsFast(s);
  });

  it('never expands entities: DOCTYPE refused, only the five predefined and character references decoded', () => {
    throwsFast('<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><Delete><Object><Key>&b;</Key></Object></Delete>');
    throwsFast('<!DOCTYPE Delete SYSTEM "file:///etc/passwd"><Delete/>');
    throwsFast('<Delete><Object><Key>&undeclared;</Key></Object></Delete>');
    throwsFast('<Delete><Object><Key>a & b</Key></Object></Delete>');
    throwsFast('<Delete><Object><Key>&#0;</Key></Object></Delete>');
    throwsFast('<Delete><Object><Key>&#xD800;</Key></Object></Delete>');
    throwsFast('<Delete><Object><Key>&#x110000;</Key></Object></Delete>');
    const d = parseXml('<Delete><Object><Key>&lt;a&gt; &amp; &quot;b&apos; &#x41;&#66;&#x1;&#13;</Key></Object></Delete>');
    assert.equal(d.children[0]!.children[0]!.text, '<a> & "b\' AB\x01\r');
  });

  it('keeps text exactly (spaces, CDATA), drops namespace prefixes, declarations and comments', () => {
    const d = parseXml('\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><!-- c --><s3:Object><s3:Key>  two  spaces </s3:Key></s3:Object><Object><Key><![CDATA[a&amp;<b>]]>c</Key></Object><Quiet>true</Quiet></s3:Delete>');
    const shape = (e: XElem): unknown => ({ [e.name]: e.children.length ? e.children.map(shape) : e.text });
    assert.deepEqual(shape(d), { Delete: [{ Object: [{ Key: '  two  spaces ' }] }, { Object: [{ Key: 'a&amp;<b>c' }] }, { Quiet: 'true' }] });
  });

  it('refuses bodies over the limits of their operation', () => {
    const lim = { maxBytes: 1000, maxTags: 50, maxDepth: 4 };
    assert.equal(parseXml('<a><b><c>x</c></b></a>', lim).children[0]!.children[0]!.text, 'x');
    throwsFast('<a><b><c><d><e>x</e></d></c></b></a>', lim);
    throwsFast('<a>' + '<b/>'.repeat(60) + '</a>', lim);
    throwsFast('<a>' + 'x'.repeat(1000) + '</a>', lim);
    throwsFast('<a>' + '<b>'.repeat(100_000) + '</b>'.repeat(100_000) + '</a>', XML_LIMITS.CompleteMultipartUpload);
    throwsFast('<a>' + '<!--'.repeat(1_000_000), XML_LIMITS.CompleteMultipartUpload);
    throwsFast('<Delete>' + '<Object><Key>k</Key></Object>'.repeat(5000) + '</Delete>', XML_LIMITS.DeleteObjects);
    throwsFast('<__proto__><constructor/></__proto__>');
  });

  it('reads the largest bodies S3 allows', () => {
    const parts = Array.from({ length: 10_000 }, (_, i) => `<Part><ETag>"${createHash('md5').update(String(i)).digest('hex')}"</ETag><PartNumber>${i + 1}</PartNumber><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>`);
    const c = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  ${parts.join('\n  ')}\n</CompleteMultipartUpload>`, XML_LIMITS.CompleteMultipartUpload);
    assert.equal(c.children.length, 10_000);
    const key = '&'.repeat(1024);
    const objects = Array.from({ length: 1000 }, () => `<Object><Key>${esc(key)}</Key><VersionId>null</VersionId></Object>`);
    const d = parseXml(`<Delete>${objects.join('')}<Quiet>true</Quiet></Delete>`, XML_LIMITS.DeleteObjects);
    assert.equal(d.children.length, 1001);
    assert.equal(d.children[0]!.children[0]!.text, key);
  });

  it('escapes response text so that it parses back to the same string', () => {
    const nasty = 'a&b<c>d"e\'f\x01g\x1fh\ri\nj\tk\ufffel &amp; ]]> <!-- ü 😀';
    assert.doesNotMatch(esc(nasty), /[<>\x00-\x08\x0a-\x1f]/);
    const doc = xmlDoc('ListBucketResult', { Contents: [{ Key: nasty }, { Key: 'plain' }] });
    const back = parseXml(doc);
    assert.deepEqual(back.children.map((c) => c.children[0]!.text), [nasty, 'plain']);
  });
});

describe('request bodies that once hung the gateway (child process, --anonymous)', () => {
  let g: ChildGateway;
  const TIMEOUT = 20_000;
  before(async () => {
    g = await startChildGateway(['--anonymous', '--anonymous-uid', '0', '--anonymous-gid', '0']);
    const r = await rawRequest(g.port, requestHead('PUT', '/hang', { host: g.host, 'content-length': '0' }), Buffer.alloc(0), TIMEOUT);
    assert.equal(r?.status, 200);
  });
  after(async () => {
    await g?.close();
  });

  const bodies = {
    comment: '<?xml version="1.0" encoding="UTF-8"?><X><!-- never closed',
    pi: '<?xml version="1.0" encoding="UTF-8"?><X><? never closed',
    bare: '<!--',
  };
  const routes: Array<[string, string, string, string]> = [
    ['CompleteMultipartUpload', 'POST', '/hang/obj', 'uploadId=abc'],
    ['DeleteObjects', 'POST', '/hang', 'delete='],
    ['CreateBucket', 'PUT', '/hang-new', ''],
  ];

  for (const [op, method, path, query] of routes) {
    it(`answers MalformedXML promptly to unterminated <!-- and <? in ${op}, signed or not`, async () => {
      for (const [kind, text] of Object.entries(bodies)) {
        for (const signed of [false, true]) {
          const body = Buffer.from(text.replace('<X>', `<${op === 'DeleteObjects' ? 'Delete' : op === 'CreateBucket' ? 'CreateBucketConfiguration' : op}>`));
          const q = Object.fromEntries(new URLSearchParams(query));
          const headers = signed
            ? await signedHeaders(g, method, path, q, body, { 'content-md5': createHash('md5').update(body).digest('base64') })
            : { host: g.host, 'content-length': String(body.length), 'content-md5': createHash('md5').update(body).digest('base64') };
          const started = performance.now();
          const r = await rawRequest(g.port, requestHead(method, query ? `${path}?${query}` : path, headers), body, TIMEOUT);
          assert.ok(r, `${op} ${kind}: connection closed without an answer`);
          assert.equal(r.status, 400, `${op} ${kind} signed=${signed}: ${r.body.toString()}`);
          assert.equal(codeOf(r.body), 'MalformedXML');
          assert.ok(performance.now() - started < TIMEOUT);
        }
      }
      assert.ok(g.alive());
      assert.ok(g.rss() < 512 * 1024 * 1024, `gateway RSS ${g.rss()}`);
    });
  }

  it('refuses a body larger than its operation allows before parsing it', async () => {
    const body = Buffer.from('<CreateBucketConfiguration>' + ' '.repeat(XML_LIMITS.CreateBucket.maxBytes) + '</CreateBucketConfiguration>');
    const r = await rawRequest(g.port, requestHead('PUT', '/hang-big', { host: g.host, 'content-length': String(body.length) }), body, TIMEOUT);
    assert.equal(r?.status, 400);
    assert.equal(codeOf(r!.body), 'MaxMessageLengthExceeded');
    // Without a Content-Length (chunked), the limit applies as the body streams in.
    const chunked = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const r2 = await rawRequest(g.port, requestHead('PUT', '/hang-big', { host: g.host, 'transfer-encoding': 'chunked' }), chunked, TIMEOUT);
    assert.equal(r2?.status, 400);
    assert.equal(codeOf(r2!.body), 'MaxMessageLengthExceeded');
    const many = Buffer.from('<Delete>' + '<Object><Key>k</Key></Object>'.repeat(1001) + '</Delete>');
    const md5 = createHash('md5').update(many).digest('base64');
    const r3 = await rawRequest(g.port, requestHead('POST', '/hang?delete', { host: g.host, 'content-length': String(many.length), 'content-md5': md5 }), many, TIMEOUT);
    assert.equal(r3?.status, 400);
    assert.equal(codeOf(r3!.body), 'MalformedXML');
  });
});

describe('keys with XML specials and control characters through the AWS SDK', () => {
  it('lists and deletes them by name, unchanged', async () => {
    const g = await startGateway();
    try {
      const s3 = g.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'xmlkeys' }));
      const keys = ['a&b', '<tag>', 'q"u\'o', 'ctl\x01\x1f', 'cr\rlf\nend', ' spaced ', 'amp&amp;', 'ü 😀', ']]>x'];
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'xmlkeys', Key, Body: Key }));
      const list = await s3.send(new ListObjectsV2Command({ Bucket: 'xmlkeys' }));
      assert.deepEqual((list.Contents ?? []).map((o) => o.Key).sort(), [...keys].sort());
      const del = await s3.send(new DeleteObjectsCommand({ Bucket: 'xmlkeys', Delete: { Objects: keys.map((Key) => ({ Key })) } }));
      assert.deepEqual(del.Errors ?? [], []);
      assert.deepEqual((del.Deleted ?? []).map((o) => o.Key).sort(), [...keys].sort());
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'xmlkeys' }))).KeyCount, 0);
    } finally {
      await g.close();
    }
  });
});
