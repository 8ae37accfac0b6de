// chattr +i / +a: an immutable inode is not changed, renamed, linked or removed, and no entry is added to
// or removed from an immutable or append-only directory; an append-only file only grows at its end.
import { fsErr } from '../../../errors.js';
import {
  FALLOC_PUNCH_HOLE,
  FALLOC_ZERO_RANGE,
  FLAG_APPEND,
  FLAG_IMMUTABLE,
  SET_FLAGS,
  SET_SIZE,
  type Context,
} from '../../types.js';
import type { Guarded, Rule, Target } from '../guard.js';

const O_APPEND = 0o2000;
const O_TRUNC = 0o1000;
const FROZEN = FLAG_IMMUTABLE | FLAG_APPEND;

const isRoot = (ctx: Context) => !ctx.checkPermission || ctx.uid === 0;

/** Whether changing `t` in operation `g` is refused. */
function refused(g: Guarded, t: Target): boolean {
  const f = t.attr.flags;
  switch (t.role) {
    case 'dir':
    case 'removed':
    case 'moved':
    case 'linked':
      return (f & FROZEN) !== 0;
    case 'new':
    case 'read':
      return false;
    case 'changed':
      break;
  }
  switch (g.op) {
    case 'setattr':
      // Root may still clear the flags (chattr -i) in a call that changes nothing else.
      if (f & FLAG_IMMUTABLE && !(g.flags === SET_FLAGS && isRoot(g.ctx))) return true;
      return (f & FLAG_APPEND) !== 0 && (g.flags & SET_SIZE) !== 0;
    case 'open':
      return (f & FLAG_IMMUTABLE) !== 0 || ((f & FLAG_APPEND) !== 0 && (!(g.flags & O_APPEND) || (g.flags & O_TRUNC) !== 0));
    case 'truncate':
    case 'copy':
      return (f & FROZEN) !== 0;
    case 'fallocate':
      return (f & FLAG_IMMUTABLE) !== 0 || ((f & FLAG_APPEND) !== 0 && (g.flags & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) !== 0);
    default:
      // write: refused at open; setxattr, removexattr: allowed on flagged inodes (as FerryFS always did).
      return false;
  }
}

export const immutableRule: Rule = {
  name: 'immutable',
  check(g) {
    for (const t of g.targets) if (refused(g, t)) throw fsErr('EPERM');
  },
};
