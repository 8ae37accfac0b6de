// The client layer: one validated ClientConfig that survives a trip through a file, one openClient() that
// every door uses, read-only mirror clients that never touch the far source, and no leftovers when opening fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, openClient, saveConfig, validateConfig, configFromSdkOptions, CLIENT_OPTIONS, type ClientConfig } from '../src/client/index.js';
import { FsError } from '../src/errors.js';
import { openMeta } from '../src/meta/index.js';
import { createMirror } from '../src/mirror/index.js';
import { Volume } from '../src/sdk/index.js';
import { fuseTestOptions, mountFerry, run, CLI } from './helpers/mount.js';
import { metaOf, tempVolume, type TempVolume } from './helpers/volume.js';

const UNREACHABLE = 'postgres://nobody@127.0.0.1:1/none';

describe('client config', () => {
  it('round-trips through a file and refuses unknown or mistyped settings by name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cfg-'));
    try {
      const cfg: ClientConfig = {
        metaUrl: 'sqlite3:///x/meta.db',
        readOnly: true,
        metaCache: { attrTimeout: 2, entryTimeout: 0.5 },
        cache: { dir: '/var/cache/ferry', size: 1 << 30, writeback: true },
        group: { name: 'g', region: 'eu', tuning: { heartbeatMs: 500 } },
        mount: { fuseOptions: ['allow_other'], subdir: '/a' },
      };
      const file = join(dir, 'client.json');
      await saveConfig(file, cfg);
      assert.deepEqual(await loadConfig(file), cfg);
      const bad = (c: unknown, re: RegExp) => assert.throws(() => validateConfig(c), (e: unknown) => e instanceof FsError && e.code === 'EINVAL' && re.test(e.message));
      bad({ metaUrl: 'x', cache: { dirr: '/x' } }, /cache\.dirr is not a known setting/);
      bad({ metaUrl: 'x', metaCache: { attrTimeout: '1' } }, /metaCache\.attrTimeout must be a number/);
      bad({ metaUrl: 'x', cache: { writeback: true } }, /needs a disk cache/);
      bad({ cache: {} }, /metaUrl is required/);
      await writeFile(file, '{ not json');
      await assert.rejects(loadConfig(file), /not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('maps every SDK option of the table onto the config', () => {
    const opts: Record<string, unknown> = {};
    for (const o of CLIENT_OPTIONS) opts[o.sdk] = o.kind === 'boolean' ? true : o.kind === 'string' || o.kind === 'address' ? `v-${o.flag}` : o.kind === 'ratio' ? 0.5 : 1;
    opts.cacheDir = '/c'; // writeback needs it
    const cfg = validateConfig(configFromSdkOptions('sqlite3://x.db', opts));
    for (const o of CLIENT_OPTIONS) {
      const [a, b] = o.path as readonly string[];
      const section = (cfg as unknown as Record<string, Record<string, unknown>>)[a!];
      assert.equal(b ? section?.[b] : section, opts[o.sdk], `${o.sdk} -> ${o.path.join('.')}`);
    }
  });
});

describe('openClient', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume({ volume: { backgroundJobs: false } });
  });
  after(async () => {
    await t.cleanup();
  });

  it('opens one client: meta, format, chunk store with its cache, VFS and a session, all closed together', async () => {
    const cacheDir = join(t.dir, 'cache');
    const c = await openClient({ metaUrl: t.url, sessionLabel: 'client-test', cache: { dir: cacheDir }, data: { backgroundJobs: false } });
    assert.equal(c.format.name, t.name);
    assert.ok(c.cache, 'a disk cache was asked for');
    assert.equal(c.store.cache, c.cache);
    const sessions = await metaOf(t.v).listSessions();
    assert.ok(sessions.some((s) => s.sid === c.sessionId && s.mountPoint === 'client-test'));
    await c.close();
    await c.close(); // twice is fine
    assert.ok(!(await metaOf(t.v).listSessions()).some((s) => s.sid === c.sessionId), 'the session ended');
  });

  it('closes what it opened when a later step fails (no session, staging lock released)', async () => {
    // An encrypted volume whose key the client lacks fails after the caches and staging are open.
    const { newEncryption } = await import('../src/object/transforms/index.js');
    const keyDir = await mkdtemp(join(tmpdir(), 'ferry-key-'));
    const keyFile = join(keyDir, 'key');
    await writeFile(keyFile, Buffer.alloc(32, 7));
    const { record } = await newEncryption({ keyFile });
    process.env.FERRY_ENCRYPT_KEY_FILE = keyFile;
    const enc = await tempVolume({ format: { encryption: record } }).finally(() => delete process.env.FERRY_ENCRYPT_KEY_FILE);
    try {
      await enc.v.close();
      const cacheDir = join(enc.dir, 'cache');
      const before = (await listSessions(enc.url)).length;
      await assert.rejects(
        openClient({ metaUrl: enc.url, cache: { dir: cacheDir, writeback: true }, encryption: { keyFile: join(enc.dir, 'missing-key') } }),
        /key/i,
      );
      assert.equal((await listSessions(enc.url)).length, before, 'no session left behind');
      const fmt = await readFormat(enc.url);
      assert.ok(!existsSync(join(cacheDir, fmt.uuid, 'staging', '.lock')), 'the staging lock is released');
      // The right key opens it.
      const ok = await openClient({ metaUrl: enc.url, cache: { dir: cacheDir, writeback: true }, encryption: { keyFile } });
      await ok.close();
    } finally {
      await enc.cleanup();
      await rm(keyDir, { recursive: true, force: true });
    }
  });
});

