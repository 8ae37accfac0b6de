// Round trips of a far client, counted where they land: a source and a writable mirror each behind a real
// `ferry meta-server` (MetaServer), which counts the calls it serves. A fresh client of the mirror creates
// /d1/d2/d3/d4/newf with one path walk on the mirror, one write on the source and at most one apply on the
// mirror; listing with attributes costs one call per page; a stat of what was just listed costs none.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MetaServer } from '../src/meta/engines/remote/server.js';
import { openMeta } from '../src/meta/index.js';
import { newFormat } from '../src/meta/format.js';
import { createMirror } from '../src/mirror/index.js';
import { Volume } from '../src/sdk/index.js';
import { volumeView } from '../src/sdk/volume.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-mirror-rt-'));
const format = newFormat({ name: 'rt', storage: `file://${dir}/blocks`, trashDays: 0 });
// Clients of both services sign with the volume's secret (a mirror's record carries its source's).
process.env.FERRY_SERVICE_SECRET = format.services!.secret;
const servers: MetaServer[] = [];
let source: { server: MetaServer; url: string };
let mirror: { server: MetaServer; url: string };

async function serve(db: string): Promise<{ server: MetaServer; url: string }> {
  const server = new MetaServer(db);
  servers.push(server);
  return { server, url: await server.listen('127.0.0.1', 0) };
}

