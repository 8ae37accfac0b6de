// setSessionInfo in the meta conformance suite: a client's session record takes extra fields (its last
// background error) on every engine, keeping the rest, and a session cleaned away is not brought back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openMeta } from '../../src/meta/index.js';
import type { Meta } from '../../src/meta/interface.js';

export function sessionInfoConformance(fresh: () => Promise<Meta>): void {
  describe('session info', () => {
    let m: Meta;
    before(async () => (m = await fresh()));
    after(() => m?.close());

    it('setSessionInfo merges fields into the client\'s own session record', async () => {
      const other = await openMeta(m.url);
      try {
        await other.newSession({ mountPoint: '/other' });
        const before = (await m.listSessions()).find((s) => s.sid === other.sid)!;
        const lastError = { job: 'gc', message: 'object store unreachable', at: Date.now() };
        await other.setSessionInfo({ lastError });
        const sessions = await m.listSessions();
        const rec = sessions.find((s) => s.sid === other.sid)!;
        assert.deepEqual(rec.lastError, lastError);
        assert.equal(rec.mountPoint, '/other');
        assert.equal(rec.pid, before.pid);
        assert.ok(rec.heartbeat >= before.heartbeat);
        assert.equal(sessions.find((s) => s.sid === m.sid)?.lastError, undefined, 'other sessions untouched');
        await other.setSessionInfo({ lastError: { ...lastError, clearedAt: lastError.at + 1 } });
        assert.equal((await m.listSessions()).find((s) => s.sid === other.sid)?.lastError?.clearedAt, lastError.at + 1);

        // Cleaned as stale by another client: a late record does not bring the session back.
        await m.heartbeat();
        assert.deepEqual(await m.cleanStaleSessions(-60_000), [other.sid]);
        await other.setSessionInfo({ lastError });
        assert.ok(!(await m.listSessions()).some((s) => s.sid === other.sid));
      } finally {
        await other.close();
      }
    });
  });
}
