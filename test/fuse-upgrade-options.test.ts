// Upgrades in place whatever the mount's options (docs/upgrade.md): a write-back mount hands its staging
// directory over (staged blocks stay staged, the new process uploads them, each once, nothing acknowledged is
// lost), a writable mirror's mount continues both of its sessions, and a mount with --metrics on a fixed port
// passes its listening socket along (no scrape refused, the port answers after).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { daemonFile } from '../src/fuse/daemon.js';
import { controlSocketFor } from '../src/fuse/handover.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { CLI, formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { tool } from './helpers/tools.js';
import { startLoad, type LoadResult } from './helpers/upgrade-load.js';
import { alive } from './helpers/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function upgrade(mp: string, i: number): Promise<void> {
  const r = await run(process.execPath, [CLI, 'mount', '--upgrade', mp], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `upgrade ${i + 1}: ${r.stderr}`);
}

/** What the mount's processes logged: the first (foreground) one's output and the daemons' log file. */
function mountLog(mp: string, first: TestMount): string {
  const f = daemonFile('mount', mp, 'log');
  return first.output() + (existsSync(f) ? readFileSync(f, 'utf8') : '');
}

function checkLoad(what: string, r: LoadResult): void {
  process.stdout.write(`# ${what}: ${r.reads} reads, ${r.writes} acknowledged appends, ${r.errors.length} failed calls, longest stall ${r.worstMs.toFixed(1)} ms\n`);
  assert.ok(r.reads > 20, `only ${r.reads} reads ran`);
  assert.equal(r.mismatches, 0);
  assert.deepEqual(r.errors, []);
  assert.equal(r.missingCount, 0, `missing appends: ${r.missing.join(',')}`);
}

/** Unmounts whoever serves mp now (after upgrades, a daemon), waits for its supervisor to leave; returns the log. */
async function teardown(mp: string, first?: TestMount): Promise<string> {
  const pidFile = daemonFile('mount', mp, 'pid');
  const daemon = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
  const u = await run(process.execPath, [CLI, 'umount', mp], { timeoutMs: 120_000 });
  if (u.code !== 0) await unmountFuse(mp, { force: true }).catch(() => undefined);
  await first?.unmount();
  if (daemon) {
    const end = Date.now() + 60_000;
    while (alive(daemon) && Date.now() < end) await sleep(100);
    if (alive(daemon)) process.kill(daemon, 'SIGKILL');
  }
  const log = first ? mountLog(mp, first) : '';
  for (const ext of ['log', 'pid', 'json'] as const) rmSync(daemonFile('mount', mp, ext), { force: true });
  rmSync(controlSocketFor(mp), { force: true });
  assert.equal(await mountAt(mp), undefined, `${mp} still mounted`);
  return log;
}

