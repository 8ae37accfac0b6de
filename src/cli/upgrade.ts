// Upgrading a running door (gateway, webhdfs, meta-server) without refusing a request: SIGUSR2, or
// `ferry KIND --upgrade ADDRESS|PID` which sends it and reports the outcome.
//
// The old process starts `process.execPath` with the same script path and arguments (so the files on disk now:
// the upgraded install), its stdout/stderr (a -d daemon's log) and environment (secrets travel there, never in
// argv: a -d daemon's argv was scrubbed by daemonArgv, and the new process inherits that environment), plus an
// IPC channel. The new process opens its volume, asks for the listening socket (client/listen.ts hands it over),
// serves, and says ready over the channel exactly as a -d daemon tells the user's process (daemon.ts: it also
// writes the pid file then, so the daemon files name the new process). Only then does the old process drain
// and exit. If the new process fails (bad config, a crash, no ready within the start timeout) the old one keeps
// serving and logs one line. The outcome goes to a small file (upgrade-PID.json beside the daemon files) that
// `--upgrade` waits for.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenerFor, UPGRADE_FROM_ENV, UPGRADES_ENV, upgradesSoFar } from '../client/index.js';

export { upgradesSoFar };
import { daemonDir, daemonFile } from '../fuse/daemon.js';
import { str, UsageError, type OptionSpec, type Parsed } from './args.js';

const START_TIMEOUT_MS = 60_000;

export interface UpgradeResult {
  ok: boolean;
  /** The process serving now (the new one on success, the old one otherwise). */
  pid: number;
  upgrades: number;
  error?: string;
}

type ChildMessage = { ready: string } | { error: string; code: number };

/** Where the process with this pid writes the outcome of the upgrade it was asked for. */
export function resultFile(pid: number): string {
  return join(daemonDir(), `upgrade-${pid}.json`);
}

/**
 * Call first in a door's run: a SIGUSR2 before it serves (node's default would kill it) is answered "not yet"
 * until serveUntilStopped takes the signal over.
 */
export function refuseUpgradesWhileStarting(name: string): void {
  starting = () => {
    process.stderr.write(`ferry ${name}: SIGUSR2 ignored: still starting\n`);
    writeResult({ ok: false, pid: process.pid, upgrades: upgradesSoFar(), error: 'it is still starting; try again once it serves' });
  };
  process.on('SIGUSR2', starting);
}

let starting: (() => void) | undefined;

/**
 * Serves until SIGINT/SIGTERM ('stop') or until a SIGUSR2 upgrade has a new process serving ('upgraded');
 * the caller then closes (drains) and returns. name is what the log lines call this door.
 */
