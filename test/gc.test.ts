// ferry gc (issue 22 items 2, 8 and 9): the leftovers of a mount killed during an unsynced write and of a
// gateway killed during a large PUT are listed exactly and deleted; a writer committing files while gc
// deletes loses nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { sliceBlocks } from '../src/chunk/keys.js';
import { openMeta } from '../src/meta/index.js';
import { ferry, filesUnder, ok } from './helpers/cli.js';
import { ROOT_KEY, addKeys } from './helpers/gateway.js';
import { rawRequest, requestHead, signedHeaders, startChildGateway } from './helpers/gateway-child.js';
import { fuseTestOptions, mountFerry } from './helpers/mount.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const BS = 64 << 10;
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Object keys in the volume's file:// store (block keys only). */
async function storedBlocks(tv: TempVolume): Promise<Set<string>> {
  return new Set((await filesUnder(tv.blocksDir!)).map((f) => relative(tv.blocksDir!, f)).filter((k) => k.startsWith(`${tv.name}/chunks/`)));
}

/** Block keys of every slice the metadata refers to (chunks and the delete queue), walked independently of gc. */
async function referencedBlocks(tv: TempVolume): Promise<Set<string>> {
  const m = await openMeta(tv.url);
  try {
    const keys = new Set<string>();
    for await (const c of m.scanChunks()) for (const s of c.slices) if (s.id) for (const b of sliceBlocks(tv.name, s.id, s.size, BS)) keys.add(b.key);
    for (const s of await m.pendingDeletedSlices(1e9)) for (const b of sliceBlocks(tv.name, s.id, s.size, BS)) keys.add(b.key);
    return keys;
  } finally {
    await m.close();
  }
}

/** Waits until the store holds at least n more blocks than `before`. */
async function blocksGrow(tv: TempVolume, before: number, n: number, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await storedBlocks(tv)).size < before + n) {
    assert.ok(Date.now() < deadline, `${what}: blocks did not appear`);
    await sleep(50);
  }
}

