// POSIX conformance through a real FUSE mount, organised like pjdfstest: one test per system call, each
// running the checks of test/fixtures/fuse-posix.py as root and, in forked children, as uid 65534.
import assert from 'node:assert/strict';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { tool } from './helpers/tools.js';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/fuse-posix.py', import.meta.url));
const SECTIONS = [
  'chmod',
  'chown',
  'link',
  'mkdir',
  'mkfifo',
  'mknod',
  'open',
  'rename',
  'rmdir',
  'symlink',
  'truncate',
  'ftruncate',
  'unlink',
  'utimensat',
  'xattrs',
  'locks',
  'fallocate',
  'data',
];

describe('FUSE: POSIX conformance (pjdfstest-like)', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount | undefined;
  let base: string;

  before(async () => {
    vol = await formatVolume();
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
    base = join(m.mp, 'posix');
    await mkdir(base);
    await chmod(base, 0o777);
  });

  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  for (const section of SECTIONS) {
    test(section, async () => {
      const r = await run(tool('python3'), [FIXTURE, section, base], { timeoutMs: 120_000 });
      const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
      assert.equal(r.code, 0, `${failed.join('\n')}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`# ${section}: (\\d+)/\\1 passed`));
    });
  }

  test('the daemon logged no internal errors', () => {
    assert.doesNotMatch(m!.output(), /EIO|TypeError|RangeError|at .*\.js:\d+/, m!.output());
  });
});
