// Mount table reads and mount(8)/umount(8)/fusermount3 calls of the node service. The mount table comes
// from /proc/self/mountinfo, never from a file-system call on the path: a dead FUSE mount answers ENOTCONN
// and a stuck one would hang the caller.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  /** The mounted file system's own directory at the mount point (a bind mount of a subdirectory shows it). */
  root: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export async function mountTable(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    out.push({ mountpoint: unescape(f[4]!), root: unescape(f[3]!), fstype: post.split(' ')[0]! });
  }
  return out;
}

/** The topmost mount at exactly this path. */
export async function mountAt(path: string): Promise<MountEntry | undefined> {
  const p = resolve(path);
  return (await mountTable()).filter((m) => m.mountpoint === p).pop();
}

export const isFuse = (m: MountEntry | undefined) => m !== undefined && (m.fstype === 'fuse' || m.fstype.startsWith('fuse.'));

export function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, _out, stderr) => res({ ok: !err, stderr: String(stderr ?? '').trim() || (err ? err.message : '') }));
  });
}

/**
 * Binds src at dst. Read-only in the same mount(8) call (-o bind,ro: the bind and its read-only remount back
 * to back), so a pod never finds a read-only target writable in between.
 */
export async function bindMount(src: string, dst: string, readOnly: boolean): Promise<void> {
  const r = await run('mount', ['-o', readOnly ? 'bind,ro' : 'bind', src, dst]);
  if (!r.ok) throw new Error(`mount -o bind${readOnly ? ',ro' : ''} ${src} ${dst}: ${r.stderr}`);
  if (readOnly && !(await mountAt(dst))) throw new Error(`mount -o bind,ro ${src} ${dst}: not mounted`);
}

/** Unmounts every mount stacked at path: plainly, else lazily (a busy or dead mount is detached). */
export async function unmountAll(path: string): Promise<void> {
  for (let i = 0; i < 16 && (await mountAt(path)); i++) {
    const r = await run('umount', [path]);
    if (!r.ok) await run('umount', ['-l', path]);
  }
  if (await mountAt(path)) throw new Error(`could not unmount ${path}`);
}
