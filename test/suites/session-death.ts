// Sessions across hosts: a client process that dies without unmounting (SIGKILL) leaves a session whose
// heartbeat stops. Another client's cleanStaleSessions removes it, releases its locks and frees the file it
// had open after unlinking it. Run against every engine.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { F_RDLCK, F_WRLCK, ROOT_INODE, rootContext } from '../../src/meta/types.js';
import { checkInvariants, expectCode } from './meta-invariants.js';
import { freshMeta } from './meta-suite.js';

const WORKER = fileURLToPath(new URL('../fixtures/session-death-worker.js', import.meta.url));
const ROOT = rootContext();

interface Held {
  sid: number;
  lock: number;
  file: number;
  slice: number;
}

/** Starts the worker, waits for its "ready" line, kills it with SIGKILL and waits for it to be gone. */
async function dieHolding(url: string, dirName: string): Promise<Held> {
  const child = spawn(process.execPath, [WORKER, url, dirName], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const held = await new Promise<Held>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready after 60 s: ${err}`)), 60_000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = /^ready (\{.*\})$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]!) as Held);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code}) before ready: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
    return held;
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

export function sessionDeath(name: string, newUrl: () => Promise<string>): void {
  describe(`session death: ${name}`, () => {
    it('a killed client: cleaning its stale session releases its locks and frees its open-but-deleted file', async () => {
      const url = await newUrl();
      const m = await freshMeta(url);
      try {
        const inodeBase = (await m.statfs(ROOT)).usedInodes - 1;
        const d = (await m.mkdir(ROOT, ROOT_INODE, 'd', 0o777)).inode;
        const lock = (await m.mknod(ROOT, d, 'lock', 1 /* TYPE_FILE */, 0o644)).inode;
        const held = await dieHolding(url, 'd');
        assert.equal(held.lock, lock);

        // The dead client's state is still there: session listed, locks held, file alive with nlink 0.
        assert.ok((await m.listSessions()).some((s) => s.sid === held.sid), 'dead session still listed');
        await expectCode(m.flock(ROOT, lock, 'other', F_RDLCK, false), 'EAGAIN');
        await expectCode(m.setlk(ROOT, lock, 'other', false, F_RDLCK, 0, 10, 1), 'EAGAIN');
        assert.equal((await m.getattr(ROOT, held.file)).nlink, 0, 'open-deleted file kept for the dead client');

        const cleaned = await m.cleanStaleSessions(0);
        assert.ok(cleaned.includes(held.sid), `cleaned ${JSON.stringify(cleaned)} includes ${held.sid}`);
        assert.ok(!(await m.listSessions()).some((s) => s.sid === held.sid), 'session gone');
        await m.flock(ROOT, lock, 'other', F_WRLCK, false);
        await m.setlk(ROOT, lock, 'other', false, F_WRLCK, 0, Number.MAX_SAFE_INTEGER, 1);
        await expectCode(m.getattr(ROOT, held.file), 'ENOENT');
        while ((await m.processDeletedFiles(100)) > 0);
        const pending = (await m.pendingDeletedSlices(10_000)).map((s) => s.id);
        assert.ok(pending.includes(held.slice), `slice ${held.slice} queued for deletion`);
        await checkInvariants(m, { inodeBase, probe: [held.file] });
      } finally {
        await m.close();
      }
    });
  });
}
