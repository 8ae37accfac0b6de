// The command-line ends of an upgrade in place (docs/upgrade.md): mount.ferry, as mount(8) and fstab call it
// (`mount.ferry SPEC DIR -n -o OPTS`), mounts a daemon and with `-o upgrade` hands the running mount over to
// the installed version; `ferry status` then shows the mount in its "Mounts:" table with the serving
// process, its supervisor and the upgrade counted.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { daemonFile } from '../src/fuse/daemon.js';
import { controlSocketFor } from '../src/fuse/handover.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { spawn } from 'node:child_process';
import { CLI, formatVolume, fuseTestOptions, run, type TestVolume } from './helpers/mount.js';
import { tool } from './helpers/tools.js';
import { alive } from './helpers/wait.js';

const HELPER = fileURLToPath(new URL('../../src/fuse/mount.ferry', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


describe('FUSE: mount.ferry -o upgrade and the Mounts table of ferry status', fuseTestOptions(), () => {
  let vol: TestVolume;
  let mp: string;
  const env = { ...process.env, FERRY_BIN: CLI };

  before(async () => {
    vol = await formatVolume();
    mp = join(vol.dir, 'fstab');
    await mkdir(mp);
  });

  after(async () => {
    const pidFile = daemonFile('mount', mp, 'pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
    if (await mountAt(mp)) {
      const u = await run(process.execPath, [CLI, 'umount', mp], { timeoutMs: 60_000 });
      if (u.code !== 0) await unmountFuse(mp, { force: true }).catch(() => undefined);
    }
    for (let i = 0; pid && alive(pid) && i < 150; i++) await sleep(100);
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    for (const ext of ['log', 'pid', 'json'] as const) rmSync(daemonFile('mount', mp, ext), { force: true });
    rmSync(controlSocketFor(mp), { force: true });
    await vol?.cleanup();
  });

  test('mount.ferry mounts, -o upgrade hands the mount over, ferry status shows it under Mounts:', async () => {
    const first = await run('sh', [HELPER, vol.url, mp, '-n', '-o', 'allow_other'], { env, timeoutMs: 120_000 });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(await mountAt(mp), 'mounted');
    const pid1 = Number(readFileSync(daemonFile('mount', mp, 'pid'), 'utf8').trim());

    const up = await run('sh', [HELPER, vol.url, mp, '-n', '-o', 'upgrade,allow_other'], { env, timeoutMs: 120_000 });
    assert.equal(up.code, 0, up.stderr);
    const pid2 = Number(readFileSync(daemonFile('mount', mp, 'pid'), 'utf8').trim());
    assert.notEqual(pid2, pid1, 'a new supervisor serves the mount');
    const log = readFileSync(daemonFile('mount', mp, 'log'), 'utf8');
    assert.match(log, /took over \S+: requests paused \d+ ms/);
    assert.match(log, /handed \S+ over; exiting without unmounting/);
    for (let i = 0; alive(pid1) && i < 100; i++) await sleep(100);
    assert.equal(alive(pid1), false, 'the old supervisor left');
    // Still the same mount, answering.
    const st = await run('stat', ['-c', '%F', mp]);
    assert.equal(st.stdout.trim(), 'directory', st.stderr);

    // -o upgrade of a directory nothing serves: one line, non-zero.
    const none = join(vol.dir, 'nothing');
    await mkdir(none);
    const bad = await run('sh', [HELPER, vol.url, none, '-o', 'upgrade'], { env, timeoutMs: 60_000 });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /nothing serves .*--upgrade hands over a running mount/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');

    const status = await run(process.execPath, [CLI, 'status', vol.url], { timeoutMs: 60_000 });
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.split('\n');
    const at = lines.findIndex((l) => /^\s*Mounts: 1$/.test(l));
    assert.ok(at >= 0, `no "Mounts: 1" in\n${status.stdout}`);
    const head = lines[at + 1]!.trim().split(/\s{2,}/);
    assert.deepEqual(head, ['SID', 'MOUNT', 'PID', 'SUPERVISOR', 'VERSION', 'MOUNTED', 'SERVING SINCE', 'UPGRADES', 'RECOVERIES']);
    const row = lines[at + 2]!.trim().split(/\s{2,}/);
    const cell = (name: string) => row[head.indexOf(name)]!;
    assert.ok(cell('MOUNT').endsWith(mp), cell('MOUNT'));
    assert.equal(cell('SUPERVISOR'), String(pid2));
    const serving = Number(cell('PID'));
    assert.ok(alive(serving) && serving !== pid2, `PID ${serving} is the serving process`);
    assert.equal(cell('UPGRADES'), '1');
    assert.equal(cell('RECOVERIES'), '0');
    assert.ok(Date.parse(cell('MOUNTED')) < Date.parse(cell('SERVING SINCE')), 'mounted before the current process served it');
  });
  // A blocking lock wait in progress at a handover waits on and gets the lock (before: EINTR, which reached the
  // application as errno 512, ERESTARTSYS); the lock held meanwhile stays held. ctypes: the raw errno.
  test('a blocking flock waiting through a handover waits on and gets the lock, no error', async () => {
    const file = join(mp, 'lockwait');
    const holder = spawn(tool('python3'), ['-c', 'import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT,0o644)\nfcntl.flock(fd,fcntl.LOCK_EX)\nfcntl.lockf(fd,fcntl.LOCK_EX)\nprint("held",flush=True)\nsys.stdin.readline()\nfcntl.lockf(fd,fcntl.LOCK_UN)\nfcntl.flock(fd,fcntl.LOCK_UN)', file], { stdio: ['pipe', 'pipe', 'inherit'] });
    let hout = '';
    holder.stdout!.on('data', (d: Buffer) => (hout += d.toString()));
    while (!hout.includes('held')) await sleep(20);
    const waiterCode = [
      'import ctypes,errno,json,os,sys,time',
      'libc=ctypes.CDLL(None,use_errno=True)',
      'fd=os.open(sys.argv[1],os.O_RDWR)',
      'print("waiting",flush=True)',
      'eintr=0',
      'while libc.flock(fd,2) != 0:',
      '  e=ctypes.get_errno()',
      '  if e != errno.EINTR: print(json.dumps({"error":errno.errorcode.get(e,e)}),flush=True); sys.exit(1)',
      '  eintr+=1',
      'print(json.dumps({"got":True,"eintr":eintr}),flush=True)',
    ].join('\n');
    const waiter = spawn(tool('python3'), ['-c', waiterCode, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let wout = '';
    waiter.stdout!.on('data', (d: Buffer) => (wout += d.toString()));
    const waited = new Promise<void>((r) => waiter.once('exit', () => r()));
    // F_SETLKW too (Python retries EINTR itself, but not the errno 512 the kernel let through before).
    const posix = spawn(tool('python3'), ['-c', 'import fcntl,json,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nprint("waiting",flush=True)\ntry:\n  fcntl.lockf(fd,fcntl.LOCK_EX); print(json.dumps({"got":True}),flush=True)\nexcept OSError as e: print(json.dumps({"error":e.errno}),flush=True)', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pout = '';
    posix.stdout!.on('data', (d: Buffer) => (pout += d.toString()));
    const posixDone = new Promise<void>((r) => posix.once('exit', () => r()));
    try {
      while (!wout.includes('waiting') || !pout.includes('waiting')) await sleep(20);
      await sleep(500);
      const up = await run(process.execPath, [CLI, 'mount', '--upgrade', mp], { timeoutMs: 120_000 });
      assert.equal(up.code, 0, up.stderr);
      await sleep(500);
      assert.doesNotMatch(wout + pout, /got|error/, 'the locks held through the handover are still held');
      holder.stdin!.end('\n');
      await waited;
      await posixDone;
      assert.deepEqual(JSON.parse(pout.trim().split('\n').pop()!), { got: true }, 'F_SETLKW waited through the handover');
      const r = JSON.parse(wout.trim().split('\n').pop()!) as { got?: boolean; eintr?: number; error?: string };
      assert.equal(r.error, undefined);
      assert.equal(r.got, true);
      assert.equal(r.eintr, 0, 'the wait in progress at the handover was not answered with an error');
      assert.match(readFileSync(daemonFile('mount', mp, 'log'), 'utf8'), /2 blocking lock waits go on in this process until granted/);
    } finally {
      holder.kill();
      waiter.kill();
      posix.kill();
    }
  });
});
