// Issue 20 items 1 and 6: the meta-server over TLS with a CA made here with openssl (server certificate
// checked by clients, client certificates with --tls-ca), the mirror wait endpoint over TLS, and a rotation of
// the service secret that a running client survives: the old secret is accepted during the grace period, a
// client whose secret file is updated picks the new one up, and after the grace the old one is refused.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openMeta } from '../src/meta/index.js';
import { signRequest } from '../src/meta/service-auth.js';
import { ferry, oneLineError, ok } from './helpers/cli.js';
import { formatVolume, type TestVolume } from './helpers/mount.js';
import { ferryServe, type Served } from './helpers/serve.js';
import { tool, toolTestOptions } from './helpers/tools.js';
import { until } from './helpers/wait.js';

const CHILD = fileURLToPath(new URL('./helpers/sdk-child.js', import.meta.url));

function openssl(cwd: string, args: string[]): void {
  const r = spawnSync(tool('openssl'), args, { cwd, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCerts(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ferry test CA']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    openssl(dir, ['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=ferry test ${who}`]);
    openssl(dir, ['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', 'san.ext']);
  }
}

async function secretOf(url: string): Promise<string> {
  const m = await openMeta(url);
  try {
    return (await m.load()).services!.secret;
  } finally {
    await m.close();
  }
}

describe('TLS and secret rotation', toolTestOptions('openssl'), () => {
  let vol: TestVolume;
  let secretFile: string;
  const servers: Served[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    vol = await formatVolume();
    makeCerts(vol.dir);
    secretFile = join(vol.dir, 'service.secret');
    ok(ferry(vol.dir, ['config', vol.url, '--service-secret-file', secretFile]));
    assert.equal(readFileSync(secretFile, 'utf8').trim(), await secretOf(vol.url));
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
    await vol?.cleanup();
  });

  test('meta-server over TLS: ferrys:// checked against the CA, mutual TLS with --tls-ca', async () => {
    const d = vol.dir;
    const ms = await ferryServe(
      ['meta-server', vol.url, '--listen', '127.0.0.1:0', '--tls-cert', join(d, 'server.pem'), '--tls-key', join(d, 'server.key')],
      / at (ferrys:\/\/\S+)/,
    );
    servers.push(ms);
    const secure = `${ms.address}?secret-file=${secretFile}&tls-ca=${join(d, 'ca.pem')}`;
    ok(ferry(d, ['mkdir', secure, '/over-tls']));
    assert.match(ok(ferry(d, ['ls', secure, '/'])).stdout, /over-tls/);
    // The CA from the environment, and ?tls=1 on a ferry:// URL, mean the same.
    const viaEnv = ms.address.replace(/^ferrys:/, 'ferry:') + `?tls=1&secret-file=${secretFile}`;
    ok(ferry(d, ['ls', viaEnv, '/'], { FERRY_TLS_CA: join(d, 'ca.pem') }));
    // Without the CA the self-signed chain is refused; plain HTTP to a TLS port gets no answer it can use.
    oneLineError(ferry(d, ['ls', `${ms.address}?secret-file=${secretFile}`, '/']), 1, /unreachable: .*(self[- ]signed|unable to verify|certificate)/i);
    oneLineError(ferry(d, ['ls', `${ms.address.replace(/^ferrys:/, 'ferry:')}?secret-file=${secretFile}`, '/']), 1, /metadata service/);

    const mutual = await ferryServe(
      ['meta-server', vol.url, '--listen', '127.0.0.1:0', '--tls-cert', join(d, 'server.pem'), '--tls-key', join(d, 'server.key'), '--tls-ca', join(d, 'ca.pem')],
      / at (ferrys:\/\/\S+)/,
    );
    servers.push(mutual);
    const base = `${mutual.address}?secret-file=${secretFile}&tls-ca=${join(d, 'ca.pem')}`;
    oneLineError(ferry(d, ['ls', base, '/']), 1, /metadata service/);
    ok(ferry(d, ['ls', `${base}&tls-cert=${join(d, 'client.pem')}&tls-key=${join(d, 'client.key')}`, '/']));
  });

  test('a non-loopback listener without TLS warns unless --insecure', async () => {
    const plain = await ferryServe(['meta-server', vol.url, '--listen', '0.0.0.0:0'], / at (ferry:\/\/\S+)/);
    servers.push(plain);
    assert.match(plain.output(), /warning: the metadata service listens on 0\.0\.0\.0 without TLS/);
    const quiet = await ferryServe(['meta-server', vol.url, '--listen', '0.0.0.0:0', '--insecure'], / at (ferry:\/\/\S+)/);
    servers.push(quiet);
    assert.doesNotMatch(quiet.output(), /warning/);
  });

  test('mirror wait endpoint over TLS', async () => {
    const d = vol.dir;
    const mirrorUrl = `sqlite3://${join(d, 'tls-mirror.db')}`;
    ok(ferry(d, ['mirror', 'create', vol.url, mirrorUrl]));
    const rep = await ferryServe(
      ['mirror', 'run', mirrorUrl, '--listen', '127.0.0.1:0', '--tls-cert', join(d, 'server.pem'), '--tls-key', join(d, 'server.key')],
      /waits answered at (https:\/\/\S+)/,
    );
    servers.push(rep);
    const secret = await secretOf(mirrorUrl);
    const get = (auth?: string) =>
      new Promise<number>((resolve, reject) => {
        const path = '/wait?version=0&timeout=100';
        const req = request(`${rep.address}${path}`, { ca: readFileSync(join(d, 'ca.pem')), headers: auth ? { authorization: auth } : {} }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await get(), 401);
    assert.equal(await get(signRequest(secret, 'GET', '/wait?version=0&timeout=100')), 200);
  });

  test('cache-group member over TLS: signed HTTPS requests, warm-up through it', async () => {
    const d = vol.dir;
    const member = await ferryServe(
      ['cache', 'serve', vol.url, '--cache-group', 'tlsg', '--cache-dir', join(d, 'tls-cache'), '--listen', '127.0.0.1:0', '--tls-cert', join(d, 'server.pem'), '--tls-key', join(d, 'server.key')],
      / at (\S+) \(cache /,
    );
    servers.push(member);
    const secret = await secretOf(vol.url);
    const path = `/block/${encodeURIComponent('fusetest/chunks/0/0/1_0_4096')}`;
    const head = (auth?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`https://${member.address}${path}`, { method: 'HEAD', ca: readFileSync(join(d, 'ca.pem')), headers: { 'x-ferry-volume': 'other', ...(auth ? { authorization: auth } : {}) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await head(), 401);
    assert.equal(await head(signRequest(secret, 'HEAD', path)), 409, 'past authentication, refused as another volume');
    // A client of the group reaches the member over TLS (checked against the CA) with its signed requests.
    writeFileSync(join(d, 'payload'), Buffer.alloc(100_000, 7));
    ok(ferry(d, ['put', vol.url, join(d, 'payload'), '/payload']));
    ok(ferry(d, ['warmup', vol.url, '/payload', '--cache-group', 'tlsg'], { FERRY_TLS_CA: join(d, 'ca.pem') }));
    // Without the CA the member's certificate is refused (warm-up reports the file and its summary).
    const refused = ferry(d, ['warmup', vol.url, '/payload', '--cache-group', 'tlsg']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /unable to verify the first certificate/);
  });

  test('rotation: a running client keeps working through the grace period and with the new secret', async () => {
    const d = vol.dir;
    const ms = await ferryServe(['meta-server', vol.url, '--listen', '127.0.0.1:0'], / at (ferry:\/\/\S+)/);
    servers.push(ms);
    const old = readFileSync(secretFile, 'utf8').trim();
    const child = spawn(process.execPath, [CHILD, `${ms.address}?secret-file=${secretFile}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => String((await lines.next()).value);
    assert.equal(await next(), 'ready');
    const mkdir = async (name: string) => {
      child.stdin!.write(`mkdir /${name}\n`);
      return next();
    };
    assert.equal(await mkdir('before'), 'ok');

    // 1. Rotate with the default grace: the client still signs with the old secret, which is still accepted.
    const rotated = ok(ferry(d, ['config', vol.url, '--rotate-service-secret', '--service-secret-file', join(d, 'new.secret')]));
    assert.match(rotated.stdout, /rotated the service secret .* the old one is accepted until/);
    assert.doesNotMatch(rotated.stdout + rotated.stderr, new RegExp(readFileSync(join(d, 'new.secret'), 'utf8').trim()));
    assert.equal(await mkdir('in-grace'), 'ok');

    // 2. Rotate again with no grace, the new secret written over the client's file: the client is refused once
    //    with its old secret, reads the file again and goes on, without a restart.
    ok(ferry(d, ['config', vol.url, '--rotate-service-secret', '--service-secret-grace', '0', '--service-secret-file', secretFile]));
    assert.equal(await mkdir('after-grace'), 'ok');

    // 3. The old secret is refused from now on (the server re-reads the secrets within a second or two).
    const base = ms.address.replace(/^ferry:/, 'http:');
    const body = JSON.stringify({ method: 'getCounter', args: ['nextInode'] });
    await until(async () => {
      const r = await fetch(`${base}/call`, { method: 'POST', body, headers: { 'x-ferry-client': 'old', authorization: signRequest(old, 'POST', '/call', body) } });
      return r.status === 403;
    }, 'the rotated-out secret to be refused', 30_000, 200);
    const fresh = readFileSync(secretFile, 'utf8').trim();
    const r = await fetch(`${base}/call`, { method: 'POST', body, headers: { 'x-ferry-client': 'new', authorization: signRequest(fresh, 'POST', '/call', body) } });
    assert.equal(r.status, 200, await r.text());
    // The running client holds whatever its file said: it goes on.
    assert.equal(await mkdir('after-refusal'), 'ok');
    child.stdin!.end();
  });
});
