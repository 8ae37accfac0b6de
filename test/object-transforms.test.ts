// Block transforms: the unchanged conformance suite over each stack (on mem://, one stack on Ceph RGW),
// corruption detection, wrong keys and key rotation.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { openObjectStore, type ObjectStore } from '../src/object/index.js';
import {
  newEncryption,
  openTransformedStore,
  rewrapEncryption,
  shardOf,
  unwrapDataKey,
  type StoreSpec,
  type UserSecret,
} from '../src/object/transforms/index.js';
import { ferry, ok, oneLineError, requireRgw, rgwBucket, rgwOptions } from './helpers/rgw.js';
import { objectConformance } from './suites/object-suite.js';

let dir: string;
const keyFile = () => join(dir, 'key');
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-transforms-'));
  await writeFile(join(dir, 'key'), randomBytes(32));
  await writeFile(join(dir, 'other-key'), randomBytes(32));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A format-like record for a stack (encryption with a fresh key file record). */
async function stack(storage: string, t: Omit<StoreSpec, 'url' | 'encryption'> & { encrypt?: boolean }): Promise<{ format: StoreSpec; secret?: UserSecret }> {
  const format: StoreSpec = { url: storage, ...t };
  if (!t.encrypt) return { format };
  const secret = { keyFile: keyFile() };
  format.encryption = (await newEncryption(secret)).record;
  return { format, secret };
}

const STACKS: [string, Omit<StoreSpec, 'url'> & { encrypt?: boolean }][] = [
  ['crc32c', { checksum: 'crc32c' }],
  ['lz4', { compression: 'lz4' }],
  ['zstd', { compression: 'zstd' }],
  ['aes-gcm', { encrypt: true }],
  ['shards 4 (prefixes)', { shards: 4 }],
  ['zstd + aes-gcm + crc32c + 3 shards', { compression: 'zstd', encrypt: true, checksum: 'crc32c', shards: 3 }],
];

for (const [name, t] of STACKS) {
  objectConformance(`transforms ${name} on mem`, async () => {
    const { format, secret } = await stack(`mem://tf-${randomUUID()}`, t);
    return openTransformedStore(format, {}, secret);
  });
}

objectConformance('transforms shards 3 over %d directories', async () => {
  const { format } = await stack(`file://${dir}/sharded-%d`, { shards: 3 });
  return openTransformedStore(format);
});

objectConformance('transforms lz4 + aes-gcm + crc32c on s3 (Ceph RGW)', async () => {
  await requireRgw();
  const { format, secret } = await stack(`s3://${rgwBucket('tf')}`, { compression: 'lz4', encrypt: true, checksum: 'crc32c' });
  return openTransformedStore(format, rgwOptions(), secret);
});

function eio(key: string) {
  return (e: unknown) => {
    assert.ok(e instanceof FsError, String(e));
    assert.equal(e.code, 'EIO');
    assert.ok(e.message.includes(key) && !e.message.includes('\n'), e.message);
    return true;
  };
}

