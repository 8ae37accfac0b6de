// Directory quotas as users meet them, through the SDK, the CLI and a FUSE mount: the write() that crosses a
// quota fails with EDQUOT ("Disk quota exceeded") before its bytes are uploaded, what was written before it
// stays at the size stat shows, a commit refused by the metadata leaves no block behind, df on a quota'd
// directory (or a --subdir mount of it) shows the quota, and `ferry quota` sets, shows, checks and removes
// quotas with one clear line per mistake. (The metadata rules on every engine: test/suites/meta-quota-suite.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFsError } from '../src/errors.js';
import { rootContext } from '../src/meta/types.js';
import { CLI, formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { metaOf, storeBlocks, tempVolume, type TempVolume } from './helpers/volume.js';
import { until } from './helpers/wait.js';

const MiB = 1 << 20;
const ROOT = rootContext();
const ferry = (args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 120_000 });

/** A failure a user sees: the exit code and one line on stderr, no stack trace. */
function oneLine(r: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

describe('directory quotas through the SDK', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume({ blockSize: MiB });
    await t.v.mkdir('/team');
    await metaOf(t.v).quotaSet(ROOT, '/team', { capacity: 5 * MiB });
  });
  after(() => t.cleanup());

  it('the write() crossing the quota fails with EDQUOT before it is uploaded; the bytes before it are committed', async () => {
    // A client opened after the quota was set (others learn of it within seconds).
    const v = await t.open();
    const fh = await v.open('/team/stream', 'w');
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
    assert.ok(isFsError(err, 'EDQUOT'), `expected EDQUOT at a write, got ${String(err)}`);
    assert.equal(written, 5 * MiB);
    await fh.close();
    assert.equal((await v.stat('/team/stream')).size, written);
    // Nothing of the refused write reached the store: only the committed blocks are there.
    assert.equal((await storeBlocks(t.blocksDir!)).count, 5);
    const st = await t.v.statfs('/team');
    assert.equal(st.blocks * st.bsize, 5 * MiB);
    assert.equal(st.bavail, 0);
    await t.v.rm('/team/stream');
    await t.v.settle();
  });

  it('a commit another client beat to the last bytes fails with EDQUOT at close, and its blocks are deleted', async () => {
    const a = await t.open();
    const b = await t.open();
    const fa = await a.open('/team/a', 'w');
    await fa.write(Buffer.alloc(4096, 1), null, 4096, 0); // a has read the quota's room now
    await b.writeFile('/team/b', Buffer.alloc(3 * MiB, 2));
    await fa.write(Buffer.alloc(3 * MiB, 3), null, 3 * MiB, 4096);
    await assert.rejects(fa.close(), (e: unknown) => isFsError(e, 'EDQUOT'));
    assert.equal((await a.stat('/team/a')).size, 0);
    assert.equal((await b.stat('/team/b')).size, 3 * MiB);
    await until(async () => (await storeBlocks(t.blocksDir!)).count === 3, 'the refused slice blocks to be deleted', 10_000);
    assert.deepEqual((await metaOf(t.v).quotaGet(ROOT, '/team')).usedSpace, 3 * MiB);
    await b.rm('/team/b');
    await a.rm('/team/a');
  });
});

describe('ferry quota', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume();
    await t.v.mkdir('/team/sub', { recursive: true });
    await t.v.writeFile('/team/sub/f', Buffer.alloc(10_000));
    await t.v.writeFile('/file', 'x');
    await t.v.close();
  });
  after(() => t.cleanup());

  it('sets, shows, lists, checks and deletes quotas', async () => {
    const set = await ferry(['quota', 'set', t.url, '--path', 'team', '--capacity', '1M', '--inodes', '100']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^PATH\s+CAPACITY\s+USED\s+USE%\s+INODES\s+IUSED\s+IUSE%\n\/team\s+1 MiB\s+16\.0 KiB\s+2%\s+100\s+2\s+2%\n$/);
    const get = await ferry(['quota', 'get', t.url, '--path', '/team', '--json']);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), { path: '/team', inode: JSON.parse(get.stdout).inode, capacity: MiB, inodes: 100, usedSpace: 16384, usedInodes: 2 });
    assert.equal((await ferry(['quota', 'set', t.url, '--path', '/', '--inodes', '1000'])).code, 0);
    const list = await ferry(['quota', 'list', t.url]);
    assert.deepEqual(list.stdout.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[0]), ['/', '/team']);
    const check = await ferry(['quota', 'check', t.url]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^\/team\s+16\.0 KiB\s+16\.0 KiB\s+2\s+2\s+ok$/m);
    assert.equal((await ferry(['quota', 'delete', t.url, '--path', '/team'])).stdout, 'removed the quota of /team\n');
    oneLine(await ferry(['quota', 'get', t.url, '--path', '/team']), 1, /^ferry: \/team has no quota$/);
  });

  it('answers each mistake with one line: exit 2 for the command line, 1 for the volume', async () => {
    oneLine(await ferry(['quota', 'set', t.url, '--capacity', '1G']), 2, /quota set needs --path DIR/);
    oneLine(await ferry(['quota', 'set', t.url, '--path', '/team']), 2, /quota set needs --capacity SIZE, --inodes N or both/);
    oneLine(await ferry(['quota', 'set', t.url, '--path', '/team', '--capacity', 'lots']), 2, /--capacity: 'lots' is not a size/);
    oneLine(await ferry(['quota', 'set', t.url, '--path', '/team', '--inodes=-1']), 2, /--inodes: '-1' is negative/);
    oneLine(await ferry(['quota', 'get', t.url, '--path', '/team', '--capacity', '1G']), 2, /--capacity and --inodes are options of quota set/);
    oneLine(await ferry(['quota', 'grow', t.url]), 2, /unknown action 'grow'/);
    oneLine(await ferry(['quota', 'set', t.url, '--path', '/nope', '--inodes', '1']), 1, /^ferry: \/nope: no such directory$/);
    oneLine(await ferry(['quota', 'set', t.url, '--path', '/file', '--inodes', '1']), 1, /^ferry: \/file is not a directory$/);
    oneLine(await ferry(['quota', 'list', `sqlite3://${join(t.dir, 'missing.db')}`]), 1, /no volume|does not exist|not formatted/);
  });

  it('check exits 1 on drift and --repair sets it right', async () => {
    assert.equal((await ferry(['quota', 'set', t.url, '--path', '/team', '--inodes', '100'])).code, 0);
    // A client that does not know of the quota (its record edited behind it) writes under it.
    const v = await t.open();
    const m = metaOf(v);
    const saved = (await m.load()).quotas!;
    await m.updateFormat({ quotas: {} });
    await v.writeFile('/team/unseen', Buffer.alloc(5000));
    await m.updateFormat({ quotas: saved });
    await v.close();
    const check = await ferry(['quota', 'check', t.url, '--path', '/team']);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^\/team\s+16\.0 KiB\s+24\.0 KiB\s+2\s+3\s+drift$/m);
    assert.match(check.stderr, /^ferry: 1 quota drifted \(\/team\): run with --repair\n$/);
    const repair = await ferry(['quota', 'check', t.url, '--repair']);
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /^\/team\s+16\.0 KiB\s+24\.0 KiB\s+2\s+3\s+repaired$/m);
    assert.equal((await ferry(['quota', 'check', t.url])).code, 0);
  });
});

