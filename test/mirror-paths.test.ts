// Mirror records that work from anywhere: relative SQLite URLs given to `ferry mirror create` are stored
// absolute (before, a writable mirror worked only from the directory it was created in), and a read-only
// mirror is mounted with `ro` in its kernel flags.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { CLI, fuseTestOptions, mountFerry, run } from './helpers/mount.js';

const ferry = (cwd: string, args: string[]) => run(process.execPath, [CLI, ...args], { cwd });

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

describe('mirror create with relative SQLite URLs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-mirror-paths-'));
    ok(await ferry(dir, ['format', 'sqlite3://src.db', 'paths']), 'format');
    await writeFile(join(dir, 'hello.txt'), 'hello\n');
    ok(await ferry(dir, ['put', 'sqlite3://src.db', join(dir, 'hello.txt'), '/hello.txt']), 'put');
    ok(await ferry(dir, ['mirror', 'create', 'sqlite3://src.db', 'sqlite3://mir.db']), 'mirror create');
    ok(await ferry(dir, ['mirror', 'create', '--read-only', 'sqlite3://src.db', 'sqlite3://ro.db']), 'mirror create --read-only');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores absolute URLs, so a writable mirror works from another directory', async () => {
    const m = await openMeta(`sqlite3://${join(dir, 'mir.db')}`);
    try {
      assert.equal((await m.load()).mirror?.of?.source, `sqlite3://${join(dir, 'src.db')}`);
    } finally {
      await m.close();
    }
    const s = await openMeta(`sqlite3://${join(dir, 'src.db')}`);
    try {
      const urls = Object.values((await s.load()).mirror?.mirrors ?? {}).map((x) => x.url);
      assert.deepEqual(urls.sort(), [`sqlite3://${join(dir, 'mir.db')}`, `sqlite3://${join(dir, 'ro.db')}`].sort());
    } finally {
      await s.close();
    }
    // From / the writable mirror's client opens its source by the stored URL.
    assert.equal(ok(await ferry('/', ['cat', `sqlite3://${join(dir, 'mir.db')}`, '/hello.txt']), 'cat through the mirror'), 'hello\n');
  });

  it('mirror remove and destroy of a mirror unregister it in the source; a removed mirror does not replicate again', async () => {
    const mirrorsAt = async () => {
      const m = await openMeta(`sqlite3://${join(dir, 'src.db')}`);
      try {
        return Object.values((await m.load()).mirror?.mirrors ?? {}).map((x) => x.url);
      } finally {
        await m.close();
      }
    };
    ok(await ferry(dir, ['mirror', 'create', 'sqlite3://src.db', 'sqlite3://gone.db']), 'mirror create');
    assert.ok((await mirrorsAt()).includes(`sqlite3://${join(dir, 'gone.db')}`));
    const out = ok(await ferry(dir, ['mirror', 'remove', 'sqlite3://gone.db']), 'mirror remove');
    assert.match(out, /removed from .*src\.db: its changelog is no longer kept/);
    assert.ok(!(await mirrorsAt()).includes(`sqlite3://${join(dir, 'gone.db')}`));
    // Its replicator stops with one line instead of registering it again.
    const r = await ferry(dir, ['mirror', 'run', 'sqlite3://gone.db']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no longer registered in its source/);
    assert.ok(!(await mirrorsAt()).includes(`sqlite3://${join(dir, 'gone.db')}`));

    ok(await ferry(dir, ['mirror', 'create', 'sqlite3://src.db', 'sqlite3://doomed.db']), 'mirror create');
    const d = await ferry(dir, ['destroy', '--yes', 'sqlite3://doomed.db', await uuidOf(join(dir, 'doomed.db'))]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /unregistered from its source/);
    assert.ok(!(await mirrorsAt()).includes(`sqlite3://${join(dir, 'doomed.db')}`));
  });

  it('mounts a read-only mirror with ro in its flags', fuseTestOptions(), async () => {
    const mp = join(dir, 'mnt');
    const mnt = await mountFerry(`sqlite3://${join(dir, 'ro.db')}`, mp);
    try {
      const line = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === mp);
      assert.ok(line, 'mounted');
      assert.ok(line.split(' ')[3]!.split(',').includes('ro'), `ro in ${line}`);
      assert.equal(await readFile(join(mp, 'hello.txt'), 'utf8'), 'hello\n');
    } finally {
      await mnt.unmount();
    }
  });
});

async function uuidOf(db: string): Promise<string> {
  const m = await openMeta(`sqlite3://${db}`);
  try {
    return (await m.load()).uuid;
  } finally {
    await m.close();
  }
}
