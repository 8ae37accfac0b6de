// ferry bench (issue 22 item 5): the juicefs-bench workload against a META-URL (through the client, with the
// metadata calls and object requests behind each stage) and against a real FUSE mount (node:fs), small sizes;
// the table and --json shapes, and that nothing is left behind (not even in the trash).
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { spawn } from 'node:child_process';
import { MAIN, ferry, ok, oneLineError, tempDir } from './helpers/cli.js';
import { formatVolume, fuseTestOptions, mountFerry, type TestMount, type TestVolume } from './helpers/mount.js';
import { storeBlocks, tempVolume } from './helpers/volume.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const SMALL = ['--big-file-size', '2M', '--block-size', '256K', '--small-file-size', '64K', '--small-file-count', '5'];
const STAGES = ['write big file', 'read big file', 'write small files', 'read small files', 'stat small files'];

interface Stage {
  stage: string;
  files: number;
  bytes: number;
  seconds: number;
  bytesPerSec: number;
  filesPerSec: number;
  msPerFile: number;
  behind?: { meta: Record<string, { count: number; ms: number }>; objects: Record<string, { count: number; ms: number; bytes: number }> };
}

test('ferry bench META-URL: figures per stage with the metadata and object requests behind them; leaves nothing, not even in the trash', async () => {
  const tv = await tempVolume({ blockSize: 1 << 20, format: { trashDays: 1 } });
  cleanups.push(() => tv.cleanup());
  await tv.v.mkdir('/work');
  const before = await tv.v.statfs();
  const blocksBefore = await storeBlocks(tv.blocksDir!);

  const r = ok(ferry(tv.dir, ['bench', '--json', '-p', '2', ...SMALL, tv.url, '/work']));
  const j = JSON.parse(r.stdout) as { target: string; threads: number; cleanedUp: boolean; dir: string; stages: Stage[] };
  assert.equal(j.threads, 2);
  assert.equal(j.cleanedUp, true);
  assert.match(j.dir, /^\/work\/__ferry_bench_/);
  assert.deepEqual(j.stages.map((s) => s.stage), STAGES);
  const by = Object.fromEntries(j.stages.map((s) => [s.stage, s])) as Record<string, Stage>;
  assert.equal(by['write big file']!.files, 2);
  assert.equal(by['write big file']!.bytes, 4 << 20);
  assert.equal(by['write small files']!.files, 10);
  assert.equal(by['read small files']!.bytes, 10 * (64 << 10));
  assert.equal(by['stat small files']!.bytes, 0);
  for (const s of j.stages) {
    assert.ok(s.seconds > 0 && s.filesPerSec > 0 && s.msPerFile >= 0, s.stage);
    assert.ok(s.behind, `${s.stage}: measured through the client`);
  }
  // Two 2 MiB files in 1 MiB blocks: four blocks put; ten small files: ten puts, each a create + commit.
  const objs = (s: string, k: string) => by[s]!.behind!.objects[k];
  assert.equal(objs('write big file', 'put')?.count, 4);
  const put = objs('write big file', 'put')?.bytes ?? 0;
  assert.ok(put >= 4 << 20 && put < (4 << 20) + 4096, `bytes as stored (each block with its checksum): ${put}`);
  assert.equal(objs('write small files', 'put')?.count, 10);
  assert.ok((objs('read big file', 'get')?.bytes ?? 0) >= 4 << 20, 'the big files were read from the store');
  assert.ok((by['write small files']!.behind!.meta.create?.count ?? 0) >= 10, JSON.stringify(by['write small files']!.behind!.meta));

  // Nothing left: the directory, the trash, the counters and the store are as before.
  assert.deepEqual(await tv.v.readdir('/work'), []);
  const trash = await tv.v.readdir('/.trash').catch(() => []);
  assert.deepEqual(trash, [], 'the bench went past the trash');
  const now = await tv.v.statfs();
  assert.equal(now.files - now.ffree, before.files - before.ffree, 'inodes back to before');
  assert.equal(now.bfree, before.bfree, 'space back to before');
  assert.equal((await storeBlocks(tv.blocksDir!)).count, blocksBefore.count, 'the blocks were deleted before bench ended');

  // The table: the stages with MiB/s and files/s, then what was behind them.
  const t = ok(ferry(tv.dir, ['bench', '--big-file-size', '1M', '--block-size', '512K', '--small-file-size', '4K', '--small-file-count', '3', tv.url]));
  assert.match(t.stdout, /^bench sqlite3:\/\/\S+: 1 thread\(s\); big file 1 MiB in 512 KiB blocks; 3 small file\(s\) of 4 KiB per thread\n/);
  assert.match(t.stdout, /^STAGE\s+FILES\s+THROUGHPUT\s+FILES\/S\s+PER FILE\s+TIME$/m);
  assert.match(t.stdout, /^write big file\s+1\s+[\d.]+ MiB\/s\s+[\d.]+\s+[\d.]+ ms\s+[\d.]+ s$/m);
  assert.match(t.stdout, /^stat small files\s+3\s+-\s+[\d.]+\s+[\d.]+ ms\s+[\d.]+ s$/m);
  assert.match(t.stdout, /^BEHIND IT\s+META CALLS\s+PER CALL\s+PUTS\s+PER PUT\s+GETS\s+PER GET\s+OTHER OBJ\s+PER REQ$/m);
  assert.match(t.stdout, /^write big file\s+\d+\s+[\d.]+ ms\s+1\s+[\d.]+ ms\s+0\s+-/m); // 1 MiB: one block of the volume
  assert.deepEqual(await tv.v.readdir('/'), ['work']);
});

