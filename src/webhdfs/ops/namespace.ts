// Operations on names and attributes: MKDIRS, RENAME, DELETE, CREATESYMLINK, SETPERMISSION, SETOWNER,
// SETREPLICATION, SETTIMES. HDFS answers a few failures with {"boolean": false} instead of an exception
// (RENAME and DELETE of what is not there); those are kept.
import { FsError, isFsError } from '../../errors.js';
import { RENAME_NOREPLACE, SET_ATIME, SET_GID, SET_MODE, SET_MTIME, SET_UID } from '../../meta/types.js';
import { Access, isDirectory, TYPE_DIRECTORY } from '../../vfs/view.js';
import { boolParam, intParam, permissionParam, requiredParam, sendEmpty, sendJson, type Call } from '../call.js';
import { badParam, hdfsErr } from '../errors.js';
import { baseName, checkPath, parentPath } from '../paths.js';

export async function mkdirs(c: Call): Promise<void> {
  const mode = permissionParam(c.query, 0o755);
  try {
    await c.view.mkdirs(c.path, mode);
  } catch (e) {
    if (isFsError(e, 'EEXIST')) throw hdfsErr('FileAlreadyExistsException', `Path is not a directory: ${c.path}`);
    throw e;
  }
  sendJson(c.res, { boolean: true });
}

/** Errors HDFS's rename (without options) reports as false: nothing to move, or nowhere to put it. */
const RENAME_FALSE = new Set(['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EINVAL', 'ENOTDIR', 'EISDIR', 'EBUSY']);

export async function rename(c: Call): Promise<void> {
  let dst = checkPath(requiredParam(c.query, 'destination'), 'destination');
  const options = c.query.get('renameoptions');
  if (options !== null && options !== '' && !/^(NONE|OVERWRITE)$/i.test(options)) throw badParam('renameoptions', options, 'expected NONE or OVERWRITE');
  if (options) return rename2(c, dst, /^OVERWRITE$/i.test(options));
  // The old rename: a destination that is a directory receives the source under its own name; a destination
  // that exists otherwise is refused (false), as is a missing source or a missing parent.
  try {
    if (c.path === '/' || dst === c.path) return sendJson(c.res, { boolean: dst === c.path && (await c.view.resolve(c.path, false)) !== undefined });
    try {
      const d = await c.view.resolve(dst, true);
      if (isDirectory(d.attr)) dst = (dst === '/' ? '' : dst) + '/' + baseName(c.path);
    } catch (e) {
      if (!isFsError(e, 'ENOENT')) throw e;
    }
    const s = await c.view.parentOf(c.path);
    const d = await c.view.parentOf(dst);
    await c.view.rename(s.parent, s.name, d.parent, d.name, RENAME_NOREPLACE);
    sendJson(c.res, { boolean: true });
  } catch (e) {
    if (e instanceof FsError && RENAME_FALSE.has(e.code)) return sendJson(c.res, { boolean: false });
    throw e;
  }
}

/** RENAME with renameoptions (FileSystem.rename(src, dst, Options.Rename...)): exceptions, no moving into directories. */
async function rename2(c: Call, dst: string, overwrite: boolean): Promise<void> {
  if (c.path === '/') throw hdfsErr('IOException', 'Cannot rename the root');
  const s = await c.view.parentOf(c.path);
  const src = await c.view.lookup(s.parent, s.name);
  let d;
  try {
    d = await c.view.parentOf(dst);
  } catch (e) {
    if (isFsError(e, 'ENOENT')) throw hdfsErr('FileNotFoundException', `rename destination parent ${parentPath(dst)} not found.`);
    throw e;
  }
  try {
    const existing = await c.view.lookup(d.parent, d.name);
    if (!overwrite) throw hdfsErr('FileAlreadyExistsException', `rename destination ${dst} already exists.`);
    if (isDirectory(existing.attr) !== isDirectory(src.attr)) {
      throw hdfsErr('IOException', `Source ${c.path} and destination ${dst} must both be directories or both files`);
    }
  } catch (e) {
    if (!isFsError(e, 'ENOENT')) throw e;
  }
  try {
    await c.view.rename(s.parent, s.name, d.parent, d.name, overwrite ? 0 : RENAME_NOREPLACE);
  } catch (e) {
    if (isFsError(e, 'ENOTEMPTY')) throw hdfsErr('IOException', `rename destination directory is not empty: ${dst}`);
    if (isFsError(e, 'EEXIST')) throw hdfsErr('FileAlreadyExistsException', `rename destination ${dst} already exists.`);
    throw e;
  }
  sendEmpty(c.res, 200);
}

