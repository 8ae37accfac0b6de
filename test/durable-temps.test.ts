// Issue 17 item 6: what a crashed writer leaves half-written is removed by the next client of the store
// (file:// store temp files) or the next gateway start (the gateway's temp files), and never touches a
// stored object; the gateway's temp files are private while written.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { Gateway } from '../src/gateway/index.js';
import { HOST_TAG } from '../src/object/file-temp.js';
import { openObjectStore } from '../src/object/index.js';
import { addKeys, ROOT_KEY } from './helpers/gateway.js';
import { tempVolume } from './helpers/volume.js';
import { Sha256 } from './helpers/sha256.js';

const OBJECT_INDEX = new URL('../src/object/index.js', import.meta.url).href;
const GATEWAY_INDEX = new URL('../src/gateway/index.js', import.meta.url).href;

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-durable-'));
  dirs.push(d);
  return d;
}

/** Every temp file under dir, wherever the store keeps them. */
async function tempsUnder(dir: string): Promise<string[]> {
  const all = (await readdir(dir, { recursive: true }).catch(() => [])) as string[];
  return all.filter((p) => /\.tmp\.\d+\./.test(p));
}

function child(code: string): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) {
    c.kill('SIGKILL');
    await once(c, 'exit');
  }
}

describe('file:// store temp files after a crash', () => {
  it('a writer killed mid-put leaves a temp file; the next client of the store removes it and nothing else', async () => {
    const dir = join(await tempDir(), 'store');
    const url = `file://${dir}`;
    const store = await openObjectStore(url);
    await store.create();
    await store.put('keep/me', Buffer.from('a whole object'));
    await store.close();
    // Large puts in a loop: a temp file exists for most of each put, so the kill lands inside one.
    let left: string[] = [];
    for (let attempt = 0; attempt < 5 && left.length === 0; attempt++) {
      const c = child(`
        const { openObjectStore } = await import(${JSON.stringify(OBJECT_INDEX)});
        const s = await openObjectStore(${JSON.stringify(url)});
        const big = Buffer.alloc(32 << 20, 7);
        for (let i = 0; ; i++) await s.put('big/' + i, big);
      `);
      try {
        const until = Date.now() + 20_000;
        while ((await tempsUnder(dir)).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
      } finally {
        await kill(c);
      }
      left = await tempsUnder(dir);
    }
    assert.ok(left.length > 0, 'the killed writer left a temp file');
    const again = await openObjectStore(url);
    try {
      assert.deepEqual(await tempsUnder(dir), [], 'opening the store removed the dead writer\'s temp file');
      assert.deepEqual(await again.get('keep/me'), Buffer.from('a whole object'));
      for await (const o of again.listAll('big/')) assert.equal(o.size, 32 << 20, `${o.key} is whole`);
    } finally {
      await again.close();
    }
  });

  it('keeps temp files of live or foreign writers until they are older than the safety age', async () => {
    const dir = join(await tempDir(), 'store');
    const url = `file://${dir}`;
    const s = await openObjectStore(url);
    await s.create();
    await s.close();
    const temps = join(dir, '.tmp');
    await mkdir(temps, { recursive: true });
    const mine = `.k.tmp.${process.pid}.${HOST_TAG}.0123456789ab`; // a live writer here
    const foreign = `.k.tmp.1234.${HOST_TAG === 'deadbeef' ? 'feedface' : 'deadbeef'}.0123456789ab`; // another host
    const old = `.k.tmp.1234.abcdefabcdef`; // written by an older version: no host recorded
    for (const n of [mine, foreign, old]) await writeFile(join(temps, n), 'half');
    await (await openObjectStore(url)).close();
    assert.deepEqual((await readdir(temps)).sort(), [foreign, mine, old].sort(), 'nothing is provably dead yet');
    // An age override: files untouched for two hours are past the safety age (one hour), whoever wrote them.
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const n of [foreign, old]) await utimes(join(temps, n), twoHoursAgo, twoHoursAgo);
    await (await openObjectStore(url)).close();
    assert.deepEqual(await readdir(temps), [mine]);
  });

  it('fsyncs the directory of a new key, so a put that returned survives a power loss', async () => {
    // Not observable without pulling the plug: check the put path still works into new directories deep down.
    const dir = join(await tempDir(), 'store');
    const s = await openObjectStore(`file://${dir}`);
    await s.create();
    await s.put('a/b/c/d/e', Buffer.from('deep'));
    assert.deepEqual(await s.get('a/b/c/d/e'), Buffer.from('deep'));
    assert.deepEqual(await tempsUnder(dir), []);
    await s.close();
  });
});


async function presignedPut(base: string, path: string): Promise<string> {
  const u = new URL(base);
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: ROOT_KEY.accessKey, secretAccessKey: ROOT_KEY.secret }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
  const r = await signer.presign({ method: 'PUT', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} }, { expiresIn: 300 });
  const qs = Object.entries(r.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `${base}${path}?${qs}`;
}

describe('gateway temp files after a crash', () => {
  it('a gateway killed mid-upload leaves a private temp file; the next gateway start removes it', async () => {
    const t = await tempVolume();
    let gw: Gateway | undefined;
    let c: ChildProcess | undefined;
    let req: ClientRequest | undefined;
    try {
      await addKeys(t, [ROOT_KEY]);
      await t.v.mkdir('/bkt');
      await t.v.writeFile('/bkt/kept', 'an object');
      c = child(`
        const { Gateway } = await import(${JSON.stringify(GATEWAY_INDEX)});
        const gw = await Gateway.start({ metaUrl: ${JSON.stringify(t.url)}, address: '127.0.0.1:0', errorLog: () => undefined });
        process.stdout.write(gw.url + '\\n');
      `);
      const [line] = (await once(c.stdout!, 'data')) as [Buffer];
      const base = line.toString().trim();
      // Half of the body, then the gateway dies.
      req = request(await presignedPut(base, '/bkt/big'), { method: 'PUT', headers: { 'content-length': 8 << 20 } });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(4 << 20, 1));
      const tmpDir = '/.ferry-gateway/tmp';
      let names: string[] = [];
      for (const until = Date.now() + 20_000; names.length === 0 && Date.now() < until; ) {
        names = (await t.v.readdir(tmpDir)).filter((n) => n.startsWith('.tmp'));
        if (names.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(names.length, 1, 'the upload is being received into a temp file');
      const st = await t.v.stat(`${tmpDir}/${names[0]}`);
      assert.equal(st.mode & 0o077, 0, `a half-received object is private (mode ${(st.mode & 0o777).toString(8)})`);
      await kill(c);
      req.destroy();
      assert.deepEqual((await t.v.readdir(tmpDir)).filter((n) => n.startsWith('.tmp')), names, 'the crash left it behind');
      gw = await Gateway.start({ metaUrl: t.url, address: '127.0.0.1:0', errorLog: () => undefined });
      assert.deepEqual((await t.v.readdir(tmpDir)).filter((n) => n.startsWith('.tmp')), [], 'the next gateway removed it');
      assert.equal(await t.v.readFile('/bkt/kept', 'utf8'), 'an object');
    } finally {
      req?.destroy();
      if (c) await kill(c);
      await gw?.close(2000);
      await t.cleanup();
    }
  });
});
