// A replicator that refuses a client's wait (a secret it does not take) is a misconfiguration, not a
// restart: the client says so in one line, once a minute, and goes on by polling the mirror (slower, correct).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newFormat } from '../src/meta/format.js';
import { openMeta } from '../src/meta/index.js';
import { waitForVersion } from '../src/mirror/wait-client.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-wait-refused-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a refused wait is told in one line, once, and the client polls the mirror instead', async () => {
  // A replicator's wait endpoint refusing every credential, as one holding another volume's secret does.
  let asked = 0;
  const rep = createServer((_req, res) => {
    asked++;
    res.writeHead(403, { 'content-type': 'text/plain' }).end('wrong service credential\n');
  });
  await new Promise<void>((r) => rep.listen(0, '127.0.0.1', r));
  const mirror = await openMeta(`sqlite3://${join(dir, 'mirror.db')}`);
  await mirror.init(newFormat({ name: 'm', storage: `file://${dir}/blocks` }));
  await mirror.newSession({});
  await mirror.setSessionInfo({ mirrorWait: `http://127.0.0.1:${(rep.address() as { port: number }).port}` });
  const told: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (told.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    for (let i = 0; i < 3; i++) assert.equal(await waitForVersion(mirror, 1_000_000, 50), 0);
  } finally {
    process.stderr.write = write;
    rep.close();
    await mirror.close();
  }
  assert.ok(asked >= 2, `the replicator was asked each time its address was known (${asked})`);
  assert.equal(told.length, 1, told.join(''));
  assert.match(told[0]!, /^ferry: replicator http:\/\/127\.0\.0\.1:\d+ refused the wait \(403\): wrong service credential; waiting by polling the mirror instead \(slower\): check the service secret\n$/);
});
