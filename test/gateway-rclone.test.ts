// rclone (Debian's) against `ferry gateway` run as a child process, and the same script against Ceph RGW:
// copy of a tree with small files, a multipart 20 MiB file, nested and non-ASCII names; check both ways;
// sync with deletions and --exclude; lsjson sizes and mtimes (rclone keeps mtime in x-amz-meta-mtime). On the
// gateway also: a gateway killed mid-transfer and started again on the same port, which rclone's retries ride
// over, and one killed together with rclone, whose abandoned upload `rclone backend cleanup` aborts; neither
// leaves temp files or listed uploads behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT_KEY } from './helpers/gateway.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { rcloneFor, type Rclone, type S3Target } from './helpers/rclone.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';
import { toolTestOptions } from './helpers/tools.js';
import type { TempVolume } from './helpers/volume.js';
import { until } from './helpers/wait.js';

const MiB = 1 << 20;
const MULTIPART = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'];
/** Whole quarter seconds: exact in the float seconds rclone writes to x-amz-meta-mtime, so times compare exactly. */
const BASE_MTIME = 1_600_000_000.25;

function s3For(t: S3Target): S3Client {
  return new S3Client({ endpoint: t.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: t.accessKey, secretAccessKey: t.secretKey }, maxAttempts: 1 });
}

interface Entry {
  Path: string;
  Size: number;
  ModTime: string;
}

/** Files (path, size, mtime) as rclone lists them, sorted by path. */
async function files(rc: Rclone, where: string, extra: string[] = []): Promise<Entry[]> {
  const list = JSON.parse(await rc.ok(['lsjson', '-R', '--files-only', ...extra, where])) as Entry[];
  return list.map(({ Path, Size, ModTime }) => ({ Path, Size, ModTime })).sort((a, b) => (a.Path < b.Path ? -1 : 1));
}

/** Writes `rel` under `root` with `data` and the mtime BASE_MTIME + n seconds. */
async function put(root: string, rel: string, data: Buffer | string, n: number): Promise<void> {
  const p = join(root, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, data);
  await utimes(p, BASE_MTIME + n, BASE_MTIME + n);
}