/** The calls a service served while `fn` ran, by method. */
async function callsDuring(s: MetaServer, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = new Map(s.served.calls);
  await fn();
  const out: Record<string, number> = {};
  for (const [k, n] of s.served.calls) if (n - (before.get(k) ?? 0)) out[k] = n - (before.get(k) ?? 0);
  return out;
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

before(async () => {
  const db = `sqlite3://${join(dir, 'source.db')}`;
  const m = await openMeta(db);
  await m.init(format);
  await m.close();
  const v = await Volume.open(db, { backgroundJobs: false });
  await v.mkdir('/d1/d2/d3/d4', { recursive: true });
  await v.mkdir('/list', { recursive: true });
  for (let i = 0; i < 250; i++) await (await v.open(`/list/f${String(i).padStart(3, '0')}`, 'w')).close();
  await v.close();
  source = await serve(db);
  await createMirror(source.url, `sqlite3://${join(dir, 'mirror.db')}`);
  mirror = await serve(`sqlite3://${join(dir, 'mirror.db')}`);
});

after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('round trips of a far client', () => {
  it("a fresh client's first create through a writable mirror: 1 path walk + 1 source write + at most 1 apply", async () => {
    const v = await Volume.open(mirror.url, { attrTimeout: 0, entryTimeout: 0, backgroundJobs: false });
    try {
      let fh: Awaited<ReturnType<Volume['open']>> | undefined;
      let onMirror: Record<string, number> = {};
      const onSource = await callsDuring(source.server, async () => {
        onMirror = await callsDuring(mirror.server, async () => (fh = await v.open('/d1/d2/d3/d4/newf', 'wx')));
      });
      assert.deepEqual(onSource, { create: 1 }, 'one write on the source (no id-batch call, no format read)');
      assert.equal(onMirror.walk, 1, `the path resolved in one call: ${JSON.stringify(onMirror)}`);
      assert.ok(total(onMirror) <= 2 && (onMirror.applyChangeRecord ?? 0) + (onMirror.getCounter ?? 0) <= 1, `1 walk + at most 1 apply/wait on the mirror: ${JSON.stringify(onMirror)}`);
      await fh!.close();
      // Read your writes: the new file is on the mirror, and found there.
      assert.equal((await v.stat('/d1/d2/d3/d4/newf')).isFile(), true);
    } finally {
      await v.close();
    }
  });

  it('opening a client of a writable mirror reads the format once and costs no round trip to the source', async () => {
    let v: Volume | undefined;
    let onMirror: Record<string, number> = {};
    const onSource = await callsDuring(source.server, async () => {
      onMirror = await callsDuring(mirror.server, async () => (v = await Volume.open(mirror.url, { backgroundJobs: false })));
    });
    const closing = await callsDuring(source.server, () => v!.close());
    assert.equal(onMirror.load, 1, `the format read once: ${JSON.stringify(onMirror)}`);
    assert.equal(onMirror.newSession, 1);
    assert.deepEqual(onSource, {}, 'the source session waits for the first call there (no format read, no session call)');
    assert.deepEqual(closing, {}, 'a source session never registered is not closed either');
  });

  it("the source session travels with the client's first call there: registered once, listed, and closed", async () => {
    const src = await openMeta(source.url);
    const v = await Volume.open(mirror.url, { attrTimeout: 0, entryTimeout: 0, backgroundJobs: false, mountPoint: 'deferred-session-probe' });
    const mine = async () => (await src.listSessions()).filter((s) => s.mountPoint === 'deferred-session-probe');
    try {
      assert.equal((await mine()).length, 0, 'not registered at open');
      const onSource = await callsDuring(source.server, async () => {
        // Two writes at once: both carry the session, the service registers it once.
        await Promise.all([v.mkdir('/d1/deferred-a'), v.mkdir('/d1/deferred-b')]);
      });
      assert.deepEqual(onSource, { mkdir: 2 }, 'no call of its own for the session');
      assert.equal((await mine()).length, 1, 'one session on the source');
      const fh = await v.open('/d1/deferred-a/f', 'wx');
      const [held] = await mine();
      assert.ok(held!.sid > 0);
      await fh.close();
    } finally {
      await v.close();
    }
    assert.equal((await mine()).length, 0, 'closed with the client');
    await src.close();
  });

  for (const via of ['mirror', 'source'] as const) {
    it(`readdir with attributes through ${via === 'mirror' ? 'a mirror' : 'the source'}'s meta-server: one call per page, and a stat of what was listed costs none`, async () => {
      const svc = via === 'mirror' ? mirror : source;
      const v = await Volume.open(svc.url, { attrTimeout: 60, entryTimeout: 60, backgroundJobs: false });
      try {
        const ino = (await volumeView(v).resolve('/list')).inode;
        const names: string[] = [];
        const listed = await callsDuring(svc.server, async () => {
          for await (const e of volumeView(v).entries(ino, true, 100)) names.push(e.name);
        });
        assert.equal(names.length, 250);
        assert.deepEqual(listed, { readdir: 3 }, '250 entries in pages of 100: three calls, nothing per entry');
        const stats = await callsDuring(svc.server, async () => {
          for (const n of names) assert.equal((await v.stat(`/list/${n}`)).size, 0);
        });
        assert.deepEqual(stats, {}, 'every stat served from what the listing cached');
      } finally {
        await v.close();
      }
    });
  }

  it('a close that freed nothing does not send the collector to the source; one that freed a file does', async () => {
    const v = await Volume.open(mirror.url, { attrTimeout: 0, entryTimeout: 0 });
    try {
      const quiet = await callsDuring(source.server, async () => {
        for (let i = 0; i < 3; i++) await (await v.open(`/d1/quiet-${i}`, 'wx')).close();
        await new Promise((r) => setTimeout(r, 1500)); // past the collector's delay after a close (500 ms)
      });
      assert.equal(quiet.processDeletedFiles ?? 0, 0, `no deletion asked for: ${JSON.stringify(quiet)}`);
      const freed = await callsDuring(source.server, async () => {
        const fh = await v.open('/d1/doomed', 'wx');
        await v.unlink('/d1/doomed');
        await fh.close();
        await new Promise((r) => setTimeout(r, 1500));
      });
      assert.ok((freed.processDeletedFiles ?? 0) >= 1, `the file freed at its close is collected: ${JSON.stringify(freed)}`);
    } finally {
      await v.close();
    }
  });
});
