// POSIX permission checks for a caller: owner/group/other bits or the POSIX.1e ACL algorithm, root
// bypass, sticky directories.
import { fsErr } from '../errors.js';
import { aclAllows, type Acl } from './acl.js';
import { FLAG_ACL, MODE_X, TYPE_DIRECTORY, type Attr, type Context } from './types.js';

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
 * Throws EACCES unless ctx may access attr with mask (MODE_R|MODE_W|MODE_X). `acl` is the inode's access
 * ACL, which the caller reads when needsAcl() says so (BaseMeta's permit does).
 */
export function checkAccess(ctx: Context, attr: Attr, mask: number, acl?: Acl): void {
  if (!ctx.checkPermission || mask === 0) return;
  if (ctx.uid === 0) {
    // Root may execute a file only if someone may.
    if (mask & MODE_X && attr.type !== TYPE_DIRECTORY && (attr.mode & 0o111) === 0) throw fsErr('EACCES');
    return;
  }
  if (acl && needsAcl(ctx, attr)) {
    if (!aclAllows(acl, attr.mode, attr.gid, { uid: ctx.uid, inGroup: (g) => inGroup(ctx, g) }, mask)) throw fsErr('EACCES');
    return;
  }
  let bits: number;
  if (ctx.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (inGroup(ctx, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  if ((bits & mask) !== mask) throw fsErr('EACCES');
}

/** In a sticky directory only the owner of the entry or of the directory (or root) may remove or rename it. */
export function checkSticky(ctx: Context, dir: Attr, target: Attr): void {
  if (!ctx.checkPermission || ctx.uid === 0) return;
  if ((dir.mode & 0o1000) !== 0 && ctx.uid !== dir.uid && ctx.uid !== target.uid) throw fsErr('EPERM');
}

export function isOwnerOrRoot(ctx: Context, attr: Attr): boolean {
  return !ctx.checkPermission || ctx.uid === 0 || ctx.uid === attr.uid;
}
