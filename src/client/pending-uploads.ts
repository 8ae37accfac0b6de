// Whether a block missing from the object store may still be uploaded: only a write-back client commits a
// slice before its blocks are stored, and it says so in its session record. Readers ask this once per
// missing block; the answer is kept briefly so a burst of misses reads the session list once.
import type { Meta } from '../meta/interface.js';
import { SESSION_TIMEOUT_MS } from '../vfs/jobs.js';

/** How long one look at the session list answers for. */
const ANSWER_TTL_MS = 1000;

export function writebackSessionProbe(meta: Meta, ttlMs = ANSWER_TTL_MS): () => Promise<boolean> {
  let last: { at: number; answer: Promise<boolean> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > ttlMs) {
      const answer = meta.listSessions().then(
        (sessions) => sessions.some((s) => s.writeback === true && now - s.heartbeat <= SESSION_TIMEOUT_MS),
        () => true, // cannot tell: wait, as before
      );
      last = { at: now, answer };
    }
    return last.answer;
  };
}