describe('directory quotas through a FUSE mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;
  let sub: TestMount;
  let big: string;
  before(async () => {
    vol = await formatVolume();
    big = join(vol.dir, 'big');
    await writeFile(big, randomBytes(20 * MiB));
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
    await mkdir(join(m.mp, 'team'));
    const set = await ferry(['quota', 'set', vol.url, '--path', '/team', '--capacity', '10M', '--inodes', '50']);
    assert.equal(set.code, 0, set.stderr);
    sub = await mountFerry(vol.url, join(vol.dir, 'sub'), ['--subdir', 'team']);
  });
  after(async () => {
    await sub?.unmount();
    await m?.unmount();
    await vol?.cleanup();
  });

  /** df -P's size and available 1K blocks, and df -i's inode count, of a path. */
  async function df(path: string): Promise<{ size: number; avail: number; inodes: number }> {
    const [p, i] = [await run('df', ['-P', path]), await run('df', ['-i', path])];
    assert.equal(p.code, 0, p.stderr);
    const f = p.stdout.trim().split('\n')[1]!.split(/\s+/);
    return { size: Number(f[1]), avail: Number(f[3]), inodes: Number(i.stdout.trim().split('\n')[1]!.split(/\s+/)[1]) };
  }

  it('df on the quota\'d directory, and on a --subdir mount of it, shows the quota', async () => {
    // The mount learns of a quota set after it started within seconds (it reads the format again).
    await until(async () => (await df(join(m.mp, 'team'))).size === 10 * 1024, 'the mount to see the quota', 20_000);
    assert.equal((await df(join(m.mp, 'team'))).inodes, 50);
    assert.deepEqual(await df(sub.mp), await df(join(m.mp, 'team')));
    assert.notEqual((await df(m.mp)).size, 10 * 1024, 'the volume is not the quota');
  });

  it('dd over the quota fails with "Disk quota exceeded" at the write, leaving the bytes before it', async () => {
    const dd = await run('dd', [`if=${big}`, `of=${join(sub.mp, 'dd')}`, 'bs=1M']);
    assert.notEqual(dd.code, 0);
    assert.match(dd.stderr, /error writing .*: Disk quota exceeded/);
    const size = (await stat(join(sub.mp, 'dd'))).size;
    assert.ok(size >= 5 * MiB && size <= 10 * MiB, `${size} bytes`);
    assert.ok((await df(sub.mp)).avail < 1024);
    // The store holds the committed data and nothing else (block trailers: a few bytes each).
    const b = await storeBlocks(join(vol.dir, 'blocks'));
    assert.ok(b.bytes <= size + 4096, `${b.bytes} bytes of blocks for ${size} bytes of files`);
    assert.doesNotMatch(m.output() + sub.output(), /^\s+at /m);
    const rm = await run('rm', [join(sub.mp, 'dd')]);
    assert.equal(rm.code, 0, rm.stderr);
    await until(async () => (await df(sub.mp)).avail > 9 * 1024, 'the space to be back', 20_000);
  });

  it('creating past --inodes fails with "Disk quota exceeded"', async () => {
    const touch = await run('sh', ['-c', `for i in $(seq 1 60); do touch "${sub.mp}/f$i" || exit 3; done`]);
    assert.equal(touch.code, 3, touch.stderr);
    assert.match(touch.stderr, /Disk quota exceeded/);
    assert.match((await run('mkdir', [join(sub.mp, 'one-more')])).stderr, /Disk quota exceeded/);
    // Outside the quota nothing is refused.
    assert.equal((await run('touch', [join(m.mp, 'outside')])).code, 0);
  });
});
