// npm run bench:gateway — the FerryFS S3 gateway (a `ferry gateway` child process on the embedded default:
// SQLite + file:// in a temp dir) side by side with a real S3-compatible server if one runs (Ceph RGW from
// scripts/rgw.sh) and with the raw local disk through node:fs (the physical limit), in one run, one table.
// The same AWS SDK v3 client drives both S3 servers. A benchmark, never a test: it asserts nothing.
//
//   node dist/bench/gateway.js [--quick] [--dir DIR] [--rgw URL]
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addKey } from '../src/gateway/keys.js';
import { volumeView } from '../src/sdk/volume.js';
import { tempVolume } from '../test/helpers/volume.js';

const MiB = 1 << 20;
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:gateway: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/gateway.js [--quick] [--dir DIR] [--rgw URL]\n');
  process.exit(msg ? 2 : 0);
}

const args = process.argv.slice(2);
const opt = { quick: false, dir: tmpdir(), rgw: process.env.FERRY_S3_ENDPOINT ?? 'http://127.0.0.1:7480' };
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--quick') opt.quick = true;
  else if (a === '--dir') opt.dir = args[++i] ?? usage('--dir needs a value');
  else if (a === '--rgw') opt.rgw = args[++i] ?? usage('--rgw needs a value');
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown option '${a}'`);
}

// Objects per workload: [1 MiB at c=1, 1 MiB at c=16, 64 MiB at c=1, 64 MiB at c=16, 4 KiB objects].
const N = opt.quick ? { m1: 16, m16: 64, b1: 2, b16: 8, small: 200, versions: 2000 } : { m1: 64, m16: 256, b1: 4, b16: 16, small: 1000, versions: 10_000 };
const SMALL_CONC = 16;
// Multipart upload: 1 GiB (256 MiB with --quick) in 16 MiB parts, 8 in flight.
const MP_PART = 16 * MiB;
const MP_BYTES = opt.quick ? 256 * MiB : 1024 * MiB;
const MP_INFLIGHT = 8;

interface Target {
  name: string;
  put(key: string, body: Buffer): Promise<void>;
  /** PUT with a CRC-32C checksum the server verifies (x-amz-checksum-crc32c); the disk computes it and writes. */
  putCrc32c(key: string, body: Buffer): Promise<void>;
  /** Every key under prefix, as ListObjectVersions pages of 1000 (the disk: readdir); returns the count. */
  listVersions(prefix: string): Promise<number>;
  get(key: string): Promise<number>;
  head(key: string): Promise<void>;
  list(prefix: string): Promise<number>;
  /** PUT only if no object has the key (If-None-Match: *); false when one had. */
  putIfAbsent(key: string, body: Buffer): Promise<boolean>;
  /** One object of `parts` parts (each `part`), `inflight` parts sent at once. */
  multipart(key: string, part: Buffer, parts: number, inflight: number): Promise<void>;
  close(): Promise<void>;
}

function s3Target(name: string, endpoint: string, accessKeyId: string, secretAccessKey: string, bucket: string): Target & { client: S3Client } {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) },
  });
  return {
    name,
    client,
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async putCrc32c(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'CRC32C' }));
    },
    async listVersions(prefix) {
      let n = 0;
      let KeyMarker: string | undefined;
      for (;;) {
        const r = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, MaxKeys: 1000 }));
        n += r.Versions?.length ?? 0;
        if (!r.IsTruncated) return n;
        KeyMarker = r.NextKeyMarker;
      }
    },
    async get(key) {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      let n = 0;
      for await (const c of r.Body as AsyncIterable<Uint8Array>) n += c.length;
      return n;
    },
    async head(key) {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    },
    async list(prefix) {
      const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 100 }));
      return r.KeyCount ?? 0;
    },
    async putIfAbsent(key, body) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: '*' }));
        return true;
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) return false;
        throw e;
      }
    },
    async multipart(key, part, parts, inflight) {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const etags: string[] = [];
      await pool(parts, inflight, async (i) => {
        etags[i] = (await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: part }))).ETag!;
      });
      const Parts = etags.map((ETag, i) => ({ PartNumber: i + 1, ETag }));
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts } }));
    },
    async close() {
      client.destroy();
    },
  };
}

function diskTarget(dir: string): Target {
  return {
    name: 'local disk (node:fs)',
    async put(key, body) {
      // Durable like an S3 PUT: written, fsynced, renamed into place.
      const p = join(dir, key);
      await fsp.mkdir(join(p, '..'), { recursive: true });
      const tmp = `${p}.tmp`;
      const fh = await fsp.open(tmp, 'w');
      await fh.writeFile(body);
      await fh.sync();
      await fh.close();
      await fsp.rename(tmp, p);
    },
    async putCrc32c(key, body) {
      crc32c(body);
      await this.put(key, body);
    },
    async listVersions(prefix) {
      return (await fsp.readdir(join(dir, prefix))).length;
    },
    async get(key) {
      return (await fsp.readFile(join(dir, key))).length;
    },
    async head(key) {
      await fsp.stat(join(dir, key));
    },
    async list(prefix) {
      const d = await fsp.opendir(join(dir, prefix));
      let n = 0;
      for await (const _ of d) if (++n === 100) break;
      await d.close().catch(() => undefined);
      return n;
    },
    async putIfAbsent(key, body) {
      // Written and fsynced aside, then link(2): the POSIX create-if-absent.
      const p = join(dir, key);
      await fsp.mkdir(join(p, '..'), { recursive: true });
      const tmp = `${p}.tmp`;
      const fh = await fsp.open(tmp, 'w');
      await fh.writeFile(body);
      await fh.sync();
      await fh.close();
      try {
        await fsp.link(tmp, p);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      } finally {
        await fsp.unlink(tmp);
      }
    },
    async multipart(key, part, parts, inflight) {
      // Parts written at their offsets of one file, `inflight` at once, fsynced, renamed into place.
      const p = join(dir, key);
      await fsp.mkdir(join(p, '..'), { recursive: true });
      const fh = await fsp.open(`${p}.tmp`, 'w');
      await pool(parts, inflight, (i) => fh.write(part, 0, part.length, i * part.length));
      await fh.sync();
      await fh.close();
      await fsp.rename(`${p}.tmp`, p);
    },
    async close() {},
  };
}

async function pool(n: number, conc: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(conc, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Row {
  label: string;
  unit: 'MB/s' | 'ops/s' | 'keys/s';
  values: Array<number | undefined>;
}

async function measure(t: Target, rows: Row[], col: number, bodies: { m: Buffer[]; big: Buffer[]; small: Buffer; part: Buffer }): Promise<void> {
  const set = (label: string, unit: Row['unit'], v: number) => {
    let r = rows.find((x) => x.label === label);
    if (!r) rows.push((r = { label, unit, values: [] }));
    r.values[col] = v;
  };
  process.stderr.write(`bench:gateway: ${t.name} ...\n`);
  for (const [size, label, bufs] of [
    [MiB, '1 MiB', bodies.m],
    [64 * MiB, '64 MiB', bodies.big],
  ] as const) {
    for (const conc of [1, 16]) {
      const n = size === MiB ? (conc === 1 ? N.m1 : N.m16) : conc === 1 ? N.b1 : N.b16;
      const prefix = `${label.replace(' ', '')}-c${conc}`;
      const sp = await pool(n, conc, (i) => t.put(`${prefix}/o${i}`, bufs[i % bufs.length]!));
      set(`PUT ${label} objects, ${conc} client${conc > 1 ? 's' : ''}`, 'MB/s', (n * size) / 1e6 / sp);
      let bytes = 0;
      const sg = await pool(n, conc, async (i) => {
        const got = await t.get(`${prefix}/o${i}`); // (not `bytes += await`: that would read bytes before awaiting)
        bytes += got;
      });
      if (bytes !== n * size) throw new Error(`${t.name}: read ${bytes} of ${n * size} bytes`);
      set(`GET ${label} objects, ${conc} client${conc > 1 ? 's' : ''}`, 'MB/s', bytes / 1e6 / sg);
      if (size === MiB && conc === 1) {
        // Right after the plain PUT row, so the two compare under the same conditions.
        const sc = await pool(n, conc, (i) => t.putCrc32c(`${prefix}-crc/o${i}`, bufs[i % bufs.length]!));
        set('PUT 1 MiB objects with x-amz-checksum-crc32c, 1 client', 'MB/s', (n * size) / 1e6 / sc);
      }
    }
  }
  const n = N.small;
  set(`PUT 4 KiB (${SMALL_CONC} clients)`, 'ops/s', n / (await pool(n, SMALL_CONC, (i) => t.put(`small/o${i}`, bodies.small))));
  set(`GET 4 KiB (${SMALL_CONC} clients)`, 'ops/s', n / (await pool(n, SMALL_CONC, (i) => t.get(`small/o${i}`))));
  set(`HEAD 4 KiB (${SMALL_CONC} clients)`, 'ops/s', n / (await pool(n, SMALL_CONC, (i) => t.head(`small/o${i}`))));
  const lists = Math.max(50, n / 5);
  set(`LIST 100 keys (${SMALL_CONC} clients)`, 'ops/s', lists / (await pool(lists, SMALL_CONC, () => t.list('small/'))));
  // Conditional PUT: each key created once with If-None-Match: *, then refused once (412) as a lock taken.
  let created = 0;
  const sc = await pool(n, SMALL_CONC, async (i) => {
    if (await t.putIfAbsent(`cond/o${i}`, bodies.small)) created++;
    if (await t.putIfAbsent(`cond/o${i}`, bodies.small)) throw new Error(`${t.name}: If-None-Match: * replaced cond/o${i}`);
  });
  if (created !== n) throw new Error(`${t.name}: ${created} of ${n} conditional PUTs created their object`);
  set(`conditional PUT 4 KiB, create + refused (${SMALL_CONC} clients)`, 'ops/s', (2 * n) / sc);
  const parts = MP_BYTES / MP_PART;
  const sm = await pool(1, 1, () => t.multipart('multipart/big', bodies.part, parts, MP_INFLIGHT));
  set(`multipart ${MP_BYTES / MiB / 1024 >= 1 ? `${MP_BYTES / MiB / 1024} GiB` : `${MP_BYTES / MiB} MiB`} in ${MP_PART / MiB} MiB parts, ${MP_INFLIGHT} in flight`, 'MB/s', MP_BYTES / 1e6 / sm);
  const nv = N.versions;
  const tiny = Buffer.from('v');
  await pool(nv, SMALL_CONC, (i) => t.put(`versions/k${String(i).padStart(6, '0')}`, tiny));
  const t0 = process.hrtime.bigint();
  const seen = await t.listVersions('versions/');
  if (seen !== nv) throw new Error(`${t.name}: ListObjectVersions saw ${seen} of ${nv} keys`);
  set(`ListObjectVersions of ${nv.toLocaleString('en-US')} keys (pages of 1000)`, 'keys/s', nv / (Number(process.hrtime.bigint() - t0) / 1e9));
}

async function startFerry(dir: string): Promise<{ target: Target; proc: ChildProcess; cleanup: () => Promise<void>; url: string }> {
  const t = await tempVolume({ parent: dir });
  await addKey(volumeView(t.v).vfs.meta, 'BENCHKEY', { secret: 'bench-secret-0123456789', uid: 0, gid: 0, created: new Date().toISOString() });
  await t.v.close();
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
  const target = s3Target('FerryFS gateway', url, 'BENCHKEY', 'bench-secret-0123456789', 'bench');
  await target.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  return {
    target,
    proc,
    url,
    async cleanup() {
      await target.close();
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
      await t.cleanup();
    },
  };
}

async function rgwRunning(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function fmt(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

async function main(): Promise<void> {
  const bodies = {
    m: Array.from({ length: 8 }, () => randomBytes(MiB)),
    big: Array.from({ length: 2 }, () => randomBytes(64 * MiB)),
    small: randomBytes(4096),
    part: randomBytes(MP_PART),
  };
  const rows: Row[] = [];
  process.stdout.write(`node ${process.version}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, kernel ${release()}\n`);
  process.stdout.write(`temp dirs under ${opt.dir}; ${opt.quick ? 'quick run' : 'full run'}; all servers on loopback\n\n`);

  const ferry = await startFerry(opt.dir);
  try {
    await measure(ferry.target, rows, 0, bodies);
  } finally {
    await ferry.cleanup();
  }

  const haveRgw = await rgwRunning(opt.rgw);
  if (haveRgw) {
    const bucket = `bench-${randomBytes(4).toString('hex')}`;
    const rgw = s3Target('Ceph RGW', opt.rgw, process.env.FERRY_RGW_ACCESS_KEY ?? 'FERRYTESTACCESSKEY01', process.env.FERRY_RGW_SECRET_KEY ?? 'ferry-test-secret-key-0123456789abcdefgh', bucket);
    try {
      await rgw.client.send(new CreateBucketCommand({ Bucket: bucket }));
      await measure(rgw, rows, 1, bodies);
    } catch (e) {
      process.stderr.write(`bench:gateway: Ceph RGW at ${opt.rgw} failed: ${(e as Error).message}\n`);
    } finally {
      await rgw.close();
    }
  }

  const local = await fsp.mkdtemp(join(opt.dir, 'ferry-bench-disk-'));
  try {
    await measure(diskTarget(local), rows, 2, bodies);
  } finally {
    await fsp.rm(local, { recursive: true, force: true });
  }

  const head = ['workload', 'unit', 'FerryFS gateway', 'Ceph RGW', 'local disk', 'gateway/disk'];
  const lines = rows.map((r) => [
    r.label,
    r.unit,
    fmt(r.values[0]),
    haveRgw ? fmt(r.values[1]) : 'n/a (not running)',
    fmt(r.values[2]),
    r.values[0] !== undefined && r.values[2] ? `${(r.values[0] / r.values[2]).toFixed(2)}x` : 'n/a',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (l: string[]) => `| ${l.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |\n`;
  process.stdout.write(row(head));
  process.stdout.write(`|${w.map((n, i) => (i < 2 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|')}|\n`);
  for (const l of lines) process.stdout.write(row(l));
  process.stdout.write('\n');
  process.stdout.write('- Both S3 columns: the AWS SDK v3 from this process (SigV4, payload SHA-256 over http), keep-alive, path-style.\n');
  process.stdout.write('- FerryFS gateway: `ferry gateway` in its own process, SQLite metadata + file:// blocks in a temp dir; a PUT returns\n');
  process.stdout.write('  once blocks are fsynced and the slice is committed. Local disk: writeFile + fsync + rename, readFile, stat, readdir.\n');
  if (haveRgw) process.stdout.write(`- Ceph RGW: ${opt.rgw} (scripts/rgw.sh: one-node cluster, memstore OSD = objects in RAM, not on this disk).\n`);
  else process.stdout.write(`- Ceph RGW: not running at ${opt.rgw}; start it with \`bash scripts/rgw.sh start\` (or .ci/setup.d/10-ceph-rgw.sh) and rerun.\n`);
  process.stdout.write(`- Objects per row: 1 MiB ${N.m1}/${N.m16}, 64 MiB ${N.b1}/${N.b16} (1/16 clients), 4 KiB ${N.small}; LIST pages of 100 keys.\n`);
  process.stdout.write(`- Conditional PUT: ${N.small} keys each created with If-None-Match: * and then refused (412) once; local disk: fsync + link(2). Multipart: ${MP_BYTES / MiB} MiB in ${MP_PART / MiB} MiB parts, ${MP_INFLIGHT} in flight; local disk: pwrite at the part offsets + fsync.\n`);
  process.stdout.write('- crc32c row: the SDK computes CRC-32C and sends it in x-amz-checksum-crc32c; the server verifies and keeps it. Local disk:\n');
  process.stdout.write('  the same CRC computed, then the same durable write. ListObjectVersions: every key in pages of 1000 (disk: readdir).\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gateway: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
