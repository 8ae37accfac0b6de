// The `ferry` command behaving the same way everywhere (issue 18 item 9), spawned as a user runs it: exit
// code 2 exactly for a wrong command line, values named in errors, usage and help, info and status showing
// what the volume is, put/get -p, Ctrl-C during put, objbench cleaning up, and local vs volume paths.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cacheServe } from './helpers/cache.js';
import { MAIN, ferry, filesUnder, ok, oneLineError, tempDir } from './helpers/cli.js';
import { until } from './helpers/wait.js';

const URL = 'sqlite3://ferry-data/meta.db';

describe('exit code 2 exactly for a wrong command line', () => {
  let cwd: string;
  let uuid: string;

  before(async () => {
    cwd = await tempDir();
    uuid = /uuid ([0-9a-f-]{36})/.exec(ok(ferry(cwd, ['format', URL, 'codes'])).stdout)![1]!;
  });

  it('a malformed or unknown URL is a wrong command line, wherever it stands', () => {
    oneLineError(ferry(cwd, ['ls', 'not a url']), 2, /invalid metadata URL 'not a url'/);
    oneLineError(ferry(cwd, ['info', 'nosuch://db']), 2, /unknown metadata engine 'nosuch'.*known: .*sqlite3/);
    oneLineError(ferry(cwd, ['mirror', 'create', URL, 'nosuch://mirror']), 2, /unknown metadata engine 'nosuch'/);
    oneLineError(ferry(cwd, ['gateway', 'keys', 'list', 'nosuch://db']), 2, /unknown metadata engine 'nosuch'/);
    oneLineError(ferry(cwd, ['objbench', 'nosuch://bucket']), 2, /unknown object storage 'nosuch:\/\/bucket'/);
    oneLineError(ferry(cwd, ['config', '--storage', 'nosuch://x', URL]), 2, /unknown object storage/);
  });

  it('what depends on the volume is exit 1: a wrong uuid, a missing volume, a refused change', () => {
    oneLineError(ferry(cwd, ['destroy', '--yes', URL, '00000000-0000-0000-0000-000000000000']), 1, /does not match volume 'codes'/);
    oneLineError(ferry(cwd, ['status', 'sqlite3://nowhere/meta.db']), 1, /no volume at/);
    oneLineError(ferry(cwd, ['format', '--force', URL, 'renamed']), 1, /cannot change the name/);
    assert.match(ok(ferry(cwd, ['status', URL])).stdout, new RegExp(uuid));
  });

  it('a negative number gets a message about the value', () => {
    oneLineError(ferry(cwd, ['format', '--capacity', '-5', 'sqlite3://neg/meta.db', 'neg']), 2, /--capacity: '-5' is negative/);
    oneLineError(ferry(cwd, ['format', '--trash-days', '-1', 'sqlite3://neg/meta.db', 'neg']), 2, /--trash-days: '-1' is negative/);
    oneLineError(ferry(cwd, ['objbench', '-p', '-2', join(cwd, 'bench')]), 2, /--threads: '-2' is negative/);
    oneLineError(ferry(cwd, ['mount', '--cache-size', '-1G', URL, join(cwd, 'mnt')]), 2, /--cache-size: '-1G' is negative/);
    assert.ok(!existsSync(join(cwd, 'neg')));
  });

  it('a value starting with a dash that is not a number says how to give it', () => {
    oneLineError(ferry(cwd, ['format', '--storage', '-odd', 'sqlite3://neg/meta.db', 'neg']), 2, /'--storage' needs a value; .*--storage=VALUE/);
  });

  it('block sizes are powers of two; --replicas is at least 1', () => {
    oneLineError(ferry(cwd, ['format', '--block-size', '100K', 'sqlite3://bs/meta.db', 'bsz']), 2, /--block-size: '100K' is not a power of two/);
    oneLineError(ferry(cwd, ['mount', '--cache-group', 'g', '--replicas', '0', URL, join(cwd, 'mnt')]), 2, /--replicas: '0' is too small \(at least 1\)/);
    assert.ok(!existsSync(join(cwd, 'bs')));
    ok(ferry(cwd, ['format', '--block-size', '128K', 'sqlite3://bs/meta.db', 'bsz']));
  });
});

describe('usage and help', () => {
  it('ferry with no arguments prints a short usage on stderr and exits 2', async () => {
    const r = ferry(await tempDir(), []);
    oneLineError(r, 2, /usage: ferry COMMAND/);
    assert.equal(r.stdout, '');
  });

  it('the main help lists every URL scheme the registries know', async () => {
    const help = ok(ferry(await tempDir(), ['--help'])).stdout;
    const { metaSchemes } = await import('../src/meta/index.js');
    const { objectSchemes } = await import('../src/object/index.js');
    for (const s of ['sqlite3', 'ferry', 'postgres', 'mysql', 'redis', ...metaSchemes()]) assert.match(help, new RegExp(`^Metadata URLs: .*\\b${s}://`, 'm'), s);
    for (const s of ['file', 's3', ...objectSchemes()]) assert.match(help, new RegExp(`^Object storage: .*\\b${s}://`, 'm'), s);
  });
});

