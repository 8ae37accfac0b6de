// Two volumes never share blocks: a volume claims its prefix in the object store with a marker holding its
// uuid (src/client/marker.ts). `ferry format` refuses a prefix another volume claimed, every client checks
// the marker when it opens the volume, a volume formatted before markers claims its prefix on first open,
// `ferry destroy` removes the marker last. Mirrors sharing their source's store pass the check and never
// delete there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MARKER_NAME } from '../src/client/marker.js';
import { createMirror } from '../src/mirror/index.js';
import { FsError, Volume } from '../src/sdk/index.js';
import { openMeta } from '../src/meta/index.js';
import type { Format } from '../src/meta/types.js';
import { newProbe } from './helpers/cache.js';
import { metaOf, tempVolume, vfsOf } from './helpers/volume.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function ferry(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function ok(cwd: string, ...args: string[]): Promise<string> {
  const r = await ferry(cwd, ...args);
  assert.equal(r.code, 0, `ferry ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A failure is exit code 1 and exactly one `ferry: ...` line on stderr, returned. */
async function fails(cwd: string, ...args: string[]): Promise<string> {
  const r = await ferry(cwd, ...args);
  assert.equal(r.code, 1, `ferry ${args.join(' ')}: expected exit 1, got ${r.code} (stdout ${r.stdout}, stderr ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^ferry: /);
  return lines[0]!;
}

const uuidOf = (formatOutput: string) => /\(uuid ([0-9a-f-]{36})\)/.exec(formatOutput)?.[1] ?? assert.fail(`no uuid in: ${formatOutput}`);

/** Every object file under a file:// store directory, relative to it. */
function objects(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)))
    .sort();
}
const blocksOf = (dir: string) => objects(dir).filter((k) => k.includes('/chunks/'));

