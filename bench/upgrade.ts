// bench:upgrade — the stall an application sees while its mount is upgraded in place (ferry mount --upgrade),
// while the mount recovers from a kill -9 of its serving process, and, as the baseline, while the mount is
// unmounted and mounted again (what an upgrade meant before, docs/upgrade.md). A python reader does 4 KiB
// preads of a file held open in a loop (reopening it when a call fails) and logs every gap between two
// successful reads longer than 1 ms; a try's stall is the longest gap overlapping it. Small by default on
// this shared machine (5 tries each, 3 remounts); --full: 20 tries each.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { daemonFile } from '../src/fuse/daemon.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { CLI, formatVolume, mountFerry, run, type TestMount } from '../test/helpers/mount.js';
import { tool } from '../test/helpers/tools.js';

const full = process.argv.includes('--full');
const TRIES = full ? 20 : 5;
const REMOUNTS = full ? 20 : 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const READER = String.raw`
import os, sys, time, json
path, stopfile = sys.argv[1], sys.argv[2]
fails = []
def gone():
    return not os.path.isdir(os.path.dirname(stopfile))
def opened():
    while not gone():
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            fails.append(time.time())
            time.sleep(0.001)
fd = opened()
print('started', flush=True)
last = time.time()
gaps = []
off = 0
while not os.path.exists(stopfile) and not gone():
    try:
        os.pread(fd, 4096, off)
        now = time.time()
        if now - last > 0.001:
            gaps.append((last, now))
        last = now
    except OSError as e:
        fails.append(time.time())
        try: os.close(fd)
        except OSError: pass
        fd = opened()
    off = (off + 4096) % (1 << 20)
print(json.dumps({'gaps': gaps, 'fails': fails}), flush=True)
`;

interface Reader {
  started: Promise<void>;
  stop(): Promise<{ gaps: Array<[number, number]>; fails: number[] }>;
}

