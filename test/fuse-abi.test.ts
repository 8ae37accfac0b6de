// The FUSE boundary has one source, src/fuse/abi.json: the committed generated files must be what the
// generator makes of it today (an edit of the spec without regenerating fails here), and both sides must
// serve every op it names.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { OP, OP_NAMES, REQUESTS } from '../src/fuse/abi.gen.js';
import { ADDON_PATH, loadAddon } from '../src/fuse/addon.js';
import { FuseServer } from '../src/fuse/server.js';

interface Generator {
  SPEC: string;
  HEADER: string;
  TS: string;
  generate(spec: string): { header: string; ts: string };
}

const gen = (): Promise<Generator> => import(new URL('../../src/fuse/native/genabi.mjs', import.meta.url).href) as Promise<Generator>;

describe('FUSE ABI: one spec, two generated sides', () => {
  test('the committed abi.gen.h and abi.gen.ts are what abi.json generates', async () => {
    const g = await gen();
    const out = g.generate(await readFile(g.SPEC, 'utf8'));
    assert.equal(await readFile(g.HEADER, 'utf8'), out.header, 'src/fuse/native/abi.gen.h is stale: run node src/fuse/native/genabi.mjs');
    assert.equal(await readFile(g.TS, 'utf8'), out.ts, 'src/fuse/abi.gen.ts is stale: run node src/fuse/native/genabi.mjs');
  });

  test('a spec mistake is refused, not generated', async () => {
    const g = await gen();
    const spec = JSON.parse(await readFile(g.SPEC, 'utf8')) as { ops: Array<{ name: string; args: string[][]; reply?: string }> };
    const typo = structuredClone(spec);
    typo.ops[1]!.args[0]![1] = 'inode';
    assert.throws(() => g.generate(JSON.stringify(typo)), /unknown type inode/);
    const twice = structuredClone(spec);
    twice.ops.push({ ...twice.ops[1]! });
    assert.throws(() => g.generate(JSON.stringify(twice)), /op lookup twice/);
  });

  test('every op but exit is a request with a FuseServer method of its name', () => {
    assert.equal(OP.EXIT, 0);
    assert.equal(REQUESTS[OP.EXIT], undefined);
    for (let op = 1; op < OP_NAMES.length; op++) {
      const spec = REQUESTS[op];
      assert.equal(spec?.name, OP_NAMES[op]);
      assert.equal(typeof (FuseServer.prototype as unknown as Record<string, unknown>)[spec!.name], 'function', spec!.name);
    }
  });

  test('the built addon creates sessions apart from connecting them', { skip: existsSync(ADDON_PATH) ? undefined : 'FUSE addon not built' }, () => {
    const addon = loadAddon();
    for (const f of ['session', 'mount', 'start', 'destroy'] as const) assert.equal(typeof addon[f], 'function', f);
    // A session that is never connected is destroyed without a mount or a descriptor.
    const s = addon.session([], () => undefined, {});
    assert.equal(addon.fd(s), -1);
    assert.throws(() => addon.start(s, 1 << 20), /not an open descriptor/);
    addon.destroy(s);
  });
});
