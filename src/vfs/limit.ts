// A scoped key's limits (Context.limit), checked by every VFS operation: the one place every door (the S3
// gateway, WebHDFS, the SDK, a FUSE mount) passes through, so no door can forget a rule. POSIX permissions
// still apply on top. ro refuses every change (EACCES); append (a data producer's key) allows new names and
// bytes past a file's end, and refuses what would destroy or replace data: truncate, overwrite, unlink,
// rmdir, rename away or over (EPERM). `buckets` hides every other top-level name of the scope's root.
import { FsError, fsErr } from '../errors.js';
import { RENAME_NOREPLACE, SET_SIZE, type Context } from '../meta/types.js';

/** EACCES once the key expired or was removed (a long-running mount or SDK client: see scope.ts). */
export function limitLive(ctx: Context): void {
  const r = ctx.limit?.revoked;
  if (r !== undefined) throw new FsError('EACCES', { message: r });
}

/** ENOENT for a top-level name outside the key's buckets: it does not exist for this key. */
export function limitLookup(ctx: Context, parent: number, name: string): void {
  const l = ctx.limit;
  limitLive(ctx);
  if (l?.buckets && parent === l.root && name !== '.' && name !== '..' && !l.buckets.has(name)) throw fsErr('ENOENT');
}

/** Filters a listing of the scope's root to the key's buckets. */
export function limitListing<T extends { name: string }>(ctx: Context, dir: number, list: T[]): T[] {
  const l = ctx.limit;
  if (!l?.buckets || dir !== l.root) return list;
  return list.filter((e) => e.name === '.' || e.name === '..' || l.buckets!.has(e.name));
}

/** A new name (mkdir, create, symlink, link, mknod): refused for ro keys and outside the buckets. */
export function limitNewName(ctx: Context, parent: number, name: string): void {
  const l = ctx.limit;
  if (!l) return;
  limitLive(ctx);
  if (l.access === 'ro') throw fsErr('EACCES');
  if (l.buckets && parent === l.root && !l.buckets.has(name)) throw fsErr('EACCES');
}

/** unlink, rmdir: removing a name. */
export function limitRemove(ctx: Context): void {
  limitLive(ctx);
  const a = ctx.limit?.access;
  if (a === 'ro') throw fsErr('EACCES');
  if (a === 'append') throw fsErr('EPERM');
}

/** rename: append keys only publish (a door's finished temp file to a name that does not exist yet). */
export function limitRename(ctx: Context, pd: number, nd: string, flags: number, expectsTarget: boolean): number {
  const l = ctx.limit;
  if (!l) return flags;
  limitNewName(ctx, pd, nd);
  if (l.access === 'append') {
    if (!l.publishing || expectsTarget) throw fsErr('EPERM');
    return flags | RENAME_NOREPLACE;
  }
  return flags;
}

/** setattr: ro changes nothing; append may not shrink a file (size at least its current length). */
export function limitSetattr(ctx: Context, set: number, newLength: number | undefined, length: () => Promise<number>): Promise<void> | void {
  limitLive(ctx);
  const a = ctx.limit?.access;
  if (a === 'ro') throw fsErr('EACCES');
  if (a === 'append' && set & SET_SIZE) {
    return length().then((cur) => {
      if (newLength === undefined || newLength < cur) throw fsErr('EPERM');
    });
  }
}

/** Any other change (xattrs, clone into a new name, fallocate): ro keys make none. */
export function limitChange(ctx: Context): void {
  limitLive(ctx);
  if (ctx.limit?.access === 'ro') throw fsErr('EACCES');
}

/**
 * open of an existing file: ro opens for reading only; append may not truncate and writes only past the
 * length the file had at open (returned: the handle's `appendFrom`).
 */
export function limitOpen(ctx: Context, writing: boolean, truncating: boolean, length: number): number | undefined {
  limitLive(ctx);
  const a = ctx.limit?.access;
  if (!a || a === 'rw') return undefined;
  if (a === 'ro' && (writing || truncating)) throw fsErr('EACCES');
  if (truncating && length > 0) throw fsErr('EPERM');
  return writing ? length : undefined;
}

/** write/copy_file_range into a handle: nothing below the file's length at open (append keys). */
export function limitWrite(appendFrom: number | undefined, off: number, appending: boolean): void {
  if (appendFrom !== undefined && !appending && off < appendFrom) throw fsErr('EPERM');
}
