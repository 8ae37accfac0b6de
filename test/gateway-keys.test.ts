// Gateway access keys live in the volume's format record: many `ferry gateway keys add/remove` at once
// (each its own client, as separate processes are) must lose none of each other's changes. On PostgreSQL
// the clients' transactions really overlap (a read in one transaction and the write in another lost keys
// there); SQLite clients of one process take turns, so there it checks the bookkeeping only.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addKey, keysOf, removeKey } from '../src/gateway/keys.js';
import { newFormat } from '../src/meta/format.js';
import { openMeta, type Meta } from '../src/meta/index.js';
import { dropPrefixed, requireServer, uniquePrefix, withOptions } from './helpers/servers.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

const CLIENTS = 24;

function key(i: number) {
  return { secret: `secret-${i}-xxxxxxxx`, uid: 1000 + i, gid: 1000, created: new Date().toISOString() };
}

/** CLIENTS clients add one key each at once, then half of them remove theirs at once while others add. */
async function concurrentKeys(url: string): Promise<void> {
  const metas: Meta[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const m = await openMeta(url);
      await m.load();
      metas.push(m);
    }
    await Promise.all(metas.map((m, i) => addKey(m, `KEY${i}`, key(i))));
    const keys = keysOf(await metas[0]!.load());
    assert.deepEqual(Object.keys(keys).sort(), metas.map((_, i) => `KEY${i}`).sort(), 'every concurrent add is kept');
    assert.equal(keys.KEY3!.uid, 1003);

    const removed = await Promise.all(metas.map((m, i) => (i % 2 ? removeKey(m, `KEY${i}`) : addKey(m, `NEW${i}`, key(i)).then(() => false))));
    assert.equal(removed.filter(Boolean).length, CLIENTS / 2);
    const after = Object.keys(keysOf(await metas[0]!.load())).sort();
    const expected = metas.flatMap((_, i) => (i % 2 ? [] : [`KEY${i}`, `NEW${i}`])).sort();
    assert.deepEqual(after, expected);
    assert.equal(await removeKey(metas[0]!, 'KEY1'), false, 'a key removed already is not found');
    await assert.rejects(addKey(metas[0]!, 'KEY0', key(0)), /already exists/);
  } finally {
    for (const m of metas) await m.close();
  }
}

describe('gateway keys: concurrent changes', () => {
  let t: TempVolume | undefined;
  after(() => t?.cleanup());

  it('sqlite3: concurrent adds and removes from separate clients all land', async () => {
    t = await tempVolume();
    await concurrentKeys(t.url);
  });
});

const pg = await requireServer('postgres');
if (pg) {
  describe('gateway keys: concurrent changes on PostgreSQL', () => {
    const prefix = uniquePrefix('fgk');
    const url = withOptions(pg, { prefix });
    after(() => dropPrefixed('postgres', pg, prefix));

    it('postgres: concurrent adds and removes from separate clients all land', async () => {
      const m = await openMeta(url);
      try {
        await m.init(newFormat({ name: 'keys', storage: 'mem://keys', trashDays: 0 }));
      } finally {
        await m.close();
      }
      await concurrentKeys(url);
    });
  });
}