export function serveUntilStopped(name: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<'stop' | 'upgraded'> {
  return new Promise((resolve) => {
    let upgrading = false;
    const finish = (how: 'stop' | 'upgraded') => {
      process.off('SIGINT', onStop);
      process.off('SIGTERM', onStop);
      process.off('SIGUSR2', onUpgrade);
      resolve(how);
    };
    const onStop = () => finish('stop');
    const onUpgrade = () => {
      if (upgrading) return log(`ferry ${name}: an upgrade is already under way; SIGUSR2 ignored`);
      upgrading = true;
      void startSuccessor().then((r) => {
        upgrading = false;
        writeResult(r);
        if (r.ok) {
          log(`ferry ${name}: upgraded: pid ${r.pid} serves now (upgrade ${r.upgrades}); pid ${process.pid} finishes its requests and exits`);
          finish('upgraded');
        } else log(`ferry ${name}: upgrade failed, still serving (pid ${process.pid}): ${r.error}`);
      });
    };
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
    process.on('SIGUSR2', onUpgrade);
    if (starting) process.off('SIGUSR2', starting);
    starting = undefined;
  });
}

/** Starts this command line again from the files on disk, hands it the listening sockets, waits for its ready. */
function startSuccessor(): Promise<UpgradeResult> {
  const upgrades = upgradesSoFar() + 1;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [UPGRADE_FROM_ENV]: String(process.pid), [UPGRADES_ENV]: String(upgrades) },
    });
  } catch (e) {
    return Promise.resolve({ ok: false, pid: process.pid, upgrades: upgradesSoFar(), error: `cannot start ${process.execPath}: ${(e as Error).message}` });
  }
  return new Promise((resolve) => {
    const failed = (error: string) => {
      clearTimeout(t);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      resolve({ ok: false, pid: process.pid, upgrades: upgradesSoFar(), error });
    };
    const t = setTimeout(() => failed(`the new process (pid ${child.pid}) did not get ready within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.on('error', (e) => failed(`cannot start ${process.execPath}: ${e.message}`));
    child.on('exit', (code, signal) => failed(`the new process (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it was ready`));
    child.on('message', (m: unknown, handle: unknown) => {
      void handle;
      const ask = listenerFor(m);
      if (ask) {
        // The listening socket for that address, when this process has one (else the new one binds afresh).
        if (ask.server) child.send({ ferryListener: ask.addr }, ask.server);
        else child.send({ ferryListener: ask.addr });
        return;
      }
      const msg = m as ChildMessage;
      if ('error' in msg) return failed(`the new process failed: ${msg.error}`);
      if ('ready' in msg) {
        clearTimeout(t);
        child.removeAllListeners('exit');
        child.unref();
        child.channel?.unref();
        resolve({ ok: true, pid: child.pid!, upgrades });
      }
    });
  });
}

function writeResult(r: UpgradeResult): void {
  try {
    mkdirSync(daemonDir(), { recursive: true });
    writeFileSync(resultFile(process.pid), JSON.stringify(r) + '\n');
  } catch {
    // nobody can be waiting for it: --upgrade needs that directory too
  }
}

/**
 * `ferry KIND --upgrade ADDRESS|PID`: signals the running door (found by its daemon pid file, or given by pid)
 * and waits for the outcome. Returns the line to print on success; throws one line on failure.
 */
export async function requestUpgrade(kind: string, target: string, timeoutMs = START_TIMEOUT_MS + 30_000): Promise<string> {
  const pid = pidOf(kind, target);
  const file = resultFile(pid);
  rmSync(file, { force: true });
  try {
    process.kill(pid, 'SIGUSR2');
  } catch (e) {
    throw new Error(`cannot signal pid ${pid}: ${(e as NodeJS.ErrnoException).code === 'ESRCH' ? 'no such process' : (e as Error).message}`);
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    if (existsSync(file)) {
      let r: UpgradeResult;
      try {
        r = JSON.parse(readFileSync(file, 'utf8')) as UpgradeResult;
      } catch {
        continue; // being written
      }
      rmSync(file, { force: true });
      if (!r.ok) throw new Error(`upgrade of ${kind} pid ${pid} failed (it still serves): ${r.error}`);
      return `ferry: ${kind} upgraded: pid ${pid} -> ${r.pid} (upgrade ${r.upgrades}); pid ${pid} drains and exits`;
    }
    if (!alive(pid)) throw new Error(`${kind} pid ${pid} exited without upgrading (see its log)`);
  }
  throw new Error(`${kind} pid ${pid} did not report on the upgrade within ${timeoutMs / 1000} s (see its log)`);
}

/** A pid given as such, or the one in the daemon pid file of KIND at ADDRESS (`ferry KIND ... -d` wrote it). */
function pidOf(kind: string, target: string): number {
  if (/^\d+$/.test(target) && !existsSync(daemonFile(kind, target, 'pid'))) return Number(target);
  const file = daemonFile(kind, target, 'pid');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no ${kind} daemon at ${target} (no ${file}); give the address it was started with, or its pid`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) throw new Error(`the ${kind} daemon at ${target} is not running (stale ${file})`);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const UPGRADE_FLAGS: Record<string, OptionSpec> = {
  upgrade: {
    type: 'string',
    arg: 'ADDRESS|PID',
    help: 'upgrade the running one at ADDRESS (as it was started) or with this pid: the installed ferry takes its socket over, the old one drains (no request refused)',
  },
};

/** `--upgrade ADDRESS|PID`: asks the running door and prints the outcome; true when that was the command. */
export async function upgradeIfAsked(p: Parsed, kind: string): Promise<boolean> {
  const target = str(p, 'upgrade');
  if (target === undefined) return false;
  if (p.args.length) throw new UsageError(`--upgrade takes no other argument (usage is 'ferry ${kind} --upgrade ADDRESS|PID')`);
  if (!target) throw new UsageError(`--upgrade needs the ADDRESS the ${kind} was started with, or its pid`);
  process.stdout.write((await requestUpgrade(kind, target)) + '\n');
  return true;
}

/** Serves until stopped or upgraded, then drains with close (its errors one line on stderr). */
export async function serveThenClose(name: string, close: (handedOver: boolean) => Promise<void>): Promise<void> {
  const how = await serveUntilStopped(name);
  if (how === 'stop') process.stdout.write(`ferry ${name}: shutting down (finishing requests in flight)\n`);
  await close(how === 'upgraded').catch((e: unknown) => process.stderr.write(`ferry ${name}: ${(e as Error)?.message ?? String(e)}\n`));
}
