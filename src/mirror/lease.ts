// One replicator per mirror. `ferry mirror run` takes a lease in the mirror's own format record (its session
// id there), so a second one, on this host or another, is refused with one line naming the first. The lease
// lives as long as its session heartbeats: a replicator that died without giving it back (kill -9, a lost
// host) is taken over once its heartbeat is older than REPLICATOR_ALIVE_MS, or at once if it ran on this host
// and its process is gone. The record is changed compare-and-set, so two starting at once cannot both win.
import { hostname } from 'node:os';
import { FsError } from '../errors.js';
import type { Meta } from '../meta/interface.js';
import type { SessionInfo } from '../meta/types.js';
import { redactUrl } from './format.js';

/** A replicator whose heartbeat is fresher than this is taken as running. */
export const REPLICATOR_ALIVE_MS = 15_000;

function processGone(s: SessionInfo): boolean {
  if (s.hostname !== hostname()) return false;
  try {
    process.kill(s.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The session of the replicator running for this mirror (the lease holder, or one from before leases), if any. */
export async function runningReplicator(mirror: Meta): Promise<SessionInfo | undefined> {
  const [f, sessions] = await Promise.all([mirror.load(), mirror.listSessions()]);
  const holder = f.mirror?.replicator?.sid;
  const now = Date.now();
  return sessions.find(
    (s) => s.sid !== mirror.sid && (s.sid === holder || typeof s.mirrorWait === 'string') && now - s.heartbeat < REPLICATOR_ALIVE_MS && !processGone(s),
  );
}

function busy(mirror: Meta, s: SessionInfo): FsError {
  return new FsError('EBUSY', {
    message: `mirror ${redactUrl(mirror.url)} is already being replicated by 'ferry mirror run' (pid ${s.pid} on ${s.hostname}, since ${s.startedAt}): stop that one first`,
  });
}

class LeaseChanged extends Error {}

/** Takes the lease for this process's session on the mirror (newSession first); throws EBUSY naming the holder. */
export async function takeLease(mirror: Meta): Promise<void> {
  if (!mirror.sid) throw new Error('takeLease needs a session');
  for (let attempt = 0; ; attempt++) {
    const running = await runningReplicator(mirror);
    if (running) throw busy(mirror, running);
    const seen = (await mirror.load()).mirror?.replicator?.sid;
    try {
      await mirror.updateFormat((old) => {
        if (old.mirror?.replicator?.sid !== seen) throw new LeaseChanged();
        return { mirror: { ...old.mirror, replicator: { sid: mirror.sid, hostname: hostname(), pid: process.pid, since: new Date().toISOString() } } };
      });
      return;
    } catch (e) {
      // Someone else took it between our look and our write: look again (they are running now).
      if (!(e instanceof LeaseChanged) || attempt >= 5) throw e;
    }
  }
}

/** Still ours? A replicator that lost its lease (taken over while it was stuck) must stop. */
export async function checkLease(mirror: Meta): Promise<void> {
  const holder = (await mirror.load()).mirror?.replicator;
  if (holder?.sid === mirror.sid) return;
  throw new FsError('EBUSY', {
    message: holder
      ? `another replicator took mirror ${redactUrl(mirror.url)} over (pid ${holder.pid} on ${holder.hostname}): this one stops`
      : `the replicator lease of mirror ${redactUrl(mirror.url)} is gone (re-snapshotted?): this one stops`,
  });
}

/** Gives the lease back (only if it is still ours). */
export async function releaseLease(mirror: Meta): Promise<void> {
  await mirror.updateFormat((old) => {
    if (old.mirror?.replicator?.sid !== mirror.sid) return {};
    const { replicator: _mine, ...rest } = old.mirror;
    return { mirror: rest };
  });
}
