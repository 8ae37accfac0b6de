// POSIX ACLs through real mounts with the real tools: setfacl/getfacl (Debian package acl), users switched
// with setpriv, default ACLs inherited under a umask, chmod moving the mask, two mounts of one volume
// seeing each other's ACLs, and a volume formatted without --acl refusing them as a noacl mount does.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { until } from './helpers/wait.js';

const BOB = 1002;
const DAVE = 1004;

/** Runs a shell command as uid (gid the same, no supplementary groups). */
function as(uid: number, cmd: string) {
  return run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', cmd]);
}

async function sh(cmd: string): Promise<string> {
  const r = await run('sh', ['-c', cmd]);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

/** getfacl's entries without the comment header. */
async function getfacl(path: string): Promise<string[]> {
  return (await sh(`getfacl -cp '${path}'`)).split('\n').filter(Boolean);
}

describe('FUSE: POSIX ACLs', fuseTestOptions(), () => {
  let vol: TestVolume;
  let a: TestMount | undefined;
  let b: TestMount | undefined;

  before(async () => {
    const tools = await run('sh', ['-c', 'command -v setfacl getfacl setpriv']);
    assert.equal(tools.code, 0, 'setfacl/getfacl (Debian package acl) and setpriv are needed: see .ci/setup.d/30-fuse.sh');
    vol = await formatVolume({ acl: true });
    a = await mountFerry(vol.url, join(vol.dir, 'a'));
    b = await mountFerry(vol.url, join(vol.dir, 'b'));
  });

  after(async () => {
    await a?.unmount();
    await b?.unmount();
    await vol?.cleanup();
  });

  test('setfacl grants a named user what the mode does not; getfacl and ls show it', async () => {
    const d = join(a!.mp, 'named');
    await mkdir(d, { mode: 0o700 });
    await writeFile(join(d, 'f'), 'secret\n', { mode: 0o600 });
    assert.notEqual((await as(BOB, `cat '${d}/f'`)).code, 0);
    await sh(`setfacl -m u:${BOB}:rx '${d}' && setfacl -m u:${BOB}:r '${d}/f'`);
    assert.deepEqual(await getfacl(`${d}/f`), ['user::rw-', `user:${BOB}:r--`, 'group::---', 'mask::r--', 'other::---']);
    assert.match(await sh(`ls -l '${d}/f'`), /^-rw-r-----\+ /);
    assert.equal((await as(BOB, `cat '${d}/f'`)).stdout, 'secret\n');
    const dave = await as(DAVE, `cat '${d}/f'`);
    assert.match(dave.stderr, /Permission denied/);
    // Only the owner (or root) sets an ACL.
    const steal = await as(BOB, `setfacl -m u:${DAVE}:r '${d}/f'`);
    assert.match(steal.stderr, /Operation not permitted/);
  });

  test('chmod moves the mask, and the named entries stay', async () => {
    const f = join(a!.mp, 'masked');
    await writeFile(f, 'x\n', { mode: 0o640 });
    await sh(`setfacl -m u:${BOB}:rw '${f}'`);
    assert.equal((await as(BOB, `echo more >> '${f}' && echo ok`)).stdout, 'ok\n');
    await chmod(f, 0o600);
    assert.deepEqual(await getfacl(f), ['user::rw-', `user:${BOB}:rw-\t#effective:---`, 'group::r--\t#effective:---', 'mask::---', 'other::---']);
    assert.match((await as(BOB, `cat '${f}'`)).stderr, /Permission denied/);
    await chmod(f, 0o660);
    assert.equal((await as(BOB, `cat '${f}'`)).stdout, 'x\nmore\n');
    // setfacl -b: back to the mode alone, the owning group's entry (not the mask) giving the group bits.
    await sh(`setfacl -b '${f}'`);
    assert.deepEqual(await getfacl(f), ['user::rw-', 'group::r--', 'other::---']);
    assert.doesNotMatch(await sh(`ls -l '${f}'`), /\+ /);
  });

  test('new files and directories inherit the default ACL, and the umask does not cut it', async () => {
    const d = join(a!.mp, 'inherit');
    await mkdir(d, { mode: 0o755 });
    await sh(`setfacl -d -m u:${BOB}:rwx '${d}'`);
    await sh(`umask 077 && touch '${d}/f' && mkdir '${d}/sub' && touch '${d}/sub/g' && touch '${a!.mp}/plain'`);
    assert.deepEqual(await getfacl(`${d}/f`), ['user::rw-', `user:${BOB}:rwx\t#effective:rw-`, 'group::r-x\t#effective:r--', 'mask::rw-', 'other::r--']);
    const sub = await getfacl(`${d}/sub`);
    assert.ok(sub.includes(`default:user:${BOB}:rwx`), sub.join('\n'));
    assert.ok(sub.includes(`user:${BOB}:rwx`), sub.join('\n'));
    assert.ok((await getfacl(`${d}/sub/g`)).includes(`user:${BOB}:rwx\t#effective:rw-`));
    assert.equal((await as(BOB, `echo hi > '${d}/sub/g' && cat '${d}/sub/g'`)).stdout, 'hi\n');
    assert.match(await sh(`stat -c %a '${a!.mp}/plain'`), /^600$/m, 'without a default ACL the umask applies');
  });

  test('a directory ACL lets a named user create in a directory the mode closes', async () => {
    const d = join(a!.mp, 'drop');
    await mkdir(d, { mode: 0o700 });
    await sh(`setfacl -m u:${BOB}:rwx '${d}'`);
    assert.equal((await as(BOB, `touch '${d}/by-bob' && ls '${d}'`)).stdout, 'by-bob\n');
    assert.match((await as(DAVE, `touch '${d}/by-dave'`)).stderr, /Permission denied/);
  });

  test("a second mount enforces the first one's ACL changes", async () => {
    const fa = join(a!.mp, 'shared');
    const fb = join(b!.mp, 'shared');
    await writeFile(fa, 'both\n', { mode: 0o600 });
    await until(async () => (await as(BOB, `cat '${fb}'`)).stderr.includes('Permission denied'), 'the file on the second mount');
    await sh(`setfacl -m u:${BOB}:r '${fa}'`);
    // Each mount caches attributes (and the kernel ACLs with them) for the attribute timeout.
    await until(async () => (await as(BOB, `cat '${fb}'`)).stdout === 'both\n', 'the grant on the second mount', 10_000, 100);
    assert.ok((await getfacl(fb)).includes(`user:${BOB}:r--`));
    await sh(`setfacl -x u:${BOB} '${fa}'`);
    await until(async () => (await as(BOB, `cat '${fb}'`)).code !== 0, 'the revoke on the second mount', 10_000, 100);
  });

  test('the daemons logged no internal errors', () => {
    for (const m of [a!, b!]) assert.doesNotMatch(m.output(), /EIO|TypeError|RangeError|at .*\.js:\d+/, m.output());
  });
});

describe('FUSE: a volume formatted without --acl', fuseTestOptions(), () => {
  let vol: TestVolume;
  let m: TestMount | undefined;

  before(async () => {
    vol = await formatVolume();
    m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
  });

  after(async () => {
    await m?.unmount();
    await vol?.cleanup();
  });

  test('setfacl fails with EOPNOTSUPP, as on a file system mounted noacl; the mode still rules', async () => {
    const f = join(m!.mp, 'f');
    await writeFile(f, 'x\n', { mode: 0o600 });
    const r = await run('setfacl', ['-m', `u:${BOB}:r`, f]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not supported/);
    assert.deepEqual(await getfacl(f), ['user::rw-', 'group::---', 'other::---']);
    assert.match((await as(BOB, `cat '${f}'`)).stderr, /Permission denied/);
  });
});
