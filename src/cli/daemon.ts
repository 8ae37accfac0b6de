// -d/--log for every serving command (mount, gateway, cache serve, mirror run, meta-server): the user's process
// starts the same command line again as a detached child and waits for a handshake over IPC, so it exits 0 only
// once the child serves, and otherwise with the child's one error line and exit code. The child's output
// reaches its log file only from the moment it is ready: a start that fails leaves no log file behind and writes
// nothing into the log of a daemon already running under the same name (a refused second mount).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UPGRADE_FROM_ENV } from '../client/index.js';
import { daemonFile } from '../fuse/daemon.js';
import type { OptionSpec, Parsed } from './args.js';
import { daemonArgv } from './argv.js';
import { redactText } from './redact.js';

/** Set in the daemon child: the path of its pid file. */
const ENV = 'FERRY_DAEMON';
const START_TIMEOUT_MS = 60_000;

export const DAEMON_FLAGS: Record<string, OptionSpec> = {
  background: { type: 'boolean', short: 'd', help: 'run in the background as a daemon (log and pid file); returns once it serves' },
  log: { type: 'string', arg: 'FILE', help: 'log file of -d (default /var/log/ferry/NAME.log as root, ~/.ferry/NAME.log otherwise)' },
};

type Message = { ready: string } | { error: string; code: number };

/** True in a daemon started by daemonize() (its output goes to the log file). */
export function isDaemon(): boolean {
  return process.env[ENV] !== undefined && typeof process.send === 'function';
}

/**
 * Call before serving. With -d in the user's process: starts the daemon, waits until it is ready (or failed)
 * and returns true: the command is done. In the daemon, or without -d: returns false and the command serves.
 * kind and key name the daemon's log and pid files (`gateway`, `0.0.0.0:9000`).
 */
export async function daemonize(p: Parsed, kind: string, key: string): Promise<boolean> {
  if (isDaemon()) {
    holdOutput();
    return false;
  }
  if (p.values.background !== true) return false;
  const logFile = typeof p.values.log === 'string' ? resolve(p.values.log) : daemonFile(kind, key, 'log');
  const created = createLog(logFile);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // The same command line, -d included: in the child isDaemon() is true and the command serves. Its
    // secrets (URL passwords) go through the environment, not the world-readable argv (argv.ts).
    const argv = daemonArgv(process.argv.slice(2));
    child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv.args], {
      detached: true,
      stdio: ['ignore', fd, fd, 'ipc'],
      env: { ...process.env, ...argv.env, [ENV]: daemonFile(kind, key, 'pid') },
    });
  } finally {
    closeSync(fd);
  }
  const r = await handshake(child, logFile);
  if ('ready' in r) {
    child.unref();
    child.channel?.unref();
    process.stderr.write(`ferry: ${r.ready} in the background (pid ${child.pid}, log ${logFile})\n`);
    return true;
  }
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  created.undo();
  throw Object.assign(new Error(r.error), { exitCode: r.code });
}

/** Creates the log file (and its directory); undo() removes what was created if nothing was written. */
function createLog(logFile: string): { undo(): void } {
  const dir = dirname(logFile);
  const newDir = !existsSync(dir);
  const newFile = !existsSync(logFile);
  mkdirSync(dir, { recursive: true });
  return {
    undo() {
      try {
        if (newFile && statSync(logFile).size === 0) rmSync(logFile);
        if (newDir) rmdirSync(dir);
      } catch {
        // not empty (a crash wrote there, or another daemon): it stays
      }
    },
  };
}

function handshake(child: ChildProcess, logFile: string): Promise<Message> {
  return new Promise((res) => {
    const t = setTimeout(() => res({ error: `the daemon did not get ready within ${START_TIMEOUT_MS / 1000} s (see ${logFile})`, code: 1 }), START_TIMEOUT_MS);
    child.on('message', (m: Message) => {
      clearTimeout(t);
      res(m);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      const wrote = existsSync(logFile) && statSync(logFile).size > 0;
      res({ error: `the daemon ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it was ready${wrote ? ` (see ${logFile})` : ''}`, code: 1 });
    });
  });
}

// ---- in the daemon ----

let held: Array<() => void> | undefined;

/**
 * Until ready, the daemon's output is held back (and dropped if it fails: its error goes to the parent).
 * Lines on stderr get a timestamp: they are the log.
 */
function holdOutput(): void {
  held = [];
  let lineStart = true;
  // The log never keeps a password of a URL a line quotes.
  const stamp = (s: string) => {
    const out = redactText(s).replace(/\n(?=.)/g, () => `\n${new Date().toISOString()} `);
    const r = (lineStart ? `${new Date().toISOString()} ` : '') + out;
    lineStart = s.endsWith('\n');
    return r;
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = stream === process.stderr && (typeof chunk === 'string' || chunk instanceof Uint8Array) ? stamp(String(typeof chunk === 'string' ? chunk : Buffer.from(chunk))) : chunk;
      if (!held) return write(text, ...rest);
      held.push(() => write(text));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (cb) setImmediate(cb);
      return true;
    }) as typeof stream.write;
  }
}

/** True in a process an upgrade started (cli/upgrade.ts): the process it replaces waits for its ready. */
function isSuccessor(): boolean {
  return process.env[UPGRADE_FROM_ENV] !== undefined && process.connected;
}

/**
 * The daemon serves: writes its pid file (removed at exit), releases its output and lets the parent go. The
 * same in a process started by an upgrade, whose "parent" is the process it replaces (which drains then).
 */
export async function daemonReady(line: string): Promise<void> {
  if (!isDaemon()) {
    if (isSuccessor()) {
      await tellParent({ ready: line });
      process.disconnect?.();
    }
    return;
  }
  const pidFile = process.env[ENV]!;
  mkdirSync(dirname(pidFile), { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
  process.on('exit', () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
    } catch {
      // gone already
    }
  });
  const out = held ?? [];
  held = undefined;
  for (const w of out) w();
  await tellParent({ ready: line });
  process.disconnect?.();
}

/** The daemon failed before it was ready: its error line goes to the parent (printed there, not logged). */
export async function daemonFailed(error: string, code: number): Promise<void> {
  if ((isDaemon() || isSuccessor()) && process.connected) await tellParent({ error, code });
}

function tellParent(m: Message): Promise<void> {
  return new Promise((res) => {
    if (!process.connected) return res();
    process.send!(m, undefined, {}, () => res());
  });
}
