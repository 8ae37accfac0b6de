// The file commands handle two kinds of paths: local ones (ferry put's sources, ferry get's target) and
// paths in the volume, and one name can exist in both places, so an error naming a path says which it is.

interface PathError {
  name?: string;
  message: string;
  path?: unknown;
  syscall?: unknown;
  errno?: unknown;
}

const tagged = new WeakSet<object>();

function tag(e: PathError, where: string): void {
  if (tagged.has(e)) return;
  tagged.add(e);
  e.message += ` (${where})`;
}

/**
 * Adds where the path of an error is: an FsError (the SDK's errors) names a path in the volume, a node:fs
 * error names a local one. Errors without a path are left as they are.
 */
export function placeError(e: unknown): unknown {
  if (!e || typeof e !== 'object' || typeof (e as PathError).message !== 'string') return e;
  const err = e as PathError;
  if (typeof err.path !== 'string') return e;
  if (err.name === 'FsError') tag(err, 'in the volume');
  else if (typeof err.syscall === 'string' && typeof err.errno === 'number') tag(err, 'local');
  return e;
}

/** fs.stat of a local path, its error saying it is local. */
export async function localStat(path: string): Promise<import('node:fs').Stats> {
  const { stat } = await import('node:fs/promises');
  try {
    return await stat(path);
  } catch (e) {
    throw placeError(e);
  }
}
