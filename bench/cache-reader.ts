// One reader process of bench:cache (dist/bench/cache-reader.js '<json job>'): opens the volume with the SDK
// and the job's cache options, prints "ready", waits for "go" on stdin (so every reader starts together and
// opening is not timed), then either reads the whole file sequentially or does 4 KiB reads at the given
// offsets one at a time, and prints "result <json>". A process per reader, as on a real GPU host, so the
// readers do not share one event loop with each other or with the benchmark's proxy.
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { CachedObjectStore } from '../src/cache/store.js';
import { Volume, type VolumeOptions } from '../src/sdk/index.js';
import { volumeView } from '../src/sdk/volume.js';

export interface ReaderJob {
  metaUrl: string;
  path: string;
  options: VolumeOptions;
  /** Sequential mode: hash what was read (one reader checks the data for all). */
  digest?: boolean;
  /** Random mode: 4 KiB reads at these offsets, in passes (pass 1 may be cold, later ones cached). */
  offsets?: number[];
  passes?: number;
}

export interface ReaderResult {
  bytes: number;
  ms: number;
  sha256?: string;
  /** Random mode: the latency of each read, per pass. */
  latencies?: number[][];
  /** This reader's own object-store GETs for blocks, and why it gave up on group members (reason -> count). */
  storeGets?: number;
  groupHits?: number;
  peerFailures?: Record<string, number>;
}

const CALL = 4 << 20;

async function sequential(v: Volume, job: ReaderJob): Promise<ReaderResult> {
  const fh = await v.open(job.path, 'r');
  const buf = Buffer.allocUnsafe(CALL);
  const h = job.digest ? createHash('sha256') : undefined;
  let bytes = 0;
  const t0 = performance.now();
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      bytes += bytesRead;
      h?.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return { bytes, ms: performance.now() - t0, sha256: h?.digest('hex') };
}

/** The cache layer, wherever it sits in the store stack. */
function cacheOf(v: Volume): CachedObjectStore | undefined {
  const c = volumeView(v).vfs.store.cache;
  return c instanceof CachedObjectStore ? c : undefined;
}

/** Waits for the cache files being written. */
async function idle(v: Volume): Promise<void> {
  await cacheOf(v)?.idle();
}

async function random(v: Volume, job: ReaderJob): Promise<ReaderResult> {
  const fh = await v.open(job.path, 'r');
  const buf = Buffer.allocUnsafe(4096);
  const latencies: number[][] = [];
  let bytes = 0;
  const t0 = performance.now();
  try {
    for (let p = 0; p < (job.passes ?? 1); p++) {
      const ms: number[] = [];
      for (const off of job.offsets!) {
        const t = performance.now();
        bytes += (await fh.read(buf, 0, 4096, off)).bytesRead;
        ms.push(performance.now() - t);
      }
      latencies.push(ms);
      // Blocks fetched in this pass go to the disk cache in the background: let them land first.
      await idle(v);
    }
  } finally {
    await fh.close();
  }
  return { bytes, ms: performance.now() - t0, latencies };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as ReaderJob;
  // Background jobs (trash, compaction, session cleanup) belong to long-lived clients, not to a reader.
  const v = await Volume.open(job.metaUrl, { backgroundJobs: false, ...job.options });
  try {
    process.stdout.write('ready\n');
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) if (line.trim() === 'go') break;
    const r = job.offsets ? await random(v, job) : await sequential(v, job);
    const c = cacheOf(v);
    if (c) Object.assign(r, { storeGets: c.stats.storeGets, groupHits: c.stats.groupHits, peerFailures: c.group?.stats.failureReasons });
    process.stdout.write(`result ${JSON.stringify(r)}\n`);
  } finally {
    await v.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`cache-reader: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
