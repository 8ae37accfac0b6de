// `ferry readonly`: nothing inside a marked directory (or anywhere, when `/` is marked) changes, whoever
// asks and through whichever door: EROFS naming the marked path. Volumes without marks get no rule at all,
// so they never pay for the parent walk a marked volume needs.
import { FsError } from '../../../errors.js';
import { ROOT_INODE, type Format } from '../../types.js';
import type { Guarded, Rule, Target } from '../guard.js';

function refusal(path: string): FsError {
  return new FsError('EROFS', { message: `read-only file system: ${path} is read-only (ferry readonly)` });
}

/** The marked directory `t` is in (or is), if any. */
async function markOver(g: Guarded, marks: Map<number, string>, t: Target): Promise<string | undefined> {
  // An inode being made has no number stored yet: only where it is made counts.
  if (t.role !== 'new' && marks.has(t.ino)) return marks.get(t.ino);
  for (const d of await g.ancestors(t)) if (marks.has(d)) return marks.get(d);
  // A file linked elsewhere or changed is also inside wherever its other names are (nlink and ctime change).
  if (t.role === 'linked') for (const d of await g.ancestors({ ...t, parent: undefined })) if (marks.has(d)) return marks.get(d);
  return undefined;
}

export function readOnlyRule(format: Format): Rule | undefined {
  const list = format.readOnly ?? [];
  if (!list.length) return undefined;
  const marks = new Map(list.map((m) => [m.ino, m.path]));
  const whole = marks.get(ROOT_INODE);
  return {
    name: 'read-only',
    async check(g) {
      if (whole !== undefined) throw refusal(whole);
      for (const t of g.targets) {
        // copy's source is only read.
        if (t.role === 'read') continue;
        const path = await markOver(g, marks, t);
        if (path !== undefined) throw refusal(path);
      }
    },
  };
}
