// Object metadata over the S3 gateway through the AWS SDK for JavaScript v3, in-process on a temp volume
// (issue 19 items 6-8): flexible checksums verified on upload (header, aws-chunked trailer, multipart
// COMPOSITE and FULL_OBJECT) and returned with x-amz-checksum-mode; object and bucket tags in xattrs that
// follow a POSIX rename; the versions view (null versions) that bucket-emptying tools rely on.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type S3Client,
} from '@aws-sdk/client-s3';
import { crc32, crc32c } from '@node-rs/crc32';
import { Crc64Nvme, crcCombine } from '../src/gateway/crc.js';
import { bodyOf, s3code, startGateway, type TestGateway } from './helpers/gateway.js';

const MiB = 1 << 20;

// The AWS SDK's own CRC-64/NVME (an internal package of the SDK): an implementation nobody here wrote.
const { Crc64NvmeJs } = createRequire(import.meta.url)('@aws-sdk/checksums/crc') as { Crc64NvmeJs: new () => { update(b: Uint8Array): void; digest(): Promise<Uint8Array> } };

const be32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** The raw digest of data, by libraries independent of the gateway's code where one exists. */
async function rawDigest(algo: string, data: Buffer): Promise<Buffer> {
  switch (algo) {
    case 'CRC32':
      return be32(crc32(data));
    case 'CRC32C':
      return be32(crc32c(data));
    case 'CRC64NVME': {
      const c = new Crc64NvmeJs();
      c.update(data);
      return Buffer.from(await c.digest());
    }
    default:
      return createHash(algo.toLowerCase()).update(data).digest();
  }
}

