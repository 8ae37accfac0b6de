// `bench:fuse --remote`: a cold sequential read (`cat` of one file, fresh mount, page cache dropped) from Ceph
// RGW through FerryFS, rclone mount and s3fs side by side (Debian's, installed by .ci/setup.d/40-s3-clients.sh,
// taken from test/helpers/tools.ts), with `ferry objbench`'s parallel GET throughput of the same endpoint
// as the ceiling. Every request goes through the bench's HTTP proxy (bench/throttle-proxy.ts), once adding
// nothing and once 20 ms per request (a store far away): the same path for every column, and the proxy
// counts the GETs each reader sent. FerryFS writes its file through its own mount; rclone and s3fs read
// the same bytes as one plain object uploaded with rclone. RGW must have room for the file twice (and for
// objbench's 256 MiB at most): with its memstore (~4 GiB, shared with every other test) use --quick.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatVolume, mountFerry, run, CLI, supervise, type TestMount } from '../test/helpers/mount.js';
import { cleanS3Env, rcloneFor } from '../test/helpers/rclone.js';
import { RGW_ACCESS_KEY, RGW_ENDPOINT, RGW_SECRET_KEY, requireRgw, rgwBucket } from '../test/helpers/rgw.js';
import { missingTool, tool } from '../test/helpers/tools.js';
import { dropBucket, makeBucket } from './rgw-bucket.js';
import { ThrottleProxy } from './throttle-proxy.js';

const MiB = 1 << 20;
const BLOCK = 4 * MiB;
/** Requests in flight for objbench's GET row (FerryFS fetches up to --prefetch 16 blocks ahead). */
const OBJBENCH_THREADS = 16;

export interface RemoteEnv {
  base: string;
  size: number;
  delays: number[];
  sh(cmd: string, args: string[], timeoutMs?: number): Promise<string>;
  dropCaches(): Promise<void>;
  progress(line: string): void;
}

interface Cell {
  mibps: number;
  gets: number;
  /** GETs of FerryFS block objects (the rest: its store marker, listing). */
  blockGets: number;
}

type Reader = 'objbench' | 'FerryFS' | 'rclone mount' | 's3fs';

