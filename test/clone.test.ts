// `ferry clone` as a user meets it: a tree with data cloned inside a volume reads back byte for byte, the
// object store holds not one block more, and later writes and truncates of either side never show on the
// other; refusals (a taken name, a missing source, a tree into itself) are one line and exit 1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Volume } from '../src/sdk/index.js';
import { formatVolume, run, CLI, type TestVolume } from './helpers/mount.js';

const MiB = 1 << 20;
const ferry = (args: string[]) => run(process.execPath, [CLI, ...args], { timeoutMs: 120_000 });

/** Files under the file:// store's `VOLUME/chunks/` (one per block). */
async function blockCount(storeDir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else n++;
    }
  };
  for (const vol of await readdir(storeDir).catch(() => [])) await walk(join(storeDir, vol, 'chunks'));
  return n;
}

function oneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

describe('ferry clone', () => {
  let vol: TestVolume;
  let local: string;
  const files: Record<string, Buffer> = {
    'big.bin': randomBytes(9 * MiB + 123),
    'sub/small.txt': Buffer.from('small\n'),
    'sub/deeper/mid.bin': randomBytes(MiB),
    'empty': Buffer.alloc(0),
  };
  before(async () => {
    vol = await formatVolume({ blockSize: MiB });
    local = join(vol.dir, 'local');
    await mkdir(join(local, 'sub/deeper'), { recursive: true });
    for (const [name, data] of Object.entries(files)) await writeFile(join(local, name), data);
    await symlink('sub/small.txt', join(local, 'link'));
    const put = await ferry(['put', vol.url, local, '/src']);
    assert.equal(put.code, 0, put.stderr);
  });
  after(() => vol?.cleanup());

  it('clones a tree with data as metadata only: byte for byte the same, not one block more in the store', async () => {
    const store = join(vol.dir, 'blocks');
    const blocks = await blockCount(store);
    assert.ok(blocks >= 11, `${blocks} blocks`);
    const r = await ferry(['clone', vol.url, '/src', '/dst']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `cloned /src to /dst: 8 inodes, 10.0 MiB shared, no data copied\n`);
    assert.equal(await blockCount(store), blocks, 'no block copied');
    const back = join(vol.dir, 'back');
    const get = await ferry(['get', vol.url, '/dst', back]);
    assert.equal(get.code, 0, get.stderr);
    for (const [name, data] of Object.entries(files)) assert.ok((await readFile(join(back, name))).equals(data), name);
    assert.equal(await readlink(join(back, 'link')), 'sub/small.txt');
    const help = await ferry(['clone', '--help']);
    assert.match(help.stdout, /ferry clone sqlite3:\/\/ferry-data\/meta.db \/datasets\/v1 \/datasets\/v2/);
  });

  it('writes and truncates of either side never change the other', async () => {
    const v = await Volume.open(vol.url);
    const bytes = async (path: string) => (await v.readFile(path)) as Buffer;
    try {
      const fh = await v.open('/dst/big.bin', 'r+');
      await fh.write(Buffer.alloc(4096, 7), 0, 4096, 5 * MiB);
      await fh.close();
      await v.truncate('/src/sub/deeper/mid.bin', 10);
      await v.appendFile('/src/sub/small.txt', 'more');
      const big = Buffer.from(files['big.bin']!);
      assert.ok((await bytes('/src/big.bin')).equals(big), 'the source is unchanged by the write to the copy');
      big.fill(7, 5 * MiB, 5 * MiB + 4096);
      assert.ok((await bytes('/dst/big.bin')).equals(big), 'the copy has its write');
      assert.ok((await bytes('/dst/sub/deeper/mid.bin')).equals(files['sub/deeper/mid.bin']!), 'the copy is unchanged by the truncate');
      assert.equal(await v.readFile('/dst/sub/small.txt', 'utf8'), 'small\n');
      // Removing the source leaves the copy whole once its blocks would have been freed.
      await v.rm('/src', { recursive: true });
      await v.settle();
      assert.ok((await bytes('/dst/sub/deeper/mid.bin')).equals(files['sub/deeper/mid.bin']!));
      assert.ok((await bytes('/dst/big.bin')).equals(big));
      // The SDK's clone: a file, then the tree again.
      await v.clone('/dst/big.bin', '/big-again.bin');
      await v.clone('/dst', '/dst2', { preserve: true });
      assert.ok((await bytes('/dst2/big.bin')).equals(big));
      assert.equal((await v.stat('/dst2/sub')).mtimeMs, (await v.stat('/dst/sub')).mtimeMs);
    } finally {
      await v.close();
    }
  });

  it('refusals are one line and exit 1', async () => {
    oneLine(await ferry(['clone', vol.url, '/dst', '/dst2']), /^ferry: EEXIST: file already exists, clone '\/dst2'\n$/);
    oneLine(await ferry(['clone', vol.url, '/nope', '/x']), /^ferry: ENOENT: no such file or directory, clone '\/nope'\n$/);
    oneLine(await ferry(['clone', vol.url, '/dst', '/dst/sub/x']), /^ferry: EINVAL: cannot clone a directory into itself, clone '\/dst\/sub\/x'\n$/);
    oneLine(await ferry(['clone', vol.url, '/dst/big.bin', '/no/such/dir']), /^ferry: ENOENT: no such file or directory, clone '\/no\/such'\n$/);
    assert.equal((await ferry(['clone', vol.url, '/dst'])).code, 2);
  });
});