describe('block transforms', () => {
  it('stores compressible blocks smaller, incompressible ones raw, and tells them apart', async () => {
    for (const codec of ['lz4', 'zstd']) {
      const storage = `mem://c-${randomUUID()}`;
      const s = await openTransformedStore({ url: storage, compression: codec });
      const raw = await openObjectStore(storage);
      const text = Buffer.from('ferry '.repeat(100_000));
      const noise = randomBytes(100_000);
      await s.put('text', text);
      await s.put('noise', noise);
      assert.ok((await raw.head('text')).size < text.length / 10, codec);
      assert.equal((await raw.head('noise')).size, noise.length + 8);
      assert.deepEqual(await s.get('text', 300_000, 12), text.subarray(300_000, 300_012));
      assert.equal((await s.head('text')).size, text.length);
      assert.deepEqual(await s.get('noise'), noise);
    }
  });

  it('detects a corrupted block and never returns its bytes', async () => {
    const storage = `mem://k-${randomUUID()}`;
    const s = await openTransformedStore({ url: storage, checksum: 'crc32c' });
    const raw = await openObjectStore(storage);
    await s.put('vol/blk', randomBytes(10_000));
    const stored = await raw.get('vol/blk');
    stored[5000] ^= 1;
    await raw.put('vol/blk', stored);
    await assert.rejects(s.get('vol/blk'), eio('vol/blk'));
    await assert.rejects(s.get('vol/blk', 0, 10), eio('vol/blk'));
    await raw.put('vol/blk', stored.subarray(0, 3));
    await assert.rejects(s.get('vol/blk'), eio('vol/blk'));
  });

  it('detects a tampered or moved encrypted block', async () => {
    const { format, secret } = await stack(`mem://e-${randomUUID()}`, { encrypt: true });
    const s = await openTransformedStore(format, {}, secret);
    const raw = await openObjectStore(format.url);
    await s.put('a', Buffer.from('secret data'));
    const stored = await raw.get('a');
    assert.ok(!stored.includes(Buffer.from('secret')));
    await raw.put('b', stored); // the same bytes under another key
    await assert.rejects(s.get('b'), eio('b'));
    stored[stored.length - 1] ^= 0x80;
    await raw.put('a', stored);
    await assert.rejects(s.get('a'), eio('a'));
  });

  it('refuses a wrong key or passphrase with one clear line', async () => {
    const { format } = await stack(`mem://w-${randomUUID()}`, { encrypt: true });
    await assert.rejects(openTransformedStore(format, {}, { keyFile: join(dir, 'other-key') }), (e: unknown) => {
      assert.ok(e instanceof FsError && e.code === 'EACCES', String(e));
      assert.match(e.message, /wrong encryption key: key file .*other-key does not unlock/);
      return true;
    });
    const pass = await newEncryption({ passphrase: 'correct horse' });
    await assert.rejects(unwrapDataKey(pass.record, { passphrase: 'wrong horse', source: '$P' }), /wrong encryption key: the passphrase in \$P/);
    assert.deepEqual(await unwrapDataKey(pass.record, { passphrase: 'correct horse' }), pass.dataKey);
    const saved = process.env.FERRY_ENCRYPT_KEY_FILE;
    delete process.env.FERRY_ENCRYPT_KEY_FILE;
    try {
      const { keyFile: _drop, ...noHint } = format.encryption!;
      await assert.rejects(openTransformedStore({ ...format, encryption: noHint }), /is encrypted: set FERRY_ENCRYPT_KEY_FILE/);
    } finally {
      if (saved !== undefined) process.env.FERRY_ENCRYPT_KEY_FILE = saved;
    }
  });

  it('keeps data readable after rotating the user key (only the data key is rewrapped)', async () => {
    const { format, secret } = await stack(`mem://r-${randomUUID()}`, { encrypt: true, checksum: 'crc32c' });
    const s = await openTransformedStore(format, {}, secret);
    const data = randomBytes(50_000);
    await s.put('blk', data);
    const raw = await openObjectStore(format.url);
    const before = await raw.get('blk');
    const rotated = await rewrapEncryption(format.encryption!, secret!, { passphrase: 'new passphrase' });
    assert.notEqual(rotated.wrappedKey, format.encryption!.wrappedKey);
    const s2 = await openTransformedStore({ ...format, encryption: rotated }, {}, { passphrase: 'new passphrase' });
    assert.deepEqual(await s2.get('blk'), data);
    assert.deepEqual(await raw.get('blk'), before, 'rotation must not rewrite blocks');
    await assert.rejects(openTransformedStore({ ...format, encryption: rotated }, {}, secret), { code: 'EACCES' });
  });

  it('spreads keys over the shards', async () => {
    const storage = `mem://s-${randomUUID()}`;
    const s: ObjectStore = await openTransformedStore({ url: storage, shards: 4 });
    const keys = Array.from({ length: 200 }, (_, i) => `vol/chunks/0/0/${i}_0_4096`);
    for (const k of keys) await s.put(k, Buffer.from(k));
    const raw = await openObjectStore(storage);
    for (let i = 0; i < 4; i++) {
      const n = (await raw.list(`shard-${i}/`)).objects.length;
      assert.equal(n, keys.filter((k) => shardOf(k, 4) === i).length);
      assert.ok(n > 20, `shard ${i} has only ${n} keys`);
    }
  });
});

