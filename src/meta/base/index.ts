// BaseMeta: the complete Meta, shared by every engine; engines only supply an Engine (Tx primitives).
import { fsErr } from '../../errors.js';
import { isOwnerOrRoot } from '../access.js';
import { decodeAcl, isAclName } from '../acl.js';
import { setCtime, stamp } from '../attrs.js';
import type { Meta } from '../interface.js';
import { conflicts, decodeRanges, encodeRanges, updateRanges } from '../plocks.js';
import {
  F_UNLCK,
  F_WRLCK,
  FLAG_XATTRS,
  MAX_XATTR_NAME,
  MAX_XATTR_VALUE,
  MODE_W,
  XATTR_CREATE,
  XATTR_REPLACE,
  type Context,
  type LockRange,
  type Versioned,
} from '../types.js';
import { TtlOps } from './ttl.js';
import { aclsOff, getAclXattr, setAclIn } from './acl.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkXattrName(name: string): void {
  if (name === '') throw fsErr('EINVAL');
  if (Buffer.byteLength(name) > MAX_XATTR_NAME) throw fsErr('ERANGE');
}

export class BaseMeta extends TtlOps implements Meta {
  // ---- extended attributes ----

  /** ACL xattrs are the ACL layer's (base/acl.ts), refused on volumes formatted without --acl. */
  private async aclName(name: string): Promise<boolean> {
    if (!isAclName(name)) return false;
    const f = this.fmt ?? (await this.load());
    if (f.acl !== true) throw aclsOff(f.name);
    return true;
  }

  async getxattr(_ctx: Context, ino: number, name: string): Promise<Buffer> {
    checkXattrName(name);
    if (await this.aclName(name)) return this.eng.read(async (tx) => getAclXattr(tx, ino, await this.mustAttr(tx, ino), name));
    const v = await this.eng.read(async (tx) => {
      const v = await tx.getXattr(ino, name);
      if (v === undefined) await this.mustAttr(tx, ino);
      return v;
    });
    if (v === undefined) throw fsErr('ENODATA');
    return v;
  }

  async listxattr(_ctx: Context, ino: number): Promise<string[]> {
    return this.eng.read(async (tx) => {
      await this.mustAttr(tx, ino);
      return tx.listXattr(ino);
    });
  }

  async setxattr(ctx: Context, ino: number, name: string, value: Buffer, flags = 0): Promise<Versioned> {
    checkXattrName(name);
    if (value.length > MAX_XATTR_VALUE) throw fsErr('E2BIG');
    // An empty value is no ACL (posix_acl_from_xattr gives NULL): a removal.
    if (await this.aclName(name)) return this.setAcl(ctx, ino, name, value.length ? value : undefined);
    return this.change('setxattr', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      if (!isOwnerOrRoot(ctx, a)) await this.permit(tx, ctx, ino, a, MODE_W);
      await this.guard(tx, 'setxattr', ctx, [{ role: 'changed', ino, attr: a }], flags);
      const old = await tx.getXattr(ino, name);
      if (old !== undefined && flags & XATTR_CREATE) throw fsErr('EEXIST');
      if (old === undefined && flags & XATTR_REPLACE) throw fsErr('ENODATA');
      await tx.setXattr(ino, name, value);
      // ctime changes as on Linux; the flag tells clients this inode may have extended attributes.
      const b = { ...a, flags: a.flags | FLAG_XATTRS };
      setCtime(b, stamp());
      await tx.setAttr(ino, b);
      return {};
    });
  }

  async removexattr(ctx: Context, ino: number, name: string): Promise<Versioned> {
    checkXattrName(name);
    if (await this.aclName(name)) return this.setAcl(ctx, ino, name, undefined);
    return this.change('removexattr', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      if (!isOwnerOrRoot(ctx, a)) await this.permit(tx, ctx, ino, a, MODE_W);
      await this.guard(tx, 'removexattr', ctx, [{ role: 'changed', ino, attr: a }]);
      if (!(await tx.delXattr(ino, name))) throw fsErr('ENODATA');
      const b = { ...a };
      setCtime(b, stamp());
      await tx.setAttr(ino, b);
      return {};
    });
  }

  /** Sets (value) or removes an ACL in one transaction; the mode an access ACL sets changes with it. */
  private async setAcl(ctx: Context, ino: number, name: string, value: Buffer | undefined): Promise<Versioned> {
    const acl = value && decodeAcl(value);
    return this.change(value ? 'setacl' : 'removeacl', async (tx) => {
      const a = await this.mustAttr(tx, ino);
      await this.guard(tx, value ? 'setxattr' : 'removexattr', ctx, [{ role: 'changed', ino, attr: a }]);
      const b = await setAclIn(tx, ctx, ino, a, name, acl);
      setCtime(b, stamp());
      await tx.setAttr(ino, b);
      return {};
    });
  }

  // ---- locks: session state, never in the changelog ----

  async flock(_ctx: Context, ino: number, owner: string, type: number, block: boolean): Promise<void> {
    for (let wait = 1; ; wait = Math.min(wait * 2, 100)) {
      const granted = await this.eng.txn(async (tx) => {
        if (type === F_UNLCK) {
          await tx.setFlock(ino, this.sid, owner, null);
          return true;
        }
        const rows = await tx.getFlocks(ino);
        const busy = rows.some((r) => !(r.sid === this.sid && r.owner === owner) && (type === F_WRLCK || r.type === F_WRLCK));
        if (busy) return false;
        await tx.setFlock(ino, this.sid, owner, type);
        return true;
      });
      if (granted) return;
      if (!block) throw fsErr('EAGAIN');
      await sleep(wait);
    }
  }

  async getlk(_ctx: Context, ino: number, owner: string, lock: LockRange): Promise<LockRange | undefined> {
    const rows = await this.eng.read((tx) => tx.getPlocks(ino));
    for (const r of rows) {
      if (r.sid === this.sid && r.owner === owner) continue;
      const hit = decodeRanges(r.records).find((x) => conflicts(x, lock));
      if (hit) return hit;
    }
    return undefined;
  }

  async setlk(_ctx: Context, ino: number, owner: string, block: boolean, type: number, start: number, end: number, pid: number): Promise<void> {
    if (end < start) throw fsErr('EINVAL');
    for (let wait = 1; ; wait = Math.min(wait * 2, 100)) {
      const granted = await this.eng.txn(async (tx) => {
        const rows = await tx.getPlocks(ino);
        let mine: LockRange[] = [];
        for (const r of rows) {
          const ranges = decodeRanges(r.records);
          if (r.sid === this.sid && r.owner === owner) mine = ranges;
          else if (type !== F_UNLCK && ranges.some((x) => conflicts(x, { type, start, end }))) return false;
        }
        await tx.setPlock(ino, this.sid, owner, encodeRanges(updateRanges(mine, type, start, end, pid)));
        return true;
      });
      if (granted) return;
      if (!block) throw fsErr('EAGAIN');
      await sleep(wait);
    }
  }
}
