// Automatic metadata backups (issue 22 item 3): `--backup-meta INTERVAL` on a mount and on the gateway writes
// gzipped dumps to NAME/meta/dump-YYYY-MM-DD-HHMMSS.json.gz in the object store, one client of the volume at a
// time (a lease in the engine), keeping the newest N; `ferry load` reads one back from the file or the store.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MetaBackups } from '../src/client/backup.js';
import { openClient, openRawVolumeObjects, type Client } from '../src/client/index.js';
import { ROOT_KEY, addKeys } from './helpers/gateway.js';
import { startChildGateway } from './helpers/gateway-child.js';
import { ferry, ok, oneLineError } from './helpers/cli.js';
import { fuseTestOptions, mountFerry } from './helpers/mount.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';
import { sleep } from './helpers/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const NAME = /^dump-\d{4}-\d\d-\d\d-\d{6}\.json\.gz$/;

async function backups(tv: TempVolume): Promise<string[]> {
  return (await readdir(join(tv.blocksDir!, tv.name, 'meta')).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('one client at a time backs up (a lease lasting the interval); the newest N are kept; ferry load reads one from the store', async () => {
  const tv = await tempVolume();
  cleanups.push(() => tv.cleanup());
  await tv.v.mkdir('/d');
  await tv.v.writeFile('/d/f.txt', 'backed up\n');
  await tv.v.symlink('f.txt', '/d/link');
  const lines: string[] = [];
  const open = () => openClient({ metaUrl: tv.url, backupMeta: { interval: 3600, keep: 2 } }, { log: (l) => lines.push(l) });
  const a: Client = await open();
  cleanups.push(() => a.close());
  const b: Client = await open();
  cleanups.push(() => b.close());
  assert.ok(a.backups && b.backups);

  const t0 = Date.parse('2030-01-01T10:00:00Z');
  const first = await a.backups.tick(t0);
  assert.equal(first?.key, `${tv.name}/meta/dump-2030-01-01-100000.json.gz`);
  assert.equal(await b.backups.tick(t0 + 1000), undefined, 'the other client waits for the lease');
  assert.equal(await a.backups.tick(t0 + 3599_000), undefined, 'nor does the holder back up again within the interval');
  assert.deepEqual(await backups(tv), ['dump-2030-01-01-100000.json.gz']);

  const second = await b.backups.tick(t0 + 3600_000);
  assert.equal(second?.key, `${tv.name}/meta/dump-2030-01-01-110000.json.gz`);
  await tv.v.writeFile('/d/later.txt', 'after the second backup\n');
  const third = await a.backups.tick(t0 + 7200_000);
  assert.equal(third?.deleted, 1, 'the oldest is pruned: two are kept');
  assert.deepEqual(await backups(tv), ['dump-2030-01-01-110000.json.gz', 'dump-2030-01-01-120000.json.gz']);
  assert.equal(lines.filter((l) => /metadata backed up to /.test(l)).length, 3, lines.join('\n'));

  // The newest backup, loaded straight from the store into a new engine, is the volume (same store, same data).
  const url = `file://${join(tv.blocksDir!, tv.name, 'meta', 'dump-2030-01-01-120000.json.gz')}`;
  const loaded = `sqlite3://${join(tv.dir, 'loaded.db')}`;
  assert.match(ok(ferry(tv.dir, ['load', loaded, url])).stdout, /^loaded volume 'vol' /);
  assert.equal(ok(ferry(tv.dir, ['ls', loaded, '/d'])).stdout, 'f.txt\nlater.txt\nlink\n');
  assert.equal(ok(ferry(tv.dir, ['cat', loaded, '/d/later.txt'])).stdout, 'after the second backup\n');
  // The same backup as a local file; a missing object is one line.
  const local = `sqlite3://${join(tv.dir, 'local.db')}`;
  ok(ferry(tv.dir, ['load', local, join(tv.blocksDir!, tv.name, 'meta', 'dump-2030-01-01-110000.json.gz')]));
  assert.equal(ok(ferry(tv.dir, ['ls', local, '/d'])).stdout, 'f.txt\nlink\n');
  oneLineError(ferry(tv.dir, ['load', `sqlite3://${join(tv.dir, 'x.db')}`, url.replace('120000', '130000')]), 1, /130000/);
});

test('a read-only client, a client without the option and an encrypted volume write no backup', async () => {
  const tv = await tempVolume();
  cleanups.push(() => tv.cleanup());
  const ro = await openClient({ metaUrl: tv.url, readOnly: true, backupMeta: { interval: 1 } }, { log: () => undefined });
  cleanups.push(() => ro.close());
  assert.equal(ro.backups, undefined);
  const none = await openClient({ metaUrl: tv.url }, { log: () => undefined });
  cleanups.push(() => none.close());
  assert.equal(none.backups, undefined);
  // An encrypted volume (its format record names an encryption key): a dump would put its names in the clear.
  const lines: string[] = [];
  const enc = { ...none.format, storage: { ...none.format.storage, encryption: { wrapped: 'x' } as unknown as NonNullable<typeof none.format.storage.encryption> } };
  const job = new MetaBackups(none.meta, enc, () => openRawVolumeObjects(none.format, none.config), { interval: 60 }, (l) => lines.push(l));
  assert.equal(await job.tick(), undefined);
  assert.equal(await job.tick(), undefined);
  assert.equal(lines.length, 1, 'said once');
  assert.match(lines[0]!, /metadata backups are off: volume 'vol' is encrypted/);
  assert.deepEqual(await backups(tv), []);
});

test('ferry mount --backup-meta 1s --backup-meta-keep 2: backups appear in the store, two are kept', fuseTestOptions(), async () => {
  const tv = await tempVolume();
  cleanups.push(() => tv.cleanup());
  await tv.v.writeFile('/kept.txt', 'x');
  const mp = join(tv.dir, 'mnt');
  const m = await mountFerry(tv.url, mp, ['--backup-meta', '1s', '--backup-meta-keep', '2']);
  cleanups.push(() => m.unmount());
  const made = () => [...m.output().matchAll(/metadata backed up to \S+\/meta\/(dump-\S+\.json\.gz)/g)].map((x) => x[1]!);
  await until('three backups by the mount', () => made().length >= 3);
  await m.unmount();
  const kept = await backups(tv);
  assert.equal(kept.length, 2, kept.join(' '));
  assert.deepEqual(kept, made().slice(-2));
  const loaded = `sqlite3://${join(tv.dir, 'loaded.db')}`;
  ok(ferry(tv.dir, ['load', loaded, `file://${join(tv.blocksDir!, tv.name, 'meta', kept[1]!)}`]));
  assert.equal(ok(ferry(tv.dir, ['ls', loaded, '/'])).stdout, 'kept.txt\n');
});

test('ferry gateway --backup-meta 1s backs up; a bad interval is one line', async () => {
  const tv = await tempVolume();
  cleanups.push(() => tv.cleanup());
  await tv.v.writeFile('/f', 'y');
  await addKeys(tv, [ROOT_KEY]);
  const gw = await startChildGateway(['--backup-meta', '1s'], [ROOT_KEY], {}, tv);
  cleanups.push(() => gw.close());
  await until('a backup by the gateway', async () => (await backups(tv)).length >= 1);
  await gw.close();
  oneLineError(ferry(tv.dir, ['gateway', '--backup-meta', 'soon', tv.url, '127.0.0.1:0']), 2, /--backup-meta: 'soon' is not a duration/);
  oneLineError(ferry(tv.dir, ['mount', '--backup-meta', '-1', tv.url, join(tv.dir, 'mnt2')]), 2, /--backup-meta/);
});
