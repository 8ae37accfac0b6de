// ferry objbench STORAGE-URL: put/get/head/list/delete throughput and latency of an object store, for
// checking a bucket before formatting a volume on it (like `juicefs objbench`). Objects go under a
// random prefix and are deleted afterwards, whatever happens.
import { UsageError, parseCount, parseSize, str, type Command, type Parsed } from '../args.js';
import { formatBytes, formatSizeShort, out, table } from '../output.js';

interface Stat {
  name: string;
  ops: number;
  bytes: number;
  ms: number;
  lat: number[];
}

/** Runs fn(i) for i in [0, n) with `threads` in flight, timing each call. */
async function timed(name: string, n: number, threads: number, bytesEach: number, fn: (i: number) => Promise<unknown>): Promise<Stat> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(threads, n) }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await fn(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  return { name, ops: n, bytes: n * bytesEach, ms: performance.now() - t0, lat };
}

function pct(lat: number[], p: number): number {
  const s = [...lat].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

/**
 * A directory store keeps the directories its keys lived in: objbench removes those it made (the key prefix,
 * the store's temp directory, the directory itself and missing parents), when empty, so nothing is left.
 */
async function localTidy(url: string, prefix: string): Promise<() => Promise<void>> {
  const [{ existsSync }, { rmdir }, { dirname, join, resolve }, { fileURLToPath }] = await Promise.all([
    import('node:fs'),
    import('node:fs/promises'),
    import('node:path'),
    import('node:url'),
  ]);
  let root: string;
  if (/^file:/i.test(url)) root = fileURLToPath(url);
  else if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) root = resolve(url);
  else return async () => undefined;
  const made: string[] = [];
  for (let d = root; !existsSync(d) && dirname(d) !== d; d = dirname(d)) made.push(d);
  const inside = [join(root, prefix), dirname(join(root, prefix)), join(root, '.tmp')].filter((d) => !existsSync(d));
  return async () => {
    // Deepest first; rmdir removes only empty directories, so nothing else is ever touched.
    for (const d of [...inside, ...made]) await rmdir(d).catch(() => undefined);
  };
}

