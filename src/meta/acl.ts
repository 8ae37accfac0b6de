// POSIX.1e access control lists as Linux passes them in the xattrs system.posix_acl_access/_default:
// the binary format (a version-2 header, then tag/perm/id entries), validation as the kernel's
// posix_acl_valid, the access algorithm, the mode <-> ACL rules, and inheritance of default ACLs.
import { FsError } from '../errors.js';

export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;

const XATTR_VERSION = 2;
const HEADER = 4;
const ENTRY = 8;
/** The id field of entries that name no one. */
const UNDEFINED_ID = 0xffffffff;
/** As the kernel (ACL_MAX_ENTRIES of ext4 is about this); keeps the record well under MAX_XATTR_VALUE. */
export const MAX_ACL_ENTRIES = 1024;

export interface AclEntry {
  tag: number;
  perm: number;
  /** uid or gid for ACL_USER/ACL_GROUP; ignored otherwise. */
  id: number;
}

/** Entries in the kernel's order: by tag, then by id. */
export type Acl = AclEntry[];

export function isAclName(name: string): boolean {
  return name === ACL_ACCESS || name === ACL_DEFAULT;
}

const invalid = (why: string) => new FsError('EINVAL', { message: `invalid ACL: ${why}` });

/** Decodes and validates the xattr value (EINVAL with the reason). */
export function decodeAcl(buf: Buffer): Acl {
  if (buf.length < HEADER || (buf.length - HEADER) % ENTRY !== 0) throw invalid(`${buf.length} bytes is not a header and whole entries`);
  if (buf.readUInt32LE(0) !== XATTR_VERSION) throw invalid(`version ${buf.readUInt32LE(0)}, expected ${XATTR_VERSION}`);
  const n = (buf.length - HEADER) / ENTRY;
  if (n > MAX_ACL_ENTRIES) throw invalid(`${n} entries, at most ${MAX_ACL_ENTRIES}`);
  const acl: Acl = [];
  for (let i = 0; i < n; i++) {
    const at = HEADER + i * ENTRY;
    const tag = buf.readUInt16LE(at);
    const perm = buf.readUInt16LE(at + 2);
    const id = buf.readUInt32LE(at + 4);
    acl.push({ tag, perm, id: tag === ACL_USER || tag === ACL_GROUP ? id : UNDEFINED_ID });
  }
  return checkAcl(acl);
}

export function encodeAcl(acl: Acl): Buffer {
  const buf = Buffer.alloc(HEADER + acl.length * ENTRY);
  buf.writeUInt32LE(XATTR_VERSION, 0);
  acl.forEach((e, i) => {
    const at = HEADER + i * ENTRY;
    buf.writeUInt16LE(e.tag, at);
    buf.writeUInt16LE(e.perm, at + 2);
    buf.writeUInt32LE(e.tag === ACL_USER || e.tag === ACL_GROUP ? e.id : UNDEFINED_ID, at + 4);
  });
  return buf;
}

/** As posix_acl_valid: one owner, owning group and other entry, a mask when anyone is named, no one named twice. */
export function checkAcl(acl: Acl): Acl {
  const sorted = [...acl].sort((a, b) => a.tag - b.tag || a.id - b.id);
  const count = (tag: number) => sorted.filter((e) => e.tag === tag).length;
  for (const e of sorted) {
    if (![ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER].includes(e.tag)) throw invalid(`unknown tag ${e.tag}`);
    if (e.perm & ~7) throw invalid(`permissions ${e.perm} are not rwx bits`);
  }
  for (const [tag, what] of [[ACL_USER_OBJ, 'owner'], [ACL_GROUP_OBJ, 'owning group'], [ACL_OTHER, 'other']] as const) {
    if (count(tag) !== 1) throw invalid(`needs exactly one ${what} entry`);
  }
  if (count(ACL_MASK) > 1) throw invalid('more than one mask entry');
  if ((count(ACL_USER) || count(ACL_GROUP)) && !count(ACL_MASK)) throw invalid('named users or groups need a mask entry');
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (a.tag === b.tag && (a.tag === ACL_USER || a.tag === ACL_GROUP) && a.id === b.id) {
      throw invalid(`${a.tag === ACL_USER ? 'user' : 'group'} ${a.id} named twice`);
    }
  }
  return sorted;
}

const find = (acl: Acl, tag: number) => acl.find((e) => e.tag === tag);

/** An ACL saying no more than the mode (owner, owning group, other): Linux stores it as the mode alone. */
export function isMinimalAcl(acl: Acl): boolean {
  return acl.every((e) => e.tag === ACL_USER_OBJ || e.tag === ACL_GROUP_OBJ || e.tag === ACL_OTHER);
}

/** The permission bits an access ACL sets (posix_acl_equiv_mode): the group class is the mask when there is one. */
export function modeOfAcl(acl: Acl, mode: number): number {
  const group = find(acl, ACL_MASK) ?? find(acl, ACL_GROUP_OBJ)!;
  return (mode & ~0o777) | (find(acl, ACL_USER_OBJ)!.perm << 6) | (group.perm << 3) | find(acl, ACL_OTHER)!.perm;
}

/**
 * A stored access ACL as of `mode`: the mode is the truth for the owner, the mask (the group class) and
 * other, so chmod changes the mask without rewriting the ACL and a getfacl after it shows the new mask.
 */