describe('info and status show what the volume is', () => {
  let cwd: string;
  const SRC = 'sqlite3://src.db';

  before(async () => {
    cwd = await tempDir();
    await writeFile(join(cwd, 'key'), 'a key file for the test\n');
    ok(ferry(cwd, ['format', '--compress', 'lz4', '--shards', '2', '--encrypt-key-file', 'key', '--storage', join(cwd, 'store'), SRC, 'shown']));
  });

  it('ferry info shows checksum, compression, encryption and shards', () => {
    const r = ok(ferry(cwd, ['info', SRC])).stdout;
    assert.match(r, /^compression: +lz4$/m);
    assert.match(r, /^checksum: +crc32c$/m);
    assert.match(r, new RegExp(`^encryption: +aes-256-gcm, key file ${join(cwd, 'key')}$`, 'm'));
    assert.match(r, /^shards: +2$/m);
  });

  it('ferry status is a readable table with mirrors and cache groups; --json has them too', async () => {
    ok(ferry(cwd, ['mirror', 'create', SRC, 'sqlite3://mir.db']));
    const member = await cacheServe(`sqlite3://${join(cwd, 'src.db')}`, ['--cache-group', 'blue', '--listen', '127.0.0.1:0', '--cache-dir', join(cwd, 'cache')]);
    try {
      const r = ok(ferry(cwd, ['status', SRC])).stdout;
      assert.doesNotMatch(r, /[{}]/, 'no JSON by default');
      assert.match(r, /^Setting:\n {2}name: +shown$/m);
      assert.match(r, /^ {2}compression: +lz4$/m);
      assert.match(r, /^ {2}encryption: +aes-256-gcm$/m);
      assert.match(r, /^ {2}shards: +2$/m);
      assert.match(r, /^Mirrors: 1\n {2}ID +URL +APPLIED +BEHIND +LAST APPLIED +STATE\n {2}\S+ +sqlite3:\/\/\S*mir\.db +\d+ +\d+ .* ok$/m);
      assert.match(r, new RegExp(`^Cache groups: 1\\n {2}GROUP +MEMBERS +ADDRESSES\\n {2}blue +1 +${member.address.replace(/\./g, '\\.')}$`, 'm'));
      const j = JSON.parse(ok(ferry(cwd, ['status', '--json', SRC])).stdout) as { mirrors: Record<string, { url: string }>; cacheGroups: Array<{ name: string; members: Array<{ address: string }> }> };
      assert.equal(Object.values(j.mirrors).length, 1);
      assert.deepEqual(j.cacheGroups.map((g) => [g.name, g.members.map((m) => m.address)]), [['blue', [member.address]]]);
    } finally {
      await member.stop();
    }
  });
});

