// A long-running `ferry` command (cache serve, meta-server, mirror run) started as a child process: waits for
// the line that says where it serves, keeps its output, stops it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Served {
  proc: ChildProcess;
  /** The first group of `ready` in the output. */
  address: string;
  output(): string;
  /** SIGTERM (a clean stop) or SIGKILL (a crash), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `ferry ARGS...` until its output matches `ready` (within 60 s), or fails with its output. */
export async function ferryServe(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ferry ${args[0]} did not start: ${out}`));
    }, 60_000);
    const look = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', look);
    proc.stderr!.on('data', look);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry ${args[0]} exited with ${code}: ${out}`));
    });
  });
  return {
    proc,
    address,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}
