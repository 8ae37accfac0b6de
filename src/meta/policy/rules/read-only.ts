// `ferry readonly`: nothing inside a marked directory (or anywhere, when `/` is marked) changes, whoever
// asks and through whichever door: EROFS naming the marked path. Volumes without marks get no rule at all,
// so they never pay for the parent walk a marked volume needs. A mark with an owner (the CSI driver's
// `.snapshots`) does not hold the in-process component whose Context names that owner.
import { FsError } from '../../../errors.js';
import { ROOT_INODE, type Format, type ReadOnlyMark } from '../../types.js';
import type { Guarded, Rule, Target } from '../guard.js';

function refusal(path: string): FsError {
  return new FsError('EROFS', { message: `read-only file system: ${path} is read-only (ferry readonly)` });
}

/** The marked directory `t` is in (or is), if any, among the marks that hold this caller. */
async function markOver(g: Guarded, marks: Map<number, ReadOnlyMark>, t: Target): Promise<string | undefined> {
  const holds = (ino: number) => {
    const m = marks.get(ino);
    return m && (m.owner === undefined || m.owner !== g.ctx.readOnlyOwner) ? m.path : undefined;
  };
  // An inode being made has no number stored yet: only where it is made counts.
  if (t.role !== 'new' && holds(t.ino)) return holds(t.ino);
  for (const d of await g.ancestors(t)) if (holds(d)) return holds(d);
  // A file linked elsewhere or changed is also inside wherever its other names are (nlink and ctime change).
  if (t.role === 'linked') for (const d of await g.ancestors({ ...t, parent: undefined })) if (holds(d)) return holds(d);
  return undefined;
}

export function readOnlyRule(format: Format): Rule | undefined {
  const list = format.readOnly ?? [];
  if (!list.length) return undefined;
  const marks = new Map(list.map((m) => [m.ino, m]));
  const whole = marks.get(ROOT_INODE);
  return {
    name: 'read-only',
    async check(g) {
      if (whole && (whole.owner === undefined || whole.owner !== g.ctx.readOnlyOwner)) throw refusal(whole.path);
      for (const t of g.targets) {
        // copy's source is only read.
        if (t.role === 'read') continue;
        const path = await markOver(g, marks, t);
        if (path !== undefined) throw refusal(path);
      }
    },
  };
}
