// Finding and tearing down FUSE mounts without ever touching them with a file-system call (a hung mount
// would hang the caller): /proc/self/mountinfo says what is mounted (src/sys/mountinfo.ts), fusermount3 unmounts, and
// /sys/fs/fuse/connections/N/abort ends a connection whose daemon is gone or stuck.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isFuse, mountAt } from '../sys/mountinfo.js';

export { isFuse, mountAt, mounts, type MountInfo } from '../sys/mountinfo.js';

function run(cmd: string, args: string[], timeoutMs = 15000): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, _out, stderr) => res({ ok: !err, stderr: String(stderr ?? '').trim() || (err ? err.message : '') }));
  });
}

/** Writes to the connection's abort file: every pending and future request fails with ENOTCONN. */
export async function abortConnection(minor: number): Promise<boolean> {
  const f = `/sys/fs/fuse/connections/${minor}/abort`;
  if (!existsSync(f)) return false;
  await writeFile(f, '1').catch(() => undefined);
  return true;
}

export type UnmountResult = 'not-mounted' | 'unmounted' | 'lazy' | 'aborted';

/**
 * Unmounts a FUSE mount: `fusermount3 -u`; with force (or a dead daemon) then `-uz` (lazy) and an abort
 * of the connection. Throws with fusermount3's message when a plain unmount fails (e.g. busy) without force.
 */
export async function unmountFuse(path: string, opts: { force?: boolean } = {}): Promise<UnmountResult> {
  const mp = resolve(path);
  const m = await mountAt(mp);
  if (!m) return 'not-mounted';
  if (!isFuse(m)) throw new Error(`${mp} is a ${m.fstype} mount, not FUSE`);
  const plain = await run('fusermount3', ['-u', mp]);
  if (plain.ok || !(await mountAt(mp))) return 'unmounted';
  if (!opts.force) throw new Error(`cannot unmount ${mp}: ${plain.stderr.replace(/^fusermount3: /, '')} (close the files open there, or use --force)`);
  await run('fusermount3', ['-uz', mp]);
  const still = await mountAt(mp);
  // After a lazy unmount the connection may live on (open files, a stuck daemon): abort it.
  const aborted = await abortConnection(m.minor);
  if (still) {
    await run('umount', ['-l', mp]);
    if (await mountAt(mp)) throw new Error(`cannot unmount ${mp}: ${plain.stderr}`);
  }
  return aborted ? 'aborted' : 'lazy';
}

/** `fusermount3 -uz`: detaches now; the connection ends when the last file open there is closed. */
export async function lazyUnmount(path: string): Promise<boolean> {
  const mp = resolve(path);
  await run('fusermount3', ['-uz', mp]);
  return !(await mountAt(mp));
}
