// The meta conformance suite on etcd (127.0.0.1:2379, .ci/setup.d/23-etcd.sh starts it): every volume gets
// its own key prefix, deleted afterwards. Plus a stress with several clients, the URL forms, and the
// commit's answer to conflicts and to a lost reply.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { openMeta } from '../src/meta/index.js';
import { parseEtcdUrl } from '../src/meta/engines/etcd/engine.js';
import type { Meta } from '../src/meta/interface.js';
import { ROOT_INODE, TYPE_FILE, rootContext, type Versioned } from '../src/meta/types.js';
import { requireServer } from './helpers/servers.js';
import { checkChurn, checkInvariants, churn, expectCode } from './suites/meta-invariants.js';
import { freshMeta, metaConformance } from './suites/meta-suite.js';

const base = await requireServer('etcd');
const ROOT = rootContext();

if (base) {
  const run = `ferrytest-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
  let n = 0;
  const newUrl = async () => `${base.replace(/\/+$/, '')}/${run}/${++n}`;
  after(async () => {
    // Every volume of this run is under `run/`: one range delete.
    const c = new Etcd3({ hosts: `http://${base.replace(/^etcd:\/\//, '').replace(/\/.*$/, '')}` });
    try {
      await c.delete().prefix(`${run}/`);
    } finally {
      c.close();
    }
  });

  metaConformance('etcd', newUrl);

  describe('etcd engine', () => {
    it('three clients churning one directory keep the invariants', async () => {
      const url = await newUrl();
      const a = await freshMeta(url);
      const inodeBase = (await a.statfs(ROOT)).usedInodes - 1;
      const others: Meta[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const m = await openMeta(url);
          await m.newSession({ mountPoint: `/c${i}` });
          others.push(m);
        }
        const d = (await a.mkdir(ROOT, ROOT_INODE, 'hot', 0o777)).inode;
        const clients = [a, ...others];
        const results = await Promise.all(clients.map((m, i) => churn(m, d, `c${i}`, 100)));
        await checkChurn(a, d, results, 100);
        await checkInvariants(a, { inodeBase, probe: results.flatMap((r) => r.inodes) });
        for (const rec of await a.readChangelog(0, 100000)) {
          for (const m of rec.mutations) if (m.t === 'counter') assert.ok(m.value >= 0, `counter ${m.name} = ${m.value} in record ${rec.version}`);
        }
      } finally {
        for (const m of [a, ...others]) await m.close();
      }
    });

    it('versions returned by concurrent writers are the committed ones, dense', async () => {
      const m = await freshMeta(await newUrl());
      try {
        const rs: Versioned[] = await Promise.all(Array.from({ length: 50 }, (_, i) => m.mkdir(ROOT, ROOT_INODE, `d${i}`, 0o755)));
        const vs = rs.map((r) => r.version).sort((a, b) => a - b);
        assert.deepEqual(vs, Array.from({ length: 50 }, (_, i) => i + 1));
        assert.deepEqual((await m.readChangelog(0, 100)).map((r) => r.version), vs);
      } finally {
        await m.close();
      }
    });

    it('a write another client made between read and commit reruns the transaction, never a lost update', async () => {
      const url = await newUrl();
      const a = await freshMeta(url);
      const b = await openMeta(url);
      try {
        await b.newSession({ mountPoint: '/b' });
        const f = (await a.mknod(ROOT, ROOT_INODE, 'f', TYPE_FILE, 0o644)).inode;
        // Both set different fields of one inode at once, many times: each must keep the other's change.
        for (let i = 0; i < 20; i++) {
          await Promise.all([a.setattr(ROOT, f, 1 /* SET_MODE */, { mode: 0o600 + (i % 8) }), b.setattr(ROOT, f, 2 /* SET_UID */, { uid: 100 + i })]);
          const attr = await a.getattr(ROOT, f);
          assert.equal(attr.mode & 0o777, 0o600 + (i % 8));
          assert.equal(attr.uid, 100 + i);
        }
        await expectCode(b.mknod(ROOT, ROOT_INODE, 'f', TYPE_FILE, 0o644), 'EEXIST');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("readdir is one range read (after the directory's attributes)", async () => {
      const m = await freshMeta(await newUrl());
      try {
        const d = (await m.mkdir(ROOT, ROOT_INODE, 'd', 0o755)).inode;
        for (let i = 0; i < 30; i++) await m.mknod(ROOT, d, `f${String(i).padStart(2, '0')}`, TYPE_FILE, 0o644);
        const eng = (m as unknown as { eng: { requests: number } }).eng;
        const before = eng.requests;
        const page = await m.readdir(ROOT, d, {});
        assert.equal(page.filter((e) => e.name.startsWith('f')).length, 30);
        assert.equal(eng.requests - before, 2, 'requests for one readdir');
      } finally {
        await m.close();
      }
    });

    it('URL forms: hosts list, default port and prefix, credentials kept out of the shown URL, bad input in one line', async () => {
      const p = parseEtcdUrl('etcd://u:secret@h1,h2:2380,[::1]:2379/vols/a?server-name=etcd.local');
      assert.deepEqual(p.settings.hosts, ['http://h1:2379', 'http://h2:2380', 'http://[::1]:2379']);
      assert.equal(p.settings.prefix, 'vols/a');
      assert.deepEqual(p.settings.options.auth, { username: 'u', password: 'secret' });
      assert.ok(!p.shown.includes('secret'));
      assert.equal(parseEtcdUrl('etcd://h').settings.prefix, 'ferry');
      assert.equal(parseEtcdUrl('etcd://h/x?timeout=5').settings.timeoutMs, 5000);
      assert.deepEqual(parseEtcdUrl('etcds://h/x').settings.hosts, ['https://h:2379']);
      for (const bad of ['etcd:///x', 'etcd://h/x?timeout=soon', 'etcd://h/x?bogus=1', 'etcd://h/x?cacert=/nonexistent/ca.pem', 'etcd://h/x?cert=/a']) {
        await expectCode(openMeta(bad), 'EINVAL');
        const msg = ((await openMeta(bad).catch((e: Error) => e)) as Error).message;
        assert.ok(!msg.includes('\n'), msg);
      }
    });

    it('an unreachable cluster gives a one-line EIO', { timeout: 60_000 }, async () => {
      const m = await openMeta('etcd://127.0.0.1:1/x?timeout=2');
      try {
        const err = await Promise.race([m.load().catch((e: Error) => e), new Promise((r) => setTimeout(() => r('hung'), 45_000))]);
        assert.notEqual(err, 'hung');
        assert.equal((err as { code?: string }).code, 'EIO');
        assert.match((err as Error).message, /cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
        assert.ok(!(err as Error).message.includes('\n'));
      } finally {
        await m.close();
      }
    });
  });
}
