// The processes bench:cache runs: reader processes (bench/cache-reader.ts) started together, and the real
// `ferry` CLI (format, warmup, ...) run to completion.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReaderJob, ReaderResult } from './cache-reader.js';

const READER = fileURLToPath(new URL('./cache-reader.js', import.meta.url));
export const FERRY = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Every child started here, so the benchmark can kill what is left whatever happens. */
const children = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

interface Reader {
  proc: ChildProcess;
  result: Promise<ReaderResult>;
}

function startReader(job: ReaderJob): Promise<Reader> {
  const proc = spawn(process.execPath, [READER, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': the last lines of stdout may arrive after the exit event.
  const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  const lineOf = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const m = new RegExp(`^${prefix}(.*)$`, 'm').exec(out);
        if (m) resolve(m[1]!);
      };
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        look();
      });
      look();
      void exited.then((code) => reject(new Error(`reader exited with ${code} before '${prefix.trim()}': ${err.trim()}`)));
    });
  const ready = lineOf('ready');
  const result = lineOf('result ').then((j) => JSON.parse(j) as ReaderResult);
  result.catch(() => undefined);
  return ready.then(() => ({ proc, result }));
}

/**
 * Starts one process per job, waits until all have opened the volume, then lets them go at once. Returns
 * the wall time from "go" to the last result, and the results in job order.
 */
export async function runReaders(jobs: ReaderJob[]): Promise<{ ms: number; results: ReaderResult[] }> {
  const readers = await Promise.all(jobs.map(startReader));
  const t0 = performance.now();
  for (const r of readers) r.proc.stdin!.end('go\n');
  const results = await Promise.all(readers.map((r) => r.result));
  const ms = performance.now() - t0;
  await Promise.all(readers.map((r) => (r.proc.exitCode === null ? new Promise((res) => r.proc.once('close', res)) : undefined)));
  return { ms, results };
}

/** Runs `ferry ARGS...` to completion; its stdout, or an error carrying its stderr. */
export function ferry(args: string[]): Promise<string> {
  const proc = spawn(process.execPath, [FERRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    proc.once('close', (code) => {
      children.delete(proc);
      if (code === 0) resolve(out);
      else reject(new Error(`ferry ${args[0]} exited with ${code}: ${err.trim()}`));
    });
  });
}
