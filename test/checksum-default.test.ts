// Checksums on by default: a volume made by `ferry format` without --hash verifies every block it reads
// (crc32c), so a flipped byte in a stored block is EIO through `ferry cat` and through a mount, with one log
// line naming the object key, never wrong bytes. `--hash none` is the explicit opt-out.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { CLI, fuseTestOptions, mountFerry, run } from './helpers/mount.js';
import { tool } from './helpers/tools.js';

const ferry = (...args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 60_000 });

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** A volume formatted by the CLI with `formatArgs`, holding /data.bin (300 kB, one block) put through the CLI. */
async function cliVolume(dir: string, name: string, formatArgs: string[]) {
  const url = `sqlite3://${join(dir, `${name}.db`)}`;
  const blocks = join(dir, `${name}-blocks`);
  const f = await ferry('format', '--storage', `file://${blocks}`, ...formatArgs, url, name);
  assert.equal(f.code, 0, f.stderr);
  const data = randomBytes(300_000);
  const src = join(dir, `${name}.bin`);
  await writeFile(src, data);
  const p = await ferry('put', url, src, '/data.bin');
  assert.equal(p.code, 0, p.stderr);
  const chunks = (await filesUnder(blocks)).filter((f) => f.includes('/chunks/'));
  assert.equal(chunks.length, 1, `one block: ${chunks}`);
  const block = chunks[0]!;
  return { url, data, block, key: relative(blocks, block) };
}

/** Flips one byte in the middle of a stored block file. */
async function flipByte(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 1000);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 1000);
  } finally {
    await fh.close();
  }
}

describe('checksums on by default', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-checksum-'));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  test('ferry format without --hash records crc32c; --hash none records the opt-out', async () => {
    const on = await cliVolume(dir, 'deflt', []);
    const off = await cliVolume(dir, 'optout', ['--hash', 'none']);
    for (const [url, want] of [[on.url, 'crc32c'], [off.url, 'none']] as const) {
      const m = await openMeta(url);
      try {
        assert.equal((await m.load()).storage.checksum, want);
      } finally {
        await m.close();
      }
    }
    const help = await ferry('format', '--help');
    assert.match(help.stdout + help.stderr, /default crc32c; none is unsafe/);
  });

  test('ferry cat of a corrupted block: non-zero exit, one stderr line naming the key, no wrong bytes', async () => {
    const v = await cliVolume(dir, 'catvol', []);
    const good = await ferry('cat', v.url, '/data.bin');
    assert.equal(good.code, 0, good.stderr);
    await flipByte(v.block);
    const r = await ferry('cat', v.url, '/data.bin');
    assert.notEqual(r.code, 0, 'a corrupted block is an error');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.includes(v.key), `names ${v.key}: ${lines[0]}`);
    assert.match(lines[0]!, /EIO|corrupt/);
    assert.equal(r.stdout.length, 0, 'nothing of the corrupted block reached stdout');
  });

  test('with --hash none the same flip comes back as wrong data (why the opt-out is unsafe)', async () => {
    const v = await cliVolume(dir, 'unsafe', ['--hash', 'none']);
    await flipByte(v.block);
    const r = await run(process.execPath, [CLI, 'cat', v.url, '/data.bin'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0);
    assert.notEqual(Buffer.from(r.stdout, 'latin1').length, 0);
  });

  describe('through a mount', fuseTestOptions(), () => {
    test('a read of a corrupted block fails with EIO and the daemon logs one line naming the key', async () => {
      const v = await cliVolume(dir, 'mountvol', []);
      await flipByte(v.block);
      const m = await mountFerry(v.url, join(dir, 'mnt'));
      try {
        const r = await run(tool('python3'), ['-c', `
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.read(fd, 65536)
    print('read succeeded')
except OSError as e:
    print(errno.errorcode[e.errno])
`, join(m.mp, 'data.bin')]);
        assert.equal(r.stdout.trim(), 'EIO', r.stderr);
        const named = m.output().split('\n').filter((l) => l.includes(v.key));
        assert.ok(named.length >= 1, m.output());
        assert.doesNotMatch(m.output(), /^\s+at /m, 'one line, not a stack trace');
        assert.deepEqual(await readFile(join(m.mp, 'data.bin')).then(() => 'read', (e: NodeJS.ErrnoException) => e.code), 'EIO');
      } finally {
        await m.unmount();
      }
    });
  });
});
