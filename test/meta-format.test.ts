// The format record as stored: a record from a newer FerryFS is refused in one line, a version-1 record
// (flat fields, as volumes formatted before the typed sections hold) loads and is written back in the
// current shape, a damaged record is one clear error, and what is fixed at format stays fixed whichever
// way a change comes in. Records are written straight into the SQLite setting table, as another FerryFS would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { FsError } from '../src/errors.js';
import { FORMAT_VERSION, changeFormat, newFormat, validFormat } from '../src/meta/format.js';
import { openMeta, type Format } from '../src/meta/index.js';
import { Volume } from '../src/sdk/index.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function dbPath(t: TempVolume): string {
  return t.url.replace(/^sqlite3:\/\//, '');
}

function readRaw(t: TempVolume): Record<string, unknown> {
  const db = new Database(dbPath(t));
  try {
    const row = db.prepare(`SELECT value FROM setting WHERE name = 'format'`).get() as { value: string };
    return JSON.parse(row.value) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

function writeRaw(t: TempVolume, record: unknown): void {
  const db = new Database(dbPath(t));
  try {
    db.prepare(`UPDATE setting SET value = ? WHERE name = 'format'`).run(JSON.stringify(record));
  } finally {
    db.close();
  }
}

async function loadAt(url: string): Promise<Format> {
  const m = await openMeta(url);
  try {
    return await m.load();
  } finally {
    await m.close();
  }
}

function oneLine(e: unknown): string {
  assert.ok(e instanceof FsError, String(e));
  assert.doesNotMatch(e.message, /\n/);
  return e.message;
}

describe('format record versions', () => {
  let t: TempVolume;
  before(async () => {
    // Version-1 records knew no checksum (none): the blocks written here must read back under one.
    t = await tempVolume({ format: { checksum: 'none' } });
    await t.v.writeFile('/kept.txt', 'written before the upgrade');
    await t.v.close();
  });
  after(() => t.cleanup());

  it('a record written by a newer FerryFS is refused with one line naming both versions', async () => {
    const current = readRaw(t);
    writeRaw(t, { ...current, metaVersion: 99, somethingNew: { x: 1 } });
    try {
      const e = await loadAt(t.url).then(() => undefined, (err: unknown) => err);
      assert.ok(e, 'load() must refuse a record from a newer FerryFS');
      const msg = oneLine(e);
      assert.match(msg, /99/);
      assert.match(msg, new RegExp(`up to ${FORMAT_VERSION}\\b`));
      assert.match(msg, /newer FerryFS/);
      // The CLI says the same in one line, and a client never opens the volume.
      const r = spawnSync(process.execPath, [MAIN, 'info', t.url], { encoding: 'utf8', env: { ...process.env, FERRY_DEBUG: '' } });
      assert.notEqual(r.status, 0);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /metadata version 99.*newer FerryFS.*up to \d+/);
      await assert.rejects(Volume.open(t.url), /newer FerryFS/);
    } finally {
      writeRaw(t, current);
    }
  });

  it('a version-1 record (flat fields) loads upgraded, and the volume opens with its data', async () => {
    const current = readRaw(t) as { name: string; uuid: string; createdAt: string; storage: { url: string } };
    // What `ferry format --access-key ... --hash crc32c` and a registered mirror and gateway key left before the sections.
    const v1 = {
      name: current.name,
      uuid: current.uuid,
      storage: current.storage.url,
      blockSize: 4 << 20,
      compression: 'none',
      trashDays: 0,
      capacity: 1 << 30,
      inodes: 0,
      metaVersion: 1,
      createdAt: current.createdAt,
      checksum: 'none',
      shards: 1,
      accessKey: 'AK',
      secretKey: 'SK',
      xattrFlags: true,
      mirrors: { m1: { url: 'sqlite3:///elsewhere/m.db', createdAt: '2024-01-01T00:00:00.000Z', applied: 7, appliedAt: 1700000000000 } },
      mirrorRetention: 3600,
      gatewayKeys: { FERRYKEY1: { secret: 'secret-1', uid: 1000, gid: 1000, created: '2024-01-01T00:00:00.000Z' } },
    };
    writeRaw(t, v1);
    const f = await loadAt(t.url);
    assert.deepEqual(f, {
      name: current.name,
      uuid: current.uuid,
      blockSize: 4 << 20,
      trashDays: 0,
      capacity: 1 << 30,
      inodes: 0,
      metaVersion: FORMAT_VERSION,
      createdAt: current.createdAt,
      xattrFlags: true,
      storage: { url: current.storage.url, shards: 1, compression: 'none', checksum: 'none', accessKey: 'AK', secretKey: 'SK' },
      mirror: { mirrors: v1.mirrors, retention: 3600 },
      gateway: { keys: v1.gatewayKeys },
    });
    const vol = await Volume.open(t.url);
    try {
      assert.equal(await vol.readFile('/kept.txt', 'utf8'), 'written before the upgrade');
    } finally {
      await vol.close();
    }
    // The first change writes the record back in the current shape, keeping every section.
    const m = await openMeta(t.url);
    try {
      await m.updateFormat({ trashDays: 2 });
    } finally {
      await m.close();
    }
    const raw = readRaw(t) as unknown as Format;
    assert.equal(raw.metaVersion, FORMAT_VERSION);
    assert.deepEqual({ ...raw, trashDays: 0 }, f);
    assert.equal('accessKey' in raw, false);
    writeRaw(t, current);
  });

  it('a version-1 mirror record keeps its origin and data copy; one without xattrFlags does not claim it', async () => {
    const current = readRaw(t) as { name: string; uuid: string; createdAt: string; storage: { url: string } };
    const mirrorOf = { source: 'postgres://src/db', id: 'ab12cd34', writable: false, snapshotVersion: 5, storage: 'file:///own' };
    const dataCopy = { snapshotVersion: 5, backfilled: true, cursor: 9, copiedBlocks: 3, copiedBytes: 300, deletedBlocks: 0, pendingBlocks: 0, pendingBytes: 0, updatedAt: 1 };
    writeRaw(t, {
      name: current.name, uuid: current.uuid, storage: current.storage.url, blockSize: 1 << 20, compression: 'lz4', trashDays: 1, capacity: 0,
      inodes: 0, metaVersion: 1, createdAt: current.createdAt, mirrorOf, dataCopy,
    });
    try {
      const f = await loadAt(t.url);
      assert.deepEqual(f.mirror, { of: mirrorOf });
      assert.deepEqual(f.dataCopy, dataCopy);
      assert.equal(f.xattrFlags, false);
      assert.deepEqual(f.storage, { url: current.storage.url, shards: 1, compression: 'lz4', checksum: 'none' });
    } finally {
      writeRaw(t, current);
    }
  });

  it('a damaged record is one error naming the field', async () => {
    const current = readRaw(t) as { storage: Record<string, unknown> };
    const cases: Array<[unknown, RegExp]> = [
      [{ ...current, blockSize: '4M' }, /blockSize is "4M", expected a size in bytes/],
      [{ ...current, storage: { ...current.storage, url: undefined } }, /storage\.url is missing/],
      [{ ...current, storage: { ...current.storage, compression: 'brotli' } }, /storage\.compression is "brotli"/],
      [{ ...current, gateway: { keys: { K: { uid: 1 } } } }, /gateway\.keys\.K/],
      ['not a record', /not an object/],
    ];
    try {
      for (const [record, pattern] of cases) {
        writeRaw(t, record);
        const e = await loadAt(t.url).then(() => undefined, (err: unknown) => err);
        assert.match(oneLine(e), /format record at .* is invalid/);
        assert.equal((e as FsError).code, 'EINVAL');
        assert.match((e as FsError).message, pattern);
      }
    } finally {
      writeRaw(t, current);
    }
  });
});

describe('format changes', () => {
  let t: TempVolume;
  before(async () => {
    t = await tempVolume({ format: { compression: 'lz4' } });
  });
  after(() => t.cleanup());

  it('what is fixed at format is refused however the change comes', async () => {
    const m = await openMeta(t.url);
    try {
      const f = await m.load();
      await assert.rejects(m.updateFormat({ blockSize: 1 << 20 }), /cannot change the block size/);
      await assert.rejects(m.updateFormat((old) => ({ storage: { ...old.storage, compression: 'none' } })), /cannot change the compression/);
      await assert.rejects(m.init(newFormat({ name: f.name, storage: f.storage.url, compression: 'zstd' }), true), /cannot change the compression/);
      assert.throws(() => changeFormat(f, { shards: 4 }), /cannot change the shard count/);
      assert.throws(() => changeFormat(f, { name: 'other' }), /cannot change the name/);
      // The mutable ones go through, the rest of the record stays.
      const next = await m.updateFormat((old) => changeFormat(old, { capacity: 5 << 30, trashDays: 3, storage: `${old.storage.url}2`, mirrorRetention: 60 }));
      assert.equal(next.capacity, 5 << 30);
      assert.equal(next.storage.url, `${f.storage.url}2`);
      assert.equal(next.storage.compression, 'lz4');
      assert.equal(next.mirror?.retention, 60);
      assert.equal(next.uuid, f.uuid);
      // A mirror's retention belongs to its source.
      const mirror = { ...next, mirror: { of: { source: 'sqlite3:///x.db', id: 'x', writable: true, snapshotVersion: 0 } } };
      assert.throws(() => changeFormat(mirror, { mirrorRetention: 10 }), /setting of a mirror's source/);
      await m.updateFormat((old) => changeFormat(old, { storage: f.storage.url }));
    } finally {
      await m.close();
    }
  });

  it('ACLs may be turned on after format, never off', async () => {
    const m = await openMeta(t.url);
    try {
      const f = await m.load();
      assert.equal(f.acl, undefined, 'off unless --acl');
      const on = await m.updateFormat((old) => changeFormat(old, { acl: true }));
      assert.equal(on.acl, true);
      await assert.rejects(m.updateFormat((old) => changeFormat(old, { acl: false })), /cannot turn off the ACLs of volume 'vol'/);
      await assert.rejects(m.updateFormat({ acl: false }), /cannot turn off the ACLs/);
      await assert.rejects(m.init(newFormat({ name: f.name, storage: f.storage.url, compression: 'lz4' }), true), /cannot turn off the ACLs/);
      assert.equal((await m.load()).acl, true);
      assert.throws(() => validFormat({ ...f, acl: 'yes' } as unknown as Format, 'the record'), /acl is "yes", expected true or false/);
    } finally {
      await m.close();
    }
  });

  it('newFormat fills the defaults and refuses a bad setting', () => {
    const f = newFormat({ name: 'vol', storage: 'mem://x' });
    assert.equal(f.metaVersion, FORMAT_VERSION);
    assert.equal(f.blockSize, 4 << 20);
    assert.equal(f.trashDays, 1);
    assert.equal(f.xattrFlags, true);
    assert.deepEqual(f.storage, { url: 'mem://x', shards: 1, compression: 'none', checksum: 'crc32c' });
    assert.match(f.uuid, /^[0-9a-f-]{36}$/);
    assert.throws(() => newFormat({ name: 'vol', storage: 'mem://x', shards: 0 }), /storage\.shards is 0/);
    assert.notEqual(newFormat({ name: 'vol', storage: 'mem://x' }).uuid, f.uuid);
  });
});
