// ferry fsck (issue 22 items 1 and 9): each test injects one corruption with the engine's Tx primitives
// (below BaseMeta, as a bug or a crash would leave it) or in the file:// store, then checks that fsck
// reports it and exits 1, that --repair fixes what it says it fixes, and that a second run finds nothing.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import type { Engine, Tx } from '../src/meta/tx.js';
import { ROOT_INODE, TYPE_FILE } from '../src/meta/types.js';
import { ferry, ok } from './helpers/cli.js';
import { filesUnder } from './helpers/cli.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const vols: TempVolume[] = [];
after(() => Promise.all(vols.map((v) => v.cleanup())));

/** A volume holding /a (and the given files), its first client closed so only fsck runs. */
async function volume(files: Record<string, Buffer | string> = { a: 'alpha' }): Promise<TempVolume> {
  const tv = await tempVolume({ blockSize: 64 << 10 });
  vols.push(tv);
  for (const [name, data] of Object.entries(files)) await tv.v.writeFile(`/${name}`, data);
  await tv.v.close();
  return tv;
}

/** Writes straight through the engine, bypassing BaseMeta: no counters, no link bookkeeping. */
async function inject(tv: TempVolume, fn: (tx: Tx) => Promise<void>): Promise<void> {
  const m = await openMeta(tv.url);
  try {
    await (m as unknown as { eng: Engine }).eng.txn(fn);
  } finally {
    await m.close();
  }
}

async function inodeOf(tv: TempVolume, name: string): Promise<number> {
  const m = await openMeta(tv.url);
  try {
    return await (m as unknown as { eng: Engine }).eng.read(async (tx) => (await tx.getEntry(ROOT_INODE, name))!.inode);
  } finally {
    await m.close();
  }
}

const fsck = (tv: TempVolume, ...args: string[]) => ferry(tv.dir, ['fsck', ...args, tv.url]);

/** fsck finds `pattern` and fails; --repair fixes it; a third run is clean. */
function detectAndRepair(tv: TempVolume, pattern: RegExp): void {
  const found = fsck(tv);
  assert.equal(found.code, 1, found.stdout + found.stderr);
  assert.match(found.stdout, pattern);
  assert.match(found.stdout, /\[repairable\]/);
  assert.match(found.stderr, /problem\(s\) remain \(run 'ferry fsck --repair'/);
  const fixed = ok(fsck(tv, '--repair'));
  assert.match(fixed.stdout, pattern);
  assert.match(fixed.stdout, /\[repaired\]/);
  assert.match(ok(fsck(tv)).stdout, /no problems found/);
}

test('a sound volume passes', async () => {
  const tv = await volume({ a: 'alpha', b: Buffer.alloc(200 << 10, 7) });
  const r = ok(fsck(tv, '--check-blocks'));
  assert.match(r.stdout, /no problems found/);
  assert.match(r.stdout, /checked \d+ inodes, \d+ entries, 2 slices, 5 blocks \(read\)/);
});

test('an entry naming a missing inode is found and removed', async () => {
  const tv = await volume();
  await inject(tv, (tx) => tx.setEntry(ROOT_INODE, 'ghost', 987654, TYPE_FILE));
  detectAndRepair(tv, /dangling-entry: entry 'ghost' in directory 1 names inode 987654/);
  assert.doesNotMatch(ok(ferry(tv.dir, ['ls', tv.url, '/'])).stdout, /ghost/);
});

test('a wrong link count is found and corrected', async () => {
  const tv = await volume();
  const ino = await inodeOf(tv, 'a');
  await inject(tv, async (tx) => {
    const a = (await tx.getAttr(ino))!;
    await tx.setAttr(ino, { ...a, nlink: 5 });
  });
  detectAndRepair(tv, new RegExp(`wrong-nlink: /a \\(inode ${ino}\\) has nlink 5, its entries say 1`));
  assert.match(ok(ferry(tv.dir, ['stat', tv.url, '/a'])).stdout, /Links: 1\b/);
});

test('an orphan inode is found and linked into /lost+found with its data', async () => {
  const tv = await volume({ a: 'alpha', keep: 'orphaned data' });
  const ino = await inodeOf(tv, 'keep');
  await inject(tv, (tx) => tx.delEntry(ROOT_INODE, 'keep'));
  detectAndRepair(tv, new RegExp(`orphan: inode ${ino} \\(nlink 1\\) has no entry and is not open`));
  assert.equal(ok(ferry(tv.dir, ['cat', tv.url, `/lost+found/#${ino}`])).stdout, 'orphaned data');
});

test('wrong usedSpace and totalInodes counters are found and corrected', async () => {
  const tv = await volume();
  await inject(tv, async (tx) => {
    await tx.incrCounter('usedSpace', 123 << 20);
    await tx.incrCounter('totalInodes', -1);
  });
  const found = fsck(tv);
  assert.match(found.stdout, /counter: usedSpace counter is \d+, the inodes add up to \d+ \(\+128974848\)/);
  assert.match(found.stdout, /counter: totalInodes counter is \d+, the inodes add up to \d+ \(-1\)/);
  detectAndRepair(tv, /counter: usedSpace/);
});

test('a block missing from the store is named with its file and cannot be repaired', async () => {
  const tv = await volume({ a: 'alpha', 'big.bin': Buffer.alloc(150 << 10, 1) });
  const blocks = (await filesUnder(tv.blocksDir!)).filter((f) => /_1_65536$/.test(f));
  assert.equal(blocks.length, 1);
  const { rm } = await import('node:fs/promises');
  await rm(blocks[0]!);
  for (const args of [[], ['--repair']]) {
    const r = fsck(tv, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /missing-block: \/big\.bin \(inode \d+\): block vol\/chunks\/\S+_1_65536 of slice \d+ is missing from the object store \[cannot be repaired\]/);
    assert.match(r.stderr, /^ferry: 1 problem\(s\) remain\n$/);
  }
});

test('a flipped byte in a block is found by --check-blocks', async () => {
  const tv = await volume({ a: 'alpha', 'data.bin': Buffer.alloc(100 << 10, 3) });
  const [block] = (await filesUnder(tv.blocksDir!)).filter((f) => /_0_65536$/.test(f));
  const bytes = await readFile(block!);
  bytes[100] ^= 0xff;
  await writeFile(block!, bytes);
  assert.match(ok(fsck(tv)).stdout, /no problems found/); // a HEAD cannot tell
  const r = fsck(tv, '--check-blocks');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /bad-block: \/data\.bin \(inode \d+\): block \S+_0_65536 of slice \d+ cannot be read: .*(checksum|corrupt)/i);
});

test('--path limits the check to a subtree; bad input is one line', async () => {
  const tv = await volume({ a: 'alpha' });
  const ino = await inodeOf(tv, 'a');
  await inject(tv, async (tx) => tx.setAttr(ino, { ...(await tx.getAttr(ino))!, nlink: 3 }));
  ok(ferry(tv.dir, ['mkdir', tv.url, '/sub']));
  const sub = ok(fsck(tv, '--path', '/sub'));
  assert.match(sub.stdout, /no problems found/);
  assert.match(sub.stdout, /note: counters and orphans are volume-wide/);
  assert.equal(fsck(tv, '--path', '/').code, 1);
  const bad = fsck(tv, '--path', '/nope');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^ferry: .*(no such file|ENOENT)/i);
  assert.equal(ferry(tv.dir, ['fsck', '--threads', 'x', tv.url]).code, 2);
});