test('the leftovers of a killed mount and a killed gateway are listed exactly, deleted, and fsck is clean', fuseTestOptions(), async () => {
  const tv = await tempVolume({ blockSize: BS });
  cleanups.push(() => tv.cleanup());
  await tv.v.writeFile('/kept.bin', Buffer.alloc(3 * BS, 9));
  await addKeys(tv, [ROOT_KEY]);

  // 1. A mount killed while a process writes a large file it has not closed or synced.
  const mp = join(tv.dir, 'mnt');
  const mount = await mountFerry(tv.url, mp);
  cleanups.push(() => mount.unmount());
  let before = (await storedBlocks(tv)).size;
  const writer = spawn(process.execPath, [
    '-e',
    `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(join(mp, 'unsynced.bin'))},'w');` +
      `for(let i=0;i<40;i++)fs.writeSync(fd,Buffer.alloc(${BS},i+1));console.log('written');setInterval(()=>{},1e6);`,
  ]);
  cleanups.push(async () => writer.kill('SIGKILL'));
  await blocksGrow(tv, before, 8, 'mount');
  mount.child.kill('SIGKILL');
  writer.kill('SIGKILL');
  await mount.unmount();

  // 2. A gateway killed while it receives a large PUT (half the body sent).
  const gw = await startChildGateway([], [ROOT_KEY], {}, tv);
  cleanups.push(() => gw.close());
  const mk = await rawRequest(gw.port, requestHead('PUT', '/bkt', await signedHeaders(gw, 'PUT', '/bkt', {}, Buffer.alloc(0))), Buffer.alloc(0), 30_000);
  assert.equal(mk?.status, 200);
  const body = Buffer.alloc(64 * BS, 5);
  const head = requestHead('PUT', '/bkt/big.bin', await signedHeaders(gw, 'PUT', '/bkt/big.bin', {}, body));
  before = (await storedBlocks(tv)).size;
  const sock = connect(gw.port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.write(head + '\r\n');
  sock.write(body.subarray(0, body.length / 2));
  await blocksGrow(tv, before, 8, 'gateway');
  gw.proc.kill('SIGKILL');
  sock.destroy();
  await new Promise((r) => gw.proc.once('exit', r));
  await tv.v.close();

  // What the store holds that the metadata does not name: the leftovers, seen independently of gc.
  const stored = await storedBlocks(tv);
  const referenced = await referencedBlocks(tv);
  const orphans = [...stored].filter((k) => !referenced.has(k)).sort();
  assert.ok(orphans.length >= 2, `the crashes left orphans (${orphans.length})`);

  // With the default window (1 hour) nothing is old enough.
  const young = ok(ferry(tv.dir, ['gc', tv.url]));
  assert.match(young.stdout, /leaked\s+0\s/);
  const listed = ok(ferry(tv.dir, ['gc', '--age', '0', '-v', tv.url]));
  const leaked = [...listed.stdout.matchAll(/^leaked: (\S+) /gm)].map((m) => m[1]!).sort();
  assert.deepEqual(leaked, orphans);
  assert.deepEqual(await storedBlocks(tv), stored, 'listing deletes nothing');

  const deleted = ok(ferry(tv.dir, ['gc', '--age', '0', '--delete', tv.url]));
  assert.match(deleted.stdout, new RegExp(`leaked \\(deleted\\)\\s+${orphans.length}\\s`));
  const left = await storedBlocks(tv);
  assert.deepEqual([...left].sort(), [...stored].filter((k) => referenced.has(k)).sort());
  assert.match(ok(ferry(tv.dir, ['gc', '--age', '0', tv.url])).stdout, /leaked\s+0\s/);

  // The used space the crashes left counted: the killed gateway's half-received object (an inode in its tmp
  // directory, in no bucket). fsck names it and --repair removes it.
  const found = ferry(tv.dir, ['fsck', tv.url]);
  assert.equal(found.code, 1, found.stderr);
  assert.match(found.stdout, /gateway-temp: \/\S+\/tmp\/\.tmp-\d+-[0-9a-f]{16} \(\d+ bytes and an inode counted in usedSpace\/totalInodes, in no bucket\) belongs to a gateway that is gone \[repairable\]/);
  assert.match(ok(ferry(tv.dir, ['fsck', '--repair', tv.url])).stdout, /gateway-temp: .*\[repaired\]/);
  // Its name is gone; its inode and space go when the dead gateway's session is cleaned (it held the file open).
  const tmp = found.stdout.match(/gateway-temp: (\S+)\/(\.tmp-\S+)/)!;
  assert.doesNotMatch(ok(ferry(tv.dir, ['ls', tv.url, tmp[1]!])).stdout, new RegExp(tmp[2]!.replace(/\./g, '\\.')));
  assert.match(ok(ferry(tv.dir, ['fsck', tv.url])).stdout, /no problems found/);
  assert.equal(ok(ferry(tv.dir, ['cat', tv.url, '/kept.bin'])).stdout.length, 3 * BS);
});

test('gc --delete while a writer commits files deletes nothing referenced', async () => {
  const tv = await tempVolume({ blockSize: BS });
  cleanups.push(() => tv.cleanup());
  const written = new Map<string, string>();
  let stop = false;
  let n = 0;
  const writer = (async () => {
    while (!stop) {
      const data = Buffer.alloc(BS * (1 + (n % 3)) + n, n % 251);
      const path = `/w${n++}.bin`;
      await tv.v.writeFile(path, data);
      written.set(path, createHash('sha256').update(data).digest('hex'));
    }
  })();
  // Several runs, each listing the store while files are being uploaded and committed.
  const runs: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await new Promise<{ code: number | null; out: string }>((res) => {
      const c = spawn(process.execPath, [join(import.meta.dirname, '../src/cli/main.js'), 'gc', '--age', '0', '--delete', tv.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.once('exit', (code) => res({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    runs.push(r.out);
  }
  stop = true;
  await writer;
  assert.ok(written.size >= 10, `the writer committed files during gc (${written.size})`);
  const reader = await tv.open();
  for (const [path, sum] of written) {
    assert.equal(createHash('sha256').update(await reader.readFile(path)).digest('hex'), sum, path);
  }
});
