// What a process handover of a live mount stands on: a daemon that serves a FUSE connection it was given
// (this test mounts /dev/fuse itself with -o fd=N, the daemon only serves), and lock owners that do not
// name the daemon's process, so the locks a session holds are still its own after another process takes over.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountAt } from '../src/fuse/teardown.js';
import { formatVolume, fuseTestOptions, mountOnFd, py, run, type TestMount, type TestVolume } from './helpers/mount.js';

describe('FUSE: serving a connection the daemon did not mount', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount | undefined;

  before(async () => {
    vol = await formatVolume();
    m = await mountOnFd(vol.url, join(vol.dir, 'mnt'));
  });

  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  test('the mount is the one this process made, and other processes write and read files through it', async () => {
    const info = await mountAt(m!.mp);
    assert.equal(info?.fstype, 'fuse.ferryfs');
    assert.equal(info?.source, 'ferry:fd-test'); // ours: a mount by the daemon would say ferry:fusetest
    const f = join(m!.mp, 'hello.txt');
    const w = await run('sh', ['-c', 'printf "through a given fd\\n" > "$1"', 'sh', f]);
    assert.equal(w.code, 0, w.stderr);
    const r = await run('cat', [f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through a given fd\n');
  });

  test('flock and POSIX lock owners are the kernel’s, without the daemon’s pid', async () => {
    const f = join(m!.mp, 'locked');
    // Holds both kinds of lock through the mount and, meanwhile, reads the owners the metadata recorded.
    const out = await py(
      `
import fcntl, os, sqlite3, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
db = sqlite3.connect(sys.argv[2])
names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
for kind in ('flock', 'plock'):
    table = next(n for n in names if n.endswith(kind))
    for (owner,) in db.execute('SELECT owner FROM ' + table):
        print(kind, owner)
`,
      [f, join(vol.dir, 'meta.db')],
    );
    const rows = out.trim().split('\n').map((l) => l.split(' ') as [string, string]);
    assert.deepEqual(rows.map(([kind]) => kind).sort(), ['flock', 'plock'], out);
    const pid = m!.child.pid!;
    for (const [kind, owner] of rows) {
      assert.match(owner, /^fuse:\d+$/, `${kind} owner ${owner}`);
      assert.ok(!owner.startsWith(`${pid}:`), `${kind} owner ${owner} names the daemon's pid ${pid}`);
    }
  });

  test('unmounting ends the daemon cleanly', async () => {
    await m!.unmount();
    assert.equal(await mountAt(m!.mp), undefined);
    assert.equal(m!.child.exitCode, 0, m!.output());
    assert.doesNotMatch(m!.output(), /EIO|TypeError|RangeError|at .*\.js:\d+/, m!.output());
  });
});
