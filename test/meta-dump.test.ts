// ferry dump / ferry load (issue 22 items 3 and 9): a volume with data, directories, symlinks, hard links,
// shared slices, xattrs and a trashed file is dumped and loaded into every engine; both trees are walked
// and compared (attributes, xattrs, links, contents read through an SDK Volume on the loaded metadata and
// the same object store), as are the trash, counters, slice references and the hard-link table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { addKey } from '../src/gateway/keys.js';
import { verify } from '../src/gateway/sigv4.js';
import { signedHeaders } from './helpers/gateway-child.js';
import { dumpRecords } from '../src/meta/dump.js';
import { readDump, writeDump } from '../src/meta/dump-stream.js';
import type { DumpRecord } from '../src/meta/dump-format.js';
import { openMeta } from '../src/meta/index.js';
import type { Meta } from '../src/meta/interface.js';
import { loadDump } from '../src/meta/load.js';
import { Volume } from '../src/sdk/index.js';
import { MAIN, ferry, ok, oneLineError, tempDir } from './helpers/cli.js';
import { dropPrefixed, requireServer, uniquePrefix, withOptions } from './helpers/servers.js';
import { describeTree } from './helpers/tree.js';
import { metaOf, tempVolume, type TempVolume } from './helpers/volume.js';

process.env.PGOPTIONS ??= '-c synchronous_commit=off';

/** JSON with object keys sorted (engines build attributes in their own field order), Buffers as hex. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x?.type === 'Buffer' && Array.isArray(x.data)) return Buffer.from(x.data).toString('hex');
    if (x && typeof x === 'object' && !Array.isArray(x)) return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)));
    return x;
  });
}

/** Every row of a scan kind, as sorted JSON lines (Redis scans come in no order). */
async function rowsOf(gen: AsyncGenerator<unknown>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of gen) out.push(canonical(r));
  return [...new Set(out)].sort();
}

/** What two volumes must share beyond the tree: trash, counters, link table, slice references. */
async function volumeFacts(m: Meta): Promise<Record<string, unknown>> {
  const counters = Object.fromEntries(
    await Promise.all(['nextInode', 'nextSlice', 'version', 'usedSpace', 'totalInodes'].map(async (n) => [n, await m.getCounter(n)])),
  );
  return {
    counters,
    trash: (await m.trashList()).map((t) => `${t.id} ${t.path}`).sort(),
    inodes: await rowsOf(m.scanInodes()),
    parents: await rowsOf(m.scanParents()),
    sliceRefs: await rowsOf(m.scanSliceRefs()),
    chunks: await rowsOf(m.scanChunks()),
    xattrs: await rowsOf(m.scanXattrs()),
  };
}

/** Builds the tree every case dumps. */
async function fill(v: Volume): Promise<void> {
  await v.mkdir('/d/e', { recursive: true });
  await v.writeFile('/d/f1', randomBytes(300_000));
  await v.writeFile('/big', randomBytes(3 * 65536 + 123));
  await v.copyFile('/big', '/d/e/clone'); // shares the slices of /big
  await v.truncate('/d/e/clone', 100_000); // and a hole slice after re-growing
  await v.truncate('/d/e/clone', 150_000);
  await v.symlink('f1', '/d/s');
  await v.link('/d/f1', '/d/e/hard'); // links in two directories: the link table
  await v.link('/d/f1', '/d/e/hard2');
  await v.setxattr('/d/f1', 'user.color', 'blue');
  await v.setxattr('/d', 'user.bin', Buffer.from([0, 1, 2, 255]));
  await v.chmod('/d/e', 0o750);
  await v.chown('/big', 1000, 1001);
  await v.utimes('/big', new Date('2020-01-02T03:04:05Z'), new Date('2021-02-03T04:05:06Z'));
  await v.writeFile('/gone', 'deleted but kept');
  await v.unlink('/gone'); // into the trash (trash days 1)
  await v.mkdir('/empty');
}

async function dumpTo(meta: Meta, file: string, opts: Parameters<typeof dumpRecords>[1] = {}): Promise<void> {
  await writeDump(dumpRecords(meta, opts), file);
}

let src: TempVolume;
let srcTree: string[];
let srcFacts: Record<string, unknown>;
let dumpFile: string;

