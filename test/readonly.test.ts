// Read-only subtrees (`ferry readonly`) through every door, as a user meets them: EROFS ("Read-only file
// system") from the SDK and from a real mount (touch, mv into and out of, ln, setfattr, chmod, rm, a write),
// 403 AccessDenied naming the read-only path from the S3 gateway (PUT, DELETE, CompleteMultipartUpload);
// marks set with the CLI reach running mounts, gateways and SDK clients within seconds; unset lifts them.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFsError } from '../src/errors.js';
import { setReadOnly, unsetReadOnly } from '../src/meta/readonly.js';
import { ROOT_KEY } from './helpers/gateway.js';
import { startChildGateway, type ChildGateway } from './helpers/gateway-child.js';
import { formatVolume, fuseTestOptions, mountFerry, py, run, CLI, type TestMount, type TestVolume } from './helpers/mount.js';
import { missingTool, tool } from './helpers/tools.js';
import { metaOf, tempVolume, type TempVolume } from './helpers/volume.js';
import { until } from './helpers/wait.js';

const ferry = (args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 120_000 });
const erofs = (path: string) => (e: unknown) => isFsError(e, 'EROFS') && (e as Error).message.includes(`${path} is read-only`);

describe('read-only subtrees through the SDK', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume();
    await t.v.mkdir('/ro/sub', { recursive: true });
    await t.v.mkdir('/rw');
    await t.v.writeFile('/ro/f', 'kept');
    await t.v.writeFile('/rw/g', 'x');
    await setReadOnly(metaOf(t.v), '/ro');
  });
  after(() => t.cleanup());

  it('every change inside is EROFS naming the path; reads and copies out work', async () => {
    await assert.rejects(t.v.writeFile('/ro/new', 'x'), erofs('/ro'));
    await assert.rejects(t.v.writeFile('/ro/f', 'changed'), erofs('/ro'));
    await assert.rejects(t.v.appendFile('/ro/f', 'more'), erofs('/ro'));
    await assert.rejects(t.v.truncate('/ro/f', 0), erofs('/ro'));
    await assert.rejects(t.v.mkdir('/ro/sub/d'), erofs('/ro'));
    await assert.rejects(t.v.rm('/ro/f'), erofs('/ro'));
    await assert.rejects(t.v.rename('/ro/f', '/rw/f'), erofs('/ro'));
    await assert.rejects(t.v.rename('/rw/g', '/ro/g'), erofs('/ro'));
    await assert.rejects(t.v.link('/rw/g', '/ro/sub/g'), erofs('/ro'));
    await assert.rejects(t.v.chmod('/ro/f', 0o600), erofs('/ro'));
    await assert.rejects(t.v.utimes('/ro/f', 1, 1), erofs('/ro'));
    await assert.rejects(t.v.symlink('x', '/ro/ln'), erofs('/ro'));
    await assert.rejects(t.v.clone('/rw/g', '/ro/g'), erofs('/ro'));
    assert.equal(await t.v.readFile('/ro/f', 'utf8'), 'kept');
    await t.v.copyFile('/ro/f', '/rw/copy');
    await t.v.clone('/ro', '/rw/ro-copy');
    await t.v.writeFile('/rw/ro-copy/f', 'the copy is writable');
    assert.equal(await t.v.readFile('/ro/f', 'utf8'), 'kept');
  });

  it('another running client refuses within seconds of the mark, and writes again once it is lifted', async () => {
    const other = await t.open();
    await other.writeFile('/rw/before', 'x');
    await setReadOnly(metaOf(t.v), '/rw');
    await until(async () => other.writeFile('/rw/after', 'x').then(() => false, (e) => erofs('/rw')(e)), 'the other client to see the mark', 20_000, 100);
    await unsetReadOnly(metaOf(t.v), '/rw');
    await until(async () => other.writeFile('/rw/after', 'x').then(() => true, () => false), 'the other client to see the mark lifted', 20_000, 100);
  });
});

