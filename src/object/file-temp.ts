// Temp files of the file:// store: named after their writer, so the next client of the store can tell the
// leftovers of a crashed writer from files still being written, and remove them.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * `.<key base>.tmp.<pid>.<host>.<random>`; names written before the host was recorded lack `<host>.`.
 * The key base is only a hint for humans.
 */
export const TEMP_NAME = /^\..*\.tmp\.\d+\.(?:[0-9a-f]{8}\.)?[0-9a-f]{12}$/s;
const WRITER = /\.tmp\.(\d+)\.(?:([0-9a-f]{8})\.)?[0-9a-f]{12}$/s;

/** Temp files of writers we cannot prove dead are removed once untouched this long. */
export const DEFAULT_TEMP_SAFETY_MS = 60 * 60 * 1000;

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/**
 * Where a pid means the same process as here: this boot of this kernel and this pid namespace (a container
 * sharing the directory and even the host name has pids of its own). Off Linux, the host name alone.
 */
export const HOST_TAG = createHash('sha256')
  .update(hostname())
  .update('\0')
  .update(readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), ''))
  .update('\0')
  .update(readOr(() => readlinkSync('/proc/self/ns/pid'), ''))
  .digest('hex')
  .slice(0, 8);

export function tempName(base: string): string {
  // Capped so long keys still fit NAME_MAX.
  return `.${base.slice(0, 64)}.tmp.${process.pid}.${HOST_TAG}.${randomBytes(6).toString('hex')}`;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * True when the writer of temp file `name` is certainly gone: it ran here (same host tag) and its pid is not
 * alive. A reused pid only makes a dead writer look alive; the safety age covers that and other hosts.
 */
export function writerIsDead(name: string): boolean {
  const m = WRITER.exec(name);
  return m !== null && m[2] === HOST_TAG && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
}

export interface DeadTemp {
  name: string;
  size: number;
}

/** The temp files in `dir` whose writer is dead, or that nobody touched for `safetyMs` (what removeDeadTemps removes). */
export async function listDeadTemps(dir: string, safetyMs = DEFAULT_TEMP_SAFETY_MS): Promise<DeadTemp[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const dead: DeadTemp[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!TEMP_NAME.test(name)) continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st) continue; // renamed into place or removed meanwhile
    if (writerIsDead(name) || now - st.mtimeMs >= safetyMs) dead.push({ name, size: st.size });
  }
  return dead;
}

/**
 * Removes the temp files in `dir` whose writer is dead, or that nobody touched for `safetyMs`. Files that
 * vanish meanwhile (renamed into place, or removed by another client doing the same) are fine.
 * Returns the names removed.
 */
export async function removeDeadTemps(dir: string, safetyMs = DEFAULT_TEMP_SAFETY_MS): Promise<string[]> {
  const removed: string[] = [];
  for (const { name } of await listDeadTemps(dir, safetyMs)) {
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
