// `ferry sync` end to end, spawned as a user runs it: between a local directory, a FerryFS volume and S3
// (the Ceph RGW the CI starts) both ways, only what differs copied, times and modes kept, filters,
// --delete-dst, --update, --dry-run, --check-all, same-volume clones, and bad input in one line.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { MAIN, ferry, filesUnder, ok, oneLineError, tempDir, type Run } from './helpers/cli.js';
import { until } from './helpers/wait.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from './helpers/rgw.js';

const S3_ENV = { FERRY_S3_ENDPOINT: RGW_ENDPOINT, FERRY_ACCESS_KEY: RGW_ACCESS_KEY, FERRY_SECRET_KEY: RGW_SECRET_KEY };
const OLD = new Date('2021-03-04T05:06:07.123Z');

/** path -> "type mode mtime(ms) sha256" (symlinks: their target) for everything under root. */
async function snapshot(root: string, opts: { modes?: boolean; links?: boolean } = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const mode = opts.modes === false ? '' : (st.mode & 0o777).toString(8);
      if (st.isDirectory()) await walk(p, r);
      else if (st.isSymbolicLink()) {
        if (opts.links !== false) out.set(r, `link ${await readlink(p)}`);
      } else out.set(r, `file ${mode} ${Math.round(st.mtimeMs)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`);
    }
  };
  await walk(root, '');
  return out;
}

