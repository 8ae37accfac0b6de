// npm run bench:gateway-limits — what the gateway's request limits cost (src/gateway/limits.ts: the header
// section count and the body watch with its idle timer): 4 KiB PUT and GET ops/s of two `ferry gateway` child
// processes on volumes of their own, one with the default limits and one with them off (`--max-header-size 0
// --body-timeout 0`, the behaviour before them), driven by the same AWS SDK client code in one run; rounds
// alternate between the two so that the machine's load falls on both. A benchmark, never a test.
//
//   node dist/bench/gateway-limits.js [--full]
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { ROOT_KEY } from '../test/helpers/gateway.js';
import { startChildGateway, type ChildGateway } from '../test/helpers/gateway-child.js';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--full') {
    process.stderr.write(`bench:gateway-limits: unknown option '${a}'\nusage: node dist/bench/gateway-limits.js [--full]\n`);
    process.exit(2);
  }
}
const FULL = args.includes('--full');
const OPS = FULL ? 5000 : 400; // per round and operation
const ROUNDS = FULL ? 6 : 4;
const CONC = 8;
const BODY = randomBytes(4096);

interface Side {
  name: string;
  g: ChildGateway;
  s3: S3Client;
  put: number[];
  get: number[];
}

async function pool(n: number, conc: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) await f(next++);
  }));
}

async function side(name: string, flags: string[]): Promise<Side> {
  const g = await startChildGateway(flags);
  const s3 = new S3Client({
    endpoint: g.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ROOT_KEY.accessKey, secretAccessKey: ROOT_KEY.secret },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: CONC }) },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  return { name, g, s3, put: [], get: [] };
}

async function round(s: Side, r: number): Promise<void> {
  let t = performance.now();
  await pool(OPS, CONC, async (i) => void (await s.s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `r${r}/k${i}`, Body: BODY }))));
  s.put.push(OPS / ((performance.now() - t) / 1000));
  t = performance.now();
  await pool(OPS, CONC, async (i) => {
    const o = await s.s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `r${r}/k${i}` }));
    await o.Body!.transformToByteArray();
  });
  s.get.push(OPS / ((performance.now() - t) / 1000));
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

const sides = [await side('limits on (defaults)', []), await side('limits off (before)', ['--max-header-size', '0', '--body-timeout', '0'])];
try {
  // A warm-up round each, not counted.
  for (const s of sides) await round(s, -1);
  for (const s of sides) s.put.length = s.get.length = 0;
  for (let r = 0; r < ROUNDS; r++) for (const s of r % 2 ? [...sides].reverse() : sides) await round(s, r);
  const [on, off] = sides as [Side, Side];
  const rows = [
    ['', 'limits on', 'limits off', 'on / off'],
    ['PUT 4 KiB ops/s', median(on.put).toFixed(0), median(off.put).toFixed(0), (median(on.put) / median(off.put)).toFixed(2)],
    ['GET 4 KiB ops/s', median(on.get).toFixed(0), median(off.get).toFixed(0), (median(on.get) / median(off.get)).toFixed(2)],
  ];
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  process.stdout.write(`gateway limits: ${OPS} ops x ${ROUNDS} rounds, ${CONC} in flight, medians of the rounds\n`);
  for (const row of rows) process.stdout.write(row.map((cell, c) => (c ? cell.padStart(w[c]!) : cell.padEnd(w[c]!))).join('  ') + '\n');
} finally {
  for (const s of sides) {
    s.s3.destroy();
    await s.g.close();
  }
}
