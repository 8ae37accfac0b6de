// The workload of `ferry bench` (that of `juicefs bench`), written once over a small path-based file API that
// both node:fs/promises (a FUSE mount) and the SDK's Volume satisfy: each of `threads` workers writes a big
// file in `blockSize` writes and reads it back, then writes, reads and stats many small files. Every file and
// the directory are removed afterwards, whatever happened. With a probe, the metadata calls and object
// requests of each stage are reported beside it.
import { randomBytes } from 'node:crypto';
import type { ProbeSnapshot } from './probe.js';

export interface BenchHandle {
  write(buf: Buffer, offset: number, length: number, position: number): Promise<unknown>;
  read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** What the workload needs of a file system; paths are joined with '/'. */
export interface BenchFs {
  mkdir(path: string): Promise<unknown>;
  open(path: string, flags: 'w' | 'r'): Promise<BenchHandle>;
  stat(path: string): Promise<unknown>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
}

export interface BenchOptions {
  /** The directory the bench's own directory is made in (it must exist). */
  dir: string;
  threads: number;
  bigFileSize: number;
  blockSize: number;
  smallFileSize: number;
  smallFileCount: number;
  /** Counted and timed per stage when given (a client's probe: metadata calls and object requests). */
  probe?: { reset(): void; snapshot(): ProbeSnapshot };
  /** Stops the workload (Ctrl-C): the files made so far are still removed. */
  signal?: AbortSignal;
  /** A line per stage as it starts. */
  progress?: (stage: string) => void;
}

export interface BenchStage {
  stage: string;
  files: number;
  bytes: number;
  seconds: number;
  /** Bytes per second over all threads (0 for stat). */
  bytesPerSec: number;
  filesPerSec: number;
  /** Mean time of one file's operation (a whole file written or read, one stat), in milliseconds. */
  msPerFile: number;
  /** What the client asked of the engine and the store during the stage (with a probe). */
  behind?: ProbeSnapshot;
}

export interface BenchResult {
  dir: string;
  threads: number;
  bigFileSize: number;
  blockSize: number;
  smallFileSize: number;
  smallFileCount: number;
  stages: BenchStage[];
  /** The bench directory was removed with every file in it. */
  cleanedUp: boolean;
}

const join = (dir: string, name: string) => (dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`);

async function writeWhole(fs: BenchFs, path: string, size: number, block: Buffer, signal?: AbortSignal): Promise<void> {
  const h = await fs.open(path, 'w');
  try {
    for (let pos = 0; pos < size; pos += block.length) {
      signal?.throwIfAborted(); // a big file stops at the next block, not at its end
      await h.write(block, 0, Math.min(block.length, size - pos), pos);
    }
  } finally {
    await h.close();
  }
}

async function readWhole(fs: BenchFs, path: string, size: number, buf: Buffer, signal?: AbortSignal): Promise<void> {
  const h = await fs.open(path, 'r');
  try {
    let pos = 0;
    while (pos < size) {
      signal?.throwIfAborted();
      const { bytesRead } = await h.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new Error(`${path}: ended at ${pos} of ${size} bytes`);
      pos += bytesRead;
    }
  } finally {
    await h.close();
  }
}

export async function runBench(fs: BenchFs, o: BenchOptions): Promise<BenchResult> {
  const dir = join(o.dir, `__ferry_bench_${Date.now()}_${randomBytes(3).toString('hex')}__`);
  const block = randomBytes(o.blockSize); // random: compression cannot flatter the figures
  const made: string[] = [];
  const stages: BenchStage[] = [];
  let cleanedUp = false;

  /** Runs `perThread` operations in each of the threads, timing each; the probe is read around the stage. */
  const stage = async (name: string, perThread: number, bytesEach: number, op: (t: number, i: number, buf: Buffer) => Promise<void>) => {
    o.progress?.(name);
    o.probe?.reset();
    let sum = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.threads }, async (_, t) => {
        const buf = Buffer.allocUnsafe(o.blockSize);
        for (let i = 0; i < perThread; i++) {
          o.signal?.throwIfAborted();
          const s = performance.now();
          await op(t, i, buf);
          sum += performance.now() - s;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const files = perThread * o.threads;
    stages.push({
      stage: name,
      files,
      bytes: files * bytesEach,
      seconds: secs,
      bytesPerSec: secs > 0 ? (files * bytesEach) / secs : 0,
      filesPerSec: secs > 0 ? files / secs : 0,
      msPerFile: files ? sum / files : 0,
      behind: o.probe?.snapshot(),
    });
  };

  const big = (t: number) => join(dir, `big.${t}`);
  const small = (t: number, i: number) => join(dir, `small.${t}.${i}`);
  try {
    await fs.mkdir(dir);
    if (o.bigFileSize > 0) {
      await stage('write big file', 1, o.bigFileSize, async (t) => {
        made.push(big(t));
        await writeWhole(fs, big(t), o.bigFileSize, block, o.signal);
      });
      await stage('read big file', 1, o.bigFileSize, (t, _i, buf) => readWhole(fs, big(t), o.bigFileSize, buf, o.signal));
    }
    if (o.smallFileCount > 0) {
      await stage('write small files', o.smallFileCount, o.smallFileSize, async (t, i) => {
        made.push(small(t, i));
        await writeWhole(fs, small(t, i), o.smallFileSize, block, o.signal);
      });
      await stage('read small files', o.smallFileCount, o.smallFileSize, (t, i, buf) => readWhole(fs, small(t, i), o.smallFileSize, buf, o.signal));
      await stage('stat small files', o.smallFileCount, 0, async (t, i) => {
        await fs.stat(small(t, i));
      });
    }
  } finally {
    // Whatever happened: every file made (a missing one is fine), then the directory.
    const errors: unknown[] = [];
    for (let i = 0; i < made.length; i += 32) {
      await Promise.all(
        made.slice(i, i + 32).map((f) => fs.unlink(f).catch((e: { code?: string }) => void (e?.code === 'ENOENT' || errors.push(e)))),
      );
    }
    await fs.rmdir(dir).then(
      () => (cleanedUp = errors.length === 0),
      (e: { code?: string }) => (cleanedUp = e?.code === 'ENOENT' && errors.length === 0),
    );
  }
  return { dir, threads: o.threads, bigFileSize: o.bigFileSize, blockSize: o.blockSize, smallFileSize: o.smallFileSize, smallFileCount: o.smallFileCount, stages, cleanedUp };
}
