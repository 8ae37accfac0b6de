// A volume over its --capacity or --inodes limit behaves like a full disk, through every door as a user
// meets it: the write() (or PUT) that crosses the limit fails with ENOSPC ("No space left on device", the
// gateway's XFerryStorageFull), what was written before it stays readable at the size stat shows, and no
// uploaded block is left in the store that no file references.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFsError } from '../src/errors.js';
import { ROOT_KEY } from './helpers/gateway.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { formatVolume, fuseTestOptions, mountFerry, run, CLI, type TestMount, type TestVolume } from './helpers/mount.js';
import { storeBlocks as blocks, tempVolume, type TempVolume } from './helpers/volume.js';
import { until } from './helpers/wait.js';

const MiB = 1 << 20;
const CAPACITY = 5 * MiB;

const ferry = (args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 120_000 });

describe('volume capacity through the SDK', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume({ blockSize: MiB, format: { capacity: CAPACITY, inodes: 10 } });
  });
  after(() => t.cleanup());

  it('the write() crossing the capacity fails with ENOSPC; the bytes before it are committed and stat agrees', async () => {
    const fh = await t.v.open('/stream', 'w');
    let written = 0;
    let err: unknown;
    for (let i = 0; i < 20 && err === undefined; i++) {
      try {
        await fh.write(Buffer.alloc(MiB, i), null, MiB, written);
        written += MiB;
      } catch (e) {
        err = e;
      }
    }
    assert.ok(isFsError(err, 'ENOSPC'), `expected ENOSPC at a write, got ${String(err)}`);
    assert.ok(written >= 3 * MiB && written < CAPACITY, `${written} bytes accepted`);
    await fh.close(); // what was accepted fits: the close commits it
    assert.equal((await t.v.stat('/stream')).size, written);
    assert.equal((await t.v.readFile('/stream')).length, written);
    await t.v.rm('/stream');
  });

  it('writeFile over the capacity fails with ENOSPC and stat shows what was committed, not what was refused', async () => {
    await assert.rejects(t.v.writeFile('/whole', Buffer.alloc(20 * MiB, 1)), (e: unknown) => isFsError(e, 'ENOSPC'));
    // As node:fs on a full disk: the pieces written before the refused one stay, and stat says so.
    const size = (await t.v.stat('/whole')).size;
    assert.ok(size < CAPACITY, `${size} bytes`);
    assert.deepEqual(await t.v.readFile('/whole'), Buffer.alloc(size, 1));
    await t.v.rm('/whole');
    await t.v.settle();
    assert.deepEqual(await blocks(t.blocksDir!), { count: 0, bytes: 0 });
  });

  it('a commit another client beat to the last bytes fails with ENOSPC at close, and its blocks are deleted', async () => {
    const a = await t.open();
    const b = await t.open();
    const fa = await a.open('/a', 'w');
    await fa.write(Buffer.alloc(4096, 1), null, 4096, 0); // a has read the volume's usage now
    await b.writeFile('/b', Buffer.alloc(3 * MiB, 2)); // b commits most of what is left
    // a's view is older than b's commit: it admits 3 MiB more, which the metadata then refuses.
    await fa.write(Buffer.alloc(3 * MiB, 3), null, 3 * MiB, 4096);
    await assert.rejects(fa.close(), (e: unknown) => isFsError(e, 'ENOSPC'));
    assert.equal((await a.stat('/a')).size, 0);
    assert.equal((await b.stat('/b')).size, 3 * MiB);
    // Only b's blocks remain (3 of 1 MiB): a's uploaded blocks were deleted, not left for nobody to free.
    await until(async () => (await blocks(t.blocksDir!)).count === 3, 'the refused slice blocks to be deleted', 10_000);
    await a.rm('/a');
    await b.rm('/b');
    await b.settle();
  });

  it('the inode limit gives ENOSPC when creating', async () => {
    const st = await t.v.statfs('/');
    const room = st.ffree; // inodes left, as df -i reports them
    assert.ok(room > 0 && room < 10, `room for ${room} inodes`);
    for (let i = 0; i < room; i++) await t.v.writeFile(`/f${i}`, '');
    await assert.rejects(t.v.writeFile('/one-too-many', ''), (e: unknown) => isFsError(e, 'ENOSPC'));
    await assert.rejects(t.v.mkdir('/dir-too-many'), (e: unknown) => isFsError(e, 'ENOSPC'));
    for (let i = 0; i < room; i++) await t.v.rm(`/f${i}`);
  });
});

