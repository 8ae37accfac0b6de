// The gateway's temp files (objects being received, copied or assembled) in its hidden tmp directory: named
// after the session of the gateway writing them, so a gateway starting can tell the leftovers of a crashed
// one from uploads still running in another gateway of the same volume, and remove them.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isFsError } from '../errors.js';
import { pidAlive } from '../object/file-temp.js';
import type { SessionInfo } from '../meta/types.js';
import type { Volume } from '../sdk/volume.js';
import { SESSION_TIMEOUT_MS } from '../vfs/jobs.js';
import { TMP_DIR } from './paths.js';

/** Names of earlier versions carry no session: removed once untouched this long. */
const UNOWNED_SAFETY_MS = 60 * 60 * 1000;
const NAME = /^\.tmp-(?:(\d+)-)?[0-9a-f]{16}$/;

/** Created 0600 (only the gateway reads a half-received object); given its final mode when installed. */
export const TEMP_MODE = 0o600;

export function tempPath(vol: Volume, dir = TMP_DIR): string {
  return `${dir}/.tmp-${vol.meta.sid}-${randomBytes(8).toString('hex')}`;
}

/** A session that ended, went stale, or whose process on this host is gone. */
function sessionDead(s: SessionInfo | undefined, now: number): boolean {
  if (!s) return true;
  if (now - s.heartbeat > SESSION_TIMEOUT_MS) return true;
  return s.hostname === hostname() && s.pid !== process.pid && !pidAlive(s.pid);
}

/** Removes temp files whose gateway is gone (run at start, as root). Returns the names removed. */
export async function removeDeadTemps(root: Volume): Promise<string[]> {
  const now = Date.now();
  const sessions = new Map((await root.meta.listSessions()).map((s) => [s.sid, s]));
  const dir = await root.stat(TMP_DIR);
  const removed: string[] = [];
  for await (const e of root.entries(dir.ino, true)) {
    const m = NAME.exec(e.name);
    if (!m) continue;
    const dead = m[1] !== undefined ? sessionDead(sessions.get(Number(m[1])), now) : now - e.attr.mtime * 1000 > UNOWNED_SAFETY_MS;
    if (!dead) continue;
    try {
      await root.unlink(`${TMP_DIR}/${e.name}`);
      removed.push(e.name);
    } catch (err) {
      if (!isFsError(err, 'ENOENT')) throw err; // installed or removed meanwhile
    }
  }
  return removed;
}