/** The copy/check/sync/lsjson script, run on the gateway and on RGW alike. */
function rcloneScript(target: () => { rc: Rclone; s3: S3Client; bucket: string; work: string }): void {
  let src = '';
  let dst = '';
  const big = randomBytes(20 * MiB);

  it('copies small files, a multipart 20 MiB file, nested dirs and non-ASCII names', async () => {
    const { rc, s3, bucket, work } = target();
    src = join(work, 'src');
    dst = `${rc.remote}:${bucket}/tree`;
    for (let i = 0; i < 12; i++) await put(src, `small/f${i}.txt`, randomBytes(1 + i * 321), i);
    await put(src, 'big.bin', big, 20);
    await put(src, 'a/b/c/d/deep.txt', 'deep\n', 21);
    await put(src, 'naïve café/日本語 ファイル.txt', 'nihongo\n', 22);
    await put(src, 'sp ace+plus%pct/a&b=c 🚀.txt', 'odd\n', 23);
    await put(src, 'gone/one.txt', 'will be deleted\n', 24);
    await put(src, 'old.txt', 'will be deleted\n', 25);
    await rc.ok(['mkdir', `${rc.remote}:${bucket}`]);
    await rc.ok(['copy', src, dst, ...MULTIPART]);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tree/big.bin' }));
    assert.equal(h.ContentLength, 20 * MiB);
    assert.match(h.ETag ?? '', /^"[0-9a-f]{32}-4"$/, 'uploaded in four 5 MiB parts');
    assert.deepEqual(await files(rc, dst), await files(rc, src));
  });

  it('rclone check passes both ways, and with --download', async () => {
    const { rc } = target();
    await rc.ok(['check', src, dst]);
    await rc.ok(['check', dst, src]);
    await rc.ok(['check', '--download', src, dst]);
  });

  it('lsjson gives the local sizes and mtimes; the mtime round-trips in x-amz-meta-mtime', async () => {
    const { rc, s3, bucket } = target();
    const remote = await files(rc, dst);
    assert.equal(remote.length, 18);
    assert.deepEqual(remote, await files(rc, src));
    assert.deepEqual(remote.find((e) => e.Path === 'big.bin'), { Path: 'big.bin', Size: 20 * MiB, ModTime: '2020-09-13T12:27:00.250000000Z' });
    for (const [key, n] of [['tree/big.bin', 20], ['tree/naïve café/日本語 ファイル.txt', 22]] as const) {
      const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(Number(h.Metadata?.mtime), BASE_MTIME + n, `${key}: x-amz-meta-mtime ${h.Metadata?.mtime}`);
    }
  });

  it('rclone check finds an object changed behind its back', async () => {
    const { rc, s3, bucket } = target();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tree/small/f3.txt', Body: 'changed' }));
    const r = await rc.run(['check', src, dst]);
    assert.notEqual(r.code, 0, 'check must fail');
    assert.match(r.stderr, /small\/f3\.txt/);
    assert.match(r.stderr, /1 differences found/);
    await rc.ok(['copy', src, dst]); // puts it back
  });

  it('sync deletes what the source lost, and leaves --exclude alone on both sides', async () => {
    const { rc, s3, bucket } = target();
    await rm(join(src, 'gone'), { recursive: true });
    await rm(join(src, 'old.txt'));
    await put(src, 'new/added.txt', 'new\n', 30);
    await put(src, 'small/f1.txt', 'rewritten with another size\n', 31);
    await put(src, 'local-only.tmp', 'excluded\n', 32);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tree/remote-only.tmp', Body: 'excluded, kept' }));
    await rc.ok(['sync', src, dst, '--exclude', '*.tmp', ...MULTIPART]);
    const remote = await files(rc, dst);
    const paths = remote.map((e) => e.Path);
    assert.ok(!paths.includes('old.txt') && !paths.some((p) => p.startsWith('gone/')), `deleted: ${paths.join(', ')}`);
    assert.ok(paths.includes('new/added.txt'));
    assert.ok(paths.includes('remote-only.tmp'), 'an excluded file on the destination stays');
    assert.ok(!paths.includes('local-only.tmp'), 'an excluded file is not copied');
    assert.deepEqual(await files(rc, dst, ['--exclude', '*.tmp']), await files(rc, src, ['--exclude', '*.tmp']));
    await rc.ok(['check', src, dst, '--exclude', '*.tmp']);
    const dirs = (await rc.ok(['lsf', '--dirs-only', dst])).split('\n');
    assert.ok(!dirs.includes('gone/'), 'the emptied prefix is gone');
  });
}

describe('rclone against ferry gateway', toolTestOptions('rclone'), () => {
  let g: ChildGateway;
  let rc: Rclone;
  let s3: S3Client;
  before(async () => {
    g = await startChildGateway();
    const work = join(g.t.dir, 'rclone');
    await mkdir(work);
    const t = { endpoint: g.url, accessKey: ROOT_KEY.accessKey, secretKey: ROOT_KEY.secret };
    rc = await rcloneFor(work, t);
    s3 = s3For(t);
  });
  after(async () => {
    s3?.destroy();
    await g?.close();
  });
  rcloneScript(() => ({ rc, s3, bucket: 'rc-gateway', work: join(g.t.dir, 'rclone') }));
});

