// `ferry mount` / `ferry umount` as a user runs them: daemon mode with pid and log files, read-only mounts,
// SIGTERM flushing files still open for writing, and the mount(8) helper.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { logFileFor, pidFileFor } from '../src/fuse/daemon.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { CLI, formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { tool } from './helpers/tools.js';
import { alive, sleep } from './helpers/wait.js';

const HELPER = fileURLToPath(new URL('../../src/fuse/mount.ferry', import.meta.url));


async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
}

describe('FUSE: ferry mount and umount', fuseTestOptions(), () => {
  let vol: TestVolume;
  const mounts: TestMount[] = [];
  const daemonMps: string[] = [];

  before(async () => {
    vol = await formatVolume();
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    for (const mp of daemonMps) if (await mountAt(mp)) await unmountFuse(mp, { force: true }).catch(() => undefined);
    for (const mp of daemonMps) await rm(logFileFor(mp), { force: true });
    await vol?.cleanup();
  });

  test('usage errors are one line', async () => {
    const r = await run(process.execPath, [CLI, 'mount', vol.url]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: missing MOUNTPOINT/);
    const r2 = await run(process.execPath, [CLI, 'mount', vol.url, join(vol.dir, 'nope')]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /mount point .*nope: no such directory/);
    assert.equal(r2.stderr.trim().split('\n').length, 1);
    const r3 = await run(process.execPath, [CLI, 'umount', join(vol.dir, 'nope')]);
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr, /is not mounted/);
  });

  test('-d returns once the mount answers; umount waits for the daemon', async () => {
    const mp = join(vol.dir, 'daemon');
    await mkdir(mp);
    daemonMps.push(mp);
    const logFile = join(vol.dir, 'daemon.log');
    const r = await run(process.execPath, [CLI, 'mount', '-d', '--log', logFile, '-o', 'allow_other', vol.url, mp]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /in the background \(pid \d+, log .*daemon\.log\)/);
    assert.match(await readFile(logFile, 'utf8'), /ready/);
    const pid = Number(await readFile(pidFileFor(mp), 'utf8'));
    assert.ok(alive(pid));
    await writeFile(join(mp, 'hello.txt'), 'hello from the daemon mount');
    const u = await run(process.execPath, [CLI, 'umount', mp]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(alive(pid), false, 'umount returns after the daemon exited');
    assert.equal(existsSync(pidFileFor(mp)), false, 'the pid file is removed');
    assert.equal(await mountAt(mp), undefined);
    const cat = await run(process.execPath, [CLI, 'cat', vol.url, '/hello.txt']);
    assert.equal(cat.stdout, 'hello from the daemon mount');
  });

  test('--read-only: writes fail with EROFS, reads work', async () => {
    const m = await mountFerry(vol.url, join(vol.dir, 'ro'), ['--read-only']);
    mounts.push(m);
    assert.equal(await readFile(join(m.mp, 'hello.txt'), 'utf8'), 'hello from the daemon mount');
    await assert.rejects(writeFile(join(m.mp, 'new.txt'), 'x'), { code: 'EROFS' });
    await m.unmount();
  });

  test('SIGTERM flushes files still open for writing, then unmounts when they close', async () => {
    const m = await mountFerry(vol.url, join(vol.dir, 'term'));
    mounts.push(m);
    const path = join(m.mp, 'open.bin');
    // A writer that keeps its file open (no fsync) while the daemon is told to stop.
    const script = [
      'import os, sys, time',
      'fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)',
      'os.write(fd, b"z" * 300000)',
      'print("written", flush=True)',
      'sys.stdin.readline()',
      'os.close(fd)',
    ].join('\n');
    const { spawn } = await import('node:child_process');
    const py = spawn(tool('python3'), ['-c', script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((r) => py.stdout!.once('data', () => r()));
    m.child.kill('SIGTERM');
    for (let i = 0; i < 100 && !/SIGTERM/.test(m.output()); i++) await sleep(50);
    // The daemon detaches the mount lazily and keeps serving the open file until it is closed.
    for (let i = 0; i < 100 && (await mountAt(m.mp)); i++) await sleep(50);
    py.stdin!.end('\n');
    await new Promise((r) => py.once('exit', r));
    await new Promise<void>((r) => (m.child.exitCode !== null ? r() : m.child.once('exit', () => r())));
    assert.equal(m.child.exitCode, 0, m.output());
    const cat = await run(process.execPath, [CLI, 'stat', '--json', vol.url, '/open.bin']);
    assert.equal(JSON.parse(cat.stdout).size, 300000, m.output());
  });

  test('mount.ferry: the mount(8) helper turns fstab options into ferry mount -d', async () => {
    const mp = join(vol.dir, 'helper');
    await mkdir(mp);
    daemonMps.push(mp);
    process.env.FERRY_BIN = CLI; // this checkout's ferry, whatever is on PATH
    const r = await run('sh', [HELPER, vol.url, mp, '-o', `rw,_netdev,allow_other,attr-cache=2,ro,log=${join(vol.dir, 'helper.log')}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const info = await mountAt(mp);
    assert.ok(info);
    assert.match(info.options + ' ' + (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(mp)), /allow_other/);
    await assert.rejects(writeFile(join(mp, 'x'), 'x'), { code: 'EROFS' });
    const u = await run(process.execPath, [CLI, 'umount', mp]);
    assert.equal(u.code, 0, u.stderr);
  });

  test('a non-empty mount point is refused unless -o nonempty (or --nonempty)', async () => {
    const mp = join(vol.dir, 'full');
    await mkdir(mp);
    await writeFile(join(mp, 'local.txt'), 'a local file');
    daemonMps.push(mp);
    const log = join(vol.dir, 'full.log');
    const r = await run(process.execPath, [CLI, 'mount', '-d', '--log', log, vol.url, mp]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `ferry: mount point ${mp} is not empty (its files would be hidden): use -o nonempty to mount over them\n`);
    assert.equal(await mountAt(mp), undefined);
    assert.equal(existsSync(log), false, 'a failed start leaves no log file');
    for (const how of [['-o', 'nonempty,allow_other'], ['--nonempty']]) {
      const ok = await run(process.execPath, [CLI, 'mount', '-d', '--log', log, ...how, vol.url, mp]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(!(await readdir(mp)).includes('local.txt'), 'the volume is mounted over the local files');
      assert.equal((await run(process.execPath, [CLI, 'umount', mp])).code, 0);
      assert.deepEqual(await readdir(mp), ['local.txt']);
    }
  });

  test('an unknown -o option is named in one line, with -d too, and leaves no log file', async () => {
    const mp = join(vol.dir, 'badopt');
    await mkdir(mp);
    daemonMps.push(mp);
    for (const d of [[], ['-d']]) {
      const r = await run(process.execPath, [CLI, 'mount', ...d, '-o', 'allow_other,no_such_option,cache-dir=/tmp/x,bogus=1', vol.url, mp]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^ferry: unknown mount options 'no_such_option', 'bogus=1' \(see 'ferry mount --help'\)\n$/);
      assert.equal(await mountAt(mp), undefined);
    }
    assert.equal(existsSync(logFileFor(mp)), false);
  });

  test('failed -d mounts create no log file; a second mount of the same volume on a served directory hands it over', async () => {
    const missing = join(vol.dir, 'no-such-dir');
    const r = await run(process.execPath, [CLI, 'mount', '-d', vol.url, missing]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `ferry: mount point ${missing}: no such directory\n`);
    assert.equal(existsSync(logFileFor(missing)), false, 'no log file for a mount that never started');

    const mp = join(vol.dir, 'twice');
    await mkdir(mp);
    daemonMps.push(mp);
    const first = await run(process.execPath, [CLI, 'mount', '-d', '-o', 'allow_other', vol.url, mp]);
    assert.equal(first.code, 0, first.stderr);
    const log = await readFile(logFileFor(mp), 'utf8');
    assert.match(log, /^\S+Z ferry: mounted volume fusetest at .*; ready$/m);
    // docs/upgrade.md: the running daemon hands its mount over instead of the mount failing.
    const second = await run(process.execPath, [CLI, 'mount', '-d', '-o', 'allow_other', vol.url, mp]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(await readFile(logFileFor(mp), 'utf8'), /took over .*: requests paused \d+ ms/);
    assert.equal((await run(process.execPath, [CLI, 'umount', mp])).code, 0);
  });

  test('umount --force of a busy mount without write-back does not blame write-back', async () => {
    const mp = join(vol.dir, 'busy');
    await mkdir(mp);
    daemonMps.push(mp);
    const m = await run(process.execPath, [CLI, 'mount', '-d', '-o', 'allow_other', vol.url, mp]);
    assert.equal(m.code, 0, m.stderr);
    const pid = Number(await readFile(pidFileFor(mp), 'utf8'));
    // A program keeps a file open in the mount while it is unmounted by force.
    const holder = spawn(tool('python3'), ['-c', 'import sys, time; f = open(sys.argv[1], "w"); print("open", flush=True); time.sleep(120)', join(mp, 'held.txt')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
      const u = await run(process.execPath, [CLI, 'umount', '--force', mp], { timeoutMs: 45_000 });
      assert.equal(u.code, 0, u.stderr);
      assert.doesNotMatch(u.stderr, /write-back/);
      assert.equal(await mountAt(mp), undefined);
    } finally {
      holder.kill('SIGKILL');
    }
    await waitGone(pid);
    assert.equal(alive(pid), false, 'the daemon exits once the last open file is closed');
  });
});
