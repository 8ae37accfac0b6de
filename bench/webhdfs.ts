// npm run bench:webhdfs — the WebHDFS door (`ferry webhdfs` in its own process) side by side with the same
// work through the S3 gateway (`ferry gateway`, its own process, on the same volume) and the SDK (Volume, in
// this process): a big file written and read (MB/s), a 10,000-entry directory listed, 4 KiB files created and
// stat'ed (ops/s). One temp volume (SQLite + file://), one table. A benchmark, never a test: it asserts nothing.
//
//   node dist/bench/webhdfs.js [--quick] [--dir DIR]
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { addKey } from '../src/gateway/keys.js';
import type { Volume } from '../src/sdk/volume.js';
import { metaOf, tempVolume } from '../test/helpers/volume.js';

const MiB = 1 << 20;
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:webhdfs: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/webhdfs.js [--quick] [--dir DIR]\n');
  process.exit(msg ? 2 : 0);
}

const args = process.argv.slice(2);
const opt = { quick: false, dir: tmpdir() };
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--quick') opt.quick = true;
  else if (a === '--dir') opt.dir = args[++i] ?? usage('--dir needs a value');
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown option '${a}'`);
}

const BIG = (opt.quick ? 256 : 1024) * MiB;
const PIECE = 16 * MiB;
const LIST = 10_000;
const SMALL = opt.quick ? 300 : 2000;
const CONC = 16;

/** The same work through each door. */
interface Door {
  name: string;
  writeBig(path: string): Promise<void>;
  readBig(path: string): Promise<number>;
  list(dir: string): Promise<number>;
  createSmall(path: string, body: Buffer): Promise<void>;
  stat(path: string): Promise<void>;
}

const piece = randomBytes(PIECE);
function bigStream(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= BIG) return void this.push(null);
      sent += PIECE;
      this.push(piece);
    },
  });
}

function startChild(args: string[], pattern: RegExp): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve({ proc, url: m[1]! });
    });
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${out}`)));
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP exchange; the answer's bytes are counted, not kept (JSON answers are returned). */
function http(method: string, url: string, body?: Buffer | Readable): Promise<{ status: number; location?: string; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body instanceof Readable ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': body?.length ?? 0 } }, (res) => {
      let bytes = 0;
      const keep: Buffer[] = [];
      const json = /json/.test(res.headers['content-type'] ?? '');
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (json) keep.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, bytes, text: Buffer.concat(keep).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

function webhdfsDoor(base: string): Door {
  const u = (p: string, op: string, extra = '') => `${base}${p}?op=${op}&user.name=root${extra}`;
  const ok = (r: { status: number; text: string }, want: number) => {
    if (r.status !== want) throw new Error(`WebHDFS answered ${r.status}: ${r.text}`);
  };
  /** Hadoop's two steps: the redirect, then the data to the Location. */
  const create = async (p: string, body: Buffer | Readable) => {
    const r1 = await http('PUT', u(p, 'CREATE', '&overwrite=true'));
    ok(r1, 307);
    ok(await http('PUT', r1.location!, body), 201);
  };
  return {
    name: 'WebHDFS',
    writeBig: (p) => create(p, bigStream()),
    async readBig(p) {
      return (await http('GET', u(p, 'OPEN'))).bytes;
    },
    async list(dir) {
      const r = await http('GET', u(dir, 'LISTSTATUS'));
      return (JSON.parse(r.text) as { FileStatuses: { FileStatus: unknown[] } }).FileStatuses.FileStatus.length;
    },
    createSmall: (p, b) => create(p, b),
    async stat(p) {
      ok(await http('GET', u(p, 'GETFILESTATUS')), 200);
    },
  };
}

function s3Door(endpoint: string, bucket: string): Door & { client: S3Client } {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'BENCHROOT', secretAccessKey: 'bench-root-secret-123' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: agent },
  });
  const key = (p: string) => p.slice(bucket.length + 2);
  return {
    name: 'S3 gateway',
    client,
    async writeBig(p) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(p), Body: bigStream(), ContentLength: BIG }));
    },
    async readBig(p) {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(p) }));
      let n = 0;
      for await (const c of r.Body as AsyncIterable<Uint8Array>) n += c.length;
      return n;
    },
    async list(dir) {
      let n = 0;
      let ContinuationToken: string | undefined;
      for (;;) {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key(dir) + '/', ContinuationToken, MaxKeys: 1000 }));
        n += r.KeyCount ?? 0;
        if (!r.IsTruncated) return n;
        ContinuationToken = r.NextContinuationToken;
      }
    },
    async createSmall(p, b) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(p), Body: b }));
    },
    async stat(p) {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(p) }));
    },
  };
}

