// The trash as users meet it: `ferry rm` keeps what it removes (the option did nothing before), `ferry trash
// list|restore|purge` as a user runs them, a real mount where rm keeps files under /.trash for root only,
// and the S3 gateway's own temporary files never landing there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function ferry(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Block objects in a file:// store. */
async function blocks(dir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else n++;
    }
  };
  await walk(dir);
  return n;
}

describe('ferry trash (CLI)', () => {
  let dir: string;
  const url = () => `sqlite3://${join(dir, 'meta.db')}`;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-trash-'));
    assert.equal(ferry(dir, 'format', url(), 'vol').code, 0); // default: --trash-days 1
    await writeFile(join(dir, 'f.txt'), 'hello trash\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('rm keeps the file and its blocks; list shows it; restore brings it back byte for byte', async () => {
    assert.equal(ferry(dir, 'mkdir', url(), '/data').code, 0);
    assert.equal(ferry(dir, 'put', url(), 'f.txt', '/data/f.txt').code, 0);
    const stored = await blocks(join(dir, 'blocks', 'vol', 'chunks'));
    assert.ok(stored >= 1);
    const r = ferry(dir, 'rm', '-r', url(), '/data');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await blocks(join(dir, 'blocks', 'vol', 'chunks')), stored, 'no block deleted');
    const l = ferry(dir, 'trash', 'list', url());
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /^ENTRY\s+DELETED\s+SIZE\s+PATH/m);
    assert.match(l.stdout, /\/data\/f\.txt$/m);
    assert.match(l.stdout, /\/data$/m);
    const j = JSON.parse(ferry(dir, 'trash', 'list', '--json', '--path', '/data', url()).stdout) as Array<{ path: string; id: string }>;
    assert.deepEqual(j.map((i) => i.path).sort(), ['/data', '/data/f.txt']);
    assert.equal(ferry(dir, 'ls', url(), '/').stdout, '', 'the trash is not listed in /');
    const back = ferry(dir, 'trash', 'restore', '--path', '/data', '--recursive', url());
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /restored 2 of 2 entries/);
    assert.equal(ferry(dir, 'cat', url(), '/data/f.txt').stdout, 'hello trash\n');
  });

  it('restore onto a name that exists again is refused in one line unless --force', async () => {
    assert.equal(ferry(dir, 'rm', url(), '/data/f.txt').code, 0);
    const id = (JSON.parse(ferry(dir, 'trash', 'list', '--json', url()).stdout) as Array<{ id: string }>)[0]!.id;
    await writeFile(join(dir, 'g.txt'), 'newer\n');
    assert.equal(ferry(dir, 'put', url(), 'g.txt', '/data/f.txt').code, 0);
    const r = ferry(dir, 'trash', 'restore', url(), id);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists again.*--force/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(ferry(dir, 'trash', 'restore', '--force', url(), id).code, 0);
    assert.equal(ferry(dir, 'cat', url(), '/data/f.txt').stdout, 'hello trash\n');
  });

  it('restoring a file deleted with its directories brings them back; a new directory at the path receives it; --into puts it elsewhere', async () => {
    assert.equal(ferry(dir, 'mkdir', '-p', url(), '/deep/a/b').code, 0);
    assert.equal(ferry(dir, 'put', url(), 'f.txt', '/deep/a/b/f.txt').code, 0);
    assert.equal(ferry(dir, 'rm', '-r', url(), '/deep').code, 0);
    const r = ferry(dir, 'trash', 'restore', '--path', '/deep/a/b/f.txt', url());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored 1 of 1 entry \(3 directories it was deleted from restored too\)/);
    assert.equal(ferry(dir, 'cat', url(), '/deep/a/b/f.txt').stdout, 'hello trash\n');
    // Deleted again; meanwhile someone made /deep/a/b anew: the file goes into that directory.
    assert.equal(ferry(dir, 'rm', '-r', url(), '/deep').code, 0);
    assert.equal(ferry(dir, 'mkdir', '-p', url(), '/deep/a/b').code, 0);
    const m = ferry(dir, 'trash', 'restore', '--path', '/deep/a/b/f.txt', url());
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /merged into a directory that exists again/);
    assert.equal(ferry(dir, 'cat', url(), '/deep/a/b/f.txt').stdout, 'hello trash\n');
    assert.equal(ferry(dir, 'rm', url(), '/deep/a/b/f.txt').code, 0);
    assert.equal(ferry(dir, 'mkdir', url(), '/rescue').code, 0);
    const i = ferry(dir, 'trash', 'restore', '--path', '/deep/a/b/f.txt', '--into', '/rescue', url());
    assert.equal(i.code, 0, i.stderr);
    assert.equal(ferry(dir, 'cat', url(), '/rescue/f.txt').stdout, 'hello trash\n');
    const bad = ferry(dir, 'trash', 'restore', '--path', '/deep', '--recursive', '--into', '/no/such/dir', url());
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    assert.equal(ferry(dir, 'rm', '-r', url(), '/deep', '/rescue').code, 0);
  });

  it('purge frees the entries and their blocks; bad times and actions are usage errors', async () => {
    assert.equal(ferry(dir, 'rm', '-r', url(), '/data').code, 0);
    const before = await blocks(join(dir, 'blocks', 'vol', 'chunks'));
    const p = ferry(dir, 'trash', 'purge', url());
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /purged [1-9]\d* entr/);
    assert.ok((await blocks(join(dir, 'blocks', 'vol', 'chunks'))) < before, 'blocks freed');
    assert.equal(ferry(dir, 'trash', 'list', url()).stdout, 'the trash is empty\n');
    assert.equal(ferry(dir, 'trash', 'purge', '--before', 'yesterday-ish', url()).code, 2);
    assert.equal(ferry(dir, 'trash', 'empty', url()).code, 2);
  });

  it('with --trash-days 0, rm frees at once', async () => {
    assert.equal(ferry(dir, 'config', '--trash-days', '0', url()).code, 0);
    assert.equal(ferry(dir, 'put', url(), 'f.txt', '/x.txt').code, 0);
    assert.equal(ferry(dir, 'rm', url(), '/x.txt').code, 0);
    assert.equal(ferry(dir, 'trash', 'list', url()).stdout, 'the trash is empty\n');
    assert.equal(ferry(dir, 'config', '--trash-days', '1', url()).code, 0);
  });
});

