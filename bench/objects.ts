// npm run bench:objects — the object layer in one run:
//  1. block transforms (none, crc32c, lz4, zstd, aes-gcm, all) over a file:// store on tmpfs (/dev/shm),
//     beside the raw speed of the same bytes to the same tmpfs, per block size;
//  2. the S3 backend against the Ceph RADOS Gateway (scripts/rgw.sh) beside file:// on tmpfs and on the
//     temp disk, 4 MiB blocks at 1, 16 and 64 requests in flight.
// A benchmark, never a test: it asserts nothing. Data is half text-like, half random (so compression
// has work but does not win everything). Objects are deleted afterwards.
//
//   node dist/bench/objects.js [--quick]
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openObjectStore, type ObjectStore } from '../src/object/index.js';
import { newEncryption, openTransformedStore, type StoreSpec } from '../src/object/transforms/index.js';
import { RGW_ENDPOINT, rgwBucket, rgwOptions } from '../test/helpers/rgw.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const quick = process.argv.includes('--quick');

function sampleBlock(size: number): Buffer {
  const words = ['ferry', 'block', 'chunk', 'slice', 'inode', 'region', 'mirror', 'cache', 'gpu', 'data'];
  const text = Buffer.alloc(size >> 1);
  let o = 0;
  while (o < text.length) o += text.write(`${words[(o * 7 + (o >> 5)) % words.length]} ${o} `, o);
  return Buffer.concat([text, randomBytes(size - text.length)]);
}

async function inParallel(n: number, threads: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(n, threads) }, async () => {
    while (next < n) await fn(next++);
  }));
  return performance.now() - t0;
}

const mibs = (bytes: number, ms: number) => ((bytes / MiB) * 1000) / ms;

interface Row {
  cells: string[];
}

function print(title: string, header: string[], rows: Row[]): void {
  const all = [header, ...rows.map((r) => r.cells)];
  const w = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const r of all) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
}

/** put then get `count` blocks through `store` with `threads` in flight; MiB/s each way. */
async function putGet(store: ObjectStore, block: Buffer, count: number, threads: number): Promise<{ put: number; get: number }> {
  const prefix = `bench-${randomBytes(3).toString('hex')}/`;
  const key = (i: number) => `${prefix}${i}`;
  try {
    const p = await inParallel(count, threads, (i) => store.put(key(i), block));
    const g = await inParallel(count, threads, (i) => store.get(key(i)));
    return { put: mibs(count * block.length, p), get: mibs(count * block.length, g) };
  } finally {
    await inParallel(count, 16, (i) => store.delete(key(i)));
  }
}

async function transforms(root: string): Promise<void> {
  const keyFile = join(root, 'key');
  await (await import('node:fs/promises')).writeFile(keyFile, randomBytes(32));
  const secret = { keyFile };
  const enc = (await newEncryption(secret)).record;
  const stacks: [string, Omit<StoreSpec, 'url'>][] = [
    ['none', {}],
    ['crc32c', { checksum: 'crc32c' }],
    ['lz4', { compression: 'lz4' }],
    ['zstd', { compression: 'zstd' }],
    ['aes-gcm', { encryption: enc }],
    ['all (zstd+aes+crc32c)', { compression: 'zstd', encryption: enc, checksum: 'crc32c' }],
  ];
  const sizes = quick ? [4 * MiB] : [64 * KiB, 1 * MiB, 4 * MiB];
  const rows: Row[] = [];
  for (const size of sizes) {
    const block = sampleBlock(size);
    const count = Math.max(8, Math.floor((quick ? 64 : 128) * MiB / size));
    const storage = `file://${root}/tf`;
    const raw = await openObjectStore(storage);
    await raw.create();
    await putGet(raw, block, Math.min(count, 16), 4); // warm-up: page cache, JIT, thread pool
    const base = await putGet(raw, block, count, 4);
    for (const [name, t] of stacks) {
      const s = await openTransformedStore({ url: storage, ...t }, {}, secret);
      await s.put('ratio', block);
      const stored = (await raw.head('ratio')).size;
      await s.delete('ratio');
      const r = await putGet(s, block, count, 4);
      rows.push({ cells: [name, `${size / KiB} KiB`, r.put.toFixed(0), r.get.toFixed(0), base.put.toFixed(0), base.get.toFixed(0), (stored / size).toFixed(3)] });
    }
  }
  print(
    'Block transforms over file:// on tmpfs, 4 in flight (MiB/s of block data)',
    ['transform', 'block', 'put', 'get', 'raw put', 'raw get', 'stored/orig'],
    rows,
  );
}

async function backends(root: string): Promise<void> {
  const block = randomBytes(4 * MiB);
  const threadsList = quick ? [1, 16] : [1, 16, 64];
  const stores: [string, () => Promise<ObjectStore | undefined>][] = [
    ['file:// tmpfs', async () => openObjectStore(`file://${root}/be`)],
    ['file:// disk', async () => openObjectStore(`file://${await mkdtemp(join(tmpdir(), 'ferry-bench-obj-'))}/be`)],
    [`s3 (Ceph RGW ${RGW_ENDPOINT})`, async () => {
      try {
        await fetch(`${RGW_ENDPOINT}/`, { signal: AbortSignal.timeout(2000) });
      } catch {
        console.error(`(no RGW at ${RGW_ENDPOINT}: start it with 'bash scripts/rgw.sh start'; s3 rows skipped)`);
        return undefined;
      }
      return openObjectStore(`s3://${rgwBucket('bench')}`, rgwOptions());
    }],
  ];
  const rows: Row[] = [];
  for (const [name, open] of stores) {
    const s = await open();
    if (!s) continue;
    await s.create();
    for (const threads of threadsList) {
      const count = Math.max(16, Math.min(threads * 4, 128));
      const r = await putGet(s, block, count, threads);
      rows.push({ cells: [name, String(threads), String(count), r.put.toFixed(0), r.get.toFixed(0)] });
    }
    await s.close();
    if (name === 'file:// disk') await rm(s.url.replace('file://', '').replace(/\/be$/, ''), { recursive: true, force: true });
  }
  print('Backends, 4 MiB blocks (MiB/s)', ['store', 'in flight', 'blocks', 'put', 'get'], rows);
}

async function main(): Promise<void> {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = await mkdtemp(join(shm, 'ferry-bench-objects-'));
  console.log(`bench:objects on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}${quick ? ' (quick)' : ''}`);
  try {
    await transforms(root);
    await backends(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
