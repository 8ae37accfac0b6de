// Helpers shared by the admin commands (format, info, status, config, destroy), which talk to the metadata
// engine and the object store directly. Everything heavy is imported here, when a command runs.
import type { Meta } from '../meta/interface.js';
import type { Format } from '../meta/types.js';
import type { ObjectStore } from '../object/interface.js';

/**
 * True when metaUrl names an SQLite database file that does not exist (better-sqlite3 reports a missing
 * directory with a driver message rather than ENOENT, so the CLI checks first and says it plainly).
 */
export async function missingSqlite(metaUrl: string): Promise<string | undefined> {
  if (!/^sqlite3?:\/\//i.test(metaUrl)) return undefined;
  const [{ sqlitePath }, { existsSync }] = await Promise.all([import('../meta/engines/sql/sqlite.js'), import('node:fs')]);
  const path = sqlitePath(metaUrl);
  return existsSync(path) ? undefined : path;
}

/** Throws a clear ENOENT when the volume's SQLite database does not exist. */
export async function requireVolume(metaUrl: string): Promise<void> {
  const path = await missingSqlite(metaUrl);
  if (path === undefined) return;
  const { FsError } = await import('../errors.js');
  throw new FsError('ENOENT', { message: `no volume at ${metaUrl}: database file ${path} does not exist (run 'ferry format' first)` });
}

/** Opens the metadata engine of a URL and loads the volume's format (clear ENOENT when there is none). */
export async function openFormatted(metaUrl: string): Promise<{ meta: Meta; format: Format }> {
  const { openMeta } = await import('../meta/index.js');
  await requireVolume(metaUrl);
  const meta = await openMeta(metaUrl);
  try {
    const format = await meta.load();
    return { meta, format };
  } catch (e) {
    await meta.close().catch(() => undefined);
    throw e;
  }
}

/** Runs fn with the volume's metadata open, closing it afterwards whatever happens. */
export async function withMeta<T>(metaUrl: string, fn: (meta: Meta, format: Format) => Promise<T>): Promise<T> {
  const { meta, format } = await openFormatted(metaUrl);
  try {
    return await fn(meta, format);
  } finally {
    await meta.close().catch(() => undefined);
  }
}

export async function openStore(storage: string): Promise<ObjectStore> {
  const { openObjectStore } = await import('../object/index.js');
  return openObjectStore(storage);
}

/** Checks a plain object store URL (a mirror's own store) is usable: see client/store-check.ts. */
export async function checkStorage(storage: string, volume: string): Promise<void> {
  const [store, { checkObjectStore }] = await Promise.all([openStore(storage), import('../client/store-check.js')]);
  try {
    await checkObjectStore(store, volume);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** A bare directory path becomes an absolute file:// URL, so every client finds the same directory. */
export async function normalizeStorage(raw: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]*:/i.test(raw) || raw === '') return raw;
  const [{ resolve }, { pathToFileURL }] = await Promise.all([import('node:path'), import('node:url')]);
  return pathToFileURL(resolve(raw)).href;
}

/** The default object store of a metadata URL: a `blocks` directory next to an SQLite database. */
export async function defaultStorage(metaUrl: string): Promise<string | undefined> {
  if (!/^sqlite3?:\/\//i.test(metaUrl)) return undefined;
  const [{ sqlitePath }, { dirname, resolve }, { pathToFileURL }] = await Promise.all([
    import('../meta/engines/sql/sqlite.js'),
    import('node:path'),
    import('node:url'),
  ]);
  return pathToFileURL(resolve(dirname(resolve(sqlitePath(metaUrl))), 'blocks')).href;
}

export const VOLUME_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export const TYPE_NAMES: Record<number, string> = { 1: 'file', 2: 'dir', 3: 'symlink', 4: 'fifo', 5: 'block', 6: 'char', 7: 'socket' };