describe('trash through a real mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount;
  before(async () => {
    vol = await formatVolume();
    assert.equal(ferry(vol.dir, 'config', '--trash-days', '2', vol.url).code, 0);
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
  });
  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  it('rm keeps the file under /.trash/HOUR for root; others cannot look in; / does not list it', async () => {
    await writeFile(join(m.mp, 'model.pt'), 'weights');
    await rm(join(m.mp, 'model.pt'));
    assert.ok(!(await readdir(m.mp)).includes('.trash'));
    const hours = await readdir(join(m.mp, '.trash'));
    assert.equal(hours.length, 1);
    const entries = await readdir(join(m.mp, '.trash', hours[0]!));
    const kept = entries.find((e) => e.endsWith('-model.pt'));
    assert.ok(kept, entries.join(','));
    assert.equal(await readFile(join(m.mp, '.trash', hours[0]!, kept!), 'utf8'), 'weights');
    assert.equal((await stat(join(m.mp, '.trash'))).mode & 0o777, 0o700);
    const other = await run('ls', [join(m.mp, '.trash')], { uid: 65534, gid: 65534 });
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /Permission denied/);
    const del = await run('rm', ['-f', join(m.mp, '.trash', hours[0]!, kept!)]);
    assert.notEqual(del.code, 0, 'nothing is removed from the trash through the mount');
    assert.match(del.stderr, /Operation not permitted/);
  });
});