describe('ferry with corrupted blocks and wrong keys: one line, non-zero exit', () => {
  async function blockFiles(root: string): Promise<string[]> {
    const found: string[] = [];
    for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && /_\d+_\d+$/.test(e.name)) found.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
    }
    return found;
  }

  it('a corrupted block on disk is an EIO naming it, never wrong bytes', async () => {
    const meta = `sqlite3://${dir}/sum/meta.db`;
    ok(ferry(dir, ['format', '--hash', 'crc32c', '--compress', 'lz4', meta, 'sumvol']));
    const src = join(dir, 'data.bin');
    await writeFile(src, randomBytes(300_000));
    ok(ferry(dir, ['put', meta, src, '/data.bin']));
    assert.deepEqual(ok(ferry(dir, ['cat', meta, '/data.bin'])).stdout, await readFile(src));
    const [block] = await blockFiles(join(dir, 'sum', 'blocks'));
    assert.ok(block, 'no block file found');
    const bytes = await readFile(block);
    bytes[bytes.length >> 1] ^= 0x40;
    await writeFile(block, bytes);
    const r = ferry(dir, ['cat', meta, '/data.bin']);
    oneLineError(r, /block sumvol\/chunks\/\S+ is corrupted/);
    assert.ok(r.stdout.length < 300_000, 'no whole wrong file on stdout');
  });

  it('a wrong encryption key is refused before anything is read or written; rotation keeps data', async () => {
    const meta = `sqlite3://${dir}/enc/meta.db`;
    ok(ferry(dir, ['format', '--encrypt-key-file', keyFile(), '--hash', 'crc32c', '--compress', 'zstd', meta, 'encvol']));
    const src = join(dir, 'secret.txt');
    await writeFile(src, 'top secret '.repeat(1000));
    ok(ferry(dir, ['put', meta, src, '/secret.txt']));
    for (const f of await blockFiles(join(dir, 'enc', 'blocks'))) assert.ok(!(await readFile(f)).includes('top secret'));
    // The key file recorded at format is used by default; another one is refused in one line.
    assert.equal(ok(ferry(dir, ['cat', meta, '/secret.txt'])).stdout.toString(), 'top secret '.repeat(1000));
    const other = join(dir, 'other-key');
    oneLineError(ferry(dir, ['cat', meta, '/secret.txt'], { FERRY_ENCRYPT_KEY_FILE: other }), /wrong encryption key: key file .*other-key/);
    oneLineError(ferry(dir, ['put', meta, src, '/again.txt'], { FERRY_ENCRYPT_KEY_FILE: other }), /wrong encryption key/);
    assert.equal(ok(ferry(dir, ['ls', meta, '/'])).stdout.toString().includes('again.txt'), false, 'nothing half-written');
    // Rotate to a passphrase: only the wrapped data key in the format record changes.
    const before = await Promise.all((await blockFiles(join(dir, 'enc', 'blocks'))).map((f) => readFile(f)));
    ok(ferry(dir, ['format', '--force', '--encrypt-passphrase-env', 'NEW_PASS', meta, 'encvol'], { NEW_PASS: 'a new passphrase' }));
    const after = await Promise.all((await blockFiles(join(dir, 'enc', 'blocks'))).map((f) => readFile(f)));
    assert.deepEqual(after, before, 'rotation rewrote blocks');
    assert.equal(ok(ferry(dir, ['cat', meta, '/secret.txt'], { NEW_PASS: 'a new passphrase' })).stdout.toString(), 'top secret '.repeat(1000));
    oneLineError(ferry(dir, ['cat', meta, '/secret.txt'], { NEW_PASS: 'wrong' }), /wrong encryption key: the passphrase in \$NEW_PASS/);
    oneLineError(ferry(dir, ['cat', meta, '/secret.txt'], { NEW_PASS: undefined }), /encrypted: set FERRY_ENCRYPT_PASSPHRASE or NEW_PASS/);
  });

  it('refuses bad transform flags as usage errors', () => {
    const meta = `sqlite3://${dir}/bad/meta.db`;
    oneLineError(ferry(dir, ['format', '--compress', 'brotli', meta, 'badvol']), /--compress: 'brotli' is not supported/);
    oneLineError(ferry(dir, ['format', '--hash', 'md5', meta, 'badvol']), /--hash: 'md5'/);
    oneLineError(ferry(dir, ['format', '--encrypt-passphrase-env', 'NOT_SET_ANYWHERE', meta, 'badvol']), /NOT_SET_ANYWHERE is not set/);
    oneLineError(ferry(dir, ['format', '--encrypt-key-file', join(dir, 'missing-key'), meta, 'badvol']), /cannot read encryption key file .*missing-key/);
  });
});
