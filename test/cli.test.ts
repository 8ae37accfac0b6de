// The `ferry` command end to end, spawned as a user runs it (the built dist/src/cli/main.js): a volume's
// whole life on the embedded default, and every kind of user mistake giving one clear line and no stack.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ferry, filesUnder, ok, oneLineError, tempDir } from './helpers/cli.js';

const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Every regular file, directory and symlink under root, with contents, link targets and permission bits. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const mode = (st.mode & 0o777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `link ${await readlink(p)}`);
      else out.set(r, `file ${mode} ${(await readFile(p)).toString('base64')}`);
    }
  };
  await walk(root, '');
  return out;
}

describe('ferry basics', () => {
  it('--help starts fast and lists the commands', async (t) => {
    const cwd = await tempDir();
    ferry(cwd, ['--help']); // warm the file cache
    const r = ok(ferry(cwd, ['--help']));
    t.diagnostic(`ferry --help took ${r.ms.toFixed(0)} ms (target: well under 500 ms)`);
    for (const c of ['format', 'info', 'status', 'config', 'destroy', 'ls', 'cat', 'put', 'get', 'mkdir', 'rm', 'mv', 'stat']) {
      assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'));
    }
    assert.equal(r.stderr, '');
  });

  it('--version prints the package version', async () => {
    const r = ok(ferry(await tempDir(), ['--version']));
    assert.equal(r.stdout.trim(), `ferry ${PKG.version}`);
  });

  it('every command has --help with usage, description and an example', async () => {
    const cwd = await tempDir();
    for (const c of ['format', 'info', 'status', 'config', 'destroy', 'ls', 'cat', 'put', 'get', 'mkdir', 'rm', 'mv', 'stat']) {
      const r = ok(ferry(cwd, [c, '--help']));
      assert.match(r.stdout, new RegExp(`^Usage: ferry ${c} `));
      assert.match(r.stdout, /^Options:/m);
      assert.match(r.stdout, /^Examples?:\n  ferry /m);
      assert.equal(ok(ferry(cwd, ['help', c])).stdout, r.stdout);
    }
  });
});