describe('rclone rides over a gateway killed mid-transfer', toolTestOptions('rclone'), () => {
  let t: TempVolume;
  let g: ChildGateway;
  let rc: Rclone;
  let s3: S3Client;
  let src = '';
  before(async () => {
    g = await startChildGateway();
    t = g.t;
    const work = join(t.dir, 'retry');
    src = join(work, 'src');
    for (let i = 0; i < 2; i++) await put(src, `big${i}.bin`, randomBytes(24 * MiB), i);
    const target = { endpoint: g.url, accessKey: ROOT_KEY.accessKey, secretKey: ROOT_KEY.secret };
    rc = await rcloneFor(work, target);
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await g?.close();
    await t?.cleanup(); // the first gateway's close() removes it; one started again leaves it
  });

  /** Starts a slow multipart copy into bucket and resolves once an upload has a part stored (rclone still running). */
  async function copyUnderWay(bucket: string) {
    await rc.ok(['mkdir', `${rc.remote}:${bucket}`]);
    // --bwlimit makes the transfer last seconds, so the kill lands inside it.
    const copy = rc.start(['copy', src, `${rc.remote}:${bucket}`, ...MULTIPART, '--bwlimit', '8M', '--retries', '5', '--retries-sleep', '1s', '--low-level-retries', '30']);
    let finished = false;
    void copy.exit.then(() => (finished = true));
    await until(
      async () => {
        if (finished) throw new Error(`rclone finished before a part was stored:\n${copy.output()}`);
        const ups = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
        for (const u of ups) if (((await s3.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }))).Parts ?? []).length) return true;
        return false;
      },
      'a stored part of rclone\'s upload',
      60_000,
      100,
    );
    return copy;
  }

  /** Kills the gateway and starts it again on the same volume and port. */
  async function restart(): Promise<void> {
    const port = g.port;
    g.proc.kill('SIGKILL');
    await new Promise((r) => g.proc.once('exit', r));
    g = await startChildGateway([], [], {}, t, `127.0.0.1:${port}`);
  }

  async function noLeftovers(bucket: string): Promise<void> {
    const ups = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    assert.deepEqual(ups, [], 'no multipart upload left in progress');
    const v = await t.open();
    try {
      const temps = (await v.readdir('/.ferry-gateway/tmp')).filter((n) => n.startsWith('.tmp-'));
      assert.deepEqual(temps, [], 'no temp file of the killed gateway left');
    } finally {
      await v.close();
    }
  }

  it('the same rclone copy retries into the restarted gateway and completes; check passes', async () => {
    const copy = await copyUnderWay('retry');
    await restart();
    const code = await copy.exit;
    assert.equal(code, 0, `rclone copy across the restart failed:\n${copy.output()}`);
    await rc.ok(['copy', src, `${rc.remote}:retry`, '--retries', '3']);
    await rc.ok(['check', src, `${rc.remote}:retry`]);
    await noLeftovers('retry');
  });

  it('killed together with rclone: a second copy completes, backend cleanup aborts the abandoned upload', async () => {
    const copy = await copyUnderWay('abandoned');
    copy.proc.kill('SIGKILL');
    await copy.exit;
    await restart();
    const before = (await s3.send(new ListMultipartUploadsCommand({ Bucket: 'abandoned' }))).Uploads ?? [];
    assert.ok(before.length >= 1, 'the killed rclone left its upload in progress, as on S3');
    await rc.ok(['copy', src, `${rc.remote}:abandoned`, ...MULTIPART, '--retries', '3']);
    await rc.ok(['check', src, `${rc.remote}:abandoned`]);
    await rc.ok(['backend', 'cleanup', `${rc.remote}:abandoned`, '-o', 'max-age=0s']);
    await noLeftovers('abandoned');
  });
});

describe('the rclone script against Ceph RGW', toolTestOptions('rclone'), () => {
  const bucket = rgwBucket('rclone');
  let rc: Rclone;
  let s3: S3Client;
  let work = '';
  before(async () => {
    await requireRgw();
    work = await mkdtemp(join(tmpdir(), 'ferry-rclone-rgw-'));
    const t = { endpoint: RGW_ENDPOINT, accessKey: RGW_ACCESS_KEY, secretKey: RGW_SECRET_KEY };
    rc = await rcloneFor(work, t);
    s3 = s3For(t);
  });
  after(async () => {
    if (rc) await rc.run(['purge', `${rc.remote}:${bucket}`]);
    s3?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });
  rcloneScript(() => ({ rc, s3, bucket, work }));
});
