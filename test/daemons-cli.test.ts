// The serving commands as a user runs them (issue 18 items 6 and 7): gateway, cache serve, mirror run and
// meta-server with -d/--log return once they serve (exit 0, one line with pid and log), a busy port is one
// line and exit 1 (with -d too, leaving no log file), and a second `ferry mirror run` for one mirror is refused
// with one line naming the running one.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { daemonFile } from '../src/fuse/daemon.js';
import { redactUrl } from '../src/mirror/format.js';
import { CLI, formatVolume, run, type TestVolume } from './helpers/mount.js';
import { alive, sleep, until } from './helpers/wait.js';

const ferry = (args: string[], timeoutMs = 60_000) => run(process.execPath, [CLI, ...args], { timeoutMs });


/** The pid in `ferry: ... in the background (pid N, log FILE)`, the one line -d prints. */
function backgroundPid(r: { code: number; stderr: string }, log: string): number {
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  const m = /^ferry: .* in the background \(pid (\d+), log (.*)\)$/.exec(lines[0]!);
  assert.ok(m, r.stderr);
  assert.equal(m[2], log);
  return Number(m[1]);
}

describe('daemons: -d/--log, busy ports, one replicator per mirror', () => {
  let vol: TestVolume;
  let mirrorUrl: string;
  const pids: number[] = [];
  let busy: Server;
  let busyAddr: string;

  const stop = async (pid: number, signal: NodeJS.Signals = 'SIGTERM') => {
    if (alive(pid)) process.kill(pid, signal);
    await until(() => !alive(pid), `pid ${pid} to exit`, 30_000, 50);
  };

  before(async () => {
    vol = await formatVolume();
    mirrorUrl = `sqlite3://${join(vol.dir, 'mirror.db')}`;
    const c = await ferry(['mirror', 'create', vol.url, mirrorUrl]);
    assert.equal(c.code, 0, c.stderr);
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    busyAddr = `127.0.0.1:${(busy.address() as { port: number }).port}`;
  });

  after(async () => {
    for (const pid of pids) await stop(pid).catch(() => process.kill(pid, 'SIGKILL'));
    await new Promise((r) => busy?.close(r));
    await vol?.cleanup();
  });

  test('gateway, cache serve, mirror run and meta-server -d return once serving, logging to --log', async () => {
    const log = (name: string) => join(vol.dir, `${name}.log`);
    const gw = await ferry(['gateway', '-d', '--log', log('gateway'), '--anonymous', vol.url, '127.0.0.1:0']);
    const gwPid = backgroundPid(gw, log('gateway'));
    pids.push(gwPid);
    const gwUrl = /serving at (http:\/\/\S+) in the background/.exec(gw.stderr)?.[1];
    assert.ok(gwUrl, gw.stderr);
    assert.equal((await fetch(`${gwUrl}/-/health`)).status, 200);

    const ms = await ferry(['meta-server', '-d', '--log', log('meta'), vol.url, '--listen', '127.0.0.1:0']);
    const msPid = backgroundPid(ms, log('meta'));
    pids.push(msPid);
    const metaUrl = /serving at (ferry:\/\/\S+) in the background/.exec(ms.stderr)?.[1];
    assert.ok(metaUrl, ms.stderr);
    // Clients of the meta-server sign their calls with the volume's service secret.
    const { openMeta } = await import('../src/meta/index.js');
    const direct = await openMeta(vol.url);
    const secret = (await direct.load()).services!.secret;
    await direct.close();
    const ls = await run(process.execPath, [CLI, 'ls', metaUrl, '/'], { env: { ...process.env, FERRY_SERVICE_SECRET: secret } });
    assert.equal(ls.code, 0, ls.stderr);

    const cs = await ferry(['cache', 'serve', '-d', '--log', log('cache'), vol.url, '--cache-group', 'g', '--cache-dir', join(vol.dir, 'cache'), '--listen', '127.0.0.1:0']);
    const csPid = backgroundPid(cs, log('cache'));
    pids.push(csPid);
    const members = await ferry(['cache', 'members', vol.url]);
    assert.match(members.stdout, /^g\s+127\.0\.0\.1:\d+/m);

    const mr = await ferry(['mirror', 'run', '-d', '--log', log('mirror'), mirrorUrl]);
    const mrPid = backgroundPid(mr, log('mirror'));
    pids.push(mrPid);
    const pidFile = daemonFile('mirror', redactUrl(mirrorUrl), 'pid');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(mrPid));
    assert.match((await ferry(['mirror', 'status', mirrorUrl])).stdout, /replicator at http/);

    // Each log has the daemon's own lines, timestamped; a daemon's pid file goes when it stops.
    assert.match(readFileSync(log('gateway'), 'utf8'), /^ferry gateway: serving sqlite3:.* \(0 access keys, anonymous allowed\)$/m);
    assert.match(readFileSync(log('meta'), 'utf8'), /^\d{4}-\d\d-\d\dT[\d:.]+Z ferry: serving sqlite3:/m);
    assert.match(readFileSync(log('mirror'), 'utf8'), /^\S+Z ferry: replicating mirror/m);
    for (const pid of [gwPid, msPid, csPid, mrPid]) await stop(pid);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed when the daemon stops');
  });

  test('a busy port is one line and exit 1, in the foreground and with -d (no log file left)', async () => {
    const commands = [
      ['meta-server', vol.url, '--listen', busyAddr],
      ['gateway', vol.url, busyAddr],
      ['cache', 'serve', vol.url, '--cache-group', 'g', '--cache-dir', join(vol.dir, 'cache'), '--listen', busyAddr],
      ['mirror', 'run', mirrorUrl, '--listen', busyAddr],
    ];
    for (const args of commands) {
      const r = await ferry(args, 30_000);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr, `ferry: port ${busyAddr} is already in use\n`, args[0]);
      const log = join(vol.dir, `busy-${args[0]}.log`);
      const d = await ferry([...args, '-d', '--log', log], 30_000);
      assert.equal(d.code, 1, `${args[0]} -d: ${d.stderr}`);
      assert.equal(d.stderr, `ferry: port ${busyAddr} is already in use\n`, `${args[0]} -d`);
      assert.equal(existsSync(log), false, `${args[0]} -d leaves no log file after failing to start`);
    }
  });

  test('a second ferry mirror run for one mirror is refused with one line naming the running one', async () => {
    const log = join(vol.dir, 'mirror-1.log');
    const first = backgroundPid(await ferry(['mirror', 'run', '-d', '--log', log, mirrorUrl]), log);
    pids.push(first);
    const before = readFileSync(log, 'utf8');
    for (const extra of [[], ['-d', '--log', log]]) {
      const r = await ferry(['mirror', 'run', ...extra, mirrorUrl], 30_000);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`^ferry: mirror .*mirror\\.db is already being replicated by 'ferry mirror run' \\(pid ${first} on .*\\): stop that one first$`));
    }
    assert.ok(alive(first), 'the running replicator goes on');
    assert.equal(readFileSync(log, 'utf8'), before, 'the refused one wrote nothing into the running one\'s log');
    // A replicator that died without giving its lease back (kill -9) on this host is taken over at once.
    await stop(first, 'SIGKILL');
    await sleep(100);
    const next = backgroundPid(await ferry(['mirror', 'run', '-d', '--log', log, mirrorUrl]), log);
    pids.push(next);
    await stop(next);
  });
});