describe('a volume on the embedded default, command by command', () => {
  let cwd: string;
  let local: string;
  const URL = 'sqlite3://ferry-data/meta.db';
  let blocks: string;
  let uuid: string;

  before(async () => {
    cwd = await tempDir();
    blocks = join(cwd, 'ferry-data', 'blocks');
    // A local tree: nested directories, an empty file and directory, a multi-block binary file, a symlink.
    local = join(cwd, 'tree');
    await mkdir(join(local, 'a', 'b', 'c'), { recursive: true });
    await mkdir(join(local, 'empty-dir'));
    await writeFile(join(local, 'hello.txt'), 'hello, ferry\n');
    await writeFile(join(local, 'empty'), '');
    await writeFile(join(local, 'a', 'b', 'c', 'big.bin'), randomBytes(1_000_000 + 123));
    await writeFile(join(local, 'a', 'notes.md'), '# notes\n'.repeat(1000));
    await writeFile(join(local, 'a', 'run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(join(local, 'a', 'run.sh'), 0o755);
    await symlink('a/notes.md', join(local, 'link-to-notes'));
  });

  it('format creates the volume with storage next to the database', () => {
    const r = ok(ferry(cwd, ['format', '--block-size', '64K', '--trash-days', '0', URL, 'demo']));
    assert.match(r.stdout, /^formatted volume 'demo' \(uuid [0-9a-f-]{36}\) at sqlite3:\/\/ferry-data\/meta\.db: storage file:\/\/\S+\/ferry-data\/blocks, block size 64K/);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.ok(existsSync(join(cwd, 'ferry-data', 'meta.db')));
    assert.ok(existsSync(blocks));
    uuid = /uuid ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
  });

  it('refuses to format an existing volume', () => {
    oneLineError(ferry(cwd, ['format', URL, 'demo']), 1, /already formatted.*--force/);
  });

  it('--force updates the volume and keeps its uuid; name and block size cannot change', () => {
    const r = ok(ferry(cwd, ['format', '--force', '--trash-days', '0', '--capacity', '1G', URL, 'demo']));
    assert.match(r.stdout, /^updated volume 'demo'/);
    assert.ok(r.stdout.includes(`uuid ${uuid}`));
    const st = JSON.parse(ok(ferry(cwd, ['status', '--json', URL])).stdout) as { setting: Record<string, unknown> };
    assert.equal(st.setting.uuid, uuid);
    assert.equal(st.setting.capacity, 1 << 30);
    assert.equal(st.setting.blockSize, 64 << 10);
    // Refusals that depend on the volume, not on the command line alone: exit 1.
    oneLineError(ferry(cwd, ['format', '--force', URL, 'other']), 1, /cannot change the name/);
    oneLineError(ferry(cwd, ['format', '--force', '--block-size', '1M', URL, 'demo']), 1, /cannot change the block size/);
  });

  it('put copies a directory tree in, and get copies it back byte-identical', async () => {
    const r = ok(ferry(cwd, ['put', URL, local, '/tree']));
    assert.match(r.stdout, /^put 5 files, 5 directories, 1 symlink: .* in .* \(.*\/s\) to \/tree\n$/);
    ok(ferry(cwd, ['get', URL, '/tree', join(cwd, 'back')]));
    assert.deepEqual(await snapshot(join(cwd, 'back')), await snapshot(local));
    // Into an existing directory: under its own name, like cp -r.
    await mkdir(join(cwd, 'into'));
    ok(ferry(cwd, ['get', URL, '/tree/a/b/c/big.bin', join(cwd, 'into')]));
    assert.ok((await readFile(join(cwd, 'into', 'big.bin'))).equals(await readFile(join(local, 'a', 'b', 'c', 'big.bin'))));
    // Several sources into a directory that put creates.
    const r2 = ok(ferry(cwd, ['put', URL, join(local, 'hello.txt'), join(local, 'empty'), '/several/']));
    assert.match(r2.stdout, /^put 2 files, 0 directories: 13 B/);
  });

  it('ls lists names, -l long rows, -R the whole tree', () => {
    assert.deepEqual(ok(ferry(cwd, ['ls', URL])).stdout, 'several\ntree\n');
    assert.deepEqual(ok(ferry(cwd, ['ls', URL, '/tree'])).stdout.split('\n').filter(Boolean), ['a', 'empty', 'empty-dir', 'hello.txt', 'link-to-notes']);
    const long = ok(ferry(cwd, ['ls', '-l', URL, '/tree'])).stdout;
    assert.match(long, /^drwxr-xr-x\s+\d+\s+\d+\s+\d+\s+\d+\s+\w{3}\s+\d+\s+[\d:]+\s+a$/m);
    assert.match(long, /^-rw-r--r--\s+1\s+\d+\s+\d+\s+13\s+.*\shello\.txt$/m);
    assert.match(long, /^lrwxrwxrwx\s+1\s.*\slink-to-notes -> a\/notes\.md$/m);
    const rec = ok(ferry(cwd, ['ls', '-R', URL, '/tree'])).stdout;
    assert.match(rec, /^\/tree:\n/);
    assert.match(rec, /^\/tree\/a\/b\/c:\nbig\.bin$/m);
    assert.match(ok(ferry(cwd, ['ls', URL, '/tree/hello.txt'])).stdout, /^\/tree\/hello\.txt\n$/);
  });

  it('cat prints files, one after the other', async () => {
    assert.equal(ok(ferry(cwd, ['cat', URL, '/tree/hello.txt'])).stdout, 'hello, ferry\n');
    const both = ok(ferry(cwd, ['cat', URL, '/tree/hello.txt', 'tree/a/notes.md'])).stdout;
    assert.equal(both, 'hello, ferry\n' + (await readFile(join(local, 'a', 'notes.md'), 'utf8')));
    oneLineError(ferry(cwd, ['cat', URL, '/tree/a']), 1, /EISDIR/);
  });

  it('mkdir -p creates parents; mkdir without -p needs them', () => {
    ok(ferry(cwd, ['mkdir', '-p', URL, '/x/y/z', '/x/w']));
    assert.equal(ok(ferry(cwd, ['ls', URL, '/x'])).stdout, 'w\ny\n');
    ok(ferry(cwd, ['mkdir', '-p', URL, '/x/y/z'])); // existing: fine with -p
    oneLineError(ferry(cwd, ['mkdir', URL, '/x/y/z']), 1, /EEXIST/);
    oneLineError(ferry(cwd, ['mkdir', URL, '/q/r']), 1, /ENOENT/);
  });

  it('mv renames, and moves into an existing directory', () => {
    ok(ferry(cwd, ['mv', URL, '/x/w', '/x/v']));
    ok(ferry(cwd, ['mv', URL, '/several/hello.txt', '/x']));
    assert.equal(ok(ferry(cwd, ['ls', URL, '/x'])).stdout, 'hello.txt\nv\ny\n');
    assert.equal(ok(ferry(cwd, ['cat', URL, '/x/hello.txt'])).stdout, 'hello, ferry\n');
    oneLineError(ferry(cwd, ['mv', URL, '/nope', '/x']), 1, /ENOENT.*'\/nope'/);
  });

  it('stat shows type, size, inode, mode and times', () => {
    const r = ok(ferry(cwd, ['stat', URL, '/tree/hello.txt', '/tree/link-to-notes']));
    assert.match(r.stdout, /File: \/tree\/hello\.txt\n\s+Size: 13\s.*regular file/);
    assert.match(r.stdout, /Access: \(0644\/-rw-r--r--\)/);
    assert.match(r.stdout, /File: \/tree\/link-to-notes -> a\/notes\.md/);
    assert.match(r.stdout, /Modify: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} UTC/);
    const j = JSON.parse(ok(ferry(cwd, ['stat', '--json', URL, '/tree/a/run.sh'])).stdout) as Record<string, unknown>;
    assert.equal(j.type, 'file');
    assert.equal(j.mode, '0755');
  });

  it('info of a file shows its chunks, slices and existing objects', async () => {
    const r = ok(ferry(cwd, ['info', URL, '/tree/a/b/c/big.bin']));
    assert.match(r.stdout, /^  type: file$/m);
    assert.match(r.stdout, /^  size: 1000123 /m);
    assert.match(r.stdout, /^  chunk 0 \(file offset 0\): 1 slice$/m);
    assert.match(r.stdout, /^    slice id=\d+ pos=0 size=1000123 off=0 len=1000123$/m);
    const keys = [...r.stdout.matchAll(/^      object (\S+) /gm)].map((m) => m[1]!);
    assert.equal(keys.length, Math.ceil(1_000_123 / 65536));
    for (const k of keys) {
      assert.match(k, /^demo\/chunks\/\d+\/\d+\/\d+_\d+_\d+$/);
      assert.ok(existsSync(join(blocks, k)), `object ${k} exists`);
    }
    const vol = ok(ferry(cwd, ['info', URL])).stdout;
    assert.match(vol, /^volume:\s+demo$/m);
    assert.ok(vol.includes(uuid));
    assert.match(vol, /^block size:\s+64K$/m);
    assert.match(ok(ferry(cwd, ['info', URL, '/tree/link-to-notes'])).stdout, /target: a\/notes\.md/);
  });

  it('rm removes files, and trees with -r, freeing their objects', async () => {
    const info = ok(ferry(cwd, ['info', URL, '/tree/a/b/c/big.bin'])).stdout;
    const keys = [...info.matchAll(/^      object (\S+) /gm)].map((m) => m[1]!);
    oneLineError(ferry(cwd, ['rm', URL, '/tree/a']), 1, /is a directory \(use -r\)/);
    ok(ferry(cwd, ['rm', URL, '/tree/empty']));
    ok(ferry(cwd, ['rm', '-r', URL, '/tree/a']));
    ok(ferry(cwd, ['rm', '-f', URL, '/tree/does-not-exist']));
    oneLineError(ferry(cwd, ['rm', URL, '/tree/does-not-exist']), 1, /ENOENT/);
    oneLineError(ferry(cwd, ['rm', '-r', URL, '/']), 2, /refusing to remove '\/'/);
    assert.equal(ok(ferry(cwd, ['ls', URL, '/tree'])).stdout, 'empty-dir\nhello.txt\nlink-to-notes\n');
    for (const k of keys) assert.ok(!existsSync(join(blocks, k)), `object ${k} was deleted`);
  });

  it('status shows the setting, sessions, usage and version', () => {
    const r = ok(ferry(cwd, ['status', URL]));
    assert.match(r.stdout, /^Setting:\n {2}name: +demo$/m);
    assert.match(r.stdout, /^Sessions: 0$/m, 'every command closed its session');
    assert.match(r.stdout, /^ {2}space: .* used/m);
    assert.match(r.stdout, /^ {2}inodes: \d+ used/m);
    assert.match(r.stdout, /^Version: \d+$/m);
    const j = JSON.parse(ok(ferry(cwd, ['status', '--json', URL])).stdout) as { version: number; usage: { usedInodes: number } };
    assert.ok(j.version > 0);
    assert.ok(j.usage.usedInodes > 5);
    assert.match(ok(ferry(cwd, ['status', '--clean', URL])).stdout, /^cleaned 0 stale sessions/);
  });

  it('config prints old -> new and asks --yes for a storage change', async () => {
    const r = ok(ferry(cwd, ['config', '--inodes', '100000', '--trash-days', '2', URL]));
    assert.equal(r.stdout, 'inodes: 0 (unlimited) -> 100000\ntrashDays: 0 -> 2\n');
    assert.equal(ok(ferry(cwd, ['config', '--inodes', '100000', URL])).stdout, "nothing changed in volume 'demo'\n");
    assert.match(ok(ferry(cwd, ['config', URL])).stdout, /^inodes: 100000$/m);
    const other = `file://${join(cwd, 'other-store')}`;
    oneLineError(ferry(cwd, ['config', '--storage', other, URL]), 2, /does not move its objects; pass --yes/);
    assert.equal(ok(ferry(cwd, ['config', '--storage', other, '--yes', URL])).stdout, `storage: file://${blocks} -> ${other}\n`);
    ok(ferry(cwd, ['config', '--storage', `file://${blocks}`, '--yes', URL]));
    oneLineError(ferry(cwd, ['config', '--capacity', 'lots', URL]), 2, /--capacity: 'lots' is not a size/);
    // POSIX ACLs: off unless asked for, on later, shown by info.
    assert.match(ok(ferry(cwd, ['info', URL])).stdout, /^ACLs: {8}off$/m);
    assert.equal(ok(ferry(cwd, ['config', '--acl', URL])).stdout, 'acl: false -> true\n');
    assert.match(ok(ferry(cwd, ['info', URL])).stdout, /^ACLs: {8}on$/m);
    assert.match(ok(ferry(cwd, ['format', '--force', URL, 'demo'])).stdout, /, POSIX ACLs/, '--force without --acl keeps them');
  });

  it('destroy refuses a wrong uuid and a missing --yes, then removes every object and the metadata', async () => {
    assert.ok((await filesUnder(blocks)).length > 0);
    oneLineError(ferry(cwd, ['destroy', '--yes', URL, '00000000-0000-0000-0000-000000000000']), 1, /does not match/);
    oneLineError(ferry(cwd, ['destroy', '--yes', URL, 'not-a-uuid']), 2, /'not-a-uuid' is not a uuid/);
    oneLineError(ferry(cwd, ['destroy', URL, uuid]), 2, /pass --yes/);
    // A live client (here an SDK volume in this process) shows in status and blocks destroy.
    const { Volume } = await import('../src/sdk/index.js');
    const vol = await Volume.open(`sqlite3://${join(cwd, 'ferry-data', 'meta.db')}`, { mountPoint: 'test-client', backgroundJobs: false });
    try {
      assert.match(ok(ferry(cwd, ['status', URL])).stdout, /^Sessions: 1\n.*\n\s+\d+\s+\S+\s+\S+\s+\d+\s+test-client\s.*ago\s+\S+\s+\S+\s+-$/m);
      oneLineError(ferry(cwd, ['destroy', '--yes', URL, uuid]), 1, /1 live session .*test-client.*--force/);
    } finally {
      await vol.close();
    }
    const r = ok(ferry(cwd, ['destroy', '--yes', URL, uuid]));
    assert.match(r.stdout, /^destroyed volume 'demo' \(uuid [0-9a-f-]+\): deleted \d+ objects/);
    assert.deepEqual(await filesUnder(blocks), []);
    oneLineError(ferry(cwd, ['status', URL]), 1, /no volume is formatted/);
    // The name can be used again.
    ok(ferry(cwd, ['format', URL, 'demo']));
  });
});

describe('user mistakes print one line and no stack', () => {
  let cwd: string;
  const URL = 'sqlite3://vol/meta.db';

  before(async () => {
    cwd = await tempDir();
    ok(ferry(cwd, ['format', URL, 'mistakes']));
    await writeFile(join(cwd, 'empty.db'), '');
    await writeFile(join(cwd, 'not-a-db.db'), 'just some text, not SQLite\n'.repeat(100));
  });

  it('bad metadata URL', () => oneLineError(ferry(cwd, ['status', 'not a url']), 2, /invalid metadata URL/));
  it('unknown metadata scheme', () => oneLineError(ferry(cwd, ['ls', 'foo://host/db']), 2, /unknown metadata engine 'foo'/));
  it('empty sqlite path', () => oneLineError(ferry(cwd, ['info', 'sqlite3://']), 1, /no database path/));
  it('missing volume (admin command)', () => oneLineError(ferry(cwd, ['status', 'sqlite3://nowhere/meta.db']), 1, /no volume at .*ferry format/));
  it('missing volume (file command)', () => oneLineError(ferry(cwd, ['ls', 'sqlite3://nowhere/meta.db']), 1, /no volume at .*ferry format/));
  it('missing volume does not create a database', () => assert.ok(!existsSync(join(cwd, 'nowhere'))));
  it('unformatted database (empty file)', () => oneLineError(ferry(cwd, ['info', 'sqlite3://empty.db']), 1, /no volume is formatted/));
  it('unformatted database (file command)', () => oneLineError(ferry(cwd, ['cat', 'sqlite3://empty.db', '/a']), 1, /no volume is formatted/));
  it('not a database', () => oneLineError(ferry(cwd, ['status', 'sqlite3://not-a-db.db']), 1, /not a FerryFS SQLite database/));
  it('bad flag', () => oneLineError(ferry(cwd, ['ls', '--bogus', URL]), 2, /unknown option '--bogus'/));
  it('flag missing its value', () => oneLineError(ferry(cwd, ['format', URL, 'x1', '--storage']), 2, /option '--storage' needs a value/));
  it('missing argument', () => oneLineError(ferry(cwd, ['format', URL]), 2, /missing NAME/));
  it('missing arguments of a file command', () => oneLineError(ferry(cwd, ['cat', URL]), 2, /missing PATH/));
  it('too many arguments', () => oneLineError(ferry(cwd, ['status', URL, 'extra']), 2, /too many arguments/));
  it('unknown command', () => oneLineError(ferry(cwd, ['frobnicate']), 2, /unknown command 'frobnicate'/));
  it('no command: a short usage on stderr, nothing on stdout', () => {
    const r = ferry(cwd, []);
    oneLineError(r, 2, /^ferry: usage: ferry COMMAND .*ferry --help/);
    assert.equal(r.stdout, '');
  });
  it('bad volume name', () => oneLineError(ferry(cwd, ['format', 'sqlite3://v2/meta.db', 'Bad_Name']), 2, /invalid volume name/));
  it('bad block size', () => oneLineError(ferry(cwd, ['format', '--block-size', '32M', 'sqlite3://v2/meta.db', 'good']), 2, /outside 64K\.\.16M/));
  it('unknown compression', () => oneLineError(ferry(cwd, ['format', '--compress', 'brotli', 'sqlite3://v2/meta.db', 'good']), 2, /not supported/));
  it('unknown storage scheme', () => oneLineError(ferry(cwd, ['format', '--storage', 'nope://x', 'sqlite3://v2/meta.db', 'good']), 2, /unknown object storage/));
  it('unusable storage', async () => {
    await writeFile(join(cwd, 'a-file'), 'x');
    oneLineError(ferry(cwd, ['format', '--storage', `file://${join(cwd, 'a-file')}/sub`, 'sqlite3://v3/meta.db', 'good']), 1, /object storage .* is not usable/);
  });
  it('nonexistent path: ls', () => oneLineError(ferry(cwd, ['ls', URL, '/nope']), 1, /ENOENT: no such file or directory, stat '\/nope'/));
  it('nonexistent path: cat', () => oneLineError(ferry(cwd, ['cat', URL, '/nope']), 1, /ENOENT.*'\/nope'/));
  it('nonexistent path: stat', () => oneLineError(ferry(cwd, ['stat', URL, '/a/b']), 1, /ENOENT.*'\/a\/b'/));
  it('nonexistent path: info', () => oneLineError(ferry(cwd, ['info', URL, '/nope']), 1, /ENOENT.*'\/nope'/));
  it('nonexistent path: get', () => oneLineError(ferry(cwd, ['get', URL, '/nope', join(cwd, 'out')]), 1, /ENOENT.*'\/nope'/));
  it('nonexistent local path: put', () => oneLineError(ferry(cwd, ['put', URL, join(cwd, 'nope'), '/x']), 1, /ENOENT.*nope/));
  it('the failed commands left no session behind', () => {
    assert.match(ok(ferry(cwd, ['status', URL])).stdout, /^Sessions: 0$/m);
  });
  it('FERRY_DEBUG=1 prints the stack', () => {
    const r = ferry(cwd, ['ls', URL, '/nope'], { FERRY_DEBUG: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\s+at /m);
  });
});
