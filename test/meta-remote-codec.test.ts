// The ferry:// wire codec: Buffers travel as base64 at any depth and come back as Buffers; text that merely
// mentions "$b" stays text (decode skips its reviver when no Buffer is in the message).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode } from '../src/meta/engines/remote/codec.js';

test('Buffers round-trip at any depth; plain messages decode as plain JSON', () => {
  const msg = { value: [{ name: 'x', attr: { mode: 0o644 } }, { lock: { owner: Buffer.from([0, 1, 255]) } }], xattr: Buffer.from('v') };
  const back = decode(encode(msg)) as typeof msg;
  assert.ok(Buffer.isBuffer(back.xattr) && back.xattr.toString() === 'v');
  assert.deepEqual([...(back.value[1] as { lock: { owner: Buffer } }).lock.owner], [0, 1, 255]);
  assert.deepEqual(back.value[0], { name: 'x', attr: { mode: 0o644 } });
  const plain = { value: [{ name: '$b', note: 'a "$b" in a name is a name' }] };
  assert.deepEqual(decode(encode(plain)), plain);
});
