// mount(2) and umount2(2) through the small native addon in ./native (`npm run build:sys`); without it, the
// same through mount(8)/umount(8), only slower (an exec is most of a bind mount's time: issue 25's publish).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

interface SysAddon {
  mount(source: string, target: string, fstype: string, flags: number, data?: string): Promise<number>;
  umount2(target: string, flags: number): Promise<number>;
  flags: Record<'MS_RDONLY' | 'MS_REMOUNT' | 'MS_BIND' | 'MS_REC' | 'MNT_DETACH' | 'MNT_FORCE' | 'UMOUNT_NOFOLLOW', number>;
}

export const SYS_ADDON_PATH = new URL('../../../src/sys/native/build/Release/ferry_sys.node', import.meta.url).pathname;

let loaded: SysAddon | null | undefined;
/** The addon, or null when it is not built (or FERRY_MOUNT_EXEC=1 asks for mount(8), as the bench's baseline). */
export function sysAddon(): SysAddon | null {
  if (loaded === undefined) loaded = process.env.FERRY_MOUNT_EXEC !== '1' && existsSync(SYS_ADDON_PATH) ? (createRequire(import.meta.url)(SYS_ADDON_PATH) as SysAddon) : null;
  return loaded;
}

const errnoName = (n: number) => Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

function fail(call: string, n: number): Error {
  return Object.assign(new Error(`${call}: ${errnoName(n)}`), { code: errnoName(n), errno: -n });
}

export function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, _out, stderr) => res({ ok: !err, stderr: String(stderr ?? '').trim() || (err ? err.message : '') }));
  });
}

/**
 * Binds src at dst; read-only by a remount of the new bind right after it (a bind cannot be made read-only
 * in one call), before the caller hands dst to anyone. A failed remount undoes the bind.
 */
export async function bindMount(src: string, dst: string, readOnly: boolean): Promise<void> {
  const a = sysAddon();
  if (!a) {
    const r = await run('mount', ['-o', readOnly ? 'bind,ro' : 'bind', src, dst]);
    if (!r.ok) throw new Error(`mount -o bind${readOnly ? ',ro' : ''} ${src} ${dst}: ${r.stderr}`);
    return;
  }
  const f = a.flags;
  const e = await a.mount(src, dst, '', f.MS_BIND);
  if (e) throw fail(`mount --bind ${src} ${dst}`, e);
  if (!readOnly) return;
  const e2 = await a.mount('none', dst, '', f.MS_BIND | f.MS_REMOUNT | f.MS_RDONLY);
  if (e2) {
    await a.umount2(dst, f.MNT_DETACH);
    throw fail(`mount -o remount,bind,ro ${dst}`, e2);
  }
}

/** Unmounts the topmost mount at path; lazily (detached now, gone when unused) when asked. */
export async function unmount(path: string, lazy = false): Promise<{ ok: boolean; stderr: string }> {
  const a = sysAddon();
  if (!a) return run('umount', [...(lazy ? ['-l'] : []), path]);
  const e = await a.umount2(path, (lazy ? a.flags.MNT_DETACH : 0) | a.flags.UMOUNT_NOFOLLOW);
  return { ok: e === 0, stderr: e ? `umount ${path}: ${errnoName(e)}` : '' };
}