describe('S3 gateway: checksums, tagging, versions (AWS SDK v3)', () => {
  let g: TestGateway;
  let s3: S3Client;

  before(async () => {
    g = await startGateway();
    s3 = g.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'meta' }));
  });
  after(async () => {
    await g?.close();
  });

  it('CRC-64/NVME: the catalogue check value, the SDK agrees, and CRCs combine', async () => {
    const c = new Crc64Nvme();
    c.update(Buffer.from('123456789'));
    assert.equal(c.digest().toString('hex'), 'ae8b14860a799888');
    for (const n of [0, 1, 7, 8, 9, 4099]) {
      const d = randomBytes(n);
      const mine = new Crc64Nvme();
      mine.update(d.subarray(0, 5));
      mine.update(d.subarray(5));
      assert.deepEqual(mine.digest(), await rawDigest('CRC64NVME', d), `length ${n}`);
    }
    const a = randomBytes(5000);
    const b = randomBytes(3333);
    for (const algo of ['CRC32', 'CRC32C', 'CRC64NVME']) {
      const combined = crcCombine(algo.toLowerCase() as 'crc32', await rawDigest(algo, a), await rawDigest(algo, b), b.length);
      assert.deepEqual(combined, await rawDigest(algo, Buffer.concat([a, b])), algo);
    }
  });

  it('verifies and keeps each algorithm, sent as a header and as an aws-chunked trailer, and returns it when asked', async () => {
    const data = randomBytes(MiB + 13);
    for (const algo of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[]) {
      const want = (await rawDigest(algo, data)).toString('base64');
      const field = `Checksum${algo}` as 'ChecksumCRC32';
      for (const how of ['header', 'trailer']) {
        const key = `sum/${algo}-${how}`;
        // A Buffer body goes with an x-amz-checksum-* header, a stream as aws-chunked with the checksum in a trailer.
        const Body = how === 'header' ? data : Readable.from([data.subarray(0, 1000), data.subarray(1000)]);
        const put = await s3.send(new PutObjectCommand({ Bucket: 'meta', Key: key, Body, ContentLength: data.length, ChecksumAlgorithm: algo }));
        assert.equal(put[field], want, `${key}: PUT answers the checksum`);
        const h = await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(h[field], want, `${key}: HEAD`);
        assert.equal(h.ChecksumType, 'FULL_OBJECT');
        const plain = await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: key }));
        assert.equal(plain[field], undefined, 'only with x-amz-checksum-mode: ENABLED');
        // The SDK validates the body against the checksum it is sent.
        const get = await s3.send(new GetObjectCommand({ Bucket: 'meta', Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(get[field], want);
        assert.ok((await bodyOf(get)).equals(data));
        const ranged = await s3.send(new GetObjectCommand({ Bucket: 'meta', Key: key, ChecksumMode: 'ENABLED', Range: 'bytes=0-9' }));
        assert.equal(ranged[field], undefined, 'a range has no whole-object checksum');
        await bodyOf(ranged);
      }
    }
  });

  it('refuses a wrong checksum (BadDigest) or a malformed one (InvalidRequest) and stores nothing', async () => {
    const data = Buffer.from('the real data');
    await s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/kept', Body: Buffer.from('old') }));
    const wrong = be32(crc32c(data) ^ 1).toString('base64');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/new', Body: data, ChecksumCRC32C: wrong }))), 'BadDigest');
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'bad/new' }))), '404');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/kept', Body: data, ChecksumCRC32C: wrong }))), 'BadDigest');
    assert.equal((await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'meta', Key: 'bad/kept' })))).toString(), 'old');
    const sha = createHash('sha256').update('other').digest('base64');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/new', Body: data, ChecksumSHA256: sha }))), 'BadDigest');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/new', Body: data, ChecksumCRC64NVME: 'AAAAAAAAAAA=' }))), 'BadDigest');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'bad/new', Body: data, ChecksumCRC32: 'not-base64!' }))), 'InvalidRequest');
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'bad/new' }))), '404');
  });

  it('a checksum no longer holds once the file is changed through POSIX', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'posix.txt', Body: Buffer.from('s3 data'), ChecksumAlgorithm: 'CRC32C' }));
    assert.ok((await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'posix.txt', ChecksumMode: 'ENABLED' }))).ChecksumCRC32C);
    await g.t.v.writeFile('/meta/posix.txt', 'changed through the file system');
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'posix.txt', ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC32C, undefined);
  });

  async function multipart(key: string, algo: ChecksumAlgorithm, type: 'COMPOSITE' | 'FULL_OBJECT' | undefined, parts: Buffer[]) {
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'meta', Key: key, ChecksumAlgorithm: algo, ChecksumType: type }));
    assert.equal(up.ChecksumAlgorithm, algo);
    const field = `Checksum${algo}` as 'ChecksumCRC32';
    const done: Array<{ PartNumber: number; ETag: string; ChecksumCRC32?: string }> = [];
    for (const [i, p] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: 'meta', Key: key, UploadId: up.UploadId, PartNumber: i + 1, Body: p, ChecksumAlgorithm: algo }));
      assert.equal(r[field], (await rawDigest(algo, p)).toString('base64'), `part ${i + 1} answers its checksum`);
      done.push({ PartNumber: i + 1, ETag: r.ETag!, [field]: r[field] });
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: 'meta', Key: key, UploadId: up.UploadId }));
    assert.deepEqual(listed.Parts!.map((p) => p[field]), done.map((p) => p[field as 'ChecksumCRC32']));
    return { id: up.UploadId!, done, field };
  }

  it('multipart with ChecksumAlgorithm: parts verified and kept, a COMPOSITE "-N" checksum on the object', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(1234)];
    const { id, done, field } = await multipart('mp/composite', 'CRC32C', undefined, parts);
    // Complete must name each part's checksum, and the right one.
    const missing = done.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    assert.equal(await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/composite', UploadId: id, MultipartUpload: { Parts: missing } }))), 'InvalidRequest');
    const wrong = done.map((p, i) => (i === 0 ? { ...p, [field]: 'AAAAAA==' } : p));
    assert.equal(await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/composite', UploadId: id, MultipartUpload: { Parts: wrong } }))), 'InvalidPart');
    const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/composite', UploadId: id, MultipartUpload: { Parts: done } }));
    const raw = Buffer.concat(await Promise.all(parts.map((p) => rawDigest('CRC32C', p))));
    const want = `${be32(crc32c(raw)).toString('base64')}-2`;
    assert.equal(c.ChecksumCRC32C, want);
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'mp/composite', ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC32C, want);
    assert.equal(h.ChecksumType, 'COMPOSITE');
    assert.equal(h.ContentLength, 5 * MiB + 1234);
  });

  it('multipart with CRC64NVME: a FULL_OBJECT checksum, the CRC of the whole object', async () => {
    const parts = [randomBytes(5 * MiB + 3), randomBytes(5 * MiB), randomBytes(77)];
    const { id, done } = await multipart('mp/full', 'CRC64NVME', undefined, parts);
    const want = (await rawDigest('CRC64NVME', Buffer.concat(parts))).toString('base64');
    assert.equal(await s3code(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/full', UploadId: id, ChecksumCRC64NVME: 'AAAAAAAAAAA=', ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done } }))), 'BadDigest');
    const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/full', UploadId: id, ChecksumCRC64NVME: want, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done } }));
    assert.equal(c.ChecksumCRC64NVME, want);
    const h = await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'mp/full', ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC64NVME, want);
    assert.equal(h.ChecksumType, 'FULL_OBJECT');
    assert.equal(await s3code(s3.send(new CreateMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/x', ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'COMPOSITE' }))), 'InvalidRequest');
    assert.equal(await s3code(s3.send(new CreateMultipartUploadCommand({ Bucket: 'meta', Key: 'mp/x', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' }))), 'InvalidRequest');
  });

  it('tags: on PUT, Put/Get/DeleteObjectTagging, the count on GET, S3 limits, copy and multipart, and a POSIX rename', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'tags/a', Body: Buffer.from('x'), Tagging: 'project=ferry&owner=data%20team' }));
    let t = await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a' }));
    assert.deepEqual(t.TagSet, [{ Key: 'project', Value: 'ferry' }, { Key: 'owner', Value: 'data team' }]);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'meta', Key: 'tags/a' }));
    assert.equal(got.TagCount, 2);
    await bodyOf(got);
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a', Tagging: { TagSet: [{ Key: 'stage', Value: 'raw' }] } }));
    t = await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a' }));
    assert.deepEqual(t.TagSet, [{ Key: 'stage', Value: 'raw' }]);
    // The ETag stays: tags are not the object's data.
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: 'meta', Key: 'tags/a' }))).ETag;
    assert.equal(etag, `"${createHash('md5').update('x').digest('hex')}"`);

    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    assert.equal(await s3code(s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a', Tagging: { TagSet: eleven } }))), 'BadRequest');
    assert.equal(await s3code(s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a', Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] } }))), 'InvalidTag');
    assert.equal(await s3code(s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a', Tagging: { TagSet: [{ Key: 'k', Value: 'v'.repeat(257) }] } }))), 'InvalidTag');
    assert.equal(await s3code(s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/a', Tagging: { TagSet: [{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }] } }))), 'InvalidTag');
    assert.equal(await s3code(s3.send(new PutObjectCommand({ Bucket: 'meta', Key: 'tags/b', Body: Buffer.from('x'), Tagging: 'aws:x=1' }))), 'InvalidTag');
    assert.equal(await s3code(s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/none' }))), 'NoSuchKey');

    // Copy: the source's tags (COPY, the default) or the request's (REPLACE).
    await s3.send(new CopyObjectCommand({ Bucket: 'meta', Key: 'tags/copy', CopySource: 'meta/tags/a' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/copy' }))).TagSet, [{ Key: 'stage', Value: 'raw' }]);
    await s3.send(new CopyObjectCommand({ Bucket: 'meta', Key: 'tags/copy2', CopySource: 'meta/tags/a', TaggingDirective: 'REPLACE', Tagging: 'stage=clean' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/copy2' }))).TagSet, [{ Key: 'stage', Value: 'clean' }]);

    // Multipart: x-amz-tagging at CreateMultipartUpload tags the completed object.
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'meta', Key: 'tags/mp', Tagging: 'via=multipart' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: 'meta', Key: 'tags/mp', UploadId: up.UploadId, PartNumber: 1, Body: Buffer.from('part') }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'meta', Key: 'tags/mp', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/mp' }))).TagSet, [{ Key: 'via', Value: 'multipart' }]);

    // Tags are xattrs of the file: a rename through the file system keeps them.
    await g.t.v.rename('/meta/tags/a', '/meta/tags/renamed');
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/renamed' }))).TagSet, [{ Key: 'stage', Value: 'raw' }]);

    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/renamed' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'tags/renamed' }))).TagSet ?? [], []);
  });

  it('bucket tags: Put/Get/Delete, NoSuchTagSet when none, at most 50', async () => {
    assert.equal(await s3code(s3.send(new GetBucketTaggingCommand({ Bucket: 'meta' }))), 'NoSuchTagSet');
    await s3.send(new PutBucketTaggingCommand({ Bucket: 'meta', Tagging: { TagSet: [{ Key: 'team', Value: 'ml' }, { Key: 'cost-center', Value: '42' }] } }));
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: 'meta' }))).TagSet, [{ Key: 'team', Value: 'ml' }, { Key: 'cost-center', Value: '42' }]);
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    assert.equal(await s3code(s3.send(new PutBucketTaggingCommand({ Bucket: 'meta', Tagging: { TagSet: many } }))), 'InvalidTag');
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: 'meta' }));
    assert.equal(await s3code(s3.send(new GetBucketTaggingCommand({ Bucket: 'meta' }))), 'NoSuchTagSet');
  });

  it('versions view: ListObjectVersions pages null versions; versionId=null honoured, any other is NoSuchVersion', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'vers' }));
    const keys = ['a.txt', 'd/1', 'd/2', 'e', 'z/'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: 'vers', Key: k, Body: Buffer.from(k.endsWith('/') ? '' : k) }));
    const seen: string[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (let page = 0; ; page++) {
      const r = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers', MaxKeys: 2, KeyMarker, VersionIdMarker }));
      for (const v of r.Versions ?? []) {
        assert.equal(v.VersionId, 'null');
        assert.equal(v.IsLatest, true);
        seen.push(v.Key!);
      }
      assert.equal(r.DeleteMarkers, undefined);
      if (!r.IsTruncated) break;
      assert.ok(page < 5);
      KeyMarker = r.NextKeyMarker;
      VersionIdMarker = r.NextVersionIdMarker;
    }
    assert.deepEqual(seen, keys);
    const grouped = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers', Delimiter: '/' }));
    assert.deepEqual(grouped.Versions!.map((v) => v.Key), ['a.txt', 'e']);
    assert.deepEqual(grouped.CommonPrefixes!.map((p) => p.Prefix), ['d/', 'z/']);
    const first = (await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers', Prefix: 'd/' }))).Versions![0]!;
    assert.equal(first.ETag, `"${createHash('md5').update('d/1').digest('hex')}"`);
    assert.equal(first.Size, 3);

    const got = await s3.send(new GetObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'null' }));
    assert.equal((await bodyOf(got)).toString(), 'e');
    assert.equal(got.VersionId, 'null');
    assert.equal(await s3code(s3.send(new GetObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'abc' }))), 'NoSuchVersion');
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'abc' }))), '404');
    // Deleting another version must not delete the object (it did).
    assert.equal(await s3code(s3.send(new DeleteObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'abc' }))), 'NoSuchVersion');
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'null' }))).ContentLength, 1);
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'vers', Key: 'e', VersionId: 'null' }));
    assert.equal(del.VersionId, 'null');
    assert.equal(await s3code(s3.send(new HeadObjectCommand({ Bucket: 'vers', Key: 'e' }))), '404');
    assert.equal(await s3code(s3.send(new CopyObjectCommand({ Bucket: 'vers', Key: 'c', CopySource: 'vers/a.txt?versionId=abc' }))), 'NoSuchVersion');
  });

  it('empties a bucket as the tools do (list versions, delete them with their ids), then deletes it', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'empty-me' }));
    for (let i = 0; i < 25; i++) await s3.send(new PutObjectCommand({ Bucket: 'empty-me', Key: `k/${i}`, Body: Buffer.from('x') }));
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: 'empty-me' }));
    const objs = r.Versions!.map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
    objs.push({ Key: 'k/0', VersionId: 'other' });
    const d = await s3.send(new DeleteObjectsCommand({ Bucket: 'empty-me', Delete: { Objects: objs } }));
    assert.equal(d.Deleted!.length, 25);
    assert.ok(d.Deleted!.every((x) => x.VersionId === 'null'));
    assert.deepEqual(d.Errors!.map((e) => [e.Key, e.Code]), [['k/0', 'NoSuchVersion']]);
    await s3.send(new DeleteBucketCommand({ Bucket: 'empty-me' }));
  });

  it('PutBucketVersioning: Suspended is kept, Enabled is refused with a clear error', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'versioning' }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioning' }))).Status, undefined);
    try {
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'versioning', VersioningConfiguration: { Status: 'Enabled' } }));
      assert.fail('Enabled was accepted');
    } catch (e) {
      const err = e as { Code?: string; message: string; $metadata: { httpStatusCode?: number } };
      assert.equal(err.Code, 'NotImplemented');
      assert.equal(err.$metadata.httpStatusCode, 501);
      assert.match(err.message, /versioning cannot be Enabled/);
    }
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioning' }))).Status, undefined);
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'versioning', VersioningConfiguration: { Status: 'Suspended' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioning' }))).Status, 'Suspended');
  });
});