describe('store marker', () => {
  it('two volumes formatted in one directory: the second is refused, a legacy share is caught at open and destroy', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-marker-'));
    try {
      const x = uuidOf(await ok(dir, 'format', 'sqlite3://x.db', 'demo'));
      const marker = join(dir, 'blocks', 'demo', MARKER_NAME);
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, x);

      // Both default to ./blocks and would both write demo/chunks/...: the second format is refused.
      const line = await fails(dir, 'format', 'sqlite3://y.db', 'demo');
      assert.ok(line.includes(`uuid ${x}`) && line.includes(`sqlite3://${join(dir, 'x.db')}`) && line.includes(`sqlite3://${join(dir, 'y.db')}`), line);
      assert.match(line, /refusing to format volume 'demo' \(uuid [0-9a-f-]{36}, metadata .*y\.db\) on object storage prefix file:\/\/.*\/blocks\/demo\/: it belongs to volume 'demo'/);
      // --force of the volume itself keeps its marker.
      const before = readFileSync(marker, 'utf8');
      await ok(dir, 'format', '--force', '--trash-days', '0', 'sqlite3://x.db', 'demo');
      assert.equal(readFileSync(marker, 'utf8'), before);

      await ok(dir, 'mkdir', 'sqlite3://x.db', '/d');
      const put = join(dir, 'mine.txt');
      await import('node:fs/promises').then((f) => f.writeFile(put, 'x data\n'));
      await ok(dir, 'put', 'sqlite3://x.db', put, '/d/f');

      // A volume formatted before markers existed: no marker, objects in the prefix. A new volume is refused.
      rmSync(marker);
      assert.match(await fails(dir, 'format', 'sqlite3://y.db', 'demo'), /holds objects of another volume .*formatted before store markers/);

      // Two legacy volumes sharing the prefix (y pointed at x's store, neither claimed it): the first client
      // to open claims it, the other volume's clients are refused with one line naming both volumes.
      const y = uuidOf(await ok(dir, 'format', '--storage', 'elsewhere', 'sqlite3://y.db', 'demo'));
      rmSync(join(dir, 'elsewhere', 'demo', MARKER_NAME));
      await ok(dir, 'config', '--yes', '--storage', join(dir, 'blocks'), 'sqlite3://y.db');
      assert.ok(!existsSync(marker));
      assert.equal(await ok(dir, 'cat', 'sqlite3://x.db', '/d/f'), 'x data\n');
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, x, 'the first client claimed the prefix');
      const refused = await fails(dir, 'ls', 'sqlite3://y.db', '/');
      assert.match(refused, new RegExp(`^ferry: volume 'demo' \\(uuid ${y}, metadata sqlite3://.*y\\.db\\) cannot use object storage prefix file://.*/blocks/demo/: it belongs to volume 'demo' \\(uuid ${x}, metadata sqlite3://.*x\\.db\\)`));
      await fails(dir, 'put', 'sqlite3://y.db', put, '/g');
      // Destroying y must not empty x's prefix.
      assert.match(await fails(dir, 'destroy', '--yes', 'sqlite3://y.db', y), /cannot use object storage prefix .* it belongs to volume 'demo' \(uuid /);
      assert.equal(await ok(dir, 'cat', 'sqlite3://x.db', '/d/f'), 'x data\n');

      // Destroying x removes its objects, then its metadata, the marker last: the prefix is free again.
      await ok(dir, 'destroy', '--yes', 'sqlite3://x.db', x);
      assert.deepEqual(objects(join(dir, 'blocks')), []);
      const z = uuidOf(await ok(dir, 'format', 'sqlite3://z.db', 'demo'));
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, z);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every SDK client checks the marker; a writable client claims a used unclaimed prefix, a read-only one does not', async () => {
    const t = await tempVolume({ volume: { readOnly: true } });
    try {
      const marker = join(t.blocksDir!, t.name, MARKER_NAME);
      const w = await t.open();
      assert.ok(!existsSync(marker), 'an empty (or missing) store is not claimed, nor created, by opening a client');
      await w.writeFile('/f', 'mine');
      await t.open({ readOnly: true });
      assert.ok(!existsSync(marker), 'a read-only client writes nothing');
      // A volume with objects and no marker (formatted before markers existed): its next writable client claims it.
      await t.open();
      const format = await metaOf(w).load();
      const claim = JSON.parse(readFileSync(marker, 'utf8'));
      assert.deepEqual([claim.uuid, claim.name, claim.meta], [format.uuid, t.name, t.url]);

      // Another volume of the same name on the same store (as a legacy format or a copied database makes it).
      const otherUrl = `sqlite3://${join(t.dir, 'other.db')}`;
      const other = await openMeta(otherUrl);
      try {
        await other.init({ ...format, uuid: randomUUID(), createdAt: new Date().toISOString() } as Format);
      } finally {
        await other.close();
      }
      for (const readOnly of [false, true]) {
        await assert.rejects(Volume.open(otherUrl, { readOnly }), (e: unknown) => {
          assert.ok(e instanceof FsError && e.code === 'EEXIST', String(e));
          assert.match(e.message, new RegExp(`cannot use object storage prefix file://.*/${t.name}/: it belongs to volume '${t.name}' \\(uuid ${format.uuid}, metadata ${t.url}\\)`));
          assert.ok(e.message.includes(otherUrl), e.message);
          return true;
        });
      }
      assert.equal(await w.readFile('/f', 'utf8'), 'mine');
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, format.uuid);
    } finally {
      await t.cleanup();
    }
  });

  it('a client opens with its object store down, and checks the marker before its first store operation', async () => {
    const probeId = randomUUID();
    const probe = newProbe(probeId, `mem://${randomUUID()}`);
    const t = await tempVolume({ format: { storage: `probe://${probeId}` } });
    try {
      await t.v.writeFile('/a', 'owner');
      await t.open(); // claims the prefix, now that it holds objects
      const format = await metaOf(t.v).load();
      const otherUrl = `sqlite3://${join(t.dir, 'other.db')}`;
      const other = await openMeta(otherUrl);
      try {
        await other.init({ ...format, uuid: randomUUID() } as Format);
      } finally {
        await other.close();
      }
      probe.failing = true;
      const b = await Volume.open(otherUrl);
      probe.failing = false;
      const err = await b.writeFile('/b', 'intruder').then(
        () => assert.fail('a write into a prefix another volume claimed succeeded'),
        (e: unknown) => e as Error & { cause?: Error },
      );
      const text = `${err.message} ${err.cause?.message ?? ''}`;
      assert.match(text, new RegExp(`it belongs to volume '${t.name}' \\(uuid ${format.uuid}`), text);
      await b.close().catch(() => undefined);
      assert.equal(await t.v.readFile('/a', 'utf8'), 'owner');
    } finally {
      await t.cleanup();
    }
  });

  it('a mirror on its source\'s store passes the check, never claims it and never deletes there; destroying it leaves the source whole', { timeout: 120_000 }, async () => {
    const src = await tempVolume({ volume: { readOnly: true } });
    try {
      const marker = join(src.blocksDir!, src.name, MARKER_NAME);
      const mirrorUrl = `sqlite3://${join(src.dir, 'mirror.db')}`;
      await createMirror(src.url, mirrorUrl);
      // A mirror client on an unclaimed source store leaves the claim to the source's own clients.
      const m = await Volume.open(mirrorUrl, { attrTimeout: 0, entryTimeout: 0 });
      assert.ok(!existsSync(marker));
      await m.writeFile('/f', Buffer.alloc(300_000, 7));
      await m.writeFile('/g', 'kept');
      const written = blocksOf(src.blocksDir!);
      assert.ok(written.length >= 2, `blocks written through the mirror: ${written}`);

      // The source's own writable client claims the prefix (with the uuid the mirror shares).
      const s = await src.open();
      const uuid = (await metaOf(s).load()).uuid;
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, uuid);

      // Deleting through the mirror queues the blocks in the source; the mirror's background jobs never
      // delete them (a mirror may lag, and the blocks are the source's), the source's clients do.
      await m.unlink('/f');
      await vfsOf(m).jobs.collect();
      await vfsOf(m).jobs.idle();
      assert.deepEqual(blocksOf(src.blocksDir!), written, 'the mirror client deleted nothing');
      await vfsOf(s).jobs.collect();
      const left = blocksOf(src.blocksDir!);
      assert.ok(left.length > 0 && left.length < written.length, `the source freed /f's blocks: ${left}`);
      await m.close();

      // `ferry destroy` of the mirror removes its metadata only: the source's objects and marker stay.
      const mf = await openMeta(mirrorUrl);
      const mirrorUuid = (await mf.load()).uuid;
      await mf.close();
      assert.equal(mirrorUuid, uuid, "a mirror carries its source's uuid");
      await ok(src.dir, 'destroy', '--yes', '--force', mirrorUrl, mirrorUuid);
      assert.deepEqual(blocksOf(src.blocksDir!), left);
      assert.equal(JSON.parse(readFileSync(marker, 'utf8')).uuid, uuid);
      assert.equal(await s.readFile('/g', 'utf8'), 'kept');
    } finally {
      await src.cleanup();
    }
  });
});
