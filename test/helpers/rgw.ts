// The Ceph RADOS Gateway the S3 tests run against (started by `bash scripts/rgw.sh start`, or by .ci/run).
// Endpoint and keys come from the environment, defaulting to what scripts/rgw.sh sets up.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ObjectOptions } from '../../src/object/index.js';

export const RGW_ENDPOINT = process.env.FERRY_S3_ENDPOINT ?? 'http://127.0.0.1:7480';
export const RGW_ACCESS_KEY = process.env.FERRY_RGW_ACCESS_KEY ?? 'FERRYTESTACCESSKEY01';
export const RGW_SECRET_KEY = process.env.FERRY_RGW_SECRET_KEY ?? 'ferry-test-secret-key-0123456789abcdefgh';

export function rgwOptions(): ObjectOptions {
  return { endpoint: RGW_ENDPOINT, pathStyle: true, region: 'us-east-1', accessKey: RGW_ACCESS_KEY, secretKey: RGW_SECRET_KEY };
}

/** A fresh bucket name per test run, so runs never see each other's objects. */
export function rgwBucket(tag: string): string {
  return `ferry-${tag}-${randomBytes(4).toString('hex')}`;
}

/**
 * Throws (failing the test) when the gateway does not answer: under CI it must have been started by
 * .ci/setup.d/10-ceph-rgw.sh; by hand the message says what to run.
 */
export async function requireRgw(): Promise<void> {
  try {
    const res = await fetch(`${RGW_ENDPOINT}/`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
  } catch {
    if (process.env.CI === 'true') throw new Error(`the Ceph RADOS Gateway at ${RGW_ENDPOINT} does not answer (.ci/setup.d/10-ceph-rgw.sh should have started it)`);
    throw new Error(`no S3 server at ${RGW_ENDPOINT}: start one with 'bash scripts/rgw.sh start'`);
  }
}

// ---- running `ferry` as a user does, for the bad-input tests of the object layer ----

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function ferry(cwd: string, args: string[], env: Record<string, string | undefined> = {}): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_DEBUG: '', ...env },
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `expected success, got ${r.code}: ${r.stderr}`);
  return r;
}

/** Non-zero exit, exactly one `ferry: ` line on stderr matching pattern, no stack trace. */
export function oneLineError(r: Run, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got success`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^ferry: /, r.stderr);
  assert.match(lines[0]!, pattern, r.stderr);
}
