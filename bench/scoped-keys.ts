// npm run bench:scoped-keys — what a key's scope costs on the S3 gateway's hot path: 4 KiB PUT and GET ops/s
// through one `ferry gateway` child process (SQLite + file:// in a temp dir) with an unscoped key and with
// scoped keys (subdir + buckets + networks + expiry; and the same read-only / append-only), side by side in
// one run, interleaved in slices so drift of the machine hits both alike. A benchmark, never a test.
//
//   node dist/bench/scoped-keys.js [--full]   (default: 400 ops per key and round, 2 rounds; --full: 4000, 3 rounds)
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { addKey } from '../src/gateway/keys.js';
import type { KeyScope } from '../src/meta/types.js';
import { volumeView } from '../src/sdk/volume.js';
import { tempVolume } from '../test/helpers/volume.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const full = process.argv.includes('--full');
if (process.argv.slice(2).some((a) => a !== '--full')) {
  process.stderr.write('usage: node dist/bench/scoped-keys.js [--full]\n');
  process.exit(2);
}
const OPS = full ? 4000 : 400;
const ROUNDS = full ? 3 : 2;
const CONC = 16;
const SLICE = 50;
const SECRET = 'bench-secret-0123456789';
const EXPIRES = new Date(Date.now() + 30 * 86400_000).toISOString();

const KEYS: Array<{ id: string; label: string; scope?: KeyScope; bucket: string; put: boolean }> = [
  { id: 'PLAIN', label: 'unscoped key', bucket: 'bench', put: true },
  { id: 'SCOPED', label: 'scoped: subdir+buckets+allow+expires', scope: { subdir: '/team-a', buckets: ['bench'], allow: ['127.0.0.0/8', '::1'], expires: EXPIRES }, bucket: 'bench', put: true },
  { id: 'APPEND', label: 'scoped, append-only', scope: { subdir: '/team-a', access: 'append', allow: ['127.0.0.0/8'], expires: EXPIRES }, bucket: 'bench', put: true },
  { id: 'READONLY', label: 'scoped, read-only (GET)', scope: { subdir: '/team-a', access: 'ro', allow: ['127.0.0.0/8'], expires: EXPIRES }, bucket: 'bench', put: false },
];

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    for (let i = next++; i < n; i = next++) await fn(i);
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const t = await tempVolume();
  const root = volumeView(t.v);
  await t.v.mkdir('/team-a/bench', { recursive: true });
  await t.v.mkdir('/bench');
  for (const p of ['/team-a', '/team-a/bench', '/bench']) await t.v.chown(p, 1001, 1001);
  for (const k of KEYS) await addKey(root.vfs.meta, k.id, { secret: SECRET, uid: 1001, gid: 1001, created: new Date().toISOString(), ...(k.scope ? { scope: k.scope } : {}) });
  const proc = spawn(process.execPath, [MAIN, 'gateway', t.url, '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', () => reject(new Error(`ferry gateway exited: ${out}`)));
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const client = (id: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: id, secretAccessKey: SECRET }, maxAttempts: 1, requestHandler: { httpAgent: agent } });
  const clients = new Map(KEYS.map((k) => [k.id, client(k.id)]));
  const body = randomBytes(4096);
  const best = new Map<string, { put: number; get: number }>();
  try {
    // Objects the read-only key reads (written by the scoped rw key), and a warm-up of every key.
    await pool(OPS, async (i) => void (await clients.get('SCOPED')!.send(new PutObjectCommand({ Bucket: 'bench', Key: `ro/${i}`, Body: body }))));
    for (const k of KEYS) await clients.get(k.id)!.send(new GetObjectCommand({ Bucket: k.bucket, Key: k.id === 'PLAIN' ? 'x' : `ro/0` })).catch(() => undefined);
    // Slices of SLICE ops, every key in turn (the order rotating): the machine's drift lands on all keys alike.
    const time = new Map(KEYS.map((k) => [k.id, { put: 0, get: 0, puts: 0, gets: 0 }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (let from = 0; from < OPS; from += SLICE) {
        const n = Math.min(SLICE, OPS - from);
        const order = KEYS.map((_, i) => KEYS[(i + from / SLICE + r) % KEYS.length]!);
        for (const k of order) {
          const c = clients.get(k.id)!;
          const key = (i: number) => (k.put ? `${k.id}/${r}/${from + i}` : `ro/${from + i}`);
          const tm = time.get(k.id)!;
          if (k.put) {
            tm.put += n / (await pool(n, async (i) => void (await c.send(new PutObjectCommand({ Bucket: k.bucket, Key: key(i), Body: body })))));
            tm.puts += n;
          }
          tm.get += n / (await pool(n, async (i) => void (await (await c.send(new GetObjectCommand({ Bucket: k.bucket, Key: key(i) }))).Body!.transformToByteArray())));
          tm.gets += n;
        }
      }
    }
    for (const [id, tm] of time) best.set(id, { put: tm.puts ? tm.puts / tm.put : 0, get: tm.gets / tm.get });
  } finally {
    for (const c of clients.values()) c.destroy();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await t.cleanup();
  }
  const base = best.get('PLAIN')!;
  const pct = (x: number, b: number) => (x ? `${((x / b - 1) * 100).toFixed(1).replace(/^(?!-)/, '+')}%` : '-');
  process.stdout.write(`scoped keys vs unscoped: 4 KiB objects, ${OPS} ops per cell, concurrency ${CONC}, interleaved in slices of ${SLICE}, ${ROUNDS} rounds; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})\n\n`);
  const rows = [['key', 'PUT ops/s', 'vs unscoped', 'GET ops/s', 'vs unscoped']];
  for (const k of KEYS) {
    const b = best.get(k.id)!;
    rows.push([k.label, b.put ? b.put.toFixed(0) : '-', k.id === 'PLAIN' ? '' : pct(b.put, base.put), b.get.toFixed(0), k.id === 'PLAIN' ? '' : pct(b.get, base.get)]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n');
}

await main();