export async function remoteReadBench(env: RemoteEnv): Promise<string> {
  await requireRgw();
  const proxy = new ThrottleProxy({ target: RGW_ENDPOINT, delayMs: 0 });
  const endpoint = await proxy.listen();
  const s3 = { endpoint, accessKey: RGW_ACCESS_KEY, secretKey: RGW_SECRET_KEY };
  const ferryBucket = rgwBucket('bench-remote-ferry');
  const plainBucket = rgwBucket('bench-remote-plain');
  await makeBucket(ferryBucket);
  await makeBucket(plainBucket);
  const vol = await formatVolume({ storage: `s3://${ferryBucket}?endpoint=${encodeURIComponent(endpoint)}&path-style=true`, ...{ accessKey: s3.accessKey, secretKey: s3.secretKey } });
  const results = new Map<string, Cell>();
  const cellKey = (who: Reader, delay: number) => `${who}@${delay}`;
  try {
    // The file: FerryFS writes it through its mount; the same bytes go up as one object for the others.
    const local = join(env.base, 'remote-src.bin');
    await env.sh('sh', ['-c', `head -c ${env.size} /dev/urandom > '${local}'`]);
    const m = await mountFerry(vol.url, join(vol.dir, 'mnt'));
    try {
      await env.sh('sh', ['-c', `cp '${local}' '${join(m.mp, 'big.bin')}' && sync`], 1_800_000);
    } finally {
      await m.unmount();
    }
    const rclone = missingTool('rclone') ? undefined : await rcloneFor(env.base, s3);
    if (rclone) await rclone.ok(['copyto', local, `${rclone.remote}:${plainBucket}/big.bin`, '--s3-upload-concurrency', '8'], 1_800_000);
    const passwd = join(env.base, 's3fs-passwd');
    await writeFile(passwd, `${s3.accessKey}:${s3.secretKey}\n`, { mode: 0o600 });

    /** Times a cold `cat` of `file` under a mount made by `mount`; the proxy counts the GETs. */
    const coldCat = async (who: Reader, delay: number, mount: () => Promise<TestMount>, file: string) => {
      const mnt = await mount();
      try {
        await env.dropCaches();
        proxy.reset();
        const t = performance.now();
        await env.sh('sh', ['-c', `cat '${join(mnt.mp, file)}' > /dev/null`], 1_800_000);
        const s = (performance.now() - t) / 1000;
        const blockGets = [...proxy.counts.getsByPath].filter(([p]) => p.includes('/chunks/')).reduce((n, [, c]) => n + c, 0);
        const cell = { mibps: env.size / MiB / s, gets: proxy.counts.gets, blockGets };
        results.set(cellKey(who, delay), cell);
        env.progress(`${who}, +${delay} ms: ${cell.mibps.toFixed(0)} MiB/s, ${cell.gets} GETs (${blockGets} of blocks)`);
      } finally {
        await mnt.unmount();
      }
    };

    for (const delay of env.delays) {
      proxy.delayMs = delay;
      results.set(cellKey('objbench', delay), { mibps: await objbenchGet(env, endpoint, plainBucket), gets: 0, blockGets: 0 });
      env.progress(`objbench, +${delay} ms: ${results.get(cellKey('objbench', delay))!.mibps.toFixed(0)} MiB/s`);
      await coldCat('FerryFS', delay, () => mountFerry(vol.url, join(vol.dir, 'mnt')), 'big.bin');
      if (rclone) {
        const mp = join(env.base, 'rclone-mnt');
        await env.sh('mkdir', ['-p', mp]);
        await coldCat('rclone mount', delay, () => {
          const p = spawn(tool('rclone'), ['--config', join(env.base, 'rclone.conf'), 'mount', `${rclone.remote}:${plainBucket}`, mp, '--read-only'], {
            env: { ...cleanS3Env(), HOME: env.base },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          return supervise(p, mp, 'rclone mount', true);
        }, 'big.bin');
      }
      if (!missingTool('s3fs')) {
        const mp = join(env.base, 's3fs-mnt');
        await env.sh('mkdir', ['-p', mp]);
        const opts = [`url=${endpoint}`, 'use_path_request_style', `passwd_file=${passwd}`, 'endpoint=us-east-1', 'ro'].join(',');
        await coldCat('s3fs', delay, () => supervise(spawn(tool('s3fs'), [plainBucket, mp, '-f', '-o', opts], { env: cleanS3Env(), stdio: ['ignore', 'pipe', 'pipe'] }), mp, 's3fs', true), 'big.bin');
      }
    }
  } finally {
    await vol.cleanup().catch(() => undefined);
    for (const b of [ferryBucket, plainBucket]) await dropBucket(b).catch(() => undefined);
    await proxy.close();
  }

  const who: Reader[] = ['objbench', 'FerryFS', 'rclone mount', 's3fs'];
  const head = ['cold `cat` of one file', ...who.map((w) => (w === 'objbench' ? `objbench GET x${OBJBENCH_THREADS}` : w)), 'FerryFS/objbench'];
  const lines = [
    `bench:fuse --remote — cold sequential read of ${env.size / MiB} MiB from Ceph RGW (S3), every request through the bench's proxy`,
    '',
    head.map((h, i) => (i === 0 ? h.padEnd(34) : h.padStart(18))).join(''),
    '-'.repeat(34 + 18 * (head.length - 1)),
  ];
  const blocks = Math.ceil(env.size / BLOCK);
  for (const delay of env.delays) {
    const cells = who.map((w) => results.get(cellKey(w, delay)));
    const ferry = results.get(cellKey('FerryFS', delay));
    const ob = results.get(cellKey('objbench', delay));
    lines.push(
      `MiB/s, store +${delay} ms`.padEnd(34) +
        cells.map((c) => (c ? c.mibps.toFixed(0) : '-').padStart(18)).join('') +
        (ferry && ob ? `${((100 * ferry.mibps) / ob.mibps).toFixed(0)} %` : '-').padStart(18),
    );
    const gets = (c: Cell | undefined, i: number) => (!c || i === 0 ? '' : i === 1 ? `${c.gets} (${c.blockGets} blk)` : String(c.gets));
    lines.push(`GETs (FerryFS: ${blocks} blocks)`.padEnd(34) + cells.map((c, i) => gets(c, i).padStart(18)).join(''));
  }
  lines.push('');
  lines.push(`objbench: \`ferry objbench --threads ${OBJBENCH_THREADS}\` on the same endpoint, its "get 4 MiB objects" row.`);
  lines.push('FerryFS: a fresh `ferry mount` (defaults: --prefetch 16, 4 MiB blocks, crc32c), rclone mount and s3fs with their defaults (read-only).');
  return lines.join('\n') + '\n';
}

/** `ferry objbench`'s whole-object GET throughput (MiB/s) at the endpoint, as a user would measure it. */
async function objbenchGet(env: RemoteEnv, endpoint: string, bucket: string): Promise<number> {
  // RGW's memstore holds ~4 GiB and the file is in it twice already (FerryFS's blocks, the plain object).
  const count = Math.max(16, Math.min(64, Math.floor(env.size / BLOCK / 4)));
  const r = await run(process.execPath, [CLI, 'objbench', '--threads', String(OBJBENCH_THREADS), '--count', String(count), '--access-key', RGW_ACCESS_KEY, '--secret-key', RGW_SECRET_KEY, `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&path-style=true`], { timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`ferry objbench failed: ${r.stderr}`);
  const row = r.stdout.split('\n').find((l) => /^\s*get \S+ objects/.test(l));
  const ops = row ? Number(row.trim().split(/\s{2,}/)[3]) : NaN;
  if (!Number.isFinite(ops)) throw new Error(`no GET row in ferry objbench's output:\n${r.stdout}`);
  return (ops * BLOCK) / MiB;
}
