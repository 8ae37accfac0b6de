// The S3 gateway through the AWS SDK for JavaScript v3 (a client nobody here wrote), in-process on a temp
// volume: every operation of the issue, S3 errors, permissions per access key, listing order with
// thousands of keys, presigned URLs, aws-chunked bodies, a >= 100 MiB multipart upload, and cross-door
// visibility with the SDK's Volume.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SignatureV4 } from '@smithy/signature-v4';
import { chunkSignature } from '../src/gateway/sigv4.js';
import { ALICE, BOB, ROOT_KEY, bodyOf, startGateway, type TestGateway } from './helpers/gateway.js';
import { metaOf } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';
import { Sha256 } from './helpers/sha256.js';

const MiB = 1 << 20;

/** The error code an SDK call failed with (a NotFound error keeps its name here; helpers' s3code gives 404). */
async function s3code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    // Replies without a body (HEAD, 304) have only a status.
    if (!err.Code && (err.name === 'Unknown' || err.name === undefined)) return String(err.$metadata?.httpStatusCode);
    return err.Code ?? err.name ?? 'unknown';
  }
  assert.fail('expected the call to fail');
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');


function signer(key = ROOT_KEY): SignatureV4 {
  return new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secret }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
}

async function presign(g: TestGateway, method: string, path: string, expiresIn = 300, key = ROOT_KEY): Promise<string> {
  const u = new URL(g.url);
  const r = await signer(key).presign(
    { method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} },
    { expiresIn },
  );
  const qs = Object.entries(r.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${g.url}${path}?${qs}`;
}

function raw(url: string, method: string, headers: Record<string, string | number> = {}, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('S3 gateway with the AWS SDK v3', () => {
  let g: TestGateway;
  let s3: S3Client;
  before(async () => {
    g = await startGateway();
    s3 = g.client();
  });
  after(async () => {
    await g?.close();
  });

  it('creates, heads, lists, locates and deletes buckets', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt1' }));
    // Re-creating your own bucket is 200 in us-east-1 (S3's legacy answer there); someone else's is taken.
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt1' }));
    assert.equal(await s3code(g.client(ALICE).send(new CreateBucketCommand({ Bucket: 'bkt1' }))), 'BucketAlreadyExists');
    assert.equal(await s3code(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' }))), 'InvalidBucketName');
    await s3.send(new HeadBucketCommand({ Bucket: 'bkt1' }));
    assert.equal(await s3code(s3.send(new HeadBucketCommand({ Bucket: 'nope' }))), 'NotFound');
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'bkt1' }));
    assert.ok(!loc.LocationConstraint);
    const list = await s3.send(new ListBucketsCommand({}));
    assert.ok(list.Buckets?.some((b) => b.Name === 'bkt1'));
    // The gateway's own hidden directory is never a bucket.
    assert.ok(!list.Buckets?.some((b) => b.Name?.startsWith('.')));
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'x', Body: 'x' }));
    assert.equal(await s3code(s3.send(new DeleteBucketCommand({ Bucket: 'bkt1' }))), 'BucketNotEmpty');
    await s3.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'bkt1' }));
    assert.equal(await s3code(s3.send(new DeleteBucketCommand({ Bucket: 'bkt1' }))), 'NoSuchBucket');
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'x' }))), 'NoSuchBucket');
  });

  it('puts, gets, heads and deletes objects with metadata, ETags, ranges and conditions', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'objs' }));
    const data = randomBytes(300_000);
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', Body: data, ContentType: 'application/x-test', Metadata: { team: 'vision', run: '42' }, ContentMD5: createHash('md5').update(data).digest('base64') }),
    );
    assert.equal(put.ETag, `"${md5(data)}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ContentType, 'application/x-test');
    assert.deepEqual(head.Metadata, { team: 'vision', run: '42' });
    assert.equal(head.ETag, put.ETag);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' }));
    assert.ok((await bodyOf(got)).equals(data));
    const part = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', Range: 'bytes=1000-1999' }));
    assert.equal(part.ContentRange, `bytes 1000-1999/${data.length}`);
    assert.ok((await bodyOf(part)).equals(data.subarray(1000, 2000)));
    const tail = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', Range: 'bytes=-10' }));
    assert.ok((await bodyOf(tail)).equals(data.subarray(data.length - 10)));
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', Range: `bytes=${data.length}-` }))), 'InvalidRange');
    // Conditions.
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', IfMatch: '"0000"' }))), 'PreconditionFailed');
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', IfNoneMatch: put.ETag }))), '304');
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', IfModifiedSince: new Date(Date.now() + 3600_000) }))), '304');
    const okm = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', IfMatch: put.ETag, IfModifiedSince: new Date(0) }));
    assert.equal((await bodyOf(okm)).length, data.length);
    // Content-MD5 that does not match the body.
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'bad', Body: 'abc', ContentMD5: createHash('md5').update('abd').digest('base64') }))), 'BadDigest');
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'bad' }))), 'NotFound');
    // Overwrite, then delete (twice: deleting a missing key succeeds, as in S3).
    await s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin', Body: 'short' }));
    assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' })))).toString(), 'short');
    await s3.send(new DeleteObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' }));
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'deep/path/to/file.bin' }))), 'NoSuchKey');
    // Empty parent directories go with the last object; nothing is left to list.
    const l = await s3.send(new ListObjectsV2Command({ Bucket: 'objs' }));
    assert.equal(l.KeyCount, 0);
    assert.equal(await g.t.v.exists('/objs/deep'), false);
  });

  it('keeps directory markers, rejects keys a file system cannot hold, maps errors to S3 codes', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'marks' }));
    await s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'empty/dir/', Body: '' }));
    assert.equal((await g.t.v.stat('/marks/empty/dir')).isDirectory(), true);
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'marks', Key: 'empty/dir/' }));
    assert.equal(h.ContentLength, 0);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: 'marks' }));
    assert.deepEqual(l.Contents?.map((c) => c.Key), ['empty/dir/']);
    await s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'empty/dir/f', Body: 'f' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'marks', Key: 'empty/dir/f' }));
    // The marker keeps its directory after the last object in it went.
    assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket: 'marks' }))).Contents?.map((c) => c.Key), ['empty/dir/']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'marks', Key: 'empty/dir/' }));
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'marks' }))).KeyCount, 0);
    await s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'file', Body: 'f' }));
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'file/child', Body: 'c' }))), 'XFerryParentIsObject');
    await s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'dir/child', Body: 'c' }));
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'dir', Body: 'd' }))), 'XFerryObjectIsDirectory');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'a//b', Body: 'd' }))), 'XFerryInvalidObjectName');
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'marks', Key: 'dir' }))), 'NoSuchKey');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'marks', Key: 'k'.repeat(300), Body: 'd' }))), 'KeyTooLongError');
  });

  it('keeps a directory marker\'s metadata: PUT, copy onto itself with REPLACE, copy, DELETE', async () => {
    // s3fs keeps a directory's mode, owner and times in its marker's x-amz-meta-* (chmod is a REPLACE copy).
    await s3.send(new CreateBucketCommand({ Bucket: 'markmeta' }));
    await s3.send(new PutObjectCommand({ Bucket: 'markmeta', Key: 'd/', Body: '', ContentType: 'application/x-directory', Metadata: { mode: '16877', mtime: '1600000000' } }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'markmeta', Key: 'd/' }));
    assert.deepEqual(h.Metadata, { mode: '16877', mtime: '1600000000' });
    assert.equal(h.ContentType, 'application/x-directory');
    await s3.send(new CopyObjectCommand({ Bucket: 'markmeta', Key: 'd/', CopySource: 'markmeta/d/', MetadataDirective: 'REPLACE', Metadata: { mode: '16832' } }));
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 'markmeta', Key: 'd/' }))).Metadata, { mode: '16832' });
    await s3.send(new CopyObjectCommand({ Bucket: 'markmeta', Key: 'e/', CopySource: 'markmeta/d/' }));
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 'markmeta', Key: 'e/' }))).Metadata, { mode: '16832' });
    // A PUT replaces the metadata; a marker deleted from a directory that stays takes its metadata along.
    await s3.send(new PutObjectCommand({ Bucket: 'markmeta', Key: 'e/', Body: '' }));
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 'markmeta', Key: 'e/' }))).Metadata, {});
    await s3.send(new PutObjectCommand({ Bucket: 'markmeta', Key: 'd/f', Body: 'f' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'markmeta', Key: 'd/' }));
    assert.deepEqual((await g.t.v.listxattr('/markmeta/d')).filter((n) => n.startsWith('user.s3.')), []);
  });

  it('copies objects server-side by sharing slices, with COPY and REPLACE metadata', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'copies' }));
    const data = randomBytes(5 * MiB + 123);
    const put = await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'src', Body: data, Metadata: { a: '1' } }));
    const c1 = await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'dst/one', CopySource: 'copies/src' }));
    assert.equal(c1.CopyObjectResult?.ETag, put.ETag);
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'dst/one' }));
    assert.deepEqual(h1.Metadata, { a: '1' });
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'copies', Key: 'dst/one' })))).equals(data));
    await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'dst/two', CopySource: '/copies/src', MetadataDirective: 'REPLACE', Metadata: { b: '2' }, ContentType: 'text/x' }));
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'dst/two' }));
    assert.deepEqual(h2.Metadata, { b: '2' });
    assert.equal(h2.ContentType, 'text/x');
    assert.equal(await s3code(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'src', CopySource: 'copies/src' }))), 'InvalidRequest');
    await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'src', CopySource: 'copies/src', MetadataDirective: 'REPLACE', Metadata: { c: '3' } }));
    const h3 = await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'src' }));
    assert.deepEqual(h3.Metadata, { c: '3' });
    assert.equal(h3.ETag, put.ETag);
    assert.equal(await s3code(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'x', CopySource: 'copies/missing' }))), 'NoSuchKey');
    assert.equal(await s3code(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'x', CopySource: 'copies/src', CopySourceIfMatch: '"nope"' }))), 'PreconditionFailed');
    // No data was written by the copies: the copy's chunks point at the source's slices.
    const src = await g.t.v.stat('/copies/src');
    const dst = await g.t.v.stat('/copies/dst/one');
    const sc = await metaOf(g.t.v).readChunk({ uid: 0, gid: 0, gids: [0], pid: 1, checkPermission: false }, src.ino, 0);
    const dc = await metaOf(g.t.v).readChunk({ uid: 0, gid: 0, gids: [0], pid: 1, checkPermission: false }, dst.ino, 0);
    assert.deepEqual(new Set(dc.filter((s) => s.id).map((s) => s.id)), new Set(sc.filter((s) => s.id).map((s) => s.id)));
  });

  it('deletes many objects at once', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'multi-del' }));
    for (const k of ['a', 'b/c', 'b/d']) await s3.send(new PutObjectCommand({ Bucket: 'multi-del', Key: k, Body: k }));
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: 'multi-del', Delete: { Objects: [{ Key: 'a' }, { Key: 'b/c' }, { Key: 'b/d' }, { Key: 'missing' }, { Key: 'x//y' }] } }));
    assert.deepEqual(r.Deleted?.map((d) => d.Key).sort(), ['a', 'b/c', 'b/d', 'missing']);
    assert.deepEqual(r.Errors?.map((e) => [e.Key, e.Code]), [['x//y', 'XFerryInvalidObjectName']]);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'multi-del' }))).KeyCount, 0);
  });

  it('runs multipart uploads: parts, part copy, list parts and uploads, abort, errors', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'mpu' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'obj', Metadata: { kind: 'mp' }, ContentType: 'application/x-mp' }));
    assert.ok(UploadId);
    const p1 = randomBytes(5 * MiB);
    const p3 = randomBytes(1000);
    const src = randomBytes(6 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: 'mpu', Key: 'copy-src', Body: src }));
    const e1 = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'obj', UploadId, PartNumber: 1, Body: p1 }));
    assert.equal(e1.ETag, `"${md5(p1)}"`);
    const e2 = await s3.send(new UploadPartCopyCommand({ Bucket: 'mpu', Key: 'obj', UploadId, PartNumber: 2, CopySource: 'mpu/copy-src', CopySourceRange: `bytes=${MiB}-${6 * MiB - 1}` }));
    const e3 = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'obj', UploadId, PartNumber: 3, Body: p3 }));
    const parts = await s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'obj', UploadId }));
    assert.deepEqual(parts.Parts?.map((p) => [p.PartNumber, p.Size]), [[1, 5 * MiB], [2, 5 * MiB], [3, 1000]]);
    const page = await s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'obj', UploadId, MaxParts: 2 }));
    assert.equal(page.IsTruncated, true);
    assert.equal(page.NextPartNumberMarker, '2');
    const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'mpu' }));
    assert.deepEqual(ups.Uploads?.map((u) => [u.Key, u.UploadId]), [['obj', UploadId]]);
    // The object is not visible while it is being uploaded.
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'obj' }))), 'NotFound');
    assert.equal(
      await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'obj', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: '"ffffffffffffffffffffffffffffffff"' }] } }))),
      'InvalidPart',
    );
    assert.equal(
      await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'obj', UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: e2.CopyPartResult?.ETag }, { PartNumber: 1, ETag: e1.ETag }] } }))),
      'InvalidPartOrder',
    );
    // Every part but the last must be at least 5 MiB.
    const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'small' }));
    const s1 = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'small', UploadId: small.UploadId, PartNumber: 1, Body: 'tiny' }));
    const s2 = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'small', UploadId: small.UploadId, PartNumber: 2, Body: 'end' }));
    assert.equal(
      await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'small', UploadId: small.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: s1.ETag }, { PartNumber: 2, ETag: s2.ETag }] } }))),
      'EntityTooSmall',
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'small', UploadId: small.UploadId }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'obj',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.CopyPartResult?.ETag }, { PartNumber: 3, ETag: e3.ETag }] },
      }),
    );
    const want = createHash('md5')
      .update(Buffer.concat([e1.ETag!, e2.CopyPartResult!.ETag!, e3.ETag!].map((e) => Buffer.from(e.replace(/"/g, ''), 'hex'))))
      .digest('hex');
    assert.equal(done.ETag, `"${want}-3"`);
    const body = await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'obj' })));
    assert.ok(body.equals(Buffer.concat([p1, src.subarray(MiB), p3])));
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'obj' }));
    assert.deepEqual(h.Metadata, { kind: 'mp' });
    assert.equal(h.ContentType, 'application/x-mp');
    assert.equal(await s3code(s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'obj', UploadId }))), 'NoSuchUpload');
    // Abort.
    const u2 = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'gone' }));
    await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'gone', UploadId: u2.UploadId, PartNumber: 1, Body: 'x' }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'gone', UploadId: u2.UploadId }));
    assert.equal(await s3code(s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'gone', UploadId: u2.UploadId }))), 'NoSuchUpload');
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'mpu' }))).Uploads?.length ?? 0, 0);
    // Another key cannot touch someone else's upload.
    const u3 = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'mine' }));
    assert.equal(await s3code(g.client(BOB).send(new UploadPartCommand({ Bucket: 'mpu', Key: 'mine', UploadId: u3.UploadId, PartNumber: 1, Body: 'x' }))), 'AccessDenied');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'mine', UploadId: u3.UploadId }));
  });

  it('uploads and reads back a 100 MiB object with lib-storage (multipart, slices shared on complete)', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'large' }));
    const size = 100 * MiB + 12345;
    const seed = randomBytes(MiB);
    const h = createHash('md5');
    function* gen() {
      for (let off = 0; off < size; off += MiB) {
        const b = seed.subarray(0, Math.min(MiB, size - off));
        b.writeUInt32BE(off / MiB, 0);
        h.update(b);
        yield Buffer.from(b);
      }
    }
    const up = new Upload({ client: s3, params: { Bucket: 'large', Key: 'models/big.bin', Body: Readable.from(gen()) }, partSize: 16 * MiB, queueSize: 2 });
    const r = await up.done();
    assert.match(r.ETag ?? '', /^"[0-9a-f]{32}-7"$/);
    const expect = h.digest('hex');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'large', Key: 'models/big.bin' }));
    assert.equal(got.ContentLength, size);
    const gh = createHash('md5');
    for await (const c of got.Body as AsyncIterable<Uint8Array>) gh.update(c);
    assert.equal(gh.digest('hex'), expect);
    // The same bytes through the SDK's Volume (another door).
    const st = await g.t.v.stat('/large/models/big.bin');
    assert.equal(st.size, size);
    // No upload directories are left behind.
    // Completed uploads stay a while, emptied of their parts, to answer a repeated Complete (docs/gateway.md).
    for (const id of await g.t.v.readdir('/.ferry-gateway/uploads')) assert.deepEqual(await g.t.v.readdir(`/.ferry-gateway/uploads/${id}`), []);
  });

  it('lists thousands of keys in S3 order with prefixes, delimiters and paging (V2 and V1)', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'many' }));
    const keys: string[] = [];
    // Names whose key order differs from per-directory name order ('a-b' < 'a/' < 'a0'), and non-ASCII.
    const tricky = ['a', 'a-b', 'a.txt', 'a/b', 'a/b-c', 'a/bb/c', 'a/b.d/e', 'a0', 'b/x', 'b-x', 'é/1', 'é-1', 'ｚ', '😀/1', '😀', 'z/' + 'q'.repeat(20)];
    keys.push(...tricky.filter((k) => k !== 'a' && k !== '😀'));
    for (let d = 0; d < 20; d++) for (let f = 0; f < 100; f++) keys.push(`data/d${String(d).padStart(2, '0')}${d % 3 ? '-x' : ''}/f${f}${f % 7 ? '' : '.bin'}`);
    for (let f = 0; f < 300; f++) keys.push(`data/top-${f}`);
    // Write through the SDK (fast); a few through S3.
    const dirs = new Set<string>();
    for (const k of keys) {
      const dir = k.includes('/') ? k.slice(0, k.lastIndexOf('/')) : '';
      if (dir && !dirs.has(dir)) {
        await g.t.v.mkdir(`/many/${dir}`, { recursive: true });
        dirs.add(dir);
      }
      await g.t.v.writeFile(`/many/${k}`, '');
    }
    for (const k of ['a0', 'b-x', 'ｚ']) await s3.send(new PutObjectCommand({ Bucket: 'many', Key: k, Body: 'x' }));
    const sorted = [...new Set(keys)].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

    const expected = (prefix: string, delimiter: string) => {
      const out: string[] = [];
      for (const k of sorted) {
        if (!k.startsWith(prefix)) continue;
        const i = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
        const item = i >= 0 ? 'P:' + k.slice(0, i + delimiter.length) : 'K:' + k;
        if (out[out.length - 1] !== item) out.push(item);
      }
      return out;
    };
    const listV2 = async (prefix: string, delimiter: string, max: number) => {
      const out: string[] = [];
      let token: string | undefined;
      for (;;) {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: 'many', Prefix: prefix || undefined, Delimiter: delimiter || undefined, MaxKeys: max, ContinuationToken: token }));
        const page = [...(r.Contents ?? []).map((c) => 'K:' + c.Key), ...(r.CommonPrefixes ?? []).map((p) => 'P:' + p.Prefix)].sort((x, y) => Buffer.compare(Buffer.from(x.slice(2)), Buffer.from(y.slice(2))));
        assert.ok(page.length <= max);
        out.push(...page);
        if (!r.IsTruncated) break;
        token = r.NextContinuationToken;
      }
      return out;
    };
    const listV1 = async (prefix: string, delimiter: string, max: number) => {
      const out: string[] = [];
      let marker: string | undefined;
      for (;;) {
        const r = await s3.send(new ListObjectsCommand({ Bucket: 'many', Prefix: prefix || undefined, Delimiter: delimiter || undefined, MaxKeys: max, Marker: marker }));
        const page = [...(r.Contents ?? []).map((c) => 'K:' + c.Key), ...(r.CommonPrefixes ?? []).map((p) => 'P:' + p.Prefix)].sort((x, y) => Buffer.compare(Buffer.from(x.slice(2)), Buffer.from(y.slice(2))));
        out.push(...page);
        if (!r.IsTruncated) break;
        marker = r.NextMarker;
      }
      return out;
    };
    const cases: Array<[string, string, number]> = [
      ['', '', 1000],
      ['', '', 333],
      ['', '/', 7],
      ['a', '', 2],
      ['a', '/', 1],
      ['a/', '/', 2],
      ['a/b', '/', 1000],
      ['data/', '/', 50],
      ['data/d0', '/', 3],
      ['data/d01-x/f', '', 17],
      ['data/', '-', 40],
      ['é', '/', 1],
      ['😀', '', 1],
      ['nothing/', '/', 10],
    ];
    for (const [prefix, delimiter, max] of cases) {
      assert.deepEqual(await listV2(prefix, delimiter, max), expected(prefix, delimiter), `V2 prefix='${prefix}' delimiter='${delimiter}' max=${max}`);
    }
    for (const [prefix, delimiter, max] of cases.slice(0, 9)) {
      assert.deepEqual(await listV1(prefix, delimiter, max), expected(prefix, delimiter), `V1 prefix='${prefix}' delimiter='${delimiter}' max=${max}`);
    }
    // StartAfter seeks into the middle of the tree.
    const after = 'data/d05/f3';
    const r = await s3.send(new ListObjectsV2Command({ Bucket: 'many', StartAfter: after, MaxKeys: 5 }));
    assert.deepEqual(r.Contents?.map((c) => c.Key), sorted.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0).slice(0, 5));
    const r2 = await s3.send(new ListObjectsV2Command({ Bucket: 'many', StartAfter: 'a-b', MaxKeys: 3 }));
    assert.deepEqual(r2.Contents?.map((c) => c.Key), ['a.txt', 'a/b', 'a/b-c']);
    assert.equal(await s3code(s3.send(new ListObjectsV2Command({ Bucket: 'many', ContinuationToken: '!!!' }))), 'InvalidArgument');
  });

  it('applies POSIX permissions per access key: A uploads privately; readable by all, B reads but cannot delete or overwrite', async () => {
    const a = g.client(ALICE);
    const b = g.client(BOB);
    await a.send(new CreateBucketCommand({ Bucket: 'team-a' }));
    await a.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin', Body: 'alice data' }));
    const st = await g.t.v.stat('/team-a/model/weights.bin');
    assert.equal(st.uid, ALICE.uid);
    // Owner-private by default (docs/security.md); made readable by all, B reads but still cannot change it.
    assert.equal(await s3code(b.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin' }))), 'AccessDenied');
    for (const [p, m] of [['/team-a', 0o755], ['/team-a/model', 0o755], ['/team-a/model/weights.bin', 0o644]] as const) await g.t.v.chmod(p, m);
    assert.equal((await bodyOf(await b.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin' })))).toString(), 'alice data');
    assert.equal(await s3code(b.send(new DeleteObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin' }))), 'AccessDenied');
    assert.equal(await s3code(b.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin', Body: 'bob' }))), 'AccessDenied');
    assert.equal(await s3code(b.send(new DeleteBucketCommand({ Bucket: 'team-a' }))), 'AccessDenied');
    const del = await b.send(new DeleteObjectsCommand({ Bucket: 'team-a', Delete: { Objects: [{ Key: 'model/weights.bin' }] } }));
    assert.equal(del.Errors?.[0]?.Code, 'AccessDenied');
    assert.equal((await bodyOf(await a.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'model/weights.bin' })))).toString(), 'alice data');
    // A shared (sticky, 1777) bucket: everyone writes, only owners delete.
    await g.t.v.mkdir('/shared', 0o777);
    await g.t.v.chmod('/shared', 0o1777);
    await a.send(new PutObjectCommand({ Bucket: 'shared', Key: 'a.txt', Body: 'a' }));
    await b.send(new PutObjectCommand({ Bucket: 'shared', Key: 'b.txt', Body: 'b' }));
    assert.equal(await s3code(b.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'a.txt' }))), 'AccessDenied');
    await b.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'b.txt' }));
    // A private object is not readable by others.
    await g.t.v.chmod('/shared/a.txt', 0o600);
    assert.equal(await s3code(b.send(new GetObjectCommand({ Bucket: 'shared', Key: 'a.txt' }))), 'AccessDenied');
    assert.equal(await s3code(b.send(new HeadObjectCommand({ Bucket: 'shared', Key: 'a.txt' }))), '403');
  });

  it('rejects bad signatures, unknown keys and anonymous requests with S3 errors and request ids', async () => {
    const wrong = g.client({ ...ALICE, secret: 'not-the-secret' });
    assert.equal(await s3code(wrong.send(new ListBucketsCommand({}))), 'SignatureDoesNotMatch');
    const unknown = g.client({ ...ALICE, accessKey: 'NOSUCHKEY' });
    assert.equal(await s3code(unknown.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId');
    const r = await raw(`${g.url}/`, 'GET');
    assert.equal(r.status, 403);
    const text = r.body.toString();
    assert.match(text, /<Code>AccessDenied<\/Code>/);
    assert.match(text, /<RequestId>[0-9A-F]{16}<\/RequestId>/);
    assert.ok(r.headers['x-amz-request-id']);
    assert.doesNotMatch(text, /\s+at\s/);
    const health = await raw(`${g.url}/-/health`, 'GET');
    assert.equal(health.status, 200);
    const metrics = await raw(`${g.url}/-/metrics`, 'GET');
    assert.match(metrics.body.toString(), /ferry_gateway_requests_total\{operation="PutObject",status="200"\} \d+/);
  });

  it('serves presigned GET and PUT URLs, and refuses expired or tampered ones', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'presign' }));
    const putUrl = await presign(g, 'PUT', '/presign/up%20load/file.txt');
    const put = await raw(putUrl, 'PUT', { 'Content-Length': 5 }, Buffer.from('hello'));
    assert.equal(put.status, 200, put.body.toString());
    const getUrl = await presign(g, 'GET', '/presign/up%20load/file.txt');
    const got = await raw(getUrl, 'GET');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'hello');
    const tampered = getUrl.replace('file.txt', 'other.txt');
    assert.equal((await raw(tampered, 'GET')).status, 403);
    // Signed two hours ago for one hour.
    const u = new URL(g.url);
    const old = await signer().presign(
      { method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/presign/up%20load/file.txt', headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} },
      { expiresIn: 3600, signingDate: new Date(Date.now() - 7200_000) },
    );
    const qs = Object.entries(old.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    const expired = await raw(`${g.url}/presign/up%20load/file.txt?${qs}`, 'GET');
    assert.equal(expired.status, 403);
    assert.match(expired.body.toString(), /expired/);
  });

  it('hides an object while its PUT is in progress', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'atomic' }));
    const url = await presign(g, 'PUT', '/atomic/slow.bin');
    const data = randomBytes(2 * MiB);
    const res = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { 'Content-Length': data.length } }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(data.subarray(0, MiB));
      setTimeout(async () => {
        try {
          assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'atomic', Key: 'slow.bin' }))), 'NotFound');
          assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'atomic' }))).KeyCount, 0);
          assert.deepEqual(await g.t.v.readdir('/atomic'), []);
        } catch (e) {
          req.destroy();
          reject(e);
          return;
        }
        req.end(data.subarray(MiB));
      }, 300);
    });
    assert.equal(await res, 200);
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'atomic', Key: 'slow.bin' })))).equals(data));
  });

  it('accepts aws-chunked bodies: the SDK streaming with trailing checksums, and signed chunks', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'chunked' }));
    let sent: Record<string, string> = {};
    const client = g.client();
    client.middlewareStack.add(
      (next) => async (args) => {
        sent = { ...((args.request as { headers: Record<string, string> }).headers) };
        return next(args);
      },
      { step: 'finalizeRequest', name: 'capture', priority: 'low' },
    );
    const data = randomBytes(3 * MiB + 7);
    await client.send(new PutObjectCommand({ Bucket: 'chunked', Key: 'stream.bin', Body: Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), ContentLength: data.length }));
    assert.match(sent['x-amz-content-sha256'] ?? '', /^STREAMING-/);
    assert.match(sent['content-encoding'] ?? '', /aws-chunked/);
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'chunked', Key: 'stream.bin' })))).equals(data));
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'chunked', Key: 'stream.bin' }));
    assert.equal(h.ContentEncoding, undefined);

    // The chunk signing of AWS's documented example (s3 sigv4-streaming): 64 KiB + 1 KiB of 'a'.
    const docSeed = {
      key: ['20130524', 'us-east-1', 's3', 'aws4_request'].reduce<Buffer | string>((k, d) => createHmac('sha256', k).update(d).digest(), 'AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY') as Buffer,
      amzDate: '20130524T000000Z',
      scope: '20130524/us-east-1/s3/aws4_request',
      signature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    };
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const s1 = chunkSignature(docSeed, docSeed.signature, sha(Buffer.alloc(65536, 'a')));
    assert.equal(s1, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648');
    const s2 = chunkSignature(docSeed, s1, sha(Buffer.alloc(1024, 'a')));
    assert.equal(s2, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497');
    assert.equal(chunkSignature(docSeed, s2, sha(Buffer.alloc(0))), 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9');

    // A STREAMING-AWS4-HMAC-SHA256-PAYLOAD request: seed signed by the SDK's signer, chunks as documented.
    const send = async (tamper: boolean) => {
      const u = new URL(g.url);
      const pieces = [randomBytes(65536), randomBytes(1000)];
      const total = pieces.reduce((n, p) => n + p.length, 0);
      const date = new Date();
      const signed = await signer().sign(
        {
          method: 'PUT',
          protocol: 'http:',
          hostname: u.hostname,
          port: Number(u.port),
          path: '/chunked/signed.bin',
          query: {},
          headers: { host: u.host, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(total) },
        },
        { signingDate: date },
      );
      const auth = String(signed.headers.authorization);
      const seedSig = /Signature=([0-9a-f]+)/.exec(auth)![1]!;
      const amzDate = String(signed.headers['x-amz-date']);
      const day = amzDate.slice(0, 8);
      const seed = {
        key: [day, 'us-east-1', 's3', 'aws4_request'].reduce<Buffer | string>((k, d) => createHmac('sha256', k).update(d).digest(), 'AWS4' + ROOT_KEY.secret) as Buffer,
        amzDate,
        scope: `${day}/us-east-1/s3/aws4_request`,
        signature: seedSig,
      };
      const frames: Buffer[] = [];
      let prev = seedSig;
      for (const p of [...pieces, Buffer.alloc(0)]) {
        const sig = chunkSignature(seed, prev, sha(p));
        prev = sig;
        frames.push(Buffer.from(`${p.length.toString(16)};chunk-signature=${sig}\r\n`), tamper && p.length === 1000 ? randomBytes(1000) : p, Buffer.from('\r\n'));
      }
      const body = Buffer.concat(frames);
      const r = await raw(`${g.url}/chunked/signed.bin`, 'PUT', { ...(signed.headers as Record<string, string>), 'content-length': body.length }, body);
      return { r, data: Buffer.concat(pieces) };
    };
    const ok = await send(false);
    assert.equal(ok.r.status, 200, ok.r.body.toString());
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'chunked', Key: 'signed.bin' })))).equals(ok.data));
    const bad = await send(true);
    assert.equal(bad.r.status, 403);
    assert.match(bad.r.body.toString(), /SignatureDoesNotMatch/);
    // The failed upload left the earlier object as it was.
    assert.ok((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'chunked', Key: 'signed.bin' })))).equals(ok.data));
  });

  it('shows writes of one door at once through the other (SDK Volume <-> S3)', async () => {
    // Caches off, so this client sees the gateway's changes at once (SDK clients cache for 1 s by default).
    const other = await g.t.open({ uid: 0, gid: 0, attrTimeout: 0, entryTimeout: 0 });
    await other.mkdir('/doors/in/sdk', { recursive: true });
    await other.writeFile('/doors/in/sdk/file.txt', 'written by the SDK');
    assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'doors', Key: 'in/sdk/file.txt' })))).toString(), 'written by the SDK');
    const l = await s3.send(new ListObjectsV2Command({ Bucket: 'doors', Prefix: 'in/' }));
    assert.deepEqual(l.Contents?.map((c) => c.Key), ['in/sdk/file.txt']);
    // ETags of files never written over S3 are stable, and change when the file does.
    const e1 = (await s3.send(new HeadObjectCommand({ Bucket: 'doors', Key: 'in/sdk/file.txt' }))).ETag;
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'doors', Key: 'in/sdk/file.txt' }))).ETag, e1);
    await other.writeFile('/doors/in/sdk/file.txt', 'changed by the SDK, longer');
    assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'doors', Key: 'in/sdk/file.txt' })))).toString(), 'changed by the SDK, longer');
    assert.notEqual((await s3.send(new HeadObjectCommand({ Bucket: 'doors', Key: 'in/sdk/file.txt' }))).ETag, e1);
    await s3.send(new PutObjectCommand({ Bucket: 'doors', Key: 'from/s3.txt', Body: 'written over S3' }));
    assert.equal(await other.readFile('/doors/from/s3.txt', 'utf8'), 'written over S3');
    assert.equal((await other.getxattr('/doors/from/s3.txt', 'user.s3.etag')).toString().split(' ')[0], md5(Buffer.from('written over S3')));
    await s3.send(new DeleteObjectCommand({ Bucket: 'doors', Key: 'from/s3.txt' }));
    assert.equal(await other.exists('/doors/from/s3.txt'), false);
    // An S3 ETag goes stale when the file is changed through another door.
    await s3.send(new PutObjectCommand({ Bucket: 'doors', Key: 'x.txt', Body: 'v1' }));
    await other.writeFile('/doors/x.txt', 'v2 via sdk');
    const hx = await s3.send(new HeadObjectCommand({ Bucket: 'doors', Key: 'x.txt' }));
    assert.notEqual(hx.ETag, `"${md5(Buffer.from('v1'))}"`);
    assert.equal(hx.ContentLength, 10);
  });
});