function sdkDoor(v: Volume): Door {
  return {
    name: 'SDK',
    async writeBig(p) {
      const fh = await v.open(p, 'w');
      try {
        for (let off = 0; off < BIG; off += PIECE) await fh.write(piece, 0, PIECE, off);
      } finally {
        await fh.close();
      }
    },
    async readBig(p) {
      let n = 0;
      const fh = await v.open(p, 'r');
      try {
        for await (const c of fh.createReadStream()) n += (c as Buffer).length;
      } finally {
        await fh.close();
      }
      return n;
    },
    async list(dir) {
      return (await v.readdir(dir, { withFileTypes: true })).length;
    },
    async createSmall(p, b) {
      await v.writeFile(p, b);
    },
    async stat(p) {
      await v.stat(p);
    },
  };
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

/** n calls of f(i), CONC at a time; ops/s. */
async function rate(n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const s = await timed(() => Promise.all(Array.from({ length: CONC }, async () => {
    while (next < n) await f(next++);
  })));
  return n / s;
}

async function main(): Promise<void> {
  const t = await tempVolume({ parent: opt.dir, volume: { attrTimeout: 0, entryTimeout: 0 } });
  const children: ChildProcess[] = [];
  try {
    await addKey(metaOf(t.v), 'BENCHROOT', { secret: 'bench-root-secret-123', uid: 0, gid: 0, created: new Date().toISOString() });
    const users = join(t.dir, 'users');
    await writeFile(users, 'root:0:0\n');
    const gw = await startChild(['gateway', t.url, '127.0.0.1:0'], /at (http:\/\/\S+)/);
    children.push(gw.proc);
    const wh = await startChild(['webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth', '--users', users], /at (http:\/\/\S+\/webhdfs\/v1)/);
    children.push(wh.proc);
    const s3 = s3Door(gw.url, 'bench');
    await s3.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const doors = [webhdfsDoor(wh.url), s3, sdkDoor(t.v)];

    process.stdout.write(`node ${process.version}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, kernel ${release()}\n`);
    process.stdout.write(`volume in ${t.dir} (SQLite + file://); ${opt.quick ? 'quick run' : 'full run'}; servers on loopback\n\n`);

    // The directory every door lists: made once, through the SDK.
    await t.v.mkdir('/bench/list', { recursive: true });
    for (let i = 0; i < LIST; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => t.v.writeFile(`/bench/list/f${String(i + j).padStart(6, '0')}`, '')));

    const rows: Array<[string, string[]]> = [
      [`CREATE ${BIG / MiB} MiB file (MB/s)`, []],
      [`OPEN ${BIG / MiB} MiB file (MB/s)`, []],
      [`LISTSTATUS ${LIST} entries (ms)`, []],
      [`CREATE 4 KiB files, ${CONC} at a time (ops/s)`, []],
      [`GETFILESTATUS, ${CONC} at a time (ops/s)`, []],
    ];
    const small = randomBytes(4096);
    for (const [i, d] of doors.entries()) {
      const dir = `/bench/${['webhdfs', 's3', 'sdk'][i]}`;
      await t.v.mkdir(dir, { recursive: true });
      const mbps = (s: number) => (BIG / 1e6 / s).toFixed(0);
      rows[0]![1].push(mbps(await timed(() => d.writeBig(`${dir}/big`))));
      let got = 0;
      rows[1]![1].push(mbps(await timed(async () => (got = await d.readBig(`${dir}/big`)))));
      if (got !== BIG) throw new Error(`${d.name} read ${got} of ${BIG} bytes`);
      await d.list('/bench/list');
      let n = 0;
      const ms = (await timed(async () => (n = await d.list('/bench/list')))) * 1000;
      if (n !== LIST) throw new Error(`${d.name} listed ${n} of ${LIST}`);
      rows[2]![1].push(ms.toFixed(0));
      rows[3]![1].push((await rate(SMALL, (k) => d.createSmall(`${dir}/s${k}`, small))).toFixed(0));
      rows[4]![1].push((await rate(SMALL * 2, (k) => d.stat(`${dir}/s${k % SMALL}`))).toFixed(0));
      await t.v.rm(`${dir}/big`);
    }
    const head = ['', ...doors.map((d) => d.name)];
    const lines = rows.map(([l, v]) => [l, ...v]);
    const w = head.map((_, i) => Math.max(head[i]!.length, ...lines.map((l) => l[i]!.length)));
    const row = (l: string[]) => `| ${l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |\n`;
    process.stdout.write(row(head));
    process.stdout.write(`|${w.map((n, i) => (i === 0 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|')}|\n`);
    for (const l of lines) process.stdout.write(row(l));
    process.stdout.write('\n');
    process.stdout.write('- WebHDFS: `ferry webhdfs` in its own process, node:http keep-alive; CREATE is the two-step protocol (307, then the\n');
    process.stdout.write('  data to the Location, chunked) as Hadoop clients send it; OPEN answers directly; LISTSTATUS is one answer.\n');
    process.stdout.write('- S3 gateway: `ferry gateway` in its own process, AWS SDK v3 (SigV4); one PUT for the big file, LIST in pages of 1000,\n');
    process.stdout.write('  HEAD for the stat. SDK: Volume in this process (no HTTP), readdir with file types, stat.\n');
    process.stdout.write(`- Every door on the same volume: SQLite metadata + file:// blocks in one temp dir; ${SMALL} small files, ${SMALL * 2} stats.\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    agent.destroy();
    await t.cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:webhdfs: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
