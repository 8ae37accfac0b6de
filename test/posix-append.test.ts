// O_APPEND across clients: an append lands at the end of the file as the metadata sees it when the data is
// committed, so several clients appending to one file keep every byte. Two SDK clients of one volume, then
// two real FUSE mounts of one volume written by python3 loops.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Volume } from '../src/sdk/index.js';
import { formatVolume, fuseTestOptions, mountFerry, run, type TestMount, type TestVolume } from './helpers/mount.js';
import { tool } from './helpers/tools.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const N = 500;
/** Line i of writer `tag`: 8 bytes. */
const line = (tag: string, i: number) => `${tag}${String(i).padStart(6, '0')}\n`;

/** Every line of both writers exactly once, each writer's in its own order. */
function checkLines(text: string, tags: string[]): void {
  assert.equal(text.length, tags.length * N * 8, `length ${text.length}: appends overwrote each other`);
  const lines = text.split('\n').slice(0, -1);
  for (const tag of tags) {
    const mine = lines.filter((l) => l.startsWith(tag));
    assert.deepEqual(mine, Array.from({ length: N }, (_, i) => line(tag, i).slice(0, -1)), `lines of ${tag}`);
  }
}

describe('O_APPEND through two SDK clients of one volume', () => {
  let t: TempVolume;
  let a: Volume;
  let b: Volume;

  before(async () => {
    t = await tempVolume();
    a = t.v;
    b = await t.open();
  });

  after(() => t?.cleanup());

  test('two handles held open, 500 appends each interleaved, then closed: all 8,000 bytes', async () => {
    await a.writeFile('/held', '');
    const fa = await a.open('/held', 'a');
    const fb = await b.open('/held', 'a');
    for (let i = 0; i < N; i++) {
      await fa.write(line('A', i));
      await fb.write(line('B', i));
    }
    await Promise.all([fa.close(), fb.close()]);
    checkLines(String(await a.readFile('/held', 'utf8')), ['A', 'B']);
    checkLines(String(await b.readFile('/held', 'utf8')), ['A', 'B']);
  });

  test('appendFile per line (open, append, close) from both clients at once: all 8,000 bytes', async () => {
    const loop = async (v: Volume, tag: string) => {
      for (let i = 0; i < N; i++) await v.appendFile('/log', line(tag, i));
    };
    await Promise.all([loop(a, 'A'), loop(b, 'B')]);
    checkLines(String(await a.readFile('/log', 'utf8')), ['A', 'B']);
  });

  test('each append synced: the commits interleave and none overwrites another', async () => {
    const fa = await a.open('/synced', 'a');
    const fb = await b.open('/synced', 'a');
    const loop = async (fh: typeof fa, tag: string) => {
      for (let i = 0; i < N; i++) {
        await fh.write(line(tag, i));
        await fh.sync();
      }
    };
    await Promise.all([loop(fa, 'A'), loop(fb, 'B')]);
    await Promise.all([fa.close(), fb.close()]);
    const text = String(await a.readFile('/synced', 'utf8'));
    checkLines(text, ['A', 'B']);
    assert.ok(/A\d+\nB/.test(text) && /B\d+\nA/.test(text), 'the two writers interleaved');
  });

  test('a read of the appending handle sees its buffered bytes where they landed, after the other client\'s', async () => {
    const fa = await a.open('/own', 'a+');
    await fa.write('aaaa');
    assert.equal((await a.stat('/own')).size, 4, 'buffered appends count in the size this client reports');
    await b.appendFile('/own', 'bbbb');
    await fa.write('cc');
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fa.read(buf, 0, 64, 0);
    assert.equal(buf.subarray(0, bytesRead).toString(), 'bbbbaaaacc');
    await fa.write('dd');
    assert.equal((await fa.stat()).size, 12);
    await fa.close();
    assert.equal(await b.readFile('/own', 'utf8'), 'bbbbaaaaccdd');
  });

  test('an append after a positional write of the same handle comes after it; the order of calls holds', async () => {
    const fh = await a.open('/mixed', 'w+');
    await fh.write('0123456789', null);
    const fa = await a.open('/mixed', 'a');
    await fa.write('XY');
    await fh.write('ab', 0, 'utf8');
    await fa.write('Z');
    await Promise.all([fh.close(), fa.close()]);
    assert.equal(await a.readFile('/mixed', 'utf8'), 'ab23456789XYZ');
  });
});

describe('O_APPEND through two FUSE mounts of one volume', fuseTestOptions(), () => {
  let vol: TestVolume;
  const mounts: TestMount[] = [];

  before(async () => {
    vol = await formatVolume();
    mounts.push(await mountFerry(vol.url, join(vol.dir, 'm1')));
    mounts.push(await mountFerry(vol.url, join(vol.dir, 'm2')));
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    await vol?.cleanup();
  });

  // argv: path, tag, n, mode ('held': one descriptor, 'sync': one descriptor with fsync per line, 'reopen':
  // open(O_APPEND), write, close per line as `echo >> file` does).
  const WRITER = `
import os, sys
path, tag, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
fd = None if mode == 'reopen' else os.open(path, flags, 0o644)
for i in range(n):
    data = ('%s%06d\\n' % (tag, i)).encode()
    if fd is None:
        f = os.open(path, flags, 0o644)
        os.write(f, data)
        os.close(f)
    else:
        os.write(fd, data)
        if mode == 'sync':
            os.fsync(fd)
if fd is not None:
    os.close(fd)
`;

  const both = async (name: string, mode: string) => {
    const [m1, m2] = mounts;
    const rs = await Promise.all([
      run(tool('python3'), ['-c', WRITER, join(m1!.mp, name), 'A', String(N), mode], { timeoutMs: 120_000 }),
      run(tool('python3'), ['-c', WRITER, join(m2!.mp, name), 'B', String(N), mode], { timeoutMs: 120_000 }),
    ]);
    for (const r of rs) assert.equal(r.code, 0, r.stderr);
    // Read through a third view of the metadata: a fresh open of each mount sees the committed file.
    for (const m of mounts) checkLines(await readFile(join(m.mp, name), 'utf8'), ['A', 'B']);
  };

  test('one descriptor per mount, 500 lines each: all 8,000 bytes', () => both('held.log', 'held'));
  test('fsync after every line: all 8,000 bytes', () => both('sync.log', 'sync'));
  test('open, append, close per line: all 8,000 bytes', () => both('reopen.log', 'reopen'));

  test('the daemons logged no internal errors', () => {
    for (const m of mounts) assert.doesNotMatch(m.output(), /EIO|TypeError|RangeError|at .*\.js:\d+/, m.output());
  });
});
