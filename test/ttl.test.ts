// `ferry ttl` as a user runs it: set on a volume formatted before TTL existed (its index table is created
// then), files already there indexed, `run` printing files expired and index rows read, expired files in
// the trash (or freed with the trash off), and a TTL on a path that does not exist refused in one line.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Volume } from '../src/sdk/index.js';
import { ferry, ok, oneLineError, tempDir } from './helpers/cli.js';

const DAY_MS = 86_400_000;

async function blocks(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) if (e.isFile()) n++;
  return n;
}

/** Makes files look `days` old (their mtime), as a client writing through the SDK would set it. */
async function age(url: string, paths: string[], days: number): Promise<void> {
  const v = await Volume.open(url);
  try {
    const t = new Date(Date.now() - days * DAY_MS);
    for (const p of paths) await v.utimes(p, t, t);
  } finally {
    await v.close();
  }
}

describe('ferry ttl (CLI)', () => {
  it('set, get, list, run and delete; expired files go to the trash; the report counts rows read and files expired', async () => {
    const dir = await tempDir();
    const url = `sqlite3://${join(dir, 'meta.db')}`;
    ok(ferry(dir, ['format', url, 'vol', '--storage', `file://${join(dir, 'data')}`]));
    // A volume formatted before TTL existed has no index table: `ttl set` creates it.
    const db = new Database(join(dir, 'meta.db'));
    db.exec('DROP TABLE ttl');
    db.close();
    ok(ferry(dir, ['mkdir', '-p', url, '/user/didi/logs', '/other']));
    for (const p of ['/user/didi/old.txt', '/user/didi/logs/old.log', '/user/didi/new.txt', '/other/old.txt']) {
      ok(ferry(dir, ['put', url, '/etc/hostname', p]));
    }
    await age(url, ['/user/didi/old.txt', '/user/didi/logs/old.log', '/other/old.txt'], 40);

    assert.match(ok(ferry(dir, ['ttl', 'set', url, '--path', '/user/didi/', '--days', '30'])).stdout, /files under \/user\/didi expire 30 days after their last change \(3 already there indexed\)/);
    assert.deepEqual(JSON.parse(ok(ferry(dir, ['ttl', 'get', url, '--path', '/user/didi', '--json'])).stdout).days, 30);
    assert.match(ok(ferry(dir, ['ttl', 'list', url])).stdout, /\/user\/didi\s+30/);

    assert.equal(ok(ferry(dir, ['ttl', 'run', url])).stdout, '2 files expired, 2 index rows read (0 stale, 0 refused) under 1 rule\n');
    const trash = JSON.parse(ok(ferry(dir, ['trash', 'list', '--json', url])).stdout) as Array<{ path: string }>;
    assert.deepEqual(trash.map((i) => i.path).sort(), ['/user/didi/logs/old.log', '/user/didi/old.txt']);
    assert.equal(ok(ferry(dir, ['ls', url, '/user/didi'])).stdout.split('\n').filter((l) => l.includes('.txt')).length, 1, 'new.txt stays');
    ok(ferry(dir, ['stat', url, '/other/old.txt'])); // outside the TTL's tree
    assert.equal(ok(ferry(dir, ['ttl', 'run', url, '--json'])).stdout, '{"rules":1,"rowsRead":0,"expired":0,"stale":0,"refused":0}\n');

    assert.match(ok(ferry(dir, ['ttl', 'delete', url, '--path', '/user/didi'])).stdout, /removed the TTL of \/user\/didi/);
    await age(url, ['/user/didi/new.txt'], 40);
    assert.match(ok(ferry(dir, ['ttl', 'run', url])).stdout, /^0 files expired, 0 index rows read/);
    assert.equal(ok(ferry(dir, ['ttl', 'list', url])).stdout, 'no TTL is set\n');
  });

  it('a TTL on a path that does not exist, a file, or with bad days is refused in one line', async () => {
    const dir = await tempDir();
    const url = `sqlite3://${join(dir, 'meta.db')}`;
    ok(ferry(dir, ['format', url, 'vol', '--storage', `file://${join(dir, 'data')}`]));
    ok(ferry(dir, ['put', url, '/etc/hostname', '/f']));
    oneLineError(ferry(dir, ['ttl', 'set', url, '--path', '/no/such/dir', '--days', '30']), 1, /no directory \/no\/such\/dir in the volume/);
    oneLineError(ferry(dir, ['ttl', 'set', url, '--path', '/f', '--days', '30']), 1, /\/f is not a directory/);
    oneLineError(ferry(dir, ['ttl', 'get', url, '--path', '/missing']), 1, /no directory \/missing in the volume/);
    oneLineError(ferry(dir, ['ttl', 'get', url, '--path', '/']), 1, /no TTL is set on \//);
    oneLineError(ferry(dir, ['ttl', 'delete', url, '--path', '/']), 1, /no TTL is set on \//);
    oneLineError(ferry(dir, ['ttl', 'set', url, '--path', '/']), 2, /ttl set needs --days N/);
    oneLineError(ferry(dir, ['ttl', 'set', url, '--path', '/', '--days', '0']), 2, /--days: 0 expires nothing/);
    oneLineError(ferry(dir, ['ttl', 'set', url, '--path', '/', '--days', '-3']), 2, /negative/);
    oneLineError(ferry(dir, ['ttl', 'run', url, '--path', '/']), 2, /ttl run takes no --path/);
    oneLineError(ferry(dir, ['ttl', 'expire', url]), 2, /unknown action 'expire'/);
    oneLineError(ferry(dir, ['ttl', 'list', `sqlite3://${join(dir, 'none.db')}`]), 1, /no volume at/);
  });

  it('with the trash off, expired files are freed with their objects', async () => {
    const dir = await tempDir();
    const url = `sqlite3://${join(dir, 'meta.db')}`;
    const data = join(dir, 'data');
    ok(ferry(dir, ['format', url, 'vol', '--storage', `file://${data}`, '--trash-days', '0']));
    ok(ferry(dir, ['mkdir', url, '/scratch']));
    ok(ferry(dir, ['put', url, '/etc/hostname', '/scratch/a']));
    const before = await blocks(data);
    assert.ok(before >= 1);
    await age(url, ['/scratch/a'], 2);
    ok(ferry(dir, ['ttl', 'set', url, '--path', '/scratch', '--days', '1']));
    assert.match(ok(ferry(dir, ['ttl', 'run', url])).stdout, /^1 file expired, 1 index row read/);
    oneLineError(ferry(dir, ['stat', url, '/scratch/a']), 1, /no such file|not found|ENOENT/i);
    assert.equal(await blocks(data), before - 1, 'its block is deleted');
    assert.equal(ok(ferry(dir, ['trash', 'list', url])).stdout, 'the trash is empty\n');
  });
});