before(async () => {
  src = await tempVolume({ blockSize: 65536, format: { trashDays: 1 } });
  await fill(src.v);
  dumpFile = join(src.dir, 'dump.json');
  await dumpTo(metaOf(src.v), dumpFile);
  srcTree = await describeTree(src.v);
  srcFacts = await volumeFacts(metaOf(src.v));
});
after(() => src?.cleanup());

/** Loads the dump into `url`, then compares everything with the source. */
async function roundTrip(url: string): Promise<void> {
  const target = await openMeta(url);
  try {
    const r = await loadDump(target, readDump(dumpFile));
    assert.equal(r.format.uuid, (await metaOf(src.v).load()).uuid);
    assert.deepEqual(await volumeFacts(target), srcFacts);
    const v = await Volume.open(url);
    try {
      assert.deepEqual(await describeTree(v), srcTree);
      // The loaded volume goes on: new inodes and slices never reuse the loaded ones.
      await v.writeFile('/after', 'new');
      const ino = (await v.stat('/after')).ino;
      assert.ok(ino >= (srcFacts.counters as { nextInode: number }).nextInode, `new inode ${ino}`);
      assert.equal(await v.readFile('/after', 'utf8'), 'new');
      await v.unlink('/d/e/clone');
      assert.deepEqual(await v.readFile('/big'), await src.v.readFile('/big'), 'shared slices survive the clone going');
    } finally {
      await v.close();
    }
  } finally {
    await target.destroy().catch(() => undefined);
    await target.close();
  }
}

