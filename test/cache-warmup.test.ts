// `ferry warmup` end to end (spawned as a user runs it): warm files and trees into a local disk cache or a
// cache group of `ferry cache serve` processes, --check fractions, idempotence, --evict, and reads that
// succeed from the cache with the object store made unavailable (its directory moved away).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAIN, cacheServe, type Server } from './helpers/cache.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const BS = 256 << 10;
let t: TempVolume;
const dirs: string[] = [];
const servers: Server[] = [];
const files: Record<string, Buffer> = {
  '/models/a.bin': randomBytes(3 * BS),
  '/models/sub/b.bin': randomBytes(3 * BS),
  '/other/c.bin': randomBytes(BS + 10),
};

before(async () => {
  t = await tempVolume({ blockSize: BS });
  await t.v.mkdir('/models/sub', { recursive: true });
  await t.v.mkdir('/other');
  for (const [p, d] of Object.entries(files)) await t.v.writeFile(p, d);
});

after(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  await t?.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-warm-'));
  dirs.push(d);
  return d;
}

function ferry(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): string {
  const r = ferry(args);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Runs fn with the object store's directory moved away, so any object-store read fails. */
async function storeGone<T>(fn: () => Promise<T>): Promise<T> {
  const away = `${t.blocksDir!}.away`;
  await rename(t.blocksDir!, away);
  try {
    return await fn();
  } finally {
    await rename(away, t.blocksDir!);
  }
}

describe('ferry warmup', () => {
  it('warms into a local cache: --check fractions, idempotent, --evict, reads without the object store', async () => {
    const cacheDir = await tempDir();
    const c = ['--cache-dir', cacheDir];
    assert.match(ok(['warmup', t.url, '/models', '--check', ...c]), /: 0\/6 blocks cached, 0 B of 1\.5 MiB \(0\.0%\) in 2 files/);
    assert.match(ok(['warmup', t.url, '/models/a.bin', ...c]), /warmed 1 files, 3 blocks, 768 KiB .*768 KiB fetched.*0 B already cached/);
    assert.match(ok(['warmup', t.url, '/models', '--check', ...c]), /: 3\/6 blocks cached, 768 KiB of 1\.5 MiB \(50\.0%\) in 2 files/);
    // Again, on the tree: only the missing half is fetched.
    assert.match(ok(['warmup', t.url, '/models', '--threads', '4', ...c]), /warmed 2 files, 6 blocks.*768 KiB fetched.*768 KiB already cached/);
    assert.match(ok(['warmup', t.url, '/', '--check', ...c]), /: 6\/8 blocks cached.*in 3 files/);

    await storeGone(async () => {
      const v = await t.open({ cacheDir, backgroundJobs: false });
      try {
        assert.deepEqual(await v.readFile('/models/a.bin'), files['/models/a.bin']);
        assert.deepEqual(await v.readFile('/models/sub/b.bin'), files['/models/sub/b.bin']);
        await assert.rejects(v.readFile('/other/c.bin'), /EIO|missing/, 'not warmed: needs the (gone) store');
      } finally {
        await v.close();
      }
    });

    assert.match(ok(['warmup', t.url, '/models/sub', '--evict', ...c]), /evicted 3 blocks/);
    assert.match(ok(['warmup', t.url, '/models', '--check', ...c]), /3\/6 blocks cached.*\(50\.0%\)/);
  });

  it('warms a cache group of `ferry cache serve` processes, and group clients read without the object store', async () => {
    for (let i = 0; i < 2; i++) {
      const s = await cacheServe(t.url, ['--cache-group', 'wg', '--listen', '127.0.0.1:0', '--cache-dir', await tempDir()]);
      servers.push(s);
    }
    const g = ['--cache-group', 'wg'];
    assert.match(ok(['warmup', t.url, '/models', '--check', ...g]), /cache group wg: 0\/6 blocks cached/);
    assert.match(ok(['warmup', t.url, '/models', ...g]), /cache group wg: warmed 2 files, 6 blocks/);
    assert.match(ok(['warmup', t.url, '/models', '--check', ...g]), /cache group wg: 6\/6 blocks cached.*\(100\.0%\)/);
    assert.match(ok(['cache', 'members', t.url]), /wg\s+127\.0\.0\.1:\d+/);

    await storeGone(async () => {
      const v = await t.open({
        cacheGroup: 'wg',
       
        noSharing: true,
        memoryCacheSize: 0,
        groupTuning: { peerTimeoutMs: 60_000 },
        backgroundJobs: false,
      });
      try {
        assert.deepEqual(await v.readFile('/models/a.bin'), files['/models/a.bin']);
        assert.deepEqual(await v.readFile('/models/sub/b.bin'), files['/models/sub/b.bin']);
      } finally {
        await v.close();
      }
    });
  });

  it('with --replicas 2 in two zones, every block survives losing a member', async () => {
    const zoned: Server[] = [];
    for (const zone of ['za', 'zb']) {
      const s = await cacheServe(t.url, ['--cache-group', 'rg', '--listen', '127.0.0.1:0', '--cache-dir', await tempDir(), '--zone', zone]);
      servers.push(s);
      zoned.push(s);
    }
    assert.match(ok(['warmup', t.url, '/models', '--cache-group', 'rg', '--replicas', '2']), /warmed 2 files, 6 blocks/);
    await zoned[0]!.stop('SIGKILL'); // crashed: still in the ring until its heartbeat lapses
    await storeGone(async () => {
      const v = await t.open({
        cacheGroup: 'rg',
       
        noSharing: true,
        replicas: 2,
        memoryCacheSize: 0,
        groupTuning: { peerTimeoutMs: 60_000 },
        backgroundJobs: false,
      });
      try {
        assert.deepEqual(await v.readFile('/models/a.bin'), files['/models/a.bin']);
        assert.deepEqual(await v.readFile('/models/sub/b.bin'), files['/models/sub/b.bin']);
      } finally {
        await v.close();
      }
    });
  });

  it('says plainly what is missing', () => {
    const r = ferry(['warmup', t.url, '/models']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: warmup needs --cache-dir DIR or --cache-group NAME\n$/);
    const e = ferry(['warmup', t.url, '/models', '--cache-group', 'nobody']);
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /cache group nobody has no live members/);
  });
});