/** A failure a user sees: non-zero exit and one line on stderr, no stack trace. */
function oneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

describe('volume capacity through ferry put', () => {
  let t: TempVolume;
  let big: string;
  before(async () => {
    t = await tempVolume();
    await t.v.close();
    big = join(t.dir, 'big');
    await writeFile(big, randomBytes(20 * MiB));
  });
  after(() => t.cleanup());

  it('a put over --capacity is one line and exit 1, and leaves neither the file nor blocks behind', async () => {
    const cfg = await ferry(['config', '--capacity', '5M', t.url]);
    assert.equal(cfg.code, 0, cfg.stderr);
    const r = await ferry(['put', t.url, big, '/big']);
    assert.equal(r.code, 1, r.stderr);
    oneLine(r, /^ferry: ENOSPC: no space left on device, write '\/big' \(in the volume\)$/);
    const ls = await ferry(['ls', t.url, '/']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout, /big/);
    assert.deepEqual(await blocks(t.blocksDir!), { count: 0, bytes: 0 });
    // A file that fits still goes in.
    const small = join(t.dir, 'small');
    await writeFile(small, randomBytes(MiB));
    assert.equal((await ferry(['put', t.url, small, '/small'])).code, 0);
  });

  it('a put over --inodes is one line and exit 1', async () => {
    assert.equal((await ferry(['config', '--inodes', '3', t.url])).code, 0);
    const tree = join(t.dir, 'tree');
    await mkdir(tree);
    for (let i = 0; i < 4; i++) await writeFile(join(tree, `f${i}`), 'x');
    const r = await ferry(['put', t.url, tree, '/tree']);
    assert.equal(r.code, 1, r.stderr);
    oneLine(r, /^ferry: ENOSPC: no space left on device/);
  });
});

describe('volume capacity through a FUSE mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;
  let mp: string;
  let big: string;
  before(async () => {
    vol = await formatVolume({ capacity: CAPACITY, inodes: 20 });
    mp = join(vol.dir, 'mnt');
    m = await mountFerry(vol.url, mp);
    big = join(vol.dir, 'big');
    await writeFile(big, randomBytes(20 * MiB));
  });
  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  it('dd and cp fail at the write() crossing the capacity with "No space left on device", leaving no blocks for nobody', async () => {
    const dd = await run('dd', [`if=${big}`, `of=${join(mp, 'dd')}`, 'bs=1M']);
    assert.notEqual(dd.code, 0);
    assert.match(dd.stderr, /error writing .*: No space left on device/);
    const cp = await run('cp', [big, join(mp, 'cp')]);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /error writing .*: No space left on device/);
    // What the writes before the refused one put there is the file, as on a full local disk.
    const sizes = (await stat(join(mp, 'dd'))).size + (await stat(join(mp, 'cp'))).size;
    assert.ok((await stat(join(mp, 'dd'))).size >= 3 * MiB && sizes <= CAPACITY, `${sizes} bytes in the files`);
    // The store holds the committed data and nothing else (block trailers: a few bytes each).
    const b = await blocks(join(vol.dir, 'blocks'));
    assert.ok(b.bytes <= sizes + 4096, `${b.bytes} bytes of blocks for ${sizes} bytes of files`);
    assert.doesNotMatch(m.output(), /^\s+at /m, m.output());
    assert.doesNotMatch(m.output(), /EIO/, m.output());
    const rm = await run('rm', [join(mp, 'dd'), join(mp, 'cp')]);
    assert.equal(rm.code, 0, rm.stderr);
    await until(async () => (await blocks(join(vol.dir, 'blocks'))).count === 0, 'the removed files\' blocks to be freed', 30_000);
  });

  it('creating past --inodes fails with "No space left on device"', async () => {
    const touch = await run('sh', ['-c', `for i in $(seq 1 40); do touch "${mp}/f$i" || exit 3; done`]);
    assert.equal(touch.code, 3, touch.stderr);
    assert.match(touch.stderr, /No space left on device/);
    const mk = await run('mkdir', [join(mp, 'one-more')]);
    assert.match(mk.stderr, /No space left on device/);
  });
});