describe('FUSE: upgrades in place of write-back, mirror and --metrics mounts', fuseTestOptions(), () => {
  let vol: TestVolume;

  before(async () => {
    vol = await formatVolume({ blockSize: 256 << 10 });
  });

  after(async () => {
    await vol?.cleanup();
  });

  test('write-back: staged blocks are handed over and uploaded once by the new process; every acknowledged write is kept', async () => {
    const mp = join(vol.dir, 'wb');
    const cacheDir = join(vol.dir, 'cache-wb');
    const stagingDir = async () => {
      const [uuid] = await readdir(cacheDir);
      return join(cacheDir, uuid!, 'staging');
    };
    const staged = async () => (await readdir(await stagingDir()).catch(() => [] as string[])).filter((n) => n !== '.lock' && !n.startsWith('.tmp.'));
    const m = await mountFerry(vol.url, mp, ['--writeback', '--cache-dir', cacheDir]);
    const blocks = join(vol.dir, 'blocks');
    let away = false;
    let log = '';
    const files = new Map<string, Buffer>();
    try {
      const load = startLoad(mp, vol.dir, { fsyncEach: false });
      await load.started;
      await until('the load\'s first blocks uploaded', async () => (await staged()).length === 0);
      // The object store "goes away" (its directory becomes a file): uploads fail and are retried, so the
      // blocks written now are still staged at the handovers.
      await rename(blocks, `${blocks}.away`);
      await writeFile(blocks, 'not a directory');
      away = true;
      await mkdir(join(mp, 'tree'));
      for (let i = 0; i < 20; i++) files.set(`tree/f${i}`, randomBytes(1000 + i * 37_000));
      for (const [name, data] of files) await writeFile(join(mp, name), data);
      const before = (await staged()).length;
      assert.ok(before >= 20, `only ${before} blocks staged`);
      for (let i = 0; i < 3; i++) {
        await upgrade(mp, i);
        await sleep(300);
      }
      // Handed over each time with blocks still staged, and taken over by the next process.
      const log1 = mountLog(mp, m);
      const handed = [...log1.matchAll(/write-back: handed \S+ over with (\d+) blocks staged/g)].map((x) => Number(x[1]));
      assert.equal(handed.length, 3, log1);
      for (const n of handed) assert.ok(n >= 20, `handed over with only ${n} blocks staged`);
      await rm(blocks);
      await rename(`${blocks}.away`, blocks);
      away = false;
      await until('the staged blocks to be uploaded', async () => (await staged()).length === 0, 60_000);
      checkLoad('write-back, 3 upgrades', await load.stop());
    } finally {
      if (away) {
        await rm(blocks, { force: true });
        await rename(`${blocks}.away`, blocks);
      }
      log = await teardown(mp, m);
    }
    // Every process's write-back counters (logged when it hands over or closes): each block staged is
    // uploaded once, or deleted before its upload, by exactly one of them.
    const sums = { uploaded: 0, cancelled: 0, staged: 0, corrupt: 0, lines: 0 };
    for (const x of log.matchAll(/write-back: (\d+) blocks \([^)]*\) pending, (\d+) \([^)]*\) uploaded, (\d+) deleted before upload, (\d+) recovered, (\d+) corrupt, .*?; (\d+) staged in/g)) {
      sums.lines++;
      sums.uploaded += Number(x[2]);
      sums.cancelled += Number(x[3]);
      sums.corrupt += Number(x[5]);
      sums.staged += Number(x[6]);
    }
    process.stdout.write(`# write-back counters over ${sums.lines} processes: ${JSON.stringify(sums)}\n`);
    assert.equal(sums.lines, 4, 'four processes served the mount');
    assert.equal(sums.corrupt, 0);
    assert.equal(sums.uploaded + sums.cancelled, sums.staged, 'every staged block uploaded (or deleted) exactly once');
    // From the object store alone.
    const p = join(vol.dir, 'plain-wb');
    const r = await mountFerry(vol.url, p);
    try {
      for (const [name, data] of files) assert.ok((await readFile(join(p, name))).equals(data), `${name} reads back from the object store`);
    } finally {
      await r.unmount();
    }
  });

  test('a writable mirror\'s mount is handed over: both sessions continue, the flock stays held', async () => {
    const src = `sqlite3://${join(vol.dir, 'src.db')}`;
    const mir = `sqlite3://${join(vol.dir, 'mir.db')}`;
    const ferry = (args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 60_000 });
    for (const args of [
      ['format', '--storage', `file://${join(vol.dir, 'mirror-blocks')}`, src, 'mirrored'],
      ['mirror', 'create', src, mir],
    ]) {
      const r = await ferry(args);
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    }
    const mp = join(vol.dir, 'mirror');
    const m = await mountFerry(mir, mp);
    try {
      const load = startLoad(mp, vol.dir, { fsyncEach: false });
      await load.started;
      for (let i = 0; i < 3; i++) {
        await upgrade(mp, i);
        await sleep(300);
      }
      const probe = await run(tool('python3'), ['-c', 'import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\ntry:\n  fcntl.flock(fd,fcntl.LOCK_EX|fcntl.LOCK_NB); print("got")\nexcept OSError: print("held")', join(mp, 'lock')]);
      assert.equal(probe.stdout.trim(), 'held', 'the flock held through the mirror mount survived the upgrades');
      checkLoad('mirror, 3 upgrades', await load.stop());
      assert.match(mountLog(mp, m), /took over \S+: requests paused/);
      // The source holds one session of this mount (the serving process's) and the standby's: none left over.
      const st = await ferry(['status', '--json', src]);
      assert.equal(st.code, 0, st.stderr);
      const sessions = (JSON.parse(st.stdout) as { sessions: Array<{ standby?: boolean; upgrades?: number }> }).sessions;
      assert.equal(sessions.filter((s) => s.standby !== true).length, 1, st.stdout);
    } finally {
      await teardown(mp, m);
    }
  });

  test('--metrics on a fixed port: the listening socket is passed along, no scrape fails, the port answers after', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const mp = join(vol.dir, 'metrics');
    const m = await mountFerry(vol.url, mp, ['--metrics', `127.0.0.1:${port}`]);
    const scrape = () =>
      new Promise<number>((res, rej) => {
        const req = get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (r) => {
          r.resume();
          r.once('end', () => res(r.statusCode ?? 0));
          r.once('error', rej);
        });
        req.once('error', rej);
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      });
    try {
      assert.equal(await scrape(), 200);
      let stop = false;
      const failures: string[] = [];
      let ok = 0;
      const loop = (async () => {
        while (!stop) {
          await scrape().then(
            (code) => (code === 200 ? ok++ : failures.push(`HTTP ${code}`)),
            (e: Error) => failures.push(e.message),
          );
          await sleep(10);
        }
      })();
      for (let i = 0; i < 3; i++) {
        await upgrade(mp, i);
        await sleep(300);
      }
      stop = true;
      await loop;
      process.stdout.write(`# --metrics ${port}, 3 upgrades: ${ok} scrapes answered, ${failures.length} failed\n`);
      assert.deepEqual(failures, []);
      assert.ok(ok > 10, `only ${ok} scrapes`);
      assert.equal(await scrape(), 200);
      // The process serving now is the one answering on the port (ferry stats reads its file).
      const served = JSON.parse(readFileSync(daemonFile('mount', mp, 'json').replace(/\.json$/, '.metrics.json'), 'utf8')) as { pid: number; metrics: string };
      assert.equal(served.metrics, `127.0.0.1:${port}`);
      assert.match(mountLog(mp, m), new RegExp(`ferry\\[${served.pid}\\]: took over`));
    } finally {
      await teardown(mp, m);
    }
  });
});
