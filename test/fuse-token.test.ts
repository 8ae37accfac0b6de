// A FUSE mount with a scoped key's token (`ferry mount --token-file`, `-o token_file=`): real mounts served by
// child daemons. Every request acts as the key: its subdir is the mount's root, a read-only key changes
// nothing, an append-only key adds and appends but never truncates, overwrites, renames or deletes, and
// symlinks pointing out of the scope resolve inside the volume only as the host resolves them (never into
// the volume outside the scope). An expired token is refused at mount time with one clear line.
import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, open, readdir, readFile, rename, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';

const SECRET = 'mount-token-secret-0123';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'ok';
}

describe('FUSE: ferry mount --token-file (scoped keys)', fuseTestOptions(), () => {
  let vol: TestVolume;
  let whole: TestMount;
  const mounts: TestMount[] = [];

  const key = async (id: string, ...flags: string[]) => {
    const r = await run(process.execPath, [CLI, 'gateway', 'keys', 'add', vol.url, '--uid', '1001', '--gid', '1001', '--access-key', id, '--secret-key', SECRET, ...flags]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(vol.dir, `${id}.token`);
    await writeFile(file, `${id}:${SECRET}\n`, { mode: 0o600 });
    return file;
  };
  const mountWith = async (name: string, args: string[]) => {
    const m = await mountFerry(vol.url, join(vol.dir, name), ['--attr-cache', '0', '--entry-cache', '0', ...args]);
    mounts.push(m);
    return m;
  };

  before(async () => {
    vol = await formatVolume();
    whole = await mountFerry(vol.url, join(vol.dir, 'whole'), ['--attr-cache', '0', '--entry-cache', '0']);
    await mkdir(join(whole.mp, 'team-a/data'), { recursive: true });
    await mkdir(join(whole.mp, 'team-b'), { recursive: true });
    await writeFile(join(whole.mp, 'team-a/data/hello.txt'), 'hello');
    await writeFile(join(whole.mp, 'team-b/secret.txt'), 'team-b secret');
    await chmod(join(whole.mp, 'team-b/secret.txt'), 0o666);
    await symlink('../../team-b/secret.txt', join(whole.mp, 'team-a/data/rel-link'));
    await run('chown', ['-R', '1001:1001', join(whole.mp, 'team-a')]);
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    await whole?.unmount();
    await vol?.cleanup();
  });

  test('a subdir token: its directory is the root, outside names do not exist, files are the key\'s', async () => {
    const m = await mountWith('rw', ['--token-file', await key('RWKEY', '--subdir', '/team-a')]);
    assert.deepEqual(await readdir(m.mp), ['data']);
    assert.equal(await readFile(join(m.mp, 'data/hello.txt'), 'utf8'), 'hello');
    assert.equal(await code(readFile(join(m.mp, 'team-b/secret.txt'))), 'ENOENT');
    // The relative link climbs past the mount's root into the host's directory, never into /team-b of the volume.
    assert.equal(await code(readFile(join(m.mp, 'data/rel-link'))), 'ENOENT');
    await writeFile(join(m.mp, 'data/new.txt'), 'new');
    const st = await run('stat', ['-c', '%u:%g', join(whole.mp, 'team-a/data/new.txt')]);
    assert.equal(st.stdout.trim(), '1001:1001', 'every request acts as the key');
    assert.equal(await readFile(join(whole.mp, 'team-b/secret.txt'), 'utf8'), 'team-b secret');
  });

  test('a read-only token (-o token_file=) changes nothing', async () => {
    const m = await mountWith('ro', ['-o', `token_file=${await key('ROKEY', '--subdir', '/team-a', '--read-only')}`]);
    assert.equal(await readFile(join(m.mp, 'data/hello.txt'), 'utf8'), 'hello');
    assert.equal(await code(writeFile(join(m.mp, 'data/x'), 'x')), 'EACCES');
    assert.equal(await code(writeFile(join(m.mp, 'data/hello.txt'), 'x')), 'EACCES');
    assert.equal(await code(unlink(join(m.mp, 'data/hello.txt'))), 'EACCES');
    assert.equal(await code(mkdir(join(m.mp, 'data/d'))), 'EACCES');
    assert.equal(await readFile(join(whole.mp, 'team-a/data/hello.txt'), 'utf8'), 'hello');
  });

  test('an append-only token: new files and appends, no truncate, overwrite, rename or delete', async () => {
    const m = await mountWith('append', ['--token-file', await key('APKEY', '--subdir', '/team-a', '--append-only')]);
    const f = join(m.mp, 'data/out.log');
    await writeFile(f, 'one\n');
    await appendFile(f, 'two\n');
    assert.equal(await readFile(f, 'utf8'), 'one\ntwo\n');
    assert.equal(await code(writeFile(f, 'gone')), 'EPERM', 'O_TRUNC');
    assert.equal(await code(truncate(f, 1)), 'EPERM');
    assert.equal(await code(unlink(f)), 'EPERM');
    assert.equal(await code(rename(f, join(m.mp, 'data/moved'))), 'EPERM');
    assert.equal(await code(rename(join(m.mp, 'data/hello.txt'), f)), 'EPERM', 'rename over');
    assert.equal(await code(rm(join(m.mp, 'data'), { recursive: true })), 'EPERM');
    const fh = await open(f, 'r+');
    try {
      assert.equal(await code(fh.write('XX', 0)), 'EPERM', 'no write below the end');
    } finally {
      await fh.close();
    }
    assert.equal(await readFile(join(whole.mp, 'team-a/data/out.log'), 'utf8'), 'one\ntwo\n');
  });

  test('an expired token or an unreadable token file is refused at mount time in one line', async () => {
    await mkdir(join(vol.dir, 'old'), { recursive: true });
    const r = await run(process.execPath, [CLI, 'mount', '--token-file', await key('OLDKEY', '--subdir', '/team-a', '--expires', '2020-01-01T00:00:00Z'), vol.url, join(vol.dir, 'old')], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^ferry: .*access key OLDKEY expired at 2020-01-01/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const bad = await run(process.execPath, [CLI, 'mount', '--token-file', join(vol.dir, 'no-such.token'), vol.url, join(vol.dir, 'old')], { timeoutMs: 60_000 });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr.trim(), /^ferry: (E[A-Z]+: )?token file .*no-such\.token: ENOENT$/);
  });
});
