// The gateway's temp files (objects being received, copied or assembled, upload parts being copied): named
// after the session of the gateway writing them, so a gateway starting can tell the leftovers of a crashed
// one in its tmp directory from uploads still running in another gateway of the same volume, and remove them.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isFsError } from '../errors.js';
import type { SessionInfo } from '../meta/types.js';
import { pidAlive } from '../object/file-temp.js';
import { SESSION_TIMEOUT_MS } from '../vfs/jobs.js';
import type { VfsView } from '../vfs/view.js';
import { TMP_DIR } from './paths.js';

/** Names of earlier versions carry no session: removed once untouched this long. */
const UNOWNED_SAFETY_MS = 60 * 60 * 1000;
const NAME = /^\.tmp-(?:(\d+)-)?[0-9a-f]{16}$/;

/** Created 0600 (only the gateway reads a half-received object); given its final mode when installed. */
export const TEMP_MODE = 0o600;

/** A name no other request picks, carrying the session of the gateway writing it. */
export function tempName(view: VfsView): string {
  return `.tmp-${view.sessionId}-${randomBytes(8).toString('hex')}`;
}

/** A session that ended, went stale, or whose process on this host is gone. */
function sessionDead(s: SessionInfo | undefined, now: number): boolean {
  if (!s) return true;
  if (now - s.heartbeat > SESSION_TIMEOUT_MS) return true;
  return s.hostname === hostname() && s.pid !== process.pid && !pidAlive(s.pid);
}

/** Whether the gateway that named temp file `name` is gone (a name of an earlier version, without a session, counts as gone). */
export async function tempOwnerGone(view: VfsView, name: string): Promise<boolean> {
  const m = NAME.exec(name);
  if (!m || m[1] === undefined) return true;
  const sid = Number(m[1]);
  if (sid === view.sessionId) return false;
  return sessionDead((await view.sessions()).find((s) => s.sid === sid), Date.now());
}

/** The temp files in TMP_DIR whose gateway is gone, with their lengths (what removeDeadTemps removes; ferry fsck reports them). */
export async function listDeadTemps(root: VfsView): Promise<Array<{ name: string; length: number }>> {
  const now = Date.now();
  const sessions = new Map((await root.sessions()).map((s) => [s.sid, s]));
  let dir: number;
  try {
    dir = (await root.resolve(TMP_DIR)).inode;
  } catch (err) {
    if (isFsError(err, 'ENOENT')) return []; // no gateway ever ran on this volume
    throw err;
  }
  const dead: Array<{ name: string; length: number }> = [];
  for await (const e of root.entries(dir, true)) {
    const m = NAME.exec(e.name);
    if (!m) continue;
    if (m[1] !== undefined ? sessionDead(sessions.get(Number(m[1])), now) : now - e.attr.mtime * 1000 > UNOWNED_SAFETY_MS) dead.push({ name: e.name, length: e.attr.length });
  }
  return dead;
}

/** Removes the temp files in TMP_DIR whose gateway is gone (run at start, as root). Returns the names removed. */
export async function removeDeadTemps(root: VfsView): Promise<string[]> {
  // Removed after the listing: unlinking while paging could skip names.
  const dead = await listDeadTemps(root);
  if (!dead.length) return [];
  const dir = (await root.resolve(TMP_DIR)).inode;
  const removed: string[] = [];
  for (const { name } of dead) {
    try {
      await root.scratch().unlink(dir, name);
      removed.push(name);
    } catch (err) {
      if (!isFsError(err, 'ENOENT')) throw err; // installed or removed meanwhile
    }
  }
  return removed;
}
