// Upgrading the doors in place (issue 24 item 3): `ferry gateway|webhdfs|meta-server --upgrade` (SIGUSR2)
// starts the installed ferry on the same listening socket and drains the old process. Real processes started
// from a copy of the built CLI (the "install", whose version each upgrade bumps), real clients in a request
// loop the whole time (the AWS SDK without retries, WebHDFS over fetch, the SDK over ferry://): no request
// fails, every write is there afterwards, the pid changes each time, the daemon files and `ferry status` name
// the new process; a broken install leaves the old one serving with one line saying why.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { daemonFile } from '../src/fuse/daemon.js';
import { Volume } from '../src/sdk/index.js';
import { formatVolume, type TestVolume } from './helpers/mount.js';
import { alive, backgroundPid, foreground, freePort, install, Loop, upgradedPid, type Install } from './helpers/upgrade.js';
import { sleep, until } from './helpers/wait.js';

const UPGRADES = 5;
const AK = 'UPGRADEKEY';
const SK = 'upgrade-secret-0123456789';

describe('upgrading gateway, webhdfs and meta-server in place', () => {
  let vol: TestVolume;
  let inst: Install;
  const pids = new Set<number>();

  before(async () => {
    vol = await formatVolume();
    inst = await install('1.0.0');
    const k = await inst.ferry(['gateway', 'keys', 'add', vol.url, '--uid', '0', '--gid', '0', '--access-key', AK, '--secret-key', SK]);
    assert.equal(k.code, 0, k.stderr);
  });

  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await until(() => [...pids].every((p) => !alive(p)), 'the doors to stop', 30_000, 50).catch(() => [...pids].forEach((p) => alive(p) && process.kill(p, 'SIGKILL')));
    await inst?.cleanup();
    await vol?.cleanup();
  });

  /** Upgrades `target` UPGRADES times (a new version installed each time) while the loop runs; returns the last pid. */
  async function upgradeRepeatedly(kind: string, target: string, first: number, pidFile?: string): Promise<number> {
    let pid = first;
    for (let n = 1; n <= UPGRADES; n++) {
      await inst.setVersion(`1.0.${n}`);
      const r = await inst.ferry([kind, '--upgrade', target === 'PID' ? String(pid) : target]);
      assert.equal(r.code, 0, r.stderr);
      const next = upgradedPid(r.stdout);
      assert.notEqual(next, pid, 'a new process serves');
      assert.match(r.stdout, new RegExp(`upgrade ${n}\\)`));
      pids.add(next);
      if (pidFile) assert.equal(readFileSync(pidFile, 'utf8').trim(), String(next), 'the pid file names the new process');
      await until(() => !alive(pid), `old ${kind} pid ${pid} to drain and exit`, 30_000, 50);
      pid = next;
      await sleep(300); // requests on the new one between upgrades
    }
    return pid;
  }

  async function sessions(): Promise<Array<{ role?: string; mountPoint: string; pid: number; version: string; upgrades?: number }>> {
    const r = await inst.ferry(['status', '--json', vol.url]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { sessions: Array<{ role?: string; mountPoint: string; pid: number; version: string; upgrades?: number }> }).sessions;
  }

  test('gateway -d: S3 PUT/GET through 5 upgrades, no request fails, every object is there', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const log = join(vol.dir, 'gateway.log');
    const d = await inst.ferry(['gateway', '-d', '--log', log, vol.url, addr]);
    assert.equal(d.code, 0, d.stderr);
    const first = backgroundPid(d.stderr);
    pids.add(first);
    const s3 = new S3Client({ endpoint: `http://${addr}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SK }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'upgrades' }));
    // No SDK retries (maxAttempts 1): the drain alone must keep a busy keep-alive client from seeing a reset.
    const loop = new Loop(async (i) => {
      const body = `object ${i}`;
      await s3.send(new PutObjectCommand({ Bucket: 'upgrades', Key: `k/${i}`, Body: body }));
      const got = await (await s3.send(new GetObjectCommand({ Bucket: 'upgrades', Key: `k/${i}` }))).Body!.transformToString();
      assert.equal(got, body);
      // A load balancer's health check on a kept-alive connection: the address never says "shutting down".
      const health = await fetch(`http://${addr}/-/health`);
      assert.equal(health.status, 200, await health.text());
      await health.arrayBuffer().catch(() => undefined);
    });
    try {
      await sleep(300);
      const last = await upgradeRepeatedly('gateway', addr, first, daemonFile('gateway', addr, 'pid'));
      await sleep(300);
      await loop.stop();
      assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.ok + loop.failures.length} requests failed`);
      assert.ok(loop.ok > 10, `only ${loop.ok} requests`);
      let keys = 0;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: 'upgrades', Prefix: 'k/', ContinuationToken: token }));
        keys += page.KeyCount ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      assert.equal(keys, loop.ok, 'every object written is there');
      const mine = (await sessions()).filter((s) => s.role === 'gateway' && s.pid === last);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.version, `1.0.${UPGRADES}`, 'the installed version serves');
      assert.equal(mine[0]!.upgrades, UPGRADES);
      assert.equal((await sessions()).filter((s) => s.role === 'gateway').length, 1, 'the old processes closed their sessions');
      assert.match(readFileSync(log, 'utf8'), /ferry gateway: upgraded: pid \d+ serves now \(upgrade 5\)/);
    } finally {
      await loop.stop();
      s3.destroy();
    }
  });

  test('webhdfs in the foreground: CREATE/OPEN through 5 upgrades by pid, no request fails', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const log = join(vol.dir, 'webhdfs.log');
    const proc = await foreground(inst, ['webhdfs', vol.url, addr, '--anonymous', '--anonymous-uid', '0', '--anonymous-gid', '0'], log);
    pids.add(proc.pid!);
    await until(() => /serving/.test(readFileSync(log, 'utf8')), 'webhdfs to serve', 60_000, 50);
    const base = `http://${addr}/webhdfs/v1/hdfs`;
    await fetch(`${base}?op=MKDIRS`, { method: 'PUT' });
    const loop = new Loop(async (i) => {
      const body = `file ${i}`;
      const step1 = await fetch(`${base}/f${i}?op=CREATE&overwrite=true`, { method: 'PUT', redirect: 'manual' });
      assert.equal(step1.status, 307, await step1.text());
      await step1.arrayBuffer().catch(() => undefined);
      const step2 = await fetch(step1.headers.get('location')!, { method: 'PUT', body });
      assert.equal(step2.status, 201, await step2.text());
      const got = await fetch(`${base}/f${i}?op=OPEN`);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), body);
    });
    try {
      await sleep(300);
      const last = await upgradeRepeatedly('webhdfs', 'PID', proc.pid!);
      await sleep(300);
      await loop.stop();
      assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.ok + loop.failures.length} requests failed`);
      assert.ok(loop.ok > 10, `only ${loop.ok} requests`);
      const ls = (await (await fetch(`${base}?op=LISTSTATUS`)).json()) as { FileStatuses: { FileStatus: unknown[] } };
      assert.equal(ls.FileStatuses.FileStatus.length, loop.ok, 'every file written is there');
      assert.ok(alive(last));
    } finally {
      await loop.stop();
    }
  });

  test('meta-server -d --metrics: a ferry:// client writing and listing through 5 upgrades, no call fails', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const log = join(vol.dir, 'meta.log');
    // --metrics on a port of its own: handed over too (an upgrade would otherwise fail on it, port in use).
    const metrics = `127.0.0.1:${await freePort()}`;
    const d = await inst.ferry(['meta-server', '-d', '--log', log, vol.url, '--listen', addr, '--metrics', metrics]);
    assert.equal(d.code, 0, d.stderr);
    const first = backgroundPid(d.stderr);
    pids.add(first);
    const { openMeta } = await import('../src/meta/index.js');
    const direct = await openMeta(vol.url);
    process.env.FERRY_SERVICE_SECRET = (await direct.load()).services!.secret;
    await direct.close();
    const v = await Volume.open(`ferry://${addr}`);
    await v.mkdir('/meta', { recursive: true });
    const loop = new Loop(async (i) => {
      await v.writeFile(`/meta/f${i}`, `meta ${i}`);
      assert.equal(await v.readFile(`/meta/f${i}`, 'utf8'), `meta ${i}`);
      if (i % 10 === 0) assert.ok((await v.readdir('/meta')).length > 0);
    });
    try {
      await sleep(300);
      const last = await upgradeRepeatedly('meta-server', addr, first, daemonFile('meta-server', addr, 'pid'));
      await sleep(300);
      await loop.stop();
      assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.ok + loop.failures.length} calls failed`);
      assert.ok(loop.ok > 10, `only ${loop.ok} iterations`);
      assert.equal((await v.readdir('/meta')).length, loop.ok, 'every file written is there');
      const mine = (await sessions()).filter((s) => s.role === 'meta-server');
      assert.deepEqual(mine.map((s) => [s.pid, s.version, s.upgrades]), [[last, `1.0.${UPGRADES}`, UPGRADES]]);
      const scrape = await fetch(`http://${metrics}/metrics`);
      assert.equal(scrape.status, 200);
      assert.match(await scrape.text(), /ferry_meta_server_clients/);
    } finally {
      await loop.stop();
      await v.close();
    }
  });

  test('a broken install: the upgrade fails with one line, the old process goes on serving', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const log = join(vol.dir, 'gateway-broken.log');
    const d = await inst.ferry(['gateway', '-d', '--log', log, vol.url, addr]);
    assert.equal(d.code, 0, d.stderr);
    const pid = backgroundPid(d.stderr);
    pids.add(pid);
    const s3 = new S3Client({ endpoint: `http://${addr}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SK }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'upgrades' })).catch(() => undefined); // made by the first test when run
    const loop = new Loop(async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: 'upgrades', Key: `b/${i}`, Body: 'b' }));
    });
    try {
      await inst.breakIt();
      const { run } = await import('./helpers/mount.js');
      // The command itself runs from a good copy: only the server's re-execution meets the broken files.
      const r = await run(process.execPath, [new URL('../src/cli/main.js', import.meta.url).pathname, 'gateway', '--upgrade', addr], { timeoutMs: 120_000 });
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ferry: upgrade of gateway pid ${pid} failed \\(it still serves\\): the new process \\(pid \\d+\\) exited with code 3 before it was ready\\n$`));
      assert.ok(alive(pid), 'the old gateway runs');
      assert.equal(readFileSync(daemonFile('gateway', addr, 'pid'), 'utf8').trim(), String(pid));
      assert.match(readFileSync(log, 'utf8'), new RegExp(`ferry gateway: upgrade failed, still serving \\(pid ${pid}\\)`));
      await sleep(500);
      await inst.repair();
      const ok = await inst.ferry(['gateway', '--upgrade', addr]);
      assert.equal(ok.code, 0, ok.stderr);
      pids.add(upgradedPid(ok.stdout));
      await loop.stop();
      assert.deepEqual(loop.failures, []);
      assert.ok(loop.ok > 0);
    } finally {
      await inst.repair();
      await loop.stop();
      s3.destroy();
    }
  });

  test('--upgrade of nothing running: one line, exit 1', async () => {
    const r = await inst.ferry(['gateway', '--upgrade', '127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ferry: no gateway daemon at 127\.0\.0\.1:1 \(no .*gateway-127\.0\.0\.1-1\.pid\); give the address it was started with, or its pid\n$/);
    const s = await inst.ferry(['webhdfs', '--upgrade', '999999999']);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /^ferry: cannot signal pid 999999999: no such process\n$/);
  });
});
