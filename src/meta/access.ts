// POSIX permission checks for a caller: owner/group/other bits or the POSIX.1e ACL algorithm, root
// bypass, sticky directories.
import { fsErr } from '../errors.js';
import { aclAllows, type Acl } from './acl.js';
import { FLAG_ACL, MODE_X, TYPE_DIRECTORY, TYPE_FILE, type Attr, type Context } from './types.js';

export function inGroup(ctx: Context, gid: number): boolean {
  return ctx.gid === gid || ctx.gids.includes(gid);
}

/**
 * Whether a check of ctx on attr depends on the inode's access ACL: it has one and the caller is neither
 * root nor the owner (the owner's bits and other's are the mode's). Only then is the ACL read.
 */
export function needsAcl(ctx: Context, attr: Attr): boolean {
  return (attr.flags & FLAG_ACL) !== 0 && ctx.checkPermission && ctx.uid !== 0 && ctx.uid !== attr.uid;
}

/**
 * Whether ctx may access attr with mask (MODE_R|MODE_W|MODE_X). `acl` is the inode's access ACL, which
 * the caller reads when needsAcl() says so (BaseMeta's permit does).
 */
export function mayAccess(ctx: Context, attr: Attr, mask: number, acl?: Acl): boolean {
  if (!ctx.checkPermission || mask === 0) return true;
  // Root may execute a file only if someone may.
  if (ctx.uid === 0) return !(mask & MODE_X && attr.type !== TYPE_DIRECTORY && (attr.mode & 0o111) === 0);
  if (acl && needsAcl(ctx, attr)) return aclAllows(acl, attr.mode, attr.gid, { uid: ctx.uid, inGroup: (g) => inGroup(ctx, g) }, mask);
  let bits: number;
  if (ctx.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (inGroup(ctx, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}

/** Throws EACCES unless ctx may access attr with mask (MODE_R|MODE_W|MODE_X); `acl` as for mayAccess. */
export function checkAccess(ctx: Context, attr: Attr, mask: number, acl?: Acl): void {
  if (!mayAccess(ctx, attr, mask, acl)) throw fsErr('EACCES');
}

/** In a sticky directory only the owner of the entry or of the directory (or root) may remove or rename it. */
export function checkSticky(ctx: Context, dir: Attr, target: Attr): void {
  if (!ctx.checkPermission || ctx.uid === 0) return;
  if ((dir.mode & 0o1000) !== 0 && ctx.uid !== dir.uid && ctx.uid !== target.uid) throw fsErr('EPERM');
}

export function isOwnerOrRoot(ctx: Context, attr: Attr): boolean {
  return !ctx.checkPermission || ctx.uid === 0 || ctx.uid === attr.uid;
}

/**
 * Whether a change by ctx drops a file's setgid bit, as Linux's setattr_should_drop_sgid: when it means
 * "execute as the group" (group-execute on), or when the caller is neither in the file's group nor root.
 */
function dropsSetgid(ctx: Context, a: Attr): boolean {
  return (a.mode & 0o2000) !== 0 && ((a.mode & 0o010) !== 0 || (ctx.uid !== 0 && !inGroup(ctx, a.gid)));
}

/**
 * Clears what a write, truncate, fallocate or copy into a regular file by ctx clears, as Linux's
 * file_remove_privs: setuid, and setgid as dropsSetgid says, unless the caller has CAP_FSETID (root:
 * internal jobs run as root too; the identity counts here, not checkPermission, which FUSE's ftruncate
 * turns off). Returns whether the mode changed. Linux does it whoever owns the file.
 */
export function clearSetIdOnWrite(ctx: Context, a: Attr): boolean {
  if (a.type !== TYPE_FILE || ctx.uid === 0 || (a.mode & 0o6000) === 0) return false;
  const before = a.mode;
  a.mode &= ~0o4000;
  if (dropsSetgid(ctx, a)) a.mode &= ~0o2000;
  return a.mode !== before;
}

/** What a chown/chgrp of a non-directory clears, even by root (Linux's chown_common): setuid, and setgid as dropsSetgid says. */
export function clearSetIdOnChown(ctx: Context, a: Attr): void {
  if (a.type === TYPE_DIRECTORY) return;
  const sgid = dropsSetgid(ctx, a);
  a.mode &= ~0o4000;
  if (sgid) a.mode &= ~0o2000;
}
