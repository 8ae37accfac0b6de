// src/sys: the mount table parse shared by the FUSE door and the CSI node service, and bind mounts by
// mount(2) (read-only by the remount right after), unmounts by umount2(2) — without mount(8) on PATH.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bindMount, sysAddon, unmount } from '../src/sys/mount.js';
import { mountAt, parseMountinfo } from '../src/sys/mountinfo.js';

test('mountinfo lines parse into mount point, root, type, source and device', () => {
  const [m] = parseMountinfo('36 35 0:45 /sub\\040dir /mnt/a\\040b rw,relatime shared:1 - fuse.ferry ferry:vol rw,user_id=0\n');
  assert.deepEqual(m, { mountpoint: '/mnt/a b', root: '/sub dir', fstype: 'fuse.ferry', source: 'ferry:vol', major: 0, minor: 45, options: 'rw,relatime' });
});

const root = process.getuid?.() === 0;
test('bind mounts by mount(2): read-write and read-only, unmounted by umount2(2), mount(8) not needed', { skip: !root && 'needs root' }, async () => {
  assert.ok(sysAddon(), 'the addon is built (npm run build:sys)');
  const tmp = await mkdtemp(join(tmpdir(), 'ferry-sys-'));
  const src = join(tmp, 'src');
  const [rw, ro] = [join(tmp, 'rw'), join(tmp, 'ro')];
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent'; // an exec of mount(8) would fail: these are system calls
  try {
    for (const d of [src, rw, ro]) await mkdir(d);
    await writeFile(join(src, 'f'), 'x');
    await bindMount(src, rw, false);
    await bindMount(src, ro, true);
    assert.equal((await mountAt(rw))?.options.split(',')[0], 'rw');
    assert.equal((await mountAt(ro))?.options.split(',')[0], 'ro');
    await writeFile(join(rw, 'g'), 'y');
    assert.equal(await readFile(join(ro, 'g'), 'utf8'), 'y');
    await assert.rejects(writeFile(join(ro, 'h'), 'z'), { code: 'EROFS' });
    await assert.rejects(bindMount(join(tmp, 'none'), join(tmp, 'none2'), false), { code: 'ENOENT' });
    for (const d of [rw, ro]) assert.ok((await unmount(d)).ok);
    assert.equal(await mountAt(rw), undefined);
    assert.equal(await mountAt(ro), undefined);
  } finally {
    process.env.PATH = path;
    for (const d of [rw, ro]) if (await mountAt(d)) await unmount(d, true);
    await rm(tmp, { recursive: true, force: true });
  }
});