describe('ferry readonly', () => {
  let vol: TestVolume;
  before(async () => {
    vol = await formatVolume();
    assert.equal((await ferry(['mkdir', '-p', vol.url, '/data/set'])).code, 0);
  });
  after(() => vol?.cleanup());

  it('set, list and unset; wrong paths are one line and exit 1; a wrong action is exit 2', async () => {
    const set = await ferry(['readonly', 'set', '--path', '/data/set/', vol.url]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^\/data\/set is read-only/);
    const mk = await ferry(['mkdir', vol.url, '/data/set/x']);
    assert.equal(mk.code, 1);
    assert.match(mk.stderr, /^ferry: EROFS: read-only file system: \/data\/set is read-only/);
    assert.equal((await ferry(['mv', vol.url, '/data', '/moved'])).code, 0, 'a parent may move');
    const list = await ferry(['readonly', 'list', vol.url]);
    assert.match(list.stdout, /^PATH\s+INODE\s+MARKED AS\n\/moved\/set\s+\d+\s+\/data\/set\n$/);
    const json = JSON.parse((await ferry(['readonly', 'list', '--json', vol.url])).stdout) as Array<{ path: string }>;
    assert.equal(json[0]!.path, '/moved/set');
    const missing = await ferry(['readonly', 'set', '--path', '/nope', vol.url]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'ferry: no such directory: /nope\n');
    const notMarked = await ferry(['readonly', 'unset', '--path', '/moved', vol.url]);
    assert.equal(notMarked.code, 1);
    assert.match(notMarked.stderr, /^ferry: \/moved is not marked read-only/);
    assert.equal((await ferry(['readonly', 'lock', vol.url])).code, 2);
    const unset = await ferry(['readonly', 'unset', '--path', '/moved/set', vol.url]);
    assert.equal(unset.code, 0, unset.stderr);
    assert.equal((await ferry(['mkdir', vol.url, '/moved/set/x'])).code, 0);
    assert.equal((await ferry(['readonly', 'list', vol.url])).stdout, 'nothing is read-only\n');
    const help = await ferry(['readonly', '--help']);
    assert.match(help.stdout, /ferry readonly set --path \/datasets\/imagenet/);
  });
});

describe('read-only subtrees through a FUSE mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;
  let mp: string;
  before(async () => {
    vol = await formatVolume();
    mp = join(vol.dir, 'mnt');
    m = await mountFerry(vol.url, mp);
    await run('mkdir', ['-p', join(mp, 'ro/sub'), join(mp, 'rw')]);
    await writeFile(join(mp, 'ro/f'), 'kept');
    await writeFile(join(mp, 'rw/g'), 'x');
  });
  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  const refused = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args);
    assert.notEqual(r.code, 0, `${cmd} ${args.join(' ')} succeeded`);
    assert.match(r.stderr, /Read-only file system/, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };

  it('a mark set with the CLI reaches the running mount: touch, mv, ln, setfattr, chmod, rm and writes are EROFS', async () => {
    assert.equal((await ferry(['readonly', 'set', '--path', '/ro', vol.url])).code, 0);
    await until(async () => (await run('touch', [join(mp, 'ro/new')])).code !== 0, 'the mount to refuse a create', 20_000, 100);
    await refused('touch', [join(mp, 'ro/new')]);
    await refused('touch', [join(mp, 'ro/f')]);
    await refused('mkdir', [join(mp, 'ro/sub/d')]);
    await refused('mv', [join(mp, 'rw/g'), join(mp, 'ro/g')]);
    await refused('mv', [join(mp, 'ro/f'), join(mp, 'rw/f')]);
    await refused('ln', [join(mp, 'rw/g'), join(mp, 'ro/sub/g')]);
    await refused('chmod', ['600', join(mp, 'ro/f')]);
    await refused('rm', [join(mp, 'ro/f')]);
    await refused('rmdir', [join(mp, 'ro/sub')]);
    await refused('sh', ['-c', `echo changed > ${join(mp, 'ro/f')}`]);
    await refused('truncate', ['-s', '0', join(mp, 'ro/f')]);
    const setfattr = await run(tool('python3'), ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.k", b"v")', join(mp, 'ro/f')]);
    assert.match(setfattr.stderr, /OSError: \[Errno 30\] Read-only file system/);
    assert.equal((await run('cat', [join(mp, 'ro/f')])).stdout, 'kept');
    assert.equal((await run('cp', [join(mp, 'ro/f'), join(mp, 'rw/copy')])).code, 0, 'copying out works');
    assert.equal(await py('import sys; print(open(sys.argv[1]).read())', [join(mp, 'rw/copy')]), 'kept\n');
    assert.doesNotMatch(m.output(), /^\s+at /m, m.output());
  });

  it('unset lifts it on the running mount', async () => {
    assert.equal((await ferry(['readonly', 'unset', '--path', '/ro', vol.url])).code, 0);
    await until(async () => (await run('touch', [join(mp, 'ro/new')])).code === 0, 'the mount to allow the create', 20_000, 100);
    assert.equal((await run('mv', [join(mp, 'rw/g'), join(mp, 'ro/g')])).code, 0);
  });
});