const command: Command = {
  spec: {
    name: 'objbench',
    summary: 'Measure an object store: put/get/head/list/delete throughput and latency.',
    usage: 'STORAGE-URL',
    description: [
      'Writes --count objects of --block-size under a random prefix of STORAGE-URL with --threads requests in',
      'flight, reads them back whole and by small ranges, heads, lists and deletes them, and prints one table.',
      'Nothing is left behind. The bucket must exist (ferry format creates it). S3 endpoint and keys come from',
      'the URL (s3://BUCKET?endpoint=...), the options, or the usual environment variables.',
    ].join('\n'),
    examples: ['ferry objbench /tmp/blocks', 'ferry objbench --threads 16 --storage-endpoint http://127.0.0.1:7480 s3://mybucket'],
    options: {
      'block-size': { type: 'string', arg: 'SIZE', help: 'object size (default 4M)' },
      threads: { type: 'string', short: 'p', arg: 'N', help: 'requests in flight (default 4)' },
      count: { type: 'string', arg: 'N', help: 'objects to write (default: 256 MiB worth, 16..1000)' },
      'storage-endpoint': { type: 'string', arg: 'URL', help: 'S3 endpoint' },
      'access-key': { type: 'string', arg: 'KEY', help: 'S3 access key (else FERRY_ACCESS_KEY / AWS env / shared config)' },
      'secret-key': { type: 'string', arg: 'KEY', help: 'S3 secret key' },
    },
    minArgs: 1,
    maxArgs: 1,
  },

  async run(p: Parsed): Promise<void> {
    const [url] = p.args as [string];
    const blockSize = str(p, 'block-size') !== undefined ? parseSize('--block-size', str(p, 'block-size')!) : 4 << 20;
    if (blockSize < 1 || blockSize > 256 << 20) throw new UsageError('--block-size: must be between 1 byte and 256M');
    const threads = str(p, 'threads') !== undefined ? parseCount('--threads', str(p, 'threads')!, 1024) : 4;
    if (threads < 1) throw new UsageError('--threads: must be 1 or more');
    const count = str(p, 'count') !== undefined ? parseCount('--count', str(p, 'count')!, 100_000) : Math.max(16, Math.min(1000, Math.floor((256 << 20) / blockSize)));
    if (count < 1) throw new UsageError('--count: must be 1 or more');
    const options: Record<string, unknown> = {};
    if (str(p, 'storage-endpoint') !== undefined) options.endpoint = str(p, 'storage-endpoint');
    if (str(p, 'access-key') !== undefined) options.accessKey = str(p, 'access-key');
    if (str(p, 'secret-key') !== undefined) options.secretKey = str(p, 'secret-key');

    const [{ openObjectStore }, { randomBytes }] = await Promise.all([import('../../object/index.js'), import('node:crypto')]);
    const prefix = `__ferry_objbench__/${randomBytes(4).toString('hex')}/`;
    const tidy = await localTidy(url, prefix);
    const store = await openObjectStore(url, options);
    const key = (i: number) => `${prefix}${String(i).padStart(6, '0')}`;
    const data = randomBytes(blockSize);
    let written = 0;
    const stats: Stat[] = [];
    try {
      // A first put tells a missing bucket or wrong keys apart from slowness, before any timing.
      await store.put(key(0), Buffer.from('objbench'));
      written = 1;
      stats.push(await timed(`put ${formatSizeShort(blockSize)} objects`, count, threads, blockSize, async (i) => {
        await store.put(key(i), data);
        written = Math.max(written, i + 1);
      }));
      written = count;
      stats.push(await timed(`get ${formatSizeShort(blockSize)} objects`, count, threads, blockSize, (i) => store.get(key(i))));
      const small = Math.min(4096, blockSize);
      stats.push(await timed(`get ${formatSizeShort(small)} ranges`, count, threads, small, (i) => store.get(key(i), (i * 7919) % Math.max(1, blockSize - small + 1), small)));
      stats.push(await timed('head objects', count, threads, 0, (i) => store.head(key(i))));
      const pages = Math.max(1, Math.ceil(count / 1000));
      const listRuns = Math.max(4, Math.min(20, Math.ceil(100 / pages)));
      const listed = await timed(`list ${count} objects`, listRuns, Math.min(threads, 4), 0, async () => {
        let n = 0;
        for await (const _ of store.listAll(prefix)) n++;
        if (n !== count) throw new Error(`listing found ${n} of the ${count} objects written`);
      });
      stats.push(listed);
      stats.push(await timed('delete objects', count, threads, 0, (i) => store.delete(key(i))));
      written = 0;
    } finally {
      // Nothing half-written stays behind, even after a failure.
      for (let i = 0; i < written; i += 64) {
        await Promise.all(Array.from({ length: Math.min(64, written - i) }, (_, j) => store.delete(key(i + j)).catch(() => undefined)));
      }
      await store.close().catch(() => undefined);
      await tidy();
    }
    const rows = [['TEST', 'COUNT', 'THROUGHPUT', 'OPS/S', 'AVG', 'P50', 'P99']];
    for (const s of stats) {
      rows.push([
        s.name,
        String(s.ops),
        s.bytes ? `${formatBytes(Math.round((s.bytes * 1000) / s.ms))}/s` : '-',
        ((s.ops * 1000) / s.ms).toFixed(1),
        `${(s.lat.reduce((a, b) => a + b, 0) / s.lat.length).toFixed(2)} ms`,
        `${pct(s.lat, 50).toFixed(2)} ms`,
        `${pct(s.lat, 99).toFixed(2)} ms`,
      ]);
    }
    await out(`objbench ${store.url}: ${count} objects of ${formatBytes(blockSize)}, ${threads} threads\n` + table(rows, [1, 2, 3, 4, 5, 6]));
  },
};

export default command;
