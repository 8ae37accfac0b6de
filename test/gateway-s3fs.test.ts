// s3fs (Debian's) mounts a bucket of `ferry gateway` (a child process) in a child process of its own: a
// smoke test of a FUSE file system made of S3 requests (write, read, ls, mkdir, chmod, rename of files and
// directories, rm, a 10 MiB file), each checked through the FerryFS SDK on the same volume — the same bytes
// through two doors. s3fs keeps a directory's mode in its marker's x-amz-meta-mode, which the gateway must keep.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT_KEY } from './helpers/gateway.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { fuseTestOptions, supervise, type TestMount } from './helpers/mount.js';
import { cleanS3Env } from './helpers/rclone.js';
import { tool, toolTestOptions } from './helpers/tools.js';
import { mountAt } from '../src/fuse/teardown.js';
import type { Volume } from '../src/sdk/index.js';

const MiB = 1 << 20;
const BUCKET = 'mounted';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function testOptions(): { skip?: string } {
  const t = toolTestOptions('s3fs');
  return t.skip ? t : fuseTestOptions();
}

describe('s3fs mounted over ferry gateway', testOptions(), () => {
  let g: ChildGateway;
  let m: TestMount;
  let s3: S3Client;
  let v: Volume;
  let mp = '';

  before(async () => {
    g = await startChildGateway();
    s3 = new S3Client({ endpoint: g.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ROOT_KEY.accessKey, secretAccessKey: ROOT_KEY.secret }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const passwd = join(g.t.dir, 's3fs-passwd');
    await writeFile(passwd, `${ROOT_KEY.accessKey}:${ROOT_KEY.secret}\n`, { mode: 0o600 }); // s3fs refuses a readable one
    mp = join(g.t.dir, 'mnt');
    await mkdir(mp);
    const opts = [`url=${g.url}`, 'use_path_request_style', `passwd_file=${passwd}`, 'endpoint=us-east-1'].join(',');
    const child = spawn(tool('s3fs'), [BUCKET, mp, '-f', '-o', opts], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanS3Env() });
    m = await supervise(child, mp, 's3fs', true); // s3fs prints nothing when mounted (its log is block-buffered in a pipe)
    v = await g.t.open({ attrTimeout: 0, entryTimeout: 0 }); // sees every change at once
  });
  after(async () => {
    await m?.unmount();
    s3?.destroy();
    // Never remove the temp dir through a mount that is still there: that would delete the objects through it.
    if (mp && (await mountAt(mp))) throw new Error(`s3fs still mounted at ${mp}; not removing the volume`);
    await g?.close();
  });

  it('writes a file and reads it back; ls and the SDK see it', async () => {
    await writeFile(join(mp, 'hello.txt'), 'hello, s3fs\n');
    assert.equal(await readFile(join(mp, 'hello.txt'), 'utf8'), 'hello, s3fs\n');
    assert.deepEqual(await readdir(mp), ['hello.txt']);
    assert.equal(await v.readFile(`/${BUCKET}/hello.txt`, 'utf8'), 'hello, s3fs\n');
  });

  it('mkdir and chmod a directory: the mode is kept in its marker', async () => {
    await mkdir(join(mp, 'dir'), { mode: 0o755 });
    assert.equal((await v.stat(`/${BUCKET}/dir`)).isDirectory(), true);
    assert.equal((await stat(join(mp, 'dir'))).mode & 0o7777, 0o755);
    await chmod(join(mp, 'dir'), 0o700);
    assert.equal((await stat(join(mp, 'dir'))).mode & 0o7777, 0o700);
    // What s3fs shows after its cache: the marker's metadata on the gateway.
    const h = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dir/' }));
    assert.equal(Number(h.Metadata?.mode) & 0o7777, 0o700, `x-amz-meta-mode ${h.Metadata?.mode}`);
  });

  it('renames a file into a directory, then the directory', async () => {
    await rename(join(mp, 'hello.txt'), join(mp, 'dir', 'moved.txt'));
    assert.deepEqual(await readdir(join(mp, 'dir')), ['moved.txt']);
    assert.equal(await v.exists(`/${BUCKET}/hello.txt`), false);
    assert.equal(await v.readFile(`/${BUCKET}/dir/moved.txt`, 'utf8'), 'hello, s3fs\n');
    await rename(join(mp, 'dir'), join(mp, 'dir2'));
    assert.deepEqual((await readdir(mp)).sort(), ['dir2']);
    assert.equal(await v.exists(`/${BUCKET}/dir`), false);
    assert.equal(await v.readFile(`/${BUCKET}/dir2/moved.txt`, 'utf8'), 'hello, s3fs\n');
    assert.equal((await stat(join(mp, 'dir2'))).mode & 0o7777, 0o700, 'the renamed directory keeps its mode');
  });

  it('a 10 MiB file has the same checksum through s3fs and through the SDK', async () => {
    const data = randomBytes(10 * MiB);
    await writeFile(join(mp, 'dir2', 'ten.bin'), data);
    assert.equal(sha(await readFile(join(mp, 'dir2', 'ten.bin'))), sha(data));
    assert.equal(sha(Buffer.from(await v.readFile(`/${BUCKET}/dir2/ten.bin`))), sha(data));
    assert.equal((await stat(join(mp, 'dir2', 'ten.bin'))).size, 10 * MiB);
  });

  it('a file written through the SDK shows in the mount', async () => {
    await v.writeFile(`/${BUCKET}/dir2/from-sdk.txt`, 'other door\n');
    assert.deepEqual((await readdir(join(mp, 'dir2'))).sort(), ['from-sdk.txt', 'moved.txt', 'ten.bin']);
    assert.equal(await readFile(join(mp, 'dir2', 'from-sdk.txt'), 'utf8'), 'other door\n');
  });

  it('rm and rmdir remove the objects and the directory', async () => {
    for (const f of ['moved.txt', 'ten.bin', 'from-sdk.txt']) await rm(join(mp, 'dir2', f));
    assert.deepEqual(await readdir(join(mp, 'dir2')), []);
    await rmdir(join(mp, 'dir2'));
    assert.deepEqual(await readdir(mp), []);
    assert.deepEqual(await v.readdir(`/${BUCKET}`), []);
  });
});
