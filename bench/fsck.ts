// npm run bench:fsck — ferry fsck of a large volume (issue 22's benchmark row): the volume is filled with
// bench/scan.ts's fast filler (directories of 1,000 files, one 4 KiB slice each) on SQLite, every block is
// put into an in-process mem:// store (empty objects: fsck HEADs them, it reads nothing without
// --check-blocks), and the library's fsck walks it. Prints seconds, inodes/s and peak RSS. A benchmark, never a test.
//
//   node dist/bench/fsck.js [--inodes 1000000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ChunkStore } from '../src/chunk/store.js';
import { sliceBlocks } from '../src/chunk/keys.js';
import { fsck } from '../src/client/fsck.js';
import { openObjectStore } from '../src/object/index.js';
import { freshMeta } from '../test/suites/meta-suite.js';
import { fill } from './fill.js';

const i = process.argv.indexOf('--inodes');
const inodes = i > 0 ? Number(process.argv[i + 1]) : 1_000_000;
if (!Number.isInteger(inodes) || inodes < 10) {
  process.stderr.write('usage: node dist/bench/fsck.js [--inodes 1000000]\n');
  process.exit(2);
}
const log = (s: string) => process.stderr.write(s + '\n');
const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-fsck-'));
const m = await freshMeta(`sqlite3://${join(dir, 'fsck.db')}`);
const objects = await openObjectStore(`mem://${randomUUID()}`);
try {
  const format = await m.load();
  log(`bench:fsck: filling ${inodes.toLocaleString()} inodes ...`);
  await fill(m, inodes, log);
  const store = new ChunkStore(objects, { volume: format.name, blockSize: format.blockSize });
  for await (const c of m.scanChunks()) for (const s of c.slices) for (const b of sliceBlocks(format.name, s.id, s.size, format.blockSize)) await objects.put(b.key, Buffer.alloc(0));
  log('bench:fsck: blocks stored; checking ...');
  const rss0 = process.resourceUsage().maxRSS / 1024;
  const t0 = performance.now();
  const r = await fsck(m, store, { threads: 16 });
  const s = (performance.now() - t0) / 1000;
  const kinds = new Map<string, number>();
  for (const p of r.problems) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
  process.stdout.write(
    [
      `bench:fsck — SQLite, ${inodes.toLocaleString()} inodes (library fsck, mem:// store, HEAD per block)`,
      '',
      '| inodes | entries | slices | blocks | time (s) | inodes/s | peak RSS before (MiB) | peak RSS after (MiB) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${r.inodes.toLocaleString()} | ${r.entries.toLocaleString()} | ${r.slices.toLocaleString()} | ${r.blocks.toLocaleString()} | ${s.toFixed(1)} | ${Math.round(r.inodes / s).toLocaleString()} | ${rss0.toFixed(0)} | ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} |`,
      '',
      `findings: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'} (the filler sets no usedSpace counter)`,
    ].join('\n') + '\n',
  );
} finally {
  await m.destroy().catch(() => undefined);
  await m.close();
  await objects.close();
  rmSync(dir, { recursive: true, force: true });
}
