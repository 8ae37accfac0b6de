// Opening a volume through the SDK for the file commands (ls, cat, put, get, mkdir, rm, mv, stat).
import type { Volume } from '../sdk/index.js';
import { requireVolume } from './meta.js';

/** Runs fn with the volume open as a client session named after the command; always closes it. */
export async function withVolume<T>(metaUrl: string, command: string, fn: (vol: Volume) => Promise<T>): Promise<T> {
  const { Volume } = await import('../sdk/index.js');
  await requireVolume(metaUrl);
  const vol = await Volume.open(metaUrl, { mountPoint: `ferry ${command}` });
  let ok = false;
  // Ctrl-C or a kill ends the client session cleanly (so `ferry destroy` is not blocked by a dead session).
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? 130 : 143;
    setTimeout(() => process.exit(code), 3000).unref();
    vol.close().then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await fn(vol);
    ok = true;
    return r;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // On success a close error matters (unflushed data); after a failure the first error is the one to show.
    if (ok) await vol.close();
    else await vol.close().catch(() => undefined);
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