const NO_AWS = missingTool('aws');
if (NO_AWS && process.env.CI === 'true') throw new Error(NO_AWS);

describe('read-only subtrees through the S3 gateway (awscli)', { skip: NO_AWS }, () => {
  let gw: ChildGateway;
  let env: Record<string, string>;
  const aws = (args: string[]) => run('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), tool('aws'), '--endpoint-url', gw.url, ...args], { timeoutMs: 120_000 });
  before(async () => {
    gw = await startChildGateway([], [ROOT_KEY]);
    const config = join(gw.t.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: gw.t.dir,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(gw.t.dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      AWS_MAX_ATTEMPTS: '1',
      AWS_ACCESS_KEY_ID: ROOT_KEY.accessKey,
      AWS_SECRET_ACCESS_KEY: ROOT_KEY.secret,
    };
    await writeFile(join(gw.t.dir, 'body'), 'hello');
    assert.equal((await aws(['s3', 'mb', 's3://bkt'])).code, 0);
    for (const key of ['ro/old', 'rw/x']) assert.equal((await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', key, '--body', join(gw.t.dir, 'body')])).code, 0);
  });
  after(() => gw?.close());

  it('PUT, DELETE and CompleteMultipartUpload into a read-only path answer 403 AccessDenied naming it', async () => {
    // Before the mark: a multipart upload with its part, to complete once the path is read-only.
    const create = await aws(['s3api', 'create-multipart-upload', '--bucket', 'bkt', '--key', 'ro/multi']);
    assert.equal(create.code, 0, create.stderr);
    const id = (JSON.parse(create.stdout) as { UploadId: string }).UploadId;
    const part = await aws(['s3api', 'upload-part', '--bucket', 'bkt', '--key', 'ro/multi', '--upload-id', id, '--part-number', '1', '--body', join(gw.t.dir, 'body')]);
    assert.equal(part.code, 0, part.stderr);
    const etag = (JSON.parse(part.stdout) as { ETag: string }).ETag;
    assert.equal((await ferry(['readonly', 'set', '--path', '/bkt/ro', gw.t.url])).code, 0);
    const put = () => aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'ro/new', '--body', join(gw.t.dir, 'body')]);
    // The gateway learns of the mark within its format refresh (2 s): a PUT before that still lands.
    let landedBefore = false;
    await until(async () => {
      const ok = (await put()).code === 0;
      landedBefore ||= ok;
      return !ok;
    }, 'the gateway to refuse the PUT', 20_000, 200);
    const r = await put();
    assert.match(r.stderr, /\(AccessDenied\) when calling the PutObject operation.*: read-only file system: \/bkt\/ro is read-only/);
    const del = await aws(['s3api', 'delete-object', '--bucket', 'bkt', '--key', 'ro/old']);
    assert.match(del.stderr, /\(AccessDenied\) when calling the DeleteObject operation.*: \/bkt\/ro is read-only/);
    const parts = join(gw.t.dir, 'parts.json');
    await writeFile(parts, JSON.stringify({ Parts: [{ ETag: etag, PartNumber: 1 }] }));
    const complete = await aws(['s3api', 'complete-multipart-upload', '--bucket', 'bkt', '--key', 'ro/multi', '--upload-id', id, '--multipart-upload', `file://${parts}`]);
    assert.match(complete.stderr, /\(AccessDenied\) when calling the CompleteMultipartUpload operation.*: \/bkt\/ro is read-only/);
    // Nothing changed inside; outside it writes go on; the refused upload can be aborted.
    const ls = await aws(['s3api', 'list-objects-v2', '--bucket', 'bkt', '--prefix', 'ro/']);
    assert.deepEqual((JSON.parse(ls.stdout) as { Contents: Array<{ Key: string }> }).Contents.map((c) => c.Key), landedBefore ? ['ro/new', 'ro/old'] : ['ro/old']);
    assert.equal((await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'rw/y', '--body', join(gw.t.dir, 'body')])).code, 0);
    assert.equal((await aws(['s3api', 'abort-multipart-upload', '--bucket', 'bkt', '--key', 'ro/multi', '--upload-id', id])).code, 0);
    assert.ok(existsSync(join(gw.t.dir, 'body')));
  });
});