function startReader(file: string, scratch: string): Reader {
  const stopFile = join(scratch, `stop-${Date.now()}`);
  const c = spawn(tool('python3'), ['-c', READER, file, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  const started = (async () => {
    while (!out.includes('started')) await sleep(20);
  })();
  return {
    started,
    async stop() {
      await writeFile(stopFile, '');
      await exited;
      return JSON.parse(out.trim().split('\n').pop()!) as { gaps: Array<[number, number]>; fails: number[] };
    },
  };
}

/** Per try [t0, t1] (seconds): the longest gap between successful reads overlapping it, and failed calls in it. */
function stalls(windows: Array<[number, number]>, r: { gaps: Array<[number, number]>; fails: number[] }): { ms: number[]; failed: number } {
  const ms = windows.map(([a, b]) => Math.max(0, ...r.gaps.filter(([g0, g1]) => g1 >= a && g0 <= b + 0.5).map(([g0, g1]) => (g1 - g0) * 1000)));
  const failed = r.fails.filter((t) => windows.some(([a, b]) => t >= a && t <= b + 5)).length;
  return { ms, failed };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

async function prepare(mp: string): Promise<string> {
  const f = join(mp, 'data.bin');
  await writeFile(f, Buffer.alloc(1 << 20, 7));
  return f;
}

async function stopDaemon(mp: string, first?: TestMount): Promise<void> {
  const pidFile = daemonFile('mount', mp, 'pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
  await unmountFuse(mp, { force: true }).catch(() => undefined);
  await first?.unmount();
  for (let i = 0; pid && i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await sleep(100);
  }
}

const now = () => Date.now() / 1000;

async function main(): Promise<void> {
  const vol = await formatVolume();
  const rows: Array<[string, number, number[], number]> = [];
  const pauses: number[] = [];
  const prepares: number[] = [];
  try {
    // Upgrade in place.
    {
      const mp = join(vol.dir, 'up');
      const m = await mountFerry(vol.url, mp);
      try {
        const rd = startReader(await prepare(mp), vol.dir);
        await rd.started;
        const w: Array<[number, number]> = [];
        for (let i = 0; i < TRIES; i++) {
          const t0 = now();
          const r = await run(process.execPath, [CLI, 'mount', '--upgrade', mp], { timeoutMs: 120_000 });
          if (r.code !== 0) throw new Error(`upgrade failed: ${r.stderr}`);
          w.push([t0, now()]);
          await sleep(300);
        }
        const got = await rd.stop();
        const s = stalls(w, got);
        rows.push(['upgrade (ferry mount --upgrade)', TRIES, s.ms, s.failed]);
        // The gap around the handover itself (the old process stopped reading -> the new one served, as the
        // new one logged it): what the upgrade costs a reader, without the CPU others take meanwhile.
        const served = [...readFileSync(daemonFile('mount', mp, 'log'), 'utf8').matchAll(/^(\S+) ferry\[\d+\]: took over \S+: requests paused (\d+) ms/gm)].map((x) => [Date.parse(x[1]!) / 1000 - Number(x[2]) / 1000, Date.parse(x[1]!) / 1000] as const);
        const at = served.map(([a, b]) => Math.max(0, ...got.gaps.filter(([g0, g1]) => g1 >= a - 0.002 && g0 <= b + 0.002).map(([g0, g1]) => (g1 - g0) * 1000)));
        rows.push(['  the gap around the handover itself', served.length, at, 0]);
        // Where the time goes: the pause itself as the processes measured it (old one stops reading -> new
        // one serves), and how long the new serving process took to get ready before it asked.
        const log = readFileSync(daemonFile('mount', mp, 'log'), 'utf8');
        pauses.push(...[...log.matchAll(/requests paused (\d+) ms/g)].map((x) => Number(x[1])));
        prepares.push(...[...log.matchAll(/upgrade \d+ of \S+ done, (\d+) ms after starting/g)].map((x) => Number(x[1])));
      } finally {
        await stopDaemon(mp, m);
      }
    }
    // Crash recovery.
    {
      const mp = join(vol.dir, 'crash');
      const m = await mountFerry(vol.url, mp);
      try {
        const rd = startReader(await prepare(mp), vol.dir);
        await rd.started;
        const w: Array<[number, number]> = [];
        const seen = (re: RegExp) => [...m.output().matchAll(new RegExp(re.source, 'g'))].length;
        for (let i = 0; i < TRIES; i++) {
          while (seen(/standby serving process ready/) <= i) await sleep(50);
          const pids = [...m.output().matchAll(/serving pid (\d+)|recovered .* \(pid (\d+)\)/g)];
          const last = pids[pids.length - 1]!;
          await sleep(200);
          const t0 = now();
          process.kill(Number(last[1] ?? last[2]), 'SIGKILL');
          while (seen(/recovered \S+ in \d+ ms/) <= i) await sleep(20);
          w.push([t0, now()]);
        }
        const s = stalls(w, await rd.stop());
        rows.push(['crash recovery (kill -9 serving process)', TRIES, s.ms, s.failed]);
      } finally {
        await stopDaemon(mp, m);
      }
    }
    // Baseline: what an upgrade was before: the old daemon goes away (its connection ends: open files fail
    // with ENOTCONN), `ferry umount` cleans up, `ferry mount -d` mounts the new version; the reader reopens.
    {
      const mp = join(vol.dir, 'remount');
      const m = await mountFerry(vol.url, mp);
      await m.unmount();
      const mountD = async () => {
        const r = await run(process.execPath, [CLI, 'mount', '-d', '-o', 'allow_other', vol.url, mp], { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`mount failed: ${r.stderr}`);
      };
      await mountD();
      try {
        const rd = startReader(await prepare(mp), vol.dir);
        await rd.started;
        const w: Array<[number, number]> = [];
        for (let i = 0; i < REMOUNTS; i++) {
          const t0 = now();
          // The old daemon dies as a whole (supervisor and serving processes): its connection ends.
          const pid = Number(readFileSync(daemonFile('mount', mp, 'pid'), 'utf8'));
          const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
          for (const p of [pid, ...kids]) process.kill(p, 'SIGKILL');
          const u = await run(process.execPath, [CLI, 'umount', '--force', mp], { timeoutMs: 60_000 });
          if (u.code !== 0) throw new Error(`umount failed: ${u.stderr}`);
          await stopDaemon(mp);
          await mountD();
          w.push([t0, now()]);
          await sleep(500);
        }
        const s = stalls(w, await rd.stop());
        rows.push(['unmount + mount (baseline)', REMOUNTS, s.ms, s.failed]);
      } finally {
        await stopDaemon(mp);
      }
    }
  } finally {
    await vol.cleanup();
  }
  const head = ['what', 'tries', 'p50 ms', 'p99 ms', 'max ms', 'failed calls'];
  const body = rows.map(([w, n, ms, f]) => [w, String(n), pct(ms, 50).toFixed(0), pct(ms, 99).toFixed(0), Math.max(...ms).toFixed(0), String(f)]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  console.log(`stall of a 4 KiB read loop (${full ? 'full' : 'short; --full for 20 tries each'}); goals: upgrade < 100 ms with 0 failed calls, recovery < 2000 ms`);
  console.log(line(head));
  for (const r of body) console.log(line(r));
  const pp = (xs: number[]) => (xs.length ? `p50 ${pct(xs, 50)} ms, max ${Math.max(...xs)} ms` : 'none logged');
  console.log(`upgrade breakdown: requests paused (old process stops -> new one serves, from the mount's log) ${pp(pauses)}; new serving process start to serving ${pp(prepares)}`);
  if (await mountAt(join(vol.dir, 'up'))) console.log('warning: a mount was left behind');
}

await main();
