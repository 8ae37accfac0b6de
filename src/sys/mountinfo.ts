// The mount table, from /proc/self/mountinfo, never from a file-system call on a path: a dead FUSE mount
// answers ENOTCONN and a stuck one would hang the caller. One parse for the FUSE door (teardown) and the
// CSI node service.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export interface MountInfo {
  mountpoint: string;
  fstype: string;
  source: string;
  /** The mounted file system's own directory at the mount point (a bind mount of a subdirectory shows it). */
  root: string;
  /** Device minor: the FUSE connection number under /sys/fs/fuse/connections and the bdi 0:MINOR. */
  minor: number;
  major: number;
  /** Per-mount options (ro/rw, nosuid, ...). */
  options: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, source] = post.split(' ');
    const [major, minor] = (f[2] ?? '').split(':').map(Number);
    out.push({ mountpoint: unescape(f[4]!), root: unescape(f[3]!), fstype: fstype!, source: unescape(source ?? ''), major: major!, minor: minor!, options: f[5] ?? '' });
  }
  return out;
}

export async function mounts(): Promise<MountInfo[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at exactly this path, if any. */
export async function mountAt(path: string): Promise<MountInfo | undefined> {
  const p = resolve(path);
  return (await mounts()).filter((m) => m.mountpoint === p).pop();
}

export const isFuse = (m: MountInfo | undefined): boolean => m !== undefined && (m.fstype === 'fuse' || m.fstype.startsWith('fuse.'));
