// What the upgrade tests and bench/daemon-upgrade.ts share: a copy of the built CLI in a temp dir standing for
// "the installed ferry" (an upgrade re-executes the files on disk: a new version there, or a broken install),
// free ports, and the doors started from that copy as a user would (-d, or in the foreground).
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './mount.js';
export { alive } from './wait.js';

const DIST_SRC = fileURLToPath(new URL('../../src', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));

export interface Install {
  dir: string;
  main: string;
  /** Writes package.json's version (what `ferry --version` and the sessions report). */
  setVersion(v: string): Promise<void>;
  /** Replaces main.js with one that fails at once (a broken upgrade); repair() puts it back. */
  breakIt(): Promise<void>;
  repair(): Promise<void>;
  ferry(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

export async function install(version = '1.0.0'): Promise<Install> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-install-'));
  await cp(DIST_SRC, join(dir, 'dist', 'src'), { recursive: true });
  await symlink(NODE_MODULES, join(dir, 'node_modules'));
  const main = join(dir, 'dist', 'src', 'cli', 'main.js');
  const good = await readFile(main);
  const setVersion = (v: string) => writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'ferryfs', version: v, type: 'module' }) + '\n');
  await setVersion(version);
  return {
    dir,
    main,
    setVersion,
    breakIt: () => writeFile(main, "process.stderr.write('ferry: this install is broken\\n'); process.exit(3);\n"),
    repair: () => writeFile(main, good),
    ferry: (args, timeoutMs = 120_000) => run(process.execPath, [main, ...args], { timeoutMs }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A port free now (bound then released): -d daemons are named by their address, so port 0 would collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** The pid in `ferry: ... in the background (pid N, log FILE)`. */
export function backgroundPid(stderr: string): number {
  const m = /in the background \(pid (\d+),/.exec(stderr);
  if (!m) throw new Error(`no pid in: ${stderr}`);
  return Number(m[1]);
}

/** The new pid in `ferry: KIND upgraded: pid A -> B (upgrade N); ...`. */
export function upgradedPid(stdout: string): number {
  const m = /upgraded: pid \d+ -> (\d+) /.exec(stdout);
  if (!m) throw new Error(`no upgrade line in: ${stdout}`);
  return Number(m[1]);
}

/** A foreground door whose output goes to a file (its successors keep writing there after it exits). */
export async function foreground(i: Install, args: string[], logFile: string): Promise<ChildProcess> {
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, [i.main, ...args], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

/** A request loop running until stop(): counts successes, keeps the failures. */
export class Loop {
  ok = 0;
  readonly failures: string[] = [];
  readonly latencies: number[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(step: (i: number) => Promise<void>) {
    this.done = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const t = performance.now();
        try {
          await step(i);
          this.ok++;
          this.latencies.push(performance.now() - t);
        } catch (e) {
          this.failures.push(`#${i}: ${(e as Error)?.message ?? e} ${(e as { code?: string; cause?: { code?: string } }).code ?? (e as { cause?: { code?: string } }).cause?.code ?? ''}`);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
