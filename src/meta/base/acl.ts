// POSIX ACLs over the Tx primitives, for BaseMeta: an inode's ACLs are xattrs (system.posix_acl_access,
// system.posix_acl_default) in the Linux binary format, so engines store nothing new and the changelog,
// snapshots and mirrors carry them as any xattr. Flags on the inode (FLAG_ACL, FLAG_DEFAULT_ACL) say
// whether there is one, so inodes without an ACL, and volumes formatted without --acl, never read one.
import { FsError, fsErr } from '../../errors.js';
import { inGroup, isOwnerOrRoot } from '../access.js';
import {
  ACL_ACCESS,
  ACL_DEFAULT,
  aclWithMode,
  decodeAcl,
  encodeAcl,
  inheritAcl,
  isMinimalAcl,
  modeOfAcl,
  type Acl,
} from '../acl.js';
import type { Tx } from '../tx.js';
import { FLAG_ACL, FLAG_DEFAULT_ACL, FLAG_XATTRS, TYPE_DIRECTORY, TYPE_SYMLINK, type Attr, type Context, type FileType } from '../types.js';

export function aclsOff(volume: string): FsError {
  return new FsError('ENOTSUP', { message: `POSIX ACLs are off on volume '${volume}' (turn them on with 'ferry config --acl')` });
}

/** The stored ACL of one kind, undefined when there is none. */
export async function readAcl(tx: Tx, ino: number, name: string): Promise<Acl | undefined> {
  const v = await tx.getXattr(ino, name);
  return v === undefined ? undefined : decodeAcl(v);
}

/** getxattr of an ACL name: the access ACL shows the owner, mask and other of the current mode. */
export async function getAclXattr(tx: Tx, ino: number, a: Attr, name: string): Promise<Buffer> {
  const flag = name === ACL_ACCESS ? FLAG_ACL : FLAG_DEFAULT_ACL;
  const acl = a.flags & flag ? await readAcl(tx, ino, name) : undefined;
  if (!acl) throw fsErr('ENODATA');
  return encodeAcl(name === ACL_ACCESS ? aclWithMode(acl, a.mode) : acl);
}

/**
 * setxattr (acl) or removexattr (undefined) of an ACL name, as Linux's set_posix_acl: only the owner or root;
 * default ACLs only on directories; an access ACL sets the mode (a minimal one is the mode alone) and drops
 * setgid when the caller is not in the owning group. Returns the inode's new attributes (ctime is the caller's).
 */
export async function setAclIn(tx: Tx, ctx: Context, ino: number, a: Attr, name: string, acl: Acl | undefined): Promise<Attr> {
  if (a.type === TYPE_SYMLINK) throw fsErr('ENOTSUP');
  if (!isOwnerOrRoot(ctx, a)) throw fsErr('EPERM');
  const b = { ...a };
  if (name === ACL_DEFAULT) {
    if (a.type !== TYPE_DIRECTORY) {
      if (acl) throw fsErr('EACCES');
      return b;
    }
    if (acl) {
      await tx.setXattr(ino, name, encodeAcl(acl));
      b.flags |= FLAG_DEFAULT_ACL | FLAG_XATTRS;
    } else {
      if (a.flags & FLAG_DEFAULT_ACL) await tx.delXattr(ino, name);
      b.flags &= ~FLAG_DEFAULT_ACL;
    }
    return b;
  }
  if (acl) {
    b.mode = modeOfAcl(acl, a.mode);
    if (ctx.checkPermission && ctx.uid !== 0 && !inGroup(ctx, a.gid)) b.mode &= ~0o2000;
  }
  if (acl && !isMinimalAcl(acl)) {
    await tx.setXattr(ino, name, encodeAcl(acl));
    b.flags |= FLAG_ACL | FLAG_XATTRS;
  } else {
    // Removing the access ACL keeps the mode (its group bits are the old mask), as on Linux.
    if (a.flags & FLAG_ACL) await tx.delXattr(ino, name);
    b.flags &= ~FLAG_ACL;
  }
  return b;
}

/**
 * A new inode in a directory with a default ACL: the mode and ACLs it inherits (posix_acl_create; the umask
 * does not apply). Undefined when the directory has none (then the umask does).
 */
export async function inheritedAcl(
  tx: Tx,
  parent: number,
  pa: Attr,
  type: FileType,
  mode: number,
): Promise<{ mode: number; access?: Acl; dflt?: Acl } | undefined> {
  if (type === TYPE_SYMLINK || !(pa.flags & FLAG_DEFAULT_ACL)) return undefined;
  const dflt = await readAcl(tx, parent, ACL_DEFAULT);
  return dflt ? inheritAcl(dflt, mode, type === TYPE_DIRECTORY) : undefined;
}

/** Stores what a new inode inherited (after its attributes) and marks it. */
export async function storeInherited(tx: Tx, ino: number, attr: Attr, got: { access?: Acl; dflt?: Acl }): Promise<void> {
  if (got.access) {
    await tx.setXattr(ino, ACL_ACCESS, encodeAcl(got.access));
    attr.flags |= FLAG_ACL | FLAG_XATTRS;
  }
  if (got.dflt) {
    await tx.setXattr(ino, ACL_DEFAULT, encodeAcl(got.dflt));
    attr.flags |= FLAG_DEFAULT_ACL | FLAG_XATTRS;
  }
}