test('ferry bench MOUNTPOINT: the workload through a real FUSE mount, cleaned up', fuseTestOptions(), async () => {
  const vol: TestVolume = await formatVolume({ blockSize: 1 << 20 });
  cleanups.push(() => vol.cleanup());
  const mp = join(vol.dir, 'mnt');
  const m: TestMount = await mountFerry(vol.url, mp);
  cleanups.push(() => m.unmount());
  const r = ok(ferry(vol.dir, ['bench', '--json', '-p', '2', ...SMALL, mp]));
  const j = JSON.parse(r.stdout) as { target: string; cleanedUp: boolean; stages: Stage[] };
  assert.equal(j.target, mp);
  assert.equal(j.cleanedUp, true);
  assert.deepEqual(j.stages.map((s) => s.stage), STAGES);
  assert.equal(j.stages[0]!.bytes, 4 << 20);
  assert.equal(j.stages.every((s) => s.behind === undefined), true, 'no client of its own to probe');
  assert.deepEqual(await readdir(mp), []);
  const t = ok(ferry(vol.dir, ['bench', '--big-file-size', '0', '--small-file-count', '2', mp]));
  assert.match(t.stdout, /^write small files\s+2\s+[\d.]+ MiB\/s/m);
  assert.doesNotMatch(t.stdout, /^(write|read) big file|BEHIND/m);
  assert.deepEqual(await readdir(mp), []);
  await m.unmount();
});

test('ferry bench META-URL interrupted (Ctrl-C) removes what it wrote and exits 130', async () => {
  const tv = await tempVolume({ blockSize: 1 << 20 });
  cleanups.push(() => tv.cleanup());
  const child = spawn(process.execPath, [MAIN, 'bench', '--big-file-size', '4G', tv.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(async () => child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while ((await storeBlocks(tv.blocksDir!)).count < 2) {
    assert.ok(Date.now() < deadline, `no block written: ${err}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, err);
  assert.deepEqual(await tv.v.readdir('/'), []);
  assert.equal((await storeBlocks(tv.blocksDir!)).count, 0, 'its blocks were deleted too');
});

test('ferry bench: bad input is one line', async () => {
  const dir = await tempDir();
  oneLineError(ferry(dir, ['bench', join(dir, 'nope')]), 2, /not a directory/);
  oneLineError(ferry(dir, ['bench', '-p', '0', dir]), 2, /--threads: must be 1 or more/);
  oneLineError(ferry(dir, ['bench', '--block-size', 'x', dir]), 2, /--block-size/);
  oneLineError(ferry(dir, ['bench', dir, '/sub']), 2, /MOUNTPOINT takes no PATH/);
  oneLineError(ferry(dir, ['bench', 'nosuch://x']), 2, /nosuch/);
  oneLineError(ferry(dir, ['bench', `sqlite3://${join(dir, 'none.db')}`]), 1, /none\.db/);
  assert.deepEqual(await readdir(dir), [], 'nothing created');
});
