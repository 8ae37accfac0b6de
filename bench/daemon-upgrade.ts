// npm run bench:daemon-upgrade — what a client sees while a door is replaced: a request loop against
// `ferry gateway -d` (S3 PUT/GET with the AWS SDK, retries off) and `ferry meta-server -d` (getattr over a
// ferry:// client), in steady state, during in-place upgrades (`--upgrade`: the new process takes the listening
// socket, the old one drains) and during plain stop+start restarts (SIGTERM, then `-d` again). Latency
// p50/p99/max of the requests that succeeded, and how many failed. One temp volume (SQLite + file://), one
// table. A benchmark, never a test: it asserts nothing.
//
//   node dist/bench/daemon-upgrade.js [--swaps N] [--steady SEC] [--full]
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { rootContext } from '../src/meta/types.js';
import { formatVolume } from '../test/helpers/mount.js';
import { alive, backgroundPid, freePort, install, Loop, upgradedPid, type Install } from '../test/helpers/upgrade.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench:daemon-upgrade: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/daemon-upgrade.js [--swaps N] [--steady SEC] [--full]\n');
  process.exit(msg ? 2 : 0);
}

const args = process.argv.slice(2);
const opt = { swaps: 3, steady: 3 };
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--swaps') opt.swaps = Number(args[++i] ?? usage('--swaps needs a number'));
  else if (a === '--steady') opt.steady = Number(args[++i] ?? usage('--steady needs seconds'));
  else if (a === '--full') Object.assign(opt, { swaps: 10, steady: 10 });
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown option '${a}'`);
}
if (!(opt.swaps > 0) || !(opt.steady > 0)) usage('--swaps and --steady must be positive');

const AK = 'BENCHKEY';
const SK = 'bench-secret-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  door: string;
  phase: string;
  ok: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

function rowOf(door: string, phase: string, l: Loop): Row {
  const s = [...l.latencies].sort((a, b) => a - b);
  return { door, phase, ok: l.ok, failed: l.failures.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
}

async function waitExit(pid: number): Promise<void> {
  while (alive(pid)) await sleep(20);
}

/** One door: steady state, upgrades, stop+start, each under the same request loop. */
async function measure(door: string, inst: Install, start: () => Promise<number>, target: string, step: (i: number) => Promise<void>): Promise<Row[]> {
  let pid = await start();
  // A failed request is tried again after 10 ms (the loop counts each failure), as a patient client would.
  const loop = () => new Loop(async (i) => step(i).catch(async (e) => {
    await sleep(10);
    throw e;
  }));
  const rows: Row[] = [];
  let l = loop();
  await sleep(opt.steady * 1000);
  await l.stop();
  rows.push(rowOf(door, 'steady', l));

  l = loop();
  await sleep(200);
  for (let n = 0; n < opt.swaps; n++) {
    const r = await inst.ferry([door, '--upgrade', target]);
    if (r.code !== 0) throw new Error(`upgrade failed: ${r.stderr}`);
    const next = upgradedPid(r.stdout);
    await waitExit(pid);
    pid = next;
    await sleep(200);
  }
  await l.stop();
  rows.push(rowOf(door, `${opt.swaps} upgrades`, l));

  l = loop();
  await sleep(200);
  for (let n = 0; n < opt.swaps; n++) {
    process.kill(pid, 'SIGTERM');
    await waitExit(pid);
    pid = await start();
    await sleep(200);
  }
  await l.stop();
  rows.push(rowOf(door, `${opt.swaps} stop+start`, l));
  process.kill(pid, 'SIGTERM');
  await waitExit(pid);
  return rows;
}

async function main(): Promise<void> {
  const vol = await formatVolume();
  const inst = await install('1.0.0');
  const rows: Row[] = [];
  try {
    const k = await inst.ferry(['gateway', 'keys', 'add', vol.url, '--uid', '0', '--gid', '0', '--access-key', AK, '--secret-key', SK]);
    if (k.code !== 0) throw new Error(k.stderr);

    const gwAddr = `127.0.0.1:${await freePort()}`;
    const startGw = async () => {
      const d = await inst.ferry(['gateway', '-d', '--log', join(vol.dir, 'gateway.log'), vol.url, gwAddr]);
      if (d.code !== 0) throw new Error(d.stderr);
      return backgroundPid(d.stderr);
    };
    const s3 = new S3Client({ endpoint: `http://${gwAddr}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SK }, maxAttempts: 1 });
    let bucketMade = false;
    rows.push(
      ...(await measure('gateway', inst, async () => {
        const pid = await startGw();
        if (!bucketMade) await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
        bucketMade = true;
        return pid;
      }, gwAddr, async (i) => {
        if (i % 2 === 0) await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `k${i >> 1}`, Body: `v${i}` }));
        else await (await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `k${i >> 1}` }))).Body!.transformToString();
      })),
    );
    s3.destroy();

    const msAddr = `127.0.0.1:${await freePort()}`;
    const { openMeta } = await import('../src/meta/index.js');
    const direct = await openMeta(vol.url);
    process.env.FERRY_SERVICE_SECRET = (await direct.load()).services!.secret;
    await direct.close();
    const startMs = async () => {
      const d = await inst.ferry(['meta-server', '-d', '--log', join(vol.dir, 'meta.log'), vol.url, '--listen', msAddr]);
      if (d.code !== 0) throw new Error(d.stderr);
      return backgroundPid(d.stderr);
    };
    let remote: Awaited<ReturnType<typeof openMeta>> | undefined;
    const ctx = rootContext();
    rows.push(
      ...(await measure('meta-server', inst, async () => {
        const pid = await startMs();
        remote ??= await openMeta(`ferry://${msAddr}`);
        return pid;
      }, msAddr, async () => {
        await remote!.getattr(ctx, 1);
      })),
    );
    await remote?.close();
  } finally {
    await inst.cleanup();
    await vol.cleanup();
  }

  const head = ['door', 'phase', 'requests ok', 'failed', 'p50 ms', 'p99 ms', 'max ms'];
  const body = rows.map((r) => [r.door, r.phase, String(r.ok), String(r.failed), r.p50.toFixed(2), r.p99.toFixed(2), r.max.toFixed(1)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (l: string[]) => `| ${l.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |\n`;
  process.stdout.write(
    `daemon upgrade vs stop+start: one client, requests back to back (failed ones again after 10 ms); ${opt.swaps} swaps, ${opt.steady} s steady\n` +
      `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, node ${process.version}\n\n` +
      line(head) +
      `|${w.map((n, i) => (i < 2 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|')}|\n` +
      body.map(line).join(''),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:daemon-upgrade: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
