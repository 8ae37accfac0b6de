// A handover from the previous commit's build to this one (two checkouts), so a change of the handover
// messages (src/fuse/handover.ts) that does not bump HANDOVER_PROTOCOL is caught: the previous commit is
// extracted with `git archive` into a temp dir (node_modules linked, TypeScript built, the addon copied when its
// source is unchanged, else built), mounted with its CLI, and taken over with this build's `ferry mount
// --upgrade` under a reader/appender load. When the previous commit predates the handover protocol, the newest
// ancestor that has it is used, and the test says so.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { daemonFile } from '../src/fuse/daemon.js';
import { HANDOVER_PROTOCOL } from '../src/fuse/handover.js';
import { mountAt, unmountFuse } from '../src/fuse/teardown.js';
import { CLI, formatVolume, fuseTestOptions, run, supervise, type TestMount, type TestVolume } from './helpers/mount.js';
import { startLoad } from './helpers/upgrade-load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HANDOVER = 'src/fuse/handover.ts';
const ADDON = 'src/fuse/native/build/Release/ferry_fuse.node';

const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();

/** The build to upgrade from: HEAD~1, or the newest ancestor with the handover protocol; undefined if none. */
function previousBuild(): { commit: string; note: string } | undefined {
  const has = (c: string) => {
    try {
      git('cat-file', '-e', `${c}:${HANDOVER}`);
      return true;
    } catch {
      return false;
    }
  };
  let prev: string;
  try {
    prev = git('rev-parse', 'HEAD~1');
  } catch {
    return undefined; // a shallow clone: no history to build from
  }
  if (has(prev)) return { commit: prev, note: `the previous commit ${prev.slice(0, 10)}` };
  // HEAD~1 predates the protocol (e.g. the merge that brings it): the newest other ancestor that has it.
  const head = git('rev-parse', 'HEAD');
  const found = git('log', '--format=%H', 'HEAD', '--', HANDOVER)
    .split('\n')
    .find((c) => c && c !== head && has(c));
  return found ? { commit: found, note: `${prev.slice(0, 10)} predates the handover protocol: using the newest ancestor that has it, ${found.slice(0, 10)}` } : undefined;
}

function buildAt(commit: string, dir: string): void {
  execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', ROOT, commit, dir]);
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'inherit' });
  const same = ['ferry_fuse.cc', 'abi.gen.h', 'binding.gyp'].every((f) => {
    const a = join(ROOT, 'src/fuse/native', f);
    const b = join(dir, 'src/fuse/native', f);
    return existsSync(b) && readFileSync(a).equals(readFileSync(b));
  });
  if (same && existsSync(join(ROOT, ADDON))) {
    mkdirSync(join(dir, 'src/fuse/native/build/Release'), { recursive: true });
    copyFileSync(join(ROOT, ADDON), join(dir, ADDON));
  } else {
    execFileSync(process.execPath, [join(dir, 'src/fuse/native/build.mjs')], { cwd: dir, stdio: 'inherit' });
  }
}

describe('FUSE: upgrade from the previous commit\'s build', fuseTestOptions(), () => {
  const prev = existsSync(join(ROOT, '.git')) ? previousBuild() : undefined;
  let vol: TestVolume;
  let dir: string;

  before(async () => {
    vol = await formatVolume();
    dir = mkdtempSync(join(tmpdir(), 'ferry-prev-build-'));
  });

  after(async () => {
    await vol?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a mount served by the previous build is handed over to this one without a failed call', { skip: prev ? undefined : 'no git history with the handover protocol' }, async () => {
    process.stdout.write(`# upgrading from ${prev!.note}\n`);
    buildAt(prev!.commit, dir);
    const oldCli = join(dir, 'dist/src/cli/main.js');
    const mp = join(vol.dir, 'mnt');
    mkdirSync(mp);
    const child = spawn(process.execPath, [oldCli, 'mount', '-o', 'allow_other', vol.url, mp], { stdio: ['ignore', 'pipe', 'pipe'] });
    let m: TestMount | undefined;
    try {
      m = await supervise(child, mp, 'the previous build\'s ferry mount');
      const load = startLoad(mp, vol.dir, { fsyncEach: false });
      await load.started;
      const oldProtocol = Number(/HANDOVER_PROTOCOL = (\d+)/.exec(readFileSync(join(dir, HANDOVER), 'utf8'))![1]);
      const r = await run(process.execPath, [CLI, 'mount', '--upgrade', mp], { timeoutMs: 120_000 });
      if (oldProtocol === HANDOVER_PROTOCOL) {
        assert.equal(r.code, 0, `same protocol ${HANDOVER_PROTOCOL}, but the handover failed: ${r.stderr}`);
      } else {
        // A new protocol version: refused in one line, the old build keeps serving.
        assert.equal(r.code, 1);
        assert.match(r.stderr, /speaks handover protocol/);
      }
      await new Promise((res) => setTimeout(res, 500));
      const res = await load.stop();
      process.stdout.write(`# after the handover: ${res.reads} reads, ${res.writes} appends, ${res.errors.length} failed calls, longest stall ${res.worstMs.toFixed(0)} ms\n`);
      assert.equal(res.mismatches, 0);
      assert.deepEqual(res.errors, []);
      assert.equal(res.missingCount, 0);
    } finally {
      const pidFile = daemonFile('mount', mp, 'pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
      await unmountFuse(mp, { force: true }).catch(() => undefined);
      if (m) await m.unmount();
      else child.kill('SIGKILL');
      for (let i = 0; pid && i < 150; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      for (const ext of ['log', 'pid', 'json'] as const) rmSync(daemonFile('mount', mp, ext), { force: true });
      assert.equal(await mountAt(mp), undefined);
    }
  });
});
