// npm run bench:posix — what issue 17's POSIX guarantees cost through real FUSE mounts: 4 KiB O_APPEND
// writes from one and from two clients (mounts of one volume), plain and with fsync after each, and a
// sequential read of a volume formatted with block checksums (crc32c, the default) against one without.
// Runs as root (mounts). A benchmark, never a test: it asserts nothing about timing.
//
//   node dist/bench/posix.js [--appends 4000] [--size 512M] [--rounds 2] [--rows append,read]
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, mountFerry, type TestMount } from '../test/helpers/mount.js';

const MiB = 1 << 20;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1]!;
  return process.env[`FERRY_BENCH_${name.toUpperCase()}`] ?? def;
}

const APPENDS = Number(arg('appends', '4000'));
const SIZE = Number(/^(\d+)M$/i.exec(arg('size', '512M'))?.[1] ?? 512) * MiB;
const ROUNDS = Number(arg('rounds', '2'));
const ROWS = new Set(arg('rows', 'append,read').split(','));

function sh(cmd: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((res, rej) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (e, out, err) => (e ? rej(new Error(`${cmd} ${args.join(' ')}: ${err || e.message}`)) : res(String(out)))),
  );
}

/** A volume formatted by `ferry format` (so with its defaults) in a temp dir, with --hash as given. */
async function volume(hash: string): Promise<{ url: string; dir: string }> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'ferry-bench-posix-'));
  await fsp.chmod(dir, 0o755);
  const url = `sqlite3://${join(dir, 'meta.db')}`;
  await sh(process.execPath, [CLI, 'format', '--storage', `file://${join(dir, 'blocks')}`, '--hash', hash, '--trash-days', '0', url, 'bench']);
  return { url, dir };
}

// One writer process: n writes of 4 KiB to a file opened with O_APPEND (fsync after each if asked); prints
// its seconds. The start time is the file's own: both writers of a two-client row start together.
const WRITER = `
import os, sys, time
path, n, sync = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
buf = b'x' * 4095 + b'\\n'
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
t = time.perf_counter()
for i in range(n):
    os.write(fd, buf)
    if sync:
        os.fsync(fd)
os.close(fd)
print(time.perf_counter() - t)
`;

/** Appends per second summed over the writers (each on its own mount), and whether every byte stayed. */
async function appendRow(mounts: TestMount[], name: string, n: number, sync: boolean): Promise<{ ops: number; kept: boolean }> {
  const secs = await Promise.all(mounts.map((m) => sh('python3', ['-c', WRITER, join(m.mp, name), String(n), sync ? '1' : '0']).then(Number)));
  const size = (await fsp.stat(join(mounts[0]!.mp, name))).size;
  return { ops: (n * mounts.length) / Math.max(...secs), kept: size === n * mounts.length * 4096 };
}

async function seqRead(path: string): Promise<number> {
  await sh('sync', []);
  await fsp.writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
  const fh = await fsp.open(path, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  const t = performance.now();
  for (let off = 0; off < SIZE; off += MiB) await fh.read(buf, 0, MiB, off);
  const s = (performance.now() - t) / 1000;
  await fh.close();
  return SIZE / MiB / s;
}

/** Writes SIZE bytes through one mount, then reads them through a fresh mount (no client cache) ROUNDS times; the best. */
async function readRow(hash: string): Promise<number> {
  const v = await volume(hash);
  try {
    const w = await mountFerry(v.url, join(v.dir, 'w'));
    await sh('dd', ['if=/dev/urandom', `of=${join(w.mp, 'big')}`, 'bs=1M', `count=${SIZE / MiB}`, 'conv=fsync', 'status=none']);
    await w.unmount();
    let best = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const r = await mountFerry(v.url, join(v.dir, `r${i}`));
      try {
        best = Math.max(best, await seqRead(join(r.mp, 'big')));
      } finally {
        await r.unmount();
      }
    }
    return best;
  } finally {
    await fsp.rm(v.dir, { recursive: true, force: true });
  }
}

const fix = (x: number | undefined, d = 0) => (x === undefined ? '-' : x.toFixed(d));

async function main(): Promise<void> {
  const lines: string[] = [];
  if (ROWS.has('append')) {
    const v = await volume('crc32c');
    const m1 = await mountFerry(v.url, join(v.dir, 'm1'));
    const m2 = await mountFerry(v.url, join(v.dir, 'm2'));
    try {
      const rows: Array<[string, TestMount[], number, boolean]> = [
        ['4 KiB appends, 1 client', [m1], APPENDS, false],
        ['4 KiB appends, 2 clients (sum)', [m1, m2], APPENDS, false],
        ['4 KiB appends + fsync, 1 client', [m1], APPENDS / 4, true],
        ['4 KiB appends + fsync, 2 clients (sum)', [m1, m2], APPENDS / 4, true],
      ];
      let i = 0;
      for (const [label, ms, n, sync] of rows) {
        let best = { ops: 0, kept: true };
        for (let r = 0; r < ROUNDS; r++) {
          const got = await appendRow(ms, `f${i++}`, n, sync);
          best = { ops: Math.max(best.ops, got.ops), kept: best.kept && got.kept };
        }
        lines.push(`${label.padEnd(42)}${'ops/s'.padEnd(8)}${fix(best.ops).padStart(9)}   ${best.kept ? 'every byte kept' : 'BYTES LOST'}`);
      }
    } finally {
      await m1.unmount();
      await m2.unmount();
      await fsp.rm(v.dir, { recursive: true, force: true });
    }
  }
  if (ROWS.has('read')) {
    const on = await readRow('crc32c');
    const off = await readRow('none');
    lines.push(`${`sequential read ${SIZE / MiB} MiB, checksum crc32c`.padEnd(42)}${'MiB/s'.padEnd(8)}${fix(on).padStart(9)}   ${fix((on / off) * 100)}% of none`);
    lines.push(`${`sequential read ${SIZE / MiB} MiB, checksum none`.padEnd(42)}${'MiB/s'.padEnd(8)}${fix(off).padStart(9)}`);
  }
  process.stdout.write(`bench:posix — ${cpus().length} cores, Linux ${release()}, best of ${ROUNDS}\n${lines.join('\n')}\n`);
}

await main();