// The client the CI setup installs (.ci/setup.d/40-s3-clients.sh), never whatever is first on PATH.
const AWS = '/usr/bin/aws';
const NO_AWS = existsSync(AWS) ? undefined : `${AWS} is missing: source .ci/setup.d/40-s3-clients.sh`;
if (NO_AWS && process.env.CI === 'true') throw new Error(NO_AWS);

describe('volume capacity through the S3 gateway (awscli)', { skip: NO_AWS }, () => {
  let gw: ChildGateway;
  let env: Record<string, string>;
  const aws = (args: string[]) => run('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), AWS, '--endpoint-url', gw.url, ...args], { timeoutMs: 120_000 });
  before(async () => {
    gw = await startChildGateway([], [ROOT_KEY], { blockSize: MiB, format: { capacity: CAPACITY } });
    const config = join(gw.t.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: gw.t.dir,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(gw.t.dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      // 507 is a 5xx, which S3 clients retry: one attempt keeps the test short, the answer is the same.
      AWS_MAX_ATTEMPTS: '1',
      AWS_ACCESS_KEY_ID: ROOT_KEY.accessKey,
      AWS_SECRET_ACCESS_KEY: ROOT_KEY.secret,
    };
    for (const [name, size] of [['mid', 8 * MiB], ['big', 20 * MiB], ['small', MiB], ['part', 2 * MiB]] as const) await writeFile(join(gw.t.dir, name), randomBytes(size));
    const mb = await aws(['s3', 'mb', 's3://bkt']);
    assert.equal(mb.code, 0, mb.stderr);
  });
  after(() => gw?.close());

  const objects = async () => {
    const ls = await aws(['s3api', 'list-objects-v2', '--bucket', 'bkt']);
    assert.equal(ls.code, 0, ls.stderr);
    return ls.stdout.trim() === '' ? [] : ((JSON.parse(ls.stdout) as { Contents?: Array<{ Key: string }> }).Contents ?? []).map((c) => c.Key);
  };

  it('PutObject and a multipart cp over the capacity answer XFerryStorageFull and leave no object and no blocks', async () => {
    const put = await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'mid', '--body', join(gw.t.dir, 'mid')]);
    assert.notEqual(put.code, 0);
    assert.match(put.stderr, /\(XFerryStorageFull\) when calling the PutObject operation.*: The volume is out of space/);
    const cp = await aws(['s3', 'cp', join(gw.t.dir, 'big'), 's3://bkt/big']);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /XFerryStorageFull/);
    assert.deepEqual(await objects(), []);
    await until(async () => (await blocks(gw.t.blocksDir!)).count === 0, 'the refused uploads\' blocks to be freed', 30_000);
    // An object that fits is stored.
    const ok = await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'small', '--body', join(gw.t.dir, 'small')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await objects(), ['small']);
  });

  it('CompleteMultipartUpload over the capacity answers XFerryStorageFull; no object appears and the upload can be aborted', async () => {
    const create = await aws(['s3api', 'create-multipart-upload', '--bucket', 'bkt', '--key', 'multi']);
    assert.equal(create.code, 0, create.stderr);
    const id = (JSON.parse(create.stdout) as { UploadId: string }).UploadId;
    // The 2 MiB part fits beside the 1 MiB object; the object completed from it (counted beside its part
    // until the part is removed, as any copy is) does not.
    const part = await aws(['s3api', 'upload-part', '--bucket', 'bkt', '--key', 'multi', '--upload-id', id, '--part-number', '1', '--body', join(gw.t.dir, 'part')]);
    assert.equal(part.code, 0, part.stderr);
    const etag = (JSON.parse(part.stdout) as { ETag: string }).ETag;
    const done = await aws(['s3api', 'complete-multipart-upload', '--bucket', 'bkt', '--key', 'multi', '--upload-id', id, '--multipart-upload', JSON.stringify({ Parts: [{ PartNumber: 1, ETag: etag }] })]);
    assert.notEqual(done.code, 0);
    assert.match(done.stderr, /XFerryStorageFull/);
    assert.deepEqual(await objects(), ['small']);
    const abort = await aws(['s3api', 'abort-multipart-upload', '--bucket', 'bkt', '--key', 'multi', '--upload-id', id]);
    assert.equal(abort.code, 0, abort.stderr);
    await until(async () => (await blocks(gw.t.blocksDir!)).count === 1, 'the aborted part\'s blocks to be freed', 30_000);
  });
});