describe('S3 gateway options', () => {
  it('serves anonymous requests only when enabled, as the configured uid', async () => {
    const g = await startGateway({ anonymous: { uid: 65534, gid: 65534 } });
    try {
      await g.t.v.mkdir('/public', 0o755);
      await g.t.v.writeFile('/public/readme.txt', 'hi');
      const r = await raw(`${g.url}/public/readme.txt`, 'GET');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'hi');
      const w = await raw(`${g.url}/public/new.txt`, 'PUT', { 'Content-Length': 1 }, Buffer.from('x'));
      assert.equal(w.status, 403);
    } finally {
      await g.close();
    }
  });

  it('finishes a request in flight on close and refuses new ones', async () => {
    const g = await startGateway();
    let closed = false;
    try {
      await g.client().send(new CreateBucketCommand({ Bucket: 'closing' }));
      const url = await presign(g, 'PUT', '/closing/late.bin');
      const data = randomBytes(MiB);
      const status = new Promise<number>((resolve, reject) => {
        const req = request(url, { method: 'PUT', headers: { 'Content-Length': data.length } }, (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode ?? 0));
        });
        req.on('error', reject);
        req.write(data.subarray(0, 1000));
        // Close once the gateway is handling the PUT (it and this metrics request are in flight).
        const poll = async (): Promise<void> => {
          const m = await raw(`${g.url}/-/metrics`, 'GET');
          if (!/ferry_gateway_requests_in_flight 2/.test(m.body.toString())) return void setTimeout(() => poll().catch(reject), 50);
          const closing = g.gw.close(10_000);
          setTimeout(() => req.end(data.subarray(1000)), 200);
          closing.then(() => (closed = true), reject);
        };
        poll().catch(reject);
      });
      assert.equal(await status, 200);
      await g.gw.close();
      assert.equal(closed, true);
      await assert.rejects(raw(`${g.url}/-/health`, 'GET'));
      assert.ok(Buffer.from(await g.t.v.readFile('/closing/late.bin')).equals(data));
    } finally {
      await g.close();
    }
  });

  it('serves HTTPS with --tls-cert/--tls-key', async (t) => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'));
    try {
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      } catch {
        t.skip('openssl is not installed');
        return;
      }
      const g = await startGateway({ tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
      try {
        assert.match(g.url, /^https:/);
        const { request: httpsRequest } = await import('node:https');
        const status = await new Promise<number>((resolve, reject) => {
          httpsRequest(`${g.url}/-/health`, { rejectUnauthorized: false }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
        assert.equal(status, 200);
      } finally {
        await g.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('picks up keys added and removed while running', async () => {
    const g = await startGateway({}, {}, [ROOT_KEY]);
    try {
      const carol = { accessKey: 'CAROLKEY', secret: 'carol-secret-0123456789', uid: 1003, gid: 1003 };
      assert.equal(await s3code(g.client(carol).send(new ListBucketsCommand({}))), 'InvalidAccessKeyId');
      await sleep(1100);
      const { addKey } = await import('../src/gateway/keys.js');
      await addKey(metaOf(g.t.v), carol.accessKey, { secret: carol.secret, uid: carol.uid, gid: carol.gid, created: new Date().toISOString() });
      await g.client(carol).send(new ListBucketsCommand({}));
    } finally {
      await g.close();
    }
  });
});