export function aclWithMode(acl: Acl, mode: number): Acl {
  const hasMask = find(acl, ACL_MASK) !== undefined;
  return acl.map((e) => {
    if (e.tag === ACL_USER_OBJ) return { ...e, perm: (mode >> 6) & 7 };
    if (e.tag === ACL_MASK || (e.tag === ACL_GROUP_OBJ && !hasMask)) return { ...e, perm: (mode >> 3) & 7 };
    if (e.tag === ACL_OTHER) return { ...e, perm: mode & 7 };
    return e;
  });
}

export interface AclCaller {
  uid: number;
  inGroup(gid: number): boolean;
}

/**
 * The POSIX.1e check for a caller other than the owner (the owner's bits are the mode's): a named user
 * entry, else the owning group and named groups (one matching entry must grant all of `want`; any match
 * with none granting denies), each masked by the group class of `mode`; else other.
 */
export function aclAllows(acl: Acl, mode: number, fileGid: number, who: AclCaller, want: number): boolean {
  const mask = (mode >> 3) & 7;
  const user = acl.find((e) => e.tag === ACL_USER && e.id === who.uid);
  if (user) return (user.perm & mask & want) === want;
  let matched = false;
  for (const e of acl) {
    const hit = (e.tag === ACL_GROUP_OBJ && who.inGroup(fileGid)) || (e.tag === ACL_GROUP && who.inGroup(e.id));
    if (!hit) continue;
    if ((e.perm & mask & want) === want) return true;
    matched = true;
  }
  if (matched) return false;
  return ((mode & 7) & want) === want;
}

/**
 * A new inode under a directory with default ACL `dflt` (posix_acl_create): its access ACL is the default
 * one with the owner, group class and other entries cut down to the create mode (no umask applies), and
 * a directory keeps the default ACL too. `access` is undefined when the result is minimal (mode only).
 */
export function inheritAcl(dflt: Acl, mode: number, isDir: boolean): { mode: number; access?: Acl; dflt?: Acl } {
  let m = mode;
  const acl = dflt.map((e) => ({ ...e }));
  let group: AclEntry | undefined;
  let mask: AclEntry | undefined;
  for (const e of acl) {
    if (e.tag === ACL_USER_OBJ) {
      e.perm &= (m >> 6) & 7;
      m &= (e.perm << 6) | ~0o700;
    } else if (e.tag === ACL_GROUP_OBJ) group = e;
    else if (e.tag === ACL_MASK) mask = e;
    else if (e.tag === ACL_OTHER) {
      e.perm &= m & 7;
      m &= e.perm | ~0o007;
    }
  }
  const cls = mask ?? group!;
  cls.perm &= (m >> 3) & 7;
  m &= (cls.perm << 3) | ~0o070;
  return { mode: m, ...(isMinimalAcl(acl) ? {} : { access: acl }), ...(isDir ? { dflt } : {}) };
}

const TEXT_TAGS: Record<string, [number, number]> = {
  u: [ACL_USER_OBJ, ACL_USER],
  user: [ACL_USER_OBJ, ACL_USER],
  g: [ACL_GROUP_OBJ, ACL_GROUP],
  group: [ACL_GROUP_OBJ, ACL_GROUP],
  m: [ACL_MASK, ACL_MASK],
  mask: [ACL_MASK, ACL_MASK],
  o: [ACL_OTHER, ACL_OTHER],
  other: [ACL_OTHER, ACL_OTHER],
};

/**
 * The entries of setfacl's text with numeric ids: 'u::rw-,u:1002:r--,g::r--,m::r--,o::---' (EINVAL when a part
 * is malformed). Not checked as an ACL: setting it does that (checkAcl), as the kernel does for setfacl.
 */
export function parseAclText(text: string): Acl {
  const entries = text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean).map((part) => {
    const m = /^(\w+):(\d*):([r-]?[w-]?[x-]?)$/.exec(part);
    const tags = m && TEXT_TAGS[m[1]!];
    if (!m || !tags) throw invalid(`'${part}' is not TAG:[ID]:PERMS`);
    const perm = (m[3]!.includes('r') ? 4 : 0) | (m[3]!.includes('w') ? 2 : 0) | (m[3]!.includes('x') ? 1 : 0);
    return { tag: tags[m[2] ? 1 : 0], perm, id: m[2] ? Number(m[2]) : UNDEFINED_ID };
  });
  return entries;
}

/** setfacl's short text of an ACL: 'u::rw-,u:1002:r--,g::r--,m::r--,o::---'. */
export function aclText(acl: Acl): string {
  const names: Record<number, string> = { [ACL_USER_OBJ]: 'u', [ACL_USER]: 'u', [ACL_GROUP_OBJ]: 'g', [ACL_GROUP]: 'g', [ACL_MASK]: 'm', [ACL_OTHER]: 'o' };
  const named = (e: AclEntry) => e.tag === ACL_USER || e.tag === ACL_GROUP;
  return acl.map((e) => `${names[e.tag]}:${named(e) ? e.id : ''}:${e.perm & 4 ? 'r' : '-'}${e.perm & 2 ? 'w' : '-'}${e.perm & 1 ? 'x' : '-'}`).join(',');
}
