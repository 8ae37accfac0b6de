// setuid/setgid through a real mount, as Linux clears them: a write, truncate, O_TRUNC open or fallocate by
// a caller other than root clears setuid, and setgid when group-execute is on or the caller is not in the
// file's group; chown clears them even by root. Each case runs with real tools as another user (setpriv) on
// the mount and, as the reference, on the local file system holding the volume: both must give the table's mode.
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { until } from './helpers/wait.js';

/** The other user: not root, in no group but its own. */
const USER = 4242;
const AS_USER = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--clear-groups'];

interface Case {
  name: string;
  /** The file's mode, owner and group before; its content (empty by default). */
  mode: number;
  uid?: number;
  gid?: number;
  content?: string;
  /** A shell command on the file `f`, run as USER (or as root). */
  cmd: string;
  root?: boolean;
  /** The mode afterwards, as Linux (6.2 and later) leaves it. */
  expect: number;
}

const CASES: Case[] = [
  { name: 'an append by another user clears setuid and setgid', mode: 0o6777, content: 'a', cmd: 'printf x >> f', expect: 0o777 },
  { name: 'a write in place by another user clears them', mode: 0o6777, content: 'abc', cmd: 'printf x | dd of=f conv=notrunc status=none', expect: 0o777 },
  { name: 'truncate(1) by another user clears them', mode: 0o6777, content: 'abc', cmd: 'truncate -s 1 f', expect: 0o777 },
  { name: 'an O_TRUNC open by another user clears them', mode: 0o6777, content: 'abc', cmd: ': > f', expect: 0o777 },
  { name: 'an O_TRUNC open of an empty file clears them too', mode: 0o4777, cmd: ': > f', expect: 0o777 },
  { name: 'fallocate by another user clears them', mode: 0o6777, cmd: 'fallocate -l 8192 f', expect: 0o777 },
  { name: 'the owner writing its own file clears them', mode: 0o6777, uid: USER, gid: USER, cmd: 'printf x >> f', expect: 0o777 },
  { name: 'setgid without group-execute stays when a group member writes', mode: 0o2767, gid: USER, cmd: 'printf x >> f', expect: 0o2767 },
  { name: 'setgid without group-execute goes when a non-member writes', mode: 0o2767, cmd: 'printf x >> f', expect: 0o767 },
  { name: "root's write keeps them", mode: 0o6777, cmd: 'printf x >> f', root: true, expect: 0o6777 },
  { name: 'chown by root clears setuid and a group-executable setgid', mode: 0o6755, cmd: `chown ${USER} f`, root: true, expect: 0o755 },
  { name: 'chown by root keeps setgid without group-execute', mode: 0o2745, cmd: `chown ${USER} f`, root: true, expect: 0o2745 },
  { name: 'chmod by a non-root owner keeps the sticky bit on a file', mode: 0o644, uid: USER, gid: USER, cmd: 'chmod 1755 f', expect: 0o1755 },
];

/** Makes dir/f as the case says, runs its command, and returns the mode stat(1) reports after. */
async function runCase(dir: string, c: Case): Promise<number> {
  await mkdir(dir);
  await chmod(dir, 0o777);
  const f = join(dir, 'f');
  await writeFile(f, c.content ?? '');
  await chown(f, c.uid ?? 0, c.gid ?? 0);
  await chmod(f, c.mode);
  const argv = [...(c.root ? [] : AS_USER), 'sh', '-c', c.cmd];
  const r = await run(argv[0]!, argv.slice(1), { cwd: dir });
  assert.equal(r.code, 0, `${c.cmd}: ${r.stderr}`);
  const s = await run('stat', ['-c', '%a', f]);
  return parseInt(s.stdout.trim(), 8);
}

const octal = (m: number) => m.toString(8).padStart(4, '0');

describe('FUSE: setuid/setgid cleared on write, truncate and chown, as Linux does', fuseTestOptions(), () => {
  let vol: TestVolume;
  let a: TestMount | undefined;
  let b: TestMount | undefined;

  before(async () => {
    vol = await formatVolume();
    a = await mountFerry(vol.url, join(vol.dir, 'a'));
    b = await mountFerry(vol.url, join(vol.dir, 'b'));
    await mkdir(join(vol.dir, 'native'));
  });

  after(async () => {
    await b?.unmount();
    await a?.unmount();
    await vol?.cleanup();
  });

  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const onMount = await runCase(join(a!.mp, `case${i}`), c);
      const onLocal = await runCase(join(vol.dir, 'native', `case${i}`), c);
      assert.equal(octal(onLocal), octal(c.expect), 'the local file system (the reference) disagrees with the table');
      assert.equal(octal(onMount), octal(c.expect));
    });
  });

  test('an O_TRUNC open empties the file', async () => {
    const f = join(a!.mp, 'case3', 'f');
    assert.equal((await stat(f)).size, 0);
  });

  test('a write through a second mount clears the bits the first one sees', async () => {
    const dir = join(a!.mp, 'two');
    await mkdir(dir);
    await chmod(dir, 0o777);
    await writeFile(join(dir, 'f'), 'a');
    await chmod(join(dir, 'f'), 0o6777);
    const r = await run(AS_USER[0]!, [...AS_USER.slice(1), 'sh', '-c', 'printf x >> f'], { cwd: join(b!.mp, 'two') });
    assert.equal(r.code, 0, r.stderr);
    // The first mount's caches may hold the old mode for their timeout (1 s): it shows within a few.
    await until(async () => ((await stat(join(dir, 'f'))).mode & 0o7777) === 0o777, 'mode 0777 through the first mount', 10_000, 100);
    assert.equal((await run('cat', [join(dir, 'f')])).stdout, 'ax');
  });

  test('the daemons logged no internal errors', () => {
    for (const m of [a!, b!]) assert.doesNotMatch(m.output(), /EIO|TypeError|RangeError|at .*\.js:\d+/, m.output());
  });
});