export async function del(c: Call): Promise<void> {
  const recursive = boolParam(c.query, 'recursive', false);
  // HDFS never deletes its root.
  if (c.path === '/') return sendJson(c.res, { boolean: false });
  let target;
  try {
    target = await c.view.resolve(c.path, false);
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return sendJson(c.res, { boolean: false });
    throw e;
  }
  const { parent, name } = await c.view.parentOf(c.path);
  if (target.attr.type !== TYPE_DIRECTORY) await c.view.unlink(parent, name);
  else {
    if (recursive) await c.view.removeTree(target.inode);
    else if ((await c.view.readdir(target.inode, false, undefined, 1)).length) throw hdfsErr('PathIsNotEmptyDirectoryException', `\`${c.path} is non empty': Directory is not empty`);
    await c.view.rmdir(parent, name);
  }
  sendJson(c.res, { boolean: true });
}

export async function createSymlink(c: Call): Promise<void> {
  const target = requiredParam(c.query, 'destination');
  if (boolParam(c.query, 'createParent', false)) await c.view.mkdirs(parentPath(c.path), 0o777);
  const { parent, name } = await c.view.parentOf(c.path);
  await c.view.symlink(parent, name, target);
  sendEmpty(c.res, 200);
}

export async function setPermission(c: Call): Promise<void> {
  const mode = permissionParam(c.query, 0o755);
  const r = await c.view.resolve(c.path, true);
  // setuid/setgid are not HDFS's: kept as they are.
  await c.view.setattr(r.inode, SET_MODE, { mode: (r.attr.mode & 0o6000) | mode });
  sendEmpty(c.res, 200);
}

export async function setOwner(c: Call): Promise<void> {
  const owner = c.query.get('owner') || undefined;
  const group = c.query.get('group') || undefined;
  if (!owner && !group) throw hdfsErr('IllegalArgumentException', 'Both owner and group are empty.');
  const set = (owner ? SET_UID : 0) | (group ? SET_GID : 0);
  const r = await c.view.resolve(c.path, true);
  await c.view.setattr(r.inode, set, { uid: owner ? c.ids.uidOf(owner) : undefined, gid: group ? c.ids.gidOf(group) : undefined });
  sendEmpty(c.res, 200);
}

/** Accepted, changes nothing: the object store keeps the copies. false for a directory, as HDFS answers. */
export async function setReplication(c: Call): Promise<void> {
  intParam(c.query, 'replication', undefined, 1, 32767);
  const r = await c.view.resolve(c.path, true);
  if (!isDirectory(r.attr)) await c.view.access(r.inode, Access.WRITE);
  sendJson(c.res, { boolean: !isDirectory(r.attr) });
}

export async function setTimes(c: Call): Promise<void> {
  const mtime = intParam(c.query, 'modificationtime', -1, -1)!;
  const atime = intParam(c.query, 'accesstime', -1, -1)!;
  const r = await c.view.resolve(c.path, true);
  let set = 0;
  const attr: { mtime?: number; mtimensec?: number; atime?: number; atimensec?: number } = {};
  if (mtime >= 0) {
    set |= SET_MTIME;
    attr.mtime = Math.floor(mtime / 1000);
    attr.mtimensec = (mtime % 1000) * 1e6;
  }
  if (atime >= 0) {
    set |= SET_ATIME;
    attr.atime = Math.floor(atime / 1000);
    attr.atimensec = (atime % 1000) * 1e6;
  }
  if (set) await c.view.setattr(r.inode, set, attr);
  sendEmpty(c.res, 200);
}
