// Data through real FUSE mounts: a randomized read/write/truncate model test, fio --verify, two mounts of
// one volume seeing each other's changes (data, names, locks), and kill -9 of the daemon then a new mount.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountAt } from '../src/fuse/teardown.js';
import { formatVolume, fuseTestOptions, killMountTree, mountFerry, py, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { prng } from './helpers/random.js';
import { tool } from './helpers/tools.js';
import { sleep } from './helpers/wait.js';

describe('FUSE: data and clients', fuseTestOptions(), () => {
  let vol: TestVolume;
  const mounts: TestMount[] = [];

  before(async () => {
    // Small blocks so the model test crosses block boundaries often.
    vol = await formatVolume({ blockSize: 64 << 10 });
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    await vol?.cleanup();
  });

  test('randomized read/write/truncate matches an in-memory model', async () => {
    const m = await mountFerry(vol.url, join(vol.dir, 'm1'));
    mounts.push(m);
    const seed = Date.now() % 100000;
    const rand = prng(seed).int;
    const path = join(m.mp, 'model.bin');
    let model = Buffer.alloc(0);
    let fh = await open(path, 'w+');
    const MAX = 3 << 20;
    try {
      for (let i = 0; i < 400; i++) {
        const op = rand(100);
        if (op < 45) {
          const off = rand(MAX);
          const len = 1 + rand(op < 10 ? 300_000 : 20_000);
          const data = randomBytes(len);
          await fh.write(data, 0, len, off);
          if (model.length < off + len) model = Buffer.concat([model, Buffer.alloc(off + len - model.length)]);
          data.copy(model, off);
        } else if (op < 80) {
          const off = rand(model.length + 1000);
          const len = 1 + rand(200_000);
          const buf = Buffer.alloc(len);
          const { bytesRead } = await fh.read(buf, 0, len, off);
          const want = model.subarray(Math.min(off, model.length), Math.min(off + len, model.length));
          assert.equal(bytesRead, want.length, `seed ${seed} step ${i}: read length at ${off}+${len}`);
          assert.ok(buf.subarray(0, bytesRead).equals(want), `seed ${seed} step ${i}: data at ${off}+${len}`);
        } else if (op < 90) {
          const len = rand(MAX);
          await fh.truncate(len);
          model = len <= model.length ? Buffer.from(model.subarray(0, len)) : Buffer.concat([model, Buffer.alloc(len - model.length)]);
        } else if (op < 95) {
          await fh.sync();
        } else {
          await fh.close();
          fh = await open(path, 'r+');
        }
        if (i % 50 === 0) assert.equal((await fh.stat()).size, model.length, `seed ${seed} step ${i}: size`);
      }
    } finally {
      await fh.close();
    }
    const all = await readFile(path);
    assert.equal(all.length, model.length, `seed ${seed}: final size`);
    assert.ok(all.equals(model), `seed ${seed}: final content`);
  });

  test('fio --verify', async () => {
    const fio = tool('fio');
    const m = mounts[0]!;
    const dir = join(m.mp, 'fio');
    await run('mkdir', ['-p', dir]);
    const common = ['--directory=' + dir, '--ioengine=psync', '--verify_fatal=1', '--do_verify=1', '--group_reporting'];
    for (const job of [
      ['--name=seq', '--rw=write', '--bs=1M', '--size=48M', '--verify=crc32c'],
      ['--name=rand', '--rw=randwrite', '--bs=4k', '--size=8M', '--numjobs=2', '--verify=md5'],
      ['--name=mixed', '--rw=randrw', '--bsrange=1k-256k', '--size=16M', '--verify=crc32c', '--verify_backlog=64'],
    ]) {
      const r = await run(fio, [...job, ...common], { timeoutMs: 180_000 });
      assert.equal(r.code, 0, `fio ${job[0]}: ${r.stdout.slice(-2000)}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /verify: bad|crc32c: verify failed|md5: verify failed/);
    }
  });

  test('two mounts of one volume see each other\'s changes', async () => {
    const a = mounts[0]!;
    const b = await mountFerry(vol.url, join(vol.dir, 'm2'), ['--attr-cache', '0', '--entry-cache', '0']);
    mounts.push(b);
    const data = randomBytes(5 << 20);
    await writeFile(join(a.mp, 'shared.bin'), data);
    assert.ok((await readFile(join(b.mp, 'shared.bin'))).equals(data), 'a file closed on one mount reads the same on the other');
    const more = randomBytes(100_000);
    const fh = await open(join(b.mp, 'shared.bin'), 'a');
    await fh.write(more);
    await fh.close();
    const bothA = await readFile(join(a.mp, 'shared.bin'));
    const bothB = await readFile(join(b.mp, 'shared.bin'));
    assert.ok(bothB.equals(Buffer.concat([data, more])), 'the appending mount reads its append');
    // Mount a caches attributes for 1 s: eventually it sees the append too.
    let seen = bothA;
    for (let i = 0; i < 50 && seen.length !== data.length + more.length; i++) {
      await sleep(100);
      seen = await readFile(join(a.mp, 'shared.bin'));
    }
    assert.ok(seen.equals(bothB), 'the other mount sees the append');
    await rename(join(a.mp, 'shared.bin'), join(a.mp, 'renamed.bin'));
    assert.ok((await readdir(b.mp)).includes('renamed.bin'), 'a rename is visible on the other mount');
    await assert.rejects(stat(join(b.mp, 'shared.bin')), { code: 'ENOENT' });
    // POSIX locks are shared through the metadata engine: a lock held through one mount blocks the other.
    const out = await py(
      [
        'import fcntl, os, sys, errno',
        'a = os.open(sys.argv[1], os.O_RDWR)',
        'fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)',
        'pid = os.fork()',
        'if pid == 0:',
        '    b = os.open(sys.argv[2], os.O_RDWR)',
        '    try:',
        '        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0); os._exit(0)',
        '    except OSError as e:',
        '        os._exit(e.errno)',
        '_, st = os.waitpid(pid, 0)',
        'print(os.waitstatus_to_exitcode(st))',
      ].join('\n'),
      [join(a.mp, 'renamed.bin'), join(b.mp, 'renamed.bin')],
    );
    assert.equal(Number(out.trim()), 11, 'a lock through mount A makes mount B fail with EAGAIN');
  });

  test('kill -9 of the daemon, then a new mount: fsynced data is there, the stale mount is cleaned up', async () => {
    const mp = join(vol.dir, 'm3');
    const m = await mountFerry(vol.url, mp);
    mounts.push(m);
    const data = randomBytes(3 << 20);
    await py(
      [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)',
        'os.write(fd, bytes.fromhex(sys.argv[2]))',
        'os.fsync(fd)',
        'print("synced")',
        'os._exit(0)', // never closed: only the fsync commits it
      ].join('\n'),
      [join(mp, 'synced.bin'), data.subarray(0, 16 << 10).toString('hex')],
    );
    const big = await open(join(mp, 'synced-big.bin'), 'w');
    await big.write(data);
    await big.sync();
    await killMountTree(m); // the whole mount, as an OOM kill of its container
    await big.close().catch(() => undefined); // ENOTCONN: the daemon is gone
    assert.ok(await mountAt(mp), 'the killed daemon leaves a stale mount behind');
    await assert.rejects(stat(join(mp, 'synced.bin')), { code: 'ENOTCONN' });
    const m2 = await mountFerry(vol.url, mp);
    mounts.push(m2);
    assert.ok((await readFile(join(mp, 'synced.bin'))).equals(data.subarray(0, 16 << 10)));
    assert.ok((await readFile(join(mp, 'synced-big.bin'))).equals(data));
    assert.match(m2.output(), /stale mount/);
  });
});
