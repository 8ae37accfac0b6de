// Start-up cost: importing the SDK and using an SQLite volume must not load the drivers of other engines and
// backends (pg, mysql2, ioredis, etcd3, the AWS SDK) nor the native addons of transforms the volume does not use;
// each loads when a URL of its scheme is first opened. A child process does the work; a preloaded module
// lists at exit every script V8 compiled (the inspector's scriptParsed events cover ES modules and CommonJS
// alike) plus require.cache, so the check sees what was really loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempVolume } from './helpers/volume.js';

const SDK = new URL('../src/sdk/index.js', import.meta.url).href;
const META = new URL('../src/meta/index.js', import.meta.url).href;
const OBJECT = new URL('../src/object/index.js', import.meta.url).href;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const DRIVERS = ['pg', 'mysql2', 'ioredis', 'etcd3', '@aws-sdk/client-s3'];
const ADDONS = ['lz4-napi', 'zstd-napi', '@node-rs/crc32'];

/**
 * Preloaded into a child (`node --import`): at exit it writes the npm packages whose code was loaded, as a
 * JSON list, to $FERRY_LOADED_FILE. The in-process inspector session answers synchronously, so this works
 * in an exit handler, whichever way the child exits.
 */
const REPORT = `
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const urls = Object.keys(cache);
  const session = new Session();
  session.connect();
  session.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));
  session.post('Debugger.enable');
  session.disconnect();
  const pkgs = new Set(urls.map((u) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(u)?.[1]).filter(Boolean));
  writeFileSync(process.env.FERRY_LOADED_FILE, JSON.stringify([...pkgs].sort()));
});
`;

/** Runs `node --import REPORT args...` in dir; the packages it loaded. */
async function loadedBy(dir: string, args: string[]): Promise<string[]> {
  const report = join(dir, 'report.mjs');
  const list = join(dir, 'loaded.json');
  await writeFile(report, REPORT);
  await rm(list, { force: true });
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', pathToFileURL(report).href, ...args], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, FERRY_LOADED_FILE: list },
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')} exited ${code}: ${err}`))));
  });
  return JSON.parse(await readFile(list, 'utf8')) as string[];
}

/** Writes a child script into dir and runs it with the report preloaded. */
async function scriptLoads(dir: string, name: string, body: string): Promise<string[]> {
  await writeFile(join(dir, name), body);
  return loadedBy(dir, [join(dir, name)]);
}

const unwanted = (loaded: string[]) => loaded.filter((p) => [...DRIVERS, ...ADDONS].includes(p) || p.startsWith('@aws-sdk/'));

describe('start-up loads only what the volume uses', () => {
  it('the SDK on an SQLite volume loads no other engine or backend driver, and no unused native addon', { timeout: 60_000 }, async () => {
    // No checksum: then no native addon is in use at all (a crc32c volume loads @node-rs/crc32, rightly).
    const t = await tempVolume({ format: { checksum: 'none' } });
    try {
      await t.v.writeFile('/hello.txt', 'hello');
      await t.v.close();
      const loaded = await scriptLoads(
        t.dir,
        'sdk.mjs',
        `const { Volume } = await import(${JSON.stringify(SDK)});
         const v = await Volume.open(${JSON.stringify(t.url)});
         if ((await v.readFile('/hello.txt', 'utf8')) !== 'hello') throw new Error('wrong content');
         await v.readdir('/');
         await v.close();`,
      );
      assert.ok(loaded.includes('better-sqlite3'), `the check sees packages: ${loaded}`);
      assert.deepEqual(unwanted(loaded), []);
    } finally {
      await t.cleanup();
    }
  });

  it('`ferry ls` on SQLite does not load them either', { timeout: 60_000 }, async () => {
    const t = await tempVolume();
    try {
      await t.v.close();
      const loaded = await loadedBy(t.dir, [CLI, 'ls', t.url, '/']);
      assert.ok(loaded.includes('better-sqlite3'), `the check sees packages: ${loaded}`);
      assert.deepEqual(unwanted(loaded), []);
    } finally {
      await t.cleanup();
    }
  });

  it("opening a URL of a scheme loads that engine's or backend's driver (so the checks above can fail)", { timeout: 60_000 }, async () => {
    const t = await tempVolume();
    try {
      await t.v.close();
      // Nothing listens on port 1: each open loads its driver and then fails or idles, which is all we need.
      const loaded = await scriptLoads(
        t.dir,
        'drivers.mjs',
        `const { openMeta } = await import(${JSON.stringify(META)});
         const { openObjectStore } = await import(${JSON.stringify(OBJECT)});
         const settle = (p) => Promise.race([p.then((x) => x?.close?.().catch(() => {}), () => {}), new Promise((r) => setTimeout(r, 3000))]);
         for (const url of ['postgres://u@127.0.0.1:1/x', 'mysql://u@127.0.0.1:1/x', 'redis://127.0.0.1:1/0', 'etcd://127.0.0.1:1/x']) await settle(openMeta(url));
         await settle(openObjectStore('s3://bucket?endpoint=http://127.0.0.1:1'));
         process.exit(0);`,
      );
      for (const p of ['pg', 'mysql2', 'ioredis', 'etcd3', '@aws-sdk/client-s3']) assert.ok(loaded.includes(p), `${p} loaded: ${loaded}`);
    } finally {
      await t.cleanup();
    }
  });
});
