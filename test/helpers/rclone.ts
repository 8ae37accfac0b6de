// Debian's rclone (tools.ts) on an S3 endpoint, with a config file the test writes: provider Other, the keys
// in the config (env_auth false), path-style requests. And the S3 clients (rclone, s3fs) share one clean
// environment: no AWS_* or RCLONE_* variables of the machine running the tests (an AWS_CA_BUNDLE there makes
// rclone 1.60 refuse to start: "LoadCustomCABundleError ... unsupported transport").
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './mount.js';
import { tool } from './tools.js';

export interface S3Target {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

/** process.env without the variables that would change what an S3 client does. */
export function cleanS3Env(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|RCLONE_)/.test(k)));
}

export interface Rclone {
  /** The remote's name in the config: `${remote}:bucket/path`. */
  remote: string;
  run(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs and asserts exit 0; returns stdout. */
  ok(args: string[], timeoutMs?: number): Promise<string>;
  /** Starts rclone without waiting (for a transfer to interrupt); `exit` resolves with its exit code. */
  start(args: string[]): { proc: ChildProcess; exit: Promise<number | null>; output(): string };
}

/** Writes `dir/rclone.conf` with one remote for `t` and returns a runner using it. */
export async function rcloneFor(dir: string, t: S3Target, remote = 'target'): Promise<Rclone> {
  const conf = join(dir, 'rclone.conf');
  await writeFile(
    conf,
    [`[${remote}]`, 'type = s3', 'provider = Other', 'env_auth = false', `access_key_id = ${t.accessKey}`, `secret_access_key = ${t.secretKey}`, `endpoint = ${t.endpoint}`, 'force_path_style = true', 'region = us-east-1', ''].join('\n'),
    { mode: 0o600 },
  );
  const env = { ...cleanS3Env(), HOME: dir };
  const full = (args: string[]) => ['--config', conf, ...args];
  const r: Rclone = {
    remote,
    run: (args, timeoutMs = 180_000) => run(tool('rclone'), full(args), { env, timeoutMs }),
    async ok(args, timeoutMs) {
      const x = await r.run(args, timeoutMs);
      assert.equal(x.code, 0, `rclone ${args.join(' ')} failed (${x.code}):\n${x.stderr}`);
      return x.stdout;
    },
    start(args) {
      const proc = spawn(tool('rclone'), full(args), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
      proc.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
      const exit = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
      return { proc, exit, output: () => out };
    },
  };
  return r;
}