describe('a read-only client of a writable mirror never connects to the source', () => {
  let src: TempVolume;
  let mirrorUrl: string;
  before(async () => {
    src = await tempVolume({ volume: { backgroundJobs: false } });
    await src.v.writeFile('/hello.txt', 'from the source\n');
    mirrorUrl = `sqlite3://${src.dir}/mirror.db`;
    await createMirror(src.url, mirrorUrl);
    // The source becomes unreachable: its URL in the mirror's record points at a port nobody listens on.
    const m = await openMeta(mirrorUrl);
    await m.updateFormat((f) => ({ mirror: { ...f.mirror, of: { ...f.mirror!.of!, source: UNREACHABLE } } }));
    await m.close();
  });
  after(async () => {
    await src.cleanup();
  });

  it('SDK: read-only opens and reads; writable fails with one clear error', async () => {
    const ro = await Volume.open(mirrorUrl, { readOnly: true, backgroundJobs: false });
    try {
      assert.equal(await ro.readFile('/hello.txt', 'utf8'), 'from the source\n');
      await assert.rejects(ro.writeFile('/x', 'y'), { code: 'EROFS' });
    } finally {
      await ro.close();
    }
    await assert.rejects(Volume.open(mirrorUrl, { backgroundJobs: false }));
  });

  it('FUSE: ferry mount --read-only serves the mirror', fuseTestOptions(), async () => {
    const mp = join(src.dir, 'mnt');
    const m = await mountFerry(mirrorUrl, mp, ['--read-only']);
    try {
      assert.equal(await readFile(join(mp, 'hello.txt'), 'utf8'), 'from the source\n');
      await assert.rejects(writeFile(join(mp, 'x'), 'y'), { code: 'EROFS' });
    } finally {
      await m.unmount();
    }
  });

  it('FUSE: -o options carry client settings (ro, attr-cache) as mount.ferry passes them', fuseTestOptions(), async () => {
    const mp = join(src.dir, 'mnt2');
    const m = await mountFerry(mirrorUrl, mp, ['-o', 'ro,attr-cache=2,entry-cache=0']);
    try {
      assert.equal(await readFile(join(mp, 'hello.txt'), 'utf8'), 'from the source\n');
    } finally {
      await m.unmount();
    }
    const r = await run(process.execPath, [CLI, 'mount', '-o', 'cache-size=lots', mirrorUrl, mp]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: -o cache-size: 'lots' is not a size/m);
  });
});

async function listSessions(url: string) {
  const m = await openMeta(url);
  try {
    return await m.listSessions();
  } finally {
    await m.close();
  }
}

async function readFormat(url: string) {
  const m = await openMeta(url);
  try {
    return await m.load();
  } finally {
    await m.close();
  }
}
