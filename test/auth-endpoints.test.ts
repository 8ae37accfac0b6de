// Issue 20 items 1 and 6: every FerryFS endpoint besides the S3 gateway — the meta-server, the mirror
// replicator's wait endpoint, a cache-group member's block server — run as real processes, refuses missing,
// wrong, expired and replayed credentials (401/403) before reading any metadata, and answers signed ones.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { newServiceSecret, signRequest } from '../src/meta/service-auth.js';
import { ferry, oneLineError, ok } from './helpers/cli.js';
import { formatVolume, type TestVolume } from './helpers/mount.js';
import { ferryServe, type Served } from './helpers/serve.js';

interface Reply {
  status: number;
  text: string;
}

/** One raw HTTP request (no agent, no retry): what a stranger on the network can send. */
function raw(base: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function secretOf(url: string): Promise<string> {
  const m = await openMeta(url);
  try {
    return (await m.load()).services!.secret;
  } finally {
    await m.close();
  }
}

/**
 * The four refusals and one success against an endpoint. `send(authorization?)` makes the endpoint's own
 * request (same method, path and body each time) with the given header.
 */
async function refusesBadCredentials(secret: string, method: string, path: string, body: string, send: (auth?: string) => Promise<Reply>): Promise<void> {
  const missing = await send();
  assert.equal(missing.status, 401, missing.text);
  assert.match(missing.text, /authentication required/);

  const wrong = await send(signRequest(newServiceSecret(), method, path, body));
  assert.equal(wrong.status, 403, wrong.text);
  assert.match(wrong.text, /wrong service credential/);

  const tampered = await send(signRequest(secret, method, path, `${body} `));
  assert.equal(tampered.status, 403, 'a credential for another body is refused');

  const expired = await send(signRequest(secret, method, path, body, Date.now() - 10 * 60_000));
  assert.equal(expired.status, 401, expired.text);
  assert.match(expired.text, /expired/);

  const once = signRequest(secret, method, path, body);
  const first = await send(once);
  assert.ok(first.status !== 401 && first.status !== 403, `a valid credential is accepted: ${first.status} ${first.text}`);
  const replay = await send(once);
  assert.equal(replay.status, 403, replay.text);
  assert.match(replay.text, /replayed/);
}

describe('service endpoints authenticate every request', () => {
  let vol: TestVolume;
  let secret: string;
  let secretFile: string;
  const servers: Served[] = [];

  before(async () => {
    vol = await formatVolume();
    secret = await secretOf(vol.url);
    secretFile = join(vol.dir, 'service.secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  });

  after(async () => {
    for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
    await vol?.cleanup();
  });

  test('meta-server: refusals, nothing done for a refused call, one clear line for the client', async () => {
    const ms = await ferryServe(['meta-server', vol.url, '--listen', '127.0.0.1:0'], / at (ferry:\/\/\S+)/);
    servers.push(ms);
    const base = ms.address.replace(/^ferry:/, 'http:');
    const body = JSON.stringify({ method: 'newSession', args: [{ mountPoint: 'intruder' }] });
    const send = (auth?: string) => raw(base, 'POST', '/call', { 'x-ferry-client': 'c1', 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body);

    // Refused requests made no session (nothing of the volume was touched): count sessions before and after.
    const direct = await openMeta(vol.url);
    try {
      assert.equal((await send()).status, 401);
      assert.equal((await send(signRequest(newServiceSecret(), 'POST', '/call', body))).status, 403);
      assert.equal((await direct.listSessions()).filter((s) => s.mountPoint === 'intruder').length, 0, 'a refused newSession registered nothing');
      await refusesBadCredentials(secret, 'POST', '/call', body, send);
      assert.equal((await direct.listSessions()).filter((s) => s.mountPoint === 'intruder').length, 1, 'only the accepted call registered a session');
    } finally {
      await direct.close();
    }

    // The CLI as a client: without the secret one line naming the refusal and what to give; with it, it works.
    oneLineError(ferry(vol.dir, ['ls', ms.address, '/']), 1, /metadata service ferry:\/\/127\.0\.0\.1:\d+ refused the request \(401\): authentication required.*secret-file=PATH/);
    const wrongFile = join(vol.dir, 'wrong.secret');
    writeFileSync(wrongFile, newServiceSecret(), { mode: 0o600 });
    oneLineError(ferry(vol.dir, ['ls', `${ms.address}?secret-file=${wrongFile}`, '/']), 1, /refused the request \(403\): wrong service credential/);
    oneLineError(ferry(vol.dir, ['ls', `${ms.address}?secret=${secret}`, '/']), undefined, /does not go in the metadata URL/);
    ok(ferry(vol.dir, ['mkdir', `${ms.address}?secret-file=${secretFile}`, '/by-file']));
    ok(ferry(vol.dir, ['mkdir', ms.address, '/by-env'], { FERRY_SERVICE_SECRET_FILE: secretFile }));
    const ls = ok(ferry(vol.dir, ['ls', ms.address, '/'], { FERRY_SERVICE_SECRET: secret }));
    assert.match(ls.stdout, /by-env/);
    assert.match(ls.stdout, /by-file/);
  });

  test('mirror replicator wait endpoint', async () => {
    const mirrorUrl = `sqlite3://${join(vol.dir, 'mirror.db')}`;
    ok(ferry(vol.dir, ['mirror', 'create', vol.url, mirrorUrl]));
    const rep = await ferryServe(['mirror', 'run', mirrorUrl, '--listen', '127.0.0.1:0'], /waits answered at (http:\/\/\S+)/);
    servers.push(rep);
    const mirrorSecret = await secretOf(mirrorUrl);
    const path = '/wait?version=0&timeout=100';
    await refusesBadCredentials(mirrorSecret, 'GET', path, '', (auth) => raw(rep.address, 'GET', path, auth ? { authorization: auth } : {}));
    const status = await raw(rep.address, 'GET', '/status', {});
    assert.equal(status.status, 401, 'the status page needs a credential too');
    const good = await raw(rep.address, 'GET', '/status', { authorization: signRequest(mirrorSecret, 'GET', '/status') });
    assert.equal(good.status, 200, good.text);
    assert.ok(Number.isInteger(JSON.parse(good.text).applied));
  });

  test('cache-group member block server', async () => {
    const member = await ferryServe(
      ['cache', 'serve', vol.url, '--cache-group', 'auth', '--cache-dir', join(vol.dir, 'cache'), '--listen', '127.0.0.1:0'],
      / at (\S+) \(cache /,
    );
    servers.push(member);
    const base = `http://${member.address}`;
    const path = `/block/${encodeURIComponent('fusetest/chunks/0/0/1_0_4096')}`;
    const send = (auth?: string) => raw(base, 'HEAD', path, { 'x-ferry-volume': 'whatever', ...(auth ? { authorization: auth } : {}) });
    // HEAD answers carry no body: the statuses say it (the accepted one reaches the volume check: 409).
    assert.equal((await send()).status, 401);
    assert.equal((await send(signRequest(newServiceSecret(), 'HEAD', path))).status, 403);
    assert.equal((await send(signRequest(secret, 'HEAD', path, '', Date.now() - 10 * 60_000))).status, 401);
    const once = signRequest(secret, 'HEAD', path);
    assert.equal((await send(once)).status, 409, 'a valid credential gets past authentication');
    assert.equal((await send(once)).status, 403, 'a replayed one does not');
    const get = (auth?: string) => raw(base, 'GET', path, { 'x-ferry-volume': 'whatever', ...(auth ? { authorization: auth } : {}) });
    await refusesBadCredentials(secret, 'GET', path, '', get);
  });
});
