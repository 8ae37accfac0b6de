// Running the built `ferry` (dist/src/cli/main.js) as a user does: a spawned process with no terminal, its
// exit code, stdout and stderr; and the checks every CLI test makes on them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A temporary directory removed after the test file. */
export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
  dirs.push(d);
  return d;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `as` runs it as another user (the tests run as root, which permission bits do not stop). */
export function ferry(cwd: string, args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }): Run {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    encoding: 'utf8',
    // No terminal: stdin closed, output captured (as in CI).
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_DEBUG: '', ...env },
    maxBuffer: 64 << 20,
    timeout: 60_000,
    ...as,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms };
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `expected success, got ${r.code}: ${r.stderr}`);
  return r;
}

/** A user mistake: non-zero exit, exactly one line on stderr starting with `ferry: `, no stack trace. */
export function oneLineError(r: Run, code: number | undefined, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got success: ${r.stdout}`);
  if (code !== undefined) assert.equal(r.code, code, `exit code ${r.code}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^ferry: /, r.stderr);
  assert.match(lines[0]!, pattern, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, r.stderr);
  assert.doesNotMatch(r.stderr, /Error:/, r.stderr);
}

/** Every regular file under dir (recursively), as absolute paths; none when dir does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name));
  return out;
}