describe('put and get', () => {
  let cwd: string;
  let local: string;
  const when = new Date('2001-02-03T04:05:06.789Z');
  const older = new Date('1999-12-31T23:59:58.5Z');

  before(async () => {
    cwd = await tempDir();
    ok(ferry(cwd, ['format', URL, 'copies']));
    local = join(cwd, 'tree');
    await mkdir(join(local, 'ro', 'private'), { recursive: true });
    await writeFile(join(local, 'ro', 'private', 'a.txt'), 'a\n');
    await writeFile(join(local, 'ro', 'b.txt'), 'b\n');
    await utimes(join(local, 'ro', 'private', 'a.txt'), older, when);
    await utimes(join(local, 'ro', 'b.txt'), older, older);
    await chmod(join(local, 'ro', 'private'), 0o700);
    await utimes(join(local, 'ro', 'private'), older, when);
    await chmod(join(local, 'ro'), 0o555);
    await utimes(join(local, 'ro'), older, older);
  });

  it('put -p and get -p keep modification times and directory modes', async () => {
    ok(ferry(cwd, ['put', '-p', URL, join(local, 'ro'), '/ro']));
    const st = (p: string) => JSON.parse(ok(ferry(cwd, ['stat', '--json', URL, p])).stdout) as { mode: string; mtime: string };
    assert.equal(st('/ro').mode, '0555');
    assert.equal(st('/ro/private').mode, '0700');
    assert.equal(new Date(st('/ro/private/a.txt').mtime).getTime(), when.getTime());
    assert.equal(new Date(st('/ro/private').mtime).getTime(), when.getTime(), "a directory's mtime is set after its entries");
    assert.equal(new Date(st('/ro').mtime).getTime(), older.getTime());

    ok(ferry(cwd, ['get', '-p', URL, '/ro', join(cwd, 'back')]));
    const back = join(cwd, 'back');
    assert.equal((await stat(back)).mode & 0o7777, 0o555);
    assert.equal((await stat(join(back, 'private'))).mode & 0o7777, 0o700);
    assert.equal((await stat(join(back, 'private', 'a.txt'))).mtime.getTime(), when.getTime());
    assert.equal((await stat(join(back, 'b.txt'))).mtime.getTime(), older.getTime());
    assert.equal((await stat(join(back, 'private'))).mtime.getTime(), when.getTime());
    assert.equal((await stat(back)).mtime.getTime(), older.getTime());
    await chmod(back, 0o755);
  });

  it('without -p, a read-only directory still gets its entries and keeps its mode (as a user root is not)', async () => {
    // Everything as nobody: the tree, the volume (its root is the formatting user's) and the copies.
    const nobody = { uid: 65534, gid: 65534 };
    const home = await tempDir();
    await mkdir(join(home, 'ro', 'sub'), { recursive: true });
    await writeFile(join(home, 'ro', 'sub', 'c.txt'), 'c\n');
    await chmod(join(home, 'ro'), 0o555);
    await chown(home, nobody.uid, nobody.gid);
    for (const p of ['ro', 'ro/sub', 'ro/sub/c.txt']) await chown(join(home, p), nobody.uid, nobody.gid);
    const as = (args: string[]) => ok(ferry(home, args, {}, nobody));
    as(['format', URL, 'users']);
    as(['put', URL, join(home, 'ro'), '/ro']);
    assert.equal(as(['ls', '-R', URL, '/ro']).stdout, '/ro:\nsub\n\n/ro/sub:\nc.txt\n');
    assert.match(as(['stat', URL, '/ro']).stdout, /Access: \(0555\//);
    as(['get', URL, '/ro', join(home, 'back')]);
    assert.deepEqual(await readdir(join(home, 'back', 'sub')), ['c.txt']);
    assert.equal((await stat(join(home, 'back'))).mode & 0o7777, 0o555);
    await chmod(join(home, 'back'), 0o755);
    await chmod(join(home, 'ro'), 0o755);
  });

  it('errors say whether a path is local or in the volume', () => {
    oneLineError(ferry(cwd, ['put', URL, join(cwd, 'missing'), '/x']), 1, /ENOENT: .*'.*missing' \(local\)$/);
    oneLineError(ferry(cwd, ['get', URL, '/missing', join(cwd, 'x')]), 1, /ENOENT: .*'\/missing' \(in the volume\)$/);
    oneLineError(ferry(cwd, ['cat', URL, '/missing']), 1, /'\/missing' \(in the volume\)$/);
    oneLineError(ferry(cwd, ['get', URL, '/ro/b.txt', join(cwd, 'no-dir', 'b.txt')]), 1, /ENOENT: .*no-dir\/b\.txt' \(local\)$/);
  });

  it('Ctrl-C during put of a large file leaves neither a partial file nor unreferenced blocks', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    ok(ferry(dir, ['format', '--block-size', '64K', URL, 'cut']));
    await writeFile(join(dir, 'small.txt'), 'kept\n');
    ok(ferry(dir, ['put', URL, join(dir, 'small.txt'), '/small.txt']));
    const keys = (path: string) => [...ok(ferry(dir, ['info', URL, path])).stdout.matchAll(/^ {6}object (\S+) /gm)].map((m) => m[1]!);
    const referenced = keys('/small.txt');
    assert.equal(referenced.length, 1);
    const chunks = join(dir, 'ferry-data', 'blocks', 'cut', 'chunks');
    const stored = async () => (await filesUnder(chunks)).map((f) => `cut/chunks/${f.slice(chunks.length + 1)}`).sort();
    assert.deepEqual(await stored(), referenced);

    // A big sparse file: far more to upload than the test waits for.
    await writeFile(join(dir, 'big.bin'), '');
    await truncate(join(dir, 'big.bin'), 4 * 2 ** 30);
    const child = spawn(process.execPath, [MAIN, 'put', URL, join(dir, 'big.bin'), '/big.bin'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until(async () => (await stored()).length > 20, 'put uploading blocks', 60_000, 20);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.equal(stderr, '');
    assert.equal(ok(ferry(dir, ['ls', URL, '/'])).stdout, 'small.txt\n', 'no big.bin and no temporary file');
    assert.deepEqual(await stored(), referenced, 'only the blocks of small.txt are left');
    assert.match(ok(ferry(dir, ['status', URL])).stdout, /^Sessions: 0$/m);
  });
});

describe('ferry objbench DIR', () => {
  it('leaves nothing behind: not its objects, not its directories', async () => {
    const cwd = await tempDir();
    ok(ferry(cwd, ['objbench', '--count', '3', '--block-size', '4K', join(cwd, 'new', 'store')]));
    assert.deepEqual(await readdir(cwd), []);
    await mkdir(join(cwd, 'existing'));
    await writeFile(join(cwd, 'existing', 'mine'), 'x');
    ok(ferry(cwd, ['objbench', '--count', '3', '--block-size', '4K', `file://${join(cwd, 'existing')}`]));
    assert.deepEqual(await readdir(join(cwd, 'existing')), ['mine']);
  });
});
