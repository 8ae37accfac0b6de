// Mounts that never drop a request (docs/upgrade.md): a live mount handed over to a new `ferry mount` ten
// times, and its serving process killed with -9 five times, while an application reads a checksummed file,
// appends log lines and holds a flock through it. Afterwards every read matched, every acknowledged write is
// there, and no call failed (in the crash case: only calls in flight at the kill, with ECONNABORTED). A mount
// whose supervisor is killed too answers ENOTCONN until `ferry umount`, never hangs.
import { tool } from './helpers/tools.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { daemonFile } from '../src/fuse/daemon.js';
import { controlSocketFor } from '../src/fuse/handover.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { CLI, formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { startLoad, type LoadResult } from './helpers/upgrade-load.js';
import { alive } from './helpers/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function count(text: string, re: RegExp): number {
  return [...text.matchAll(new RegExp(re.source, 'g'))].length;
}


/** The mount's session as `ferry status --json` reports it (the serving process, not a standby). */
async function mountSession(url: string, mp: string): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, [CLI, 'status', '--json', url]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { sessions: Array<Record<string, unknown>> };
  const s = doc.sessions.find((x) => typeof x.mountStartedAt === 'string' && x.standby !== true && String(x.mountPoint).endsWith(mp));
  assert.ok(s, `no mount session in ${r.stdout}`);
  return s;
}

function report(what: string, r: LoadResult, extra = ''): void {
  process.stdout.write(
    `# ${what}: ${r.reads} reads (${r.mismatches} mismatched), ${r.writes} acknowledged appends (${r.missingCount} missing), ` +
      `${r.errors.length} failed calls${r.errors.length ? ` (${r.errors.map((e) => `${e.op}:${e.errno}`).join(', ')})` : ''}, longest stall ${r.worstMs.toFixed(1)} ms${extra}\n`,
  );
}

/** Unmounts whoever serves mp now (after upgrades, a daemon) and waits for its supervisor to leave. */
async function teardown(mp: string, first?: TestMount): Promise<void> {
  const pidFile = daemonFile('mount', mp, 'pid');
  const daemon = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
  await unmountFuse(mp, { force: true }).catch(() => undefined);
  await first?.unmount();
  if (daemon) {
    const end = Date.now() + 15_000;
    while (alive(daemon) && Date.now() < end) await sleep(100);
    if (alive(daemon)) process.kill(daemon, 'SIGKILL');
  }
  for (const ext of ['log', 'pid', 'json'] as const) rmSync(daemonFile('mount', mp, ext), { force: true });
  rmSync(controlSocketFor(mp), { force: true });
  assert.equal(await mountAt(mp), undefined, `${mp} still mounted`);
}

