// Opening a volume through the SDK for the file commands (ls, cat, put, get, mkdir, rm, mv, stat).
import type { Volume, VolumeOptions } from '../sdk/index.js';
import { placeError } from './local.js';
import { requireVolume } from './meta.js';

/**
 * Runs fn with the volume open as a client session named after the command; always closes it.
 *
 * Ctrl-C or a kill ends the client session cleanly (so `ferry destroy` is not blocked by a dead session) and
 * exits 130 (143 for SIGTERM). With `unwind`, fn is told through the signal and given time to undo its
 * half-done work first (ferry put deletes the file it was writing); a second Ctrl-C does not wait.
 */
export async function withVolume<T>(
  metaUrl: string,
  command: string,
  fn: (vol: Volume, signal: AbortSignal) => Promise<T>,
  opts: { unwind?: boolean; volume?: VolumeOptions } = {},
): Promise<T> {
  const { Volume } = await import('../sdk/index.js');
  await requireVolume(metaUrl);
  const vol = await Volume.open(metaUrl, { ...opts.volume, mountPoint: `ferry ${command}` });
  const abort = new AbortController();
  let exitCode: number | undefined;
  let closing = false;
  const closeAndExit = (code: number) => {
    if (closing) return;
    closing = true;
    vol.close().then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (exitCode !== undefined) process.exit(exitCode);
    exitCode = sig === 'SIGINT' ? 130 : 143;
    // Whatever happens, a signal ends the process soon (an undo that hangs on a dead store included).
    setTimeout(() => process.exit(exitCode), opts.unwind ? 30_000 : 3000).unref();
    if (opts.unwind) abort.abort(new Error(`interrupted by ${sig}`));
    else closeAndExit(exitCode);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let ok = false;
  try {
    const r = await fn(vol, abort.signal);
    ok = true;
    return r;
  } catch (e) {
    throw placeError(e);
  } finally {
    // After a signal, fn's error is only the interruption it was asked to stop for: close, exit 130/143.
    if (exitCode !== undefined) await new Promise<never>(() => closeAndExit(exitCode!));
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // On success a close error matters (unflushed data); after a failure the first error is the one to show.
      if (ok) await vol.close();
      else await vol.close().catch(() => undefined);
    }
  }
}

/** stat() that returns undefined for a missing path. */
export async function statOrNone(vol: Volume, path: string) {
  try {
    return await vol.stat(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function joinVolumePath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export const TYPE_OF_STATS = (s: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}): string =>
  s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFIFO() ? 'fifo' : s.isBlockDevice() ? 'block' : s.isCharacterDevice() ? 'char' : 'socket';