describe('dump and load', () => {
  it('loads into SQLite: identical tree, trash, counters, links and slice references', async () => {
    const dir = await tempDir();
    await roundTrip(`sqlite3://${join(dir, 'loaded.db')}`);
  });

  it('the dump is JSON lines: header, format record, rows, counters, end', async () => {
    const lines = (await readFile(dumpFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as DumpRecord);
    assert.equal(lines[0]!.kind, 'header');
    assert.equal(lines[1]!.kind, 'setting');
    assert.equal(lines.at(-2)!.kind, 'counters');
    const end = lines.at(-1)!;
    assert.ok(end.kind === 'end' && end.rows === lines.length - 4);
    const kinds = new Set(lines.map((l) => l.kind));
    for (const k of ['inode', 'entry', 'symlink', 'xattr', 'chunk', 'link']) assert.ok(kinds.has(k as DumpRecord['kind']), k);
  });

  it('refuses a target that is not empty, in one line, and loads into an empty formatted volume', async () => {
    const m = await openMeta(src.url);
    try {
      await assert.rejects(loadDump(m, readDump(dumpFile)), (e: FsError) => e.code === 'ENOTEMPTY' && /volume 'vol' at .* is not empty/.test(e.message));
    } finally {
      await m.close();
    }
    const empty = await tempVolume();
    try {
      await empty.v.close();
      const t = await openMeta(empty.url);
      try {
        await loadDump(t, readDump(dumpFile));
      } finally {
        await t.close();
      }
      const v = await Volume.open(empty.url);
      try {
        assert.deepEqual(await describeTree(v), srcTree);
      } finally {
        await v.close();
      }
    } finally {
      await empty.cleanup();
    }
  });

  it('refuses a truncated dump, and a file that is no dump', async () => {
    const dir = await tempDir();
    const cut = join(dir, 'cut.json');
    const lines = (await readFile(dumpFile, 'utf8')).trim().split('\n');
    await writeFile(cut, lines.slice(0, -3).join('\n') + '\n');
    const t = await openMeta(`sqlite3://${join(dir, 'cut.db')}`);
    try {
      await assert.rejects(loadDump(t, readDump(cut), { source: cut }), /ends early \(truncated\?\)/);
    } finally {
      await t.close();
    }
    await writeFile(join(dir, 'junk'), 'hello\n');
    const r = ferry(dir, ['load', `sqlite3://${join(dir, 'junk.db')}`, join(dir, 'junk')]);
    oneLineError(r, 1, /junk line 1 is not a FerryFS dump: it is not JSON/);
  });

  it('blanks the secrets unless --keep-secrets; the loaded volume asks for them until ferry config sets them', async () => {
    const dir = await tempDir();
    const sv = await tempVolume({ format: { accessKey: 'AKID', secretKey: 'S3CR3T' } });
    try {
      await addKey(metaOf(sv.v), 'gwkey', { secret: 'gateway-secret', uid: 0, gid: 0, created: new Date().toISOString() });
      await sv.v.writeFile('/x', 'data');
      const file = join(dir, 'nosecrets.json');
      await dumpTo(metaOf(sv.v), file);
      const text = await readFile(file, 'utf8');
      assert.doesNotMatch(text, /S3CR3T|gateway-secret/);
      const setting = JSON.parse(text.split('\n')[1]!) as { format: { storage: { secretKey: string }; gateway: { keys: Record<string, { secret: string }> } } };
      assert.equal(setting.format.storage.secretKey, '');
      assert.equal(setting.format.gateway.keys.gwkey!.secret, '');
      const kept = join(dir, 'secrets.json');
      await dumpTo(metaOf(sv.v), kept, { keepSecrets: true });
      assert.match(await readFile(kept, 'utf8'), /S3CR3T.*gateway-secret|gateway-secret.*S3CR3T/s);

      const url = `sqlite3://${join(dir, 'nosecrets.db')}`;
      const r = ferry(dir, ['load', url, file]);
      ok(r);
      assert.match(r.stderr, /without --keep-secrets: set the object store's keys with 'ferry config .* --access-key KEY --secret-key SECRET'; gateway key gwkey lost its secret/);
      await assert.rejects(Volume.open(url), /secret key of volume 'vol' is not set \(loaded from a dump made without --keep-secrets\)/);
      ok(ferry(dir, ['config', url, '--access-key', 'AKID', '--secret-key', 'S3CR3T']));
      const v = await Volume.open(url);
      try {
        assert.equal(await v.readFile('/x', 'utf8'), 'data');
      } finally {
        await v.close();
      }
    } finally {
      await sv.cleanup();
    }
  });

  it('the gateway refuses a key whose secret a dump blanked (a blank secret would let anyone sign)', async () => {
    const key = { accessKey: 'gwkey', secret: '', uid: 0, gid: 0 };
    const headers = await signedHeaders({ host: '127.0.0.1:9000', port: 9000 }, 'GET', '/bucket/x', {}, Buffer.alloc(0), {}, key);
    const req = { method: 'GET', rawPath: '/bucket/x', rawQuery: '', headers: Object.entries(headers) };
    const secrets: Record<string, string> = { gwkey: '' };
    assert.throws(() => verify(req, new URLSearchParams(), (k) => secrets[k]), (e: { code?: string }) => e.code === 'InvalidAccessKeyId');
    // The same request signed with a real secret passes: the refusal is the blank secret's.
    secrets.gwkey = 'a-real-secret';
    const good = await signedHeaders({ host: '127.0.0.1:9000', port: 9000 }, 'GET', '/bucket/x', {}, Buffer.alloc(0), {}, { ...key, secret: 'a-real-secret' });
    assert.equal(verify({ ...req, headers: Object.entries(good) }, new URLSearchParams(), (k) => secrets[k]).accessKey, 'gwkey');
  });

  it('CLI: dump to .json.gz and load it; dump to stdout piped into load from stdin', async () => {
    const dir = await tempDir();
    const gz = join(dir, 'meta.json.gz');
    const d = ok(ferry(dir, ['dump', src.url, gz]));
    assert.match(d.stderr, /^dumped \d+ rows of volume 'vol' to .*meta\.json\.gz/);
    const bytes = await readFile(gz);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzipped');
    const url = `sqlite3://${join(dir, 'gz.db')}`;
    assert.match(ok(ferry(dir, ['load', url, gz])).stdout, /^loaded volume 'vol' \(\d+ rows, \d+ inodes\)/);
    const piped = `sqlite3://${join(dir, 'piped.db')}`;
    const sh = spawnSync('sh', ['-c', `"${process.execPath}" "${MAIN}" dump "${src.url}" | "${process.execPath}" "${MAIN}" load "${piped}" -`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(sh.status, 0, sh.stderr);
    for (const u of [url, piped]) {
      const v = await Volume.open(u);
      try {
        assert.deepEqual(await describeTree(v), srcTree);
      } finally {
        await v.close();
      }
    }
    // Loading it again is refused in one line.
    oneLineError(ferry(dir, ['load', url, gz]), 1, /is not empty: load into a new volume or an empty one/);
  });

  it('--path dumps a subtree that becomes the root of the loaded volume', async () => {
    const dir = await tempDir();
    const file = join(dir, 'sub.json');
    ok(ferry(dir, ['dump', src.url, file, '--path', '/d']));
    const url = `sqlite3://${join(dir, 'sub.db')}`;
    ok(ferry(dir, ['load', url, file]));
    const v = await Volume.open(url);
    try {
      assert.deepEqual((await v.readdir('/')).sort(), ['e', 'f1', 's']);
      assert.deepEqual(await v.readFile('/f1'), await src.v.readFile('/d/f1'));
      assert.deepEqual(await v.readFile('/e/clone'), await src.v.readFile('/d/e/clone'));
      assert.equal(await v.readlink('/s'), 'f1');
      assert.equal((await v.getxattr('/', 'user.bin')).toString('hex'), '000102ff');
      assert.equal((await v.stat('/e')).mode & 0o777, 0o750);
      // f1 has three names, all inside /d: still hard links.
      const [a, b] = [await v.stat('/f1'), await v.stat('/e/hard2')];
      assert.equal(a.ino, b.ino);
      assert.equal(a.nlink, 3);
      // The inode count is the subtree's.
      const st = await v.statfs('/');
      // d (now /), e, f1 (three names), s and clone.
      assert.equal(st.files - st.ffree, 5);
    } finally {
      await v.close();
    }
    // A wrong --path is one line, and creates no file.
    const none = join(dir, 'none.json');
    oneLineError(ferry(dir, ['dump', src.url, none, '--path', '/nope']), 1, /--path \/nope: no such directory in the volume/);
    oneLineError(ferry(dir, ['dump', src.url, none, '--path', '/big']), 1, /--path \/big is not a directory/);
    await assert.rejects(readFile(none), { code: 'ENOENT' });
  });
});

const twiceOn: Array<['sqlite' | 'postgres' | 'mysql', string]> = [['sqlite', 'sqlite3://']];
for (const kind of ['postgres', 'mysql'] as const) {
  const base = await requireServer(kind);
  if (base) twiceOn.push([kind, base]);
}

describe('rows that come twice (a Redis scan may repeat a row): the last of a key wins', () => {
  let twice: string;
  before(async () => {
    // Each row preceded by a different row of the same key: loaded right, the second one must win.
    const out: DumpRecord[] = [];
    let rows = 0;
    for await (const r of readDump(dumpFile)) {
      const first: DumpRecord | undefined =
        r.kind === 'inode' ? { ...r, attr: { ...r.attr, mode: r.attr.mode ^ 0o111, length: r.attr.length + 1 } }
        : r.kind === 'entry' ? { ...r, ino: r.ino + 100_000 }
        : r.kind === 'symlink' ? { ...r, target: `${r.target}-not` }
        : r.kind === 'xattr' ? { ...r, value: Buffer.from('not').toString('base64') }
        : r.kind === 'chunk' ? { ...r, slices: [] }
        : r.kind === 'delfile' ? { ...r, length: r.length + 1 }
        : r.kind === 'delslice' || r.kind === 'link' ? r
        : undefined;
      if (first) {
        out.push(first);
        rows++;
      }
      if (r.kind === 'end') out.push({ ...r, rows: r.rows + rows });
      else out.push(r);
    }
    twice = join(src.dir, 'twice.json');
    await writeDump((async function* () { yield* out; })(), twice);
  });
  for (const [kind, base] of twiceOn) {
    const prefix = uniquePrefix('tw');
    if (kind !== 'sqlite') after(() => dropPrefixed(kind, base, prefix));
    it(`on ${kind}`, async () => {
      const url = kind === 'sqlite' ? `sqlite3://${join(src.dir, 'twice.db')}` : withOptions(base, { prefix });
      const target = await openMeta(url);
      try {
        await loadDump(target, readDump(twice));
        assert.deepEqual(await volumeFacts(target), srcFacts);
        const v = await Volume.open(url);
        try {
          assert.deepEqual(await describeTree(v), srcTree);
        } finally {
          await v.close();
        }
      } finally {
        await target.destroy().catch(() => undefined);
        await target.close();
      }
    });
  }
});

// The other engines, each with a fresh prefix (tables or keys dropped afterwards).
for (const kind of ['redis', 'postgres', 'mysql'] as const) {
  const base = await requireServer(kind);
  if (!base) continue;
  const prefix = uniquePrefix('fd');
  describe(`load into ${kind}`, () => {
    it(`gives the identical tree on ${kind}`, async () => {
      await roundTrip(withOptions(base, { prefix: kind === 'redis' ? `ferrytest-${prefix}` : prefix }));
    });
  });
  if (kind !== 'redis') after(() => dropPrefixed(kind, base, prefix));
}