describe('FUSE: smooth upgrade and crash recovery of a live mount', fuseTestOptions(), () => {
  let vol: TestVolume;

  before(async () => {
    vol = await formatVolume();
  });

  after(async () => {
    await vol?.cleanup();
  });

  test('ten upgrades in place: no call fails, every read matches, every acknowledged append is there, the flock stays', async () => {
    const mp = join(vol.dir, 'up');
    const m = await mountFerry(vol.url, mp);
    try {
      const load = startLoad(mp, vol.dir, { fsyncEach: false });
      await load.started;
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await run(process.execPath, [CLI, 'mount', '--upgrade', mp], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `upgrade ${i + 1}: ${r.stderr}`);
        await sleep(200);
      }
      const log = readFileSync(daemonFile('mount', mp, 'log'), 'utf8');
      for (const x of log.matchAll(/requests paused (\d+) ms/g)) times.push(Number(x[1]));
      // Another process must not get the lock the application holds across the handovers.
      const probe = await run(tool('python3'), ['-c', 'import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\ntry:\n  fcntl.flock(fd,fcntl.LOCK_EX|fcntl.LOCK_NB); print("got")\nexcept OSError: print("held")', join(mp, 'lock')]);
      assert.equal(probe.stdout.trim(), 'held', 'the flock held through the mount survived the upgrades');
      const res = await load.stop();
      report('10 upgrades', res, `; requests paused ${times.map((t) => t.toFixed(0)).join('/')} ms`);
      assert.ok(res.reads > 50, `only ${res.reads} reads ran`);
      assert.equal(res.mismatches, 0);
      assert.deepEqual(res.errors, []);
      assert.equal(res.missingCount, 0, `missing appends: ${res.missing.join(',')}`);
      const s = await mountSession(vol.url, mp);
      assert.equal(s.upgrades, 10);
      assert.equal(s.recoveries, 0);
    } finally {
      await teardown(mp, m);
    }
  });

  test('five kill -9 of the serving process: served again within 2 s on the same connection, open files keep working', async () => {
    const mp = join(vol.dir, 'crash');
    const m = await mountFerry(vol.url, mp);
    try {
      // Each append is fsync'd: acknowledged and synced data is what a crash must not lose.
      const load = startLoad(mp, vol.dir, { fsyncEach: true });
      await load.started;
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        await until('a standby serving process', () => count(m.output(), /standby serving process ready/) > i);
        const pids = [...m.output().matchAll(/serving pid (\d+)|recovered .* \(pid (\d+)\)/g)];
        const last = pids[pids.length - 1]!;
        const pid = Number(last[1] ?? last[2]);
        await sleep(300);
        process.kill(pid, 'SIGKILL');
        await until('the recovery', () => count(m.output(), /recovered \S+ in \d+ ms/) > i, 20_000);
        ms.push(Number([...m.output().matchAll(/recovered \S+ in (\d+) ms/g)][i]![1]));
      }
      await sleep(300);
      const res = await load.stop();
      report('5 crashes', res, `; recoveries took ${ms.join('/')} ms`);
      for (const t of ms) assert.ok(t < 2000, `a recovery took ${t} ms`);
      assert.ok(res.reads > 50, `only ${res.reads} reads ran`);
      assert.equal(res.mismatches, 0);
      // Documented: a call the dead process was answering fails (ECONNABORTED); nothing else.
      for (const e of res.errors) assert.equal(e.errno, 'ECONNABORTED', `${e.op} failed with ${e.errno}`);
      assert.ok(res.errors.length <= 5 * 3, `${res.errors.length} failed calls`);
      assert.equal(res.missingCount, 0, `missing fsync'd appends: ${res.missing.join(',')}`);
      assert.match(m.output(), /released the locks and open-file records of session \d+ \(the serving process that died\)/);
      const s = await mountSession(vol.url, mp);
      assert.equal(s.recoveries, 5);
    } finally {
      await teardown(mp, m);
    }
  });

  test('with its supervisor killed too, the mount answers ENOTCONN until ferry umount, never hangs', async () => {
    const mp = join(vol.dir, 'orphan');
    const m = await mountFerry(vol.url, mp);
    try {
      await until('a standby serving process', () => /standby serving process ready \(pid (\d+)\)/.test(m.output()));
      const serving = Number(/serving pid (\d+)/.exec(m.output())![1]);
      const spare = Number(/standby serving process ready \(pid (\d+)\)/.exec(m.output())![1]);
      process.kill(m.child.pid!, 'SIGKILL');
      await until('the standby to leave with its supervisor', () => !alive(spare), 10_000);
      process.kill(serving, 'SIGKILL');
      await until('the serving process to die', () => !alive(serving), 10_000);
      const st = await run('stat', [mp], { timeoutMs: 10_000 });
      assert.notEqual(st.code, 0);
      assert.match(st.stderr, /Transport endpoint is not connected/, st.stderr);
      const u = await run(process.execPath, [CLI, 'umount', mp], { timeoutMs: 30_000 });
      assert.equal(u.code, 0, u.stderr);
      assert.equal(await mountAt(mp), undefined);
      assert.equal(existsSync(controlSocketFor(mp)), false, 'ferry umount removes the dead supervisor\'s control socket');
    } finally {
      await teardown(mp, m);
    }
  });
});