/** A small tree with modes, old times, a symlink, nested and empty directories. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'docs/deep/er'), { recursive: true });
  await mkdir(join(root, 'empty'), { recursive: true });
  await writeFile(join(root, 'readme.txt'), 'hello sync\n');
  await writeFile(join(root, 'docs/a.md'), '# a\n');
  await writeFile(join(root, 'docs/deep/er/b.bin'), Buffer.alloc(300_000, 7));
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'run.sh'), 0o750);
  await writeFile(join(root, 'docs/x.tmp'), 'scratch');
  await symlink('docs/a.md', join(root, 'link-to-a'));
  for (const f of ['readme.txt', 'docs/a.md', 'docs/deep/er/b.bin', 'run.sh', 'docs/x.tmp']) await utimes(join(root, f), OLD, OLD);
}

/** The summary's counts. */
function counts(r: Run): { copied: number; skipped: number; deleted: number; failed: number } {
  const n = (row: string) => Number(new RegExp(`^${row}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? NaN);
  return { copied: n('copied'), skipped: n('skipped'), deleted: n('deleted'), failed: n('failed') };
}

let work: string;
let vol: string;
const sync = (args: string[], env: Record<string, string> = {}) => ferry(work, ['sync', ...args], env);

before(async () => {
  work = await tempDir();
  vol = `sqlite3://${join(work, 'vol/meta.db')}`;
  ok(ferry(work, ['format', vol, 'syncvol']));
});

describe('ferry sync between a local directory and FerryFS', () => {
  it('copies a tree both ways keeping modes, times and symlinks; a second run copies nothing', async () => {
    const src = join(work, 'src1');
    await makeTree(src);
    const r = ok(sync([src, `${vol}:/data1`]));
    assert.deepEqual(counts(r), { copied: 6, skipped: 0, deleted: 0, failed: 0 });
    assert.match(r.stdout, /^copied\s+6\s+293 KiB$/m);
    assert.match(r.stdout, /4 directories created/);
    assert.deepEqual(counts(ok(sync([src, `${vol}:/data1`]))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });

    const back = join(work, 'back1');
    ok(sync([`${vol}:/data1`, back]));
    assert.deepEqual(await snapshot(back), await snapshot(src));
    assert.ok(existsSync(join(back, 'empty')), 'empty directories are synced');
    assert.equal(Math.round((await lstat(join(back, 'readme.txt'))).mtimeMs), OLD.getTime());
    assert.deepEqual(counts(ok(sync([`${vol}:/data1`, back]))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
  });

  it('copies a changed file again: another size, or another time', async () => {
    const src = join(work, 'src2');
    await makeTree(src);
    ok(sync([src, `${vol}:/data2`]));
    await writeFile(join(src, 'readme.txt'), 'a longer hello sync\n');
    await utimes(join(src, 'readme.txt'), OLD, OLD);
    await utimes(join(src, 'docs/a.md'), new Date(OLD.getTime() + 5000), new Date(OLD.getTime() + 5000));
    const r = ok(sync(['-v', src, `${vol}:/data2`]));
    assert.deepEqual(counts(r), { copied: 2, skipped: 4, deleted: 0, failed: 0 });
    assert.match(r.stdout, /^copy readme\.txt$/m);
    assert.match(r.stdout, /^copy docs\/a\.md$/m);
    const back = join(work, 'back2');
    ok(sync([`${vol}:/data2`, back]));
    assert.deepEqual(await snapshot(back), await snapshot(src));
  });

  it('--check-all finds a file with the same size and time but other bytes', async () => {
    const src = join(work, 'src3');
    await makeTree(src);
    const dst = join(work, 'dst3');
    ok(sync([src, dst]));
    // Same length, same time, one byte different: size + time cannot see it.
    await writeFile(join(dst, 'docs/a.md'), '# b\n');
    await utimes(join(dst, 'docs/a.md'), OLD, OLD);
    assert.deepEqual(counts(ok(sync([src, dst]))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
    assert.equal(await readFile(join(dst, 'docs/a.md'), 'utf8'), '# b\n');
    assert.deepEqual(counts(ok(sync(['--check-all', src, dst]))), { copied: 1, skipped: 5, deleted: 0, failed: 0 });
    assert.equal(await readFile(join(dst, 'docs/a.md'), 'utf8'), '# a\n');
    assert.deepEqual(counts(ok(sync(['--check-all', src, `${vol}:/data3`]))).copied, 6);
    assert.deepEqual(counts(ok(sync(['--check-all', src, `${vol}:/data3`]))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
  });

  it('--update keeps destination files that are newer', async () => {
    const src = join(work, 'src4');
    await makeTree(src);
    const dst = join(work, 'dst4');
    ok(sync([src, dst]));
    await writeFile(join(dst, 'readme.txt'), 'edited at the destination\n'); // now: newer than OLD
    await writeFile(join(src, 'docs/a.md'), '# a, edited at the source\n'); // newer than the copy
    const r = ok(sync(['--update', '-v', src, dst]));
    assert.deepEqual(counts(r), { copied: 1, skipped: 5, deleted: 0, failed: 0 });
    assert.equal(await readFile(join(dst, 'readme.txt'), 'utf8'), 'edited at the destination\n');
    assert.equal(await readFile(join(dst, 'docs/a.md'), 'utf8'), '# a, edited at the source\n');
    // Without --update the source wins.
    ok(sync([src, dst]));
    assert.equal(await readFile(join(dst, 'readme.txt'), 'utf8'), 'hello sync\n');
  });

  it('--delete-dst removes what the source lacks, except what the filters exclude', async () => {
    const src = join(work, 'src5');
    await makeTree(src);
    ok(sync([src, `${vol}:/data5`]));
    await rm(join(src, 'docs/deep'), { recursive: true });
    await rm(join(src, 'run.sh'));
    await rm(join(src, 'docs/x.tmp'));
    // x.tmp is excluded: kept at the destination although the source lost it.
    const r = ok(sync(['--delete-dst', '--exclude', '*.tmp', '-v', src, `${vol}:/data5`]));
    assert.deepEqual(counts(r), { copied: 0, skipped: 3, deleted: 4, failed: 0 });
    for (const k of ['run.sh', 'docs/deep/er/b.bin', 'docs/deep/er/', 'docs/deep/']) assert.match(r.stdout, new RegExp(`^delete ${k}$`, 'm'));
    const back = join(work, 'back5');
    ok(sync([`${vol}:/data5`, back]));
    assert.deepEqual([...(await snapshot(back)).keys()], ['docs/a.md', 'docs/x.tmp', 'link-to-a', 'readme.txt']);
    assert.ok(!existsSync(join(back, 'docs/deep')));
    // Without the filter it goes too.
    assert.equal(counts(ok(sync(['--delete-dst', src, `${vol}:/data5`]))).deleted, 1);
  });

  it('--exclude / --include: first match wins, an excluded directory is skipped whole', async () => {
    const src = join(work, 'src6');
    await mkdir(join(src, 'cache/sub'), { recursive: true });
    await mkdir(join(src, 'logs'), { recursive: true });
    for (const f of ['keep.tmp', 'drop.tmp', 'cache/a.txt', 'cache/sub/b.txt', 'logs/app.log', 'logs/debug.log', 'notes.txt']) await writeFile(join(src, f), f);
    const dst = join(work, 'dst6');
    ok(sync(['--include', 'keep.tmp', '--exclude', '*.tmp', '--exclude', 'cache/', '--exclude', '/logs/debug.*', src, dst]));
    assert.deepEqual([...(await snapshot(dst)).keys()], ['keep.tmp', 'logs/app.log', 'notes.txt']);
    // The other order: the exclude comes first and wins.
    const dst2 = join(work, 'dst6b');
    ok(sync(['--exclude', '*.tmp', '--include', 'keep.tmp', src, dst2]));
    assert.ok(!existsSync(join(dst2, 'keep.tmp')));
    assert.ok(existsSync(join(dst2, 'cache/sub/b.txt')));
  });

  it('--dry-run lists what it would do and changes nothing', async () => {
    const src = join(work, 'src7');
    await makeTree(src);
    const dst = join(work, 'dst7');
    const r = ok(sync(['--dry-run', src, dst]));
    assert.match(r.stdout, /^would copy readme\.txt$/m);
    assert.match(r.stdout, /^would copy docs\/deep\/er\/b\.bin$/m);
    assert.match(r.stdout, /^dry run \(nothing changed\)/m);
    assert.equal(counts(r).copied, 6);
    assert.ok(!existsSync(dst), 'a dry run does not even create the destination');
    ok(sync([src, dst]));
    await writeFile(join(dst, 'extra.txt'), 'x');
    const d = ok(sync(['--dry-run', '--delete-dst', src, dst]));
    assert.match(d.stdout, /^would delete extra\.txt$/m);
    assert.ok(existsSync(join(dst, 'extra.txt')));
    // FerryFS destination too.
    ok(sync(['--dry-run', src, `${vol}:/dry`]));
    assert.notEqual(ferry(work, ['stat', vol, '/dry']).code, 0);
  });

  it('clones between two paths of the same volume instead of copying', async () => {
    const src = join(work, 'src8');
    await makeTree(src);
    ok(sync([src, `${vol}:/orig`]));
    const r = ok(sync([`${vol}:/orig`, `${vol}:/copy`]));
    assert.match(r.stdout, /\(5 cloned: no data copied\)/);
    assert.equal(counts(r).copied, 6);
    assert.deepEqual(counts(ok(sync([`${vol}:/orig`, `${vol}:/copy`]))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
    // Independent copies: a later write to the source does not change the clone.
    ok(ferry(work, ['put', vol, join(src, 'run.sh'), '/orig/readme.txt']));
    const back = join(work, 'back8');
    ok(sync([`${vol}:/copy`, back]));
    assert.deepEqual(await snapshot(back), await snapshot(src));
  });

  it('a file that cannot be written is counted as failed and the exit code is 1', async () => {
    const src = join(work, 'src9');
    await makeTree(src);
    const dst = join(work, 'dst9');
    await mkdir(join(dst, 'readme.txt/in-the-way'), { recursive: true });
    const r = sync([src, dst]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^ferry: sync: cannot copy readme\.txt: /m);
    assert.match(r.stderr, /^ferry: sync: 1 file failed/m);
    assert.deepEqual(counts(r), { copied: 5, skipped: 0, deleted: 0, failed: 1 });
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  it('Ctrl-C leaves neither a partial or temporary file nor unreferenced blocks', { timeout: 180_000 }, async () => {
    const url = `sqlite3://${join(work, 'cut/meta.db')}`;
    ok(ferry(work, ['format', '--block-size', '64K', '--trash-days', '0', url, 'cut']));
    const src = join(work, 'srccut');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'small.txt'), 'kept\n');
    ok(sync([src, `${url}:/d`]));
    const chunks = join(work, 'cut', 'blocks', 'cut', 'chunks');
    const stored = async () => (await filesUnder(chunks)).length;
    assert.equal(await stored(), 1);
    // A big sparse file: far more to copy than the test waits for.
    await writeFile(join(src, 'big.bin'), '');
    await truncate(join(src, 'big.bin'), 4 * 2 ** 30);
    const child = spawn(process.execPath, [MAIN, 'sync', src, `${url}:/d`], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until(async () => (await stored()) > 20, 'sync uploading blocks', 120_000, 20);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.equal(stderr, '');
    assert.equal(ok(ferry(work, ['ls', url, '/d'])).stdout, 'small.txt\n', 'no big.bin and no temporary file');
    assert.equal(await stored(), 1, 'only the block of small.txt is left');
    assert.match(ok(ferry(work, ['status', url])).stdout, /^Sessions: 0$/m);
  });

  it('bad input is one clear line and a non-zero exit', async () => {
    oneLineError(sync(['foo://x/y', join(work, 'nowhere')]), 2, /SRC 'foo:\/\/x\/y' is not a local directory, s3:\/\/BUCKET/);
    oneLineError(sync([join(work, 'does-not-exist'), join(work, 'nowhere')]), 1, /sync source .*does-not-exist does not exist/);
    oneLineError(sync([`sqlite3://${join(work, 'none/meta.db')}:/x`, join(work, 'nowhere')]), 1, /no volume at sqlite3:/);
    oneLineError(sync([`${vol}:/no/such/dir`, join(work, 'nowhere')]), 1, /sync source \/no\/such\/dir does not exist/);
    oneLineError(sync(['--threads', '0', work, join(work, 'nowhere')]), 2, /--threads/);
    oneLineError(sync(['s3://Bad_Bucket/x', join(work, 'nowhere')], S3_ENV), 1, /invalid S3 storage URL/);
    oneLineError(sync(['s3://ferry-unreachable/x', join(work, 'nowhere')], { ...S3_ENV, FERRY_S3_ENDPOINT: 'http://127.0.0.1:1' }), 1, /cannot connect to S3 endpoint http:\/\/127\.0\.0\.1:1/);
    oneLineError(sync([join(work, 'src1'), join(work, 'src1/sub')]), 2, /DST .*src1\/sub is inside SRC/);
    oneLineError(sync([`${vol}:/data1`, `${vol}:/data1/again`]), 2, /is inside SRC/);
    assert.ok(!existsSync(join(work, 'nowhere')));
  });
});

describe('sync locations and filters', () => {
  it('META-URL:/PATH splits at the last ":/" after the scheme, keeping ports and passwords in the URL', async () => {
    const { parseFerryLocation } = await import('../src/sdk/sync/index.js');
    assert.deepEqual(parseFerryLocation('sqlite3://data/meta.db:/datasets/'), { metaUrl: 'sqlite3://data/meta.db', path: '/datasets' });
    assert.deepEqual(parseFerryLocation('redis://:pw@host:6379/1:/a/b'), { metaUrl: 'redis://:pw@host:6379/1', path: '/a/b' });
    assert.deepEqual(parseFerryLocation('postgres://u:p@db:5432/ferry'), { metaUrl: 'postgres://u:p@db:5432/ferry', path: '/' });
    assert.equal(parseFerryLocation('s3://bucket/x'), undefined);
    assert.equal(parseFerryLocation('./local:/dir'), undefined);
  });

  it('filters follow rsync: names at any depth, anchored paths, directories only, first match wins', async () => {
    const { Filter } = await import('../src/sdk/sync/filter.js');
    const f = new Filter([
      { include: true, pattern: 'keep.tmp' },
      { include: false, pattern: '*.tmp' },
      { include: false, pattern: 'build/' },
      { include: false, pattern: '/top.log' },
      { include: false, pattern: 'a/**/z.bin' },
      { include: false, pattern: 'x[0-9].dat' },
    ]);
    for (const k of ['d/e/f.tmp', 'f.tmp', 'build/', 'src/build/', 'src/build/out.o', 'top.log', 'a/b/c/z.bin', 'q/x7.dat']) assert.ok(f.excluded(k), k);
    for (const k of ['keep.tmp', 'd/keep.tmp', 'build', 'sub/top.log', 'a/z.bin2', 'q/xa.dat', 'src/main.c']) assert.ok(!f.excluded(k), k);
  });
});

describe('ferry sync with S3 (Ceph RGW)', () => {
  const buckets: string[] = [];
  before(requireRgw);
  after(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { S3Client, ListObjectsV2Command, DeleteObjectCommand, DeleteBucketCommand } = await import('@aws-sdk/client-s3');
    const c = new S3Client({ endpoint: RGW_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY } });
    for (const b of buckets) {
      const list = await c.send(new ListObjectsV2Command({ Bucket: b })).catch(() => undefined);
      for (const o of list?.Contents ?? []) await c.send(new DeleteObjectCommand({ Bucket: b, Key: o.Key }));
      await c.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
    }
    c.destroy();
  });
  const bucket = (tag: string) => {
    const b = rgwBucket(tag);
    buckets.push(b);
    return b;
  };

  it('local -> S3 -> local keeps contents, times and modes; a second run copies nothing', async () => {
    const src = join(work, 's3src1');
    await makeTree(src);
    const url = `s3://${bucket('sync')}/some/prefix`;
    const r = ok(sync([src, url], S3_ENV));
    assert.deepEqual(counts(r), { copied: 5, skipped: 1, deleted: 0, failed: 0 });
    assert.match(r.stderr, /^ferry: sync: symlinks are not copied to s3:\/\/.*, which has none$/m);
    assert.deepEqual(counts(ok(sync([src, url], S3_ENV))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
    const back = join(work, 's3back1');
    ok(sync([url, back], S3_ENV));
    assert.deepEqual(await snapshot(back), await snapshot(src, { links: false }));
    assert.deepEqual(counts(ok(sync([url, back], S3_ENV))), { copied: 0, skipped: 5, deleted: 0, failed: 0 });
    // Keys in the URL (user info) work as well as the environment.
    ok(sync([`s3://${RGW_ACCESS_KEY}:${RGW_SECRET_KEY}@${url.slice(5)}?endpoint=${RGW_ENDPOINT}`, join(work, 's3back1b')]));
    // --delete-dst and --exclude on S3.
    await rm(join(src, 'docs/deep'), { recursive: true });
    const d = ok(sync(['--delete-dst', '--exclude', 'readme.*', src, url], S3_ENV));
    assert.equal(counts(d).deleted, 1);
    ok(sync(['--delete-dst', url, back], S3_ENV));
    assert.ok(!existsSync(join(back, 'docs/deep')));
    assert.ok(existsSync(join(back, 'readme.txt')));
  });

  it('FerryFS -> S3 -> FerryFS, and --check-all on S3', async () => {
    const src = join(work, 's3src2');
    await makeTree(src);
    ok(sync([src, `${vol}:/tos3`]));
    const url = `s3://${bucket('sync')}`;
    assert.equal(counts(ok(sync([`${vol}:/tos3`, url], S3_ENV))).copied, 5);
    assert.deepEqual(counts(ok(sync([`${vol}:/tos3`, url], S3_ENV))), { copied: 0, skipped: 6, deleted: 0, failed: 0 });
    ok(sync([url, `${vol}:/froms3`], S3_ENV));
    assert.deepEqual(counts(ok(sync([url, `${vol}:/froms3`], S3_ENV))), { copied: 0, skipped: 5, deleted: 0, failed: 0 });
    const back = join(work, 's3back2');
    ok(sync([`${vol}:/froms3`, back]));
    assert.deepEqual(await snapshot(back), await snapshot(src, { links: false }));
    // Same size and time, other bytes, on the FerryFS side: only --check-all copies it back from S3.
    await writeFile(join(back, 'docs/a.md'), '# z\n');
    await utimes(join(back, 'docs/a.md'), OLD, OLD);
    assert.equal(counts(ok(sync([back, `${vol}:/froms3`]))).copied, 0);
    assert.equal(counts(ok(sync(['--check-all', back, `${vol}:/froms3`]))).copied, 1);
    assert.equal(counts(ok(sync([url, `${vol}:/froms3`], S3_ENV))).copied, 0);
    assert.equal(counts(ok(sync(['--check-all', url, `${vol}:/froms3`], S3_ENV))).copied, 1);
    assert.equal(ok(ferry(work, ['cat', vol, '/froms3/docs/a.md'])).stdout, '# a\n');
  });

  it('a file bigger than one part streams as a multipart upload; S3 -> S3', async () => {
    const src = join(work, 's3big');
    await mkdir(src, { recursive: true });
    const { randomBytes } = await import('node:crypto');
    const big = randomBytes(40 << 20); // three 16 MiB parts
    await writeFile(join(src, 'big.bin'), big);
    await writeFile(join(src, 'small.txt'), 'small');
    const a = `s3://${bucket('sync')}/a`;
    const b = `s3://${bucket('sync')}/b`;
    assert.equal(counts(ok(sync([src, a], S3_ENV))).copied, 2);
    assert.deepEqual(counts(ok(sync([a, b], S3_ENV))), { copied: 2, skipped: 0, deleted: 0, failed: 0 });
    assert.deepEqual(counts(ok(sync([a, b], S3_ENV))), { copied: 0, skipped: 2, deleted: 0, failed: 0 });
    ok(sync([b, `${vol}:/big`], S3_ENV));
    const back = join(work, 's3bigback');
    ok(sync([`${vol}:/big`, back]));
    assert.deepEqual(await snapshot(back), await snapshot(src));
  });

  it('--dry-run to a missing bucket lists the copies and creates nothing', async () => {
    const src = join(work, 's3dry');
    await makeTree(src);
    const name = bucket('dry');
    const r = ok(sync(['--dry-run', src, `s3://${name}/p`], S3_ENV));
    assert.match(r.stdout, /^would copy docs\/deep\/er\/b\.bin$/m);
    assert.equal(counts(r).copied, 5);
    oneLineError(sync([`s3://${name}/p`, join(work, 'nowhere')], S3_ENV), 1, /bucket ferry-dry-\w+ does not exist/);
  });

  it('a missing source bucket is one clear line', () => {
    oneLineError(sync([`s3://${rgwBucket('missing')}/x`, join(work, 'nowhere')], S3_ENV), 1, /bucket ferry-missing-\w+ does not exist/);
  });
});
