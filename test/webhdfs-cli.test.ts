// `ferry webhdfs` as users run it: bad command lines are one line and a non-zero exit (bad address, bad or
// missing volume, unreadable users file, no way to tell who asks, a busy port, in the foreground and with
// -d); a good one serves until SIGTERM and exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN, ferry, oneLineError } from './helpers/cli.js';
import { tempVolume, type TempVolume } from './helpers/volume.js';

describe('ferry webhdfs', () => {
  let t: TempVolume;
  let busy: Server;
  let busyAddr: string;
  let users: string;
  before(async () => {
    t = await tempVolume();
    users = join(t.dir, 'users');
    await writeFile(users, 'root:0:0\nalice:1001:1001\n');
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyAddr = `127.0.0.1:${(busy.address() as { port: number }).port}`;
  });
  after(async () => {
    busy?.close();
    await t?.cleanup();
  });

  test('bad command lines: one line each, non-zero exit', () => {
    const auth = ['--allow-simple-auth', '--users', users];
    oneLineError(ferry(t.dir, ['webhdfs', t.url, 'nowhere', ...auth]), 2, /ADDRESS must be HOST:PORT/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:99999', ...auth]), 2, /out of range/);
    oneLineError(ferry(t.dir, ['webhdfs', 'nosuch://x', '127.0.0.1:0', ...auth]), 2, /nosuch/);
    oneLineError(ferry(t.dir, ['webhdfs', `sqlite3://${join(t.dir, 'none.db')}`, '127.0.0.1:0', ...auth]), 1, /no volume at/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0']), 2, /--allow-simple-auth .* or --anonymous/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth']), 2, /needs --users FILE/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth', '--users', join(t.dir, 'missing')]), 1, /cannot read .*missing: ENOENT/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0', '--anonymous', '--subdir', '/not/there']), 1, /--subdir \/not\/there: \/not does not exist/);
    const bad = join(t.dir, 'bad-users');
    writeFileSync(bad, 'root:0:0\nbob:x1002\n');
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth', '--users', bad]), 1, /bad-users:2: uid 'x1002' is not a number/);
    oneLineError(ferry(t.dir, ['webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth', '--users', users, '--proxy-users', 'nobody']), 1, /proxy user 'nobody' is not in the users file/);
  });

  test('a busy port is one line and exit 1, in the foreground and with -d (no log file left)', () => {
    const args = ['webhdfs', t.url, busyAddr, '--anonymous'];
    oneLineError(ferry(t.dir, args), 1, new RegExp(`port ${busyAddr} is already in use`));
    const log = join(t.dir, 'busy.log');
    oneLineError(ferry(t.dir, [...args, '-d', '--log', log]), 1, new RegExp(`port ${busyAddr} is already in use`));
    assert.equal(existsSync(log), false);
  });

  test('serves until SIGTERM, then exits 0', async () => {
    const child = spawn(process.execPath, [MAIN, 'webhdfs', t.url, '127.0.0.1:0', '--allow-simple-auth', '--users', users], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_DEBUG: '' } });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let out = '';
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`did not start: ${out}`)), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /at (http:\/\/\S+\/webhdfs\/v1)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        child.once('exit', () => reject(new Error(`exited: ${out}`)));
      });
      const r = await fetch(`${base}/?op=GETHOMEDIRECTORY&user.name=alice`);
      assert.deepEqual(await r.json(), { Path: '/user/alice' });
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
