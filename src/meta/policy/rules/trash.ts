// The trash is changed only by deleting into it and by `ferry trash restore|purge` (which do not pass the
// guard): nothing is created, changed, renamed, linked or removed inside it by an ordinary operation.
import { fsErr } from '../../../errors.js';
import { isTrashDir } from '../../trash-names.js';
import type { Rule, Target } from '../guard.js';

function inTrash(t: Target): boolean {
  if (isTrashDir(t.ino)) return true;
  if (t.role === 'dir' || t.role === 'new' || t.role === 'read') return false;
  // Its name's directory, or (a link's new name is elsewhere) the directory it is in.
  return isTrashDir(t.parent ?? 0) || isTrashDir(t.attr.parent);
}

export const trashRule: Rule = {
  name: 'trash',
  check(g) {
    for (const t of g.targets) {
      if (inTrash(t)) throw fsErr('EPERM', 'the trash is changed only by ferry trash restore and purge');
    }
  },
};
